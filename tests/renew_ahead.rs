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
    auth.shutdown(Some(Duration::from_secs(10)))
        .expect("drained");
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
    auth.shutdown(Some(Duration::from_secs(5)))
        .expect("drained");
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
