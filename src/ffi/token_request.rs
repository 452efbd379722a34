//! `ably_token_request`: an immutable TokenRequest.

use std::ffi::c_char;

use super::boundary::{boundary, boundary_or};
use super::error::ably_error_info;
use super::handle::{
    free_handle, handle_ref, new_handle, out_arg, read_handle, str_arg, write_out,
};
use super::strings::{CachedCStr, owned_c_string, write_parts};
use crate::core::token::TokenRequest;

/// An immutable TokenRequest. Its string getters return borrowed pointers valid until the
/// handle is freed (NULL when the field is absent). Thread safety: may be read from many
/// threads at once; free it once with `ably_token_request_free`.
pub struct ably_token_request {
    inner: TokenRequest,
    key_name: CachedCStr,
    capability: CachedCStr,
    client_id: CachedCStr,
    nonce: CachedCStr,
    mac: CachedCStr,
}

impl ably_token_request {
    pub(crate) fn new(inner: TokenRequest) -> Self {
        ably_token_request {
            inner,
            key_name: CachedCStr::default(),
            capability: CachedCStr::default(),
            client_id: CachedCStr::default(),
            nonce: CachedCStr::default(),
            mac: CachedCStr::default(),
        }
    }
}

/// Parse TokenRequest JSON, e.g. one returned by a token endpoint. Unknown fields are ignored;
/// ttl and timestamp may be numbers or strings of digits. On success `*out_request` receives a
/// handle to free with `ably_token_request_free`. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL,
/// invalid UTF-8 or invalid JSON (keyName, timestamp and nonce are required).
///
/// # Safety
/// `json` is NULL or NUL-terminated; `out_request` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_from_json(
    json: *const c_char,
    out_request: *mut *mut ably_token_request,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let text = unsafe { str_arg(json, "json") }?;
        let out = out_arg(out_request, "out_request")?;
        let request = TokenRequest::from_json(text)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_token_request::new(request))) };
        Ok(())
    })
}

/// The compact JSON of the TokenRequest, as POSTed to `/keys/{keyName}/requestToken`: ttl and
/// timestamp are numbers, capability a JSON string, absent fields left out. On success
/// `*out_json` receives a string to free with `ably_string_free`. Errors:
/// ABLY_ERR_INVALID_ARGUMENT for a NULL argument.
///
/// # Safety
/// `request` is NULL or a live handle; `out_json` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_to_json(
    request: *const ably_token_request,
    out_json: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let request = unsafe { handle_ref(request, "request") }?;
        let out = out_arg(out_json, "out_json")?;
        let json = owned_c_string(request.inner.to_json())?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, json) };
        Ok(())
    })
}

/// Free a TokenRequest. NULL is a no-op; call it exactly once per handle.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_free(request: *mut ably_token_request) {
    // SAFETY: caller contract.
    boundary_or((), || unsafe { free_handle(request) })
}

/// The key name `appId.keyId`. Borrowed; NULL only when `request` is NULL.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_key_name(
    request: *const ably_token_request,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(request, std::ptr::null(), |r| {
            r.key_name.get(Some(&r.inner.key_name))
        })
    }
}

/// The ttl in milliseconds, or 0 when absent (Ably's default applies) or `request` is NULL.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_ttl(request: *const ably_token_request) -> i64 {
    // SAFETY: forwarded.
    unsafe { read_handle(request, 0, |r| r.inner.ttl.map_or(0, saturating_i64)) }
}

/// The canonical capability JSON; borrowed; NULL when absent.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_capability(
    request: *const ably_token_request,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(request, std::ptr::null(), |r| {
            r.capability.get(r.inner.capability.as_deref())
        })
    }
}

/// The clientId; borrowed; NULL when absent.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_client_id(
    request: *const ably_token_request,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(request, std::ptr::null(), |r| {
            r.client_id.get(r.inner.client_id.as_deref())
        })
    }
}

/// The timestamp in milliseconds since the epoch; 0 when `request` is NULL.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_timestamp(request: *const ably_token_request) -> i64 {
    // SAFETY: forwarded.
    unsafe { read_handle(request, 0, |r| saturating_i64(r.inner.timestamp)) }
}

/// The nonce; borrowed; NULL only when `request` is NULL.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_nonce(
    request: *const ably_token_request,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(request, std::ptr::null(), |r| {
            r.nonce.get(Some(&r.inner.nonce))
        })
    }
}

/// The Base64 HMAC-SHA256 mac; borrowed; NULL for an unsigned request.
///
/// # Safety
/// `request` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_request_mac(
    request: *const ably_token_request,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe {
        read_handle(request, std::ptr::null(), |r| {
            r.mac.get(r.inner.mac.as_deref())
        })
    }
}

/// A TokenRequest written into a caller's buffer by `ably_auth_create_token_request_into`:
/// its numbers, and the lengths of its strings, which are written one after the other into
/// the buffer in this order: key name, capability, clientId, nonce, mac (no separators, no
/// NUL terminators; an absent string has length 0).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ably_token_request_values {
    /// The ttl in milliseconds; 0 when absent.
    pub ttl_ms: i64,
    /// The timestamp in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The length of the key name `appId.keyId`.
    pub key_name_len: usize,
    /// The length of the canonical capability JSON; 0 when absent.
    pub capability_len: usize,
    /// The length of the clientId; 0 when absent.
    pub client_id_len: usize,
    /// The length of the nonce.
    pub nonce_len: usize,
    /// The length of the Base64 mac.
    pub mac_len: usize,
    /// The bytes the strings take together. When it exceeds the buffer's size nothing was
    /// written to the buffer: call again with a buffer at least this large (a new
    /// TokenRequest is then signed, with a new nonce).
    pub len: usize,
}

impl ably_token_request_values {
    /// Write `request`'s strings into the buffer (when they fit) and describe them.
    ///
    /// # Safety
    /// As for [`write_parts`].
    pub(crate) unsafe fn write(request: &TokenRequest, buf: *mut c_char, buf_len: usize) -> Self {
        let (capability, client_id, mac) = (
            request.capability.as_deref().unwrap_or_default(),
            request.client_id.as_deref().unwrap_or_default(),
            request.mac.as_deref().unwrap_or_default(),
        );
        let parts = [
            request.key_name.as_str(),
            capability,
            client_id,
            request.nonce.as_str(),
            mac,
        ];
        ably_token_request_values {
            ttl_ms: request.ttl.map_or(0, saturating_i64),
            timestamp_ms: saturating_i64(request.timestamp),
            key_name_len: request.key_name.len(),
            capability_len: capability.len(),
            client_id_len: client_id.len(),
            nonce_len: request.nonce.len(),
            mac_len: mac.len(),
            // SAFETY: forwarded.
            len: unsafe { write_parts(buf, buf_len, &parts) },
        }
    }
}

pub(crate) fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
