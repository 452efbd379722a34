//! The host HTTP transport through the C ABI (issue 13): exchanges answered inline, from
//! another thread and too late; the deadline and the cancel hook; failure kinds and statuses
//! against the fallback rules (RSC15l); purposes; invalid answers; options that only the
//! built-in client honours; `free_user_data` exactly once.
//!
//! `tests/common/host_transport.rs` is the transport the parity runs use
//! (`ABLY_TEST_TRANSPORT=host`); the scripted host below answers as each test says.

//!
//! The scripted tests need no network and run in every build; those over the test host
//! transport (whose client is the built-in one) need the `http-client` feature.

mod common;
#[cfg(feature = "http-client")]
use common::host_transport::{Answer, EXCHANGES, TestHost, enabled};
#[cfg(feature = "http-client")]
use common::*;

use std::ffi::{CStr, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::ably_auth::ffi::*;
use ::ably_auth::{Auth, ClientOptions, ErrorInfo};

/// Waits (with a hang guard) until `done()` holds.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "hang guard: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(feature = "http-client")]
#[test]
fn the_parity_runs_route_through_the_host_transport() {
    let server = http_server();
    let before = EXCHANGES.load(Ordering::SeqCst);
    let auth = common::new_auth(token_auth_options(&server)).unwrap();
    auth.time().unwrap();
    let sent = EXCHANGES.load(Ordering::SeqCst) - before;
    assert_eq!(sent, usize::from(enabled()), "host run: {}", enabled());
}

#[cfg(feature = "http-client")]
fn token_auth_options(server: &LoopbackServer) -> ClientOptions {
    let mut options = key_options(server);
    options.auth.use_token_auth = Some(true);
    options
}

#[cfg(feature = "http-client")]
#[test]
fn an_answer_given_inside_send_is_taken() {
    let server = http_server();
    let mut options = token_auth_options(&server);
    let record = TestHost::install(&mut options, Answer::Inline).unwrap();
    let auth = Auth::new(options).unwrap();
    let details = auth.request_token(None, None).unwrap();
    assert!(!details.token.is_empty());
    assert_eq!(*record.answers.lock().unwrap(), vec![None]);
    assert_eq!(record.sent.lock().unwrap()[0].1, ABLY_HTTP_PURPOSE_ABLY);
}

#[cfg(feature = "http-client")]
#[test]
fn a_late_answer_is_refused_after_the_deadline_and_cancel_names_the_exchange() {
    let server = http_server();
    let mut options = token_auth_options(&server);
    options.transport.request_timeout = Duration::from_millis(200);
    // The host answers 3 s after the 200 ms deadline: a wide margin, so a loaded machine
    // cannot let the answer win the race against the timeout.
    let record =
        TestHost::install(&mut options, Answer::After(Duration::from_millis(3200))).unwrap();
    let auth = Auth::new(options).unwrap();
    let error = auth.time().unwrap_err();
    assert_eq!(error.code, ABLY_ERR_TIMEOUT as u32, "{error}");
    let id = record.sent.lock().unwrap()[0].0;
    assert_eq!(*record.cancels.lock().unwrap(), vec![id]);
    eventually("the late answer", || {
        !record.answers.lock().unwrap().is_empty()
    });
    assert_eq!(
        *record.answers.lock().unwrap(),
        vec![Some(ABLY_ERR_TIMEOUT)],
        "the late answer gets 50003"
    );
    drop(auth);
    eventually("free_user_data", || {
        record.freed.load(Ordering::SeqCst) == 1
    });
}

#[cfg(feature = "http-client")]
#[test]
fn the_auth_url_request_has_its_purpose_and_no_ably_credentials() {
    let server = http_server();
    let mut options = options_for(&server);
    options.auth.auth_url = Some(format!("{}/auth-url", server.base_url()));
    let record = TestHost::install(&mut options, Answer::FromThread).unwrap();
    let auth = Auth::new(options).unwrap();
    let _ = auth.request_token(None, None);
    let sent = record.sent.lock().unwrap().clone();
    assert_eq!(sent[0].1, ABLY_HTTP_PURPOSE_AUTH_URL);
    let auth_url_request = &requests_to(&server, "/auth-url")[0];
    assert!(auth_url_request.header("authorization").is_none());
}

// ----- a scripted host: each test says how every exchange is answered ----------------------

type Script = Box<dyn Fn(*mut ably_http_exchange) + Send + Sync>;

struct Scripted {
    script: Script,
    sent: AtomicUsize,
    urls: Mutex<Vec<String>>,
}

unsafe extern "C" fn scripted_send(user_data: *mut c_void, exchange: *mut ably_http_exchange) {
    // SAFETY: the Scripted given to scripted(), alive until scripted_free.
    let host = unsafe { &*(user_data as *const Scripted) };
    host.sent.fetch_add(1, Ordering::SeqCst);
    // SAFETY: a live exchange.
    let url = unsafe { CStr::from_ptr(ably_http_exchange_url(exchange)) };
    host.urls.lock().unwrap().push(url.to_string_lossy().into());
    (host.script)(exchange);
}

/// Options with the default Ably hosts (so fallback applies) and a token, sending through
/// `script`; returns the host to inspect.
fn with_script(script: Script) -> (ClientOptions, &'static Scripted) {
    let mut options = ClientOptions::default();
    options.auth.token = Some("a-token".into());
    let host = Box::into_raw(Box::new(Scripted {
        script,
        sent: AtomicUsize::new(0),
        urls: Mutex::new(Vec::new()),
    }));
    // SAFETY: scripted_send/scripted_free follow the contracts for this user_data. The host
    // is leaked on purpose (the test reads it after the Auth is gone): no free function.
    options.custom_transport = Some(
        unsafe { http_transport_from_c(Some(scripted_send), None, host.cast(), None) }.unwrap(),
    );
    // SAFETY: never freed (see above).
    (options, unsafe { &*host })
}

fn fail_all(kind: i32) -> Script {
    Box::new(move |exchange| {
        // SAFETY: a live exchange, answered once.
        let error = unsafe { ably_http_exchange_fail(exchange, kind, c"scripted".as_ptr()) };
        assert!(error.is_null());
    })
}

fn respond_all(status: i32, body: &'static [u8]) -> Script {
    Box::new(move |exchange| {
        let (name, value) = (c"Content-Type".as_ptr(), c"application/json".as_ptr());
        // SAFETY: a live exchange, answered once; one header, `body.len()` bytes.
        let error = unsafe {
            ably_http_exchange_respond(
                exchange,
                status,
                &name,
                &value,
                1,
                body.as_ptr(),
                body.len(),
            )
        };
        assert!(error.is_null());
    })
}

/// RSC15l1, RSC15l2: host not found, connection failures and timeouts reported by the host
/// go on to the fallback hosts; TLS and other failures do not.
#[test]
fn rsc15l_failure_kinds_decide_fallback() {
    for (kind, hosts, code) in [
        (ABLY_HTTP_FAIL_HOST_NOT_FOUND, 4, ABLY_ERR_CONNECTION_FAILED),
        (
            ABLY_HTTP_FAIL_CONNECTION_FAILED,
            4,
            ABLY_ERR_CONNECTION_FAILED,
        ),
        (ABLY_HTTP_FAIL_TIMEOUT, 4, ABLY_ERR_TIMEOUT),
        (ABLY_HTTP_FAIL_TLS, 1, ABLY_ERR_CONNECTION_FAILED),
        (ABLY_HTTP_FAIL_OTHER, 1, ABLY_ERR_CONNECTION_FAILED),
    ] {
        let (options, host) = with_script(fail_all(kind));
        let error = Auth::new(options).unwrap().time().unwrap_err();
        assert_eq!(host.sent.load(Ordering::SeqCst), hosts, "kind {kind}");
        assert_eq!(error.code, code as u32, "kind {kind}: {error}");
        assert!(error.message.contains("scripted"), "{error}");
        let urls = host.urls.lock().unwrap();
        assert!(
            urls[0].starts_with("https://main.realtime.ably.net/time"),
            "{urls:?}"
        );
    }
}

/// RSC15l3: a 5xx answer goes on to a fallback host; a 4xx answer does not.
#[test]
fn rsc15l3_statuses_decide_fallback() {
    let (options, host) = with_script(respond_all(503, b"{}"));
    let _ = Auth::new(options).unwrap().time().unwrap_err();
    assert_eq!(host.sent.load(Ordering::SeqCst), 4);

    let (options, host) = with_script(respond_all(404, b"{}"));
    let _ = Auth::new(options).unwrap().time().unwrap_err();
    assert_eq!(host.sent.load(Ordering::SeqCst), 1);

    let (options, _) = with_script(respond_all(200, b"[1234]"));
    assert_eq!(Auth::new(options).unwrap().time().unwrap(), 1234);
}

#[test]
fn a_body_over_the_limit_fails_the_request() {
    static BIG: [u8; 20_000_000] = [b' '; 20_000_000];
    let (options, _) = with_script(respond_all(200, &BIG));
    let error = Auth::new(options).unwrap().time().unwrap_err();
    assert_eq!(error.code, ABLY_ERR_INTERNAL as u32, "{error}");
}

/// Invalid answers are refused with 40003 and fail the waiting call at once, without
/// falling back (a malformed answer); the exchange is consumed, so a second answer is 40003.
#[test]
fn invalid_answers_are_refused_and_fail_the_call() {
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&refusals);
    let (options, host) = with_script(Box::new(move |exchange| {
        // SAFETY: a live exchange; the second call names a consumed one (a handle, never
        // dereferenced).
        let (first, second) = unsafe {
            (
                ably_http_exchange_respond(
                    exchange,
                    42,
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                    std::ptr::null(),
                    0,
                ),
                ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_TLS, std::ptr::null()),
            )
        };
        for error in [first, second] {
            assert!(!error.is_null());
            // SAFETY: owned errors.
            unsafe {
                seen.lock().unwrap().push((*error).code);
                ably_error_info_free(error);
            }
        }
    }));
    let error = Auth::new(options).unwrap().time().unwrap_err();
    assert_eq!(host.sent.load(Ordering::SeqCst), 1);
    assert!(error.message.contains("status"), "{error}");
    assert_eq!(*refusals.lock().unwrap(), vec![40003, 40003]);

    let (options, _) = with_script(Box::new(|exchange| {
        // SAFETY: a live exchange; an unknown kind.
        let error = unsafe { ably_http_exchange_fail(exchange, 99, std::ptr::null()) };
        assert_eq!(unsafe { (*error).code }, 40003);
        unsafe { ably_error_info_free(error) };
    }));
    assert!(Auth::new(options).unwrap().time().is_err());
}

/// Header values need not be UTF-8 and header names may be in any case.
#[test]
fn response_headers_are_read_leniently() {
    let (options, _) = with_script(Box::new(|exchange| {
        let names = [c"X-ABLY-ERRORCODE".as_ptr(), c"X-Odd".as_ptr()];
        let values = [c"40142".as_ptr(), c"caf\xe9".as_ptr()];
        // SAFETY: a live exchange, two headers, no body.
        let error = unsafe {
            ably_http_exchange_respond(
                exchange,
                401,
                names.as_ptr(),
                values.as_ptr(),
                2,
                std::ptr::null(),
                0,
            )
        };
        assert!(error.is_null());
    }));
    let error = Auth::new(options).unwrap().time().unwrap_err();
    assert_eq!(error.code, 40142, "{error}");
}

#[test]
fn getters_on_null_give_nothing() {
    // SAFETY: NULL is allowed everywhere.
    unsafe {
        let null = std::ptr::null_mut();
        assert_eq!(ably_http_exchange_id(null), 0);
        assert!(ably_http_exchange_url(null).is_null());
        assert!(ably_http_exchange_method(null).is_null());
        assert_eq!(ably_http_exchange_header_count(null), 0);
        let (mut n, mut v) = (std::ptr::null(), std::ptr::null());
        assert!(!ably_http_exchange_header(null, 0, &mut n, &mut v));
        let mut len = 7;
        assert!(ably_http_exchange_body(null, &mut len).is_null());
        assert_eq!(len, 0);
        assert_eq!(ably_http_exchange_timeout_ms(null), 0);
        assert_eq!(ably_http_exchange_purpose(null), -1);
        let error =
            ably_http_exchange_respond(null, 200, null.cast(), null.cast(), 0, null.cast(), 0);
        assert_eq!((*error).code, 40003);
        ably_error_info_free(error);
    }
}

// ----- the C options path ------------------------------------------------------------------

unsafe extern "C" fn never_send(_: *mut c_void, exchange: *mut ably_http_exchange) {
    // SAFETY: a live exchange.
    let error =
        unsafe { ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_OTHER, std::ptr::null()) };
    assert!(error.is_null());
}

unsafe extern "C" fn count_free(user_data: *mut c_void) {
    // SAFETY: an Arc<AtomicUsize> leaked by the test for this purpose.
    unsafe { &*(user_data as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
}

/// Set the never-sending transport on `options`, counting its frees in `freed`.
///
/// # Safety
/// `options` is NULL or live.
unsafe fn set_counting_transport(
    options: *mut ably_auth_options,
    freed: &'static AtomicUsize,
) -> *mut ably_error_info {
    let user_data = freed as *const AtomicUsize as *mut c_void;
    // SAFETY: forwarded; never_send/count_free follow their contracts for this user_data.
    unsafe {
        ably_auth_options_set_http_transport(
            options,
            Some(never_send),
            None,
            user_data,
            Some(count_free),
        )
    }
}

/// Builds C options with a key and a host transport, applies `extra`, and returns what
/// `ably_auth_new` says, with how often free_user_data ran.
fn c_new(extra: impl FnOnce(*mut ably_auth_options)) -> (Option<i32>, usize) {
    let freed: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    // SAFETY: C calls with live options and static strings; the Auth is freed at once.
    unsafe {
        let options = ably_auth_options_new();
        assert!(ably_auth_options_set_key(options, c"app.key:secret".as_ptr()).is_null());
        assert!(set_counting_transport(options, freed).is_null());
        extra(options);
        let mut auth = std::ptr::null_mut();
        let error = ably_auth_new(options, &mut auth);
        let code = (!error.is_null()).then(|| (*error).code);
        ably_error_info_free(error);
        ably_auth_free(auth);
        (code, freed.load(Ordering::SeqCst))
    }
}

#[test]
fn options_only_the_built_in_client_honours_conflict_with_a_host_transport() {
    assert_eq!(c_new(|_| {}), (None, 1));
    // SAFETY: live options, static strings.
    let conflicts: [&dyn Fn(*mut ably_auth_options) -> *mut ably_error_info; 3] = [
        &|o| unsafe { ably_auth_options_add_ca_pem(o, c"-----BEGIN CERTIFICATE-----".as_ptr()) },
        &|o| unsafe { ably_auth_options_add_resolve(o, c"h".as_ptr(), c"127.0.0.1:1".as_ptr()) },
        &|o| unsafe { ably_auth_options_set_timeouts(o, 1000, 5000) },
    ];
    for conflict in conflicts {
        let outcome = c_new(|o| assert!(conflict(o).is_null()));
        assert_eq!(outcome, (Some(ABLY_ERR_BAD_REQUEST), 1));
    }
    // The request timeout alone is the host transport's too.
    let outcome =
        c_new(|o| unsafe { assert!(ably_auth_options_set_timeouts(o, 4000, 5000).is_null()) });
    assert_eq!(outcome, (None, 1));

    let (mut options, _) = with_script(fail_all(ABLY_HTTP_FAIL_OTHER));
    options.transport.proxy = Some("http://127.0.0.1:1".into());
    let error: ErrorInfo = Auth::new(options).unwrap_err();
    assert_eq!(error.code, 40000);
    assert!(error.message.contains("proxy"), "{error}");
}

#[test]
fn a_replaced_transport_is_freed_once_and_a_null_send_is_refused() {
    let freed: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let user_data = freed as *const AtomicUsize as *mut c_void;
    // SAFETY: live options; the functions follow their contracts.
    unsafe {
        let options = ably_auth_options_new();
        for _ in 0..2 {
            assert!(set_counting_transport(options, freed).is_null());
        }
        assert_eq!(freed.load(Ordering::SeqCst), 1, "the replaced one");
        let error =
            ably_auth_options_set_http_transport(options, None, None, user_data, Some(count_free));
        assert_eq!((*error).code, 40003);
        ably_error_info_free(error);
        assert_eq!(freed.load(Ordering::SeqCst), 2, "freed when the call fails");
        ably_auth_options_free(options);
        assert_eq!(freed.load(Ordering::SeqCst), 3);
    }
}

/// A host that keeps every exchange unanswered (in `held`) and can linger inside `send`.
struct Holding {
    held: Mutex<Vec<usize>>,
    sends: AtomicUsize,
    /// Set while a `send` runs; `send` sleeps `linger_ms` before it returns.
    inside: std::sync::atomic::AtomicBool,
    linger_ms: u64,
    outcomes: Mutex<Vec<i32>>,
    /// The ids of the exchanges sent, and those the cancel hook named (with whether it ran
    /// on a library thread).
    ids: Mutex<Vec<u64>>,
    cancels: Mutex<Vec<(u64, bool)>>,
}

impl Holding {
    fn leaked(linger_ms: u64) -> &'static Holding {
        Box::leak(Box::new(Holding {
            held: Mutex::new(Vec::new()),
            sends: AtomicUsize::new(0),
            inside: std::sync::atomic::AtomicBool::new(false),
            linger_ms,
            outcomes: Mutex::new(Vec::new()),
            ids: Mutex::new(Vec::new()),
            cancels: Mutex::new(Vec::new()),
        }))
    }
}

unsafe extern "C" fn holding_send(user_data: *mut c_void, exchange: *mut ably_http_exchange) {
    // SAFETY: a leaked Holding.
    let host = unsafe { &*(user_data as *const Holding) };
    host.inside.store(true, Ordering::SeqCst);
    host.sends.fetch_add(1, Ordering::SeqCst);
    host.held.lock().unwrap().push(exchange as usize);
    // SAFETY: the exchange passed to this send, not answered yet.
    host.ids
        .lock()
        .unwrap()
        .push(unsafe { ably_http_exchange_id(exchange) });
    std::thread::sleep(Duration::from_millis(host.linger_ms));
    host.inside.store(false, Ordering::SeqCst);
}

unsafe extern "C" fn holding_cancel(user_data: *mut c_void, id: u64) {
    // SAFETY: a leaked Holding.
    let host = unsafe { &*(user_data as *const Holding) };
    let library_thread = std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with("ably-auth"));
    host.cancels.lock().unwrap().push((id, library_thread));
}

unsafe extern "C" fn record_done(
    user_data: *mut c_void,
    details: *mut ably_token_details,
    error: *mut ably_error_info,
) {
    // SAFETY: a leaked Holding; the outputs are ours to free.
    unsafe {
        let host = &*(user_data as *const Holding);
        let code = if error.is_null() { 0 } else { (*error).code };
        host.outcomes.lock().unwrap().push(code);
        ably_token_details_free(details);
        ably_error_info_free(error);
    }
}

/// A C Auth (key, token auth, 120 s request timeout) sending through `host`, with one
/// non-blocking authorize started whose exchange the host holds.
fn auth_waiting_on(host: &'static Holding) -> (*mut ably_auth, *mut ably_call) {
    let user_data = host as *const Holding as *mut c_void;
    // SAFETY: live builders, static strings; the functions follow their contracts.
    unsafe {
        let options = ably_auth_options_new();
        assert!(ably_auth_options_set_key(options, c"app.key:secret".as_ptr()).is_null());
        assert!(ably_auth_options_set_use_token_auth(options, true).is_null());
        assert!(ably_auth_options_set_timeouts(options, 4000, 120_000).is_null());
        let error = ably_auth_options_set_http_transport(
            options,
            Some(holding_send),
            Some(holding_cancel),
            user_data,
            None,
        );
        assert!(error.is_null());
        let mut auth = std::ptr::null_mut();
        assert!(ably_auth_new(options, &mut auth).is_null());
        let mut call = std::ptr::null_mut();
        let error = ably_auth_authorize_async(
            auth,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            Some(record_done),
            user_data,
            None,
            &mut call,
        );
        assert!(error.is_null());
        (auth, call)
    }
}

/// Answers every held exchange (after the Auth stopped waiting) and returns the codes the
/// answers got.
fn answer_held(host: &Holding) -> Vec<i32> {
    let held = std::mem::take(&mut *host.held.lock().unwrap());
    held.into_iter()
        .map(|exchange| {
            // SAFETY: an exchange the host still owns.
            unsafe {
                let error = ably_http_exchange_fail(
                    exchange as *mut ably_http_exchange,
                    ABLY_HTTP_FAIL_OTHER,
                    std::ptr::null(),
                );
                let code = if error.is_null() { 0 } else { (*error).code };
                ably_error_info_free(error);
                code
            }
        })
        .collect()
}

#[test]
fn shutdown_stops_waiting_for_the_host_transport() {
    let host = Holding::leaked(0);
    let (auth, call) = auth_waiting_on(host);
    eventually("a send", || host.sends.load(Ordering::SeqCst) == 1);
    // SAFETY: a live Auth and call.
    unsafe {
        // The worker waits for an exchange with 120 s left; shutdown wakes it (the 60 s
        // drain bound is a hang guard: only waiting for the timeout could exceed it).
        let error = ably_auth_shutdown(auth, 60_000);
        assert!(
            error.is_null(),
            "the worker was not woken: {}",
            (*error).code
        );
        assert_eq!(*host.outcomes.lock().unwrap(), vec![ABLY_ERR_CANCELLED]);
        ably_call_free(call);
        ably_auth_free(auth);
    }
    assert_eq!(
        answer_held(host),
        vec![ABLY_ERR_CANCELLED],
        "a late answer is refused"
    );
    assert_eq!(host.sends.load(Ordering::SeqCst), 1);
}

#[test]
fn free_waits_for_a_send_in_progress_and_the_host_is_not_called_afterwards() {
    let host = Holding::leaked(300);
    let (auth, call) = auth_waiting_on(host);
    // Free while the worker is inside the host's send (it lingers there 300 ms).
    eventually("the worker inside send", || {
        host.inside.load(Ordering::SeqCst)
    });
    // SAFETY: a live Auth and call; no call on the Auth is in progress on another thread
    // (the worker's send is the library's own call into the host).
    unsafe {
        ably_call_free(call);
        ably_auth_free(auth);
    }
    assert!(
        !host.inside.load(Ordering::SeqCst),
        "ably_auth_free returned while the host's send was still running"
    );
    let sends = host.sends.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        host.sends.load(Ordering::SeqCst),
        sends,
        "a send after free"
    );
    assert_eq!(answer_held(host), vec![ABLY_ERR_CANCELLED]);
    assert_eq!(*host.outcomes.lock().unwrap(), vec![ABLY_ERR_CANCELLED]);
}

#[test]
fn cancelling_a_call_cancels_the_exchange_it_waits_for() {
    let host = Holding::leaked(0);
    let (auth, call) = auth_waiting_on(host);
    eventually("a send", || host.sends.load(Ordering::SeqCst) == 1);
    let id = host.ids.lock().unwrap()[0];
    // SAFETY: a live call.
    assert!(unsafe { ably_call_cancel(call) });
    // The worker stops waiting for the exchange (120 s left), and the host hears of it on a
    // library thread (not the one that cancelled), so that it can abort the request.
    eventually("the cancel hook", || {
        !host.cancels.lock().unwrap().is_empty()
    });
    assert_eq!(*host.cancels.lock().unwrap(), vec![(id, true)]);
    eventually("the outcome", || !host.outcomes.lock().unwrap().is_empty());
    assert_eq!(*host.outcomes.lock().unwrap(), vec![ABLY_ERR_CANCELLED]);
    // SAFETY: a live Auth and call; the worker no longer waits (so shutdown drains).
    unsafe {
        let error = ably_auth_shutdown(auth, 60_000); // a hang guard
        assert!(error.is_null(), "the worker still waits: {}", (*error).code);
        ably_call_free(call);
        ably_auth_free(auth);
    }
    assert_eq!(answer_held(host), vec![ABLY_ERR_CANCELLED]);
}
