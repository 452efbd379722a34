//! `ably_auth_options`: the builder an `ably_auth` is made from.

use std::ffi::c_char;

use super::boundary::{boundary, boundary_or};
use super::error::ably_error_info;
use super::handle::{
    builder_mut, edit_builder, free_builder, handle_ref, new_builder, str_arg, take_builder,
};
use super::params::ably_token_params;
use super::token_details::ably_token_details;
use crate::auth::ClientOptions;
use crate::core::client_id;
use crate::core::error::{ErrorInfo, Result};
use crate::core::key::ApiKey;

/// Options for `ably_auth_new`: key, token, clientId, default token params.
/// Thread safety: a single-thread object. It is consumed (freed) by `ably_auth_new`, also
/// when that fails; free an unused one with `ably_auth_options_free`. Using it after it
/// was consumed gives error 40003 (best effort: not once a new builder reuses its address). A setter that fails leaves the options unchanged.
pub struct ably_auth_options {
    pub(crate) inner: ClientOptions,
}

/// Create empty options. Never returns NULL.
#[unsafe(no_mangle)]
pub extern "C" fn ably_auth_options_new() -> *mut ably_auth_options {
    new_builder(ably_auth_options {
        inner: ClientOptions::default(),
    })
}

/// Free options that were not passed to `ably_auth_new`. NULL, and options that were
/// already consumed or freed, are ignored.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_free(options: *mut ably_auth_options) {
    // SAFETY: checked against the live-builder set.
    boundary_or((), || unsafe { free_builder(options) })
}

/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
unsafe fn edit(
    options: *mut ably_auth_options,
    f: impl FnOnce(&mut ClientOptions) -> Result<()>,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit_builder(options, "options", |b: &mut ably_auth_options| {
            f(&mut b.inner)
        })
    }
}

/// Set the API key `appId.keyId:keySecret` (TO3j1). It is parsed now; the library keeps
/// its own copy (zeroized when freed), so the caller may wipe `key` afterwards.
/// Errors: 40003 for NULL or invalid UTF-8; 40101 for a malformed key (the message never
/// quotes the key).
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; `key` is NULL or
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_key(
    options: *mut ably_auth_options,
    key: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.auth.key = Some(ApiKey::parse(str_arg(key, "key")?)?);
            Ok(())
        })
    }
}

/// Set the client identity (TO3a, RSA7). Errors: 40003 for NULL or invalid UTF-8; 40012 when
/// it is empty, `"*"` (reserved, RSA7c) or contains a line feed.
///
/// # Safety
/// As for `ably_auth_options_set_key`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_client_id(
    options: *mut ably_auth_options,
    client_id: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let text = str_arg(client_id, "client_id")?;
            client_id::validate_options_client_id(text)?;
            o.client_id = Some(text.to_owned());
            Ok(())
        })
    }
}

/// Set a token string (an Ably token or a JWT) to authenticate with (TO3j2). Replaces a
/// TokenDetails set earlier. Errors: 40003 for NULL, invalid UTF-8 or an empty token.
///
/// # Safety
/// As for `ably_auth_options_set_key`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_token(
    options: *mut ably_auth_options,
    token: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let text = str_arg(token, "token")?;
            if text.is_empty() {
                return Err(ErrorInfo::invalid_value("`token` must not be empty"));
            }
            o.auth.token = Some(text.to_owned());
            o.auth.token_details = None;
            Ok(())
        })
    }
}

/// Set a TokenDetails to authenticate with (TO3j3). `token_details` is copied, not consumed:
/// the caller still frees it. Replaces a token string set earlier.
/// Errors: 40003 for NULL.
///
/// # Safety
/// `options` as for `ably_auth_options_set_key`; `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_token_details(
    options: *mut ably_auth_options,
    token_details: *const ably_token_details,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let details = handle_ref(token_details, "token_details")?;
            o.auth.token_details = Some(details.inner.clone());
            o.auth.token = None;
            Ok(())
        })
    }
}

/// Force token auth (TO3j4) even when only a key is given (`true`), or leave the choice to
/// the rules of RSA4 (`false`, the default).
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_use_token_auth(
    options: *mut ably_auth_options,
    use_token_auth: bool,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.auth.use_token_auth = Some(use_token_auth);
            Ok(())
        })
    }
}

/// Set the default token params (TO3j11), used whenever a call passes no params.
/// `params` is consumed, also on error. They must not set a timestamp or nonce (those are
/// per request); this is checked by `ably_auth_new` (40003).
/// Errors: 40003 when `options` or `params` is not live.
///
/// # Safety
/// `options` and `params` are NULL or pointers returned by their `_new` functions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_default_token_params(
    options: *mut ably_auth_options,
    params: *mut ably_token_params,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: checked against the live-builder set. Params are taken first so they are
        // consumed even when `options` is bad.
        let params = unsafe { take_builder(params, "params", false) }?;
        // SAFETY: as above.
        let options = unsafe { builder_mut(options, "options") }?;
        options.inner.default_token_params = params.map(|p| p.inner);
        Ok(())
    })
}
