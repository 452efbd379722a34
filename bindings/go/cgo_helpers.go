package ablyauth

// C glue: registers the exported Go trampolines (callbacks.go) with the library, passing a
// runtime/cgo.Handle as user_data. The handle travels as uintptr_t and becomes void* only
// on the C side, so no Go code converts an integer to unsafe.Pointer.

/*
#include <stdint.h>
#include "ably_auth.h"

extern void ablyauthGoAuthCallback(void *user_data, char *token_params_json, ably_auth_completion *completion);
extern void ablyauthGoListener(void *user_data, ably_token_details *details, ably_error_info *error);
extern void ablyauthGoLog(void *user_data, int32_t level, char *message);
extern void ablyauthGoFreeHandle(void *user_data);

static ably_error_info *ablyauth_set_auth_callback(ably_auth_options *options, uintptr_t handle) {
	return ably_auth_options_set_auth_callback(options, (ably_auth_callback_fn)ablyauthGoAuthCallback,
		(void *)handle, (ably_free_fn)ablyauthGoFreeHandle);
}

static ably_error_info *ablyauth_set_log(ably_auth_options *options, int32_t level, uintptr_t handle) {
	return ably_auth_options_set_log(options, (ably_log_fn)ablyauthGoLog, level, (void *)handle,
		(ably_free_fn)ablyauthGoFreeHandle);
}

static ably_error_info *ablyauth_add_listener(const ably_auth *auth, uintptr_t handle, uint64_t *out_id) {
	return ably_auth_add_listener(auth, (ably_auth_listener_fn)ablyauthGoListener, (void *)handle,
		(ably_free_fn)ablyauthGoFreeHandle, out_id);
}
*/
import "C"

import "runtime/cgo"

// The ownership of h passes to the library with each call, whatever its outcome:
// ablyauthGoFreeHandle deletes it exactly once.

func setAuthCallback(options *C.ably_auth_options, h cgo.Handle) error {
	return takeError(C.ablyauth_set_auth_callback(options, C.uintptr_t(h)))
}

func setLog(options *C.ably_auth_options, level LogLevel, h cgo.Handle) error {
	return takeError(C.ablyauth_set_log(options, C.int32_t(level), C.uintptr_t(h)))
}

func addListener(auth *C.ably_auth, h cgo.Handle) (uint64, error) {
	var id C.uint64_t
	if err := takeError(C.ablyauth_add_listener(auth, C.uintptr_t(h), &id)); err != nil {
		return 0, err
	}
	return uint64(id), nil
}
