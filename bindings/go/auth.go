// Package ablyauth is the Go binding of ably-auth: Ably token authentication (signed
// TokenRequests, Ably JWTs, requestToken, authorize, token renewal, revokeTokens) over the
// library's C ABI.
//
// An *Auth is safe for concurrent use by many goroutines. Network calls block the calling
// goroutine (run them in goroutines of your own for concurrency); callbacks and listeners
// run with no library lock held and may call back into the same Auth.
//
// Every error is an *ErrorInfo carrying Ably's code and HTTP status:
//
//	var info *ablyauth.ErrorInfo
//	if errors.As(err, &info) && info.Code == ablyauth.ErrInvalidCredentials { ... }
package ablyauth

/*
#include <stdlib.h>
#include "ably_auth.h"
*/
import "C"

import (
	"net/http"
	"net/url"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Auth is Ably token authentication for one key or token. Create it with New and release
// it with Close (a finalizer releases a forgotten one, but callbacks referring to the Auth
// keep it reachable, so call Close).
type Auth struct {
	h              *handle
	requestTimeout time.Duration
}

// handle guards the C pointer: calls in flight hold a reference, and Close frees the C
// object when the last of them returns, so Close never races a call (the C contract is
// "free once, after every other call has returned"). No lock is held during a C call, so
// callbacks may re-enter the Auth.
type handle struct {
	mu     sync.Mutex
	ptr    *C.ably_auth
	refs   int
	closed bool
}

func (h *handle) acquire() (*C.ably_auth, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed()
	}
	h.refs++
	return h.ptr, nil
}

func (h *handle) release() {
	h.mu.Lock()
	h.refs--
	p := h.takeIfDone()
	h.mu.Unlock()
	C.ably_auth_free(p)
}

func (h *handle) close() {
	h.mu.Lock()
	h.closed = true
	p := h.takeIfDone()
	h.mu.Unlock()
	C.ably_auth_free(p)
}

// takeIfDone returns the pointer to free once closed with no call in flight (h.mu held).
func (h *handle) takeIfDone() *C.ably_auth {
	if !h.closed || h.refs != 0 {
		return nil
	}
	p := h.ptr
	h.ptr = nil
	return p
}

// Version is the version of the linked library, e.g. "0.1.0".
func Version() string { return C.GoString(C.ably_auth_version()) }

// HeaderVersion is the version of the header this package was compiled against.
const HeaderVersion = "0.1.0"

// New creates an Auth from o. It fails with 40106 when o has no key, token, authUrl or
// authCallback, 40101 for a malformed key, 40012 for a bad clientId, 40003 for other bad
// values and 40000 for conflicting host options.
func New(o Options) (*Auth, error) {
	b := &optionsBuilder{ptr: C.ably_auth_options_new()}
	defer b.cs.free()
	if err := b.all(&o); err != nil {
		C.ably_auth_options_free(b.ptr)
		return nil, err
	}
	var p *C.ably_auth
	if err := takeError(C.ably_auth_new(b.ptr, &p)); err != nil { // consumes the options
		return nil, err
	}
	a := &Auth{h: &handle{ptr: p}, requestTimeout: o.RequestTimeout}
	if a.requestTimeout <= 0 {
		a.requestTimeout = defaultRequestTimeout
	}
	runtime.SetFinalizer(a, func(a *Auth) { a.h.close() })
	return a, nil
}

// Close releases the Auth; calls in flight on other goroutines finish first. Calling it
// more than once is safe; every method of a closed Auth fails with 40003.
func (a *Auth) Close() error {
	a.h.close()
	runtime.SetFinalizer(a, nil)
	return nil
}

// call runs f with the live C handle, keeping a alive until f has returned.
func (a *Auth) call(f func(p *C.ably_auth) error) error {
	p, err := a.h.acquire()
	if err != nil {
		return err
	}
	defer a.h.release()
	err = f(p)
	runtime.KeepAlive(a)
	return err
}

// CreateTokenRequest signs a TokenRequest with the key (RSA9), with no network I/O. nil
// params use the default token params; explicit params replace them as a whole, and the
// options' clientId applies when they set none. Unset ttl and capability are left out so
// Ably applies its defaults.
func (a *Auth) CreateTokenRequest(params *TokenParams) (*TokenRequest, error) {
	var out *TokenRequest
	err := a.call(func(p *C.ably_auth) error {
		// One call into C: the params go by value, the TokenRequest comes back in buf.
		buf := make([]byte, issueBufferSize(params))
		for {
			var v C.ably_token_request_values
			err := takeError(C.ably_auth_create_token_request_into(p, paramsValues(params),
				bufferPtr(buf), C.size_t(len(buf)), &v))
			runtime.KeepAlive(params) // paramsValues borrows its strings
			if err != nil {
				return err
			}
			if int(v.len) > len(buf) { // rare: a long key name or default params
				buf = make([]byte, v.len)
				continue
			}
			out = tokenRequestFromValues(&v, buf)
			return nil
		}
	})
	return out, err
}

// CreateJWT creates an Ably JWT (HS256, kid = key name) signed with the key, with no
// network I/O; params follow the rules of CreateTokenRequest (the nonce is unused).
func (a *Auth) CreateJWT(params *TokenParams) (string, error) {
	var out string
	err := a.call(func(p *C.ably_auth) error {
		buf := make([]byte, 2*issueBufferSize(params))
		for {
			var n C.size_t
			err := takeError(C.ably_auth_create_jwt_into(p, paramsValues(params),
				bufferPtr(buf), C.size_t(len(buf)), &n))
			runtime.KeepAlive(params)
			if err != nil {
				return err
			}
			if int(n) > len(buf) {
				buf = make([]byte, n)
				continue
			}
			out = unsafe.String(unsafe.SliceData(buf), int(n)) // buf is never written again
			return nil
		}
	})
	return out, err
}

// ClientID is Auth#clientId (RSA7b, RSA12): the options' clientId, else the current
// token's (possibly "*"); "" when there is none.
func (a *Auth) ClientID() (string, error) {
	var out string
	err := a.call(func(p *C.ably_auth) error {
		var s *C.char
		if err := takeError(C.ably_auth_client_id(p, &s)); err != nil {
			return err
		}
		out = takeString(s)
		return nil
	})
	return out, err
}

// TokenDetails is Auth#tokenDetails (RSA16): the token in use, or nil when there is none.
func (a *Auth) TokenDetails() (*TokenDetails, error) {
	var out *TokenDetails
	err := a.call(func(p *C.ably_auth) error {
		var td *C.ably_token_details
		if err := takeError(C.ably_auth_token_details(p, &td)); err != nil {
			return err
		}
		if td != nil {
			out = takeTokenDetails(td)
		}
		return nil
	})
	return out, err
}

// tokenCall builds the C params and options of RequestToken and Authorize and runs f.
func (a *Auth) tokenCall(params *TokenParams, opts *AuthOptions,
	f func(*C.ably_auth, *C.ably_token_params, *C.ably_auth_options, **C.ably_token_details) *C.ably_error_info,
) (*TokenDetails, error) {
	var out *TokenDetails
	err := a.call(func(p *C.ably_auth) error {
		var co *C.ably_auth_options
		if opts != nil {
			var err error
			if co, err = buildAuthOptions(opts, a.requestTimeout); err != nil {
				return err
			}
		}
		cp, err := newCParams(params)
		if err != nil {
			C.ably_auth_options_free(co)
			return err
		}
		var td *C.ably_token_details
		if err := takeError(f(p, cp, co, &td)); err != nil {
			return err
		}
		out = takeTokenDetails(td)
		return nil
	})
	return out, err
}

// RequestToken is Auth#requestToken (RSA8): a new token from the authCallback, authUrl or
// key, without storing it. nil params and opts use the stored ones; of opts only the
// credential part applies, for this call only. Blocks for the network round trip.
func (a *Auth) RequestToken(params *TokenParams, opts *AuthOptions) (*TokenDetails, error) {
	return a.tokenCall(params, opts, func(p *C.ably_auth, cp *C.ably_token_params, co *C.ably_auth_options, out **C.ably_token_details) *C.ably_error_info {
		return C.ably_auth_request_token(p, cp, co, out)
	})
}

// Authorize is Auth#authorize (RSA10): get a new token now and use token auth from then
// on; non-nil params and opts become the stored defaults. Listeners hear the new token.
func (a *Auth) Authorize(params *TokenParams, opts *AuthOptions) (*TokenDetails, error) {
	return a.tokenCall(params, opts, func(p *C.ably_auth, cp *C.ably_token_params, co *C.ably_auth_options, out **C.ably_token_details) *C.ably_error_info {
		return C.ably_auth_authorize(p, cp, co, out)
	})
}

// AuthorizationHeader is the Authorization header value for a request now ("Basic ..." or
// "Bearer ..."), getting or renewing a token first when needed (RSA4b1). It is a secret.
func (a *Auth) AuthorizationHeader() (string, error) {
	var out string
	err := a.call(func(p *C.ably_auth) error {
		var s *C.char
		if err := takeError(C.ably_auth_authorization_header(p, &s)); err != nil {
			return err
		}
		out = takeString(s)
		return nil
	})
	return out, err
}

// TokenRejected tells the Auth that a server rejected token with a token error
// (40140..40149) on a request made outside Request, so the next call gets a new token.
// An empty token means whatever token is cached. It fails with 40171 when nothing can
// renew (the token is dropped all the same).
func (a *Auth) TokenRejected(token string) error {
	return a.call(func(p *C.ably_auth) error {
		var cs cstrings
		defer cs.free()
		var s *C.char
		if token != "" {
			var err error
			if s, err = cs.add("token", token); err != nil {
				return err
			}
		}
		return takeError(C.ably_auth_token_rejected(p, s))
	})
}

// Time is time() (RSC16): the server time, from GET /time without credentials. It also
// records the server clock offset used to sign TokenRequests.
func (a *Auth) Time() (time.Time, error) {
	var ms C.int64_t
	err := a.call(func(p *C.ably_auth) error {
		return takeError(C.ably_auth_time(p, &ms))
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(ms)), nil
}

// RevokeTokens is revokeTokens (RSA17): revoke the tokens matching targets
// ("clientId:alice", "revocationKey:k", "channel:c"). It needs Basic auth with the Auth's
// own key (else 40162). Per-target failures are in the result, not the error.
func (a *Auth) RevokeTokens(targets []string, opts *RevokeOptions) (*RevocationResult, error) {
	var out *RevocationResult
	err := a.call(func(p *C.ably_auth) error {
		args, err := newRevokeArgs(targets, opts)
		if err != nil {
			return err
		}
		defer args.free()
		var r *C.ably_revocation_result
		if err := takeError(C.ably_auth_revoke_tokens(p, args.first(), args.count(),
			args.issuedBefore, args.margin, &r)); err != nil {
			return err
		}
		out = takeRevocationResult(r)
		return nil
	})
	return out, err
}

// revokeArgs are the C arguments of RevokeTokens (blocking or not); free them after the call.
type revokeArgs struct {
	cs           cstrings
	targets      []*C.char
	issuedBefore C.int64_t
	margin       C.int32_t
}

func newRevokeArgs(targets []string, opts *RevokeOptions) (*revokeArgs, error) {
	args := &revokeArgs{targets: make([]*C.char, len(targets)), issuedBefore: -1, margin: -1}
	for i, t := range targets {
		s, err := args.cs.add("targets", t)
		if err != nil {
			args.free()
			return nil, err
		}
		args.targets[i] = s
	}
	if opts != nil {
		if !opts.IssuedBefore.IsZero() {
			args.issuedBefore = C.int64_t(opts.IssuedBefore.UnixMilli())
		}
		if opts.AllowReauthMargin != nil {
			args.margin = 0
			if *opts.AllowReauthMargin {
				args.margin = 1
			}
		}
	}
	return args, nil
}

func (r *revokeArgs) first() **C.char {
	if len(r.targets) == 0 {
		return nil
	}
	return &r.targets[0]
}

func (r *revokeArgs) count() C.size_t { return C.size_t(len(r.targets)) }
func (r *revokeArgs) free()           { r.cs.free() }

// takeRevocationResult copies an owned revocation result and frees it.
func takeRevocationResult(r *C.ably_revocation_result) *RevocationResult {
	defer C.ably_revocation_result_free(r)
	n := int(C.ably_revocation_result_len(r))
	out := &RevocationResult{
		SuccessCount: int(C.ably_revocation_result_success_count(r)),
		FailureCount: int(C.ably_revocation_result_failure_count(r)),
		Results:      make([]RevocationTargetResult, n),
	}
	for i := 0; i < n; i++ {
		idx := C.size_t(i)
		out.Results[i] = RevocationTargetResult{
			Target:       goString(C.ably_revocation_result_target(r, idx)),
			IssuedBefore: int64(C.ably_revocation_result_issued_before(r, idx)),
			AppliesAt:    int64(C.ably_revocation_result_applies_at(r, idx)),
			Error:        copyError(C.ably_revocation_result_error(r, idx)),
		}
	}
	return out
}

// Response is the server's answer to Request, whatever its status. Body is a Go copy;
// Header looks the response's headers up by name (e.g. Retry-After on a 429). Error is
// Ably's ErrorInfo for an answer with status 400 or more, else nil.
type Response struct {
	StatusCode int
	Body       []byte
	Error      *ErrorInfo
	ptr        *C.ably_http_response
	mu         sync.Mutex
}

// Header is the value of the first header named name (case-insensitive), "" when absent.
func (r *Response) Header(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return ""
	}
	var cs cstrings
	defer cs.free()
	s, err := cs.add("name", name)
	if err != nil {
		return ""
	}
	return goString(C.ably_http_response_header(r.ptr, s))
}

// Close releases the response's headers early (a finalizer does it otherwise); Body stays.
func (r *Response) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	C.ably_http_response_free(r.ptr)
	r.ptr = nil
	runtime.SetFinalizer(r, nil)
}

// Request is an authenticated request to Ably REST (RSC10, RSC19) with the current
// credentials, host fallback, and on a token error one renewal and one retry. path starts
// with "/" and is already percent-encoded; query and header may be nil; body may be nil.
// Every answer from the server is a *Response, whatever its status, as in net/http: one
// with a status of 400 or more carries the server's error in Response.Error. The error
// result is for no usable answer: bad arguments, a network failure, a token that could not
// be renewed.
func (a *Auth) Request(method, path string, query url.Values, header http.Header, body []byte) (*Response, error) {
	var out *Response
	err := a.call(func(p *C.ably_auth) error {
		args, err := newRequestArgs(method, path, query, header, body)
		if err != nil {
			return err
		}
		defer args.free()
		var r *C.ably_http_response
		err = takeError(C.ably_auth_request(p, args.method, args.path, args.query, args.names(), args.values(),
			args.headerCount(), args.body(), args.bodyLen(), &r))
		runtime.KeepAlive(args)
		if err != nil {
			return err
		}
		out = takeResponse(r)
		return nil
	})
	return out, err
}

// requestArgs are the C arguments of Request (blocking or not); free them after the call.
type requestArgs struct {
	cs                  cstrings
	method, path, query *C.char
	headerNames         []*C.char
	headerValues        []*C.char
	bodyBytes           []byte
}

func newRequestArgs(method, path string, query url.Values, header http.Header, body []byte) (*requestArgs, error) {
	args := &requestArgs{bodyBytes: body}
	if err := args.fill(method, path, query, header); err != nil {
		args.free()
		return nil, err
	}
	return args, nil
}

func (r *requestArgs) fill(method, path string, query url.Values, header http.Header) error {
	var err error
	if r.method, err = r.cs.add("method", method); err != nil {
		return err
	}
	if r.path, err = r.cs.add("path", path); err != nil {
		return err
	}
	if len(query) > 0 {
		if r.query, err = r.cs.add("query", query.Encode()); err != nil {
			return err
		}
	}
	for _, name := range sortedHeaderNames(header) {
		for _, v := range header[name] {
			n, err := r.cs.add("header name", name)
			if err != nil {
				return err
			}
			cv, err := r.cs.add("header value", v)
			if err != nil {
				return err
			}
			r.headerNames, r.headerValues = append(r.headerNames, n), append(r.headerValues, cv)
		}
	}
	return nil
}

func (r *requestArgs) names() **C.char {
	if len(r.headerNames) == 0 {
		return nil
	}
	return &r.headerNames[0]
}

func (r *requestArgs) values() **C.char {
	if len(r.headerValues) == 0 {
		return nil
	}
	return &r.headerValues[0]
}

func (r *requestArgs) headerCount() C.size_t { return C.size_t(len(r.headerNames)) }

func (r *requestArgs) body() *C.uint8_t {
	if len(r.bodyBytes) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&r.bodyBytes[0]))
}

func (r *requestArgs) bodyLen() C.size_t { return C.size_t(len(r.bodyBytes)) }
func (r *requestArgs) free()             { r.cs.free() }

// takeResponse copies an owned response's status, body and ErrorInfo; the Response keeps the handle
// for Header until it is closed (or finalized).
func takeResponse(r *C.ably_http_response) *Response {
	var n C.size_t
	data := C.ably_http_response_body(r, &n)
	out := &Response{StatusCode: int(C.ably_http_response_status(r)), ptr: r}
	if e := C.ably_http_response_error(r); e != nil {
		out.Error = copyError(e)
		C.ably_error_info_free(e)
	}
	if n > 0 {
		out.Body = C.GoBytes(unsafe.Pointer(data), C.int(n))
	} else {
		out.Body = []byte{}
	}
	runtime.SetFinalizer(out, (*Response).Close)
	return out
}

func sortedHeaderNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sortStrings(names)
	return names
}

// ListenerID identifies a listener for RemoveListener.
type ListenerID uint64

// AddListener calls fn whenever a new token is in use (Authorize, renewal) and whenever
// getting a token fails. fn runs on the goroutine or thread that caused the event, with no
// library lock held; a panic in it is dropped.
func (a *Auth) AddListener(fn func(AuthEvent)) (ListenerID, error) {
	if fn == nil {
		return 0, invalidArgument("listener is nil")
	}
	var id uint64
	err := a.call(func(p *C.ably_auth) error {
		var err error
		id, err = addListener(p, cgo.NewHandle(fn)) // the library owns the handle now
		return err
	})
	return ListenerID(id), err
}

// RemoveListener removes a listener; a call of it under way finishes first. 40003 for an
// unknown id.
func (a *Auth) RemoveListener(id ListenerID) error {
	return a.call(func(p *C.ably_auth) error {
		return takeError(C.ably_auth_remove_listener(p, C.uint64_t(id)))
	})
}
