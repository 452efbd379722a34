//! A host HTTP transport written against the C ABI, in Rust, for the parity runs: with
//! `ABLY_TEST_TRANSPORT=host`, every Auth the networked suites make sends its requests
//! through `ably_auth_options_set_http_transport`'s callbacks instead of the built-in client.
//!
//! `send` (an `extern "C"` function) hands the exchange to a new thread, which reads the
//! request through the `ably_http_exchange_*` getters, sends it with a blocking client of
//! its own, and answers with `ably_http_exchange_respond` or `ably_http_exchange_fail`. The
//! blocking client is a ureq agent (the library's `UreqTransport`, made by the test with the
//! test's CA, fixed addresses and connect timeout, which a host transport must own).
#![allow(dead_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ably_auth::ClientOptions;
use ably_auth::ffi::{
    ABLY_HTTP_FAIL_CONNECTION_FAILED, ABLY_HTTP_FAIL_HOST_NOT_FOUND, ABLY_HTTP_FAIL_OTHER,
    ABLY_HTTP_FAIL_TIMEOUT, ABLY_HTTP_FAIL_TLS, ABLY_HTTP_PURPOSE_AUTH_URL, ably_error_info,
    ably_error_info_free, ably_http_exchange, ably_http_exchange_body, ably_http_exchange_fail,
    ably_http_exchange_header, ably_http_exchange_header_count, ably_http_exchange_id,
    ably_http_exchange_max_response_bytes, ably_http_exchange_method, ably_http_exchange_purpose,
    ably_http_exchange_respond, ably_http_exchange_timeout_ms, ably_http_exchange_url,
    http_transport_from_c,
};
use ably_auth::http::{
    HttpRequest, HttpResponse, Method, RequestPurpose, Transport, TransportError,
    TransportErrorKind, TransportOptions, UreqTransport,
};

/// Exchanges the test host transports were handed, in this process.
pub static EXCHANGES: AtomicUsize = AtomicUsize::new(0);

/// Whether the suites run over the host transport (`ABLY_TEST_TRANSPORT=host`).
pub fn enabled() -> bool {
    std::env::var("ABLY_TEST_TRANSPORT").is_ok_and(|v| v == "host")
}

/// What a host transport built by [`TestHost::install`] saw, for tests that assert on it.
#[derive(Default)]
pub struct Record {
    /// Ids passed to `cancel`.
    pub cancels: Mutex<Vec<u64>>,
    /// Exchanges sent (id, purpose).
    pub sent: Mutex<Vec<(u64, i32)>>,
    /// What each answer call returned (`None`: accepted; `Some(code)`: refused).
    pub answers: Mutex<Vec<Option<i32>>>,
    /// How often `free_user_data` ran.
    pub freed: AtomicUsize,
}

/// How the test host answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// From a new thread, after sending the request (the usual case).
    FromThread,
    /// Inside `send`, before it returns.
    Inline,
    /// From a new thread, only after `delay` (to be late).
    After(Duration),
}

/// The `user_data` of the test transport.
pub struct TestHost {
    client: UreqTransport,
    answer: Answer,
    pub record: Arc<Record>,
}

/// A copy of the request read through the C getters.
///
/// # Safety
/// `exchange` is a live exchange nobody else uses now.
unsafe fn read_request(exchange: *mut ably_http_exchange) -> HttpRequest {
    // SAFETY: getters return strings borrowed from the live exchange.
    unsafe {
        let text = |p: *const c_char| CStr::from_ptr(p).to_string_lossy().into_owned();
        let headers = (0..ably_http_exchange_header_count(exchange))
            .map(|i| {
                let (mut name, mut value) = (std::ptr::null(), std::ptr::null());
                assert!(ably_http_exchange_header(
                    exchange, i, &mut name, &mut value
                ));
                (text(name), text(value))
            })
            .collect();
        let mut len = 0;
        let body = ably_http_exchange_body(exchange, &mut len);
        HttpRequest {
            method: Method::parse(&text(ably_http_exchange_method(exchange))).expect("method"),
            url: text(ably_http_exchange_url(exchange)),
            headers,
            body: (!body.is_null()).then(|| std::slice::from_raw_parts(body, len).to_vec()),
            max_response_bytes: ably_http_exchange_max_response_bytes(exchange),
            purpose: if ably_http_exchange_purpose(exchange) == ABLY_HTTP_PURPOSE_AUTH_URL {
                RequestPurpose::AuthUrl
            } else {
                RequestPurpose::Ably
            },
            timeout: Duration::from_millis(ably_http_exchange_timeout_ms(exchange).max(1) as u64),
        }
    }
}

/// The code of an owned error (freed), or `None` for success.
fn code_of(error: *mut ably_error_info) -> Option<i32> {
    if error.is_null() {
        return None;
    }
    // SAFETY: an owned error from the library.
    let code = unsafe { (*error).code };
    unsafe { ably_error_info_free(error) };
    Some(code)
}

/// Answer `exchange` with `outcome` through the C ABI.
///
/// # Safety
/// `exchange` is a live exchange nobody else uses now; it is consumed.
unsafe fn answer(
    exchange: *mut ably_http_exchange,
    outcome: Result<HttpResponse, TransportError>,
) -> Option<i32> {
    let error = match outcome {
        Ok(response) => {
            let names: Vec<CString> = response
                .headers
                .iter()
                .map(|(n, _)| CString::new(n.as_str()).unwrap())
                .collect();
            let values: Vec<CString> = response
                .headers
                .iter()
                .map(|(_, v)| CString::new(v.as_str()).unwrap())
                .collect();
            let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
            let value_ptrs: Vec<*const c_char> = values.iter().map(|v| v.as_ptr()).collect();
            // SAFETY: arrays of header_count strings that outlive the call.
            unsafe {
                ably_http_exchange_respond(
                    exchange,
                    i32::from(response.status),
                    name_ptrs.as_ptr(),
                    value_ptrs.as_ptr(),
                    names.len(),
                    response.body.as_ptr(),
                    response.body.len(),
                )
            }
        }
        Err(error) => {
            let kind = match error.kind {
                TransportErrorKind::HostNotFound => ABLY_HTTP_FAIL_HOST_NOT_FOUND,
                TransportErrorKind::ConnectionFailed => ABLY_HTTP_FAIL_CONNECTION_FAILED,
                TransportErrorKind::Timeout => ABLY_HTTP_FAIL_TIMEOUT,
                TransportErrorKind::Tls => ABLY_HTTP_FAIL_TLS,
                _ => ABLY_HTTP_FAIL_OTHER,
            };
            let message = CString::new(error.message.replace('\0', " ")).unwrap();
            // SAFETY: a live exchange and a NUL-terminated message.
            unsafe { ably_http_exchange_fail(exchange, kind, message.as_ptr()) }
        }
    };
    code_of(error)
}

/// Send and answer one exchange (on whichever thread calls it).
///
/// # Safety
/// `exchange` is a live exchange nobody else uses now; it is consumed.
unsafe fn serve(host: &TestHost, exchange: *mut ably_http_exchange, delay: Option<Duration>) {
    // SAFETY: forwarded.
    let mut request = unsafe { read_request(exchange) };
    // As the header suggests: read a body too large for the library a little further (ureq
    // here refuses past a limit) and let the library refuse it.
    request.max_response_bytes = request.max_response_bytes.saturating_mul(4);
    let outcome = host.client.send(&request);
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
    // SAFETY: forwarded.
    let refused = unsafe { answer(exchange, outcome) };
    host.record.answers.lock().unwrap().push(refused);
}

/// Pointers are not `Send`; the exchange handle may be answered from any thread.
struct SendPtr(*mut ably_http_exchange);
// SAFETY: the C contract: an exchange may be read and answered from any thread.
unsafe impl Send for SendPtr {}

unsafe extern "C" fn send(user_data: *mut c_void, exchange: *mut ably_http_exchange) {
    // SAFETY: user_data is the Arc<TestHost> given to install(), alive until free_host.
    let host = unsafe { Arc::clone(&*(user_data as *const Arc<TestHost>)) };
    // SAFETY: a live exchange passed to send.
    let id = unsafe { ably_http_exchange_id(exchange) };
    let purpose = unsafe { ably_http_exchange_purpose(exchange) };
    host.record.sent.lock().unwrap().push((id, purpose));
    EXCHANGES.fetch_add(1, Ordering::SeqCst);
    let delay = match host.answer {
        // SAFETY: the exchange is ours to answer, now.
        Answer::Inline => return unsafe { serve(&host, exchange, None) },
        Answer::FromThread => None,
        Answer::After(delay) => Some(delay),
    };
    let exchange = SendPtr(exchange);
    std::thread::spawn(move || {
        let exchange = exchange;
        // SAFETY: the exchange is ours to answer, from this thread.
        unsafe { serve(&host, exchange.0, delay) }
    });
}

unsafe extern "C" fn cancel(user_data: *mut c_void, exchange_id: u64) {
    // SAFETY: as in send.
    let host = unsafe { &*(user_data as *const Arc<TestHost>) };
    host.record.cancels.lock().unwrap().push(exchange_id);
}

unsafe extern "C" fn free_host(user_data: *mut c_void) {
    // SAFETY: the Box made by install(), freed once.
    let host = unsafe { Box::from_raw(user_data as *mut Arc<TestHost>) };
    host.record.freed.fetch_add(1, Ordering::SeqCst);
}

impl TestHost {
    /// Give `options` a host transport that answers as `answer` says, taking over the
    /// built-in client's settings (CA, fixed addresses, connect timeout). `None` when the
    /// test client cannot be built from them (bad PEM): `options` are then left alone, so
    /// that the library reports the error as it does for its own client.
    pub fn install(options: &mut ClientOptions, answer: Answer) -> Option<Arc<Record>> {
        let own = TransportOptions {
            request_timeout: options.transport.request_timeout,
            ..TransportOptions::default()
        };
        let client_options = std::mem::replace(&mut options.transport, own);
        let Ok(client) = UreqTransport::new(&client_options, ably_auth::http::rest::AGENT) else {
            options.transport = client_options;
            return None;
        };
        let record = Arc::new(Record::default());
        let host = Box::new(Arc::new(TestHost {
            client,
            answer,
            record: Arc::clone(&record),
        }));
        // SAFETY: send/cancel/free_host follow the C contracts for this user_data.
        let transport = unsafe {
            http_transport_from_c(
                Some(send),
                Some(cancel),
                Box::into_raw(host).cast(),
                Some(free_host),
            )
        }
        .expect("send is not NULL");
        options.custom_transport = Some(transport);
        Some(record)
    }
}

/// `options` as the parity run wants them: unchanged over the built-in client, or with the
/// test host transport when `ABLY_TEST_TRANSPORT=host` (and no transport of their own).
pub fn route(mut options: ClientOptions) -> ClientOptions {
    if enabled() && options.custom_transport.is_none() {
        TestHost::install(&mut options, Answer::FromThread);
    }
    options
}
