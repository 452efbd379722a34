//! A loopback, Ably-compatible REST auth server: an independent test oracle for `ably-auth`.
//!
//! It does not depend on `ably-auth`; every signature, capability and token check here is written
//! from Ably's rules as ably-server (commit c69f0756e57b, `internal/auth`, `internal/rest`)
//! implements them, and from Ably's documentation where that server has no such feature;
//! `docs/ably-server-fidelity.md` lists every rule with its conformance test. It listens on
//! `127.0.0.1` only, speaks HTTP/1.1 (keep-alive, `Content-Length` or chunked request bodies) over
//! plain TCP or over TLS (rustls, ring provider, a per-server CA generated with rcgen), and runs
//! one thread per connection.
//!
//! # Endpoints (real behaviour)
//!
//! Every reply carries `Content-Length`; JSON replies carry `Content-Type: application/json`.
//! An error reply has the body `{"error":{"code","statusCode","message","href"}}` and the headers
//! `X-Ably-ErrorCode` and `X-Ably-ErrorMessage`; an authentication failure also carries
//! `WWW-Authenticate`.
//!
//! * `POST /keys/{keyName}/requestToken` — body: a TokenRequest
//!   `{keyName, ttl?, capability?, clientId?, timestamp, nonce, mac}`; the checks and their order
//!   are in `token_request.rs` (shape 40001/40000/40003 before authentication 40101, then
//!   timestamp ±2 min 40104, nonce 40105 — one nonce space for all keys — and narrowing 40160).
//!   Success: 200 TokenDetails `{"token","keyName","issued","expires","capability","clientId"?}`,
//!   default ttl 3 600 000 ms, token `lbtk-<base64url>` (an opaque Ably token, as Ably issues;
//!   ably-server issues JWTs instead); counted by [`LoopbackServer::tokens_issued`].
//! * `GET /time` → `[<server ms>]`; no auth (`Accept` must allow JSON, else 40004/406).
//! * `POST /keys/{keyName}/revokeTokens` — needs `Authorization: Basic base64(name:secret)` of that
//!   key (missing/wrong → 40101/401; `Bearer` → 40162/401); key not revocable → 40163/400; body
//!   `{"targets":["type:value"…],"issuedBefore"?,"allowReauthMargin"?}` (bad body/empty targets, or
//!   `issuedBefore` in the future or more than 1 h in the past → 40000/400). Types `clientId`,
//!   `revocationKey`, `channel` succeed, anything else is a per-target failure
//!   `{"target","error":{"code":40000,"statusCode":400,"message"}}`. Reply 201
//!   `{"successCount","failureCount","results":[{"target","issuedBefore","appliesAt"}|failure…]}`,
//!   `appliesAt` = now (+30 000 with `allowReauthMargin`). Effect: once `appliesAt` has passed, a
//!   token of that key issued before `issuedBefore` (default: the instant of the request, at
//!   microsecond resolution) whose clientId equals a `clientId:` target, whose capability names
//!   a `channel:` target's channel as a resource, or (a JWT) whose `x-ably-revocation-key` equals
//!   a `revocationKey:` target, is revoked (40141). ably-server has no revocation: this follows
//!   Ably's documentation.
//! * Protected: `GET /channels/{name}` (any operation on the channel) →
//!   `{"channelId","status":{"isActive":true},"clientId"?}`, `GET /channels/{name}/messages`
//!   (needs `history`) → `[]`, `POST /channels/{name}/messages` (needs `publish`; body a message
//!   or an array of them, else 40001; a message's `clientId` must be the credential's, else
//!   40012/400) → 201 `{"channel","messageId","serials"}`, and any `/protected…` (no capability
//!   check) → `{"ok":true,"clientId"?}`. Credentials (see `credentials.rs`): `Bearer ` exactly
//!   (token raw or standard base64), `?access_token=`/`?accessToken=`, `Basic`, `?key=`; Ably
//!   tokens: revoked → 40141/401, expired → 40142/401; anything else must be an Ably JWT (HS256,
//!   `kid`, `exp`, `iat` at most 60 s ahead; capability claim narrowed by the key's; errors
//!   40144, 40101, 40142, 40400) or a JWT embedding a token (`x-ably-token`). Missing credentials
//!   → 40101/401; capability refusals → 40160/401. Resources match by `:`-separated segments
//!   (`capability.rs`).
//! * authUrl-style endpoints (GET with query or POST with a form body; parameters `ttl`,
//!   `capability`, `clientId` override the defaults): `/auth/token-request` → a TokenRequest signed
//!   with the first key (fresh nonce, server timestamp; `application/json`); `/auth/token` → a
//!   registered token string (`text/plain`); `/auth/jwt` → a JWT (`application/jwt`);
//!   `/auth/token-details` → TokenDetails (`application/json`).
//! * Anything else → 40400/404.
//!
//! Every request (including ones a [`Rule`] faults) is recorded, see [`LoopbackServer::requests`].
//!
//! # Control API (only when enabled, as the `ably-loopback-server` binary does)
//!
//! Paths under `/_control/` are neither recorded nor subject to rules:
//! `POST /_control/rule` (a JSON rule, see the binary's docs), `POST /_control/reset` (clear rules
//! and recorded requests), `GET /_control/requests`, `POST /_control/skew` `{"ms":N}`,
//! `POST /_control/mint` (MintSpec JSON `{"ttl"?,"capability"?,"clientId"?,"issued"?}` →
//! TokenDetails), `POST /_control/jwt` (MintSpec → `{"jwt"}`), `POST /_control/token-request`
//! (MintSpec → signed TokenRequest), `POST /_control/revoke-all`, `GET /_control/key`
//! (`{"key","keyName"}`), `GET /_control/stats` (`{"connections","tokensIssued","requests"}`),
//! `GET /_control/ca` (CA PEM, 404 without TLS).

#![forbid(unsafe_code)]

mod ably;
mod capability;
mod control;
mod credentials;
mod jwt;
mod server;
mod token_request;
mod util;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

pub use ably::MintSpec;

/// Server configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Serve HTTPS with a freshly generated CA (see [`LoopbackServer::ca_pem`]).
    pub tls: bool,
    /// The app's keys; the first is the default for minting.
    pub keys: Vec<KeyConfig>,
    /// Largest ttl requestToken accepts (40003 above it).
    pub max_token_ttl_ms: i64,
    /// TokenRequest timestamps further than this from the server clock get 40104; a nonce is
    /// remembered this long (Ably: 2 minutes).
    pub timestamp_window_ms: i64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tls: false,
            keys: vec![KeyConfig::default()],
            max_token_ttl_ms: 86_400_000,
            timestamp_window_ms: 120_000,
        }
    }
}

/// One API key of the loopback app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyConfig {
    /// `appId.keyId`.
    pub name: String,
    /// The key secret (used as-is as the HMAC key).
    pub secret: String,
    /// The key's capability, as JSON.
    pub capability: String,
    /// Whether revokeTokens is allowed (else 40163).
    pub revocable: bool,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            name: "appId.keyId".into(),
            secret: "loopbackSecret0123456789".into(),
            capability: r#"{"*":["*"]}"#.into(),
            revocable: true,
        }
    }
}

impl KeyConfig {
    /// `name:secret`.
    pub fn key_string(&self) -> String {
        format!("{}:{}", self.name, self.secret)
    }
}

/// A token issued directly by [`LoopbackServer::mint_token`] or by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenDetailsJson {
    /// TokenDetails JSON as the server would send it.
    pub json: String,
    pub token: String,
    pub expires: i64,
    pub issued: i64,
}

/// One request as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path without the query, not percent-decoded.
    pub path: String,
    /// Query parameters, percent-decoded (`+` as space), in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which TCP connection (1-based, in accept order) carried it.
    pub connection_id: usize,
}

impl RecordedRequest {
    /// First header with that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 (empty if it is not UTF-8).
    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }

    /// The body decoded as `application/x-www-form-urlencoded`.
    pub fn form(&self) -> Vec<(String, String)> {
        util::parse_form(self.body_str())
    }

    /// First query parameter with that name.
    pub fn query_param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// A fault-injection rule. Rules are kept in a FIFO list; the first rule that matches a request
/// and has uses left applies and loses one use.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Method to match (case-insensitive); `None` matches any.
    pub method: Option<String>,
    /// Matches a request whose path (without query) starts with this.
    pub path_prefix: String,
    /// Uses left; `usize::MAX` = forever.
    pub times: usize,
    pub action: Action,
}

impl Rule {
    /// Applies to the next matching request only.
    pub fn once(path_prefix: &str, action: Action) -> Rule {
        Rule::times(path_prefix, 1, action)
    }

    /// Applies to the next `n` matching requests.
    pub fn times(path_prefix: &str, n: usize, action: Action) -> Rule {
        Rule {
            method: None,
            path_prefix: path_prefix.to_string(),
            times: n,
            action,
        }
    }

    /// Applies to every matching request.
    pub fn always(path_prefix: &str, action: Action) -> Rule {
        Rule::times(path_prefix, usize::MAX, action)
    }

    /// Restricts the rule to one method.
    pub fn method(mut self, m: &str) -> Rule {
        self.method = Some(m.to_string());
        self
    }
}

/// What a [`Rule`] does to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A canned response; give the content type in `headers`.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// An Ably error body (`application/json`) plus the `X-Ably-Error*` headers.
    AblyError {
        status: u16,
        code: u32,
        message: String,
    },
    /// A JSON body with that status.
    Json { status: u16, body: String },
    /// 200, `application/json`, body `{"token": "abc"` (truncated).
    MalformedJson,
    /// 200, `text/html`, body `<html>not json</html>`.
    WrongContentType,
    /// 200, `application/json`, a JSON string of exactly `bytes` bytes.
    Oversized { bytes: usize },
    /// Sleep before writing the status line, then do `then`.
    SlowHeaders { delay_ms: u64, then: Box<Action> },
    /// The real response, but written as headers + first half of the body, a pause, the rest.
    SlowBody { delay_ms: u64 },
    /// Close the connection without answering (after reading the request).
    Drop,
    /// The real behaviour.
    Pass,
}

/// A running loopback server; dropping it stops accepting connections.
pub struct LoopbackServer {
    inner: Arc<server::Inner>,
    port: u16,
    accept: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Starts on `127.0.0.1:0`. Panics if that fails.
    pub fn start(config: ServerConfig) -> LoopbackServer {
        LoopbackServer::start_on(config, 0).expect("start the loopback server")
    }

    /// Starts on `127.0.0.1:port`.
    pub fn start_on(config: ServerConfig, port: u16) -> io::Result<LoopbackServer> {
        let tls = if config.tls {
            Some(server::make_tls().map_err(io::Error::other)?)
        } else {
            None
        };
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let inner = Arc::new(server::Inner::new(config, tls));
        let accept_inner = inner.clone();
        let accept = std::thread::Builder::new()
            .name(format!("loopback-accept-{port}"))
            .spawn(move || server::accept_loop(accept_inner, listener))?;
        Ok(LoopbackServer {
            inner,
            port,
            accept: Some(accept),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS.
    pub fn base_url(&self) -> String {
        if self.inner.tls.is_some() {
            format!("https://localhost:{}", self.port)
        } else {
            format!("http://127.0.0.1:{}", self.port)
        }
    }

    /// PEM of the CA that signed the server certificate (SANs `localhost`, `127.0.0.1`).
    pub fn ca_pem(&self) -> Option<String> {
        self.inner.tls.as_ref().map(|t| t.ca_pem.clone())
    }

    /// The first key.
    pub fn key(&self) -> &KeyConfig {
        &self.inner.config.keys[0]
    }

    /// Every request received so far, in order (control requests excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.state().requests.clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    pub fn clear_requests(&self) {
        self.inner.state().requests.clear();
    }

    /// Appends a rule to the FIFO list.
    pub fn push_rule(&self, rule: Rule) {
        self.inner.state().rules.push(rule);
    }

    pub fn clear_rules(&self) {
        self.inner.state().rules.clear();
    }

    /// Server clock = system time + `skew`.
    pub fn set_clock_skew_ms(&self, skew: i64) {
        self.inner.skew_ms.store(skew, Ordering::SeqCst);
    }

    /// The server clock in ms.
    pub fn now_ms(&self) -> i64 {
        self.inner.now_ms()
    }

    /// Issues a token directly (not counted by `tokens_issued`), registered as valid.
    pub fn mint_token(&self, spec: MintSpec) -> TokenDetailsJson {
        self.inner.mint_token(&spec)
    }

    /// An HS256 Ably JWT signed with the first key.
    pub fn mint_jwt(&self, spec: MintSpec) -> String {
        self.inner.mint_jwt(&spec)
    }

    /// A TokenRequest JSON signed by the server with the first key.
    pub fn signed_token_request(&self, spec: MintSpec) -> String {
        self.inner.signed_token_request(&spec)
    }

    /// Revokes every token and JWT issued so far.
    pub fn revoke_all_tokens(&self) {
        self.inner.revoke_all();
    }

    /// Tokens issued by `requestToken`.
    pub fn tokens_issued(&self) -> usize {
        self.inner.state().tokens_issued
    }

    /// Serves the `/_control/` API on this port (the binary turns it on).
    pub fn enable_control_api(&self) {
        self.inner.control.store(true, Ordering::SeqCst);
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let woke = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok();
        if let Some(h) = self.accept.take()
            && woke
        {
            let _ = h.join();
        }
    }
}
