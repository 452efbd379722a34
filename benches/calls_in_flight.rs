//! What starting a non-blocking call costs on the caller's thread, by the number of calls
//! already in flight (issue 20 item 6): through the C ABI, as a C host makes them, with a
//! host transport that holds every exchange (never answers), so every call stays in
//! flight. One worker thread: the first call holds it inside the transport, the others
//! wait in the queue.
//!
//! For each level (100 and 100,000 calls in flight) a fresh Auth is filled to the level,
//! then each of the next 1,000 starts (`ably_auth_time_async`, fire and forget) is timed on
//! its own; the row gives the median, p99 and max of those starts, pooled over the rounds.
//! Before the fix every start pruned the whole list of calls and woke the completion
//! thread to partition every deadline: the 100,000th start took over 1 ms.
//!
//! Run: `cargo bench --bench calls_in_flight`. `CALLS_IN_FLIGHT_ROUNDS=N` changes the
//! rounds per level (default 5).

use std::ffi::{CStr, c_void};
use std::hint::black_box;
use std::ptr;
use std::sync::Mutex;
use std::time::Instant;

use ::ably_auth::ffi::{
    self, ABLY_HTTP_FAIL_OTHER, ably_auth_free, ably_auth_new, ably_auth_options_new,
    ably_auth_options_set_http_transport, ably_auth_options_set_key,
    ably_auth_options_set_max_calls_in_flight, ably_auth_options_set_renew_ahead,
    ably_auth_options_set_worker_threads, ably_auth_time_async, ably_error_info,
    ably_error_info_free, ably_http_exchange, ably_http_exchange_fail,
};

/// Exchanges the transport holds; answered (refused) after each round.
struct Held(Vec<usize>);

static HELD: Mutex<Held> = Mutex::new(Held(Vec::new()));

unsafe extern "C" fn hold(_user_data: *mut c_void, exchange: *mut ably_http_exchange) {
    HELD.lock().unwrap().0.push(exchange as usize);
}

unsafe extern "C" fn done(_user_data: *mut c_void, _time_ms: i64, error: *mut ably_error_info) {
    // SAFETY: the error is ours to free.
    unsafe { ably_error_info_free(error) };
}

fn ok(err: *mut ably_error_info) {
    if !err.is_null() {
        // SAFETY: a live error from the library.
        let message = unsafe { CStr::from_ptr((*err).message) };
        panic!("unexpected error: {}", message.to_string_lossy());
    }
}

fn new_auth() -> *mut ffi::ably_auth {
    // SAFETY: plain use of the C ABI, each handle used as its contract says.
    unsafe {
        let options = ably_auth_options_new();
        ok(ably_auth_options_set_key(
            options,
            c"appId.keyId:secretsecret".as_ptr(),
        ));
        ok(ably_auth_options_set_worker_threads(options, 1));
        ok(ably_auth_options_set_max_calls_in_flight(
            options, 1_000_000,
        ));
        ok(ably_auth_options_set_renew_ahead(options, false));
        ok(ably_auth_options_set_http_transport(
            options,
            Some(hold),
            None,
            ptr::null_mut(),
            None,
        ));
        let mut auth = ptr::null_mut();
        ok(ably_auth_new(options, &mut auth));
        auth
    }
}

fn start(auth: *mut ffi::ably_auth) {
    // SAFETY: a live Auth; fire and forget (no call handle).
    ok(unsafe { ably_auth_time_async(auth, Some(done), ptr::null_mut(), None, ptr::null_mut()) });
}

/// One round: fill a fresh Auth to `level` calls in flight, then time `measured` starts.
fn round(level: usize, measured: usize, samples: &mut Vec<u64>) {
    let auth = new_auth();
    for _ in 0..level {
        start(black_box(auth));
    }
    for _ in 0..measured {
        let at = Instant::now();
        start(black_box(auth));
        samples.push(at.elapsed().as_nanos() as u64);
    }
    // SAFETY: no call on the handle is in progress; every call completes as cancelled.
    unsafe { ably_auth_free(auth) };
    let held = std::mem::take(&mut HELD.lock().unwrap().0);
    for exchange in held {
        // SAFETY: an exchange the transport was given and has not answered.
        unsafe {
            ably_error_info_free(ably_http_exchange_fail(
                exchange as *mut ably_http_exchange,
                ABLY_HTTP_FAIL_OTHER,
                ptr::null(),
            ));
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let rounds: usize = std::env::var("CALLS_IN_FLIGHT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let measured = 1_000;
    println!("| calls in flight | start: median | p99 | max | fill time per start (mean) |");
    println!("|---:|---:|---:|---:|---:|");
    for level in [100usize, 100_000] {
        let mut samples = Vec::with_capacity(rounds * measured);
        let filled = Instant::now();
        for _ in 0..rounds {
            round(level, measured, &mut samples);
        }
        let per_start_ns =
            filled.elapsed().as_nanos() as f64 / (rounds * (level + measured)) as f64;
        samples.sort_unstable();
        println!(
            "| {level} | {} ns | {} ns | {} ns | {:.0} ns (incl. free and cleanup) |",
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
            samples.last().copied().unwrap_or(0),
            per_start_ns,
        );
    }
}
