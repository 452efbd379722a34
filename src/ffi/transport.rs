//! The host HTTP transport in C: `ably_http_exchange` (one request awaiting one answer), the
//! `send`/`cancel` callbacks, and `ably_auth_options_set_http_transport`.

use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use zeroize::Zeroize;

use super::boundary::{boundary, boundary_or};
use super::callback::{UserData, ably_free_fn, c_message, required};
use super::error::ably_error_info;
use super::handle::{edit_builder, new_builder, take_builder, with_builder};
use super::options::ably_auth_options;
use crate::core::error::{ErrorInfo, Result};
use crate::http::host::{Exchange, HostTransport, HttpHost};
use crate::http::{HttpResponse, RequestPurpose, Transport, TransportError, TransportErrorKind};

/// `ably_http_exchange_purpose`: a request to an Ably host (Ably credentials; the library
/// tries fallback hosts when this one fails).
pub const ABLY_HTTP_PURPOSE_ABLY: i32 = 0;
/// `ably_http_exchange_purpose`: a request to the application's authUrl (no Ably
/// credentials, never sent to Ably's fallback hosts).
pub const ABLY_HTTP_PURPOSE_AUTH_URL: i32 = 1;

/// `ably_http_exchange_fail`: the host name could not be resolved (the library then tries a
/// fallback host, RSC15l1).
pub const ABLY_HTTP_FAIL_HOST_NOT_FOUND: i32 = 1;
/// `ably_http_exchange_fail`: the connection was refused, reset or closed before a complete
/// response (fallback applies, RSC15l1).
pub const ABLY_HTTP_FAIL_CONNECTION_FAILED: i32 = 2;
/// `ably_http_exchange_fail`: the transport's own timeout passed (fallback applies, RSC15l2).
pub const ABLY_HTTP_FAIL_TIMEOUT: i32 = 3;
/// `ably_http_exchange_fail`: TLS failed (untrusted certificate, name mismatch); no fallback.
pub const ABLY_HTTP_FAIL_TLS: i32 = 4;
/// `ably_http_exchange_fail`: any other failure (malformed response, ...); no fallback.
pub const ABLY_HTTP_FAIL_OTHER: i32 = 5;

/// One HTTP request the library asks the host transport to send, awaiting one answer.
///
/// Ownership: the library creates it and passes it to the transport's `send`; from then on it
/// belongs to the host, which answers it exactly once with `ably_http_exchange_respond` or
/// `ably_http_exchange_fail`. Answering frees it, in every case (also when the answer is
/// refused). The library never frees it behind the host's back: it stays valid until answered,
/// also after its deadline, a cancel, a shutdown or `ably_auth_free`, so a late answer is safe
/// (it is refused with ABLY_ERR_TIMEOUT or `ABLY_ERR_CANCELLED`). An exchange never answered is
/// leaked.
///
/// Secrets: the `Authorization` header value (and a TokenRequest's mac in the body) are
/// credentials. Never log them; the library wipes its copies when the exchange is freed.
///
/// Thread safety: one thread at a time (like a builder): read it and answer it from any thread,
/// during `send` or later. A call made while another thread is using it gets
/// ABLY_ERR_INVALID_ARGUMENT (getters then return NULL, 0 or false). Strings and bytes read
/// from it are borrowed until it is answered.
pub struct ably_http_exchange {
    inner: Exchange,
    text: Text,
}

/// The request's strings as C strings, wiped when dropped.
struct Text {
    method: CString,
    url: CString,
    headers: Vec<(CString, CString)>,
}

impl Drop for Text {
    fn drop(&mut self) {
        let wipe = |text: &mut CString| std::mem::take(text).into_bytes().zeroize();
        wipe(&mut self.url);
        for (name, value) in &mut self.headers {
            wipe(name);
            wipe(value);
        }
    }
}

impl ably_http_exchange {
    fn new(inner: Exchange) -> Self {
        let request = inner.request();
        let text = Text {
            method: c_message(request.method.as_str()),
            url: c_message(&request.url),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| (c_message(name), c_message(value)))
                .collect(),
        };
        ably_http_exchange { inner, text }
    }
}

/// The host's `send`: start sending `exchange` (read it with the `ably_http_exchange_*`
/// getters) and answer it exactly once, now (before returning) or later from any thread. Called
/// on the library thread that makes the request (the caller of a blocking call, or a library
/// worker), with no library lock held; return promptly. The calling thread waits for the answer
/// until the exchange's deadline (`ably_http_exchange_timeout_ms`), so a host that answers from
/// the very thread that is blocked (a single-threaded loop) sees the call fail with
/// ABLY_ERR_TIMEOUT at the deadline: answer during `send`, or from another thread.
pub type ably_http_send_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, exchange: *mut ably_http_exchange)>;

/// The host's optional `cancel`: the library no longer waits for exchange `exchange_id` (its
/// deadline passed, or the call was cancelled or shut down); abort the request if you can. Only
/// a hint: it may run at the same time as your answer on another thread (that is why it carries
/// the id, never the pointer), and the exchange must still be answered, whose answer then gets
/// ABLY_ERR_TIMEOUT or `ABLY_ERR_CANCELLED`. Called on a library thread with no library lock
/// held.
pub type ably_http_cancel_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, exchange_id: u64)>;

/// An [`HttpHost`] made of C functions.
struct CHttpHost {
    send: unsafe extern "C" fn(*mut c_void, *mut ably_http_exchange),
    cancel: ably_http_cancel_fn,
    user_data: UserData,
}

impl HttpHost for CHttpHost {
    fn send(&self, exchange: Exchange) {
        // Our glue must not unwind into the waiting request; if preparing the handle
        // panics, the exchange is dropped, which fails the request at once.
        let Ok(prepared) = catch_unwind(AssertUnwindSafe(|| ably_http_exchange::new(exchange)))
        else {
            return;
        };
        let handle = new_builder(prepared);
        if handle.is_null() {
            return; // no handle slot left: the exchange was dropped, the request failed
        }
        self.user_data.call(|user_data| {
            // SAFETY: the host registered this function for this user_data; the exchange is
            // a live handle that the host now owns.
            unsafe { (self.send)(user_data, handle) }
        });
    }

    fn cancel(&self, id: u64) {
        if let Some(cancel) = self.cancel {
            self.user_data.call(|user_data| {
                // SAFETY: as for send; an id, not a pointer, so nothing is borrowed.
                unsafe { cancel(user_data, id) }
            });
        }
    }
}

/// The Rust form of `ably_auth_options_set_http_transport`: a [`Transport`] that hands each
/// request to C functions, for Rust programs that host a C transport (set it as
/// `ClientOptions::custom_transport`). `free_user_data` runs once, when the transport is
/// dropped. Errors: ABLY_ERR_INVALID_ARGUMENT when `send` is NULL (`free_user_data` has run
/// then).
///
/// # Safety
/// The functions follow the contracts of [`ably_http_send_fn`], [`ably_http_cancel_fn`] and
/// [`ably_free_fn`] for `user_data`.
pub unsafe fn http_transport_from_c(
    send: ably_http_send_fn,
    cancel: ably_http_cancel_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
) -> Result<Arc<dyn Transport>> {
    c_transport(send, cancel, UserData::new(user_data, free_user_data))
}

fn c_transport(
    send: ably_http_send_fn,
    cancel: ably_http_cancel_fn,
    user_data: UserData,
) -> Result<Arc<dyn Transport>> {
    let send = required(send, "send")?;
    Ok(Arc::new(HostTransport::new(CHttpHost {
        send,
        cancel,
        user_data,
    })))
}

/// Send every HTTP request through the host's own HTTP stack instead of the built-in client
/// (required for networked calls in a build without it, see `ably_auth_features`). The library
/// keeps what makes requests Ably requests (headers, fallback hosts, retries, token renewal,
/// size limits, deadlines); the host only moves bytes. See `ably_http_send_fn`.
///
/// With a host transport, options only the built-in client honours (`add_ca_pem`,
/// `add_resolve`, a connect timeout other than the default 4000 ms, a proxy, the platform
/// verifier) make `ably_auth_new` fail with ABLY_ERR_BAD_REQUEST: configure them in your
/// transport. The request timeout of `ably_auth_options_set_timeouts` applies to every
/// exchange.
///
/// Ownership: `user_data` passes to the library with this call, whatever its outcome:
/// `free_user_data` (may be NULL) runs exactly once, when the library no longer needs it
/// (the Auth is freed, see "User destructors" at the top of this header; the
/// unused options are freed, the transport is replaced, or at once when
/// this call fails). `send`, `cancel` and `free_user_data` may run on any thread.
/// `ably_auth_shutdown` stops waiting for every exchange (calling `cancel`);
/// `ably_auth_free` does too, then waits for a `send` or `cancel` running on another
/// thread, and after it returns the library never calls `send` or `cancel` again (the
/// exchanges you still hold must still be answered; the answers get `ABLY_ERR_CANCELLED`).
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT when `options` is not live or `send` is NULL. `cancel` may
/// be NULL.
///
/// # Safety
/// `options` is NULL or a pointer returned by `ably_auth_options_new`; the functions follow the
/// contracts of their types.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_options_set_http_transport(
    options: *mut ably_auth_options,
    send: ably_http_send_fn,
    cancel: ably_http_cancel_fn,
    user_data: *mut c_void,
    free_user_data: ably_free_fn,
) -> *mut ably_error_info {
    // The replaced transport is returned, so its free_user_data runs after the options are
    // back in their slot (it may use them).
    let user_data = UserData::new(user_data, free_user_data);
    edit_builder(options, "options", move |o: &mut ably_auth_options| {
        let watched = user_data.watch();
        let transport = c_transport(send, cancel, user_data)?;
        o.custody.push(watched);
        Ok(o.inner.custom_transport.replace(transport))
    })
}

/// Read a live exchange; `fallback` for NULL, a handle in use by another thread, or a panic.
fn read<T>(
    exchange: *const ably_http_exchange,
    fallback: T,
    f: impl FnOnce(&ably_http_exchange) -> T,
) -> T {
    boundary_or(None, || {
        with_builder(exchange.cast_mut(), "exchange", |e| Ok(f(e))).ok()
    })
    .unwrap_or(fallback)
}

/// The exchange's id: never 0, never reused in the process; the id `cancel` names. 0 for
/// NULL or an exchange that is not live.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_id(exchange: *const ably_http_exchange) -> u64 {
    read(exchange, 0, |e| e.inner.id())
}

/// The request method ("GET", "POST", ...), borrowed until the exchange is answered; NULL
/// for NULL or an exchange that is not live.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_method(
    exchange: *const ably_http_exchange,
) -> *const c_char {
    read(exchange, std::ptr::null(), |e| e.text.method.as_ptr())
}

/// The absolute URL, query included, borrowed until the exchange is answered; NULL for NULL
/// or an exchange that is not live. Do not follow redirects: the library does (authUrl).
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_url(
    exchange: *const ably_http_exchange,
) -> *const c_char {
    read(exchange, std::ptr::null(), |e| e.text.url.as_ptr())
}

/// The number of request headers to send (0 for NULL or an exchange that is not live).
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_header_count(
    exchange: *const ably_http_exchange,
) -> usize {
    read(exchange, 0, |e| e.text.headers.len())
}

/// Request header `index` (0-based): writes its name and value, borrowed until the exchange
/// is answered, and returns true; false (nothing written) for an index out of range, a NULL
/// out-parameter, or an exchange that is NULL or not live. The value of `Authorization` is a
/// credential: never log it. Send the headers as given; add none of Ably's.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`; the out-parameters are NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_header(
    exchange: *const ably_http_exchange,
    index: usize,
    out_name: *mut *const c_char,
    out_value: *mut *const c_char,
) -> bool {
    if out_name.is_null() || out_value.is_null() {
        return false;
    }
    let Some((name, value)) = read(exchange, None, |e| {
        e.text
            .headers
            .get(index)
            .map(|(name, value)| (name.as_ptr(), value.as_ptr()))
    }) else {
        return false;
    };
    // SAFETY: both checked non-NULL; the caller promises they are writable.
    unsafe {
        out_name.write(name);
        out_value.write(value);
    }
    true
}

/// The request body, borrowed until the exchange is answered, its length written to
/// `out_len` (may be NULL); NULL with length 0 when there is none, or for an exchange that is
/// NULL or not live.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`; `out_len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_body(
    exchange: *const ably_http_exchange,
    out_len: *mut usize,
) -> *const u8 {
    let (ptr, len) = read(exchange, (std::ptr::null(), 0), |e| {
        match &e.inner.request().body {
            Some(body) => (body.as_ptr(), body.len()),
            None => (std::ptr::null(), 0),
        }
    });
    if !out_len.is_null() {
        // SAFETY: checked non-NULL; the caller promises it is writable.
        unsafe { out_len.write(len) };
    }
    ptr
}

/// The time left, in ms, until the library stops waiting for this exchange (0 once it has
/// passed, and for an exchange that is NULL or not live): use it as the request's timeout.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_timeout_ms(exchange: *const ably_http_exchange) -> i64 {
    read(exchange, 0, |e| {
        i64::try_from(e.inner.time_left().as_millis()).unwrap_or(i64::MAX)
    })
}

/// The longest response body the library accepts (0 for an exchange that is NULL or not live).
/// A longer answer fails the request (as too large, ABLY_ERR_INTERNAL), so a transport may stop
/// reading after this many bytes plus one and respond with what it has.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_max_response_bytes(
    exchange: *const ably_http_exchange,
) -> usize {
    read(exchange, 0, |e| e.inner.request().max_response_bytes)
}

/// Whom the request is for: `ABLY_HTTP_PURPOSE_ABLY` or `ABLY_HTTP_PURPOSE_AUTH_URL`; -1 for
/// an exchange that is NULL or not live.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_purpose(exchange: *const ably_http_exchange) -> i32 {
    read(exchange, -1, |e| match e.inner.request().purpose {
        RequestPurpose::Ably => ABLY_HTTP_PURPOSE_ABLY,
        RequestPurpose::AuthUrl => ABLY_HTTP_PURPOSE_AUTH_URL,
    })
}

/// Consume `exchange` (always, unless another thread is using it), then answer it with
/// `answer()`'s outcome. Invalid arguments are reported to the caller and fail the waiting
/// request at once (as a malformed answer).
fn answer(
    exchange: *mut ably_http_exchange,
    answer: impl FnOnce() -> Result<std::result::Result<HttpResponse, TransportError>>,
) -> *mut ably_error_info {
    boundary(|| {
        let ably_http_exchange { inner, text } =
            take_builder(exchange, "exchange", false)?.expect("required");
        // The arguments are read (copied) first: they may point into the exchange itself
        // (its URL quoted as the failure's message, a request header echoed back).
        // A panic below drops `inner` unanswered, which fails the request at once.
        let outcome = answer();
        drop(text);
        match outcome {
            Ok(Ok(response)) => inner.respond(response),
            Ok(Err(error)) => inner.fail(error),
            Err(bad_input) => {
                let _ = inner.fail(TransportError {
                    kind: TransportErrorKind::Protocol,
                    message: format!(
                        "the host transport's answer was invalid: {}",
                        bad_input.message
                    ),
                });
                Err(bad_input)
            }
        }
    })
}

/// A required C string, read leniently (bytes that are not UTF-8 become U+FFFD): header
/// values on the wire need not be UTF-8.
///
/// # Safety
/// `ptr` is NULL or NUL-terminated.
unsafe fn lossy_arg(ptr: *const c_char, name: &str) -> Result<String> {
    if ptr.is_null() {
        return Err(ErrorInfo::invalid_value(format!("`{name}` is NULL")));
    }
    // SAFETY: caller contract.
    Ok(unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned())
}

/// `count` pointers from `array`; NULL is allowed only with `count` 0.
///
/// # Safety
/// `array` is NULL or points to `count` readable pointers.
unsafe fn pointers<'a>(
    array: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<&'a [*const c_char]> {
    if count == 0 {
        return Ok(&[]);
    }
    if array.is_null() {
        return Err(ErrorInfo::invalid_value(format!(
            "`{name}` is NULL but header_count is {count}"
        )));
    }
    // SAFETY: caller contract.
    Ok(unsafe { std::slice::from_raw_parts(array, count) })
}

/// Answer `exchange` with the HTTP response received (any status: 4xx and 5xx too; the library
/// decides about retries and fallback). Pass every response header (names in any case; values
/// need not be UTF-8); `header_names` and `header_values` may be NULL when `header_count` is 0,
/// `body` when `body_len` is 0. Everything is copied. `exchange` is consumed (freed) in every
/// case, also on error, unless another thread is using it (ABLY_ERR_INVALID_ARGUMENT).
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for an exchange that is NULL, already answered or not
/// live, a `status` outside 100..=599, or NULL where a header or body is promised (the waiting
/// request then fails at once); ABLY_ERR_TIMEOUT when the exchange's deadline passed and
/// `ABLY_ERR_CANCELLED` when the library stopped waiting (the answer is dropped). A body longer
/// than `ably_http_exchange_max_response_bytes` is accepted here and fails the request.
///
/// Thread safety: any thread, during `send` or later. Never runs a callback.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`; the arrays hold `header_count`
/// NUL-terminated strings (or are NULL); `body` is NULL or points to `body_len` bytes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_respond(
    exchange: *mut ably_http_exchange,
    status: i32,
    header_names: *const *const c_char,
    header_values: *const *const c_char,
    header_count: usize,
    body: *const u8,
    body_len: usize,
) -> *mut ably_error_info {
    answer(exchange, || {
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..600).contains(s))
            .ok_or_else(|| ErrorInfo::invalid_value("`status` must be 100..=599"))?;
        // SAFETY: caller contract, forwarded.
        let names = unsafe { pointers(header_names, header_count, "header_names") }?;
        // SAFETY: as above.
        let values = unsafe { pointers(header_values, header_count, "header_values") }?;
        let headers = names
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (&name, &value))| {
                // SAFETY: caller contract: NUL-terminated or NULL.
                unsafe {
                    Ok((
                        lossy_arg(name, &format!("header_names[{i}]"))?,
                        lossy_arg(value, &format!("header_values[{i}]"))?,
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let body = match (body.is_null(), body_len) {
            (_, 0) => Vec::new(),
            (true, _) => {
                return Err(ErrorInfo::invalid_value(format!(
                    "`body` is NULL but body_len is {body_len}"
                )));
            }
            // SAFETY: caller contract: `body_len` readable bytes.
            (false, len) => unsafe { std::slice::from_raw_parts(body, len) }.to_vec(),
        };
        Ok(Ok(HttpResponse {
            status,
            headers,
            body,
        }))
    })
}

/// Answer `exchange` with a connection-level failure: no (complete) HTTP response was received.
/// `kind` is one of the `ABLY_HTTP_FAIL_*` values: host not found, connection failures and
/// timeouts let the library try a fallback host; TLS and other failures do not. `message` (may
/// be NULL) says what happened, for the error the caller gets; never put credentials in it.
/// `exchange` is consumed (freed) in every case, also on error, unless another thread is using
/// it (ABLY_ERR_INVALID_ARGUMENT).
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for an exchange that is NULL, already answered or not
/// live, or an unknown `kind` (the waiting request then fails at once); ABLY_ERR_TIMEOUT and
/// `ABLY_ERR_CANCELLED` as for `ably_http_exchange_respond`.
///
/// Thread safety: any thread, during `send` or later. Never runs a callback.
///
/// # Safety
/// `exchange` is NULL or a pointer passed to `send`; `message` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_http_exchange_fail(
    exchange: *mut ably_http_exchange,
    kind: i32,
    message: *const c_char,
) -> *mut ably_error_info {
    answer(exchange, || {
        let kind = match kind {
            ABLY_HTTP_FAIL_HOST_NOT_FOUND => TransportErrorKind::HostNotFound,
            ABLY_HTTP_FAIL_CONNECTION_FAILED => TransportErrorKind::ConnectionFailed,
            ABLY_HTTP_FAIL_TIMEOUT => TransportErrorKind::Timeout,
            ABLY_HTTP_FAIL_TLS => TransportErrorKind::Tls,
            ABLY_HTTP_FAIL_OTHER => TransportErrorKind::Protocol,
            _ => {
                return Err(ErrorInfo::invalid_value(
                    "`kind` must be one of the ABLY_HTTP_FAIL_* values",
                ));
            }
        };
        let message = if message.is_null() {
            "the host transport reported a failure".to_owned()
        } else {
            // SAFETY: caller contract.
            unsafe { lossy_arg(message, "message") }?
        };
        Ok(Err(TransportError { kind, message }))
    })
}
