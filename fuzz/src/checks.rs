//! The checking functions behind every fuzz target, one per parser or boundary.
//!
//! Each takes arbitrary bytes, runs them through the library and panics when a property
//! fails. The same functions run under libFuzzer (`fuzz/fuzz_targets/*.rs`, nightly) and in
//! the stable replay tests, which feed them every file under `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/`. This file depends only on `ably_auth`, `serde_json` and
//! `std`, so the root crate's tests can include it by path.

#![allow(clippy::missing_panics_doc)]

use std::ffi::{CStr, c_char};
use std::ptr;

use ably_auth::core::capability::{self, is_well_formed_operation};
use ably_auth::core::material::{self, MAX_TOKEN_MATERIAL_BYTES, RevocationOutcome, TokenMaterial};
use ably_auth::ffi;
use ably_auth::{ApiKey, Capability, ErrorInfo, TokenDetails, TokenParams, TokenRequest};

/// A check: panics when the input breaks a property.
pub type Check = fn(&[u8]);

/// Every target: its name (the directory under `corpus/` and `regressions/`) and check.
pub const TARGETS: &[(&str, Check)] = &[
    ("token_details", token_details),
    ("token_request", token_request),
    ("token_params", token_params),
    ("capability", capability),
    ("api_key", api_key),
    ("auth_material", auth_material),
    ("error_body", error_body),
    ("time_body", time_body),
    ("revocation_body", revocation_body),
    ("ffi_strings", ffi_strings),
];

/// The check for the target named `name`.
pub fn target(name: &str) -> Option<Check> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

fn assert_code(e: &ErrorInfo, code: u32, status: u16, what: &str) {
    assert_eq!(
        (e.code, e.status_code),
        (code, status),
        "{what}: unexpected error {e:?}"
    );
    // Display and the help URL never panic, whatever the message holds.
    let _ = e.to_string();
    let _ = e.help_url();
}

/// `TokenDetails::from_json`: accepted details have a token and survive `to_json` unchanged;
/// rejections are 40003/400; Debug never depends on the token.
pub fn token_details(data: &[u8]) {
    let Some(json) = text(data) else { return };
    match TokenDetails::from_json(json) {
        Ok(details) => {
            assert!(!details.token.is_empty(), "accepted an empty token");
            let written = details.to_json();
            assert_eq!(
                TokenDetails::from_json(&written).as_ref(),
                Ok(&details),
                "to_json does not parse back equal: {written}"
            );
            let value: serde_json::Value =
                serde_json::from_str(&written).expect("to_json writes JSON");
            assert_eq!(TokenDetails::from_value(&value).as_ref(), Ok(&details));
            let mut other = details.clone();
            other.token = "T".into();
            assert_eq!(
                format!("{details:?}"),
                format!("{other:?}"),
                "Debug shows the token"
            );
            let _ = details.is_expired_at(u64::MAX, u64::MAX);
        }
        Err(e) => assert_code(&e, 40003, 0, "TokenDetails::from_json"),
    }
}

/// `TokenRequest::from_json`: round trip through `to_json`; Debug never shows the mac.
pub fn token_request(data: &[u8]) {
    let Some(json) = text(data) else { return };
    match TokenRequest::from_json(json) {
        Ok(request) => {
            let written = request.to_json();
            assert_eq!(
                TokenRequest::from_json(&written).as_ref(),
                Ok(&request),
                "to_json does not parse back equal: {written}"
            );
            let value: serde_json::Value =
                serde_json::from_str(&written).expect("to_json writes JSON");
            assert_eq!(TokenRequest::from_value(&value).as_ref(), Ok(&request));
            if let Some(ttl) = request.ttl {
                assert!(ttl > 0, "accepted a zero ttl");
            }
            let mut other = request.clone();
            other.mac = request.mac.as_ref().map(|_| "M".into());
            assert_eq!(
                format!("{request:?}"),
                format!("{other:?}"),
                "Debug shows the mac"
            );
        }
        Err(e) => assert_code(&e, 40003, 0, "TokenRequest::from_json"),
    }
}

/// `TokenParams::from_json`: round trip through `to_json`; query parameters name only the
/// fields that are set.
pub fn token_params(data: &[u8]) {
    let Some(json) = text(data) else { return };
    match TokenParams::from_json(json) {
        Ok(params) => {
            let written = params.to_json();
            assert_eq!(
                TokenParams::from_json(&written).as_ref(),
                Ok(&params),
                "to_json does not parse back equal: {written}"
            );
            let value: serde_json::Value =
                serde_json::from_str(&written).expect("to_json writes JSON");
            assert_eq!(TokenParams::from_value(&value).as_ref(), Ok(&params));
            let set = usize::from(params.ttl.is_some())
                + usize::from(params.capability.is_some())
                + usize::from(params.client_id.is_some())
                + usize::from(params.timestamp.is_some())
                + usize::from(params.nonce.is_some());
            assert_eq!(params.to_query_params().len(), set);
            if let Some(ttl) = params.ttl {
                assert!(ttl > 0, "accepted a zero ttl");
            }
        }
        Err(e) => assert_code(&e, 40003, 0, "TokenParams::from_json"),
    }
}

fn utf16_less(a: &str, b: &str) -> bool {
    a.encode_utf16().lt(b.encode_utf16())
}

/// Capability parse and canonicalisation: `canonicalize` and `Capability::parse` agree, the
/// canonical form is a fixed point, compact JSON of known operations, sorted (UTF-16 order)
/// without duplicates.
pub fn capability(data: &[u8]) {
    let Some(json) = text(data) else { return };
    let canonical = capability::canonicalize(json);
    let parsed = Capability::parse(json);
    match (&canonical, &parsed) {
        (Ok(canon), Ok(cap)) => {
            assert_eq!(&cap.to_canonical_json(), canon);
            assert_eq!(cap.to_string(), *canon);
            assert_eq!(
                capability::canonicalize(canon).as_ref(),
                Ok(canon),
                "the canonical form is not a fixed point"
            );
            assert_eq!(Capability::parse(canon).as_ref(), Ok(cap));
            let value: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(canon).expect("the canonical form is a JSON object");
            assert_eq!(
                serde_json::to_string(&value)
                    .expect("a map serialises")
                    .len(),
                canon.len(),
                "the canonical form is not compact: {canon}"
            );
            let entries: Vec<(&str, &[String])> = cap.entries().collect();
            assert!(!entries.is_empty());
            assert_eq!(entries.len(), value.len());
            for pair in entries.windows(2) {
                assert!(
                    utf16_less(pair[0].0, pair[1].0),
                    "resources not sorted: {canon}"
                );
            }
            for (resource, ops) in &entries {
                assert!(!resource.is_empty());
                assert!(!ops.is_empty());
                assert!(ops.len() == 1 || !ops.iter().any(|op| op == "*"));
                for op in *ops {
                    assert!(
                        is_well_formed_operation(op),
                        "not an operation name: {op:?}"
                    );
                }
                for pair in ops.windows(2) {
                    assert!(
                        utf16_less(&pair[0], &pair[1]),
                        "operations not sorted: {canon}"
                    );
                }
            }
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "canonicalize and Capability::parse disagree");
            assert_code(a, 40003, 0, "capability");
        }
        _ => panic!("canonicalize {canonical:?} and Capability::parse {parsed:?} disagree"),
    }
}

/// The secret with every non-white-space character replaced by a different one: same
/// length in characters, same white space, no `:`, so validity cannot change.
fn disguise(secret: &str) -> String {
    secret
        .chars()
        .map(|c| match c {
            c if c.is_whitespace() => c,
            'x' => 'y',
            _ => 'x',
        })
        .collect()
}

/// `ApiKey::parse`: nothing it reports depends on the secret part (the text after the first
/// `:`): the same key with a disguised secret gives the same verdict, the same error message
/// and the same Debug/Display, so neither can contain the secret.
pub fn api_key(data: &[u8]) {
    let Some(key) = text(data) else { return };
    let split = key.split_once(':');
    let disguised = match split {
        Some((name, secret)) => format!("{name}:{}", disguise(secret)),
        None => key.to_owned(),
    };
    match (ApiKey::parse(key), ApiKey::parse(&disguised)) {
        (Ok(parsed), Ok(other)) => {
            let (name, secret) = split.expect("a valid key has a ':'");
            assert_eq!(parsed.name(), name);
            assert_eq!(parsed.secret(), secret);
            assert!(name.contains('.') && !secret.is_empty());
            assert_eq!(
                format!("{parsed:?}"),
                format!("{other:?}"),
                "Debug shows the secret"
            );
            assert_eq!(
                parsed.to_string(),
                other.to_string(),
                "Display shows the secret"
            );
            assert!(parsed.basic_authorization().starts_with("Basic "));
            assert_eq!(parsed.sign_raw(b"x").len(), 32);
        }
        (Err(e), Err(other)) => {
            assert_code(&e, 40101, 401, "ApiKey::parse");
            assert_eq!(e, other, "the error depends on the secret");
        }
        (a, b) => panic!(
            "validity depends on the secret's characters: {:?} vs {:?}",
            a.map(|k| k.to_string()),
            b.map(|k| k.to_string())
        ),
    }
}

fn check_material(material: &TokenMaterial) {
    match material {
        TokenMaterial::Token(token) => {
            assert_eq!(
                TokenMaterial::token_string(token).as_ref(),
                Ok(material),
                "an accepted token string is not accepted again"
            );
            assert!(!token.is_empty() && token.trim() == token);
            assert!(!token.starts_with('{') && token != "null" && token != "undefined");
            assert!(!token.chars().any(|c| c.is_control() || c == ' '));
        }
        TokenMaterial::Details(details) => {
            assert!(!details.token.is_empty());
            assert_eq!(
                TokenMaterial::from_json(&details.to_json()).as_ref(),
                Ok(material),
                "TokenDetails material does not round trip"
            );
        }
        TokenMaterial::Request(request) => {
            // A request classified by a `"mac": null` member has no mac to write back, so
            // only signed ones can be reclassified from their own JSON.
            if request.mac.is_some() {
                assert_eq!(
                    TokenMaterial::from_json(&request.to_json()).as_ref(),
                    Ok(material),
                    "TokenRequest material does not round trip"
                );
            }
        }
    }
}

/// authUrl/authCallback response classification. Input: `content-type\nbody`; without a
/// line feed there is no Content-Type and the whole input is the body. Accepted material is
/// well formed and consistent with the Content-Type; every rejection is 40170/401.
pub fn auth_material(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            Some(String::from_utf8_lossy(&data[..i]).into_owned()),
            &data[i + 1..],
        ),
        None => (None, data),
    };
    let result = TokenMaterial::from_auth_url_response(content_type.as_deref(), body);
    let lower = content_type.unwrap_or_default().to_ascii_lowercase();
    match &result {
        Ok(material) => {
            assert!(body.len() <= MAX_TOKEN_MATERIAL_BYTES);
            let body = std::str::from_utf8(body).expect("accepted bodies are UTF-8");
            check_material(material);
            if lower.contains("application/json") {
                assert_eq!(result, TokenMaterial::from_json(body));
            } else {
                assert!(lower.contains("text/plain") || lower.contains("application/jwt"));
                assert_eq!(result, TokenMaterial::token_string(body));
            }
        }
        Err(e) => assert_code(e, 40170, 401, "from_auth_url_response"),
    }
    if let Some(body) = text(body) {
        for result in [
            TokenMaterial::from_json(body),
            TokenMaterial::token_string(body),
        ] {
            match result {
                Ok(material) => check_material(&material),
                Err(e) => assert_code(&e, 40170, 401, "TokenMaterial"),
            }
        }
    }
}

/// Error responses. Input: `status\nX-Ably-ErrorCode\nX-Ably-ErrorMessage\nbody` (an empty
/// or missing header line is an absent header; the status is mapped into 400..=599).
/// The result always has a code and a status; an `ErrorInfo` parsed from the body survives
/// a serde round trip.
pub fn error_body(data: &[u8]) {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let status_line = parts.next().unwrap_or_default();
    let header_line = |line: Option<&[u8]>| {
        line.filter(|l| !l.is_empty())
            .map(|l| String::from_utf8_lossy(l).into_owned())
    };
    let code_header = header_line(parts.next());
    let message_header = header_line(parts.next());
    let body = parts.next().unwrap_or_default();
    let parsed_status = String::from_utf8_lossy(status_line)
        .trim()
        .parse::<u32>()
        .unwrap_or(0);
    let status = 400 + (parsed_status % 200) as u16;
    let error = material::error_from_response(
        status,
        |name| match name {
            "x-ably-errorcode" => code_header.clone(),
            "x-ably-errormessage" => message_header.clone(),
            _ => None,
        },
        body,
    );
    assert_ne!(error.code, 0, "no code: {error:?}");
    assert_ne!(error.status_code, 0, "no status: {error:?}");
    let _ = error.to_string();
    let _ = error.help_url();
    let _ = error.is_token_error();
    if let Some(json) = text(body)
        && let Ok(info) = ErrorInfo::from_json(json)
    {
        let written = serde_json::to_string(&info).expect("ErrorInfo serialises");
        assert_eq!(
            ErrorInfo::from_json(&written).as_ref(),
            Ok(&info),
            "ErrorInfo does not round trip: {written}"
        );
        let _ = info.to_string();
    }
}

/// `/time` bodies: a result is a positive number of milliseconds; a rejection is 50000/500.
pub fn time_body(data: &[u8]) {
    match material::parse_time(data) {
        Ok(ms) => assert!(ms > 0),
        Err(e) => assert_code(&e, 50000, 500, "parse_time"),
    }
}

/// revokeTokens bodies: the counts match the outcomes; a rejection is 50000/500.
pub fn revocation_body(data: &[u8]) {
    match material::parse_revocation_result(data) {
        Ok(result) => {
            let failures = result
                .results
                .iter()
                .filter(|o| matches!(o, RevocationOutcome::Failure { .. }))
                .count();
            assert_eq!(result.failure_count, failures);
            assert_eq!(
                result.success_count + result.failure_count,
                result.results.len()
            );
            for outcome in &result.results {
                if let RevocationOutcome::Failure { error, .. } = outcome {
                    let _ = error.to_string();
                }
            }
        }
        Err(e) => assert_code(&e, 50000, 500, "parse_revocation_result"),
    }
}

/// Check a C error: code and status as given, a message that is a C string, and free it.
///
/// # Safety
/// `error` is a non-NULL error returned by the library.
unsafe fn take_c_error(error: *mut ffi::ably_error_info) -> (i32, i32, String) {
    assert!(!error.is_null());
    // SAFETY: the library returned it; message is never NULL.
    let e = unsafe { &*error };
    assert!(!e.message.is_null(), "error message is NULL");
    // SAFETY: a NUL-terminated string owned by the error.
    let message = unsafe { CStr::from_ptr(e.message) }
        .to_string_lossy()
        .into_owned();
    if !e.href.is_null() {
        // SAFETY: as above.
        let _ = unsafe { CStr::from_ptr(e.href) };
    }
    let fields = (e.code, e.status_code, message);
    // SAFETY: freed once.
    unsafe { ffi::ably_error_info_free(error) };
    fields
}

/// The expected C outcome for `text` given the Rust result: success, or the error's code,
/// status and message (40003 for invalid UTF-8).
fn expected<T>(
    text: Option<&str>,
    rust: impl FnOnce(&str) -> Result<T, ErrorInfo>,
) -> Option<(i32, i32)> {
    match text {
        None => Some((40003, 0)),
        Some(t) => rust(t)
            .err()
            .map(|e| (e.code as i32, i32::from(e.status_code))),
    }
}

fn c_str_opt(ptr: *const c_char) -> Option<String> {
    // SAFETY: the library's getters return NULL or a NUL-terminated string.
    (!ptr.is_null()).then(|| {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    })
}

/// The C ABI entry points that parse strings. Input: one selector byte, then arbitrary bytes
/// (invalid UTF-8 included), passed as a NUL-terminated copy. The outcome matches the Rust
/// API on the text up to the first NUL; nothing leaks (LeakSanitizer), nothing crashes.
pub fn ffi_strings(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut owned = rest.to_vec();
    owned.push(0);
    let c_text = CStr::from_bytes_until_nul(&owned).expect("NUL-terminated");
    let text = c_text.to_str().ok();
    let arg = c_text.as_ptr();
    // SAFETY: every pointer passed is NULL, a live handle or a NUL-terminated string.
    unsafe {
        match selector % 4 {
            0 => {
                let mut out = ptr::null_mut();
                let err = ffi::ably_token_details_from_json(arg, &mut out);
                let want = expected(text, TokenDetails::from_json);
                if err.is_null() {
                    assert_eq!(want, None, "C accepted what Rust rejects");
                    assert!(!out.is_null());
                    let rust = TokenDetails::from_json(text.unwrap()).unwrap();
                    let token = c_str_opt(ffi::ably_token_details_token(out));
                    // NULL when the token holds a NUL byte (documented).
                    let want_token = (!rust.token.contains('\0')).then_some(rust.token.as_str());
                    assert_eq!(token.as_deref(), want_token);
                    let _ = c_str_opt(ffi::ably_token_details_capability(out));
                    let _ = c_str_opt(ffi::ably_token_details_client_id(out));
                    let _ = ffi::ably_token_details_expires(out);
                    let _ = ffi::ably_token_details_issued(out);
                    let _ = ffi::ably_token_details_is_expired(out, i64::MAX, i64::MAX);
                    let mut json = ptr::null_mut();
                    let err = ffi::ably_token_details_to_json(out, &mut json);
                    assert!(err.is_null());
                    assert_eq!(c_str_opt(json), Some(rust.to_json()));
                    ffi::ably_string_free(json);
                    ffi::ably_token_details_free(out);
                } else {
                    assert!(out.is_null(), "output written on error");
                    let (code, status, _) = take_c_error(err);
                    assert_eq!(want, Some((code, status)));
                }
            }
            1 => {
                let mut out = ptr::null_mut();
                let err = ffi::ably_token_request_from_json(arg, &mut out);
                let want = expected(text, TokenRequest::from_json);
                if err.is_null() {
                    assert_eq!(want, None, "C accepted what Rust rejects");
                    assert!(!out.is_null());
                    let rust = TokenRequest::from_json(text.unwrap()).unwrap();
                    let want_name =
                        (!rust.key_name.contains('\0')).then_some(rust.key_name.as_str());
                    assert_eq!(
                        c_str_opt(ffi::ably_token_request_key_name(out)).as_deref(),
                        want_name
                    );
                    let _ = c_str_opt(ffi::ably_token_request_capability(out));
                    let _ = c_str_opt(ffi::ably_token_request_client_id(out));
                    let _ = c_str_opt(ffi::ably_token_request_nonce(out));
                    let _ = c_str_opt(ffi::ably_token_request_mac(out));
                    let _ = ffi::ably_token_request_ttl(out);
                    let _ = ffi::ably_token_request_timestamp(out);
                    let mut json = ptr::null_mut();
                    let err = ffi::ably_token_request_to_json(out, &mut json);
                    assert!(err.is_null());
                    assert_eq!(c_str_opt(json), Some(rust.to_json()));
                    ffi::ably_string_free(json);
                    ffi::ably_token_request_free(out);
                } else {
                    assert!(out.is_null(), "output written on error");
                    let (code, status, _) = take_c_error(err);
                    assert_eq!(want, Some((code, status)));
                }
            }
            2 => {
                let params = ffi::ably_token_params_new();
                let err = ffi::ably_token_params_set_capability(params, arg);
                let want = expected(text, capability::canonicalize);
                if err.is_null() {
                    assert_eq!(want, None, "C accepted what Rust rejects");
                } else {
                    let (code, status, _) = take_c_error(err);
                    assert_eq!(want, Some((code, status)));
                }
                ffi::ably_token_params_free(params);
            }
            _ => match (c_set_key_error(c_text), text) {
                (None, text) => {
                    assert!(ApiKey::parse(text.expect("accepted keys are UTF-8")).is_ok());
                }
                (Some((code, status, message)), None) => {
                    // Invalid UTF-8: the same message as for any other invalid UTF-8, so
                    // nothing of the input is quoted.
                    assert_eq!((code, status), (40003, 0));
                    let reference = c_set_key_error(c"app.key:\xff").expect("invalid UTF-8");
                    assert_eq!(message, reference.2, "the message depends on the key");
                }
                (Some((code, status, message)), Some(key)) => {
                    // The Rust message, which `api_key` proves independent of the secret.
                    let rust = ApiKey::parse(key).expect_err("C rejected a valid key");
                    assert_eq!((code, status), (40101, 401));
                    assert_eq!(message, rust.message, "C and Rust messages differ");
                }
            },
        }
    }
}

/// The error `ably_auth_options_set_key` gives for `key`, freed; None on success.
fn c_set_key_error(key: &CStr) -> Option<(i32, i32, String)> {
    // SAFETY: a fresh builder and a NUL-terminated string.
    unsafe {
        let options = ffi::ably_auth_options_new();
        let err = ffi::ably_auth_options_set_key(options, key.as_ptr());
        let result = (!err.is_null()).then(|| take_c_error(err));
        ffi::ably_auth_options_free(options);
        result
    }
}
