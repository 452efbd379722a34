//! Signed TokenRequests (RSA9; checklist §2.4).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::capability;
use super::client_id::validate_token_client_id;
use super::error::{ErrorInfo, Result};
use super::key::ApiKey;
use super::token::{TokenParams, TokenRequest};

/// Length in characters of generated nonces (16 random bytes, base64url): RSA9c asks for
/// at least 16 characters.
pub const NONCE_LEN: usize = 22;

/// A fresh nonce: 16 bytes from the thread-local CSPRNG (ChaCha, seeded from the OS),
/// written as 22 base64url characters.
pub fn generate_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The text that is signed: six fields, each followed by a line feed, absent fields empty.
pub fn string_to_sign(
    key_name: &str,
    ttl: Option<u64>,
    capability: Option<&str>,
    client_id: Option<&str>,
    timestamp: u64,
    nonce: &str,
) -> String {
    let mut ttl_buf = itoa_buf();
    let mut ts_buf = itoa_buf();
    let ttl = ttl.map_or("", |t| fmt_u64(t, &mut ttl_buf));
    let ts = fmt_u64(timestamp, &mut ts_buf);
    let parts = [
        key_name,
        ttl,
        capability.unwrap_or(""),
        client_id.unwrap_or(""),
        ts,
        nonce,
    ];
    let mut text = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        text.push_str(part);
        text.push('\n');
    }
    text
}

/// Build and sign a TokenRequest from fully resolved parameters.
///
/// `params` are used as given: ttl and capability stay absent when absent (RSA5, RSA6),
/// the capability is validated and written in canonical form, `timestamp` defaults to
/// `now_ms` and `nonce` to [`generate_nonce`]. The signed values are exactly the sent ones.
///
/// Errors: 40003 for a zero ttl, an invalid capability or a bad nonce; 40012 for a bad clientId.
pub fn create_token_request(
    key: &ApiKey,
    params: &TokenParams,
    now_ms: u64,
) -> Result<TokenRequest> {
    let capability = params
        .capability
        .as_deref()
        .map(capability::canonicalize)
        .transpose()?;
    sign_checked(key, params, capability, now_ms)
}

/// As [`create_token_request`] for params whose capability is already known to be valid and
/// canonical (stored defaults, or C params canonicalised by their setter): the hot path of a
/// token-issuing server skips parsing it again.
pub(crate) fn create_token_request_canonical(
    key: &ApiKey,
    params: &TokenParams,
    now_ms: u64,
) -> Result<TokenRequest> {
    debug_assert!(
        params
            .capability
            .as_deref()
            .is_none_or(|c| capability::canonicalize(c).as_deref() == Ok(c)),
        "capability must already be canonical"
    );
    sign_checked(key, params, params.capability.clone(), now_ms)
}

fn sign_checked(
    key: &ApiKey,
    params: &TokenParams,
    capability: Option<String>,
    now_ms: u64,
) -> Result<TokenRequest> {
    if params.ttl == Some(0) {
        return Err(ErrorInfo::invalid_value(
            "ttl must be a positive number of milliseconds",
        ));
    }
    if let Some(client_id) = &params.client_id {
        validate_token_client_id(client_id)?;
    }
    let nonce = match &params.nonce {
        Some(nonce) => {
            validate_nonce(nonce)?;
            nonce.clone()
        }
        None => generate_nonce(),
    };
    let timestamp = params.timestamp.unwrap_or(now_ms);
    let text = string_to_sign(
        key.name(),
        params.ttl,
        capability.as_deref(),
        params.client_id.as_deref(),
        timestamp,
        &nonce,
    );
    let mac = key.sign(text.as_bytes());
    Ok(TokenRequest {
        key_name: key.name().to_owned(),
        ttl: params.ttl,
        capability,
        client_id: params.client_id.clone(),
        timestamp,
        nonce,
        mac: Some(mac),
    })
}

/// A given nonce must be non-empty and free of line feeds (which would make the signed
/// text ambiguous) and NUL characters. Errors are 40003.
pub fn validate_nonce(nonce: &str) -> Result<()> {
    if nonce.is_empty() || nonce.contains(['\n', '\0']) {
        return Err(ErrorInfo::invalid_value(
            "nonce must be non-empty and contain no line feed or NUL character",
        ));
    }
    Ok(())
}

fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Decimal digits of `n` written into `buf` (no allocation on the signing path).
fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_integers_like_decimal() {
        let mut buf = itoa_buf();
        for n in [0, 7, 10, 1_234_567_890_000, u64::MAX] {
            assert_eq!(fmt_u64(n, &mut buf), n.to_string());
        }
    }

    #[test]
    fn string_to_sign_writes_empty_fields_and_trailing_newline() {
        assert_eq!(
            string_to_sign(
                "appId.keyId",
                None,
                None,
                None,
                1_234_567_890_000,
                "abcdefghijklmnop"
            ),
            "appId.keyId\n\n\n\n1234567890000\nabcdefghijklmnop\n"
        );
    }

    #[test]
    fn generated_nonces_are_long_and_distinct() {
        let a = generate_nonce();
        let b = generate_nonce();
        assert_eq!(a.len(), NONCE_LEN);
        assert!(a.len() >= 16);
        assert_ne!(a, b);
    }
}
