//! `ably_http_response` and `ably_auth_request`: authenticated requests to Ably REST.

use std::ffi::{CString, c_char};
use std::ptr;

use super::auth::{ably_auth, auth_call};
use super::boundary::{boundary, boundary_or};
use super::error::{ably_error_info, error_into_c};
use super::handle::{free_handle, new_handle, out_arg, str_arg, write_out};
use super::options::string_array;
use crate::core::error::{ErrorInfo, Result};
use crate::http::{HttpResponse, Method};

/// The server's answer to `ably_auth_request`, whatever its status (an error status of 400
/// or more included; `ably_http_response_error` gives its ErrorInfo). Immutable; the body
/// and header values are borrowed from it and valid until it is freed with
/// `ably_http_response_free`. Thread safety: may be read from many threads at once.
pub struct ably_http_response {
    status: u16,
    /// The ErrorInfo of an error answer (status >= 400).
    error: Option<ErrorInfo>,
    /// The body followed by one NUL byte (not part of the body).
    body: Vec<u8>,
    /// Headers in the server's order; values with a NUL byte are left out.
    headers: Vec<(String, CString)>,
}

impl ably_http_response {
    pub(crate) fn new(response: HttpResponse) -> Self {
        let error = (response.status >= 400).then(|| response.error_info());
        let HttpResponse {
            status,
            headers,
            mut body,
        } = response;
        body.push(0);
        ably_http_response {
            status,
            error,
            body,
            headers: headers
                .into_iter()
                .filter_map(|(k, v)| CString::new(v).ok().map(|v| (k, v)))
                .collect(),
        }
    }
}

/// A request's `query` (`a=b&c=d`, already encoded) as decoded pairs; the library encodes
/// them again.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An authenticated request to Ably REST: the current credentials, the Ably headers
/// (`X-Ably-Version`, `Ably-Agent`), host fallback, and on a token error (401 with a token
/// error (ABLY_ERR_TOKEN_ERROR_FIRST to _LAST)) one token renewal and one retry.
///
/// - `method`: `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (any case).
/// - `path`: starts with `/`, already percent-encoded, e.g. `/channels/x/messages`.
/// - `query`: NULL, or `a=b&c=d` already encoded (`+` reads as a space, as in forms).
/// - `header_names`/`header_values`: `header_count` extra headers (both NULL when 0).
/// - `body`: NULL for none, else `body_len` bytes (copied).
///
/// Whenever the server answers, whatever the status, the call succeeds (returns NULL) and
/// `*out_response` receives the answer, owned by the caller, to free with
/// `ably_http_response_free`. An answer with a status of 400 or more is an error from the
/// server: check `ably_http_response_status`, and `ably_http_response_error` gives its
/// ErrorInfo, while its headers (e.g. `Retry-After` on a 429) and body stay readable. A token
/// error (401 with a token error (ABLY_ERR_TOKEN_ERROR_FIRST to _LAST)) is handled first: the
/// token is renewed once and the request retried, and the retry's answer is the one returned.
///
/// Errors (returned, with nothing written to `*out_response`): ABLY_ERR_INVALID_ARGUMENT for a
/// NULL `auth`, `method`, `path` or `out_response`, invalid UTF-8, an unknown method, a path
/// without a leading `/`, NULL arrays with a non-zero count, a NULL `body` with a non-zero
/// `body_len`, or a header with a line break; the token errors of `ably_auth_authorize`
/// (ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED when a rejected token cannot be renewed, with the
/// server's error as `cause`); ABLY_ERR_TIMEOUT or ABLY_ERR_CONNECTION_FAILED when no answer
/// arrives.
///
/// Thread safety: `auth` may be used from many threads at once. Blocks the calling thread.
///
/// # Safety
/// `auth` is NULL or a live handle; strings are NULL or NUL-terminated; the arrays are NULL or
/// hold `header_count` pointers; `body` is NULL or points to `body_len` readable bytes;
/// `out_response` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ably_auth_request(
    auth: *const ably_auth,
    method: *const c_char,
    path: *const c_char,
    query: *const c_char,
    header_names: *const *const c_char,
    header_values: *const *const c_char,
    header_count: usize,
    body: *const u8,
    body_len: usize,
    out_response: *mut *mut ably_http_response,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        // SAFETY: caller contract.
        let request = unsafe {
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
        }?;
        let out = out_arg(out_response, "out_response")?;
        let response = auth.inner.request(
            request.method,
            &request.path,
            &request.query,
            &request.headers,
            request.body.as_deref(),
        )?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_http_response::new(response))) };
        Ok(())
    })
}

/// The arguments of `ably_auth_request`, checked and copied.
pub(crate) struct RequestArgs {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

/// Check and copy the arguments of `ably_auth_request` (and its non-blocking form). Every
/// argument is copied before anything else runs: the callbacks a request may run
/// (authCallback, listeners) may free the caller's buffers.
///
/// # Safety
/// As for `ably_auth_request`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn request_args(
    method: *const c_char,
    path: *const c_char,
    query: *const c_char,
    header_names: *const *const c_char,
    header_values: *const *const c_char,
    header_count: usize,
    body: *const u8,
    body_len: usize,
) -> Result<RequestArgs> {
    // SAFETY: caller contract.
    let method_text = unsafe { str_arg(method, "method") }?;
    let method = Method::parse(method_text).ok_or_else(|| {
        ErrorInfo::invalid_value("`method` must be GET, POST, PUT, PATCH or DELETE")
    })?;
    // SAFETY: caller contract.
    let path = unsafe { str_arg(path, "path") }?.to_owned();
    let query = if query.is_null() {
        Vec::new()
    } else {
        // SAFETY: caller contract.
        query_pairs(unsafe { str_arg(query, "query") }?)
    };
    // SAFETY: caller contract.
    let names = unsafe { string_array(header_names, header_count, "header_names") }?;
    // SAFETY: caller contract.
    let values = unsafe { string_array(header_values, header_count, "header_values") }?;
    if let Some(bad) = names
        .iter()
        .chain(&values)
        .find(|t| t.contains(['\r', '\n']))
    {
        let which = if names.contains(bad) {
            "header_names"
        } else {
            "header_values"
        };
        return Err(ErrorInfo::invalid_value(format!(
            "`{which}` must not contain a line break"
        )));
    }
    let headers: Vec<(String, String)> = names.into_iter().zip(values).collect();
    // SAFETY: caller contract.
    let body = unsafe { body_arg(body, body_len) }?.map(<[u8]>::to_vec);
    Ok(RequestArgs {
        method,
        path,
        query,
        headers,
        body,
    })
}

/// The request body: NULL for none.
///
/// # Safety
/// `body` is NULL or points to `body_len` readable bytes that outlive the call.
unsafe fn body_arg<'a>(body: *const u8, body_len: usize) -> Result<Option<&'a [u8]>> {
    if body.is_null() {
        if body_len != 0 {
            return Err(ErrorInfo::invalid_value(format!(
                "`body` is NULL but `body_len` is {body_len}"
            )));
        }
        return Ok(None);
    }
    // SAFETY: caller contract.
    Ok(Some(unsafe { std::slice::from_raw_parts(body, body_len) }))
}

/// The HTTP status code; 0 when `response` is NULL.
///
/// # Safety
/// `response` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_response_status(response: *const ably_http_response) -> i32 {
    // SAFETY: caller contract.
    match unsafe { response.as_ref() } {
        Some(r) => i32::from(r.status),
        None => 0,
    }
}

/// The body, borrowed until `response` is freed; `*out_len` receives its length in bytes.
/// A NUL byte follows the body (not counted), so a text body can be read as a C string.
/// Returns NULL (and sets `*out_len` to 0 when `out_len` is not NULL) when an argument is
/// NULL.
///
/// # Safety
/// `response` is NULL or a live handle; `out_len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_response_body(
    response: *const ably_http_response,
    out_len: *mut usize,
) -> *const u8 {
    // SAFETY: caller contract.
    let response = unsafe { response.as_ref() };
    let (ptr, len) = match (response, out_len.is_null()) {
        (Some(r), false) => (r.body.as_ptr(), r.body.len() - 1),
        _ => (ptr::null(), 0),
    };
    if !out_len.is_null() {
        // SAFETY: caller contract.
        unsafe { write_out(out_len, len) };
    }
    ptr
}

/// The value of the first header named `name` (case-insensitive), borrowed until
/// `response` is freed; NULL when absent or an argument is NULL or not UTF-8.
///
/// # Safety
/// `response` is NULL or a live handle; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_response_header(
    response: *const ably_http_response,
    name: *const c_char,
) -> *const c_char {
    // SAFETY: caller contract.
    let Some(response) = (unsafe { response.as_ref() }) else {
        return ptr::null();
    };
    // SAFETY: caller contract.
    let Ok(name) = (unsafe { str_arg(name, "name") }) else {
        return ptr::null();
    };
    boundary_or(ptr::null(), || {
        response
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or(ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// The ErrorInfo of an error answer (status 400 or more): Ably's error from the body or
/// the `X-Ably-Errorcode`/`X-Ably-Errormessage` headers, else one made from the status.
/// Returns a new ErrorInfo owned by the caller (free it with `ably_error_info_free`; it
/// stays valid after `response` is freed), or NULL when the status is below 400 or
/// `response` is NULL.
///
/// Thread safety: may be called from many threads at once.
///
/// # Safety
/// `response` is NULL or a live handle.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn ably_http_response_error(
    response: *const ably_http_response,
) -> *mut ably_error_info {
    // SAFETY: caller contract.
    let Some(response) = (unsafe { response.as_ref() }) else {
        return ptr::null_mut();
    };
    boundary_or(ptr::null_mut(), || {
        response.error.clone().map_or(ptr::null_mut(), error_into_c)
    })
}

/// Free a response. NULL is a no-op; call it exactly once per response.
///
/// # Safety
/// `response` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_response_free(response: *mut ably_http_response) {
    // SAFETY: caller contract.
    boundary_or((), || unsafe { free_handle(response) })
}
