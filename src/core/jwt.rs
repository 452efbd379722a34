//! Ably JWTs (HS256) signed with an API key: a server can hand these to clients instead of
//! TokenRequests. Header `{"typ":"JWT","alg":"HS256","kid":<key name>}`; claims `iat`,
//! `exp`, `x-ably-capability` and, when set, `x-ably-clientId`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::capability;
use super::client_id::validate_token_client_id;
use super::error::{ErrorInfo, Result};
use super::key::ApiKey;
use super::token::TokenParams;

/// Lifetime used when the params give no ttl: Ably's default token lifetime, 60 minutes.
pub const DEFAULT_JWT_TTL_MS: u64 = 60 * 60 * 1000;

/// Capability used when the params give none. `x-ably-capability` is a required claim;
/// Ably intersects it with the key's own capability, so this means "whatever the key allows".
pub const DEFAULT_JWT_CAPABILITY: &str = r#"{"*":["*"]}"#;

#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    #[serde(rename = "x-ably-capability")]
    capability: &'a str,
    #[serde(rename = "x-ably-clientId", skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
}

/// Create an Ably JWT from fully resolved parameters.
///
/// `iat` is `params.timestamp` (or `now_ms`) in whole seconds; `exp` is `iat` plus the ttl
/// (default [`DEFAULT_JWT_TTL_MS`]) in whole seconds. `nonce` is not used by JWTs.
/// Errors: 40003 for a ttl under one second or an invalid capability, 40012 for a bad clientId.
pub fn create_jwt(key: &ApiKey, params: &TokenParams, now_ms: u64) -> Result<String> {
    let ttl_ms = params.ttl.unwrap_or(DEFAULT_JWT_TTL_MS);
    if ttl_ms < 1000 {
        return Err(ErrorInfo::invalid_value(
            "a JWT's ttl must be at least 1000 ms: its times are whole seconds",
        ));
    }
    let capability = match &params.capability {
        Some(text) => capability::canonicalize(text)?,
        None => DEFAULT_JWT_CAPABILITY.to_owned(),
    };
    if let Some(client_id) = &params.client_id {
        validate_token_client_id(client_id)?;
    }
    let iat = params.timestamp.unwrap_or(now_ms) / 1000;
    let claims = Claims {
        iat,
        exp: iat.saturating_add(ttl_ms / 1000),
        capability: &capability,
        client_id: params.client_id.as_deref(),
    };
    let header = Header {
        typ: "JWT",
        alg: "HS256",
        kid: key.name(),
    };
    let mut jwt = String::with_capacity(256);
    URL_SAFE_NO_PAD.encode_string(to_json(&header), &mut jwt);
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(to_json(&claims), &mut jwt);
    let signature = key.sign_raw(jwt.as_bytes());
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
    Ok(jwt)
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("JWT parts always serialise")
}
