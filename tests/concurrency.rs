//! One handle shared by many threads: single flight per expiry, no deadlock, and callbacks
//! (authCallback, listeners) that call back into the same Auth.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use ably_auth::{
    Auth, AuthEvent, ManualClock, Method, TokenMaterial, TokenParams, auth_callback_fn,
};
use common::*;

const HOUR_MS: u64 = 3_600_000;

/// 16 threads call `authorization_header` on one handle through 5 token lifetimes: exactly
/// one requestToken per lifetime, every thread sees the token of its round, nobody hangs.
#[test]
fn sixteen_threads_one_fetch_per_expiry() {
    let server = http_server();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut options = key_options(&server);
    options.auth.use_token_auth = Some(true);
    let auth = Arc::new(with_clock(options, &clock));
    let started = Instant::now();
    for round in 1..=5 {
        let barrier = Arc::new(Barrier::new(16));
        let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (auth, barrier, seen) =
                    (Arc::clone(&auth), Arc::clone(&barrier), Arc::clone(&seen));
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..200 {
                        let header = auth.authorization_header().expect("a token");
                        seen.lock().unwrap().insert(bearer_token(&header));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no panic");
        }
        assert_eq!(server.tokens_issued(), round, "one fetch in round {round}");
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "one token seen in round {round}"
        );
        // The next lifetime: the (server-corrected) clock passes the token's expiry.
        clock.advance(2 * HOUR_MS);
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no thread stalled"
    );
}

/// Threads that hit a token error at the same time renew once between them (RSC10 with
/// single flight), and all succeed on the retry.
#[test]
fn concurrent_token_errors_share_one_renewal() {
    let server = http_server();
    let auth = Arc::new(token_auth_with_key(&server));
    auth.authorization_header().unwrap();
    assert_eq!(server.tokens_issued(), 1);
    server.revoke_all_tokens(); // the server now answers 40141 for the current token
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (auth, barrier) = (Arc::clone(&auth), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                auth.request(Method::Get, "/channels/shared", &[], &[], None)
                    .and_then(ably_auth::HttpResponse::error_for_status)
                    .map(|r| r.status)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(
            thread.join().unwrap().expect("retried with a new token"),
            200
        );
    }
    assert_eq!(
        server.tokens_issued(),
        2,
        "one renewal for all eight threads"
    );
}

/// An authCallback that uses the same Auth to sign (createTokenRequest) works; one that asks
/// the same Auth for a token from inside the callback is refused with REENTRANT_CALL
/// (100001; 40170 before the re-entrancy rules existed) instead of waiting on itself.
#[test]
fn auth_callback_reenters_the_same_handle() {
    let server = http_server();
    let slot: Arc<OnceLock<Weak<Auth>>> = Arc::new(OnceLock::new());
    let inner_attempt = Arc::new(Mutex::new(None));
    let mut options = key_options(&server);
    {
        let (slot, inner_attempt) = (Arc::clone(&slot), Arc::clone(&inner_attempt));
        options.auth.auth_callback = Some(auth_callback_fn(move |params: &TokenParams| {
            let auth = slot.get().and_then(Weak::upgrade).expect("auth is alive");
            let nested = auth.authorization_header().map(|_| ()).map_err(|e| e.code);
            *inner_attempt.lock().unwrap() = Some(nested);
            auth.create_token_request(Some(params), None)
                .map(TokenMaterial::Request)
        }));
    }
    let auth = common::new_auth(options).unwrap();
    slot.set(Arc::downgrade(&auth)).unwrap();
    let started = Instant::now();
    let details = auth
        .authorize(None, None)
        .expect("token via the re-entrant callback");
    assert!(details.token.starts_with("lbtk-"));
    assert_eq!(
        *inner_attempt.lock().unwrap(),
        Some(Err(ably_auth::core::error::codes::REENTRANT_CALL))
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no wait on itself"
    );
}

/// Listeners run without locks held: one that reads the token and the header of the same
/// Auth sees the new token; one removed while another fires is not called again.
#[test]
fn listeners_reenter_and_can_be_removed() {
    let server = http_server();
    let auth = Arc::new(token_auth_with_key(&server));
    let weak = Arc::downgrade(&auth);
    let observed = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    {
        let observed = Arc::clone(&observed);
        auth.add_listener(move |event| {
            if let AuthEvent::TokenChanged(details) = event {
                let auth = weak.upgrade().unwrap();
                let current = auth.token_details().unwrap();
                let header = auth.authorization_header().unwrap();
                observed.lock().unwrap().push((
                    details.token.clone(),
                    current.token.clone(),
                    bearer_token(&header),
                ));
            }
        });
    }
    let removable = {
        let calls = Arc::clone(&calls);
        auth.add_listener(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
        })
    };
    auth.authorize(None, None).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(auth.remove_listener(removable).unwrap());
    assert!(!auth.remove_listener(removable).unwrap(), "already removed");
    auth.authorize(None, None).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "removed listener not called"
    );
    let observed = observed.lock().unwrap();
    assert_eq!(observed.len(), 2);
    for (event_token, current, header_token) in observed.iter() {
        assert_eq!(event_token, current);
        assert_eq!(event_token, header_token);
    }
    assert_ne!(
        observed[0].0, observed[1].0,
        "authorize fetched a new token"
    );
}

/// An asynchronous authCallback answered later from another thread; concurrent callers wait
/// for that one answer.
#[test]
fn async_callback_answered_from_another_thread() {
    struct Later {
        calls: AtomicUsize,
        token: String,
    }
    impl ably_auth::AuthCallback for Later {
        fn call(&self, _params: &TokenParams, completion: ably_auth::Completion) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let token = self.token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                completion
                    .complete(Ok(TokenMaterial::Token(token)))
                    .unwrap();
            });
        }
    }
    let server = http_server();
    let minted = server.mint_token(MintSpec::default());
    let callback = Arc::new(Later {
        calls: AtomicUsize::new(0),
        token: minted.token.clone(),
    });
    let mut options = options_for(&server);
    options.auth.auth_callback = Some(callback.clone());
    let auth = common::new_auth(options).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let auth = Arc::clone(&auth);
            std::thread::spawn(move || {
                auth.request(Method::Get, "/channels/later", &[], &[], None)
                    .and_then(ably_auth::HttpResponse::error_for_status)
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().unwrap().status, 200);
    }
    assert_eq!(callback.calls.load(Ordering::SeqCst), 1);
    assert_eq!(auth.token_details().unwrap().token, minted.token);
}
