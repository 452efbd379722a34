//! `ably_token_details`: an immutable TokenDetails.

use std::ffi::c_char;

use super::boundary::{boundary, boundary_or};
use super::error::ably_error_info;
use super::handle::{free_handle, new_handle, out_arg, read_handle, str_arg, write_out};
use super::strings::{CachedCStr, owned_c_string};
use super::token_request::saturating_i64;
use crate::core::token::TokenDetails;

/// An immutable TokenDetails: a token and its metadata. String getters return borrowed
/// pointers valid until the handle is freed (NULL when absent). Thread safety: may be read
/// from many threads at once; free it once with `ably_token_details_free`.
pub struct ably_token_details {
    pub(crate) inner: TokenDetails,
    token: CachedCStr,
    capability: CachedCStr,
    client_id: CachedCStr,
}

impl ably_token_details {
    pub(crate) fn new(inner: TokenDetails) -> Self {
        ably_token_details {
            inner,
            token: CachedCStr::default(),
            capability: CachedCStr::default(),
            client_id: CachedCStr::default(),
        }
    }
}

/// Parse TokenDetails JSON, e.g. the body of a requestToken response. Unknown fields (such as
/// `keyName`) are ignored; expires and issued may be numbers or strings of digits. On success
/// `*out_token_details` receives a handle to free with `ably_token_details_free`. Errors:
/// ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8, invalid JSON or a missing or empty
/// `token`.
///
/// # Safety
/// `json` is NULL or NUL-terminated; `out_token_details` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_from_json(
    json: *const c_char,
    out_token_details: *mut *mut ably_token_details,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let text = unsafe { str_arg(json, "json") }?;
        let out = out_arg(out_token_details, "out_token_details")?;
        let details = TokenDetails::from_json(text)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_token_details::new(details))) };
        Ok(())
    })
}

/// The compact JSON of the TokenDetails; absent fields are left out. On success `*out_json`
/// receives a string to free with `ably_string_free`. Errors: ABLY_ERR_INVALID_ARGUMENT for a
/// NULL argument.
///
/// # Safety
/// `token_details` is NULL or a live handle; `out_json` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_to_json(
    token_details: *const ably_token_details,
    out_json: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let details = unsafe { super::handle::handle_ref(token_details, "token_details") }?;
        let out = out_arg(out_json, "out_json")?;
        let json = owned_c_string(details.inner.to_json())?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, json) };
        Ok(())
    })
}

/// Free a TokenDetails. NULL is a no-op; call it exactly once per handle.
///
/// # Safety
/// `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_free(token_details: *mut ably_token_details) {
    // SAFETY: caller contract.
    boundary_or((), || unsafe { free_handle(token_details) })
}

/// The token string: an Ably token or a JWT. Borrowed; NULL only when `token_details` is NULL
/// or the token contains a NUL byte.
///
/// # Safety
/// `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_token(
    token_details: *const ably_token_details,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(token_details, std::ptr::null(), |d| {
            d.token.get(Some(&d.inner.token))
        })
    }
}

/// Expiry in milliseconds since the epoch; 0 when absent or `token_details` is NULL.
///
/// # Safety
/// `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_expires(
    token_details: *const ably_token_details,
) -> i64 {
    // SAFETY: forwarded.
    unsafe {
        read_handle(token_details, 0, |d| {
            d.inner.expires.map_or(0, saturating_i64)
        })
    }
}

/// Issue time in milliseconds since the epoch; 0 when absent or `token_details` is NULL.
///
/// # Safety
/// `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_issued(
    token_details: *const ably_token_details,
) -> i64 {
    // SAFETY: forwarded.
    unsafe {
        read_handle(token_details, 0, |d| {
            d.inner.issued.map_or(0, saturating_i64)
        })
    }
}

/// The capability JSON; borrowed; NULL when absent.
///
/// # Safety
/// `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_capability(
    token_details: *const ably_token_details,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(token_details, std::ptr::null(), |d| {
            d.capability.get(d.inner.capability.as_deref())
        })
    }
}

/// The clientId; borrowed; NULL when absent.
///
/// # Safety
/// `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_client_id(
    token_details: *const ably_token_details,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(token_details, std::ptr::null(), |d| {
            d.client_id.get(d.inner.client_id.as_deref())
        })
    }
}

/// Whether the token has expired at `now_ms` (milliseconds since the epoch), counting it
/// expired `margin_ms` early. A token without `expires` never expires by this check.
/// Returns true when `token_details` is NULL or an argument is negative (an unusable token).
///
/// # Safety
/// `token_details` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_details_is_expired(
    token_details: *const ably_token_details,
    now_ms: i64,
    margin_ms: i64,
) -> bool {
    let (Ok(now), Ok(margin)) = (u64::try_from(now_ms), u64::try_from(margin_ms)) else {
        return true;
    };
    // SAFETY: forwarded.
    unsafe { read_handle(token_details, true, |d| d.inner.is_expired_at(now, margin)) }
}
