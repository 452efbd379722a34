//! Ably JWTs (HS256) signed with an API key: a server can hand these to clients instead of
//! TokenRequests. Header `{"typ":"JWT","alg":"HS256","kid":<key name>}`; claims `iat`,
//! `exp`, `x-ably-capability` and, when set, `x-ably-clientId` and `x-ably-revocation-key`.
//!
//! Also the other JWT Ably documents (ably.com/docs/auth/token#embedded): an app's own JWT
//! that carries an Ably token (or Ably JWT) under `x-ably-token` in its JOSE header, signed
//! with the app's secret rather than the Ably key ([`embed_token_in_jwt`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

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
    #[serde(
        rename = "x-ably-revocation-key",
        skip_serializing_if = "Option::is_none"
    )]
    revocation_key: Option<&'a str>,
}

/// What an Ably JWT may carry beyond the [`TokenParams`] (a TokenRequest cannot carry these).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwtOptions {
    /// The `x-ably-revocation-key` claim: every JWT with the same value can be revoked at
    /// once with the revocation target `revocationKey:<value>` (RSA17, `revokeTokens`), for
    /// instance all the tokens of one user's devices or of one group. Not a secret; must not
    /// be empty.
    pub revocation_key: Option<String>,
}

impl JwtOptions {
    /// Check the options. Errors: 40003 for an empty revocation key or one with control
    /// characters.
    pub fn validate(&self) -> Result<()> {
        if let Some(key) = &self.revocation_key {
            check_text(key, "a revocation key")?;
        }
        Ok(())
    }
}

fn check_text(text: &str, what: &str) -> Result<()> {
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(ErrorInfo::invalid_value(format!(
            "{what} must be non-empty text without control characters"
        )));
    }
    Ok(())
}

/// Create an Ably JWT from fully resolved parameters.
///
/// `iat` is `params.timestamp` (or `now_ms`) in whole seconds; `exp` is `iat` plus the ttl
/// (default [`DEFAULT_JWT_TTL_MS`]) in whole seconds. `nonce` is not used by JWTs.
/// Errors: 40003 for a ttl under one second, an invalid capability or invalid `options`,
/// 40012 for a bad clientId.
pub fn create_jwt(
    key: &ApiKey,
    params: &TokenParams,
    options: &JwtOptions,
    now_ms: u64,
) -> Result<String> {
    options.validate()?;
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
        revocation_key: options.revocation_key.as_deref(),
    };
    let header = Header {
        typ: "JWT",
        alg: "HS256",
        kid: key.name(),
    };
    Ok(signed(&header, &claims, |input| key.sign_raw(input)))
}

#[derive(Serialize)]
struct EmbeddingHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    #[serde(rename = "x-ably-token")]
    token: &'a str,
}

#[derive(Serialize)]
struct EmbeddingClaims {
    exp: u64,
}

/// An app's own JWT (HS256, signed with `secret`, the app's key for its JWT scheme, not the
/// Ably key) that embeds `token`, an Ably token or Ably JWT, under `x-ably-token` in its JOSE
/// header (ably.com/docs/auth/token#embedded). Its `exp` claim is `token_expires_ms` in whole
/// seconds, rounded down: Ably refuses an outer JWT that outlives the token inside. Ably
/// does not check the outer signature (it has no access to `secret`); the app's own
/// services can. Clients use the result as a token string, like any JWT.
///
/// Errors: 40003 for an empty token or one with control characters or spaces, an expiry
/// under one second, or an empty secret.
pub fn embed_token_in_jwt(token: &str, token_expires_ms: u64, secret: &[u8]) -> Result<String> {
    check_text(token, "the token to embed")?;
    if token.contains(' ') {
        return Err(ErrorInfo::invalid_value(
            "the token to embed must not contain spaces",
        ));
    }
    if token_expires_ms < 1000 {
        return Err(ErrorInfo::invalid_value(
            "the embedded token's expiry must be a time in milliseconds since the epoch",
        ));
    }
    if secret.is_empty() {
        return Err(ErrorInfo::invalid_value(
            "the secret that signs the outer JWT must not be empty",
        ));
    }
    let header = EmbeddingHeader {
        typ: "JWT",
        alg: "HS256",
        token,
    };
    let claims = EmbeddingClaims {
        exp: token_expires_ms / 1000,
    };
    Ok(signed(&header, &claims, |input| hmac_sha256(secret, input)))
}

fn hmac_sha256(secret: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `base64url(header).base64url(claims).base64url(sign(first two parts))`.
fn signed<S: AsRef<[u8]>>(
    header: &impl Serialize,
    claims: &impl Serialize,
    sign: impl FnOnce(&[u8]) -> S,
) -> String {
    let mut jwt = String::with_capacity(256);
    URL_SAFE_NO_PAD.encode_string(to_json(header), &mut jwt);
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(to_json(claims), &mut jwt);
    let signature = sign(jwt.as_bytes());
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
    jwt
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("JWT parts always serialise")
}
