//! One handle shared by many threads: single flight per expiry, no deadlock, and callbacks
//! (authCallback, listeners) that call back into the same Auth.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock, Weak};
use std::time::Duration;

use ably_auth::{
    Auth, AuthEvent, ManualClock, Method, TokenMaterial, TokenParams, auth_callback_fn,
};
use common::*;

const HOUR_MS: u64 = 3_600_000;
/// How long a test waits for a thread that should finish at once before calling it stuck.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// 16 threads call `authorization_header` on one handle through 5 token lifetimes: exactly
/// one requestToken per lifetime, every thread sees the token of its round, nobody hangs.
///
/// The loopback server stamps `issued` with its real clock while the ManualClock jumps two
/// hours per round, so each new token moves the learnt server offset back by two hours, and
/// the previous token, by that offset, looks valid again. It once flaked here ("one token
/// seen in round 4: left 2, right 1"): a thread read the offset the fetch had just learnt
/// before the new token was stored, and got the old token back. The deterministic version
/// of that interleaving is `an_offset_learnt_mid_fetch_does_not_revive_the_expired_token`.
#[test]
fn sixteen_threads_one_fetch_per_expiry() {
    let server = http_server();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut options = key_options(&server);
    options.auth.use_token_auth = Some(true);
    let auth = Arc::new(with_clock(options, &clock));
    for round in 1..=5 {
        let barrier = Arc::new(Barrier::new(16));
        let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let (finished_tx, finished_rx) = std::sync::mpsc::channel();
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (auth, barrier, seen, finished) = (
                    Arc::clone(&auth),
                    Arc::clone(&barrier),
                    Arc::clone(&seen),
                    finished_tx.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..200 {
                        let header = auth.authorization_header().expect("a token");
                        seen.lock().unwrap().insert(bearer_token(&header));
                    }
                    let _ = finished.send(());
                })
            })
            .collect();
        drop(finished_tx);
        for _ in 0..16 {
            // A hang guard, not a performance bound: the threads finish in well under a second.
            finished_rx
                .recv_timeout(HANG_GUARD)
                .unwrap_or_else(|_| panic!("hang guard: a thread of round {round} is stuck"));
        }
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
}

/// A clock standing still (as [`ManualClock`]) that, once armed, runs a probe at the first
/// read after the server offset of its Auth moved: inside a token fetch, that is right after
/// the offset learnt from the new token's `issued` is stored and before the new token is.
struct ProbingClock {
    inner: ManualClock,
    auth: OnceLock<Weak<Auth>>,
    /// The offset before the fetch; the probe runs once it differs.
    armed_at_offset: Mutex<Option<Option<i64>>>,
    /// What the probe saw: the cached header (Ok) or the error code.
    probe: Mutex<Option<Result<String, u32>>>,
}

impl ably_auth::Clock for ProbingClock {
    fn now_ms(&self) -> u64 {
        let auth = self.auth.get().and_then(Weak::upgrade);
        if let Some(auth) = auth {
            let mut armed = self.armed_at_offset.lock().unwrap();
            if armed.is_some_and(|before| before != auth.server_time_offset()) {
                *armed = None; // disarmed before probing: the probe reads this clock too
                drop(armed);
                let seen = auth
                    .cached_authorization_header()
                    .map(|h| bearer_token(&h))
                    .map_err(|e| e.code);
                *self.probe.lock().unwrap() = Some(seen);
            }
        }
        self.inner.now_ms()
    }
}

/// A token that counted as expired is never handed out again, even when the server offset
/// learnt by the fetch replacing it moves back so far that the token looks valid by it (a
/// local clock that ran ahead of the server's). The probe reads the cache at the moment the
/// fetch has stored the new offset but not yet the new token.
#[test]
fn an_offset_learnt_mid_fetch_does_not_revive_the_expired_token() {
    let server = http_server();
    let clock = Arc::new(ProbingClock {
        inner: ManualClock::new(1_700_000_000_000),
        auth: OnceLock::new(),
        armed_at_offset: Mutex::new(None),
        probe: Mutex::new(None),
    });
    let mut options = key_options(&server);
    options.auth.use_token_auth = Some(true);
    options.renew_ahead = false; // only this test's calls read the clock
    let auth =
        common::new_auth_with_clock(options, Arc::clone(&clock) as Arc<dyn ably_auth::Clock>)
            .expect("valid options");
    clock.auth.set(Arc::downgrade(&auth)).unwrap();
    let first = bearer_token(&auth.authorization_header().expect("first token"));
    // Two hours later by the local clock: the first token (one hour) has expired.
    clock.inner.advance(2 * HOUR_MS);
    *clock.armed_at_offset.lock().unwrap() = Some(auth.server_time_offset());
    let second = bearer_token(&auth.authorization_header().expect("second token"));
    assert_ne!(first, second, "the expired token was replaced");
    assert_eq!(server.tokens_issued(), 2);
    let probe = clock.probe.lock().unwrap().clone();
    match probe {
        None => panic!("the fetch never moved the server offset: the test does not test"),
        Some(Ok(token)) => assert_ne!(
            token, first,
            "the expired token was handed out again while its replacement was being stored"
        ),
        Some(Err(code)) => assert_eq!(code, ably_auth::core::error::codes::NO_VALID_TOKEN),
    }
    // And afterwards the new token is in use, by the offset it brought.
    let cached = auth
        .cached_authorization_header()
        .expect("the new token is cached");
    assert_eq!(bearer_token(&cached), second);
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
    let details = auth
        .authorize(None, None)
        .expect("token via the re-entrant callback");
    assert!(details.token.starts_with("lbtk-"));
    // Refused at once: a wait on itself would have ended at the fetch deadline with
    // TIMEOUT instead.
    assert_eq!(
        *inner_attempt.lock().unwrap(),
        Some(Err(ably_auth::core::error::codes::REENTRANT_CALL))
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
