package ablyauth

/*
#include <stdlib.h>
#include "ably_auth.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
)

// Ably error codes the library returns (see include/ably_auth.h).
const (
	ErrBadRequest                = 40000
	ErrInvalidArgument           = 40003
	ErrInvalidClientID           = 40012
	ErrInvalidCredentials        = 40101
	ErrIncompatibleCredentials   = 40102
	ErrInsecureBasicAuth         = 40103
	ErrTimestampNotCurrent       = 40104
	ErrNoAuthMethod              = 40106
	ErrTokenErrorFirst           = 40140
	ErrTokenErrorLast            = 40149
	ErrRequiresBasicAuth         = 40162
	ErrAuthCallbackFailed        = 40170
	ErrTokenRenewalNotConfigured = 40171
	ErrInternal                  = 50000
	ErrTimeout                   = 50003
	ErrConnectionFailed          = 80000
	// The library's own codes (status 0), for local conditions Ably has no code for.
	ErrReentrantCall = 100001 // a call refused because of where it was made from
	ErrCancelled     = 100002 // a non-blocking call cancelled (context, Shutdown, Close)
	ErrShutDown      = 100003 // the Auth is shut down: it takes no new work
	ErrNoValidToken  = 100004 // CachedAuthorizationHeader: no valid token cached
)

// ErrorInfo is Ably's ErrorInfo (TI1): every error this package returns is an *ErrorInfo,
// so errors.As(err, &info) gives the Ably code and HTTP status.
type ErrorInfo struct {
	Code       int        `json:"code"`
	StatusCode int        `json:"statusCode,omitempty"`
	Message    string     `json:"message"`
	Href       string     `json:"href,omitempty"`
	Cause      *ErrorInfo `json:"cause,omitempty"`
}

func (e *ErrorInfo) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[ErrorInfo code=%d statusCode=%d] %s", e.Code, e.StatusCode, e.Message)
	if e.Href != "" {
		fmt.Fprintf(&b, " (see %s)", e.Href)
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %s", e.Cause.Error())
	}
	return b.String()
}

// Unwrap gives the cause, so errors.As also finds codes further down the chain.
func (e *ErrorInfo) Unwrap() error {
	if e.Cause == nil {
		return nil
	}
	return e.Cause
}

// IsTokenError reports whether the code is in the token-error range 40140..40149.
func (e *ErrorInfo) IsTokenError() bool {
	return e != nil && e.Code >= ErrTokenErrorFirst && e.Code <= ErrTokenErrorLast
}

// Code returns the Ably error code of err (through errors.As), or 0.
func Code(err error) int {
	var info *ErrorInfo
	if errors.As(err, &info) {
		return info.Code
	}
	return 0
}

// copyError copies a borrowed C error (and its causes) into Go memory.
func copyError(e *C.ably_error_info) *ErrorInfo {
	if e == nil {
		return nil
	}
	info := &ErrorInfo{
		Code:       int(e.code),
		StatusCode: int(e.status_code),
	}
	if e.message != nil {
		info.Message = C.GoString(e.message)
	}
	if e.href != nil {
		info.Href = C.GoString(e.href)
	}
	info.Cause = copyError(e.cause)
	return info
}

// takeError converts an owned C error into a Go error and frees it. It returns a nil
// error interface (not a typed nil) for a NULL error.
func takeError(e *C.ably_error_info) error {
	if e == nil {
		return nil
	}
	info := copyError(e)
	C.ably_error_info_free(e)
	return info
}

func invalidArgument(format string, args ...any) error {
	return &ErrorInfo{Code: ErrInvalidArgument, StatusCode: 0, Message: fmt.Sprintf(format, args...)}
}

// errClosed is returned by every method of a closed Auth.
func errClosed() error {
	return &ErrorInfo{Code: ErrInvalidArgument, StatusCode: 0, Message: "ablyauth: the Auth is closed"}
}
