//! Who a request is: credentials as ably-server reads them (`internal/auth/auth.go` at
//! c69f0756e57b), Ably tokens issued by this server, Ably JWTs, JWTs embedding a token, revocation
//! and the clientId a request may publish as.
//!
//! * A token comes from `Authorization: Bearer <t>` (the scheme exactly `Bearer `, case-sensitive;
//!   `t` standard base64 of the token, or the raw token when it does not decode), else from the
//!   `access_token` or `accessToken` query parameter. It wins over a key.
//! * A key comes from `Authorization: Basic` (scheme case-insensitive), else `?key=name:secret`.
//! * Nothing presented → 40101/401; a key that is not configured → 40101/401.
//! * A token this server issued (opaque, `lbtk-…`) is looked up: revoked → 40141, expired → 40142.
//!   Anything else must be a JWT: malformed, not HS256, no `kid`, a `kid` naming no key of this
//!   app, or a bad signature → 40144/401; a `kid` of another app → 40400/404; `exp` missing or not
//!   a number, `nbf` in the future, `iat` missing or more than 60 s ahead, or an
//!   `x-ably-capability` that is not capability JSON → 40101/401; `exp` passed → 40142/401.
//!   A string `x-ably-capability` is narrowed by the key's capability; without one, or when it is
//!   not a string, the key's capability applies.
//! * From Ably's documentation (ably-server has neither): `x-ably-revocation-key` must be a
//!   non-empty string (else 40144) and lets `revocationKey:` targets revoke the JWT; a JWT whose
//!   JOSE header (or payload) carries `x-ably-token` stands for that embedded token (an Ably token
//!   or an Ably JWT). Its own signature is not Ably's to check; its `exp`, when present, must not
//!   have passed (40142) nor be later than the embedded token's expiry (40144).

use serde_json::{Map, Value};

use crate::capability::{self, Capability};
use crate::jwt;
use crate::server::{Inner, Reply, State};
use crate::{KeyConfig, RecordedRequest, util};

/// `iat` may be this far ahead of the server clock.
const IAT_LEEWAY_MS: i64 = 60_000;

/// A verified credential.
pub struct Principal {
    pub capability: Capability,
    /// The credential's clientId (`*` = any); `None` for a key or a token without one.
    pub client_id: Option<String>,
    /// Authenticated with the key itself.
    pub basic: bool,
    /// When a token credential expires (ms).
    pub expires_ms: Option<i64>,
}

/// What a request presents.
pub enum Presented {
    Token(String),
    Key(String),
    Nothing,
}

/// `name:secret` from `Authorization: Basic …`, as Go's `Request.BasicAuth` reads it.
fn basic_credentials(req: &RecordedRequest) -> Option<String> {
    let header = req.header("authorization")?;
    let (scheme, rest) = (header.get(..6)?, &header[6..]);
    if !scheme.eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = String::from_utf8(util::b64_decode(rest)?).ok()?;
    decoded.contains(':').then_some(decoded)
}

/// The credential a request presents, token before key.
pub fn presented(req: &RecordedRequest) -> Presented {
    if let Some(t) = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Presented::Token(match util::b64_decode(t) {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => t.to_string(),
        });
    }
    let query = |name: &str| req.query_param(name).filter(|v| !v.is_empty());
    if let Some(t) = query("access_token").or_else(|| query("accessToken")) {
        return Presented::Token(t.to_string());
    }
    match basic_credentials(req).or_else(|| query("key").map(str::to_string)) {
        Some(k) => Presented::Key(k),
        None => Presented::Nothing,
    }
}

/// A 401 from authentication, with the challenge ably-server adds.
fn unauthorized(code: u32, message: &str) -> Reply {
    let mut r = Reply::ably_error(401, code, message);
    r.headers.push((
        "WWW-Authenticate".into(),
        r#"Basic realm="ably-loopback""#.into(),
    ));
    r
}

fn invalid_jwt(why: &str) -> Reply {
    unauthorized(40144, &format!("invalid JWT format: {why}"))
}

fn invalid_credentials(why: &str) -> Reply {
    unauthorized(40101, &format!("invalid credentials: {why}"))
}

/// What a revocation target can match on a token.
pub struct Revocable<'a> {
    pub key_name: &'a str,
    pub issued_us: i64,
    pub client_id: Option<&'a str>,
    pub capability: &'a Capability,
    pub revocation_key: Option<&'a str>,
}

impl Inner {
    pub fn key_by_name(&self, name: &str) -> Option<&KeyConfig> {
        self.config.keys.iter().find(|k| k.name == name)
    }

    /// The configured key whose `name:secret` equals `presented`.
    pub fn key_by_string(&self, presented: &str) -> Option<&KeyConfig> {
        self.config
            .keys
            .iter()
            .find(|k| util::ct_eq(presented.as_bytes(), k.key_string().as_bytes()))
    }

    /// The app every key belongs to (the first key's appId).
    fn app_id(&self) -> &str {
        let name = &self.config.keys[0].name;
        name.split_once('.').map_or(name.as_str(), |(app, _)| app)
    }

    /// Authenticates a request (see the module docs).
    pub fn authenticate(&self, req: &RecordedRequest) -> Result<Principal, Reply> {
        match presented(req) {
            Presented::Token(t) => self.verify_token(&t, true),
            Presented::Key(k) => match self.key_by_string(&k) {
                Some(key) => Ok(Principal {
                    capability: capability::parse(&key.capability).unwrap_or_default(),
                    client_id: None,
                    basic: true,
                    expires_ms: None,
                }),
                None => Err(invalid_credentials("unknown key")),
            },
            Presented::Nothing => Err(unauthorized(40101, "no credentials provided")),
        }
    }

    fn verify_token(&self, token: &str, allow_embedded: bool) -> Result<Principal, Reply> {
        match self.check_ably_token(token) {
            Some(r) => r,
            None => self.verify_jwt(token, allow_embedded),
        }
    }

    /// A token this server issued; `None` if it is not one.
    fn check_ably_token(&self, token: &str) -> Option<Result<Principal, Reply>> {
        let st = self.state();
        let rec = st.tokens.get(token)?;
        let cap = capability::parse(&rec.capability).unwrap_or_default();
        let target = Revocable {
            key_name: &rec.key_name,
            issued_us: rec.issued_us,
            client_id: rec.client_id.as_deref(),
            capability: &cap,
            revocation_key: None,
        };
        if rec.revoked || self.is_revoked(&st, &target) {
            return Some(Err(unauthorized(40141, "token revoked")));
        }
        if rec.expires <= self.now_ms() {
            return Some(Err(unauthorized(40142, "token expired")));
        }
        Some(Ok(Principal {
            capability: cap,
            client_id: rec.client_id.clone(),
            basic: false,
            expires_ms: Some(rec.expires),
        }))
    }

    fn verify_jwt(&self, token: &str, allow_embedded: bool) -> Result<Principal, Reply> {
        let d = jwt::decode(token).map_err(invalid_jwt)?;
        if let Some(inner) = d
            .header
            .get("x-ably-token")
            .or_else(|| d.claims.get("x-ably-token"))
        {
            if !allow_embedded {
                return Err(invalid_jwt("an embedded token cannot embed another"));
            }
            return self.verify_embedding(&d.claims, inner);
        }
        if d.header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(invalid_jwt("signing method must be HS256"));
        }
        let kid = d
            .header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_jwt("token has no kid header"))?;
        let Some(key) = self.key_by_name(kid) else {
            return Err(match kid.split_once('.') {
                Some((app, _)) if app != self.app_id() => {
                    Reply::ably_error(404, 40400, "application not found")
                }
                _ => invalid_jwt("kid names no key"),
            });
        };
        let expect = util::hmac_sha256(key.secret.as_bytes(), d.signing_input.as_bytes());
        if !util::ct_eq(&d.signature, &expect) {
            return Err(invalid_jwt("signature is invalid"));
        }
        let claims = &d.claims;
        let now = self.now_ms();
        let exp = jwt::numeric_date_ms(claims, "exp")
            .map_err(|()| invalid_credentials("exp is not a number"))?
            .ok_or_else(|| invalid_credentials("exp claim required"))?;
        if exp <= now {
            return Err(unauthorized(40142, "token expired"));
        }
        let nbf = jwt::numeric_date_ms(claims, "nbf")
            .map_err(|()| invalid_credentials("nbf is not a number"))?;
        if nbf.is_some_and(|nbf| now < nbf) {
            return Err(invalid_credentials("token not valid yet (nbf)"));
        }
        if !claims.contains_key("iat") {
            return Err(invalid_credentials("missing iat claim"));
        }
        let iat = jwt::numeric_date_ms(claims, "iat").ok().flatten();
        if iat.is_some_and(|iat| iat > now + IAT_LEEWAY_MS) {
            return Err(invalid_credentials("iat in the future"));
        }
        let revocation_key = match claims.get("x-ably-revocation-key") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
            Some(_) => {
                return Err(invalid_jwt(
                    "x-ably-revocation-key must be a non-empty string",
                ));
            }
        };
        let key_cap = capability::parse(&key.capability).unwrap_or_default();
        let cap = match claims.get("x-ably-capability") {
            Some(Value::String(c)) => capability::intersect(
                &capability::parse(c)
                    .ok_or_else(|| invalid_credentials("x-ably-capability is not a capability"))?,
                &key_cap,
            ),
            _ => key_cap,
        };
        let client_id = claims
            .get("x-ably-clientId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let st = self.state();
        let target = Revocable {
            key_name: &key.name,
            issued_us: iat.unwrap_or(0) * 1000,
            client_id: client_id.as_deref(),
            capability: &cap,
            revocation_key,
        };
        if st.jwts_revoked.contains(token) || self.is_revoked(&st, &target) {
            return Err(unauthorized(40141, "token revoked"));
        }
        Ok(Principal {
            capability: cap,
            client_id,
            basic: false,
            expires_ms: Some(exp),
        })
    }

    /// A JWT standing for the token it embeds.
    fn verify_embedding(
        &self,
        claims: &Map<String, Value>,
        inner: &Value,
    ) -> Result<Principal, Reply> {
        let inner = inner
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid_jwt("x-ably-token must be a non-empty string"))?;
        let exp =
            jwt::numeric_date_ms(claims, "exp").map_err(|()| invalid_jwt("exp is not a number"))?;
        if exp.is_some_and(|e| e <= self.now_ms()) {
            return Err(unauthorized(40142, "token expired"));
        }
        let principal = self.verify_token(inner, false)?;
        if let (Some(outer), Some(embedded)) = (exp, principal.expires_ms)
            && outer > embedded
        {
            return Err(invalid_jwt("exp is later than the embedded token's expiry"));
        }
        Ok(principal)
    }

    /// Whether a revocation of the token's key applies to it now.
    pub fn is_revoked(&self, st: &State, t: &Revocable) -> bool {
        let now_us = self.now_us();
        st.revocations.iter().any(|r| {
            r.key_name == t.key_name
                && now_us >= r.applies_at_us
                && t.issued_us <= r.issued_before_us
                && match r.kind.as_str() {
                    "clientId" => t.client_id == Some(r.value.as_str()),
                    "revocationKey" => t.revocation_key == Some(r.value.as_str()),
                    "channel" => t.capability.contains_key(&r.value),
                    _ => false,
                }
        })
    }
}

/// The clientId a request acts as: `""` anonymous, `*` any, else that one. The request may
/// assert one with `?clientId=` or the base64 `X-Ably-ClientId` header (40012/400 if that is not
/// base64); a key may assert any, a token only its own (40102/401 otherwise).
pub fn request_client_id(req: &RecordedRequest, p: &Principal) -> Result<String, Reply> {
    let asserted = match req.query_param("clientId").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => match req.header("x-ably-clientid").filter(|h| !h.is_empty()) {
            None => String::new(),
            Some(h) => util::b64_decode(h)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| {
                    Reply::ably_error(
                        400,
                        40012,
                        "invalid clientId; must be base64-encoded if passed by header",
                    )
                })?,
        },
    };
    let mismatch = || Reply::ably_error(401, 40102, "clientId not permitted by credential");
    if p.basic {
        return Ok(if asserted.is_empty() {
            "*".into()
        } else {
            asserted
        });
    }
    match p.client_id.as_deref() {
        None if asserted.is_empty() => Ok(String::new()),
        None => Err(mismatch()),
        Some("*") => match asserted.as_str() {
            "" => Ok("*".into()),
            "*" => Err(mismatch()),
            _ => Ok(asserted),
        },
        Some(own) if asserted.is_empty() || asserted == own => Ok(own.to_string()),
        Some(_) => Err(mismatch()),
    }
}

/// The clientId a message may carry on a request acting as `acting` (see
/// [`request_client_id`]); `None` when it is not allowed (40012).
pub fn message_client_id(acting: &str, message: &str) -> Option<String> {
    match acting {
        "" => message.is_empty().then(String::new),
        "*" => (message != "*").then(|| message.to_string()),
        own => (message.is_empty() || message == own).then(|| own.to_string()),
    }
}
