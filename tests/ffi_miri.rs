//! The C ABI driven from Rust, as a C program would drive it, with callbacks written as
//! `extern "C" fn`: builders and their setters, params, TokenRequests, JWTs, TokenDetails,
//! errors and their cause chains, owned strings, completions, listeners and freeing an Auth
//! with callbacks registered. Nothing here opens a socket (a key-only or token-only Auth
//! reaches the network only on a networked call), so the whole file runs under Miri:
//!
//!   cargo +nightly miri test --test ffi_miri     (tests/sanitizers.sh miri)
//!
//! Miri turns what C would only see as corruption into a test failure: use after free, double
//! free, leaks (a `free_user_data` that never runs leaks its boxed `Tracker`), data races and
//! aliasing violations. The tests also pass natively, in the ordinary `cargo test`.
//!
//! `user_data` is a boxed [`Tracker`] whose `free_user_data` ([`free_tracker`]) frees the box
//! after recording the free in a [`Counts`] the test keeps, so a second free is a double free
//! and a missing one a leak.

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use ::ably_auth::ffi::*;

const KEY: &CStr = c"appId.keyId:keySecret";

// ----- helpers ------------------------------------------------------------------------------

/// Assert that a call succeeded (NULL error).
#[track_caller]
fn ok(error: *mut ably_error_info) {
    if !error.is_null() {
        let text = format!("{} ({})", message(error), code_of(error));
        // SAFETY: an error returned by the library, freed once.
        unsafe { ably_error_info_free(error) };
        panic!("unexpected error: {text}");
    }
}

/// Assert that a call failed with `code`, then free the error.
#[track_caller]
fn fails_with(error: *mut ably_error_info, code: i32) {
    assert!(!error.is_null(), "expected error {code}, got success");
    let got = code_of(error);
    let text = message(error);
    // SAFETY: an error returned by the library, freed once.
    unsafe { ably_error_info_free(error) };
    assert_eq!(got, code, "unexpected error: {text}");
}

fn code_of(error: *const ably_error_info) -> i32 {
    // SAFETY: a live error.
    unsafe { (*error).code }
}

fn message(error: *const ably_error_info) -> String {
    // SAFETY: a live error; its message is never NULL.
    unsafe { CStr::from_ptr((*error).message) }
        .to_string_lossy()
        .into_owned()
}

/// A borrowed C string as `&str`; `None` for NULL.
fn text<'a>(ptr: *const c_char) -> Option<&'a str> {
    // SAFETY: the library's strings are NUL-terminated UTF-8 and live as long as their handle.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_str().unwrap())
}

/// An owned C string from the library as a `String`; frees it.
fn take_string(ptr: *mut c_char) -> String {
    assert!(!ptr.is_null());
    let owned = text(ptr).unwrap().to_owned();
    // SAFETY: an owned string from the library, freed once.
    unsafe { ably_string_free(ptr) };
    owned
}

/// What the callbacks of one registration did.
#[derive(Default)]
struct Counts {
    calls: AtomicUsize,
    frees: AtomicUsize,
}

impl Counts {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn frees(&self) -> usize {
        self.frees.load(Ordering::SeqCst)
    }
}

/// The `user_data` of one registration: owned by the library until `free_user_data`.
struct Tracker {
    counts: Arc<Counts>,
    /// What an authCallback answers with.
    answer: Answer,
}

#[derive(Clone, Copy)]
enum Answer {
    Token,
    TokenTwice,
    TokenFromAnotherThread,
    Error,
}

/// A boxed tracker as `user_data`, and the counts to watch it by.
fn tracker(answer: Answer) -> (*mut c_void, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let boxed = Box::new(Tracker {
        counts: Arc::clone(&counts),
        answer,
    });
    (Box::into_raw(boxed).cast(), counts)
}

/// `free_user_data` for a [`tracker`]: records the free, then frees the box.
unsafe extern "C" fn free_tracker(user_data: *mut c_void) {
    // SAFETY: a pointer from `tracker`, freed exactly once by the library's contract.
    let boxed = unsafe { Box::from_raw(user_data.cast::<Tracker>()) };
    boxed.counts.frees.fetch_add(1, Ordering::SeqCst);
}

/// # Safety
/// `user_data` is a live [`Tracker`].
unsafe fn tracked<'a>(user_data: *mut c_void) -> &'a Tracker {
    // SAFETY: caller contract.
    let tracker = unsafe { &*user_data.cast::<Tracker>() };
    tracker.counts.calls.fetch_add(1, Ordering::SeqCst);
    tracker
}

/// An authCallback answering as its tracker says.
unsafe extern "C" fn auth_callback(
    user_data: *mut c_void,
    token_params_json: *const c_char,
    completion: *mut ably_auth_completion,
) {
    // SAFETY: registered with a tracker.
    let tracker = unsafe { tracked(user_data) };
    assert!(text(token_params_json).unwrap().starts_with('{'));
    // SAFETY (all answers): `completion` is the live completion of this call.
    match tracker.answer {
        Answer::Token => {
            ok(unsafe { ably_auth_completion_answer_token(completion, c"cb-token".as_ptr()) })
        }
        Answer::TokenTwice => {
            ok(unsafe { ably_auth_completion_answer_token(completion, c"cb-token".as_ptr()) });
            // Answered already: refused, not undefined behaviour.
            fails_with(
                unsafe { ably_auth_completion_answer_token(completion, c"again".as_ptr()) },
                ABLY_ERR_INVALID_ARGUMENT,
            );
        }
        Answer::TokenFromAnotherThread => {
            let completion = SendPtr(completion);
            std::thread::spawn(move || {
                let completion = completion.into_inner();
                ok(unsafe { ably_auth_completion_answer_token(completion, c"cb-token".as_ptr()) });
            })
            .join()
            .unwrap();
        }
        // No code: the library makes it 40170 and keeps this one as the cause (RSA4e).
        Answer::Error => ok(unsafe {
            ably_auth_completion_answer_error(completion, 0, 500, c"not for you".as_ptr())
        }),
    }
}

/// A completion handed to another thread, as C code would.
struct SendPtr(*mut ably_auth_completion);
// SAFETY: the header allows answering a completion from any thread.
unsafe impl Send for SendPtr {}

impl SendPtr {
    /// By value, so that a closure captures the whole `SendPtr` (not its `!Send` field).
    fn into_inner(self) -> *mut ably_auth_completion {
        self.0
    }
}

unsafe extern "C" fn log_sink(user_data: *mut c_void, level: i32, message: *const c_char) {
    // SAFETY: registered with a tracker.
    unsafe { tracked(user_data) };
    assert!((1..=5).contains(&level));
    assert!(!text(message).unwrap().is_empty());
}

unsafe extern "C" fn listener(
    user_data: *mut c_void,
    details: *const ably_token_details,
    error: *const ably_error_info,
) {
    // SAFETY: registered with a tracker.
    unsafe { tracked(user_data) };
    assert!(
        details.is_null() != error.is_null(),
        "exactly one of details and error"
    );
    if !details.is_null() {
        // SAFETY: borrowed for the call.
        assert!(text(unsafe { ably_token_details_token(details) }).is_some());
    }
}

fn options_with_key() -> *mut ably_auth_options {
    let options = ably_auth_options_new();
    // SAFETY: a live builder and a C string.
    ok(unsafe { ably_auth_options_set_key(options, KEY.as_ptr()) });
    options
}

/// An Auth made from `options` plus an authCallback answering `answer`, and its counts.
fn auth_with_callback(
    options: *mut ably_auth_options,
    answer: Answer,
) -> (*mut ably_auth, Arc<Counts>) {
    let (user_data, counts) = tracker(answer);
    // SAFETY: a live builder; the tracker passes to the library with the call.
    ok(unsafe {
        ably_auth_options_set_auth_callback(
            options,
            Some(auth_callback),
            user_data,
            Some(free_tracker),
        )
    });
    (new_auth(options), counts)
}

/// Register a log sink at `level` with a tracker; its counts.
fn set_tracked_log(options: *mut ably_auth_options, level: i32) -> Arc<Counts> {
    let (user_data, counts) = tracker(Answer::Token);
    // SAFETY: a live builder; the tracker passes to the library with the call.
    ok(unsafe {
        ably_auth_options_set_log(
            options,
            Some(log_sink),
            level,
            user_data,
            Some(free_tracker),
        )
    });
    counts
}

/// Add a listener with a tracker; its id and counts.
fn add_tracked_listener(auth: *const ably_auth) -> (u64, Arc<Counts>) {
    let (user_data, counts) = tracker(Answer::Token);
    let mut id = 0;
    // SAFETY: a live Auth; the tracker passes to the library with the call.
    ok(unsafe {
        ably_auth_add_listener(auth, Some(listener), user_data, Some(free_tracker), &mut id)
    });
    (id, counts)
}

/// `authorize` with a token in the options, used as-is (RSA10e: no network); the token in use.
fn authorize_with_token(auth: *const ably_auth, token: &CStr) -> String {
    let mut details = ptr::null_mut();
    // SAFETY: a live Auth; the options are consumed, the details freed once.
    unsafe {
        ok(ably_auth_authorize(
            auth,
            ptr::null_mut(),
            options_with_token(token),
            &mut details,
        ));
        let token = text(ably_token_details_token(details)).unwrap().to_owned();
        ably_token_details_free(details);
        token
    }
}

/// An Auth with the key and the options' clientId `alice`.
fn key_auth_for_alice() -> *mut ably_auth {
    let options = options_with_key();
    // SAFETY: a live builder and a C string.
    ok(unsafe { ably_auth_options_set_client_id(options, c"alice".as_ptr()) });
    new_auth(options)
}

fn options_with_token(token: &CStr) -> *mut ably_auth_options {
    let options = ably_auth_options_new();
    // SAFETY: a live builder and a C string.
    ok(unsafe { ably_auth_options_set_token(options, token.as_ptr()) });
    options
}

fn new_auth(options: *mut ably_auth_options) -> *mut ably_auth {
    let mut auth = ptr::null_mut();
    // SAFETY: options from `ably_auth_options_new`, consumed here.
    ok(unsafe { ably_auth_new(options, &mut auth) });
    assert!(!auth.is_null());
    auth
}

// ----- options and params ---------------------------------------------------------------

#[test]
fn options_setters_take_valid_values_and_refuse_bad_ones() {
    let o = ably_auth_options_new();
    let hosts = [c"a.example.com".as_ptr(), c"b.example.com".as_ptr()];
    // SAFETY: `o` is live until freed below; every string is NUL-terminated.
    unsafe {
        ok(ably_auth_options_set_key(o, KEY.as_ptr()));
        ok(ably_auth_options_set_client_id(o, c"alice".as_ptr()));
        ok(ably_auth_options_set_token(o, c"a-token".as_ptr()));
        ok(ably_auth_options_set_use_token_auth(o, true));
        ok(ably_auth_options_set_auth_url(
            o,
            c"https://auth.example.com/token".as_ptr(),
        ));
        ok(ably_auth_options_set_auth_method(o, c"post".as_ptr()));
        ok(ably_auth_options_add_auth_header(
            o,
            c"X-A".as_ptr(),
            c"1".as_ptr(),
        ));
        ok(ably_auth_options_add_auth_param(
            o,
            c"p".as_ptr(),
            c"v w".as_ptr(),
        ));
        ok(ably_auth_options_set_query_time(o, false));
        ok(ably_auth_options_set_endpoint(o, c"sandbox".as_ptr()));
        ok(ably_auth_options_set_environment(o, c"sandbox".as_ptr()));
        ok(ably_auth_options_set_rest_host(
            o,
            c"rest.example.com".as_ptr(),
        ));
        ok(ably_auth_options_set_fallback_hosts(
            o,
            hosts.as_ptr(),
            hosts.len(),
        ));
        ok(ably_auth_options_set_tls(o, true));
        ok(ably_auth_options_set_port(o, 8080));
        ok(ably_auth_options_set_tls_port(o, 8443));
        ok(ably_auth_options_set_timeouts(o, 1000, 2000));
        ok(ably_auth_options_add_ca_pem(
            o,
            c"-----BEGIN CERTIFICATE-----".as_ptr(),
        ));
        ok(ably_auth_options_add_resolve(
            o,
            c"rest.example.com".as_ptr(),
            c"127.0.0.1:1".as_ptr(),
        ));
        ok(ably_auth_options_set_token_expiry_margin(o, 0));
        ok(ably_auth_options_set_fallback_retry_timeout(o, 600_000));
        ok(ably_auth_options_set_max_retry_count(o, 3));
        ok(ably_auth_options_add_agent(o, c"miri/1.0".as_ptr()));
        ok(ably_auth_options_set_add_request_ids(o, true));

        let bad = ABLY_ERR_INVALID_ARGUMENT;
        fails_with(ably_auth_options_set_token(o, ptr::null()), bad);
        fails_with(ably_auth_options_set_token(o, c"".as_ptr()), bad);
        let not_utf8 = [0xffu8, 0xfe, 0];
        fails_with(
            ably_auth_options_set_client_id(o, not_utf8.as_ptr().cast()),
            bad,
        );
        fails_with(
            ably_auth_options_set_client_id(o, c"*".as_ptr()),
            ABLY_ERR_INVALID_CLIENT_ID,
        );
        fails_with(
            ably_auth_options_set_key(o, c"no-colon".as_ptr()),
            ABLY_ERR_INVALID_CREDENTIALS,
        );
        fails_with(ably_auth_options_set_auth_method(o, c"PUT".as_ptr()), bad);
        fails_with(
            ably_auth_options_add_auth_header(o, c"X".as_ptr(), c"a\r\nb".as_ptr()),
            bad,
        );
        fails_with(ably_auth_options_set_fallback_hosts(o, ptr::null(), 2), bad);
        fails_with(ably_auth_options_set_port(o, 0), bad);
        fails_with(ably_auth_options_set_tls_port(o, 70_000), bad);
        fails_with(ably_auth_options_set_timeouts(o, 0, 1), bad);
        fails_with(
            ably_auth_options_add_resolve(o, c"h".as_ptr(), c"nope".as_ptr()),
            bad,
        );
        fails_with(ably_auth_options_set_max_retry_count(o, -1), bad);
        fails_with(ably_auth_options_add_agent(o, c"two words".as_ptr()), bad);
        fails_with(
            ably_auth_options_set_log(o, None, 3, ptr::null_mut(), None),
            bad,
        );

        ably_auth_options_free(o);
        // Consumed: refused (checked against the live-builder set, never dereferenced).
        fails_with(ably_auth_options_set_tls(o, false), bad);
        ably_auth_options_free(o); // a second free is a no-op
        ably_auth_options_free(ptr::null_mut());
    }
}

#[test]
fn replacing_a_callback_runs_the_earlier_free_user_data_once() {
    let o = ably_auth_options_new();
    let (first_cb, first_cb_counts) = tracker(Answer::Token);
    let (second_cb, second_cb_counts) = tracker(Answer::Token);
    let (first_log, first_log_counts) = tracker(Answer::Token);
    let (second_log, second_log_counts) = tracker(Answer::Token);
    let (refused, refused_counts) = tracker(Answer::Token);
    let cb: ably_auth_callback_fn = Some(auth_callback);
    let free: ably_free_fn = Some(free_tracker);
    // SAFETY: `o` is live until freed; each tracker passes to the library with its call.
    unsafe {
        ok(ably_auth_options_set_auth_callback(o, cb, first_cb, free));
        ok(ably_auth_options_set_auth_callback(o, cb, second_cb, free));
        assert_eq!(
            first_cb_counts.frees(),
            1,
            "the replaced callback's user_data is freed"
        );
        assert_eq!(second_cb_counts.frees(), 0);

        ok(ably_auth_options_set_log(
            o,
            Some(log_sink),
            5,
            first_log,
            free,
        ));
        ok(ably_auth_options_set_log(
            o,
            Some(log_sink),
            1,
            second_log,
            free,
        ));
        assert_eq!(
            first_log_counts.frees(),
            1,
            "the replaced log sink's user_data is freed"
        );
        assert_eq!(second_log_counts.frees(), 0);

        // A failing registration frees its user_data at once and keeps the earlier one.
        fails_with(
            ably_auth_options_set_log(o, Some(log_sink), 9, refused, free),
            ABLY_ERR_INVALID_ARGUMENT,
        );
        assert_eq!(refused_counts.frees(), 1);
        assert_eq!(second_log_counts.frees(), 0);

        ably_auth_options_free(o);
    }
    assert_eq!(second_cb_counts.frees(), 1);
    assert_eq!(second_log_counts.frees(), 1);
    assert_eq!(first_cb_counts.calls() + second_cb_counts.calls(), 0);
}

#[test]
fn token_params_builders() {
    let p = ably_token_params_new();
    let bad = ABLY_ERR_INVALID_ARGUMENT;
    // SAFETY: `p` is live until freed; every string is NUL-terminated.
    unsafe {
        ok(ably_token_params_set_ttl(p, 60_000));
        ok(ably_token_params_set_capability(
            p,
            c"{\"b\":[\"subscribe\"],\"a\":[\"*\"]}".as_ptr(),
        ));
        ok(ably_token_params_set_client_id(p, c"bob".as_ptr()));
        ok(ably_token_params_set_timestamp(p, 1_700_000_000_000));
        ok(ably_token_params_set_nonce(p, c"0123456789abcdef".as_ptr()));
        fails_with(ably_token_params_set_ttl(p, 0), bad);
        fails_with(
            ably_token_params_set_capability(p, c"{not json".as_ptr()),
            bad,
        );
        fails_with(ably_token_params_set_timestamp(p, -1), bad);
        fails_with(ably_token_params_set_nonce(p, c"".as_ptr()), bad);
        fails_with(ably_token_params_set_client_id(p, ptr::null()), bad);
        ably_token_params_free(p);
        fails_with(ably_token_params_set_ttl(p, 1), bad);
        ably_token_params_free(p);
    }
}

// ----- issuing: TokenRequest, JWT ---------------------------------------------------------

#[test]
fn token_request_getters_and_json_round_trip() {
    let auth = key_auth_for_alice();
    let p = ably_token_params_new();
    let mut request = ptr::null_mut();
    let mut json = ptr::null_mut();
    let mut copy = ptr::null_mut();
    // SAFETY: live handles; `p` is consumed by the call; outputs are freed once.
    unsafe {
        ok(ably_token_params_set_ttl(p, 60_000));
        ok(ably_token_params_set_capability(
            p,
            c"{\"b\":[\"subscribe\"],\"a\":[\"*\"]}".as_ptr(),
        ));
        ok(ably_token_params_set_timestamp(p, 1_700_000_000_000));
        ok(ably_token_params_set_nonce(p, c"0123456789abcdef".as_ptr()));
        ok(ably_auth_create_token_request(auth, p, &mut request));
        fails_with(ably_token_params_set_ttl(p, 1), ABLY_ERR_INVALID_ARGUMENT); // consumed

        ok(ably_token_request_to_json(request, &mut json));
        let round = CString::new(take_string(json)).unwrap();
        ok(ably_token_request_from_json(round.as_ptr(), &mut copy));
        for r in [request, copy] {
            assert_eq!(text(ably_token_request_key_name(r)), Some("appId.keyId"));
            assert_eq!(ably_token_request_ttl(r), 60_000);
            assert_eq!(
                text(ably_token_request_capability(r)),
                Some("{\"a\":[\"*\"],\"b\":[\"subscribe\"]}")
            );
            assert_eq!(text(ably_token_request_client_id(r)), Some("alice"));
            assert_eq!(ably_token_request_timestamp(r), 1_700_000_000_000);
            assert_eq!(text(ably_token_request_nonce(r)), Some("0123456789abcdef"));
            assert_eq!(text(ably_token_request_mac(r)).map(str::len), Some(44));
        }
        assert_eq!(
            text(ably_token_request_mac(request)),
            text(ably_token_request_mac(copy))
        );
        ably_token_request_free(copy);
        ably_token_request_free(request);

        // Default params: the clock and the nonce generator.
        ok(ably_auth_create_token_request(
            auth,
            ptr::null_mut(),
            &mut request,
        ));
        assert!(ably_token_request_timestamp(request) > 1_700_000_000_000);
        assert!(text(ably_token_request_nonce(request)).unwrap().len() >= 16);
        ably_token_request_free(request);

        fails_with(
            ably_token_request_from_json(c"{\"keyName\":1}".as_ptr(), &mut request),
            ABLY_ERR_INVALID_ARGUMENT,
        );
        fails_with(
            ably_auth_create_token_request(auth, ptr::null_mut(), ptr::null_mut()),
            ABLY_ERR_INVALID_ARGUMENT,
        );
        assert!(text(ably_token_request_mac(ptr::null())).is_none());
        ably_token_request_free(ptr::null_mut());
        ably_auth_free(auth);
    }
}

#[test]
fn jwt_client_id_and_basic_header() {
    let auth = key_auth_for_alice();
    let mut out = ptr::null_mut();
    // SAFETY: a live Auth; outputs are freed once.
    unsafe {
        ok(ably_auth_create_jwt(auth, ptr::null_mut(), &mut out));
        let jwt = take_string(out);
        assert_eq!(jwt.split('.').count(), 3, "header.claims.signature");

        let p = ably_token_params_new();
        ok(ably_token_params_set_ttl(p, 10));
        fails_with(
            ably_auth_create_jwt(auth, p, &mut out),
            ABLY_ERR_INVALID_ARGUMENT,
        );

        ok(ably_auth_client_id(auth, &mut out));
        assert_eq!(take_string(out), "alice");

        // A key and no token: Basic auth, no network.
        ok(ably_auth_authorization_header(auth, &mut out));
        assert!(take_string(out).starts_with("Basic "));

        let mut details = ptr::null_mut();
        ok(ably_auth_token_details(auth, &mut details));
        assert!(details.is_null(), "no token with Basic auth");
        ably_auth_free(auth);
    }
}

// ----- TokenDetails, errors ---------------------------------------------------------------

#[test]
fn token_details_getters_and_json_round_trip() {
    let json = c"{\"token\":\"tok\",\"expires\":2000000000000,\"issued\":1700000000000,\
                 \"capability\":\"{\\\"*\\\":[\\\"*\\\"]}\",\"clientId\":\"carol\"}";
    let mut details = ptr::null_mut();
    let mut copy = ptr::null_mut();
    let mut out = ptr::null_mut();
    // SAFETY: outputs are live until freed once.
    unsafe {
        ok(ably_token_details_from_json(json.as_ptr(), &mut details));
        ok(ably_token_details_to_json(details, &mut out));
        let round = CString::new(take_string(out)).unwrap();
        ok(ably_token_details_from_json(round.as_ptr(), &mut copy));
        for d in [details, copy] {
            assert_eq!(text(ably_token_details_token(d)), Some("tok"));
            assert_eq!(ably_token_details_expires(d), 2_000_000_000_000);
            assert_eq!(ably_token_details_issued(d), 1_700_000_000_000);
            assert_eq!(
                text(ably_token_details_capability(d)),
                Some("{\"*\":[\"*\"]}")
            );
            assert_eq!(text(ably_token_details_client_id(d)), Some("carol"));
            assert!(!ably_token_details_is_expired(d, 1_900_000_000_000, 0));
            assert!(ably_token_details_is_expired(d, 2_000_000_000_000, 0));
            assert!(ably_token_details_is_expired(d, -1, 0));
        }
        // A token handle seeds the options of a new Auth, which copies it.
        let options = ably_auth_options_new();
        ok(ably_auth_options_set_token_details(options, copy));
        ably_token_details_free(copy);
        let auth = new_auth(options);
        let mut held = ptr::null_mut();
        ok(ably_auth_token_details(auth, &mut held));
        assert_eq!(text(ably_token_details_token(held)), Some("tok"));
        ably_token_details_free(held);
        ably_auth_free(auth);

        ably_token_details_free(details);
        fails_with(
            ably_token_details_from_json(c"[]".as_ptr(), &mut details),
            ABLY_ERR_INVALID_ARGUMENT,
        );
        fails_with(
            ably_token_details_from_json(ptr::null(), &mut details),
            ABLY_ERR_INVALID_ARGUMENT,
        );
        assert!(text(ably_token_details_token(ptr::null())).is_none());
        ably_token_details_free(ptr::null_mut());
    }
}

#[test]
fn an_error_and_its_cause_chain_are_freed_together() {
    // An authCallback that answers with an error: authorize fails with 40170 and the
    // callback's error as the cause.
    let (auth, counts) = auth_with_callback(options_with_key(), Answer::Error);
    let mut details = ptr::null_mut();
    // SAFETY: a live Auth; the error is walked while it lives and freed once.
    unsafe {
        let error = ably_auth_authorize(auth, ptr::null_mut(), ptr::null_mut(), &mut details);
        assert!(!error.is_null() && details.is_null());
        let mut chain = Vec::new();
        let mut next: *const ably_error_info = error;
        while !next.is_null() {
            chain.push(((*next).code, (*next).status_code, message(next)));
            assert!((*next).href.is_null() || text((*next).href).is_some());
            next = (*next).cause;
        }
        ably_error_info_free(error);
        assert_eq!(chain.len(), 2, "{chain:?}");
        assert_eq!(chain[0].0, ABLY_ERR_AUTH_CALLBACK_FAILED);
        assert_eq!((chain[1].0, chain[1].1), (0, 500));
        assert!(chain[1].2.contains("not for you"));
        ably_error_info_free(ptr::null_mut());
        assert_eq!(counts.calls(), 1);
        ably_auth_free(auth);
    }
    assert_eq!(counts.frees(), 1);
}

// ----- completions ------------------------------------------------------------------------

#[test]
fn completions_answered_once_now_twice_or_from_another_thread() {
    for answer in [
        Answer::Token,
        Answer::TokenTwice,
        Answer::TokenFromAnotherThread,
    ] {
        let (auth, counts) = auth_with_callback(ably_auth_options_new(), answer);
        let mut details = ptr::null_mut();
        // SAFETY: a live Auth; outputs freed once.
        unsafe {
            ok(ably_auth_authorize(
                auth,
                ptr::null_mut(),
                ptr::null_mut(),
                &mut details,
            ));
            assert_eq!(text(ably_token_details_token(details)), Some("cb-token"));
            ably_token_details_free(details);
            let mut header = ptr::null_mut();
            ok(ably_auth_authorization_header(auth, &mut header));
            assert!(take_string(header).starts_with("Bearer "));
            assert_eq!(counts.calls(), 1, "the cached token serves the header");
            ably_auth_free(auth);
        }
        assert_eq!(counts.frees(), 1);
    }
    // NULL and never-issued completions are refused.
    // SAFETY: NULL is allowed.
    fails_with(
        unsafe { ably_auth_completion_answer_token(ptr::null_mut(), c"t".as_ptr()) },
        ABLY_ERR_INVALID_ARGUMENT,
    );
}

// ----- listeners and freeing an Auth --------------------------------------------------------

#[test]
fn listeners_hear_authorize_until_removed() {
    let auth = new_auth(options_with_token(c"first"));
    let (kept_id, kept) = add_tracked_listener(auth);
    let (removed_id, removed) = add_tracked_listener(auth);
    assert_ne!(kept_id, removed_id);
    let (refused, refused_counts) = tracker(Answer::Token);
    let mut unused = 0u64;
    // SAFETY: a live Auth; the tracker passes to the library with the call.
    fails_with(
        unsafe { ably_auth_add_listener(auth, None, refused, Some(free_tracker), &mut unused) },
        ABLY_ERR_INVALID_ARGUMENT,
    );
    assert_eq!(
        refused_counts.frees(),
        1,
        "a refused registration frees at once"
    );

    assert_eq!(authorize_with_token(auth, c"second"), "second");
    assert_eq!((kept.calls(), removed.calls()), (1, 1));

    // SAFETY (this block): a live Auth; outputs freed once.
    unsafe {
        ok(ably_auth_remove_listener(auth, removed_id));
        assert_eq!(removed.frees(), 1, "removal frees the user_data");
        fails_with(
            ably_auth_remove_listener(auth, removed_id),
            ABLY_ERR_INVALID_ARGUMENT,
        );
        authorize_with_token(auth, c"third");
        assert_eq!((kept.calls(), removed.calls()), (2, 1));

        let mut header = ptr::null_mut();
        ok(ably_auth_authorization_header(auth, &mut header));
        assert!(take_string(header).starts_with("Bearer "));
        // The token cannot be renewed: dropped, and 40171 says so.
        fails_with(
            ably_auth_token_rejected(auth, ptr::null()),
            ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED,
        );
        assert_eq!(kept.frees(), 0);
        ably_auth_free(auth);
    }
    assert_eq!(
        kept.frees(),
        1,
        "ably_auth_free frees the remaining listener"
    );
}

/// The `user_data` of a listener that removes itself (allowed by the header).
struct SelfRemoving {
    auth: *const ably_auth,
    id: AtomicU64,
    calls: AtomicUsize,
    frees: AtomicUsize,
}

unsafe extern "C" fn self_removing_listener(
    user_data: *mut c_void,
    _details: *const ably_token_details,
    _error: *const ably_error_info,
) {
    // SAFETY: registered with a SelfRemoving that the test keeps alive.
    let this = unsafe { &*user_data.cast::<SelfRemoving>() };
    this.calls.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the Auth outlives its listeners' calls.
    ok(unsafe { ably_auth_remove_listener(this.auth, this.id.load(Ordering::SeqCst)) });
}

unsafe extern "C" fn count_self_removing_free(user_data: *mut c_void) {
    // SAFETY: registered with a SelfRemoving that the test keeps alive.
    let this = unsafe { &*user_data.cast::<SelfRemoving>() };
    this.frees.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_listener_removes_itself_and_is_freed_after_its_call() {
    let auth = new_auth(options_with_token(c"first"));
    let state = SelfRemoving {
        auth,
        id: AtomicU64::new(0),
        calls: AtomicUsize::new(0),
        frees: AtomicUsize::new(0),
    };
    let mut id = 0u64;
    // SAFETY: a live Auth; `state` outlives it.
    ok(unsafe {
        ably_auth_add_listener(
            auth,
            Some(self_removing_listener),
            ptr::from_ref(&state).cast_mut().cast(),
            Some(count_self_removing_free),
            &mut id,
        )
    });
    state.id.store(id, Ordering::SeqCst);
    authorize_with_token(auth, c"second");
    authorize_with_token(auth, c"third");
    assert_eq!(
        state.calls.load(Ordering::SeqCst),
        1,
        "nothing after removal"
    );
    assert_eq!(state.frees.load(Ordering::SeqCst), 1);
    // SAFETY: a live Auth, freed once.
    unsafe { ably_auth_free(auth) };
    assert_eq!(state.frees.load(Ordering::SeqCst), 1);
}

#[test]
fn freeing_an_auth_runs_every_free_user_data_once() {
    let options = options_with_token(c"only");
    let log = set_tracked_log(options, 5);
    let (auth, callback) = auth_with_callback(options, Answer::Token);
    let (_, first) = add_tracked_listener(auth);
    let (_, second) = add_tracked_listener(auth);
    let mut header = ptr::null_mut();
    // SAFETY: a live Auth, freed once; the header is freed once.
    unsafe {
        ok(ably_auth_authorization_header(auth, &mut header));
        assert_eq!(
            take_string(header),
            "Bearer b25seQ==",
            "the given token, base64"
        );
        ably_auth_free(auth);
        ably_auth_free(ptr::null_mut());
    }
    for counts in [&callback, &log, &first, &second] {
        assert_eq!(counts.frees(), 1);
    }
    assert_eq!(callback.calls(), 0, "the given token was still valid");
}

#[test]
fn ably_auth_new_consumes_the_options_also_on_error() {
    let options = ably_auth_options_new(); // no key, token or callback
    let log = set_tracked_log(options, 3);
    let mut auth = ptr::null_mut();
    // SAFETY: a live builder, consumed by ably_auth_new; later calls see it consumed.
    unsafe {
        fails_with(ably_auth_new(options, &mut auth), ABLY_ERR_NO_AUTH_METHOD);
        assert!(auth.is_null());
        assert_eq!(log.frees(), 1);
        fails_with(
            ably_auth_options_set_tls(options, true),
            ABLY_ERR_INVALID_ARGUMENT,
        );
        fails_with(ably_auth_new(options, &mut auth), ABLY_ERR_INVALID_ARGUMENT);
    }
    // A token that cannot be renewed is logged (RSA4a1) at creation.
    let options = options_with_token(c"t");
    let log = set_tracked_log(options, 5);
    // SAFETY: a live Auth, freed once.
    unsafe { ably_auth_free(new_auth(options)) };
    assert!(log.calls() >= 1);
    assert_eq!(log.frees(), 1);
}

#[test]
fn version_and_strings() {
    assert_eq!(text(ably_auth_version()), Some(env!("CARGO_PKG_VERSION")));
    // SAFETY: NULL is a no-op.
    unsafe { ably_string_free(ptr::null_mut()) };
}

// ----- issue 10, items 1 and 2: undefined behaviour today ---------------------------------
//
// Ignored until src/ffi is fixed: Miri reports a Stacked Borrows violation in each (and ASan
// a heap-use-after-free for the first). Remove the `ignore` with the fix, or drop a test if
// the lifecycle rules forbid its pattern.

/// `free_user_data` of an authCallback that frees the options it was registered on.
unsafe extern "C" fn free_the_options(user_data: *mut c_void) {
    // SAFETY: registered with live options.
    unsafe { ably_auth_options_free(user_data.cast()) };
}

/// Issue 10 item 1 (the setter used to write into the options its free_user_data freed).
#[test]
fn replacing_a_callback_whose_free_user_data_frees_the_options() {
    let o = ably_auth_options_new();
    let (second, second_counts) = tracker(Answer::Token);
    // SAFETY: `o` is live when each call starts; the second call's free_user_data frees it.
    unsafe {
        ok(ably_auth_options_set_auth_callback(
            o,
            Some(auth_callback),
            o.cast(),
            Some(free_the_options),
        ));
        let error =
            ably_auth_options_set_auth_callback(o, Some(auth_callback), second, Some(free_tracker));
        if !error.is_null() {
            ably_error_info_free(error);
        }
    }
    assert_eq!(
        second_counts.frees(),
        1,
        "the options are gone, and the new user_data with them"
    );
}

/// `free_user_data` of a listener that calls back into the Auth being freed: it removes
/// the other listener (whose own free runs once) and asks for the header.
struct CallsBack {
    auth: AtomicPtr<ably_auth>,
    other: AtomicU64,
    frees: AtomicUsize,
}

unsafe extern "C" fn free_calls_back(user_data: *mut c_void) {
    // SAFETY: registered with a CallsBack that the test keeps alive.
    let this = unsafe { &*user_data.cast::<CallsBack>() };
    this.frees.fetch_add(1, Ordering::SeqCst);
    let auth = this.auth.load(Ordering::SeqCst);
    let mut header = ptr::null_mut();
    // SAFETY: `auth` is the handle being freed; whatever these answer, they must not be UB.
    unsafe {
        let error = ably_auth_remove_listener(auth, this.other.load(Ordering::SeqCst));
        if !error.is_null() {
            ably_error_info_free(error);
        }
        let error = ably_auth_authorization_header(auth, &mut header);
        if error.is_null() {
            ably_string_free(header);
        } else {
            ably_error_info_free(error);
        }
    }
}

/// Issue 10 item 2 (free_user_data during ably_auth_free used to read the freed Auth).
#[test]
fn a_free_user_data_calling_back_during_ably_auth_free() {
    let options = options_with_token(c"only");
    let log = set_tracked_log(options, 5);
    let auth = new_auth(options);
    let state = CallsBack {
        auth: AtomicPtr::new(auth),
        other: AtomicU64::new(0),
        frees: AtomicUsize::new(0),
    };
    let mut first_id = 0u64;
    // SAFETY: a live Auth, freed once; `state` outlives it.
    unsafe {
        ok(ably_auth_add_listener(
            auth,
            Some(listener),
            ptr::from_ref(&state).cast_mut().cast(),
            Some(free_calls_back),
            &mut first_id,
        ));
        let (other_id, other) = add_tracked_listener(auth);
        state.other.store(other_id, Ordering::SeqCst);
        ably_auth_free(auth);
        assert_eq!(other.frees(), 1);
    }
    assert_eq!(state.frees.load(Ordering::SeqCst), 1);
    assert_eq!(log.frees(), 1);
}
