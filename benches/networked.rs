//! Networked costs against the loopback Ably-compatible server (tests/support), in one run:
//! requestToken round trips over a reused and over a fresh connection, and the cached-token
//! `Authorization` header on one and on two threads.
//!
//! Run: `cargo bench --bench networked`. Prints medians of 31 samples. With
//! `ABLY_LOOPBACK_URL=http://127.0.0.1:PORT` (an `ably-loopback-server` with its default key,
//! as benches/peers/run.sh starts it) the round trips go to that server instead of one started
//! in this process, so that the peers and this library talk to the same server.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ably_auth::{Auth, AuthOptions, ClientOptions};
use ably_loopback::{LoopbackServer, ServerConfig};
use support::measure;

mod support;

/// Where the round trips go: a port and an API key.
struct Target {
    port: u16,
    key: String,
    /// The in-process server, when no external one was named.
    server: Option<LoopbackServer>,
}

fn target() -> Target {
    match std::env::var("ABLY_LOOPBACK_URL") {
        Ok(url) => {
            let port = url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .expect("ABLY_LOOPBACK_URL=http://127.0.0.1:PORT");
            Target {
                port,
                key: "appId.keyId:loopbackSecret0123456789".into(),
                server: None,
            }
        }
        Err(_) => {
            let server = LoopbackServer::start(ServerConfig::default());
            Target {
                port: server.port(),
                key: server.key().key_string(),
                server: Some(server),
            }
        }
    }
}

fn options(server: &Target) -> ClientOptions {
    let mut options = ClientOptions::default();
    options.endpoint.endpoint = Some("127.0.0.1".into());
    options.endpoint.tls = false;
    options.endpoint.port = server.port;
    options.auth = AuthOptions::default()
        .with_key(&server.key)
        .expect("loopback key");
    options.auth.use_token_auth = Some(true);
    options
}

/// Calls per second of `f` on each of `threads` threads together, over `window`.
fn rate(threads: usize, window: Duration, f: impl Fn() + Send + Sync + 'static) -> f64 {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                let mut calls = 0u64;
                while start.elapsed() < window {
                    for _ in 0..1000 {
                        f();
                    }
                    calls += 1000;
                }
                calls as f64 / start.elapsed().as_secs_f64()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .sum()
}

fn main() {
    let server = target();
    let mut rows: Vec<(String, f64)> = Vec::new();

    // One Auth: its agent keeps the connection alive between round trips.
    let reused = Auth::new(options(&server)).expect("options");
    rows.push((
        "requestToken round trip, reused connection".into(),
        measure(|| {
            black_box(reused.request_token(None, None).expect("token"));
        }),
    ));
    // A new Auth per call: a new agent, so a new TCP connection every time.
    rows.push((
        "requestToken round trip, fresh connection (new Auth each call)".into(),
        measure(|| {
            let auth = Auth::new(options(&server)).expect("options");
            black_box(auth.request_token(None, None).expect("token"));
        }),
    ));
    let connections = server.server.as_ref().map(LoopbackServer::connections);

    let cached = Auth::new(options(&server)).expect("options");
    cached.authorization_header().expect("first token");
    rows.push((
        "authorization_header, cached token".into(),
        measure(|| {
            black_box(cached.authorization_header().expect("header"));
        }),
    ));

    println!("{:<66} {:>12}", "case", "median");
    for (name, ns) in &rows {
        if *ns >= 10_000.0 {
            println!("{name:<66} {:>9.1} µs", ns / 1000.0);
        } else {
            println!("{name:<66} {:>9.1} ns", ns);
        }
    }
    if let Some(connections) = connections {
        println!("(loopback server connections accepted: {connections})");
    }

    let window = Duration::from_millis(500);
    let mut one = Vec::new();
    let mut two = Vec::new();
    for _ in 0..5 {
        let a = Arc::clone(&cached);
        one.push(rate(1, window, move || {
            black_box(a.authorization_header().expect("header"));
        }));
        let a = Arc::clone(&cached);
        two.push(rate(2, window, move || {
            black_box(a.authorization_header().expect("header"));
        }));
    }
    one.sort_by(f64::total_cmp);
    two.sort_by(f64::total_cmp);
    let (one, two) = (one[2], two[2]);
    println!(
        "authorization_header calls/s: 1 thread {:.2} M, 2 threads {:.2} M, scaling {:.2}x",
        one / 1e6,
        two / 1e6,
        two / one
    );
}
