//! The Ably endpoints: time, channels (publish, history, status), revokeTokens and the authUrl
//! helpers. requestToken is in `token_request.rs`, credentials in `credentials.rs`.

use serde_json::{Map, Value, json};

use crate::capability::{self, Capability};
use crate::credentials::{Presented, message_client_id, presented, request_client_id};
use crate::jwt;
use crate::server::{Inner, Reply, accept_json, json_content_type};
use crate::token_request::{mac, token_request_json};
use crate::{RecordedRequest, TokenDetailsJson, util};

/// What to mint; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MintSpec {
    /// Token lifetime (default 3 600 000 ms; for a TokenRequest, `None` leaves ttl out).
    pub ttl_ms: Option<i64>,
    /// Capability JSON (default: the key's; for a TokenRequest, `None` leaves it out).
    pub capability: Option<String>,
    pub client_id: Option<String>,
    /// Issue time (default: the server clock). For a TokenRequest this is its timestamp.
    pub issued_ms: Option<i64>,
    /// A JWT's `x-ably-revocation-key` claim (ignored for other kinds).
    pub revocation_key: Option<String>,
}

pub const DEFAULT_TTL_MS: i64 = 3_600_000;
const REAUTH_MARGIN_MS: i64 = 30_000;

/// An Ably token known to the server.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub key_name: String,
    pub issued_us: i64,
    pub expires: i64,
    pub capability: String,
    pub client_id: Option<String>,
    pub revoked: bool,
}

/// One successful revokeTokens target.
#[derive(Clone, Debug)]
pub struct Revocation {
    pub key_name: String,
    pub kind: String,
    pub value: String,
    pub issued_before_us: i64,
    pub applies_at_us: i64,
}

/// A capability JSON in canonical form, or as given when it is not one.
fn canonical_or_raw(c: &str) -> String {
    capability::parse(c)
        .map(|p| capability::canonical(&p))
        .unwrap_or_else(|| c.to_string())
}

pub fn token_details_json(token: &str, rec: &TokenRecord) -> String {
    let mut m = Map::new();
    m.insert("token".into(), json!(token));
    m.insert("keyName".into(), json!(rec.key_name));
    m.insert("issued".into(), json!(rec.issued_us.div_euclid(1000)));
    m.insert("expires".into(), json!(rec.expires));
    m.insert("capability".into(), json!(rec.capability));
    if let Some(c) = &rec.client_id {
        m.insert("clientId".into(), json!(c));
    }
    Value::Object(m).to_string()
}

fn bad_request(message: &str) -> Reply {
    Reply::ably_error(400, 40000, message)
}

fn not_found() -> Reply {
    Reply::ably_error(404, 40400, "Not found")
}

/// The body of a publish: one message object or an array of them (40001 otherwise), each
/// with an optional string `clientId`.
fn message_client_ids(body: &[u8]) -> Result<Vec<String>, String> {
    let one = |m: &Value| -> Result<String, String> {
        match m {
            Value::Null => Ok(String::new()),
            Value::Object(o) => match o.get("clientId") {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err("clientId must be a string".into()),
            },
            _ => Err("a message is a JSON object".into()),
        }
    };
    if body.is_empty() {
        return Err("empty body".into());
    }
    match serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())? {
        Value::Array(list) if list.is_empty() => Err("no messages".into()),
        Value::Array(list) => list.iter().map(one).collect(),
        single => Ok(vec![one(&single)?]),
    }
}

impl Inner {
    /// Dispatches a request to the real behaviour.
    pub fn route(&self, req: &RecordedRequest) -> Reply {
        let segs: Vec<String> = req
            .path
            .trim_start_matches('/')
            .split('/')
            .map(|s| util::percent_decode(s, false))
            .collect();
        let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = req.method.as_str();
        let result = match (m, seg.as_slice()) {
            ("GET", ["time"]) => {
                accept_json(req).map(|()| Reply::json(200, format!("[{}]", self.now_ms())))
            }
            ("POST", ["keys", key, "requestToken"]) => self.request_token(key, req),
            ("POST", ["keys", key, "revokeTokens"]) => Ok(self.revoke_tokens(key, req)),
            ("GET", ["channels", ch]) => self.channel_status(req, ch),
            ("GET", ["channels", ch, "messages"]) => self.history(req, ch),
            ("POST", ["channels", ch, "messages"]) => self.publish(req, ch),
            (_, [first, ..]) if first.starts_with("protected") => self.authenticate(req).map(|p| {
                let mut v = json!({"ok": true});
                if let Some(c) = &p.client_id {
                    v["clientId"] = json!(c);
                }
                Reply::json(200, v.to_string())
            }),
            ("GET" | "POST", ["auth", what]) => Ok(self.auth_url(what, req)),
            _ => Ok(not_found()),
        };
        result.unwrap_or_else(|r| r)
    }

    /// 40160/401 unless `cap` grants `op` (any, when `None`) on `channel`.
    fn authorize(cap: &Capability, channel: &str, op: Option<&str>) -> Result<(), Reply> {
        if capability::permits(cap, channel, op) {
            return Ok(());
        }
        let what = op.map_or("an operation".to_string(), |o| format!("{o:?}"));
        Err(Reply::ably_error(
            401,
            40160,
            &format!("insufficient capability: {what} required for channel {channel:?}"),
        ))
    }

    /// `GET /channels/{name}` (a loopback probe; any operation on the channel will do).
    fn channel_status(&self, req: &RecordedRequest, ch: &str) -> Result<Reply, Reply> {
        let p = self.authenticate(req)?;
        Self::authorize(&p.capability, ch, None)?;
        let mut v = json!({"channelId": ch, "status": {"isActive": true}});
        if let Some(c) = &p.client_id {
            v["clientId"] = json!(c);
        }
        Ok(Reply::json(200, v.to_string()))
    }

    /// `GET /channels/{name}/messages`: needs `history`; always an empty page.
    fn history(&self, req: &RecordedRequest, ch: &str) -> Result<Reply, Reply> {
        let p = self.authenticate(req)?;
        Self::authorize(&p.capability, ch, Some("history"))?;
        accept_json(req)?;
        Ok(Reply::json(200, "[]"))
    }

    /// `POST /channels/{name}/messages`, in ably-server's order: the acting clientId, `publish`,
    /// the body (40001), each message's clientId (40012/400).
    fn publish(&self, req: &RecordedRequest, ch: &str) -> Result<Reply, Reply> {
        let p = self.authenticate(req)?;
        let acting = request_client_id(req, &p)?;
        Self::authorize(&p.capability, ch, Some("publish"))?;
        json_content_type(req)?;
        let ids = message_client_ids(&req.body).map_err(|e| Reply::ably_error(400, 40001, &e))?;
        for id in &ids {
            if message_client_id(&acting, id).is_none() {
                return Err(Reply::ably_error(
                    400,
                    40012,
                    "message clientId not permitted",
                ));
            }
        }
        accept_json(req)?;
        let batch = util::random_b64url(9);
        let serials: Vec<String> = (0..ids.len()).map(|i| format!("{batch}@{i}")).collect();
        Ok(Reply::json(
            201,
            json!({"channel": ch, "messageId": format!("{batch}:0"), "serials": serials})
                .to_string(),
        ))
    }

    fn revoke_tokens(&self, path_key: &str, req: &RecordedRequest) -> Reply {
        let Some(key) = self.key_by_name(path_key) else {
            return not_found();
        };
        match presented(req) {
            Presented::Token(_) => {
                return Reply::ably_error(401, 40162, "revokeTokens requires Basic authentication");
            }
            Presented::Key(k) if util::ct_eq(k.as_bytes(), key.key_string().as_bytes()) => {}
            _ => return Reply::ably_error(401, 40101, "Invalid credentials for revokeTokens"),
        }
        if !key.revocable {
            return Reply::ably_error(400, 40163, "Token revocation is not enabled for this key");
        }
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
            return bad_request("revokeTokens body is not a JSON object");
        };
        let Some(targets) = body.get("targets").and_then(Value::as_array) else {
            return bad_request("targets must be an array");
        };
        if targets.is_empty() {
            return bad_request("targets must not be empty");
        }
        let now_us = self.now_us();
        let now = now_us.div_euclid(1000);
        let (issued_before_ms, issued_before_us) = match body.get("issuedBefore") {
            None | Some(Value::Null) => (now, now_us),
            Some(v) => match v.as_i64() {
                Some(ib) if ib > now => return bad_request("issuedBefore is in the future"),
                Some(ib) if ib < now - 3_600_000 => {
                    return bad_request("issuedBefore is more than an hour in the past");
                }
                Some(ib) => (ib, ib * 1000),
                None => return bad_request("issuedBefore must be an integer"),
            },
        };
        let margin = match body.get("allowReauthMargin") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return bad_request("allowReauthMargin must be a boolean"),
        };
        let applies_at = if margin { now + REAUTH_MARGIN_MS } else { now };
        let applies_at_us = if margin {
            now_us + REAUTH_MARGIN_MS * 1000
        } else {
            now_us
        };
        let mut results = Vec::new();
        let mut ok = 0;
        let mut st = self.state();
        for t in targets {
            let target_str = t.as_str().map(str::to_string);
            let parsed = target_str.as_deref().and_then(|s| s.split_once(':'));
            match parsed {
                Some((kind @ ("clientId" | "revocationKey" | "channel"), value))
                    if !value.is_empty() =>
                {
                    ok += 1;
                    st.revocations.push(Revocation {
                        key_name: key.name.clone(),
                        kind: kind.to_string(),
                        value: value.to_string(),
                        issued_before_us,
                        applies_at_us,
                    });
                    results.push(json!({
                        "target": target_str,
                        "issuedBefore": issued_before_ms,
                        "appliesAt": applies_at,
                    }));
                }
                _ => results.push(json!({
                    "target": target_str.unwrap_or_else(|| t.to_string()),
                    "error": {
                        "code": 40000,
                        "statusCode": 400,
                        "message": "Invalid revocation target (expected clientId:, revocationKey: or channel:)",
                        "href": "https://help.ably.io/error/40000",
                    }
                })),
            }
        }
        let failed = results.len() - ok;
        Reply::json(
            201,
            json!({"successCount": ok, "failureCount": failed, "results": results}).to_string(),
        )
    }

    fn auth_url(&self, what: &str, req: &RecordedRequest) -> Reply {
        let mut params = req.query.clone();
        let is_form = req
            .header("content-type")
            .is_some_and(|c| c.contains("application/x-www-form-urlencoded"));
        if req.method == "POST" && is_form {
            params.extend(req.form());
        }
        let last = |k: &str| {
            params
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let ttl_ms = match last("ttl") {
            None => None,
            Some(t) => match t.parse::<i64>() {
                Ok(t) => Some(t),
                Err(_) => return bad_request("ttl must be an integer"),
            },
        };
        let spec = MintSpec {
            ttl_ms,
            capability: last("capability"),
            client_id: last("clientId"),
            issued_ms: None,
            revocation_key: last("revocationKey"),
        };
        match what {
            "token-request" => Reply::json(200, self.signed_token_request(&spec)),
            "token" => Reply::new(200, "text/plain", self.mint_token(&spec).token),
            "jwt" => Reply::new(200, "application/jwt", self.mint_jwt(&spec)),
            "token-details" => Reply::json(200, self.mint_token(&spec).json),
            _ => not_found(),
        }
    }

    pub fn mint_token(&self, spec: &MintSpec) -> TokenDetailsJson {
        let key = &self.config.keys[0];
        let issued_us = spec
            .issued_ms
            .map(|ms| ms * 1000)
            .unwrap_or_else(|| self.now_us());
        let issued = issued_us.div_euclid(1000);
        let capability = match &spec.capability {
            Some(c) => canonical_or_raw(c),
            None => key.capability.clone(),
        };
        let rec = TokenRecord {
            key_name: key.name.clone(),
            issued_us,
            expires: issued + spec.ttl_ms.unwrap_or(DEFAULT_TTL_MS),
            capability,
            client_id: spec.client_id.clone(),
            revoked: false,
        };
        let token = new_token();
        let out = TokenDetailsJson {
            json: token_details_json(&token, &rec),
            token: token.clone(),
            expires: rec.expires,
            issued,
        };
        self.state().tokens.insert(token, rec);
        out
    }

    pub fn mint_jwt(&self, spec: &MintSpec) -> String {
        let key = &self.config.keys[0];
        let iat = spec
            .issued_ms
            .unwrap_or_else(|| self.now_ms())
            .div_euclid(1000);
        let exp = iat + spec.ttl_ms.unwrap_or(DEFAULT_TTL_MS).div_euclid(1000);
        let header = json!({"typ": "JWT", "alg": "HS256", "kid": key.name});
        let mut claims = json!({"iat": iat, "exp": exp});
        claims["x-ably-capability"] = json!(match &spec.capability {
            Some(c) => canonical_or_raw(c),
            None => key.capability.clone(),
        });
        if let Some(c) = &spec.client_id {
            claims["x-ably-clientId"] = json!(c);
        }
        if let Some(r) = &spec.revocation_key {
            claims["x-ably-revocation-key"] = json!(r);
        }
        let jwt = jwt::sign(&key.secret, &header, &claims);
        self.state().jwts_minted.insert(jwt.clone());
        jwt
    }

    pub fn signed_token_request(&self, spec: &MintSpec) -> String {
        let key = &self.config.keys[0];
        let timestamp = spec.issued_ms.unwrap_or_else(|| self.now_ms());
        let nonce = util::random_b64url(16);
        let capability = spec.capability.as_deref().map(canonical_or_raw);
        let mac = mac(
            &key.secret,
            &key.name,
            spec.ttl_ms.unwrap_or(0),
            capability.as_deref().unwrap_or(""),
            spec.client_id.as_deref().unwrap_or(""),
            timestamp,
            &nonce,
        );
        token_request_json(
            &key.name,
            spec.ttl_ms,
            capability.as_deref(),
            spec.client_id.as_deref(),
            timestamp,
            &nonce,
            &mac,
        )
    }

    pub fn revoke_all(&self) {
        let mut st = self.state();
        for rec in st.tokens.values_mut() {
            rec.revoked = true;
        }
        let minted: Vec<String> = st.jwts_minted.iter().cloned().collect();
        st.jwts_revoked.extend(minted);
    }
}

pub fn new_token() -> String {
    format!("lbtk-{}", util::random_b64url(24))
}
