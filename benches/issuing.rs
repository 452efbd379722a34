//! Per-call cost of issuing: createTokenRequest and JWT creation through the Rust API and
//! the C ABI, beside a bare HMAC-SHA256 of the same string-to-sign, in one run.
//!
//! Run: `cargo bench --bench issuing` (or `benches/run.sh`). Prints the median of 31
//! samples for each case and the ratios to the bare HMAC. No external harness: the
//! measurement is a timed loop over `std::hint::black_box`ed calls, warm.

use std::ffi::{CStr, c_char};
use std::hint::black_box;
use std::ptr;

use ::ably_auth::ffi::*;
use ::ably_auth::{Auth, ClientOptions, TokenParams};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use support::measure;

mod support;

const KEY: &str = "appId.keyId:keySecret";
const CAPABILITY: &str = r#"{"channel2":["subscribe"],"channel1":["subscribe","publish"]}"#;

fn check(err: *mut ably_error_info) {
    if !err.is_null() {
        // SAFETY: a live error from the library.
        let message = unsafe { CStr::from_ptr((*err).message) };
        panic!("unexpected error: {message:?}");
    }
}

fn c_params() -> *mut ably_token_params {
    let params = ably_token_params_new();
    // SAFETY: live params and NUL-terminated strings.
    unsafe {
        check(ably_token_params_set_ttl(params, 3_600_000));
        check(ably_token_params_set_capability(
            params,
            c"{\"channel2\":[\"subscribe\"],\"channel1\":[\"subscribe\",\"publish\"]}".as_ptr(),
        ));
        check(ably_token_params_set_client_id(
            params,
            c"client-1".as_ptr(),
        ));
    }
    params
}

fn main() {
    let string_to_sign = format!(
        "appId.keyId\n3600000\n{}\nclient-1\n1234567890000\nabcdefghijklmnop\n",
        r#"{"channel1":["publish","subscribe"],"channel2":["subscribe"]}"#
    );
    let mut rows: Vec<(&str, f64)> = Vec::new();

    rows.push((
        "bare HMAC-SHA256 (key set up per call, base64 mac)",
        measure(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(b"keySecret")).unwrap();
            mac.update(black_box(string_to_sign.as_bytes()));
            let digest = mac.finalize().into_bytes();
            black_box(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                digest,
            ));
        }),
    ));

    let params = TokenParams {
        ttl: Some(3_600_000),
        capability: Some(CAPABILITY.into()),
        client_id: Some("client-1".into()),
        ..Default::default()
    };
    let auth = Auth::new(ClientOptions::from_key(KEY).unwrap()).unwrap();
    rows.push((
        "Rust createTokenRequest (explicit params)",
        measure(|| {
            black_box(
                auth.create_token_request(Some(black_box(&params)), None)
                    .unwrap(),
            );
        }),
    ));
    rows.push((
        "core capability canonicalize (breakdown)",
        measure(|| {
            black_box(::ably_auth::core::capability::canonicalize(black_box(CAPABILITY)).unwrap());
        }),
    ));
    let no_cap = TokenParams {
        capability: None,
        ..params.clone()
    };
    rows.push((
        "Rust createTokenRequest without capability (breakdown)",
        measure(|| {
            black_box(
                auth.create_token_request(Some(black_box(&no_cap)), None)
                    .unwrap(),
            );
        }),
    ));
    rows.push((
        "nonce generation (breakdown)",
        measure(|| {
            black_box(::ably_auth::core::sign::generate_nonce());
        }),
    ));
    rows.push((
        "Rust createTokenRequest + to_json",
        measure(|| {
            black_box(
                auth.create_token_request(Some(black_box(&params)), None)
                    .unwrap()
                    .to_json(),
            );
        }),
    ));
    rows.push((
        "Rust create_jwt",
        measure(|| {
            black_box(auth.create_jwt(Some(black_box(&params)), None).unwrap());
        }),
    ));

    // C ABI: an ably_auth whose default params hold the same ttl/capability/clientId.
    let options = ably_auth_options_new();
    let mut c_auth: *mut ably_auth = ptr::null_mut();
    // SAFETY: live builders, valid out-pointer.
    unsafe {
        check(ably_auth_options_set_key(
            options,
            c"appId.keyId:keySecret".as_ptr(),
        ));
        check(ably_auth_options_set_default_token_params(
            options,
            c_params(),
        ));
        check(ably_auth_new(options, &mut c_auth));
    }
    let c_request = |params: *mut ably_token_params| {
        let mut request: *mut ably_token_request = ptr::null_mut();
        let mut json: *mut c_char = ptr::null_mut();
        // SAFETY: live handles and valid out-pointers.
        unsafe {
            check(ably_auth_create_token_request(c_auth, params, &mut request));
            check(ably_token_request_to_json(request, &mut json));
            black_box(json);
            ably_string_free(json);
            ably_token_request_free(request);
        }
    };
    rows.push((
        "C ABI create_token_request + to_json (default params)",
        measure(|| c_request(ptr::null_mut())),
    ));
    rows.push((
        "C ABI params built per call + create + to_json",
        measure(|| c_request(c_params())),
    ));
    rows.push((
        "C ABI create_jwt (default params)",
        measure(|| {
            let mut jwt: *mut c_char = ptr::null_mut();
            // SAFETY: live handle and valid out-pointer.
            unsafe {
                check(ably_auth_create_jwt(c_auth, ptr::null_mut(), &mut jwt));
                ably_string_free(black_box(jwt));
            }
        }),
    ));
    // SAFETY: freed once, after its last use.
    unsafe { ably_auth_free(c_auth) };

    let floor = rows[0].1;
    println!("| case | median ns/call | ÷ bare HMAC |");
    println!("|---|---:|---:|");
    for (name, ns) in &rows {
        println!("| {name} | {ns:.0} | {:.2} |", ns / floor);
    }
}
