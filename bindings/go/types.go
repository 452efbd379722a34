package ablyauth

/*
#include <stdlib.h>
#include "ably_auth.h"
*/
import "C"

import (
	"encoding/json"
	"sort"
	"time"
	"unsafe"
)

// TokenParams are the parameters of a token (TK1). Zero values are unset: Ably's defaults
// apply (ttl 60 minutes, the key's capability, no clientId, the current time, a random
// nonce). JSON field names are Ably's.
type TokenParams struct {
	// TTL is the token's lifetime in milliseconds (TK2a).
	TTL int64 `json:"ttl,omitempty"`
	// Capability is the capability JSON, e.g. `{"chat:*":["publish","subscribe"]}` (TK2b).
	Capability string `json:"capability,omitempty"`
	// ClientID is the token's clientId; "*" issues a wildcard token (TK2c).
	ClientID string `json:"clientId,omitempty"`
	// Timestamp in milliseconds since the epoch (TK2d); per request, never a default.
	Timestamp int64 `json:"timestamp,omitempty"`
	// Nonce of a TokenRequest (TK2e); per request, never a default.
	Nonce string `json:"nonce,omitempty"`
	// RevocationKey is, for CreateJWT only, the x-ably-revocation-key claim: the target
	// "revocationKey:<key>" revokes every JWT that carries it. The other calls refuse params
	// that set it (ErrInvalidArgument); it is not part of Ably's TokenParams JSON.
	RevocationKey string `json:"-"`
}

// UnmarshalJSON accepts a capability given as a JSON string or as an object.
func (p *TokenParams) UnmarshalJSON(data []byte) error {
	type plain TokenParams
	var raw struct {
		plain
		Capability json.RawMessage `json:"capability,omitempty"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*p = TokenParams(raw.plain)
	p.Capability = capabilityText(raw.Capability)
	return nil
}

// TokenDetails is a token and its metadata (TD1).
type TokenDetails struct {
	// Token is an Ably token or a JWT (TD2). Treat it as a secret.
	Token string `json:"token"`
	// Expires in milliseconds since the epoch; 0 when unknown (TD3).
	Expires int64 `json:"expires,omitempty"`
	// Issued in milliseconds since the epoch; 0 when unknown (TD4).
	Issued int64 `json:"issued,omitempty"`
	// Capability JSON (TD5).
	Capability string `json:"capability,omitempty"`
	// ClientID the token is bound to (TD6).
	ClientID string `json:"clientId,omitempty"`
}

// ExpiresAt is Expires as a time.Time (the zero time when unknown).
func (d *TokenDetails) ExpiresAt() time.Time { return msTime(d.Expires) }

// IssuedAt is Issued as a time.Time (the zero time when unknown).
func (d *TokenDetails) IssuedAt() time.Time { return msTime(d.Issued) }

// TokenRequest is a signed request for a token (TE1), as handed to a client that
// exchanges it at Ably. json.Marshal gives the wire form.
type TokenRequest struct {
	KeyName    string `json:"keyName"`
	TTL        int64  `json:"ttl,omitempty"`
	Capability string `json:"capability,omitempty"`
	ClientID   string `json:"clientId,omitempty"`
	Timestamp  int64  `json:"timestamp"`
	Nonce      string `json:"nonce"`
	MAC        string `json:"mac,omitempty"`
}

// TokenMaterial is what an authCallback answers with: a TokenString (an Ably token or a
// JWT), a TokenDetails or a signed TokenRequest (RSA8d), as a value or a pointer.
type TokenMaterial interface {
	tokenMaterial()
}

// TokenString is an Ably token or a JWT given to an authCallback completion.
type TokenString string

func (TokenString) tokenMaterial()  {}
func (TokenDetails) tokenMaterial() {}
func (TokenRequest) tokenMaterial() {}

// RevocationResult is the outcome of RevokeTokens (RSA17): one entry per target.
type RevocationResult struct {
	SuccessCount int                      `json:"successCount"`
	FailureCount int                      `json:"failureCount"`
	Results      []RevocationTargetResult `json:"results"`
}

// RevocationTargetResult is one target's outcome: IssuedBefore and AppliesAt (ms since the
// epoch) on success, Error on failure.
type RevocationTargetResult struct {
	Target       string     `json:"target"`
	IssuedBefore int64      `json:"issuedBefore,omitempty"`
	AppliesAt    int64      `json:"appliesAt,omitempty"`
	Error        *ErrorInfo `json:"error,omitempty"`
}

// RevokeOptions are the optional parts of a revokeTokens request.
type RevokeOptions struct {
	// IssuedBefore revokes tokens issued before this time; zero leaves it to the server (now).
	IssuedBefore time.Time
	// AllowReauthMargin gives clients 30 s to get a new token; nil leaves it unset.
	AllowReauthMargin *bool
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func capabilityText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// goString copies an optional borrowed C string ("" for NULL).
func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// takeString copies an owned library string and frees (wipes) it.
func takeString(s *C.char) string {
	if s == nil {
		return ""
	}
	out := C.GoString(s)
	C.ably_string_free(s)
	return out
}

// tokenDetailsFromC copies a borrowed TokenDetails handle.
func tokenDetailsFromC(td *C.ably_token_details) *TokenDetails {
	if td == nil {
		return nil
	}
	return &TokenDetails{
		Token:      goString(C.ably_token_details_token(td)),
		Expires:    int64(C.ably_token_details_expires(td)),
		Issued:     int64(C.ably_token_details_issued(td)),
		Capability: goString(C.ably_token_details_capability(td)),
		ClientID:   goString(C.ably_token_details_client_id(td)),
	}
}

// takeTokenDetails copies an owned TokenDetails handle and frees it.
func takeTokenDetails(td *C.ably_token_details) *TokenDetails {
	out := tokenDetailsFromC(td)
	C.ably_token_details_free(td)
	return out
}

// tokenRequestFromValues makes a TokenRequest of what ably_auth_create_token_request_into
// wrote: its strings are slices of buf, one after the other, with no copy (buf must never
// be written again).
func tokenRequestFromValues(v *C.ably_token_request_values, buf []byte) *TokenRequest {
	at := 0
	next := func(n C.size_t) string {
		s := unsafe.String(unsafe.SliceData(buf[at:]), int(n))
		at += int(n)
		return s
	}
	return &TokenRequest{
		KeyName:    next(v.key_name_len),
		Capability: next(v.capability_len),
		ClientID:   next(v.client_id_len),
		Nonce:      next(v.nonce_len),
		MAC:        next(v.mac_len),
		TTL:        int64(v.ttl_ms),
		Timestamp:  int64(v.timestamp_ms),
	}
}

// paramsValues describes p (nil: the default token params) for the one-call issuing
// functions. The struct goes to C by value and borrows p's strings: keep p alive until the
// call returns. Go's zero values are the unset ones on both sides.
func paramsValues(p *TokenParams) C.ably_token_params_values {
	if p == nil {
		return C.ably_token_params_values{use_defaults: true}
	}
	return C.ably_token_params_values{
		ttl_ms:         C.int64_t(p.TTL),
		capability:     borrowString(p.Capability),
		client_id:      borrowString(p.ClientID),
		timestamp_ms:   C.int64_t(p.Timestamp),
		nonce:          borrowString(p.Nonce),
		revocation_key: borrowString(p.RevocationKey),
	}
}

// borrowString lends s's bytes to C for one call (unset for ""). Go strings are immutable
// and C only reads them; a NUL byte in them is refused by the library with 40003.
func borrowString(s string) C.ably_str {
	if s == "" {
		return C.ably_str{}
	}
	return C.ably_str{ptr: (*C.char)(unsafe.Pointer(unsafe.StringData(s))), len: C.size_t(len(s))}
}

// issueBufferSize is a first guess at the bytes of a TokenRequest for p (a key name, a
// nonce, a mac and p's strings); the library reports the exact size when it is short.
func issueBufferSize(p *TokenParams) int {
	n := 192
	if p != nil {
		n += len(p.Capability) + len(p.ClientID) + len(p.Nonce) + len(p.RevocationKey)
	}
	return n
}

// bufferPtr is buf's first byte as a C pointer (NULL for an empty buf).
func bufferPtr(buf []byte) *C.char {
	if len(buf) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&buf[0]))
}

// cstrings collects C copies of Go strings, freed together after the C call.
type cstrings []unsafe.Pointer

// add copies s to C memory; it fails for a string with a NUL byte, which C would cut short.
func (cs *cstrings) add(what, s string) (*C.char, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, invalidArgument("%s contains a NUL byte", what)
		}
	}
	p := C.CString(s)
	*cs = append(*cs, unsafe.Pointer(p))
	return p, nil
}

func (cs *cstrings) free() {
	for _, p := range *cs {
		C.free(p)
	}
	*cs = nil
}

// newCParams builds an ably_token_params from p (nil: NULL, i.e. the defaults). The caller
// passes the result to a consuming call, or frees it.
func newCParams(p *TokenParams) (*C.ably_token_params, error) {
	if p == nil {
		return nil, nil
	}
	params := C.ably_token_params_new()
	var cs cstrings
	defer cs.free()
	set := func() error {
		if p.TTL != 0 {
			if err := takeError(C.ably_token_params_set_ttl(params, C.int64_t(p.TTL))); err != nil {
				return err
			}
		}
		if p.Capability != "" {
			s, err := cs.add("capability", p.Capability)
			if err != nil {
				return err
			}
			if err := takeError(C.ably_token_params_set_capability(params, s)); err != nil {
				return err
			}
		}
		if p.ClientID != "" {
			s, err := cs.add("clientId", p.ClientID)
			if err != nil {
				return err
			}
			if err := takeError(C.ably_token_params_set_client_id(params, s)); err != nil {
				return err
			}
		}
		if p.Timestamp != 0 {
			if err := takeError(C.ably_token_params_set_timestamp(params, C.int64_t(p.Timestamp))); err != nil {
				return err
			}
		}
		if p.Nonce != "" {
			s, err := cs.add("nonce", p.Nonce)
			if err != nil {
				return err
			}
			if err := takeError(C.ably_token_params_set_nonce(params, s)); err != nil {
				return err
			}
		}
		if p.RevocationKey != "" {
			s, err := cs.add("revocationKey", p.RevocationKey)
			if err != nil {
				return err
			}
			if err := takeError(C.ably_token_params_set_revocation_key(params, s)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := set(); err != nil {
		C.ably_token_params_free(params)
		return nil, err
	}
	return params, nil
}

func sortStrings(s []string) { sort.Strings(s) }

// EmbedTokenInJWT returns the app's own JWT (HS256, signed with secret, not the Ably key)
// that carries token, an Ably token or Ably JWT, under x-ably-token in its header, with exp
// = tokenExpires in whole seconds (Ably refuses an outer JWT that outlives the token
// inside). Clients use it as a token string. No network I/O.
func EmbedTokenInJWT(token string, tokenExpires time.Time, secret []byte) (string, error) {
	var cs cstrings
	defer cs.free()
	ct, err := cs.add("token", token)
	if err != nil {
		return "", err
	}
	var secretPtr *C.uint8_t
	if len(secret) > 0 {
		secretPtr = (*C.uint8_t)(C.CBytes(secret))
		defer C.free(unsafe.Pointer(secretPtr))
	}
	var s *C.char
	err = takeError(C.ably_jwt_embed_token(ct, C.int64_t(tokenExpires.UnixMilli()), secretPtr,
		C.size_t(len(secret)), &s))
	if err != nil {
		return "", err
	}
	return takeString(s), nil
}
