package ablyauth

// C glue of the non-blocking calls: starts each `_async` C function with the exported Go
// completion (calls.go) as `done` and a runtime/cgo.Handle as user_data (passed as
// uintptr_t, so no Go code converts an integer to unsafe.Pointer). free_user_data is
// ablyauthGoFreeHandle: the library deletes the handle exactly once, after `done` ran, or
// before the start function returns when it fails.

/*
#include <stdbool.h>
#include <stdint.h>
#include "ably_auth.h"

extern void ablyauthGoTokenDone(void *user_data, ably_token_details *details, ably_error_info *error);
extern void ablyauthGoStringDone(void *user_data, char *text, ably_error_info *error);
extern void ablyauthGoTimeDone(void *user_data, int64_t time_ms, ably_error_info *error);
extern void ablyauthGoRevocationDone(void *user_data, ably_revocation_result *result, ably_error_info *error);
extern void ablyauthGoResponseDone(void *user_data, ably_http_response *response, ably_error_info *error);
extern void ablyauthGoFreeHandle(void *user_data);

static ably_error_info *ablyauth_token_async(const ably_auth *auth, ably_token_params *params,
		ably_auth_options *options, bool authorize, uintptr_t handle, ably_call **out_call) {
	if (authorize) {
		return ably_auth_authorize_async(auth, params, options, (ably_token_details_done_fn)ablyauthGoTokenDone,
			(void *)handle, (ably_free_fn)ablyauthGoFreeHandle, out_call);
	}
	return ably_auth_request_token_async(auth, params, options, (ably_token_details_done_fn)ablyauthGoTokenDone,
		(void *)handle, (ably_free_fn)ablyauthGoFreeHandle, out_call);
}

static ably_error_info *ablyauth_header_async(const ably_auth *auth, uintptr_t handle, ably_call **out_call) {
	return ably_auth_authorization_header_async(auth, (ably_string_done_fn)ablyauthGoStringDone, (void *)handle,
		(ably_free_fn)ablyauthGoFreeHandle, out_call);
}

static ably_error_info *ablyauth_time_async(const ably_auth *auth, uintptr_t handle, ably_call **out_call) {
	return ably_auth_time_async(auth, (ably_time_done_fn)ablyauthGoTimeDone, (void *)handle,
		(ably_free_fn)ablyauthGoFreeHandle, out_call);
}

static ably_error_info *ablyauth_revoke_async(const ably_auth *auth, const char *const *targets, size_t count,
		int64_t issued_before_ms, int32_t margin, uintptr_t handle, ably_call **out_call) {
	return ably_auth_revoke_tokens_async(auth, targets, count, issued_before_ms, margin,
		(ably_revocation_done_fn)ablyauthGoRevocationDone, (void *)handle, (ably_free_fn)ablyauthGoFreeHandle,
		out_call);
}

static ably_error_info *ablyauth_request_async(const ably_auth *auth, const char *method, const char *path,
		const char *query, const char *const *names, const char *const *values, size_t count,
		const uint8_t *body, size_t body_len, uintptr_t handle, ably_call **out_call) {
	return ably_auth_request_async(auth, method, path, query, names, values, count, body, body_len,
		(ably_response_done_fn)ablyauthGoResponseDone, (void *)handle, (ably_free_fn)ablyauthGoFreeHandle,
		out_call);
}
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
)

// Each start function hands h to the library, whatever its outcome, and writes the call
// handle (to free with ably_call_free) to *out on success.

func startTokenCall(p *C.ably_auth, params *C.ably_token_params, opts *C.ably_auth_options, authorize bool,
	h cgo.Handle, out **C.ably_call) error {
	return takeError(C.ablyauth_token_async(p, params, opts, C.bool(authorize), C.uintptr_t(h), out))
}

func startHeaderCall(p *C.ably_auth, h cgo.Handle, out **C.ably_call) error {
	return takeError(C.ablyauth_header_async(p, C.uintptr_t(h), out))
}

func startTimeCall(p *C.ably_auth, h cgo.Handle, out **C.ably_call) error {
	return takeError(C.ablyauth_time_async(p, C.uintptr_t(h), out))
}

func startRevokeCall(p *C.ably_auth, args *revokeArgs, h cgo.Handle, out **C.ably_call) error {
	return takeError(C.ablyauth_revoke_async(p, args.first(), args.count(), args.issuedBefore, args.margin,
		C.uintptr_t(h), out))
}

func startRequestCall(p *C.ably_auth, args *requestArgs, h cgo.Handle, out **C.ably_call) error {
	err := takeError(C.ablyauth_request_async(p, args.method, args.path, args.query, args.names(), args.values(),
		args.headerCount(), args.body(), args.bodyLen(), C.uintptr_t(h), out))
	runtime.KeepAlive(args) // the library copied the arguments before returning
	return err
}
