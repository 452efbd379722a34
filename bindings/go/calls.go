package ablyauth

// The *Context methods: each starts the library's non-blocking form of a call, cancels it
// when ctx is done (context.AfterFunc), and waits on a channel that the library's
// completion fills exactly once, whatever ends the call: its outcome, ctx, its deadline,
// Shutdown or Close. So no goroutine waits for ever and none is left behind.

/*
#include <stdint.h>
#include "ably_auth.h"
*/
import "C"

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// outcome is what a completion hands to the goroutine waiting for it.
type outcome struct {
	value any
	err   error
}

// completionsRun counts the completions the library ran (for the tests: exactly one per
// call started).
var completionsRun atomic.Int64

// deliver sends o to the channel behind userData, which has room for the one outcome, so
// the library's thread never blocks here; the handle itself is deleted by free_user_data
// (ablyauthGoFreeHandle) after this returns.
func deliver(userData unsafe.Pointer, o outcome) {
	completionsRun.Add(1)
	ch, ok := cgo.Handle(uintptr(userData)).Value().(chan outcome)
	if !ok {
		return
	}
	select {
	case ch <- o:
	default: // a second outcome (which the library never gives) must not block it
	}
}

//export ablyauthGoTokenDone
func ablyauthGoTokenDone(userData unsafe.Pointer, details *C.ably_token_details, cerr *C.ably_error_info) {
	if cerr != nil {
		deliver(userData, outcome{err: takeError(cerr)})
		return
	}
	deliver(userData, outcome{value: takeTokenDetails(details)})
}

//export ablyauthGoStringDone
func ablyauthGoStringDone(userData unsafe.Pointer, text *C.char, cerr *C.ably_error_info) {
	if cerr != nil {
		deliver(userData, outcome{err: takeError(cerr)})
		return
	}
	deliver(userData, outcome{value: takeString(text)})
}

//export ablyauthGoTimeDone
func ablyauthGoTimeDone(userData unsafe.Pointer, timeMs C.int64_t, cerr *C.ably_error_info) {
	if cerr != nil {
		deliver(userData, outcome{err: takeError(cerr)})
		return
	}
	deliver(userData, outcome{value: time.UnixMilli(int64(timeMs))})
}

//export ablyauthGoRevocationDone
func ablyauthGoRevocationDone(userData unsafe.Pointer, result *C.ably_revocation_result, cerr *C.ably_error_info) {
	if cerr != nil {
		deliver(userData, outcome{err: takeError(cerr)})
		return
	}
	deliver(userData, outcome{value: takeRevocationResult(result)})
}

//export ablyauthGoResponseDone
func ablyauthGoResponseDone(userData unsafe.Pointer, response *C.ably_http_response, cerr *C.ably_error_info) {
	if cerr != nil {
		deliver(userData, outcome{err: takeError(cerr)})
		return
	}
	deliver(userData, outcome{value: takeResponse(response)})
}

// callHandle owns a C call handle; its lock keeps a cancel from racing the free.
type callHandle struct {
	mu  sync.Mutex
	ptr *C.ably_call
}

func (c *callHandle) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	C.ably_call_cancel(c.ptr) // NULL after free: a no-op
}

func (c *callHandle) free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	C.ably_call_free(c.ptr)
	c.ptr = nil
}

// contextError is the error of a call that ctx cancelled: both the library's *ErrorInfo
// (code ErrCancelled) and ctx.Err() are in its chain, so errors.As(err, &info) and
// errors.Is(err, context.Canceled) (or context.DeadlineExceeded) both work.
type contextError struct {
	info   *ErrorInfo
	ctxErr error
}

func (e *contextError) Error() string   { return e.info.Error() + " (" + e.ctxErr.Error() + ")" }
func (e *contextError) Unwrap() []error { return []error{e.info, e.ctxErr} }

func cancelledBy(ctx context.Context, info *ErrorInfo) error {
	if info == nil {
		info = &ErrorInfo{Code: ErrCancelled, Message: "ablyauth: the call was cancelled before it started"}
	}
	return &contextError{info: info, ctxErr: context.Cause(ctx)}
}

// await runs one non-blocking call: start either hands h (the handle of the outcome
// channel) to the library, which owns it from then on whatever the C call returns, or
// deletes it itself when it fails before; on success the library writes the call handle
// to out. Then await waits for the outcome, cancelling the call when ctx is done first.
func await[T any](a *Auth, ctx context.Context, start func(p *C.ably_auth, h cgo.Handle, out **C.ably_call) error) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, cancelledBy(ctx, nil)
	}
	ch := make(chan outcome, 1)
	var ptr *C.ably_call
	if err := a.call(func(p *C.ably_auth) error { return start(p, cgo.NewHandle(ch), &ptr) }); err != nil {
		return zero, err
	}
	c := &callHandle{ptr: ptr}
	stop := context.AfterFunc(ctx, c.cancel)
	o := <-ch
	stop()
	c.free() // after a cancel under way, if any (the lock)
	runtime.KeepAlive(a)
	if o.err != nil {
		if info, ok := o.err.(*ErrorInfo); ok && info.Code == ErrCancelled && ctx.Err() != nil {
			return zero, cancelledBy(ctx, info)
		}
		return zero, o.err
	}
	return o.value.(T), nil
}

// RequestTokenContext is RequestToken with a context: the call runs on the Auth's worker
// threads (the authCallback too, so it runs on a thread of the library, not this
// goroutine) while this goroutine waits, and ends early when ctx is done, with an error
// that carries both ErrCancelled and ctx's error. It is also bounded by the deadline of
// the blocking form (ErrTimeout), and ends with ErrCancelled on Shutdown or Close. If
// the outcome comes first, a late ctx changes nothing.
func (a *Auth) RequestTokenContext(ctx context.Context, params *TokenParams, opts *AuthOptions) (*TokenDetails, error) {
	return a.tokenContext(ctx, params, opts, false)
}

// AuthorizeContext is Authorize, cancelled by ctx (see RequestTokenContext).
func (a *Auth) AuthorizeContext(ctx context.Context, params *TokenParams, opts *AuthOptions) (*TokenDetails, error) {
	return a.tokenContext(ctx, params, opts, true)
}

func (a *Auth) tokenContext(ctx context.Context, params *TokenParams, opts *AuthOptions, authorize bool) (*TokenDetails, error) {
	return await[*TokenDetails](a, ctx, func(p *C.ably_auth, h cgo.Handle, out **C.ably_call) error {
		var co *C.ably_auth_options
		if opts != nil {
			var err error
			if co, err = buildAuthOptions(opts, a.requestTimeout); err != nil {
				h.Delete()
				return err
			}
		}
		cp, err := newCParams(params)
		if err != nil {
			C.ably_auth_options_free(co)
			h.Delete()
			return err
		}
		return startTokenCall(p, cp, co, authorize, h, out)
	})
}

// AuthorizationHeaderContext is AuthorizationHeader, cancelled by ctx (see
// RequestTokenContext). With a valid token cached it returns at once.
func (a *Auth) AuthorizationHeaderContext(ctx context.Context) (string, error) {
	return await[string](a, ctx, startHeaderCall)
}

// TimeContext is Time, cancelled by ctx (see RequestTokenContext).
func (a *Auth) TimeContext(ctx context.Context) (time.Time, error) {
	return await[time.Time](a, ctx, startTimeCall)
}

// RevokeTokensContext is RevokeTokens, cancelled by ctx (see RequestTokenContext).
func (a *Auth) RevokeTokensContext(ctx context.Context, targets []string, opts *RevokeOptions) (*RevocationResult, error) {
	return await[*RevocationResult](a, ctx, func(p *C.ably_auth, h cgo.Handle, out **C.ably_call) error {
		args, err := newRevokeArgs(targets, opts)
		if err != nil {
			h.Delete()
			return err
		}
		defer args.free()
		return startRevokeCall(p, args, h, out)
	})
}

// RequestContext is Request, cancelled by ctx (see RequestTokenContext).
func (a *Auth) RequestContext(ctx context.Context, method, path string, query url.Values, header http.Header, body []byte) (*Response, error) {
	return await[*Response](a, ctx, func(p *C.ably_auth, h cgo.Handle, out **C.ably_call) error {
		args, err := newRequestArgs(method, path, query, header, body)
		if err != nil {
			h.Delete()
			return err
		}
		defer args.free()
		return startRequestCall(p, args, h, out)
	})
}

// Shutdown makes every call in flight on a return promptly: the *Context calls end with
// ErrCancelled, and from now on every networked call fails with ErrShutDown; renewal ahead
// stops. Signing and the cached token keep working. It then waits up to timeout (negative:
// no limit) for the library's threads to finish; ErrTimeout when they have not (a thread
// in a network step ends with that step, at most one request timeout later). Idempotent.
// Close does the same.
func (a *Auth) Shutdown(timeout time.Duration) error {
	ms := int64(-1)
	if timeout >= 0 {
		ms = timeout.Milliseconds()
	}
	return a.call(func(p *C.ably_auth) error {
		return takeError(C.ably_auth_shutdown(p, C.int64_t(ms)))
	})
}

// CachedAuthorizationHeader is the Authorization header value from the cache only: no
// network I/O and no wait, so a game loop may call it every frame. ErrNoValidToken when no
// valid token is cached (none yet, or within its expiry margin): then ask with
// AuthorizationHeaderContext. It is a secret.
func (a *Auth) CachedAuthorizationHeader() (string, error) {
	var out string
	err := a.call(func(p *C.ably_auth) error {
		var s *C.char
		if err := takeError(C.ably_auth_cached_authorization_header(p, &s)); err != nil {
			return err
		}
		out = takeString(s)
		return nil
	})
	return out, err
}

// calls sets the options of the non-blocking calls and renewal.
func (b *optionsBuilder) calls(o *Options) error {
	if o.WorkerThreads != 0 {
		if err := takeError(C.ably_auth_options_set_worker_threads(b.ptr, C.int32_t(clampInt32(o.WorkerThreads)))); err != nil {
			return err
		}
	}
	if o.NoRenewAhead {
		return takeError(C.ably_auth_options_set_renew_ahead(b.ptr, false))
	}
	return nil
}
