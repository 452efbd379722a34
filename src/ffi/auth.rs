//! `ably_auth`: the Auth object.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use zeroize::{Zeroize, Zeroizing};

use super::boundary::{boundary, boundary_or};
use super::callback::Custody;
use super::error::ably_error_info;
use super::handle::{
    free_handle, handle_ref, new_handle, out_arg, str_arg, take_builder, write_out,
};
use super::options::ably_auth_options;
use super::params::{ably_token_params, ably_token_params_values, refuse_jwt_claims};
use super::strings::{out_buffer, owned_c_string, write_parts};
use super::token_details::ably_token_details;
use super::token_request::{ably_token_request, ably_token_request_values, saturating_i64};
use crate::auth::{Auth, AuthOptions};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::token::{TokenDetails, TokenParams, TokenRequest};

/// Ably token authentication for one key or token.
///
/// Thread safety: thread-safe. One handle may be used from many threads at once; free it
/// once, with `ably_auth_free`, when no call on it is in progress on another thread (a
/// call on the freeing thread itself, from inside one of its callbacks, is allowed, and so
/// is a free from a `done` while the `_async` call that started it has not returned).
pub struct ably_auth {
    pub(crate) inner: Arc<Auth>,
    /// The registrations of the host this Auth holds; released by `ably_auth_free`.
    pub(crate) custody: Custody,
    /// Set by `ably_auth_free`: calls on the handle are refused from then on.
    freeing: AtomicBool,
    /// The calls on the handle in progress (on any thread, `ably_auth_free` included), and
    /// [`FREE_PENDING`] once `ably_auth_free` is done with it: whoever brings the count to
    /// zero with the flag set releases the memory. One atomic, so that no thread touches
    /// the handle after its own decrement.
    users: AtomicUsize,
}

/// The flag of [`ably_auth::users`]: the handle is to be released by its last user.
const FREE_PENDING: usize = 1 << (usize::BITS - 1);

/// A call in progress on an Auth handle: derefs to it; the last call out after
/// `ably_auth_free` releases the handle.
///
/// A pointer, not a reference: the handle may be freed by another thread as soon as this
/// call has given up its use, while the guard is still being dropped.
pub(crate) struct AuthCall<'a> {
    handle: std::ptr::NonNull<ably_auth>,
    _borrow: std::marker::PhantomData<&'a ably_auth>,
}

impl std::ops::Deref for AuthCall<'_> {
    type Target = ably_auth;
    fn deref(&self) -> &ably_auth {
        // SAFETY: this call holds a use of the handle, so it is not released meanwhile.
        unsafe { self.handle.as_ref() }
    }
}

impl Drop for AuthCall<'_> {
    fn drop(&mut self) {
        // SAFETY: as in deref: the use is given up by this very operation.
        let before = unsafe { self.handle.as_ref() }
            .users
            .fetch_sub(1, Ordering::AcqRel);
        // Nothing of the handle is touched after the decrement: another thread may free it.
        if before == FREE_PENDING | 1 {
            // SAFETY: `ably_auth_free` ran and left the release to the last call on the
            // handle, which this was; nobody else holds it.
            unsafe { free_handle(self.handle.as_ptr()) };
        }
    }
}

/// Begin a call on an Auth handle. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL;
/// ABLY_ERR_SHUT_DOWN while it is being freed.
///
/// # Safety
/// `ptr` is NULL or a handle from `ably_auth_new` whose free has not completed.
pub(crate) unsafe fn auth_call<'a>(ptr: *const ably_auth) -> Result<AuthCall<'a>> {
    // SAFETY: caller contract.
    let handle = unsafe { handle_ref(ptr, "auth") }?;
    handle.users.fetch_add(1, Ordering::AcqRel);
    let call = AuthCall {
        handle: std::ptr::NonNull::from(handle),
        _borrow: std::marker::PhantomData,
    };
    if handle.freeing.load(Ordering::Acquire) {
        return Err(ErrorInfo::new(
            codes::SHUT_DOWN,
            0,
            "`auth` is being freed (a call from a destructor run by ably_auth_free)",
        ));
    }
    Ok(call)
}

/// Create an Auth object from `options`, which are consumed (freed), also on error. On success
/// `*out_auth` receives a handle to free with `ably_auth_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT when `options` is not live or `out_auth` is NULL;
/// ABLY_ERR_NO_AUTH_METHOD when the options have no key, token or tokenDetails;
/// ABLY_ERR_INCOMPATIBLE_CREDENTIALS when the tokenDetails' clientId conflicts with the
/// options' clientId; ABLY_ERR_INVALID_ARGUMENT when the default token params set a timestamp
/// or nonce.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; `out_auth` is NULL or
/// points to writable memory for a pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_new(
    options: *mut ably_auth_options,
    out_auth: *mut *mut ably_auth,
) -> *mut ably_error_info {
    boundary(|| {
        // Consumed before anything can fail.
        let options = take_builder(options, "options", false)?.expect("required");
        let out = out_arg(out_auth, "out_auth")?;
        let auth = Auth::new(options.inner)?;
        let custody = Custody::default();
        custody.adopt(options.custody);
        let handle = ably_auth {
            inner: auth,
            custody,
            freeing: AtomicBool::new(false),
            users: AtomicUsize::new(0),
        };
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(handle)) };
        Ok(())
    })
}

/// Free an Auth object. NULL is a no-op.
///
/// What happens: from the moment it is called, every call on the handle fails with
/// `ABLY_ERR_SHUT_DOWN`; it shuts the Auth down as `ably_auth_shutdown` does (non-blocking
/// calls in flight complete with `ABLY_ERR_CANCELLED`, their `done` and `free_user_data` run
/// before it returns; waits on unanswered authCallbacks end), waits for callbacks running on
/// other threads, then runs the `free_user_data` of every registration the Auth holds, on this
/// thread (see "User destructors" at the top of this header); a destructor that calls back into
/// the handle gets ABLY_ERR_SHUT_DOWN (and a second `ably_auth_free` is ignored). When
/// `ably_auth_free` returns, no callback of this Auth runs again and nothing of the host's is
/// touched again, also by a library thread still inside a network step (that thread exits when
/// the step ends). Called from inside a callback of the same Auth (a listener, the
/// authCallback, a `done`), that callback's own `free_user_data` runs as it returns, and the
/// handle's memory is released when the last call on it returns (also the `_async` call whose
/// `done` freed it).
///
/// How long it blocks: the longest of the callbacks of this Auth running on other threads when
/// it is called (it waits for each to return); nothing else (no network wait). It has no bound
/// exactly when such a callback does not return.
///
/// Call it once, when no call on the handle is in progress on another thread (the `_async` call
/// whose `done` calls it excepted).
///
/// # Safety
/// `auth` is NULL or a handle from `ably_auth_new` that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_free(auth: *mut ably_auth) {
    boundary_or((), || {
        // SAFETY: caller contract.
        let Some(handle) = (unsafe { auth.as_ref() }) else {
            return;
        };
        if handle.freeing.swap(true, Ordering::AcqRel) {
            return; // freed again from a destructor of the first free
        }
        handle.users.fetch_add(1, Ordering::AcqRel);
        // Destructors run here, with the handle still allocated; calls into it are refused.
        drop(handle.inner.close());
        handle.custody.release_all();
        // Give up this call's use and mark the handle for release, in one step.
        let before = handle
            .users
            .fetch_add(FREE_PENDING.wrapping_sub(1), Ordering::AcqRel);
        if before == 1 {
            // SAFETY: no call on the handle is in progress (this was the only use) and the
            // flag is set: nobody else releases it.
            unsafe { free_handle(auth) };
        }
    })
}

/// Resolve the arguments shared by the issuing calls: the handle, the consumed params and
/// the checked out-parameter.
///
/// # Safety
/// As for `ably_auth_create_token_request`.
unsafe fn issuing_args<'a, T>(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    out: *mut T,
    out_name: &str,
) -> Result<(AuthCall<'a>, Option<ably_token_params>, *mut T)> {
    // Consumed first, whatever fails next.
    let params = take_builder(params, "params", true)?;
    // SAFETY: caller contract.
    let auth = unsafe { auth_call(auth) }?;
    Ok((auth, params, out_arg(out, out_name)?))
}

/// Create a signed TokenRequest. No network I/O, unless the options set queryTime and the
/// server's time is not known yet (then one `GET /time` first).
///
/// `params` may be NULL: the default token params (and the options' clientId) apply. Non-NULL
/// params replace the defaults as a whole; the options' clientId still applies when they set
/// none, and a clientId they do set wins over it (a server issues tokens for many clients from
/// one handle). `params` is consumed, also on error. Unset ttl and capability are left out, so
/// Ably applies its defaults. On success `*out_request` receives a handle to free with
/// `ably_token_request_free`; `ably_token_request_to_json` gives the JSON to hand to a client.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `out_request` or params that are not
/// live; ABLY_ERR_INVALID_CREDENTIALS (status 403) when the Auth object has no key.
///
/// Thread safety: `auth` may be used from many threads at once.
///
/// # Safety
/// `auth` is NULL or a live handle; `params` is NULL or from `ably_token_params_new`;
/// `out_request` is NULL or points to writable memory for a pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_create_token_request(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    out_request: *mut *mut ably_token_request,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: forwarded.
        let (auth, params, out) =
            unsafe { issuing_args(auth, params, out_request, "out_request") }?;
        let params = params
            .map(ably_token_params::into_token_params)
            .transpose()?;
        let request = create_token_request(&auth.inner, params.as_ref())?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_token_request::new(request))) };
        Ok(())
    })
}

/// `ably_auth_create_token_request` with per-call auth options (RSA9g; ably-js's
/// `createTokenRequest(tokenParams, authOptions)`): a key in `options` signs instead of the
/// Auth's, and their queryTime decides whether the server's time is asked first. `options` may
/// only hold auth options (key, token, authUrl and its method, headers and params,
/// authCallback, queryTime); anything else gives ABLY_ERR_INVALID_ARGUMENT naming it, as for
/// `ably_auth_request_token`. `params` and `options` are NULL or consumed (freed), also on
/// error. NULL `options` is `ably_auth_create_token_request`.
///
/// Errors: those of `ably_auth_create_token_request`; ABLY_ERR_INVALID_ARGUMENT for non-auth
/// options; ABLY_ERR_INVALID_CREDENTIALS (status 403) when neither `options` nor the Auth has a
/// key; with queryTime, those of `ably_auth_time`.
///
/// Thread safety: `auth` may be used from many threads at once. Blocks only for the `GET /time`
/// of queryTime.
///
/// # Safety
/// `auth` is NULL or a live handle; `params` and `options` are NULL or from their `_new`
/// functions; `out_request` is NULL or points to writable memory for a pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_create_token_request_with_options(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    options: *mut ably_auth_options,
    out_request: *mut *mut ably_token_request,
) -> *mut ably_error_info {
    boundary(|| {
        // Both are consumed before anything else can fail.
        let options = take_builder(options, "options", true);
        // SAFETY: forwarded.
        let issuing = unsafe { issuing_args(auth, params, out_request, "out_request") };
        let (options, (auth, params, out)) = (options?, issuing?);
        let params = params
            .map(ably_token_params::into_token_params)
            .transpose()?;
        let request = match options {
            None => create_token_request(&auth.inner, params.as_ref())?,
            Some(options) => {
                let options = options.inner.into_auth_options()?;
                auth.inner
                    .create_token_request(params.as_ref(), Some(&options))?
            }
        };
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_token_request::new(request))) };
        Ok(())
    })
}

/// C params hold a capability canonicalised when it was set (the builder's setter, or
/// `ably_token_params_values::token_params`).
fn create_token_request(auth: &Auth, params: Option<&TokenParams>) -> Result<TokenRequest> {
    match params {
        Some(p) => auth.create_token_request_canonical(p),
        None => auth.create_token_request(None, None),
    }
}

/// `ably_auth_create_token_request` in one call and without handles, for bindings where each
/// call into C has a cost (Go's cgo): the params come as values and the TokenRequest is written
/// into the caller's buffer `buf` of `buf_len` bytes, its strings one after the other as
/// `*out_values` describes. When they do not fit (`out_values->len > buf_len`), nothing is
/// written to `buf` and the call succeeds: call again with a larger buffer (a new TokenRequest
/// is signed). `buf` may be NULL when `buf_len` is 0.
///
/// Errors: those of `ably_auth_create_token_request` and of the `ably_token_params_set_*`
/// setters for the values; ABLY_ERR_INVALID_ARGUMENT for a NULL `out_values`, or a NULL `buf`
/// with a non-zero `buf_len`.
///
/// Thread safety: `auth` may be used from many threads at once. No network I/O.
///
/// # Safety
/// `auth` is NULL or a live handle; the strings of `params` are unset or readable for their
/// lengths; `buf` is NULL or writable for `buf_len` bytes; `out_values` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_create_token_request_into(
    auth: *const ably_auth,
    params: ably_token_params_values,
    buf: *mut c_char,
    buf_len: usize,
    out_values: *mut ably_token_request_values,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let (auth, token_params, out) =
            unsafe { values_args(auth, &params, true, out_values, "out_values") }?;
        // SAFETY: caller contract.
        refuse_jwt_claims(&unsafe { params.jwt_options() }?)?;
        let (buf, buf_len) = out_buffer(buf, buf_len)?;
        let request = create_token_request(&auth.inner, token_params.as_ref())?;
        // SAFETY: checked by out_buffer and out_arg.
        unsafe {
            write_out(
                out,
                ably_token_request_values::write(&request, buf, buf_len),
            );
        }
        Ok(())
    })
}

/// `ably_auth_create_jwt` in one call, as `ably_auth_create_token_request_into` is to
/// `ably_auth_create_token_request`: the params come as values and the JWT is written into
/// `buf` (no NUL terminator); `*out_len` receives its length. When it exceeds `buf_len`,
/// nothing is written and the call succeeds: call again with a larger buffer. The JWT is a
/// credential: wipe the buffer when done with it.
///
/// Errors: those of `ably_auth_create_jwt` and of the `ably_token_params_set_*` setters for the
/// values; ABLY_ERR_INVALID_ARGUMENT for a NULL `out_len`, or a NULL `buf` with a non-zero
/// `buf_len`.
///
/// Thread safety: `auth` may be used from many threads at once. No network I/O.
///
/// # Safety
/// As for `ably_auth_create_token_request_into`; `out_len` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_create_jwt_into(
    auth: *const ably_auth,
    params: ably_token_params_values,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> *mut ably_error_info {
    boundary(|| {
        // create_jwt canonicalises the capability itself, hence `false`.
        // SAFETY: caller contract.
        let (auth, token_params, out) =
            unsafe { values_args(auth, &params, false, out_len, "out_len") }?;
        // SAFETY: caller contract.
        let claims = unsafe { params.jwt_options() }?;
        let (buf, buf_len) = out_buffer(buf, buf_len)?;
        let mut jwt = auth
            .inner
            .create_jwt_with(token_params.as_ref(), None, &claims)?;
        // SAFETY: checked by out_buffer.
        let len = unsafe { write_parts(buf, buf_len, &[&jwt]) };
        jwt.zeroize();
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, len) };
        Ok(())
    })
}

/// The arguments shared by the `_into` issuing calls: the handle, the params from their
/// values and the checked out-parameter.
///
/// # Safety
/// As for `ably_auth_create_token_request_into`.
unsafe fn values_args<'a, T>(
    auth: *const ably_auth,
    params: &ably_token_params_values,
    canonicalise: bool,
    out: *mut T,
    out_name: &str,
) -> Result<(AuthCall<'a>, Option<TokenParams>, *mut T)> {
    // SAFETY: caller contract.
    let auth = unsafe { auth_call(auth) }?;
    let out = out_arg(out, out_name)?;
    // SAFETY: caller contract.
    let params = unsafe { params.token_params(canonicalise) }?;
    Ok((auth, params, out))
}

/// Create an Ably JWT (HS256, `kid` = key name) signed with the key, with no network I/O.
///
/// Claims: `iat` = timestamp (default now) in seconds, `exp` = iat + ttl (default 60 minutes),
/// `x-ably-capability` (default `{"*":["*"]}`, i.e. whatever the key allows), `x-ably-clientId`
/// when a clientId applies, `x-ably-revocation-key` when the params set one
/// (`ably_token_params_set_revocation_key`). `params` follow the rules of
/// `ably_auth_create_token_request` and are consumed, also on error; the nonce is unused. On
/// success `*out_jwt` receives a string to free with `ably_string_free`.
///
/// Errors: as for `ably_auth_create_token_request`, plus ABLY_ERR_INVALID_ARGUMENT for a ttl
/// under 1000 ms.
///
/// Thread safety: `auth` may be used from many threads at once.
///
/// # Safety
/// As for `ably_auth_create_token_request`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_create_jwt(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    out_jwt: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: forwarded.
        let (auth, params, out) = unsafe { issuing_args(auth, params, out_jwt, "out_jwt") }?;
        let jwt = match params {
            Some(p) => auth.inner.create_jwt_with(Some(&p.inner), None, &p.jwt)?,
            None => auth.inner.create_jwt(None, None)?,
        };
        let jwt = owned_c_string(jwt)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, jwt) };
        Ok(())
    })
}

/// `Auth#clientId`: the options' clientId, else the current token's clientId (which may be
/// `"*"`). On success `*out_client_id` receives a string to free with `ably_string_free`, or
/// NULL when there is no clientId.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL argument, or for a clientId holding U+0000
/// (which a C string cannot carry; only a token from a server can have one).
///
/// # Safety
/// `auth` is NULL or a live handle; `out_client_id` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_client_id(
    auth: *const ably_auth,
    out_client_id: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let out = out_arg(out_client_id, "out_client_id")?;
        let client_id = match auth.inner.client_id() {
            Some(id) => owned_c_string(id)?,
            None => ptr::null_mut(),
        };
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, client_id) };
        Ok(())
    })
}

/// `Auth#tokenDetails`: a copy of the token in use. On success `*out_token_details` receives a
/// handle to free with `ably_token_details_free`, or NULL when there is no token (Basic auth,
/// or none obtained yet).
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL argument.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_token_details` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_token_details(
    auth: *const ably_auth,
    out_token_details: *mut *mut ably_token_details,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let out = out_arg(out_token_details, "out_token_details")?;
        let details = auth
            .inner
            .token_details()
            .map_or(ptr::null_mut(), |d| new_handle(ably_token_details::new(d)));
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, details) };
        Ok(())
    })
}

// ----- networked ----------------------------------------------------------------------------

/// How long the token in use has left, in ms, by the library's own clock (local time plus the
/// offset learnt from the server), so the caller needs no clock of its own: negative once it
/// expired; `INT64_MAX` for a token that does not say when it expires. The expiry margin is not
/// subtracted. No network I/O.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL argument; `ABLY_ERR_NO_VALID_TOKEN` when there
/// is no token (Basic auth, or none obtained yet).
///
/// # Safety
/// `auth` is NULL or a live handle; `out_ms` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_token_remaining_ms(
    auth: *const ably_auth,
    out_ms: *mut i64,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let out = out_arg(out_ms, "out_ms")?;
        let remaining = auth
            .inner
            .token_remaining_ms()
            .ok_or_else(|| ErrorInfo::new(codes::NO_VALID_TOKEN, 0, "there is no token in use"))?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, remaining) };
        Ok(())
    })
}

/// The shared body of `request_token` and `authorize`: consume the params and auth options
/// (both are taken before anything can fail, so both are consumed whatever happens), run
/// `call`, and hand out the TokenDetails.
///
/// # Safety
/// As for `ably_auth_request_token`.
unsafe fn token_call(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    options: *mut ably_auth_options,
    out_token_details: *mut *mut ably_token_details,
    call: fn(&Auth, Option<&TokenParams>, Option<&AuthOptions>) -> Result<TokenDetails>,
) -> *mut ably_error_info {
    boundary(|| {
        // Both are consumed before anything else can fail.
        let params = take_builder(params, "params", true);
        let options = take_builder(options, "options", true);
        let (params, options) = (params?, options?);
        let params = params
            .map(ably_token_params::into_token_params)
            .transpose()?;
        let (options, custody) = match options {
            Some(o) => (Some(o.inner.into_auth_options()?), o.custody),
            None => (None, Vec::new()),
        };
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        auth.custody.adopt(custody);
        let out = out_arg(out_token_details, "out_token_details")?;
        let details = call(&auth.inner, params.as_ref(), options.as_ref())?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_token_details::new(details))) };
        Ok(())
    })
}

/// `Auth#requestToken`: get a new token from the authCallback, authUrl or key (in that order of
/// preference), without storing it or changing what the Auth uses.
///
/// `params` (NULL: the stored defaults) and `options` (NULL: the stored auth options) apply to
/// this call only. `options` may only hold auth options: key, token, authUrl and its method,
/// headers and params, authCallback, queryTime (hosts, timeouts and logging are the Auth's;
/// setting one of them gives ABLY_ERR_INVALID_ARGUMENT naming it). Both are consumed (freed),
/// also on error. On success `*out_token_details` receives a handle to free with
/// `ably_token_details_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `out_token_details` or builders that
/// are not live; ABLY_ERR_AUTH_CALLBACK_FAILED when the authCallback or authUrl fails or
/// answers late (cause attached); the server's error for a rejected TokenRequest (e.g.
/// ABLY_ERR_INVALID_CREDENTIALS, ABLY_ERR_TIMESTAMP_NOT_CURRENT);
/// ABLY_ERR_INCOMPATIBLE_CREDENTIALS for a clientId conflict;
/// ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED when there is no means to get a token;
/// ABLY_ERR_TIMEOUT or ABLY_ERR_CONNECTION_FAILED for network failures.
///
/// Thread safety: `auth` may be used from many threads at once. Blocks the calling thread for
/// the network round trip; the authCallback runs on this thread.
///
/// # Safety
/// `auth` is NULL or a live handle; `params` and `options` are NULL or from their `_new`
/// functions; `out_token_details` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_request_token(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    options: *mut ably_auth_options,
    out_token_details: *mut *mut ably_token_details,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        token_call(
            auth,
            params,
            options,
            out_token_details,
            Auth::request_token,
        )
    }
}

/// `Auth#authorize`: get a new token now and use token auth from then on. Non-NULL `params` and
/// `options` become the stored defaults (RSA10g; not the timestamp); of `options` only the auth
/// part is used, as for `ably_auth_request_token`, and a token or TokenDetails in it is used
/// as-is. Both are consumed (freed), also on error. Listeners hear the new token. On success
/// `*out_token_details` receives a handle to free with `ably_token_details_free`.
///
/// Errors: as for `ably_auth_request_token`.
///
/// Thread safety: `auth` may be used from many threads at once; concurrent callers that need a
/// token wait for one fetch. Blocks the calling thread; the authCallback runs on it.
///
/// # Safety
/// As for `ably_auth_request_token`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_authorize(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    options: *mut ably_auth_options,
    out_token_details: *mut *mut ably_token_details,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { token_call(auth, params, options, out_token_details, Auth::authorize) }
}

/// The `Authorization` header value for a request now: `Basic ...` with Basic auth, else
/// `Bearer <base64 of the token>`, getting or renewing a token first when needed. On success
/// `*out_header` receives a secret string to free with `ably_string_free` (which wipes it); do
/// not log it.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL argument; the errors of `ably_auth_authorize`
/// when a token must be fetched; ABLY_ERR_INSECURE_BASIC_AUTH for Basic auth without TLS.
///
/// Thread safety: `auth` may be used from many threads at once. May block for a token fetch.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_header` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_authorization_header(
    auth: *const ably_auth,
    out_header: *mut *mut c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { header_call(auth, out_header, Auth::authorization_header) }
}

/// The body of the two header getters: `header` of the Auth, written to `out_header` as a
/// wiped-on-free C string.
///
/// # Safety
/// As for `ably_auth_authorization_header`.
pub(crate) unsafe fn header_call(
    auth: *const ably_auth,
    out_header: *mut *mut c_char,
    header: impl FnOnce(&Auth) -> Result<Zeroizing<String>>,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let out = out_arg(out_header, "out_header")?;
        let text = owned_c_secret(&header(&auth.inner)?)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, text) };
        Ok(())
    })
}

/// Tell the library that a server rejected a token with a token error (a token error
/// (ABLY_ERR_TOKEN_ERROR_FIRST to _LAST)), for requests made outside `ably_auth_request`: the
/// cached token is dropped if it is still `token` (NULL: whatever token is cached), so the next
/// call gets a new one.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or a non-UTF-8 `token`;
/// ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED when there is no means to renew (key, authUrl or
/// authCallback); the token is dropped all the same.
///
/// Thread safety: `auth` may be used from many threads at once. No network I/O.
///
/// # Safety
/// `auth` is NULL or a live handle; `token` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_token_rejected(
    auth: *const ably_auth,
    token: *const c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let token = if token.is_null() {
            None
        } else {
            // SAFETY: caller contract.
            Some(unsafe { str_arg(token, "token") }?)
        };
        auth.inner.token_rejected(token)
    })
}

/// `time()`: the server time in milliseconds since the epoch, from `GET /time` (no
/// credentials). Also records the server clock offset used to sign TokenRequests. On success
/// `*out_ms` receives the time.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL argument; the server's error; ABLY_ERR_INTERNAL
/// for an unreadable body; ABLY_ERR_TIMEOUT or ABLY_ERR_CONNECTION_FAILED for network failures.
///
/// Thread safety: `auth` may be used from many threads at once. Blocks the calling thread.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_ms` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_time(
    auth: *const ably_auth,
    out_ms: *mut i64,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        let out = out_arg(out_ms, "out_ms")?;
        let time = auth.inner.time()?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, saturating_i64(time)) };
        Ok(())
    })
}

/// An owned C copy of a secret: allocated once at its final size, so that no stray copy is
/// left in reallocated memory; `ably_string_free` wipes it.
pub(crate) fn owned_c_secret(text: &str) -> Result<*mut c_char> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    owned_c_bytes(bytes)
}

fn owned_c_bytes(bytes: Vec<u8>) -> Result<*mut c_char> {
    CString::new(bytes).map(CString::into_raw).map_err(|e| {
        e.into_vec().zeroize();
        ErrorInfo::invalid_value(
            "the value contains a NUL byte and cannot be returned as a C string",
        )
    })
}
