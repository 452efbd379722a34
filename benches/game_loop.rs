//! A game loop against the loopback Ably-compatible server: one thread asks for the
//! `Authorization` header 1000 times a second while tokens of 20 s are renewed through an
//! authCallback that takes 1.5 s to answer. Reports, after the first token, the maximum,
//! p99.9 and p99 header latency, how many calls took over 1 ms (a call that waited on a token
//! fetch takes ~1.5 s; one descheduled by the OS can too), how many token fetches the game
//! thread led (counted exactly: the authCallback running on it), and how many renewals
//! happened.
//!
//! Run: `cargo bench --bench game_loop` (60 s). `GAME_LOOP_SECONDS=N` changes the length;
//! `GAME_LOOP_RENEW_AHEAD=0` turns renewal ahead off, to see the stalls it removes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ably_auth::auth_callback_fn;
use ably_auth::{Auth, AuthEvent, AuthOptions, ClientOptions, TokenMaterial, TokenParams};
use ably_loopback::{LoopbackServer, ServerConfig};

const CALLBACK_DELAY: Duration = Duration::from_millis(1500);
const TOKEN_TTL_MS: u64 = 20_000;

fn main() {
    let seconds: u64 = std::env::var("GAME_LOOP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let renew_ahead = std::env::var("GAME_LOOP_RENEW_AHEAD").map_or(true, |v| v != "0");
    let server = LoopbackServer::start(ServerConfig::default());

    // The game's backend: signs TokenRequests with the key (what an authUrl would do).
    let signer_options = ClientOptions {
        auth: AuthOptions::default()
            .with_key(&server.key().key_string())
            .expect("loopback key"),
        ..ClientOptions::default()
    };
    let signer = Auth::new(signer_options).expect("signer");

    let mut options = ClientOptions::default();
    options.endpoint.endpoint = Some("127.0.0.1".into());
    options.endpoint.tls = false;
    options.endpoint.port = server.port();
    options.renew_ahead = renew_ahead;
    // Token fetches made by the game thread itself: each one is a header call that waited.
    let game_thread = std::thread::current().id();
    let foreground = Arc::new(AtomicUsize::new(0));
    let foreground_fetches = Arc::clone(&foreground);
    options.auth.auth_callback = Some(auth_callback_fn(move |_params: &TokenParams| {
        if std::thread::current().id() == game_thread {
            foreground_fetches.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(CALLBACK_DELAY); // a slow backend
        let params = TokenParams {
            ttl: Some(TOKEN_TTL_MS),
            ..TokenParams::default()
        };
        signer
            .create_token_request(Some(&params), None)
            .map(TokenMaterial::Request)
    }));
    let auth = Auth::new(options).expect("game auth");
    let tokens = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&tokens);
    auth.add_listener(move |event| {
        if let AuthEvent::TokenChanged(_) = event {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });

    // The first token: the one wait a game accepts (at start, before play).
    let first = Instant::now();
    auth.authorization_header().expect("first token");
    let first_wait = first.elapsed();

    let fetched_before_loop = foreground.load(Ordering::Relaxed);
    let total = seconds * 1000;
    let mut latencies = Vec::with_capacity(total as usize);
    let mut errors = 0u64;
    let start = Instant::now();
    for tick in 0..total {
        let due = start + Duration::from_millis(tick);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let before = Instant::now();
        let header = auth.authorization_header();
        latencies.push(before.elapsed());
        if header.is_err() {
            errors += 1;
        }
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let over_1ms = latencies
        .iter()
        .filter(|l| **l > Duration::from_millis(1))
        .count();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "game loop: {} header calls over {:.1} s at 1000/s, renewal ahead {}, authCallback {} ms, token ttl {} s",
        latencies.len(),
        elapsed.as_secs_f64(),
        if renew_ahead { "on" } else { "off" },
        CALLBACK_DELAY.as_millis(),
        TOKEN_TTL_MS / 1000
    );
    println!(
        "  first token (before the loop): {:.0} ms",
        first_wait.as_secs_f64() * 1e3
    );
    println!(
        "  header latency after the first token: max {:.1} us, p99.9 {:.1} us, p99 {:.1} us, median {:.2} us",
        us(pick(1.0)),
        us(pick(0.999)),
        us(pick(0.99)),
        us(pick(0.5))
    );
    println!(
        "  token fetches led by the game thread: {}; calls over 1 ms (a wait on a fetch, or the thread descheduled): {over_1ms}; errors: {errors}",
        foreground.load(Ordering::Relaxed) - fetched_before_loop
    );
    println!(
        "  renewals during the loop: {}",
        tokens.load(Ordering::Relaxed).saturating_sub(1)
    );
    auth.shutdown(Some(Duration::from_secs(5))).ok();
}
