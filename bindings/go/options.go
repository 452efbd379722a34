package ablyauth

/*
#include <stdlib.h>
#include "ably_auth.h"
*/
import "C"

import (
	"encoding/json"
	"net/http"
	"net/url"
	"runtime/cgo"
	"sort"
	"time"
)

// AuthOptions are the credential options (AO1), also accepted per call by RequestToken
// and Authorize. Zero values are unset.
type AuthOptions struct {
	// Key is an API key "appId.keyId:keySecret" (TO3j1).
	Key string
	// Token is an Ably token or JWT to authenticate with (TO3j2).
	Token string
	// TokenDetails to authenticate with (TO3j3); wins over Token.
	TokenDetails *TokenDetails
	// AuthURL answers with a token, TokenDetails or TokenRequest (AO2c, RSA8c).
	AuthURL string
	// AuthMethod is "GET" (default) or "POST" (AO2d).
	AuthMethod string
	// AuthHeaders are sent to the AuthURL (AO2e).
	AuthHeaders map[string]string
	// AuthParams are sent to the AuthURL, in the query for GET, the form for POST (AO2f).
	AuthParams url.Values
	// AuthCallback gets tokens synchronously (AO2b, RSA8d); it wins over AuthURL.
	AuthCallback AuthCallback
	// AuthCallbackAsync gets tokens through a Completion answered from any goroutine.
	// Set at most one of AuthCallback and AuthCallbackAsync.
	AuthCallbackAsync AsyncAuthCallback
	// QueryTime asks Ably for the time before signing the first TokenRequest (AO2g).
	QueryTime bool
	// UseTokenAuth forces token auth even with a key alone (TO3j4).
	UseTokenAuth bool
}

// Options configure New: the AuthOptions plus identity, defaults, hosts, transport and
// logging. Zero values are the library's defaults.
type Options struct {
	AuthOptions

	// ClientID is the client identity (TO3a, RSA7).
	ClientID string
	// DefaultTokenParams apply whenever a call passes nil params (TO3j11).
	DefaultTokenParams *TokenParams

	// Endpoint: a routing policy id, "nonprod:<id>" or a host name (REC1b).
	Endpoint string
	// Environment is the deprecated environment option (REC1c).
	Environment string
	// RESTHost is the deprecated restHost option (REC1d1).
	RESTHost string
	// FallbackHosts replaces the default fallback hosts (REC2a); a non-nil empty slice
	// disables fallback, nil keeps the default.
	FallbackHosts []string
	// Port for plain HTTP (default 80) and TLSPort for HTTPS (default 443).
	Port, TLSPort int
	// NoTLS uses plain HTTP (RSC18); Basic auth then fails with 40103.
	NoTLS bool

	// ConnectTimeout (default 4 s) and RequestTimeout (default 10 s); the request timeout
	// also bounds how long an authCallback may take to answer.
	ConnectTimeout, RequestTimeout time.Duration
	// CACertsPEM are extra trusted CAs (PEM), on top of Mozilla's roots.
	CACertsPEM []string
	// Resolve maps a host name to a fixed "ip:port" instead of asking DNS (like curl
	// --resolve); TLS still checks the certificate against the host name.
	Resolve map[string]string
	// TokenExpiryMargin: a token counts as expired this long before it expires (default 15 s).
	TokenExpiryMargin time.Duration
	// FallbackRetryTimeout: how long a fallback host that worked stays preferred.
	FallbackRetryTimeout time.Duration
	// HTTPMaxRetryCount: the most fallback hosts tried after the primary (default 3).
	HTTPMaxRetryCount *int
	// HTTPMaxRetryDuration: how long after a request started a fallback host may still be
	// tried (default 15 s; 0: the first host only).
	HTTPMaxRetryDuration *time.Duration
	// Agents are extra "name/version" entries of the Ably-Agent header (RSC7d6).
	Agents []string
	// AddRequestIDs adds a request_id query parameter to each request (RSC7c).
	AddRequestIDs bool

	// WorkerThreads run the *Context calls and renewal ahead of expiry (default 2, 1 to
	// 16); one more library thread delivers their outcomes. Started on first use.
	WorkerThreads int
	// NoRenewAhead turns off renewing the token in the background before it expires (on
	// by default: after the first token, AuthorizationHeader does not wait on the network
	// while a valid token exists).
	NoRenewAhead bool

	// HTTPClient, when set, sends every request instead of the library's built-in client
	// (as ably-go's WithHTTPClient): its proxy, TLS and RoundTripper settings apply, and
	// ConnectTimeout, CACertsPEM and Resolve must then be left unset. Redirects are not
	// followed by it (the library follows authUrl redirects itself). See transport.go.
	HTTPClient *http.Client

	// Log receives log lines from LogLevel up (default LogInfo); they never contain a key
	// secret, token or mac. It may run on any goroutine or thread.
	Log      func(level LogLevel, message string)
	LogLevel LogLevel
}

const (
	defaultConnectTimeout = 4 * time.Second
	defaultRequestTimeout = 10 * time.Second
)

// optionsBuilder turns Go options into an ably_auth_options the caller consumes or frees.
type optionsBuilder struct {
	ptr *C.ably_auth_options
	cs  cstrings
}

func (b *optionsBuilder) str(what, s string) (*C.char, error) { return b.cs.add(what, s) }

// buildAuthOptions builds the credential part; requestTimeout is what the authCallback's
// context gets.
func buildAuthOptions(o *AuthOptions, requestTimeout time.Duration) (*C.ably_auth_options, error) {
	b := &optionsBuilder{ptr: C.ably_auth_options_new()}
	defer b.cs.free()
	if err := b.auth(o, requestTimeout); err != nil {
		C.ably_auth_options_free(b.ptr)
		return nil, err
	}
	return b.ptr, nil
}

func (b *optionsBuilder) auth(o *AuthOptions, requestTimeout time.Duration) error {
	p := b.ptr
	if o.Key != "" {
		s, err := b.str("key", o.Key)
		if err != nil {
			return err
		}
		if err := takeError(C.ably_auth_options_set_key(p, s)); err != nil {
			return err
		}
	}
	if o.Token != "" {
		s, err := b.str("token", o.Token)
		if err != nil {
			return err
		}
		if err := takeError(C.ably_auth_options_set_token(p, s)); err != nil {
			return err
		}
	}
	if o.TokenDetails != nil {
		text, err := json.Marshal(o.TokenDetails)
		if err != nil {
			return invalidArgument("tokenDetails: %v", err)
		}
		s, err := b.str("tokenDetails", string(text))
		if err != nil {
			return err
		}
		var td *C.ably_token_details
		if err := takeError(C.ably_token_details_from_json(s, &td)); err != nil {
			return err
		}
		err = takeError(C.ably_auth_options_set_token_details(p, td))
		C.ably_token_details_free(td)
		if err != nil {
			return err
		}
	}
	if o.UseTokenAuth {
		if err := takeError(C.ably_auth_options_set_use_token_auth(p, true)); err != nil {
			return err
		}
	}
	if o.AuthURL != "" {
		s, err := b.str("authUrl", o.AuthURL)
		if err != nil {
			return err
		}
		if err := takeError(C.ably_auth_options_set_auth_url(p, s)); err != nil {
			return err
		}
	}
	if o.AuthMethod != "" {
		s, err := b.str("authMethod", o.AuthMethod)
		if err != nil {
			return err
		}
		if err := takeError(C.ably_auth_options_set_auth_method(p, s)); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(o.AuthHeaders) {
		n, err := b.str("authHeaders name", name)
		if err != nil {
			return err
		}
		v, err := b.str("authHeaders value", o.AuthHeaders[name])
		if err != nil {
			return err
		}
		if err := takeError(C.ably_auth_options_add_auth_header(p, n, v)); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(o.AuthParams))
	for name := range o.AuthParams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, value := range o.AuthParams[name] {
			n, err := b.str("authParams name", name)
			if err != nil {
				return err
			}
			v, err := b.str("authParams value", value)
			if err != nil {
				return err
			}
			if err := takeError(C.ably_auth_options_add_auth_param(p, n, v)); err != nil {
				return err
			}
		}
	}
	if o.AuthCallback != nil && o.AuthCallbackAsync != nil {
		return invalidArgument("set at most one of AuthCallback and AuthCallbackAsync")
	}
	if o.AuthCallback != nil || o.AuthCallbackAsync != nil {
		h := cgo.NewHandle(&callbackState{sync: o.AuthCallback, async: o.AuthCallbackAsync,
			requestTimeout: requestTimeout})
		if err := setAuthCallback(p, h); err != nil {
			return err
		}
	}
	if o.QueryTime {
		if err := takeError(C.ably_auth_options_set_query_time(p, true)); err != nil {
			return err
		}
	}
	return nil
}

func (b *optionsBuilder) all(o *Options) error {
	requestTimeout := o.RequestTimeout
	if requestTimeout <= 0 {
		requestTimeout = defaultRequestTimeout
	}
	if err := b.auth(&o.AuthOptions, requestTimeout); err != nil {
		return err
	}
	p := b.ptr
	setStr := func(what, value string, set func(*C.ably_auth_options, *C.char) *C.ably_error_info) error {
		if value == "" {
			return nil
		}
		s, err := b.str(what, value)
		if err != nil {
			return err
		}
		return takeError(set(p, s))
	}
	steps := []func() error{
		func() error {
			return setStr("clientId", o.ClientID, func(p *C.ably_auth_options, s *C.char) *C.ably_error_info {
				return C.ably_auth_options_set_client_id(p, s)
			})
		},
		func() error {
			if o.DefaultTokenParams == nil {
				return nil
			}
			params, err := newCParams(o.DefaultTokenParams)
			if err != nil {
				return err
			}
			return takeError(C.ably_auth_options_set_default_token_params(p, params))
		},
		func() error {
			return setStr("endpoint", o.Endpoint, func(p *C.ably_auth_options, s *C.char) *C.ably_error_info {
				return C.ably_auth_options_set_endpoint(p, s)
			})
		},
		func() error {
			return setStr("environment", o.Environment, func(p *C.ably_auth_options, s *C.char) *C.ably_error_info {
				return C.ably_auth_options_set_environment(p, s)
			})
		},
		func() error {
			return setStr("restHost", o.RESTHost, func(p *C.ably_auth_options, s *C.char) *C.ably_error_info {
				return C.ably_auth_options_set_rest_host(p, s)
			})
		},
		func() error {
			if o.FallbackHosts == nil {
				return nil
			}
			arr := make([]*C.char, len(o.FallbackHosts))
			for i, h := range o.FallbackHosts {
				s, err := b.str("fallbackHosts", h)
				if err != nil {
					return err
				}
				arr[i] = s
			}
			var first **C.char
			if len(arr) > 0 {
				first = &arr[0]
			}
			return takeError(C.ably_auth_options_set_fallback_hosts(p, first, C.size_t(len(arr))))
		},
		func() error {
			if !o.NoTLS {
				return nil
			}
			return takeError(C.ably_auth_options_set_tls(p, false))
		},
		func() error {
			if o.Port == 0 {
				return nil
			}
			return takeError(C.ably_auth_options_set_port(p, C.int32_t(clampInt32(o.Port))))
		},
		func() error {
			if o.TLSPort == 0 {
				return nil
			}
			return takeError(C.ably_auth_options_set_tls_port(p, C.int32_t(clampInt32(o.TLSPort))))
		},
		func() error {
			if o.ConnectTimeout == 0 && o.RequestTimeout == 0 {
				return nil
			}
			open := o.ConnectTimeout
			if open == 0 {
				open = defaultConnectTimeout
			}
			return takeError(C.ably_auth_options_set_timeouts(p, C.int64_t(open.Milliseconds()),
				C.int64_t(requestTimeout.Milliseconds())))
		},
		func() error {
			for _, pem := range o.CACertsPEM {
				if err := setStr("caCertsPEM", pem, func(p *C.ably_auth_options, s *C.char) *C.ably_error_info {
					return C.ably_auth_options_add_ca_pem(p, s)
				}); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			for _, host := range sortedKeys(o.Resolve) {
				h, err := b.str("resolve host", host)
				if err != nil {
					return err
				}
				a, err := b.str("resolve address", o.Resolve[host])
				if err != nil {
					return err
				}
				if err := takeError(C.ably_auth_options_add_resolve(p, h, a)); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			if o.TokenExpiryMargin == 0 {
				return nil
			}
			return takeError(C.ably_auth_options_set_token_expiry_margin(p, C.int64_t(o.TokenExpiryMargin.Milliseconds())))
		},
		func() error {
			if o.FallbackRetryTimeout == 0 {
				return nil
			}
			return takeError(C.ably_auth_options_set_fallback_retry_timeout(p, C.int64_t(o.FallbackRetryTimeout.Milliseconds())))
		},
		func() error {
			if o.HTTPMaxRetryCount == nil {
				return nil
			}
			return takeError(C.ably_auth_options_set_max_retry_count(p, C.int32_t(clampInt32(*o.HTTPMaxRetryCount))))
		},
		func() error {
			if o.HTTPMaxRetryDuration == nil {
				return nil
			}
			return takeError(C.ably_auth_options_set_max_retry_duration(p, C.int64_t(o.HTTPMaxRetryDuration.Milliseconds())))
		},
		func() error {
			for _, agent := range o.Agents {
				s, err := b.str("agents", agent)
				if err != nil {
					return err
				}
				if err := takeError(C.ably_auth_options_add_agent(p, s)); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			if !o.AddRequestIDs {
				return nil
			}
			return takeError(C.ably_auth_options_set_add_request_ids(p, true))
		},
		func() error { return b.calls(o) },
		func() error {
			if o.Log == nil {
				return nil
			}
			level := o.LogLevel
			if level == 0 {
				level = LogInfo
			}
			return setLog(p, level, cgo.NewHandle(o.Log))
		},
		func() error {
			if o.HTTPClient == nil {
				return nil
			}
			return setHTTPTransport(p, cgo.NewHandle(newHostTransport(o.HTTPClient)))
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clampInt32 keeps out-of-range ints out of range (so the library reports 40003) without
// wrapping into range.
func clampInt32(v int) int32 {
	if v > 1<<31-1 {
		return 1<<31 - 1
	}
	if v < -1<<31 {
		return -1 << 31
	}
	return int32(v)
}
