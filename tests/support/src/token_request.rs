//! `POST /keys/{keyName}/requestToken`, checked in ably-server's order (`HandleRequestToken`,
//! `ValidateTokenRequest`, `MintToken` at c69f0756e57b):
//!
//! 1. `Content-Type` JSON or none (else 40004/415); the body decodes as a TokenRequest, where
//!    `ttl` and `timestamp` may be JSON numbers or numeric strings (else 40001/400).
//! 2. An empty `keyName` is the path's; a different one → 40000/400. `Accept` must allow JSON
//!    (else 40004/406).
//! 3. Shape before authentication: a given capability must be well-formed (40000/400, see
//!    [`crate::capability::validate`]); `ttl` negative or above the maximum → 40003/400.
//! 4. Authentication: an unknown key → 40101/401; a `mac` must match (40101/401); without one
//!    the request must carry the key itself (Basic or `?key=`, else 40101/401).
//! 5. With a `mac`: `timestamp` required and within the window of the server clock (40104/401),
//!    `nonce` required (40105/401). A given nonce is recorded for the window, for every key at
//!    once; seen again → 40105/401. It is used up here, before the capability is narrowed.
//! 6. `ttl` 0 means the default (1 h); the capability is the key's when none is requested, else
//!    requested ∩ key's, and nothing in common → 40160/401.

use serde_json::{Map, Value, json};

use crate::ably::{DEFAULT_TTL_MS, TokenRecord, new_token, token_details_json};
use crate::capability;
use crate::credentials::{Presented, presented};
use crate::server::{Inner, Reply, accept_json, json_content_type};
use crate::{RecordedRequest, util};

/// A decoded TokenRequest; absent fields are empty or 0, as Go's zero values.
#[derive(Default)]
struct TokenRequest {
    key_name: String,
    ttl: i64,
    capability: String,
    client_id: String,
    timestamp: i64,
    nonce: String,
    mac: String,
}

/// A string field: absent or `null` → empty.
fn string_field(body: &Map<String, Value>, name: &str) -> Result<String, String> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// An integer field that may also be a numeric string; absent, `null` or `""` → 0.
fn int_field(body: &Map<String, Value>, name: &str) -> Result<i64, String> {
    let bad = || format!("{name} must be an integer");
    match body.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => s.parse().map_err(|_| bad()),
        Some(v) => v.as_i64().ok_or_else(bad),
    }
}

fn decode(body: &[u8]) -> Result<TokenRequest, String> {
    let body = match serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())? {
        Value::Null => return Ok(TokenRequest::default()),
        Value::Object(m) => m,
        _ => return Err("a TokenRequest is a JSON object".into()),
    };
    Ok(TokenRequest {
        key_name: string_field(&body, "keyName")?,
        ttl: int_field(&body, "ttl")?,
        capability: string_field(&body, "capability")?,
        client_id: string_field(&body, "clientId")?,
        timestamp: int_field(&body, "timestamp")?,
        nonce: string_field(&body, "nonce")?,
        mac: string_field(&body, "mac")?,
    })
}

/// base64(HMAC-SHA256(secret, `keyName\nttl\ncapability\nclientId\ntimestamp\nnonce\n`)), with
/// a `ttl` of 0 written as an empty line.
pub fn mac(
    secret: &str,
    key_name: &str,
    ttl: i64,
    capability: &str,
    client_id: &str,
    timestamp: i64,
    nonce: &str,
) -> String {
    let ttl = if ttl == 0 {
        String::new()
    } else {
        ttl.to_string()
    };
    let text = format!("{key_name}\n{ttl}\n{capability}\n{client_id}\n{timestamp}\n{nonce}\n");
    util::b64(&util::hmac_sha256(secret.as_bytes(), text.as_bytes()))
}

fn error(status: u16, code: u32, message: &str) -> Reply {
    Reply::ably_error(status, code, message)
}

impl Inner {
    pub fn request_token(&self, path_key: &str, req: &RecordedRequest) -> Result<Reply, Reply> {
        json_content_type(req)?;
        let mut tr = decode(&req.body)
            .map_err(|e| error(400, 40001, &format!("invalid token request body: {e}")))?;
        if tr.key_name.is_empty() {
            tr.key_name = path_key.to_string();
        }
        if tr.key_name != path_key {
            return Err(error(400, 40000, "keyName mismatch between path and body"));
        }
        accept_json(req)?;
        if !tr.capability.is_empty() {
            capability::validate(&tr.capability)
                .map_err(|e| error(400, 40000, &format!("invalid capability: {e}")))?;
        }
        if tr.ttl < 0 || tr.ttl > self.config.max_token_ttl_ms {
            return Err(error(400, 40003, &format!("invalid ttl {}", tr.ttl)));
        }
        let invalid = |why: &str| error(401, 40101, &format!("invalid credentials: {why}"));
        let key = self
            .key_by_name(&tr.key_name)
            .ok_or_else(|| invalid("unknown key"))?;
        let signed = !tr.mac.is_empty();
        if signed {
            let expect = mac(
                &key.secret,
                &key.name,
                tr.ttl,
                &tr.capability,
                &tr.client_id,
                tr.timestamp,
                &tr.nonce,
            );
            if !util::ct_eq(expect.as_bytes(), tr.mac.as_bytes()) {
                return Err(invalid("request mac does not match"));
            }
        } else if !matches!(presented(req), Presented::Key(k) if util::ct_eq(k.as_bytes(), key.key_string().as_bytes()))
        {
            return Err(invalid("request mac not provided"));
        }
        let now = self.now_ms();
        let window = self.config.timestamp_window_ms;
        let not_current = || error(401, 40104, "token request timestamp not current");
        if tr.timestamp == 0 {
            if signed {
                return Err(not_current());
            }
        } else if (now - tr.timestamp).abs() > window {
            return Err(not_current());
        }
        let replayed = || error(401, 40105, "token request nonce replayed");
        let mut st = self.state();
        if tr.nonce.is_empty() {
            if signed {
                return Err(replayed());
            }
        } else {
            st.nonces.retain(|_, expires| *expires > now);
            if st.nonces.contains_key(&tr.nonce) {
                return Err(replayed());
            }
            st.nonces.insert(tr.nonce.clone(), now + window);
        }
        let capability = if tr.capability.is_empty() {
            key.capability.clone()
        } else {
            let requested = capability::parse(&tr.capability).unwrap_or_default();
            let key_cap = capability::parse(&key.capability).unwrap_or_default();
            let granted = capability::intersect(&requested, &key_cap);
            if capability::is_empty(&granted) {
                return Err(error(
                    401,
                    40160,
                    "requested capability not permitted by the key",
                ));
            }
            capability::canonical(&granted)
        };
        let issued_us = self.now_us();
        let ttl = if tr.ttl == 0 { DEFAULT_TTL_MS } else { tr.ttl };
        let rec = TokenRecord {
            key_name: key.name.clone(),
            issued_us,
            expires: issued_us.div_euclid(1000) + ttl,
            capability,
            client_id: Some(tr.client_id).filter(|c| !c.is_empty()),
            revoked: false,
        };
        let token = new_token();
        let body = token_details_json(&token, &rec);
        st.tokens.insert(token, rec);
        st.tokens_issued += 1;
        Ok(Reply::json(200, body))
    }
}

/// A TokenRequest JSON as a client would send it (absent fields left out).
pub fn token_request_json(
    key_name: &str,
    ttl: Option<i64>,
    capability: Option<&str>,
    client_id: Option<&str>,
    timestamp: i64,
    nonce: &str,
    mac: &str,
) -> String {
    let mut m = Map::new();
    m.insert("keyName".into(), json!(key_name));
    if let Some(t) = ttl {
        m.insert("ttl".into(), json!(t));
    }
    if let Some(c) = capability {
        m.insert("capability".into(), json!(c));
    }
    if let Some(c) = client_id {
        m.insert("clientId".into(), json!(c));
    }
    m.insert("timestamp".into(), json!(timestamp));
    m.insert("nonce".into(), json!(nonce));
    m.insert("mac".into(), json!(mac));
    Value::Object(m).to_string()
}
