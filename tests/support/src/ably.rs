//! The Ably endpoints: requestToken, time, revokeTokens, protected resources, authUrl helpers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::server::{Inner, Reply};
use crate::{KeyConfig, RecordedRequest, TokenDetailsJson, util};

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

type Capability = BTreeMap<String, BTreeSet<String>>;

/// Parses a capability: a JSON object whose values are arrays of strings.
pub fn parse_capability(s: &str) -> Option<Capability> {
    let v: Value = serde_json::from_str(s).ok()?;
    let mut cap = Capability::new();
    for (res, ops) in v.as_object()? {
        let mut set = BTreeSet::new();
        for op in ops.as_array()? {
            set.insert(op.as_str()?.to_string());
        }
        cap.insert(res.clone(), set);
    }
    Some(cap)
}

/// Canonical form: sorted keys and operations, no whitespace.
pub fn canonical(cap: &Capability) -> String {
    let m: BTreeMap<&String, Vec<&String>> =
        cap.iter().map(|(k, v)| (k, v.iter().collect())).collect();
    serde_json::to_string(&m).expect("capability serialises")
}

/// Whether a resource pattern covers a name: equal, `*`, or a trailing-`*` prefix.
fn covers(pattern: &str, name: &str) -> bool {
    pattern == "*"
        || pattern == name
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| name.starts_with(prefix))
}

fn intersect_ops(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    if a.contains("*") {
        b.clone()
    } else if b.contains("*") {
        a.clone()
    } else {
        a.intersection(b).cloned().collect()
    }
}

/// Requested ∩ key capability.
pub fn intersect(requested: &Capability, key: &Capability) -> Capability {
    let mut out = Capability::new();
    for (r, rops) in requested {
        for (k, kops) in key {
            let target = if covers(k, r) {
                r
            } else if covers(r, k) {
                k
            } else {
                continue;
            };
            let ops = intersect_ops(rops, kops);
            if !ops.is_empty() {
                out.entry(target.clone()).or_default().extend(ops);
            }
        }
    }
    out
}

/// Whether the capability allows `op` (or any operation, when `op` is `None`) on `channel`.
fn allows(cap: &Capability, channel: &str, op: Option<&str>) -> bool {
    cap.iter().any(|(pattern, ops)| {
        covers(pattern, channel)
            && match op {
                None => !ops.is_empty(),
                Some(op) => ops.contains("*") || ops.contains(op),
            }
    })
}

/// `keyName\nttl\ncapability\nclientId\ntimestamp\nnonce\n`, base64(HMAC-SHA256(secret, ·)).
pub fn mac(
    secret: &str,
    key_name: &str,
    ttl: Option<i64>,
    capability: Option<&str>,
    client_id: Option<&str>,
    timestamp: i64,
    nonce: &str,
) -> String {
    let text = format!(
        "{key_name}\n{}\n{}\n{}\n{timestamp}\n{nonce}\n",
        ttl.map(|t| t.to_string()).unwrap_or_default(),
        capability.unwrap_or(""),
        client_id.unwrap_or(""),
    );
    util::b64(&util::hmac_sha256(secret.as_bytes(), text.as_bytes()))
}

fn token_details_json(token: &str, rec: &TokenRecord) -> String {
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

/// Who a request is authenticated as.
struct Principal {
    capability: Capability,
    client_id: Option<String>,
}

impl Inner {
    fn key_by_name(&self, name: &str) -> Option<&KeyConfig> {
        self.config.keys.iter().find(|k| k.name == name)
    }

    fn key_capability(&self, key: &KeyConfig) -> String {
        parse_capability(&key.capability)
            .map(|c| canonical(&c))
            .unwrap_or_else(|| key.capability.clone())
    }

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
        match (m, seg.as_slice()) {
            ("GET", ["time"]) => Reply::json(200, format!("[{}]", self.now_ms())),
            ("POST", ["keys", key, "requestToken"]) => self.request_token(key, req),
            ("POST", ["keys", key, "revokeTokens"]) => self.revoke_tokens(key, req),
            ("GET", ["channels", ch]) => self.protected(req, Some((ch, None)), |p| {
                let mut v = json!({"channelId": ch, "status": {"isActive": true}});
                if let Some(c) = &p.client_id {
                    v["clientId"] = json!(c);
                }
                Reply::json(200, v.to_string())
            }),
            ("GET", ["channels", ch, "messages"]) => {
                self.protected(req, Some((ch, None)), |_| Reply::json(200, "[]"))
            }
            ("POST", ["channels", ch, "messages"]) => {
                self.protected(req, Some((ch, Some("publish"))), |p| {
                    let mut v =
                        json!({"channel": ch, "messageId": format!("lbmsg-{}", util::random_b64url(9))});
                    if let Some(c) = &p.client_id {
                        v["clientId"] = json!(c);
                    }
                    Reply::json(201, v.to_string())
                })
            }
            (_, [first, ..]) if first.starts_with("protected") => self.protected(req, None, |p| {
                let mut v = json!({"ok": true});
                if let Some(c) = &p.client_id {
                    v["clientId"] = json!(c);
                }
                Reply::json(200, v.to_string())
            }),
            ("GET" | "POST", ["auth", what]) => self.auth_url(what, req),
            _ => not_found(),
        }
    }

    fn request_token(&self, path_key: &str, req: &RecordedRequest) -> Reply {
        let Some(key) = self.key_by_name(path_key) else {
            return not_found();
        };
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
            return bad_request("TokenRequest body is not a JSON object");
        };
        let str_field = |name: &str| -> Result<Option<&str>, Reply> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(bad_request(&format!("{name} must be a string"))),
            }
        };
        let int_field = |name: &str| -> Result<Option<i64>, Reply> {
            match body.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| bad_request(&format!("{name} must be an integer"))),
            }
        };
        let fields = (|| {
            Ok::<_, Reply>((
                str_field("keyName")?,
                int_field("ttl")?,
                str_field("capability")?,
                str_field("clientId")?,
                int_field("timestamp")?,
                str_field("nonce")?,
                str_field("mac")?,
            ))
        })();
        let (key_name, ttl, capability, client_id, timestamp, nonce, mac_given) = match fields {
            Ok(f) => f,
            Err(r) => return r,
        };
        if key_name != Some(key.name.as_str()) {
            return bad_request("keyName in the TokenRequest does not match the path");
        }
        let (Some(timestamp), Some(nonce)) = (timestamp, nonce) else {
            return bad_request("TokenRequest needs timestamp and nonce");
        };
        match mac_given {
            Some(given) => {
                let expect = mac(
                    &key.secret,
                    &key.name,
                    ttl,
                    capability,
                    client_id,
                    timestamp,
                    nonce,
                );
                if !util::ct_eq(expect.as_bytes(), given.as_bytes()) {
                    return Reply::ably_error(401, 40101, "Invalid mac");
                }
            }
            None => {
                if !self.basic_matches(req, Some(key)) {
                    return Reply::ably_error(
                        401,
                        40101,
                        "Unsigned TokenRequest needs Basic auth of the key",
                    );
                }
            }
        }
        let now = self.now_ms();
        let window = self.config.timestamp_window_ms;
        if (timestamp - now).abs() > window {
            return Reply::ably_error(
                401,
                40104,
                &format!("Timestamp {timestamp} not current (server time {now})"),
            );
        }
        let ttl = ttl.unwrap_or(crate::ably::DEFAULT_TTL_MS);
        if ttl <= 0 || ttl > self.config.max_token_ttl_ms {
            return Reply::ably_error(400, 40003, &format!("Invalid ttl {ttl}"));
        }
        let key_cap = parse_capability(&key.capability).unwrap_or_default();
        let cap = match capability {
            None => key_cap,
            Some(c) => match parse_capability(c) {
                Some(requested) => intersect(&requested, &key_cap),
                None => return bad_request("Invalid capability"),
            },
        };
        if cap.is_empty() {
            return Reply::ably_error(
                401,
                40160,
                "Requested capability is not permitted by the key",
            );
        }
        let mut st = self.state();
        let seen = st.nonces.entry(key.name.clone()).or_default();
        seen.retain(|_, ts| (*ts - now).abs() <= window);
        if seen.contains_key(nonce) {
            return Reply::ably_error(401, 40105, "Nonce value replayed");
        }
        seen.insert(nonce.to_string(), timestamp);
        let issued_us = self.now_us();
        let rec = TokenRecord {
            key_name: key.name.clone(),
            issued_us,
            expires: issued_us.div_euclid(1000) + ttl,
            capability: canonical(&cap),
            client_id: client_id.filter(|c| !c.is_empty()).map(str::to_string),
            revoked: false,
        };
        let token = new_token();
        let body = token_details_json(&token, &rec);
        st.tokens.insert(token, rec);
        st.tokens_issued += 1;
        Reply::json(200, body)
    }

    /// Whether the request carries `Basic` of `key` (or of any key when `None`).
    fn basic_matches(&self, req: &RecordedRequest, key: Option<&KeyConfig>) -> bool {
        let Some(cred) = req
            .header("authorization")
            .and_then(|h| strip_scheme(h, "basic"))
        else {
            return false;
        };
        let Some(decoded) = util::b64_decode(cred.trim()) else {
            return false;
        };
        match key {
            Some(k) => util::ct_eq(&decoded, k.key_string().as_bytes()),
            None => self
                .config
                .keys
                .iter()
                .any(|k| util::ct_eq(&decoded, k.key_string().as_bytes())),
        }
    }

    fn revoke_tokens(&self, path_key: &str, req: &RecordedRequest) -> Reply {
        let Some(key) = self.key_by_name(path_key) else {
            return not_found();
        };
        let auth = req.header("authorization").unwrap_or("");
        if strip_scheme(auth, "bearer").is_some() {
            return Reply::ably_error(401, 40162, "revokeTokens requires Basic authentication");
        }
        if !self.basic_matches(req, Some(key)) {
            return Reply::ably_error(401, 40101, "Invalid credentials for revokeTokens");
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

    fn is_revoked(
        &self,
        st: &crate::server::State,
        key_name: &str,
        issued_us: i64,
        client_id: Option<&str>,
        capability: &Capability,
    ) -> bool {
        let now_us = self.now_us();
        st.revocations.iter().any(|r| {
            r.key_name == key_name
                && now_us >= r.applies_at_us
                && issued_us <= r.issued_before_us
                && match r.kind.as_str() {
                    "clientId" => client_id == Some(r.value.as_str()),
                    "channel" => capability.contains_key(&r.value),
                    _ => false,
                }
        })
    }

    /// Authenticates `req`, checks the channel capability, then runs `ok`.
    fn protected(
        &self,
        req: &RecordedRequest,
        channel: Option<(&str, Option<&str>)>,
        ok: impl FnOnce(&Principal) -> Reply,
    ) -> Reply {
        let principal = match self.authenticate(req) {
            Ok(p) => p,
            Err(r) => return r,
        };
        if let Some((ch, op)) = channel
            && !allows(&principal.capability, ch, op)
        {
            return Reply::ably_error(
                401,
                40160,
                &format!("Capability does not permit this operation on channel {ch}"),
            );
        }
        ok(&principal)
    }

    fn authenticate(&self, req: &RecordedRequest) -> Result<Principal, Reply> {
        let Some(auth) = req.header("authorization") else {
            return Err(Reply::ably_error(401, 40101, "No authentication provided"));
        };
        if strip_scheme(auth, "basic").is_some() {
            let cred = strip_scheme(auth, "basic").unwrap_or("").trim();
            let decoded = util::b64_decode(cred).unwrap_or_default();
            let key = self
                .config
                .keys
                .iter()
                .find(|k| util::ct_eq(&decoded, k.key_string().as_bytes()));
            return match key {
                Some(k) => Ok(Principal {
                    capability: parse_capability(&k.capability).unwrap_or_default(),
                    client_id: None,
                }),
                None => Err(Reply::ably_error(401, 40101, "Invalid key credentials")),
            };
        }
        let Some(bearer) = strip_scheme(auth, "bearer").map(str::trim) else {
            return Err(Reply::ably_error(
                401,
                40101,
                "Unsupported authorization scheme",
            ));
        };
        let mut candidates = vec![bearer.to_string()];
        if let Some(s) = util::b64_decode(bearer).and_then(|b| String::from_utf8(b).ok()) {
            candidates.push(s);
        }
        for c in &candidates {
            if let Some(r) = self.check_ably_token(c) {
                return r;
            }
        }
        for c in &candidates {
            if c.split('.').count() == 3 {
                return self.check_jwt(c);
            }
        }
        Err(Reply::ably_error(401, 40140, "Token not recognised"))
    }

    fn check_ably_token(&self, token: &str) -> Option<Result<Principal, Reply>> {
        let st = self.state();
        let rec = st.tokens.get(token)?;
        let cap = parse_capability(&rec.capability).unwrap_or_default();
        if rec.revoked
            || self.is_revoked(
                &st,
                &rec.key_name,
                rec.issued_us,
                rec.client_id.as_deref(),
                &cap,
            )
        {
            return Some(Err(Reply::ably_error(401, 40141, "Token revoked")));
        }
        if rec.expires <= self.now_ms() {
            return Some(Err(Reply::ably_error(401, 40142, "Token expired")));
        }
        Some(Ok(Principal {
            capability: cap,
            client_id: rec.client_id.clone(),
        }))
    }

    fn check_jwt(&self, jwt: &str) -> Result<Principal, Reply> {
        let invalid = |m: &str| Reply::ably_error(401, 40144, &format!("Invalid JWT: {m}"));
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: Value = util::b64url_decode(parts[0])
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| invalid("header"))?;
        let claims: Value = util::b64url_decode(parts[1])
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| invalid("payload"))?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(invalid("alg must be HS256"));
        }
        let kid = header.get("kid").and_then(Value::as_str).unwrap_or("");
        let key = self
            .key_by_name(kid)
            .ok_or_else(|| invalid("unknown kid"))?;
        let sig = util::b64url_decode(parts[2]).ok_or_else(|| invalid("signature encoding"))?;
        let expect = util::hmac_sha256(
            key.secret.as_bytes(),
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
        );
        if !util::ct_eq(&sig, &expect) {
            return Err(invalid("signature mismatch"));
        }
        let exp = claims.get("exp").and_then(Value::as_i64);
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        let capability = match claims.get("x-ably-capability") {
            None | Some(Value::Null) => parse_capability(&key.capability).unwrap_or_default(),
            Some(Value::String(s)) => parse_capability(s).ok_or_else(|| invalid("capability"))?,
            Some(v) => parse_capability(&v.to_string()).ok_or_else(|| invalid("capability"))?,
        };
        let client_id = claims
            .get("x-ably-clientId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let st = self.state();
        if st.jwts_revoked.contains(jwt)
            || self.is_revoked(
                &st,
                &key.name,
                iat * 1_000_000,
                client_id.as_deref(),
                &capability,
            )
        {
            return Err(Reply::ably_error(401, 40141, "Token revoked"));
        }
        if exp.is_some_and(|e| e * 1000 <= self.now_ms()) {
            return Err(Reply::ably_error(401, 40142, "Token expired"));
        }
        Ok(Principal {
            capability,
            client_id,
        })
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
            Some(c) => parse_capability(c)
                .map(|p| canonical(&p))
                .unwrap_or_else(|| c.clone()),
            None => self.key_capability(key),
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
            Some(c) => parse_capability(c)
                .map(|p| canonical(&p))
                .unwrap_or_else(|| c.clone()),
            None => self.key_capability(key),
        });
        if let Some(c) = &spec.client_id {
            claims["x-ably-clientId"] = json!(c);
        }
        let signing_input = format!(
            "{}.{}",
            util::b64url(header.to_string().as_bytes()),
            util::b64url(claims.to_string().as_bytes())
        );
        let sig = util::hmac_sha256(key.secret.as_bytes(), signing_input.as_bytes());
        let jwt = format!("{signing_input}.{}", util::b64url(&sig));
        self.state().jwts_minted.insert(jwt.clone());
        jwt
    }

    pub fn signed_token_request(&self, spec: &MintSpec) -> String {
        let key = &self.config.keys[0];
        let timestamp = spec.issued_ms.unwrap_or_else(|| self.now_ms());
        let nonce = util::random_b64url(16);
        let capability = spec.capability.as_ref().map(|c| {
            parse_capability(c)
                .map(|p| canonical(&p))
                .unwrap_or_else(|| c.clone())
        });
        let mac = mac(
            &key.secret,
            &key.name,
            spec.ttl_ms,
            capability.as_deref(),
            spec.client_id.as_deref(),
            timestamp,
            &nonce,
        );
        let mut m = Map::new();
        m.insert("keyName".into(), json!(key.name));
        if let Some(t) = spec.ttl_ms {
            m.insert("ttl".into(), json!(t));
        }
        if let Some(c) = &capability {
            m.insert("capability".into(), json!(c));
        }
        if let Some(c) = &spec.client_id {
            m.insert("clientId".into(), json!(c));
        }
        m.insert("timestamp".into(), json!(timestamp));
        m.insert("nonce".into(), json!(nonce));
        m.insert("mac".into(), json!(mac));
        Value::Object(m).to_string()
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

fn new_token() -> String {
    format!("lbtk-{}", util::random_b64url(24))
}

/// The credentials after `scheme ` (scheme compared case-insensitively).
fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = header.trim_start().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}
