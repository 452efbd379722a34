package ablyauth

// C glue for the HTTP transport (transport.go): registers the exported Go trampolines with
// the library, passing a runtime/cgo.Handle as user_data (see cgo_helpers.go).

/*
#include <stdint.h>
#include "ably_auth.h"

extern void ablyauthGoHTTPSend(void *user_data, ably_http_exchange *exchange);
extern void ablyauthGoHTTPCancel(void *user_data, uint64_t exchange_id);
extern void ablyauthGoFreeHandle(void *user_data);

static ably_error_info *ablyauth_set_http_transport(ably_auth_options *options, uintptr_t handle) {
	return ably_auth_options_set_http_transport(options, (ably_http_send_fn)ablyauthGoHTTPSend,
		(ably_http_cancel_fn)ablyauthGoHTTPCancel, (void *)handle, (ably_free_fn)ablyauthGoFreeHandle);
}
*/
import "C"

import "runtime/cgo"

// setHTTPTransport passes h to the library, which deletes it exactly once.
func setHTTPTransport(options *C.ably_auth_options, h cgo.Handle) error {
	return takeError(C.ablyauth_set_http_transport(options, C.uintptr_t(h)))
}
