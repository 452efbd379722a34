//! Non-blocking calls: `ably_auth_*_async`, `ably_call`, `ably_auth_shutdown` and the
//! cached header read.
//!
//! The rules are in the doc comment of `ably_call`, which the header carries.

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use zeroize::Zeroizing;

use super::auth::{ably_auth, auth_call, header_call, owned_c_secret};
use super::boundary::{boundary, boundary_or};
use super::callback::{UserCell, UserData, ably_free_fn, required};
use super::error::{ably_error_info, error_into_c};
use super::handle::{free_handle, new_handle, take_builder, write_out};
use super::options::ably_auth_options;
use super::params::ably_token_params;
use super::response::{ably_http_response, request_args};
use super::revocation::{ably_revocation_result, revoke_args};
use super::token_details::ably_token_details;
use super::token_request::saturating_i64;
use crate::auth::{Auth, Call};
use crate::core::error::{ErrorInfo, Result};
use crate::core::material::RevocationResult;
use crate::core::token::TokenDetails;
use crate::http::HttpResponse;

/// Non-blocking calls. The rules every `_async` function follows:
/// - It returns at once. Either it returns an error, and then `done` never runs and
///   `free_user_data` has run before it returns; or it returns NULL, and `done` runs exactly
///   once, later, on a library thread (never inside the `_async` call, never with a library
///   lock held), with the result or an error: the operation's own, `ABLY_ERR_CANCELLED`
///   (ABLY_ERR_CANCELLED) after `ably_call_cancel`, `ably_auth_shutdown` or `ably_auth_free`,
///   or `ABLY_ERR_TIMEOUT` at the call's deadline (the worst case of the blocking form, see
///   `ably_auth_options_set_timeouts`). `free_user_data` runs after `done` returns.
/// - The result and the error given to `done` are the host's: free them (or keep them).
/// - `*out_call` (may be NULL: fire and forget) is written before the operation starts, so
///   `done` may already see it (and is set to NULL when the function fails); the host frees it
///   with `ably_call_free`, before or after `done`.
/// - `done` may call anything that does not block on the network (another `_async` call,
///   `ably_call_cancel`, `ably_auth_free`...); a blocking call that needs a token from inside
///   `done` gets `ABLY_ERR_REENTRANT_CALL`: use the `_async` form.
/// - The operations run on the Auth's worker threads (`ably_auth_options_set_worker_threads`, 2
///   by default), started on first use; `done` runs on one more library thread.
/// - Starting costs the same whatever the number of calls in flight; past
///   `ably_auth_options_set_max_calls_in_flight` (10000 by default) a start fails at once with
///   `ABLY_ERR_TOO_MANY_CALLS`, as any other start error (no `done`).
///
/// `ably_call` is one such operation in flight, owned by the caller: free it with
/// `ably_call_free` (before or after its `done` ran). Thread safety: thread-safe.
pub struct ably_call {
    inner: Arc<OnceLock<Call>>,
}

/// Completion of a non-blocking call giving a TokenDetails: exactly one of `details` and
/// `error` is non-NULL; both are the host's to free (`ably_token_details_free`,
/// `ably_error_info_free`).
pub type ably_token_details_done_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        details: *mut ably_token_details,
        error: *mut ably_error_info,
    ),
>;

/// Completion giving a string (the Authorization header value, a secret): exactly one of
/// `text` and `error` is non-NULL; free them with `ably_string_free` / `ably_error_info_free`.
pub type ably_string_done_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, text: *mut c_char, error: *mut ably_error_info),
>;

/// Completion giving the server time in ms since the epoch (0 when `error` is non-NULL);
/// free `error` with `ably_error_info_free`.
pub type ably_time_done_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, time_ms: i64, error: *mut ably_error_info)>;

/// Completion giving a revokeTokens result: exactly one of `result` and `error` is
/// non-NULL; free them with `ably_revocation_result_free` / `ably_error_info_free`.
pub type ably_revocation_done_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        result: *mut ably_revocation_result,
        error: *mut ably_error_info,
    ),
>;

/// Completion giving the server's answer to `ably_auth_request_async`, whatever its status
/// (see `ably_auth_request`: an answer with status >= 400 is a `response`, with its
/// ErrorInfo from `ably_http_response_error`): exactly one of `response` and `error` is
/// non-NULL; free them with `ably_http_response_free` / `ably_error_info_free`.
pub type ably_response_done_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        response: *mut ably_http_response,
        error: *mut ably_error_info,
    ),
>;

/// Convert an outcome into the C pair handed to `done`; an output that cannot be converted
/// becomes the error.
fn split<T, C>(
    outcome: Result<T>,
    convert: impl FnOnce(T) -> Result<*mut C>,
) -> (*mut C, *mut ably_error_info) {
    match outcome.and_then(convert) {
        Ok(value) => (value, ptr::null_mut()),
        Err(error) => (ptr::null_mut(), error_into_c(error)),
    }
}

/// Set `*out_call` (when `out_call` is not NULL) to NULL: the first thing every `_async`
/// function does, so that a start refused at any point, the earliest argument checks
/// included, leaves it NULL.
///
/// # Safety
/// `out_call` is NULL or writable.
unsafe fn reset_out_call(out_call: *mut *mut ably_call) {
    if !out_call.is_null() {
        // SAFETY: caller contract: writable when non-NULL.
        unsafe { write_out(out_call, ptr::null_mut()) };
    }
}

/// The shared body of every `_async` function: check `out_call`, hand out the call handle
/// first, then start the operation with a completion that calls the C `done`.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_call` is NULL or writable.
unsafe fn start<T: Send + 'static>(
    auth: *const ably_auth,
    user_data: UserData,
    adopt: Vec<Weak<UserCell>>,
    out_call: *mut *mut ably_call,
    deliver: impl FnOnce(*mut c_void, Result<T>) + Send + 'static,
    begin: impl FnOnce(&Arc<crate::auth::Auth>, Box<dyn FnOnce(Result<T>) + Send>) -> Result<Call>,
) -> *mut ably_error_info {
    boundary(move || {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        // The handle's custody releases them when the Auth is freed, whoever holds them then.
        auth.custody
            .adopt(adopt.into_iter().chain([user_data.watch()]));
        let slot = Arc::new(OnceLock::new());
        let handle = (!out_call.is_null()).then(|| {
            let handle = new_handle(ably_call {
                inner: Arc::clone(&slot),
            });
            // SAFETY: caller contract: writable when non-NULL. Written before the operation
            // starts, so that `done` can find it.
            unsafe { write_out(out_call, handle) };
            handle
        });
        let done: Box<dyn FnOnce(Result<T>) + Send> = Box::new(move |outcome| {
            user_data.call(|user| deliver(user, outcome));
            drop(user_data); // free_user_data, after done returned
        });
        match begin(&auth.inner, done) {
            Ok(call) => {
                let _ = slot.set(call);
                Ok(())
            }
            Err(error) => {
                if let Some(handle) = handle {
                    // SAFETY: created above and not yet seen by anyone but the caller's slot,
                    // which is reset to NULL.
                    unsafe {
                        free_handle(handle);
                        write_out(out_call, ptr::null_mut());
                    }
                }
                Err(error)
            }
        }
    })
}

/// Non-blocking `ably_auth_request_token`: same arguments (consumed, also on error) and errors,
/// given to `done`; see the rules at the top of "Non-blocking calls". The authCallback runs on
/// a library thread.
///
/// Errors returned at once: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `done`, or builders
/// that are not live; ABLY_ERR_SHUT_DOWN after shutdown.
///
/// # Safety
/// `auth` is NULL or a live handle; `params` and `options` are NULL or from their `_new`
/// functions; `out_call` is NULL or writable; `done` and `free_user_data` follow their
/// contracts.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_request_token_async(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    options: *mut ably_auth_options,
    done: ably_token_details_done_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_call: *mut *mut ably_call,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        token_call_async(
            auth,
            params,
            options,
            done,
            user_data,
            free_user_data,
            out_call,
            false,
        )
    }
}

/// Non-blocking `ably_auth_authorize`: same arguments (consumed, also on error) and
/// errors, given to `done`; listeners hear the new token as with the blocking form.
///
/// Errors returned at once: as for `ably_auth_request_token_async`.
///
/// # Safety
/// As for `ably_auth_request_token_async`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_authorize_async(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    options: *mut ably_auth_options,
    done: ably_token_details_done_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_call: *mut *mut ably_call,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        token_call_async(
            auth,
            params,
            options,
            done,
            user_data,
            free_user_data,
            out_call,
            true,
        )
    }
}

/// The shared body of `request_token_async` and `authorize_async`.
///
/// # Safety
/// As for `ably_auth_request_token_async`.
#[allow(clippy::too_many_arguments)]
unsafe fn token_call_async(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    options: *mut ably_auth_options,
    done: ably_token_details_done_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_call: *mut *mut ably_call,
    authorize: bool,
) -> *mut ably_error_info {
    // SAFETY: caller contract.
    unsafe { reset_out_call(out_call) };
    let user_data = UserData::new(user_data, free_user_data);
    // Both builders are consumed first, whatever fails next.
    let params = take_builder(params, "params", true);
    let options = take_builder(options, "options", true);
    let checked = (|| {
        let (params, options) = (params?, options?);
        let params = params
            .map(ably_token_params::into_token_params)
            .transpose()?;
        let (options, custody) = match options {
            Some(o) => (Some(o.inner.into_auth_options()?), o.custody),
            None => (None, Vec::new()),
        };
        Ok((params, options, custody, required(done, "done")?))
    })();
    let (params, options, custody, done) = match checked {
        Ok(args) => args,
        Err(error) => return error_into_c(error),
    };
    let deliver = move |user: *mut c_void, outcome: Result<TokenDetails>| {
        let (details, error) = split(outcome, |d| Ok(new_handle(ably_token_details::new(d))));
        // SAFETY: the host registered `done` for `user`; both pointers are handed over.
        unsafe { done(user, details, error) };
    };
    // SAFETY: forwarded.
    unsafe {
        start(
            auth,
            user_data,
            custody,
            out_call,
            deliver,
            move |auth, done| {
                if authorize {
                    auth.authorize_async(params, options, done)
                } else {
                    auth.request_token_async(params, options, done)
                }
            },
        )
    }
}

/// Non-blocking `ably_auth_authorization_header`: with a valid token cached, `done` gets the
/// header at once (on a library thread); otherwise after one token fetch shared with every
/// other caller. The text is a secret: free it with `ably_string_free`.
///
/// Errors returned at once: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `done`;
/// ABLY_ERR_SHUT_DOWN after shutdown.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_call` is NULL or writable; `done` and `free_user_data`
/// follow their contracts.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_authorization_header_async(
    auth: *const ably_auth,
    done: ably_string_done_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_call: *mut *mut ably_call,
) -> *mut ably_error_info {
    // SAFETY: caller contract.
    unsafe { reset_out_call(out_call) };
    let user_data = UserData::new(user_data, free_user_data);
    let done = match required(done, "done") {
        Ok(done) => done,
        Err(error) => return error_into_c(error),
    };
    let deliver = move |user: *mut c_void, outcome: Result<Zeroizing<String>>| {
        let (text, error) = split(outcome, |h| owned_c_secret(&h));
        // SAFETY: the host registered `done` for `user`; both pointers are handed over.
        unsafe { done(user, text, error) };
    };
    // SAFETY: forwarded.
    unsafe {
        start(
            auth,
            user_data,
            Vec::new(),
            out_call,
            deliver,
            |auth, done| auth.authorization_header_async(done),
        )
    }
}

/// Non-blocking `ably_auth_time`.
///
/// Errors returned at once: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `done`;
/// ABLY_ERR_SHUT_DOWN after shutdown.
///
/// # Safety
/// As for `ably_auth_authorization_header_async`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_time_async(
    auth: *const ably_auth,
    done: ably_time_done_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_call: *mut *mut ably_call,
) -> *mut ably_error_info {
    // SAFETY: caller contract.
    unsafe { reset_out_call(out_call) };
    let user_data = UserData::new(user_data, free_user_data);
    let done = match required(done, "done") {
        Ok(done) => done,
        Err(error) => return error_into_c(error),
    };
    let deliver = move |user: *mut c_void, outcome: Result<u64>| {
        let (time, error) = match outcome {
            Ok(ms) => (saturating_i64(ms), ptr::null_mut()),
            Err(e) => (0, error_into_c(e)),
        };
        // SAFETY: the host registered `done` for `user`; the error is handed over.
        unsafe { done(user, time, error) };
    };
    // SAFETY: forwarded.
    unsafe {
        start(
            auth,
            user_data,
            Vec::new(),
            out_call,
            deliver,
            |auth, done| auth.time_async(done),
        )
    }
}

/// Non-blocking `ably_auth_revoke_tokens`: same arguments (copied before it returns).
///
/// Errors returned at once: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `done` or bad
/// arguments (as for the blocking form); ABLY_ERR_SHUT_DOWN after shutdown.
///
/// # Safety
/// As for `ably_auth_revoke_tokens`, plus: `out_call` is NULL or writable; `done` and
/// `free_user_data` follow their contracts.
#[must_use]
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ably_auth_revoke_tokens_async(
    auth: *const ably_auth,
    targets: *const *const c_char,
    count: usize,
    issued_before_ms: i64,
    allow_reauth_margin: i32,
    done: ably_revocation_done_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_call: *mut *mut ably_call,
) -> *mut ably_error_info {
    // SAFETY: caller contract.
    unsafe { reset_out_call(out_call) };
    let user_data = UserData::new(user_data, free_user_data);
    // SAFETY: caller contract.
    let args = unsafe { revoke_args(targets, count, issued_before_ms, allow_reauth_margin) }
        .and_then(|args| Ok((args, required(done, "done")?)));
    let ((targets, issued_before, margin), done) = match args {
        Ok(args) => args,
        Err(error) => return error_into_c(error),
    };
    let deliver = move |user: *mut c_void, outcome: Result<RevocationResult>| {
        let (result, error) = split(outcome, |r| Ok(new_handle(ably_revocation_result::new(r))));
        // SAFETY: the host registered `done` for `user`; both pointers are handed over.
        unsafe { done(user, result, error) };
    };
    // SAFETY: forwarded.
    unsafe {
        start(
            auth,
            user_data,
            Vec::new(),
            out_call,
            deliver,
            move |auth, done| auth.revoke_tokens_async(targets, issued_before, margin, done),
        )
    }
}

/// Non-blocking `ably_auth_request`: same arguments (copied before it returns), and the same
/// outcome delivered to `done`: every answer from the server, whatever its status, as a
/// response owned by `done`; an error only when no usable answer arrives.
///
/// Errors returned at once: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `done` or bad
/// arguments (as for the blocking form); ABLY_ERR_SHUT_DOWN after shutdown.
///
/// # Safety
/// As for `ably_auth_request`, plus: `out_call` is NULL or writable; `done` and
/// `free_user_data` follow their contracts.
#[must_use]
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ably_auth_request_async(
    auth: *const ably_auth,
    method: *const c_char,
    path: *const c_char,
    query: *const c_char,
    header_names: *const *const c_char,
    header_values: *const *const c_char,
    header_count: usize,
    body: *const u8,
    body_len: usize,
    done: ably_response_done_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
    out_call: *mut *mut ably_call,
) -> *mut ably_error_info {
    // SAFETY: caller contract.
    unsafe { reset_out_call(out_call) };
    let user_data = UserData::new(user_data, free_user_data);
    // SAFETY: caller contract.
    let args = unsafe {
        request_args(
            method,
            path,
            query,
            header_names,
            header_values,
            header_count,
            body,
            body_len,
        )
    }
    .and_then(|args| Ok((args, required(done, "done")?)));
    let (request, done) = match args {
        Ok(args) => args,
        Err(error) => return error_into_c(error),
    };
    let deliver = move |user: *mut c_void, outcome: Result<HttpResponse>| {
        let (response, error) = split(outcome, |r| Ok(new_handle(ably_http_response::new(r))));
        // SAFETY: the host registered `done` for `user`; both pointers are handed over.
        unsafe { done(user, response, error) };
    };
    // SAFETY: forwarded.
    unsafe {
        start(
            auth,
            user_data,
            Vec::new(),
            out_call,
            deliver,
            move |auth, done| {
                auth.request_async(
                    request.method,
                    request.path,
                    request.query,
                    request.headers,
                    request.body,
                    done,
                )
            },
        )
    }
}

/// Ask for the operation to end now. Returns true when this won the race with its outcome: its
/// `done` then gets `ABLY_ERR_CANCELLED`. False when `done` has run, is running, or will carry
/// the real outcome (or `call` is NULL). Either way `done` runs exactly once; this never waits
/// for it and never runs it on the calling thread. A cancelled operation's network step may go
/// on on its worker until its own timeout, its result dropped.
///
/// Thread safety: any thread, any number of times, also from inside `done`.
///
/// # Safety
/// `call` is NULL or a handle from an `_async` function that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_call_cancel(call: *const ably_call) -> bool {
    // SAFETY: caller contract.
    match unsafe { call.as_ref() } {
        Some(call) => boundary_or(false, || call.inner.get().is_some_and(Call::cancel)),
        None => false,
    }
}

/// Free a call handle. A call still in flight is cancelled first (its `done` still runs,
/// with `ABLY_ERR_CANCELLED`). NULL is a no-op.
///
/// # Safety
/// `call` is NULL or a handle from an `_async` function that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_call_free(call: *mut ably_call) {
    boundary_or((), || {
        // SAFETY: caller contract.
        if let Some(handle) = unsafe { call.as_ref() }
            && let Some(inner) = handle.inner.get()
        {
            inner.cancel();
        }
        // SAFETY: caller contract.
        unsafe { free_handle(call) };
    })
}

/// Shut the Auth down: from now on every networked call and every `_async` function fails with
/// `ABLY_ERR_SHUT_DOWN`; every non-blocking call in flight completes with `ABLY_ERR_CANCELLED`;
/// renewal ahead stops; every wait on an unanswered authCallback ends at once (that call fails
/// with ABLY_ERR_SHUT_DOWN, and the completion's later answer is refused), and so does every
/// wait on a host-transport exchange. Then wait up to `timeout_ms` (-1: no limit) for the
/// completions to be delivered and the library threads to exit. A thread in a blocking step of
/// the built-in HTTP client exits when that step ends (at most one request timeout); one
/// running a callback when that callback returns. Signing and the cached token keep working.
/// Idempotent; from inside a callback it does not wait for that callback. It never waits for
/// a library thread that is itself inside `ably_auth_shutdown`, `ably_auth_free` or
/// `ably_auth_remove_listener` of this Auth (such a thread may be waiting for the caller: a
/// `done` removing the listener that shuts down, or freeing the Auth). The completion thread
/// exits only after the library's other threads: while one of them is the caller's or such a
/// thread, the completion thread counts as done once every queued completion is delivered.
/// `ably_auth_free` does the same (see there).
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or a `timeout_ms` below -1;
/// ABLY_ERR_TIMEOUT when the timeout passed first (everything still ends on its own).
///
/// # Safety
/// `auth` is NULL or a live handle.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_shutdown(
    auth: *const ably_auth,
    timeout_ms: i64,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let timeout = match timeout_ms {
            -1 => None,
            ms => Some(Duration::from_millis(u64::try_from(ms).map_err(|_| {
                ErrorInfo::invalid_value("`timeout_ms` must be -1 (no limit) or non-negative")
            })?)),
        };
        auth.inner.shutdown(timeout)
    })
}

/// The Authorization header value from the cache only: never any network I/O and never a wait,
/// so a game loop may call it every frame. On success `*out_header` receives a secret to free
/// with `ably_string_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL argument; `ABLY_ERR_NO_VALID_TOKEN` when no
/// valid token is cached (none yet, or it is within its expiry margin): then ask with
/// `ably_auth_authorization_header_async`.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_header` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_cached_authorization_header(
    auth: *const ably_auth,
    out_header: *mut *mut c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { header_call(auth, out_header, Auth::cached_authorization_header) }
}
