//! `ably_auth`: the Auth object.

use std::ffi::c_char;
use std::ptr;

use super::boundary::{boundary, boundary_or};
use super::error::ably_error_info;
use super::handle::{free_handle, handle_ref, new_handle, out_arg, take_builder, write_out};
use super::options::ably_auth_options;
use super::params::ably_token_params;
use super::strings::owned_c_string;
use super::token_details::ably_token_details;
use super::token_request::ably_token_request;
use crate::auth::Auth;
use crate::core::error::Result;
use crate::core::token::TokenParams;

/// Ably token authentication for one key or token.
///
/// Thread safety: thread-safe. One handle may be used from many threads at once; free it
/// once, with `ably_auth_free`, after every other call on it has returned.
pub struct ably_auth {
    inner: Auth,
}

/// Create an Auth object from `options`, which are consumed (freed), also on error.
/// On success `*out_auth` receives a handle to free with `ably_auth_free`.
///
/// Errors: 40003 when `options` is not live or `out_auth` is NULL; 40106 when the options
/// have no key, token or tokenDetails (RSC1b); 40102 when the tokenDetails' clientId
/// conflicts with the options' clientId (RSA15a); 40003 when the default token params set a
/// timestamp or nonce.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; `out_auth` is NULL
/// or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_new(
    options: *mut ably_auth_options,
    out_auth: *mut *mut ably_auth,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: checked against the live-builder set; consumed before anything can fail.
        let options = unsafe { take_builder(options, "options", false) }?.expect("required");
        let out = out_arg(out_auth, "out_auth")?;
        let auth = Auth::new(options.inner)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_auth { inner: auth })) };
        Ok(())
    })
}

/// Free an Auth object. NULL is a no-op. Call it exactly once, when no other thread is
/// using the handle.
///
/// # Safety
/// `auth` is NULL or a handle from `ably_auth_new` that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_free(auth: *mut ably_auth) {
    // SAFETY: caller contract.
    boundary_or((), || unsafe { free_handle(auth) })
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
) -> Result<(&'a Auth, Option<TokenParams>, *mut T)> {
    // SAFETY: checked against the live-builder set; consumed first, whatever fails next.
    let params = unsafe { take_builder(params, "params", true) }?.map(|p| p.inner);
    // SAFETY: caller contract.
    let auth = unsafe { handle_ref(auth, "auth") }?;
    Ok((&auth.inner, params, out_arg(out, out_name)?))
}

/// Create a signed TokenRequest (RSA9), with no network I/O.
///
/// `params` may be NULL: the default token params (and the options' clientId) apply.
/// Non-NULL params replace the defaults as a whole (RSA9h); the options' clientId still
/// applies when they set none, and a clientId they do set wins over it (a server issues
/// tokens for many clients from one handle). `params` is consumed, also on error. Unset ttl and
/// capability are left out, so Ably applies its defaults (RSA5, RSA6).
/// On success `*out_request` receives a handle to free with `ably_token_request_free`;
/// `ably_token_request_to_json` gives the JSON to hand to a client.
///
/// Errors: 40003 for a NULL `auth` or `out_request` or params that are not live; 40101
/// (status 403) when the Auth object has no key.
///
/// Thread safety: `auth` may be used from many threads at once.
///
/// # Safety
/// `auth` is NULL or a live handle; `params` is NULL or from `ably_token_params_new`;
/// `out_request` is NULL or points to writable memory for a pointer.
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
        // C params hold a capability canonicalised by ably_token_params_set_capability.
        let request = match &params {
            Some(p) => auth.create_token_request_canonical(p)?,
            None => auth.create_token_request(None, None)?,
        };
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_token_request::new(request))) };
        Ok(())
    })
}

/// Create an Ably JWT (HS256, `kid` = key name) signed with the key, with no network I/O.
///
/// Claims: `iat` = timestamp (default now) in seconds, `exp` = iat + ttl (default 60
/// minutes), `x-ably-capability` (default `{"*":["*"]}`, i.e. whatever the key allows),
/// `x-ably-clientId` when a clientId applies. `params` follow the rules of
/// `ably_auth_create_token_request` and are consumed, also on error; the nonce is unused.
/// On success `*out_jwt` receives a string to free with `ably_string_free`.
///
/// Errors: as for `ably_auth_create_token_request`, plus 40003 for a ttl under 1000 ms.
///
/// Thread safety: `auth` may be used from many threads at once.
///
/// # Safety
/// As for `ably_auth_create_token_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_create_jwt(
    auth: *const ably_auth,
    params: *mut ably_token_params,
    out_jwt: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: forwarded.
        let (auth, params, out) = unsafe { issuing_args(auth, params, out_jwt, "out_jwt") }?;
        let jwt = owned_c_string(auth.create_jwt(params.as_ref(), None)?)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, jwt) };
        Ok(())
    })
}

/// `Auth#clientId` (RSA7b, RSA12): the options' clientId, else the current token's
/// clientId (which may be `"*"`). On success `*out_client_id` receives a string to free
/// with `ably_string_free`, or NULL when there is no clientId.
///
/// Errors: 40003 for a NULL argument.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_client_id` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_client_id(
    auth: *const ably_auth,
    out_client_id: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { handle_ref(auth, "auth") }?;
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

/// `Auth#tokenDetails` (RSA16): a copy of the token in use. On success
/// `*out_token_details` receives a handle to free with `ably_token_details_free`, or NULL
/// when there is no token (Basic auth, or none obtained yet).
///
/// Errors: 40003 for a NULL argument.
///
/// # Safety
/// `auth` is NULL or a live handle; `out_token_details` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_token_details(
    auth: *const ably_auth,
    out_token_details: *mut *mut ably_token_details,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { handle_ref(auth, "auth") }?;
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
