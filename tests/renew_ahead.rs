//! Renewal ahead of expiry (issue 12) against the loopback server, mostly with tokens of
//! 4 s: the expiry margin is capped at half a token's life (2 s), so renewal starts after
//! about 1 s.
//! The waits below are hang guards, not timings: each test polls for an outcome.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ably_auth::auth_callback_fn;
use ably_auth::core::error::codes;
use ably_auth::{Auth, AuthEvent, ErrorInfo, TokenMaterial, TokenParams};
use common::*;

const TTL_MS: u64 = 4_000;

/// How long a shutdown may wait for the library's threads: a hang guard, not a speed target.
const DRAIN_GUARD: Duration = Duration::from_secs(60);

/// Poll `done` until it holds, at most 15 s (a hang guard).
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What the listeners heard, in order: `Ok(token)` or `Err(code)`.
fn record_events(auth: &Auth) -> Arc<Mutex<Vec<Result<String, u32>>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    auth.add_listener(move |event| {
        let entry = match event {
            AuthEvent::TokenChanged(details) => Ok(details.token.clone()),
            AuthEvent::Failed(error) => Err(error.code),
        };
        sink.lock().unwrap().push(entry);
    });
    events
}

/// An Auth whose authCallback gets tokens of `ttl` ms from `server`, failing from call
/// `fail_from` on.
fn callback_auth(
    server: &LoopbackServer,
    ttl: u64,
    fail_from: usize,
) -> (Arc<Auth>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut options = options_for(server);
    let signer = token_auth_with_key(server);
    options.auth.auth_callback = Some(auth_callback_fn(move |_params: &TokenParams| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= fail_from {
            return Err(ErrorInfo::new(0, 0, "backend down"));
        }
        signer
            .request_token(
                Some(&TokenParams {
                    ttl: Some(ttl),
                    ..TokenParams::default()
                }),
                None,
            )
            .map(TokenMaterial::Details)
    }));
    (common::new_auth(options).expect("options"), calls)
}

#[test]
fn renewal_ahead_puts_a_new_token_in_use_before_the_old_one_expires() {
    let server = http_server();
    let (auth, calls) = callback_auth(&server, TTL_MS, usize::MAX);
    let events = record_events(&auth);
    let first = auth
        .authorize(None, None)
        .expect("first token")
        .token
        .clone();
    eventually("a renewal in the background", || {
        events.lock().unwrap().len() >= 2
    });
    let events = events.lock().unwrap().clone();
    assert_eq!(events[0], Ok(first.clone()));
    assert!(matches!(&events[1], Ok(t) if *t != first), "{events:?}");
    assert!(calls.load(Ordering::SeqCst) >= 2);
    let header = auth.cached_authorization_header().expect("a valid token");
    assert_ne!(bearer_token(&header), first, "the renewed token is in use");
}

#[test]
fn failed_renewal_is_reported_and_retried_while_the_old_token_serves() {
    let server = http_server();
    // 10 s tokens: usable 5 s, renewal from 2.5 s, retried after 1 s: the first token is
    // still valid when the third call to the callback has failed.
    let (auth, calls) = callback_auth(&server, 10_000, 2); // renewals fail
    let events = record_events(&auth);
    let first = auth
        .authorize(None, None)
        .expect("first token")
        .token
        .clone();
    eventually("a failed renewal reported and retried", || {
        calls.load(Ordering::SeqCst) >= 3
    });
    let heard = events.lock().unwrap().clone();
    assert_eq!(heard[0], Ok(first.clone()));
    assert!(
        heard[1..]
            .iter()
            .all(|e| *e == Err(codes::AUTH_CALLBACK_FAILED)),
        "{heard:?}"
    );
    // The old token is still within its life: the header serves it, no error thrown.
    let header = auth
        .authorization_header()
        .expect("the old token, still valid");
    assert_eq!(bearer_token(&header), first);
}

#[test]
fn renewal_racing_authorize_keeps_the_newest_and_listeners_hear_it_last() {
    let server = http_server();
    let (auth, _calls) = callback_auth(&server, TTL_MS, usize::MAX);
    let events = record_events(&auth);
    auth.authorize(None, None).expect("first token");
    // Authorize again and again around the renewal's start (about 1 s in).
    let deadline = Instant::now() + Duration::from_millis(1600);
    while Instant::now() < deadline {
        auth.authorize(None, None).expect("authorize");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A renewal may be finishing right now, its listeners not yet called: stop renewing and
    // wait for the library's threads, so every announcement has been made.
    auth.shutdown(Some(DRAIN_GUARD)).expect("drained");
    let in_use = auth.token_details().expect("a token").token.clone();
    let heard = events.lock().unwrap().clone();
    assert_eq!(
        heard.last(),
        Some(&Ok(in_use)),
        "the last token announced is the one in use: {heard:?}"
    );
}

#[test]
fn no_renewal_after_shutdown() {
    let server = http_server();
    let (auth, calls) = callback_auth(&server, TTL_MS, usize::MAX);
    auth.authorize(None, None).expect("first token");
    auth.shutdown(Some(DRAIN_GUARD)).expect("drained");
    let before = calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500)); // past the renewal's start
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "no fetch after shutdown"
    );
    assert_eq!(
        auth.authorize(None, None).unwrap_err().code,
        codes::SHUT_DOWN
    );
}

// ----- issue 20 item 4: renewal ahead is bounded whatever the token server answers -----
//
// Each test counts authCallback calls over a fixed idle time and asserts a bound on the
// count. Before the floor, a token that counted as expired on arrival was renewed at once,
// for ever (hundreds of thousands of calls a second). With the floor (1 s, doubled per token
// in a row of no use, so 2 s then 4 s here) at most 2 renewals fit in 3 s, whatever the
// machine's speed: a slow machine only makes fewer calls.

/// The idle time over which calls are counted.
const WINDOW: Duration = Duration::from_secs(3);
/// The most authCallback calls the window allows: the first token, the renewals at 2 s and
/// (not in 3 s, but allowed for slack) 6 s, and one more for good measure.
const MOST_CALLS: usize = 4;

/// An event heard: `Ok(token)` or `Err((code, message))`.
type HeardEvent = Result<String, (u32, String)>;

/// What an Auth heard: events, and the log lines at warn or info.
struct Heard {
    events: Arc<Mutex<Vec<HeardEvent>>>,
    lines: Arc<Mutex<Vec<(ably_auth::LogLevel, String)>>>,
}

/// An Auth (default 15 s margin) whose authCallback answers `answer()`, counting the calls.
fn counting_auth(
    answer: impl Fn() -> ably_auth::TokenDetails + Send + Sync + 'static,
) -> (Arc<Auth>, Arc<AtomicUsize>, Heard) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut options = ably_auth::ClientOptions::default();
    options.auth.auth_callback = Some(auth_callback_fn(move |_params: &TokenParams| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(TokenMaterial::Details(answer()))
    }));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    options.logger = Some(ably_auth::Logger {
        level: ably_auth::LogLevel::Info,
        sink: Arc::new(move |level, line: &str| {
            sink.lock().unwrap().push((level, line.to_owned()));
        }),
    });
    let auth = Auth::new(options).expect("options");
    let events = Arc::new(Mutex::new(Vec::new()));
    let heard = Arc::clone(&events);
    auth.add_listener(move |event| {
        let entry = match event {
            AuthEvent::TokenChanged(details) => Ok(details.token.clone()),
            AuthEvent::Failed(error) => Err((error.code, error.message.clone())),
        };
        heard.lock().unwrap().push(entry);
    });
    (auth, calls, Heard { events, lines })
}

fn token_expiring_in(token: &str, ms: u64, issued: Option<u64>) -> ably_auth::TokenDetails {
    let mut details = ably_auth::TokenDetails::from_token(token);
    details.expires = Some(now_ms() + ms);
    details.issued = issued;
    details
}

/// Authorize, stay idle for the window, and check the count and what was said about it.
fn assert_bounded(auth: &Auth, calls: &AtomicUsize, heard: &Heard, why: &str) {
    auth.authorize(None, None)
        .expect("a token, valid for a few seconds");
    std::thread::sleep(WINDOW);
    let count = calls.load(Ordering::SeqCst);
    auth.shutdown(Some(DRAIN_GUARD)).expect("drained");
    assert!(
        (1..=MOST_CALLS).contains(&count),
        "{count} authCallback calls in {WINDOW:?} ({why})"
    );
    let events = heard.events.lock().unwrap().clone();
    let failure = events
        .iter()
        .find_map(|e| e.as_ref().err())
        .unwrap_or_else(|| panic!("no auth-failed event saying why: {events:?}"));
    assert_eq!(failure.0, codes::TOKEN_EXPIRED, "{failure:?}");
    assert!(
        failure.1.contains(why) && failure.1.contains("renewal ahead waits"),
        "{failure:?}"
    );
    let lines = heard.lines.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|(level, line)| *level == ably_auth::LogLevel::Warn && line.contains(why)),
        "no warning saying why: {lines:?}"
    );
}

#[test]
fn tokens_shorter_than_the_margin_without_issued_renew_no_sooner_than_the_floor() {
    // 5 s tokens, no `issued`: the 15 s margin cannot be capped, so each counts as expired
    // on arrival.
    let n = Arc::new(AtomicUsize::new(0));
    let (auth, calls, heard) = counting_auth(move || {
        let i = n.fetch_add(1, Ordering::SeqCst);
        token_expiring_in(&format!("short-{i}"), 5_000, None)
    });
    assert_bounded(&auth, &calls, &heard, "counts as expired on arrival");
}

#[test]
fn a_lagging_token_server_does_not_make_renewal_spin() {
    // The token server's clock is 59 min 55 s behind: its 60-minute tokens expire 5 s from
    // now by the library's clock, their `issued` long past.
    let n = Arc::new(AtomicUsize::new(0));
    let (auth, calls, heard) = counting_auth(move || {
        let i = n.fetch_add(1, Ordering::SeqCst);
        let issued = now_ms() - 3_595_000;
        let mut details = token_expiring_in(&format!("lagging-{i}"), 5_000, Some(issued));
        details.expires = Some(issued + 3_600_000);
        details
    });
    assert_bounded(&auth, &calls, &heard, "counts as expired on arrival");
}

#[test]
fn a_server_that_repeats_its_token_is_asked_no_sooner_than_the_floor() {
    // A caching token server hands out the same token, 8 s from expiry, again and again.
    let cached = token_expiring_in("cached", 8_000, None);
    let (auth, calls, heard) = counting_auth(move || cached.clone());
    assert_bounded(&auth, &calls, &heard, "counts as expired on arrival");
}

#[test]
fn a_repeated_token_far_from_its_margin_backs_off_and_is_logged() {
    // A token server that caches 10 s tokens (issued known, so usable for 5 s): renewal
    // ahead at half the usable life gets the same token back; the floor doubles.
    let issued = now_ms();
    let mut cached = ably_auth::TokenDetails::from_token("cached-10s");
    cached.issued = Some(issued);
    cached.expires = Some(issued + 10_000);
    let (auth, calls, heard) = counting_auth(move || cached.clone());
    auth.authorize(None, None).expect("first token");
    std::thread::sleep(WINDOW);
    let count = calls.load(Ordering::SeqCst);
    auth.shutdown(Some(DRAIN_GUARD)).expect("drained");
    assert!((1..=MOST_CALLS).contains(&count), "{count} calls");
    if count > 1 {
        let lines = heard.lines.lock().unwrap().clone();
        assert!(
            lines
                .iter()
                .any(|(_, l)| l.contains("already in use again")),
            "{lines:?}"
        );
    }
}
