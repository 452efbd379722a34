//! Auth listeners: `ably_auth_add_listener`, `ably_auth_remove_listener`.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use super::auth::{ably_auth, auth_call};
use super::boundary::boundary;
use super::callback::{UserData, ably_free_fn, required};
use super::error::{ably_error_info, ably_error_info_free, error_into_c};
use super::handle::{out_arg, write_out};
use super::token_details::ably_token_details;
use crate::auth::AuthEvent;
use crate::core::error::ErrorInfo;

/// A listener for token changes and auth failures. `details` is the new token (borrowed for
/// the call; NULL on failure); `error` is why getting a token failed (borrowed for the call;
/// NULL on success). Copy what you keep. Called on the thread that caused the event, with
/// no library lock held, so it may call back into the Auth.
pub type ably_auth_listener_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        details: *const ably_token_details,
        error: *const ably_error_info,
    ),
>;

/// Call `listener` whenever a new token is in use (authorize, renewal) and whenever getting a
/// token fails. On success `*out_id` receives an id for `ably_auth_remove_listener`.
///
/// Ownership: `user_data` passes to the library with this call, whatever its outcome:
/// `free_user_data` (may be NULL) runs exactly once, after the listener is removed and any
/// call of it under way has returned, in `ably_auth_free`, or at once when this call
/// fails (see "User destructors" at the top of this header). The listener and
/// `free_user_data` may run on any thread.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth`, `listener` or `out_id` (nothing is
/// registered).
///
/// Thread safety: `auth` may be used from many threads at once.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_id` is NULL or writable; the functions follow the
/// contracts of their types.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_add_listener(
    auth: *const ably_auth,
    listener: ably_auth_listener_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_id: *mut u64,
) -> *mut ably_error_info {
    let user_data = UserData::new(user_data, free_user_data);
    boundary(move || {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let listener = required(listener, "listener")?;
        let out = out_arg(out_id, "out_id")?;
        auth.custody.adopt([user_data.watch()]);
        let id = auth.inner.add_listener(move |event: &AuthEvent<'_>| {
            // Our glue must not unwind into the Auth; the C listener itself cannot unwind.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                user_data.call(|user_data| match event {
                    AuthEvent::TokenChanged(details) => {
                        let handle = ably_token_details::new((*details).clone());
                        // SAFETY: registered function; the handle outlives the call.
                        unsafe { listener(user_data, &handle, ptr::null()) };
                    }
                    AuthEvent::Failed(error) => {
                        let c_error = error_into_c((*error).clone());
                        // SAFETY: registered function; the error outlives the call.
                        unsafe { listener(user_data, ptr::null(), c_error) };
                        // SAFETY: allocated just above, freed once.
                        unsafe { ably_error_info_free(c_error) };
                    }
                })
            }));
        });
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, id) };
        Ok(())
    })
}

/// Remove the listener `id`. A call of it under way on another thread finishes first: when
/// this returns NULL, the listener is not running on another thread and is never called
/// again (also when that call is inside `ably_auth_shutdown`, which never waits for a thread
/// inside a removal). Its `free_user_data` runs after its last call.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or an unknown `id` (never added, or
/// already removed); ABLY_ERR_SHUT_DOWN when the Auth is being freed, and in the one case
/// where the wait cannot be kept: the call of the listener being waited for calls
/// `ably_auth_free` of this Auth (which waits for the callbacks on other threads, maybe for
/// the one removing it). The listener is then removed all the same and never called again,
/// but that call of it may still be running (it returns once its `ably_auth_free` does).
///
/// Thread safety: `auth` may be used from many threads at once; a listener may remove itself.
///
/// # Safety
/// `auth` is NULL or a live handle.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_remove_listener(
    auth: *const ably_auth,
    id: u64,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        if auth.inner.remove_listener(id)? {
            Ok(())
        } else {
            Err(ErrorInfo::invalid_value(format!(
                "`id` {id} is not a registered listener"
            )))
        }
    })
}
