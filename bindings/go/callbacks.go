package ablyauth

// Exported trampolines the library calls. None lets a Go panic reach the C frames: an
// authCallback panic becomes a 40170 answer, a listener or log panic is dropped.

/*
#include <stdint.h>
#include <stdlib.h>
#include "ably_auth.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// AuthCallback answers a token request synchronously (RSA8d): return a TokenString (token
// or JWT), a TokenDetails or a signed TokenRequest, or an error (an *ErrorInfo keeps its
// code; any other error becomes 40170). ctx expires with the Auth's request timeout, after
// which the answer is no longer awaited. It runs on the goroutine of the call that needs a
// token and may call back into the same Auth. A panic becomes a 40170 error.
type AuthCallback func(ctx context.Context, params TokenParams) (TokenMaterial, error)

// AsyncAuthCallback starts answering a token request and returns; c is answered later,
// from any goroutine, exactly once (an unanswered Completion is answered with 40170 when
// it is garbage collected, but the waiting call fails at the request timeout before that).
type AsyncAuthCallback func(params TokenParams, c *Completion)

// Completion is the answer channel of one authCallback call.
type Completion struct {
	mu  sync.Mutex
	ptr *C.ably_auth_completion
}

func newCompletion(p *C.ably_auth_completion) *Completion {
	c := &Completion{ptr: p}
	runtime.SetFinalizer(c, func(c *Completion) {
		c.Complete(nil, &ErrorInfo{Code: ErrAuthCallbackFailed, StatusCode: 401,
			Message: "ablyauth: the authCallback completion was dropped without an answer"})
	})
	return c
}

// Complete answers with material, or with err when it is not nil. It returns an error
// when the completion was already answered (40003), when the library no longer waits
// (40170), or when material cannot be sent.
func (c *Completion) Complete(material TokenMaterial, err error) error {
	c.mu.Lock()
	p := c.ptr
	c.ptr = nil
	c.mu.Unlock()
	if p == nil {
		return invalidArgument("ablyauth: the authCallback completion was already answered")
	}
	runtime.SetFinalizer(c, nil)
	return complete(p, material, err)
}

// complete answers p exactly once, whatever material and err hold.
func complete(p *C.ably_auth_completion, material TokenMaterial, err error) error {
	if err == nil {
		var text string
		var isJSON bool
		switch m := material.(type) {
		case TokenString:
			text = string(m)
		case *TokenDetails, TokenDetails, *TokenRequest, TokenRequest:
			if m == (*TokenDetails)(nil) || m == (*TokenRequest)(nil) {
				err = errors.New("ablyauth: the authCallback answered with a nil pointer")
				break
			}
			b, jerr := json.Marshal(m)
			if jerr != nil {
				err = jerr
				break
			}
			text, isJSON = string(b), true
		case nil:
			err = errors.New("ablyauth: the authCallback answered with neither token material nor an error")
		default:
			err = fmt.Errorf("ablyauth: unsupported token material %T", material)
		}
		if err == nil {
			var cs cstrings
			defer cs.free()
			s, serr := cs.add("token material", text)
			if serr != nil {
				err = serr
			} else if isJSON {
				return takeError(C.ably_auth_completion_answer_json(p, s))
			} else {
				return takeError(C.ably_auth_completion_answer_token(p, s))
			}
		}
	}
	code, status := ErrAuthCallbackFailed, 401
	var info *ErrorInfo
	if errors.As(err, &info) && info.Code > 0 && info.StatusCode >= 0 && info.StatusCode <= 599 {
		code, status = info.Code, info.StatusCode
	}
	msg := err.Error()
	if info != nil {
		msg = info.Message
	}
	cmsg := C.CString(sanitizeNUL(msg))
	defer C.free(unsafe.Pointer(cmsg))
	return takeError(C.ably_auth_completion_answer_error(p, C.int32_t(code), C.int32_t(status), cmsg))
}

func sanitizeNUL(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 0 {
			b[i] = ' '
		}
	}
	return string(b)
}

// callbackState is what an authCallback's cgo.Handle refers to.
type callbackState struct {
	sync           AuthCallback
	async          AsyncAuthCallback
	requestTimeout time.Duration
}

//export ablyauthGoAuthCallback
func ablyauthGoAuthCallback(userData unsafe.Pointer, paramsJSON *C.char, completion *C.ably_auth_completion) {
	var params TokenParams
	var parseErr error
	if paramsJSON != nil {
		parseErr = json.Unmarshal([]byte(C.GoString(paramsJSON)), &params)
	}
	st, ok := cgo.Handle(uintptr(userData)).Value().(*callbackState)
	if !ok {
		complete(completion, nil, errors.New("ablyauth: unknown authCallback state"))
		return
	}
	if parseErr != nil {
		complete(completion, nil, fmt.Errorf("ablyauth: reading token params: %w", parseErr))
		return
	}
	if st.async != nil {
		c := newCompletion(completion)
		defer func() {
			if r := recover(); r != nil {
				c.Complete(nil, panicError(r))
			}
		}()
		st.async(params, c)
		return
	}
	material, err := runSync(st, params)
	complete(completion, material, err)
}

// runSync calls the synchronous callback, turning a panic into an error.
func runSync(st *callbackState, params TokenParams) (material TokenMaterial, err error) {
	defer func() {
		if r := recover(); r != nil {
			material, err = nil, panicError(r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), st.requestTimeout)
	defer cancel()
	return st.sync(ctx, params)
}

func panicError(r any) error {
	return &ErrorInfo{Code: ErrAuthCallbackFailed, StatusCode: 401,
		Message: fmt.Sprintf("ablyauth: the authCallback panicked: %v", r)}
}

// AuthEvent is what a listener hears: a new token in use (TokenDetails set) or a failure
// to get one (Err set).
type AuthEvent struct {
	TokenDetails *TokenDetails
	Err          *ErrorInfo
}

//export ablyauthGoListener
func ablyauthGoListener(userData unsafe.Pointer, details *C.ably_token_details, cerr *C.ably_error_info) {
	fn, ok := cgo.Handle(uintptr(userData)).Value().(func(AuthEvent))
	if !ok {
		return
	}
	ev := AuthEvent{TokenDetails: tokenDetailsFromC(details), Err: copyError(cerr)}
	defer func() { _ = recover() }()
	fn(ev)
}

// LogLevel is the level of a log line: LogError (1) to LogVerbose (5).
type LogLevel int

const (
	LogError LogLevel = 1 + iota
	LogWarn
	LogInfo
	LogDebug
	LogVerbose
)

func (l LogLevel) String() string {
	switch l {
	case LogError:
		return "error"
	case LogWarn:
		return "warn"
	case LogInfo:
		return "info"
	case LogDebug:
		return "debug"
	case LogVerbose:
		return "verbose"
	}
	return fmt.Sprintf("LogLevel(%d)", int(l))
}

//export ablyauthGoLog
func ablyauthGoLog(userData unsafe.Pointer, level C.int32_t, message *C.char) {
	fn, ok := cgo.Handle(uintptr(userData)).Value().(func(LogLevel, string))
	if !ok {
		return
	}
	msg := goString(message)
	defer func() { _ = recover() }()
	fn(LogLevel(level), msg)
}

//export ablyauthGoFreeHandle
func ablyauthGoFreeHandle(userData unsafe.Pointer) {
	cgo.Handle(uintptr(userData)).Delete()
}
