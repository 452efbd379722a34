//! `ably_auth_options`: the builder an `ably_auth` is made from.

use std::ffi::{c_char, c_void};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::boundary::{boundary, boundary_or};
use super::callback::{
    CAuthCallback, UserData, ably_auth_callback_fn, ably_free_fn, ably_log_fn, c_logger, required,
};
use super::error::ably_error_info;
use super::handle::{
    edit_builder, free_builder, handle_ref, new_builder, non_negative, str_arg, take_builder,
    with_builder,
};
use super::params::ably_token_params;
use super::token_details::ably_token_details;
use crate::auth::ClientOptions;
use crate::core::client_id;
use crate::core::error::{ErrorInfo, Result};
use crate::core::key::ApiKey;
use crate::http::Method;

/// Options for `ably_auth_new`: credentials (key, token, authUrl, authCallback), clientId,
/// default token params, hosts, transport and logging. Thread safety: a single-thread object.
/// It is consumed (freed) by `ably_auth_new`, also when that fails; free an unused one with
/// `ably_auth_options_free` (which also runs the `free_user_data` of callbacks set on it).
/// Using it after it was consumed gives error ABLY_ERR_INVALID_ARGUMENT. A setter that fails
/// leaves the options unchanged. A setter that replaces a callback runs the earlier
/// `free_user_data` after the options are updated, so that destructor may use (or free) the
/// options.
pub struct ably_auth_options {
    pub(crate) inner: ClientOptions,
    /// The registrations set on these options, for the custody of the Auth (or the call)
    /// that takes them.
    pub(crate) custody: Vec<std::sync::Weak<super::callback::UserCell>>,
}

/// Create empty options. NULL only when about a million builders (options, params and
/// completions; 65536 on 32-bit platforms) are alive at once; every call refuses NULL with
/// ABLY_ERR_INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub extern "C" fn ably_auth_options_new() -> *mut ably_auth_options {
    new_builder(ably_auth_options {
        inner: ClientOptions::default(),
        custody: Vec::new(),
    })
}

/// Free options that were not passed to `ably_auth_new`. NULL, and options that were
/// already consumed or freed, are ignored.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_free(options: *mut ably_auth_options) {
    boundary_or((), || free_builder(options))
}

/// Apply `f` to live options; shared by the setters. Whatever `f` returns (a replaced
/// callback) is dropped once the options are back in their slot.
///
/// # Safety
/// Safe to call with any pointer; `unsafe` so that setters' closures may read their C
/// arguments (whose contracts their own callers uphold).
unsafe fn edit<R>(
    options: *mut ably_auth_options,
    f: impl FnOnce(&mut ClientOptions) -> Result<R>,
) -> *mut ably_error_info {
    edit_builder(options, "options", |b: &mut ably_auth_options| {
        f(&mut b.inner)
    })
}

/// Set the API key `appId.keyId:keySecret`. It is parsed now; the library keeps its own copy
/// (zeroized when freed), so the caller may wipe `key` afterwards. Errors:
/// ABLY_ERR_INVALID_ARGUMENT for NULL or invalid UTF-8; ABLY_ERR_INVALID_CREDENTIALS for a
/// malformed key (the message never quotes the key).
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; `key` is NULL or
/// NUL-terminated.
#[must_use]
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

/// Set the client identity. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL or invalid UTF-8;
/// ABLY_ERR_INVALID_CLIENT_ID when it is empty, `"*"` (reserved, RSA7c) or contains a line
/// feed.
///
/// # Safety
/// As for `ably_auth_options_set_key`.
#[must_use]
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

/// Set a token string (an Ably token or a JWT) to authenticate with. Replaces a TokenDetails
/// set earlier. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8 or an empty token.
///
/// # Safety
/// As for `ably_auth_options_set_key`.
#[must_use]
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

/// Set a TokenDetails to authenticate with. `token_details` is copied, not consumed: the caller
/// still frees it. Replaces a token string set earlier. Errors: ABLY_ERR_INVALID_ARGUMENT for
/// NULL.
///
/// # Safety
/// `options` as for `ably_auth_options_set_key`; `token_details` is NULL or a live handle.
#[must_use]
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

/// Force token auth even when only a key is given (`true`), or leave the choice to the rules of
/// RSA4 (`false`, the default).
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
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

/// Set the default token params, used whenever a call passes no params. `params` is consumed,
/// also on error. They must not set a timestamp or nonce (those are per request); this is
/// checked by `ably_auth_new` (ABLY_ERR_INVALID_ARGUMENT). Errors: ABLY_ERR_INVALID_ARGUMENT
/// when `options` or `params` is not live, or the params set a revocation key (a JWT claim:
/// pass it to `ably_auth_create_jwt` instead).
///
/// # Safety
/// `options` and `params` are NULL or pointers returned by their `_new` functions.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_default_token_params(
    options: *mut ably_auth_options,
    params: *mut ably_token_params,
) -> *mut ably_error_info {
    boundary(|| {
        // Params are taken first so they are consumed even when `options` is bad.
        let params = take_builder(params, "params", false)?
            .map(ably_token_params::into_token_params)
            .transpose()?;
        with_builder(options, "options", |o: &mut ably_auth_options| {
            Ok(std::mem::replace(&mut o.inner.default_token_params, params))
        })
        .map(drop)
    })
}

// ----- authUrl, authCallback and the rest of AuthOptions (AO2) -----------------------------

/// A header name or value that cannot break a request line.
///
/// # Safety
/// As for [`str_arg`].
unsafe fn http_text<'a>(ptr: *const c_char, name: &str, allow_empty: bool) -> Result<&'a str> {
    // SAFETY: forwarded.
    let text = unsafe { str_arg(ptr, name) }?;
    if !allow_empty && text.is_empty() {
        return Err(ErrorInfo::invalid_value(format!(
            "`{name}` must not be empty"
        )));
    }
    if text.contains(['\r', '\n']) {
        return Err(ErrorInfo::invalid_value(format!(
            "`{name}` must not contain a line break"
        )));
    }
    Ok(text)
}

/// A port number 1..=65535.
fn port_arg(port: i32, name: &str) -> Result<u16> {
    u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ErrorInfo::invalid_value(format!("`{name}` must be 1..=65535")))
}

/// A positive number of milliseconds.
fn positive_ms(ms: i64, name: &str) -> Result<Duration> {
    u64::try_from(ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| ErrorInfo::invalid_value(format!("`{name}` must be positive")))
}

/// Set the authUrl: a URL that answers with a token, TokenDetails or TokenRequest. It is
/// checked by `ably_auth_new` with the library's one URL parser (ABLY_ERR_INVALID_ARGUMENT
/// saying what is wrong): an absolute http:// or https:// URL, an ASCII host (an
/// internationalised name in its xn-- form) or IP literal, a port 1 to 65535 (`:0`, `:65536`,
/// `:99999` are refused). Up to 5 redirects are followed as browsers follow them, relative
/// Locations resolved as browsers resolve them; a Location of another scheme (`data:`,
/// `javascript:`, `file:` ...), with a port out of range, or from https to http fails the fetch
/// with ABLY_ERR_AUTH_CALLBACK_FAILED, and nothing is sent to it. One request timeout covers
/// the whole chain. authHeaders go only to the authUrl's own origin; a 307 or 308 keeps the
/// method and the body, authParams included, also to another origin, as in browsers. The URL's
/// `user:password@` and query never appear in log lines or errors. Setting it makes the Auth
/// use token auth. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL or invalid UTF-8.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; `url` is NULL or
/// NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_auth_url(
    options: *mut ably_auth_options,
    url: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.auth.auth_url = Some(http_text(url, "url", false)?.to_owned());
            Ok(())
        })
    }
}

/// Set the authUrl method: `"GET"` (the default) or `"POST"`, any case. Errors:
/// ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8 or another method.
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `method` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_auth_method(
    options: *mut ably_auth_options,
    method: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let text = str_arg(method, "method")?;
            let parsed = Method::parse(text)
                .filter(|m| matches!(m, Method::Get | Method::Post))
                .ok_or_else(|| ErrorInfo::invalid_value("`method` must be GET or POST"))?;
            o.auth.auth_method = Some(parsed);
            Ok(())
        })
    }
}

/// Add a header sent to the authUrl; call it once per header. Both strings are copied. Errors:
/// ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8, an empty name or a line break.
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `name` and `value` are NULL or
/// NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_add_auth_header(
    options: *mut ably_auth_options,
    name: *const c_char,
    value: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let name = http_text(name, "name", false)?;
            let value = http_text(value, "value", true)?;
            o.auth
                .auth_headers
                .push((name.to_owned(), value.to_owned()));
            Ok(())
        })
    }
}

/// Add a parameter sent to the authUrl (AO2f: in the query for GET, in the form body for POST);
/// call it once per parameter. Both strings are copied, unencoded (the library encodes them).
/// Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8 or an empty name.
///
/// # Safety
/// As for `ably_auth_options_add_auth_header`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_add_auth_param(
    options: *mut ably_auth_options,
    name: *const c_char,
    value: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let name = str_arg(name, "name")?;
            if name.is_empty() {
                return Err(ErrorInfo::invalid_value("`name` must not be empty"));
            }
            let value = str_arg(value, "value")?;
            o.auth.auth_params.push((name.to_owned(), value.to_owned()));
            Ok(())
        })
    }
}

/// Set the authCallback; see `ably_auth_callback_fn`. Setting it makes the Auth use token auth;
/// it wins over an authUrl.
///
/// Ownership: `user_data` passes to the library with this call, whatever its outcome:
/// `free_user_data` (may be NULL) runs exactly once, when the library no longer needs it
/// (the Auth is freed, see "User destructors" at the top of this header; the
/// unused options are freed, the callback is replaced, or at once when this
/// call fails). The callback and `free_user_data` may run on any thread.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT when `options` is not live or `callback` is NULL.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; the functions follow the
/// contracts of their types.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_auth_callback(
    options: *mut ably_auth_options,
    callback: ably_auth_callback_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
) -> *mut ably_error_info {
    let user_data = UserData::new(user_data, free_user_data);
    // The replaced callback is returned, so its free_user_data runs after the options are
    // back in their slot (it may use them).
    edit_builder(options, "options", move |o: &mut ably_auth_options| {
        let callback = required(callback, "callback")?;
        o.custody.push(user_data.watch());
        let new = Arc::new(CAuthCallback::new(callback, user_data));
        Ok(o.inner.auth.auth_callback.replace(new))
    })
}

/// Ask Ably for the time before signing a TokenRequest, once; the offset is remembered. Default
/// false.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_query_time(
    options: *mut ably_auth_options,
    query_time: bool,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.auth.query_time = query_time;
            Ok(())
        })
    }
}

// ----- hosts (REC1, REC2, RSC18) ----------------------------------------------------------

/// Set `endpoint`: a routing policy id, `nonprod:<id>`, or a host name. Conflicts with
/// environment or restHost; `ably_auth_new` checks (ABLY_ERR_BAD_REQUEST). Errors:
/// ABLY_ERR_INVALID_ARGUMENT for NULL or invalid UTF-8.
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `endpoint` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_endpoint(
    options: *mut ably_auth_options,
    endpoint: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.endpoint.endpoint = Some(str_arg(endpoint, "endpoint")?.to_owned());
            Ok(())
        })
    }
}

/// Set the deprecated `environment`. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL or invalid
/// UTF-8; conflicts are reported by `ably_auth_new` (ABLY_ERR_BAD_REQUEST).
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `environment` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_environment(
    options: *mut ably_auth_options,
    environment: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.endpoint.environment = Some(str_arg(environment, "environment")?.to_owned());
            Ok(())
        })
    }
}

/// Set the deprecated `restHost`. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL or invalid UTF-8;
/// conflicts are reported by `ably_auth_new` (ABLY_ERR_BAD_REQUEST).
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `rest_host` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_rest_host(
    options: *mut ably_auth_options,
    rest_host: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.endpoint.rest_host = Some(str_arg(rest_host, "rest_host")?.to_owned());
            Ok(())
        })
    }
}

/// Set `fallbackHosts` to the `count` strings at `hosts` (copied); `count` 0 disables fallback
/// (then `hosts` may be NULL). Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `hosts` with a
/// non-zero `count`, or a NULL, non-UTF-8 or empty host (the message names `hosts[i]`).
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `hosts` is NULL or points to `count`
/// pointers, each NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_fallback_hosts(
    options: *mut ably_auth_options,
    hosts: *const *const c_char,
    count: usize,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let list = string_array(hosts, count, "hosts")?;
            if let Some(i) = list.iter().position(|h| h.is_empty()) {
                return Err(ErrorInfo::invalid_value(format!(
                    "`hosts[{i}]` must not be empty"
                )));
            }
            o.endpoint.fallback_hosts = Some(list);
            Ok(())
        })
    }
}

/// Use HTTPS (`true`, the default) or plain HTTP. Basic auth needs TLS (`ably_auth_new` gives
/// ABLY_ERR_INSECURE_BASIC_AUTH otherwise).
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_tls(
    options: *mut ably_auth_options,
    tls: bool,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.endpoint.tls = tls;
            Ok(())
        })
    }
}

/// Set the port for plain HTTP (TO3k4, default 80). Errors: ABLY_ERR_INVALID_ARGUMENT outside
/// 1..=65535.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_port(
    options: *mut ably_auth_options,
    port: i32,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.endpoint.port = port_arg(port, "port")?;
            Ok(())
        })
    }
}

/// Set the port for HTTPS (TO3k5, default 443). Errors: ABLY_ERR_INVALID_ARGUMENT outside
/// 1..=65535.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_tls_port(
    options: *mut ably_auth_options,
    tls_port: i32,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.endpoint.tls_port = port_arg(tls_port, "tls_port")?;
            Ok(())
        })
    }
}

// ----- transport (RSC13, RSC15) -----------------------------------------------------------

/// Set the connection-open timeout (TO3l3, default 4000 ms) and the request timeout `T` (
/// default 10000 ms). `T` bounds each HTTP attempt as a whole (connect, TLS, send, and the
/// answer to its last byte), and how long an authCallback may take to answer
/// (ABLY_ERR_AUTH_CALLBACK_FAILED after it, also for an answer given before the callback
/// returns).
///
/// The worst cases that follow (see docs/lifecycle.md): one request to Ably, fallback hosts
/// included, takes at most `R = min((1 + max_retry_count) * T, max_retry_duration + T)` (25 s
/// by default); one token fetch at most `T + 3 * R` (the callback or authUrl, the TokenRequest
/// exchange, and on ABLY_ERR_TIMESTAMP_NOT_CURRENT a `/time` request and one more exchange).
/// Threads waiting for a fetch that another thread started give up at its deadline with
/// ABLY_ERR_TIMEOUT.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT unless both are positive.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_timeouts(
    options: *mut ably_auth_options,
    open_ms: i64,
    request_ms: i64,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let open = positive_ms(open_ms, "open_ms")?;
            let request = positive_ms(request_ms, "request_ms")?;
            o.transport.open_timeout = open;
            o.transport.request_timeout = request;
            Ok(())
        })
    }
}

/// Trust one more CA (PEM text, one or more certificates), in addition to Mozilla's roots; call
/// it once per PEM. Checked by `ably_auth_new` (ABLY_ERR_INVALID_ARGUMENT for PEM with no
/// certificate). Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8 or an empty string.
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `pem` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_add_ca_pem(
    options: *mut ably_auth_options,
    pem: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let text = str_arg(pem, "pem")?;
            if text.trim().is_empty() {
                return Err(ErrorInfo::invalid_value("`pem` must not be empty"));
            }
            o.transport.extra_ca_pem.push(text.to_owned());
            Ok(())
        })
    }
}

/// Resolve `host` to the fixed socket address `addr` (`"127.0.0.1:8080"`, `"[::1]:443"`)
/// instead of asking DNS, like curl's `--resolve`; TLS still checks the certificate against
/// `host`. Call it once per host. Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8, an
/// empty host or an `addr` that is not an IP address with a port.
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `host` and `addr` are NULL or
/// NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_add_resolve(
    options: *mut ably_auth_options,
    host: *const c_char,
    addr: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let host = str_arg(host, "host")?;
            if host.is_empty() {
                return Err(ErrorInfo::invalid_value("`host` must not be empty"));
            }
            let addr: SocketAddr = str_arg(addr, "addr")?.parse().map_err(|_| {
                ErrorInfo::invalid_value(
                    "`addr` must be an IP address and port, e.g. 127.0.0.1:8080",
                )
            })?;
            o.transport.resolve.push((host.to_owned(), addr));
            Ok(())
        })
    }
}

/// Send every request of the built-in client through the proxy at `url`: `http://host:port`
/// (HTTP CONNECT for https requests) or `https://host:port`, with optional `user:password@`
/// (kept by the library and never logged). Wins over `ably_auth_options_set_proxy_from_env`.
/// Checked by `ably_auth_new` (ABLY_ERR_INVALID_ARGUMENT for a URL that does not parse;
/// ABLY_ERR_BAD_REQUEST with a host transport; `ABLY_ERR_NOT_BUILT_IN` in a build without the
/// built-in client). Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8 or an empty
/// string.
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `url` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_proxy(
    options: *mut ably_auth_options,
    url: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let url = str_arg(url, "url")?;
            if url.is_empty() {
                return Err(ErrorInfo::invalid_value("`url` must not be empty"));
            }
            o.transport.proxy = Some(url.to_owned());
            Ok(())
        })
    }
}

/// Let the built-in client use the proxy the environment names, as curl does:
/// `HTTPS_PROXY`/`https_proxy`, then `HTTP_PROXY`/`http_proxy`, `ALL_PROXY`/`all_proxy`, with
/// hosts in `NO_PROXY`/`no_proxy` reached directly. Off by default: the environment is read
/// (once, when the Auth is made) only when this is set. Refused with a host transport
/// (ABLY_ERR_BAD_REQUEST) and in a build without the built-in client (`ABLY_ERR_NOT_BUILT_IN`),
/// by `ably_auth_new`.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_proxy_from_env(
    options: *mut ably_auth_options,
    from_env: bool,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.transport.proxy_from_env = from_env;
            Ok(())
        })
    }
}

/// Verify server certificates with the operating system's verifier and trust store instead of
/// the Mozilla roots bundled in the library (rustls-platform-verifier), so that certificates
/// installed by the user or by device management are trusted, as in the platform's own HTTP
/// stack:
/// - Linux and other Unix: the system CA store (`/etc/ssl/certs` and the like, found as OpenSSL
///   does; `SSL_CERT_FILE` and `SSL_CERT_DIR` override it), checked by webpki;
/// - macOS and iOS: Security.framework (`SecTrust`), with user and MDM trust settings and
///   revocation checks; a static build links `-framework Security -framework CoreFoundation`;
/// - Windows: the CryptoAPI certificate chain engine, with enterprise roots and revocation;
/// - Android: not supported by this C API yet (the verifier needs the app's JVM context).
///
/// Cannot be combined with `ably_auth_options_add_ca_pem` (ABLY_ERR_BAD_REQUEST; add the CA to
/// the system store instead). Refused with a host transport (ABLY_ERR_BAD_REQUEST) and in a
/// build without the built-in client (`ABLY_ERR_NOT_BUILT_IN`), by `ably_auth_new`. Default
/// false.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_platform_verifier(
    options: *mut ably_auth_options,
    platform_verifier: bool,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.transport.platform_verifier = platform_verifier;
            Ok(())
        })
    }
}

/// A token counts as expired this many milliseconds before its `expires` (default 15000), so it
/// is renewed before a request could carry an expired token. Errors: ABLY_ERR_INVALID_ARGUMENT
/// when negative.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_token_expiry_margin(
    options: *mut ably_auth_options,
    margin_ms: i64,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.token_expiry_margin_ms = non_negative(margin_ms, "margin_ms")?;
            Ok(())
        })
    }
}

/// How long a fallback host that worked stays preferred (TO3l10 `fallbackRetryTimeout`, default
/// 600000 ms). Errors: ABLY_ERR_INVALID_ARGUMENT when negative.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_fallback_retry_timeout(
    options: *mut ably_auth_options,
    timeout_ms: i64,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.fallback.fallback_retry_timeout =
                Duration::from_millis(non_negative(timeout_ms, "timeout_ms")?);
            Ok(())
        })
    }
}

/// The most fallback hosts tried after the primary (TO3l5 `httpMaxRetryCount`, default 3).
/// Errors: ABLY_ERR_INVALID_ARGUMENT when negative.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_max_retry_count(
    options: *mut ably_auth_options,
    count: i32,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.fallback.max_retry_count = usize::try_from(count)
                .map_err(|_| ErrorInfo::invalid_value("`count` must not be negative"))?;
            Ok(())
        })
    }
}

/// How long after a request to Ably started no further fallback host is tried
/// (`httpMaxRetryDuration`, default 15000 ms): the `max_retry_duration` of the worst case `R`
/// in `ably_auth_options_set_timeouts`. 0 tries the first host only. Errors:
/// ABLY_ERR_INVALID_ARGUMENT when negative.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_max_retry_duration(
    options: *mut ably_auth_options,
    duration_ms: i64,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.fallback.max_retry_duration =
                Duration::from_millis(non_negative(duration_ms, "duration_ms")?);
            Ok(())
        })
    }
}

/// Add a `name/version` (or `name`) entry to the `Ably-Agent` header, e.g. `"my-app/1.2"`.
/// Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8, an empty string, or whitespace or
/// control characters.
///
/// # Safety
/// `options` as for `ably_auth_options_set_auth_url`; `agent` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_add_agent(
    options: *mut ably_auth_options,
    agent: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            let text = str_arg(agent, "agent")?;
            if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ErrorInfo::invalid_value(
                    "`agent` must be a non-empty name/version without spaces",
                ));
            }
            o.agents.push(text.to_owned());
            Ok(())
        })
    }
}

/// Add a random `request_id` query parameter to each Ably request, the same on every host it is
/// retried on. Default false.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_add_request_ids(
    options: *mut ably_auth_options,
    add_request_ids: bool,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.add_request_ids = add_request_ids;
            Ok(())
        })
    }
}

/// The number of worker threads for non-blocking calls and renewal ahead of expiry (default 2,
/// 1 to 16); one more library thread delivers completions. The threads start on first use: a
/// program that makes no non-blocking call and turns renewal ahead off never gets one.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a `count` outside 1..=16.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_worker_threads(
    options: *mut ably_auth_options,
    count: i32,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.worker_threads = usize::try_from(count)
                .ok()
                .filter(|n| (1..=crate::auth::MAX_WORKER_THREADS).contains(n))
                .ok_or_else(|| ErrorInfo::invalid_value("`count` must be 1 to 16"))?;
            Ok(())
        })
    }
}

/// The most non-blocking calls this Auth may have in flight at once (default 10000, at least
/// 1). A call is in flight from its `_async` start until its work has ended on a worker (a
/// cancelled call whose work is waiting for a worker, or still inside a network step, counts
/// until that ends). A start past the bound fails at once with `ABLY_ERR_TOO_MANY_CALLS`
/// (ABLY_ERR_TOO_MANY_CALLS): its `done` never runs and its `free_user_data` has run when it
/// returns. The bound keeps the queue, and the memory it holds, finite; starting a call costs
/// the same whatever the number in flight.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a `max_calls` below 1.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_max_calls_in_flight(
    options: *mut ably_auth_options,
    max_calls: i64,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.max_calls_in_flight = usize::try_from(max_calls)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ErrorInfo::invalid_value("`max_calls` must be at least 1"))?;
            Ok(())
        })
    }
}

/// Renew the token in the background before it enters its expiry margin (default true): the
/// renewal starts one token-fetch deadline before the margin (see
/// `ably_auth_options_set_timeouts`), but not before half the token's remaining usable life,
/// with up to 10% jitter; failures reach listeners and are retried with backoff while the token
/// in use stays valid. So after the first token, `ably_auth_authorization_header` does not wait
/// on the network while a valid token exists. False: tokens are renewed when a call finds them
/// expired, and no library thread is started for renewal.
///
/// Whatever the token server answers, a renewal never starts sooner than a floor after the
/// token in use arrived: 1 s, doubled for each token in a row that was of no use (usable for
/// less than 1 s before its margin, which includes one that arrives inside its margin: tokens
/// shorter than the margin with no `issued`, a token server whose clock lags; or the token in
/// use handed out again), up to 60 s. Such a token is logged (warn; info for a repeated one),
/// and one with less than 1 s of usable life is also announced to listeners as an auth-failed
/// ABLY_ERR_TOKEN_EXPIRED that says why (docs/lifecycle.md, "Renewal ahead").
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_renew_ahead(
    options: *mut ably_auth_options,
    renew_ahead: bool,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(options, |o| {
            o.renew_ahead = renew_ahead;
            Ok(())
        })
    }
}

/// Send log lines of `level` (an ABLY_LOG_LEVEL_* value, 1 error to 5 verbose) and every more
/// severe level to `callback`; see `ably_log_fn` for what each level holds. Lines never contain
/// a key secret, token or mac. Replaces an earlier log callback.
///
/// Ownership: `user_data` passes to the library with this call, whatever its outcome:
/// `free_user_data` (may be NULL) runs exactly once, when the library no longer needs it
/// (the Auth is freed, see "User destructors" at the top of this header; the
/// unused options are freed, the callback is replaced, or at once when this
/// call fails). The callback and `free_user_data` may run on any thread.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT when `options` is not live, `callback` is NULL or `level`
/// is not 1..=5.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; the functions follow the
/// contracts of their types.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_log(
    options: *mut ably_auth_options,
    callback: ably_log_fn,
    level: i32,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
) -> *mut ably_error_info {
    let user_data = UserData::new(user_data, free_user_data);
    edit_builder(options, "options", move |o: &mut ably_auth_options| {
        let callback = required(callback, "callback")?;
        let watched = user_data.watch();
        let logger = c_logger(callback, level, user_data)?;
        o.custody.push(watched);
        Ok(o.inner.logger.replace(logger))
    })
}

/// `count` C strings as owned Rust strings; NULL `array` is allowed only with `count` 0.
/// Errors name `name[i]`.
///
/// # Safety
/// `array` is NULL or points to `count` pointers, each NULL or NUL-terminated.
pub(crate) unsafe fn string_array(
    array: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<String>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if array.is_null() {
        return Err(ErrorInfo::invalid_value(format!(
            "`{name}` is NULL but the count is {count}"
        )));
    }
    // SAFETY: caller contract: `count` readable pointers.
    let items = unsafe { std::slice::from_raw_parts(array, count) };
    items
        .iter()
        .enumerate()
        // SAFETY: caller contract.
        .map(|(i, &p)| unsafe { str_arg(p, &format!("{name}[{i}]")) }.map(str::to_owned))
        .collect()
}
