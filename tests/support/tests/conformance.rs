//! One test per rule of docs/ably-server-fidelity.md: the loopback server answers raw HTTP
//! requests with the codes and statuses ably-server (c69f0756e57b) gives, or, where that server
//! lacks a feature, with what Ably's documentation describes.

mod common;

use ably_loopback::{KeyConfig, LoopbackServer, MintSpec, ServerConfig};
use common::*;
use serde_json::{Value, json};

fn key(name: &str, capability: &str) -> KeyConfig {
    KeyConfig {
        name: name.into(),
        capability: capability.into(),
        ..KeyConfig::default()
    }
}

fn server() -> LoopbackServer {
    LoopbackServer::start(ServerConfig::default())
}

fn server_with(keys: Vec<KeyConfig>) -> LoopbackServer {
    LoopbackServer::start(ServerConfig {
        keys,
        ..ServerConfig::default()
    })
}

fn unique_nonce() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "conformance-{}-{}",
        system_now_ms(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A TokenRequest for `k` signed by the test, with a fresh nonce.
fn signed(
    k: &KeyConfig,
    ttl: Option<i64>,
    cap: Option<&str>,
    client_id: Option<&str>,
    ts: i64,
) -> Value {
    token_request(&k.name, &k.secret, ttl, cap, client_id, ts, &unique_nonce())
}

/// A TokenRequest for `appId.unknown`, which no server here has.
fn for_unknown_key(s: &LoopbackServer, cap: Option<&str>) -> Value {
    token_request(
        "appId.unknown",
        "secret",
        None,
        cap,
        None,
        s.now_ms(),
        &unique_nonce(),
    )
}

fn exchange(s: &LoopbackServer, key_name: &str, body: &Value) -> Resp {
    exchange_raw(s, key_name, &body.to_string())
}

fn exchange_raw(s: &LoopbackServer, key_name: &str, body: &str) -> Resp {
    post_json(s.port(), &format!("/keys/{key_name}/requestToken"), body)
}

#[track_caller]
fn assert_error(r: &Resp, status: u16, code: u64) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.text());
    assert_eq!(r.json()["error"]["statusCode"], status);
    assert_eq!(
        r.header("X-Ably-ErrorCode"),
        Some(code.to_string().as_str())
    );
}

/// A TokenRequest exchange refused with that status and code.
#[track_caller]
fn assert_refused(s: &LoopbackServer, key_name: &str, body: &Value, status: u16, code: u64) {
    assert_error(&exchange(s, key_name, body), status, code);
}

/// A TokenRequest signed for the server's first key, refused with that status and code.
#[track_caller]
fn assert_signed_refused(
    s: &LoopbackServer,
    ttl: Option<i64>,
    cap: Option<&str>,
    status: u16,
    code: u64,
) {
    let k = s.key();
    assert_refused(
        s,
        &k.name,
        &signed(k, ttl, cap, None, s.now_ms()),
        status,
        code,
    );
}

#[track_caller]
fn granted(r: &Resp) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn bearer(token: &str) -> String {
    format!("Bearer {}", b64(token))
}

fn token(s: &LoopbackServer, capability: Option<&str>, client_id: Option<&str>) -> String {
    s.mint_token(MintSpec {
        capability: capability.map(str::to_string),
        client_id: client_id.map(str::to_string),
        ..MintSpec::default()
    })
    .token
}

fn now_s(s: &LoopbackServer) -> i64 {
    s.now_ms() / 1000
}

// --- TokenRequests -------------------------------------------------------------------------

#[test]
fn token_request_timestamp_window_is_two_minutes() {
    let s = server();
    let k = s.key().clone();
    let now = s.now_ms();
    granted(&exchange(
        &s,
        &k.name,
        &signed(&k, None, None, None, now - 110_000),
    ));
    granted(&exchange(
        &s,
        &k.name,
        &signed(&k, None, None, None, now + 110_000),
    ));
    for ts in [now - 130_000, now + 130_000] {
        assert_refused(&s, &k.name, &signed(&k, None, None, None, ts), 401, 40104);
    }
}

#[test]
fn token_request_missing_timestamp_is_40104_and_missing_nonce_is_40105() {
    let s = server();
    let k = s.key().clone();
    // The mac covers the fields as the server reads them: an absent timestamp is 0.
    let mut no_ts = token_request(&k.name, &k.secret, None, None, None, 0, &unique_nonce());
    no_ts.as_object_mut().unwrap().remove("timestamp");
    assert_refused(&s, &k.name, &no_ts, 401, 40104);
    let mut no_nonce = token_request(&k.name, &k.secret, None, None, None, s.now_ms(), "");
    no_nonce.as_object_mut().unwrap().remove("nonce");
    assert_refused(&s, &k.name, &no_nonce, 401, 40105);
    // Without a mac the key itself authenticates the request, and neither is needed.
    let r = request(
        s.port(),
        "POST",
        &format!("/keys/{}/requestToken", k.name),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Basic {}", b64(&k.key_string()))),
        ],
        json!({"keyName": k.name}).to_string().as_bytes(),
    );
    granted(&r);
}

#[test]
fn token_request_ttl_zero_means_the_default_hour() {
    let s = server();
    let k = s.key().clone();
    // A ttl of 0 is unset: the mac text has an empty ttl line.
    let mut tr = signed(&k, None, None, None, s.now_ms());
    tr["ttl"] = json!(0);
    let td = granted(&exchange(&s, &k.name, &tr));
    assert_eq!(
        td["expires"].as_i64().unwrap() - td["issued"].as_i64().unwrap(),
        3_600_000
    );
    // Negative or above 24 h is 40003.
    for ttl in [-1, 86_400_001] {
        assert_signed_refused(&s, Some(ttl), None, 400, 40003);
    }
}

#[test]
fn token_request_ttl_and_timestamp_as_json_strings_are_accepted() {
    let s = server();
    let k = s.key().clone();
    let now = s.now_ms();
    let mut tr = signed(&k, Some(60_000), None, None, now);
    tr["ttl"] = json!("60000");
    tr["timestamp"] = json!(now.to_string());
    let td = granted(&exchange(&s, &k.name, &tr));
    assert_eq!(
        td["expires"].as_i64().unwrap() - td["issued"].as_i64().unwrap(),
        60_000
    );
    // A string that is not a number is a malformed body.
    let mut bad = signed(&k, None, None, None, now);
    bad["ttl"] = json!("an hour");
    assert_refused(&s, &k.name, &bad, 400, 40001);
}

#[test]
fn token_request_unknown_key_name_is_40101() {
    let s = server();
    let k = s.key().clone();
    let tr = for_unknown_key(&s, None);
    assert_refused(&s, "appId.unknown", &tr, 401, 40101);
    // A body naming another key than the path is 40000.
    let tr = signed(&k, None, None, None, s.now_ms());
    assert_refused(&s, "appId.unknown", &tr, 400, 40000);
}

#[test]
fn token_request_body_not_json_is_40001() {
    let s = server();
    let k = s.key().clone();
    for body in ["not json", "", "[1]", r#"{"keyName": 5}"#] {
        assert_error(&exchange_raw(&s, &k.name, body), 400, 40001);
    }
    let mut cap_object = signed(&k, None, None, None, s.now_ms());
    cap_object["capability"] = json!({"*": ["*"]});
    assert_refused(&s, &k.name, &cap_object, 400, 40001);
    // Not JSON at all as a content type.
    let r = request(
        s.port(),
        "POST",
        &format!("/keys/{}/requestToken", k.name),
        &[("Content-Type", "text/plain")],
        signed(&k, None, None, None, s.now_ms())
            .to_string()
            .as_bytes(),
    );
    assert_error(&r, 415, 40004);
}

#[test]
fn token_request_capability_and_ttl_shape_are_checked_before_the_mac() {
    let s = server();
    let k = s.key().clone();
    let mut tr = signed(&k, None, Some(r#"{"a":["teleport"]}"#), None, s.now_ms());
    tr["mac"] = json!("bm90IHRoZSBtYWM=");
    assert_refused(&s, &k.name, &tr, 400, 40000);
    let mut tr = signed(&k, Some(-1), None, None, s.now_ms());
    tr["mac"] = json!("bm90IHRoZSBtYWM=");
    assert_refused(&s, &k.name, &tr, 400, 40003);
    // Even before the key is looked up.
    let tr = for_unknown_key(&s, Some(r#"{"a":[]}"#));
    assert_refused(&s, "appId.unknown", &tr, 400, 40000);
    // A well-formed request with a bad mac is 40101.
    let mut tr = signed(&k, None, Some(r#"{"a":["publish"]}"#), None, s.now_ms());
    tr["mac"] = json!("bm90IHRoZSBtYWM=");
    assert_refused(&s, &k.name, &tr, 401, 40101);
}

#[test]
fn token_request_capability_validation() {
    let s = server();
    let k = s.key().clone();
    let now = s.now_ms();
    for bad in [
        r#"{"a":["teleport"]}"#,
        r#"{"a":[]}"#,
        r#"{"a":null}"#,
        r#"{"a":["*","publish"]}"#,
        r#"{"a":["*","*"]}"#,
        r#"{"a":["Publish"]}"#,
        r#"["publish"]"#,
        r#"{"a":"publish"}"#,
    ] {
        assert_signed_refused(&s, None, Some(bad), 400, 40000);
    }
    // The operations ably-server knows, the newer ones included.
    let all: Vec<&str> = "publish subscribe presence history stats message-subscribe \
        presence-subscribe message-update-own message-update-any message-delete-own \
        message-delete-any annotation-publish annotation-subscribe push-subscribe push-admin \
        channel-metadata channel-metadata:publishers object-subscribe object-publish list-channels \
        privileged-headers connection-metadata"
        .split_whitespace()
        .collect();
    assert_eq!(all.len(), 22);
    let cap = json!({"a": all}).to_string();
    let td = granted(&exchange(
        &s,
        &k.name,
        &signed(&k, None, Some(&cap), None, now),
    ));
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(td["capability"], json!({"a": sorted}).to_string());
    // `{}` is well-formed but grants nothing.
    assert_signed_refused(&s, None, Some("{}"), 401, 40160);
}

#[test]
fn token_request_qualified_wildcard_is_rewritten_to_star_when_narrowing() {
    let s = server();
    let k = s.key().clone();
    let td = granted(&exchange(
        &s,
        &k.name,
        &signed(
            &k,
            None,
            Some(r#"{"[*]*":["subscribe"]}"#),
            None,
            s.now_ms(),
        ),
    ));
    assert_eq!(td["capability"], r#"{"*":["subscribe"]}"#);
    // Narrowing keeps the more specific path, and the key's verbatim capability is echoed when
    // none is requested.
    let s = server_with(vec![key(
        "appId.ns",
        r#"{"chat:*":["publish","subscribe"]}"#,
    )]);
    let k = s.key().clone();
    let td = granted(&exchange(
        &s,
        &k.name,
        &signed(
            &k,
            None,
            Some(r#"{"*":["subscribe","history"]}"#),
            None,
            s.now_ms(),
        ),
    ));
    assert_eq!(td["capability"], r#"{"chat:*":["subscribe"]}"#);
    let td = granted(&exchange(
        &s,
        &k.name,
        &signed(&k, None, None, None, s.now_ms()),
    ));
    assert_eq!(td["capability"], k.capability.as_str());
    // ably-server's path intersection: different lengths meet only where the shorter path
    // ends in `*`, so the key's `chat:*` does not grant a request for exactly `chat`.
    let r = exchange(
        &s,
        &k.name,
        &signed(&k, None, Some(r#"{"chat":["publish"]}"#), None, s.now_ms()),
    );
    assert_error(&r, 401, 40160);
}

#[test]
fn token_request_nonce_scope_is_global_across_keys() {
    let s = server_with(vec![
        key("appId.one", r#"{"*":["*"]}"#),
        key("appId.two", r#"{"*":["*"]}"#),
    ]);
    let (one, two) = (
        s.key().clone(),
        KeyConfig {
            name: "appId.two".into(),
            ..s.key().clone()
        },
    );
    let nonce = unique_nonce();
    let tr = token_request(&one.name, &one.secret, None, None, None, s.now_ms(), &nonce);
    granted(&exchange(&s, &one.name, &tr));
    let tr = token_request(&two.name, &two.secret, None, None, None, s.now_ms(), &nonce);
    assert_refused(&s, &two.name, &tr, 401, 40105);
}

#[test]
fn token_request_nonce_is_used_up_even_when_refused_with_40160() {
    let s = server_with(vec![key("appId.narrow", r#"{"a":["publish"]}"#)]);
    let k = s.key().clone();
    let nonce = unique_nonce();
    let with_cap = |cap: &str| {
        token_request(
            &k.name,
            &k.secret,
            None,
            Some(cap),
            None,
            s.now_ms(),
            &nonce,
        )
    };
    assert_refused(&s, &k.name, &with_cap(r#"{"b":["publish"]}"#), 401, 40160);
    assert_refused(&s, &k.name, &with_cap(r#"{"a":["publish"]}"#), 401, 40105);
    // A refusal before the nonce is recorded (a bad mac) leaves it usable.
    let fresh = unique_nonce();
    let mut tr = token_request(&k.name, &k.secret, None, None, None, s.now_ms(), &fresh);
    let good_mac = tr["mac"].clone();
    tr["mac"] = json!("bm90IHRoZSBtYWM=");
    assert_refused(&s, &k.name, &tr, 401, 40101);
    tr["mac"] = good_mac;
    granted(&exchange(&s, &k.name, &tr));
}

// --- Channels ------------------------------------------------------------------------------

#[test]
fn channel_resources_match_by_colon_segments() {
    let s = server();
    let p = s.port();
    let status = |t: &str, ch: &str| get_auth(p, &format!("/channels/{ch}"), &bearer(t)).status;
    let ns = token(&s, Some(r#"{"chat:*":["subscribe"]}"#), None);
    assert_eq!(status(&ns, "chat"), 200, "chat:* covers chat");
    assert_eq!(status(&ns, "chat:room"), 200);
    assert_eq!(status(&ns, "chat:room:deep"), 200);
    assert_eq!(status(&ns, "chatroom"), 401);
    let literal = token(&s, Some(r#"{"chat*":["subscribe"]}"#), None);
    assert_eq!(status(&literal, "chatroom"), 401, "chat* is a literal name");
    assert_eq!(status(&literal, "chat*"), 200);
    let inner = token(&s, Some(r#"{"a:*:c":["subscribe"]}"#), None);
    assert_eq!(status(&inner, "a:b:c"), 200);
    assert_eq!(status(&inner, "a:b:x:c"), 401);
    let r = get_auth(p, "/channels/chatroom", &bearer(&ns));
    assert_error(&r, 401, 40160);
}

#[test]
fn channel_history_needs_the_history_operation() {
    let s = server();
    let p = s.port();
    let subscribe = token(&s, Some(r#"{"ch":["subscribe","publish"]}"#), None);
    let r = get_auth(p, "/channels/ch/messages", &bearer(&subscribe));
    assert_error(&r, 401, 40160);
    let history = token(&s, Some(r#"{"ch":["history"]}"#), None);
    let r = get_auth(p, "/channels/ch/messages", &bearer(&history));
    assert_eq!((r.status, r.text().as_str()), (200, "[]"));
}

fn publish(s: &LoopbackServer, path: &str, auth: &str, body: &str) -> Resp {
    request(
        s.port(),
        "POST",
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

#[test]
fn channel_message_client_id_must_match_the_tokens() {
    let s = server();
    let alice = bearer(&token(&s, None, Some("alice")));
    let path = "/channels/room/messages";
    assert_error(
        &publish(&s, path, &alice, r#"{"clientId":"bob"}"#),
        400,
        40012,
    );
    assert_error(
        &publish(&s, path, &alice, r#"[{},{"clientId":"bob"}]"#),
        400,
        40012,
    );
    let r = publish(&s, path, &alice, r#"{"clientId":"alice","name":"x"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["channel"], "room");
    assert_eq!(publish(&s, path, &alice, r#"{"name":"x"}"#).status, 201);
    // A token without a clientId may not name one; a wildcard token may name any but `*`.
    let anonymous = bearer(&token(&s, None, None));
    assert_error(
        &publish(&s, path, &anonymous, r#"{"clientId":"bob"}"#),
        400,
        40012,
    );
    let any = bearer(&token(&s, None, Some("*")));
    assert_eq!(publish(&s, path, &any, r#"{"clientId":"bob"}"#).status, 201);
    assert_error(&publish(&s, path, &any, r#"{"clientId":"*"}"#), 400, 40012);
    // The key itself may publish as anyone.
    let basic = format!("Basic {}", b64(&s.key().key_string()));
    assert_eq!(
        publish(&s, path, &basic, r#"{"clientId":"carol"}"#).status,
        201
    );
    // Asserting another clientId for the request than the token's is 40102.
    let r = publish(&s, "/channels/room/messages?clientId=bob", &alice, "{}");
    assert_error(&r, 401, 40102);
    // The body must be messages.
    assert_error(&publish(&s, path, &alice, "not json"), 400, 40001);
    assert_error(&publish(&s, path, &alice, "[]"), 400, 40001);
}

// --- Credentials ---------------------------------------------------------------------------

#[test]
fn authorization_scheme_is_exactly_bearer() {
    let s = server();
    let p = s.port();
    let t = token(&s, None, None);
    assert_eq!(
        get_auth(p, "/channels/x", &format!("Bearer {t}")).status,
        200
    );
    assert_eq!(get_auth(p, "/channels/x", &bearer(&t)).status, 200);
    for scheme in ["bearer", "BEARER", "Token"] {
        let r = get_auth(p, "/channels/x", &format!("{scheme} {}", b64(&t)));
        assert_error(&r, 401, 40101);
        assert!(r.header("WWW-Authenticate").is_some());
    }
    // Basic is case-insensitive, as Go's Request.BasicAuth reads it.
    let r = get_auth(
        p,
        "/channels/x",
        &format!("basic {}", b64(&s.key().key_string())),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn access_token_and_key_query_forms_are_accepted() {
    let s = server();
    let p = s.port();
    let t = token(&s, None, Some("q"));
    for param in ["access_token", "accessToken"] {
        let r = get(p, &format!("/channels/x?{param}={t}"));
        assert_eq!((r.status, r.json()["clientId"].clone()), (200, json!("q")));
    }
    let key = s.key().key_string();
    assert_eq!(get(p, &format!("/channels/x?key={key}")).status, 200);
    assert_error(&get(p, "/channels/x?key=appId.keyId:wrong"), 401, 40101);
    assert_error(&get(p, "/channels/x"), 401, 40101);
    // A token wins over a key.
    let r = get_auth(
        p,
        "/channels/x?access_token=lbtk-nope",
        &format!("Basic {}", b64(&key)),
    );
    assert_error(&r, 401, 40144);
}

#[test]
fn non_jwt_bearer_is_40144() {
    let s = server();
    let r = get_auth(s.port(), "/channels/x", &bearer("lbtk-never-issued"));
    assert_error(&r, 401, 40144);
    let r = get_auth(s.port(), "/channels/x", "Bearer not-a-token");
    assert_error(&r, 401, 40144);
}

// --- JWTs ----------------------------------------------------------------------------------

fn jwt_get(s: &LoopbackServer, jwt: &str) -> Resp {
    get_auth(s.port(), "/channels/x", &bearer(jwt))
}

#[test]
fn jwt_requires_kid() {
    let s = server();
    let k = s.key().clone();
    let claims = json!({"iat": now_s(&s), "exp": now_s(&s) + 600});
    let no_kid = oracle_jws(&json!({"typ": "JWT", "alg": "HS256"}), &claims, &k.secret);
    assert_error(&jwt_get(&s, &no_kid), 401, 40144);
    let unknown = oracle_jwt("appId.nokey", &k.secret, &claims);
    assert_error(&jwt_get(&s, &unknown), 401, 40144);
    // A kid of another app: application not found.
    let other_app = oracle_jwt("otherApp.key", &k.secret, &claims);
    assert_error(&jwt_get(&s, &other_app), 404, 40400);
    assert_eq!(
        jwt_get(&s, &oracle_jwt(&k.name, &k.secret, &claims)).status,
        200
    );
}

#[test]
fn jwt_requires_hs256() {
    let s = server();
    let k = s.key().clone();
    let claims = json!({"iat": now_s(&s), "exp": now_s(&s) + 600});
    for alg in ["HS384", "none", "RS256"] {
        let jwt = oracle_jws(
            &json!({"typ": "JWT", "alg": alg, "kid": k.name}),
            &claims,
            &k.secret,
        );
        assert_error(&jwt_get(&s, &jwt), 401, 40144);
    }
    let tampered = oracle_jwt(&k.name, "another secret", &claims);
    assert_error(&jwt_get(&s, &tampered), 401, 40144);
    // Padded base64url is not JWS.
    let good = oracle_jwt(&k.name, &k.secret, &claims);
    let (head, rest) = good.split_once('.').unwrap();
    let padded = format!("{head}=.{rest}");
    assert_error(&jwt_get(&s, &padded), 401, 40144);
}

#[test]
fn jwt_requires_exp() {
    let s = server();
    let k = s.key().clone();
    let no_exp = oracle_jwt(&k.name, &k.secret, &json!({"iat": now_s(&s)}));
    assert_error(&jwt_get(&s, &no_exp), 401, 40101);
    let text_exp = oracle_jwt(
        &k.name,
        &k.secret,
        &json!({"iat": now_s(&s), "exp": "tomorrow"}),
    );
    assert_error(&jwt_get(&s, &text_exp), 401, 40101);
    let expired = oracle_jwt(
        &k.name,
        &k.secret,
        &json!({"iat": now_s(&s) - 60, "exp": now_s(&s) - 1}),
    );
    assert_error(&jwt_get(&s, &expired), 401, 40142);
}

#[test]
fn jwt_requires_iat_at_most_60_s_ahead() {
    let s = server();
    let k = s.key().clone();
    let n = now_s(&s);
    let no_iat = oracle_jwt(&k.name, &k.secret, &json!({"exp": n + 600}));
    assert_error(&jwt_get(&s, &no_iat), 401, 40101);
    let ahead = oracle_jwt(&k.name, &k.secret, &json!({"iat": n + 90, "exp": n + 600}));
    assert_error(&jwt_get(&s, &ahead), 401, 40101);
    let slightly = oracle_jwt(&k.name, &k.secret, &json!({"iat": n + 30, "exp": n + 600}));
    assert_eq!(jwt_get(&s, &slightly).status, 200);
}

#[test]
fn jwt_capability_is_narrowed_by_the_keys() {
    let s = server_with(vec![key("appId.narrow", r#"{"ch":["publish"]}"#)]);
    let k = s.key().clone();
    let n = now_s(&s);
    let wide = oracle_jwt(
        &k.name,
        &k.secret,
        &json!({"iat": n, "exp": n + 600, "x-ably-capability": r#"{"*":["*"]}"#}),
    );
    let auth = bearer(&wide);
    assert_error(
        &publish(&s, "/channels/other/messages", &auth, "{}"),
        401,
        40160,
    );
    assert_eq!(
        publish(&s, "/channels/ch/messages", &auth, "{}").status,
        201
    );
    assert_error(
        &get_auth(s.port(), "/channels/ch/messages", &auth),
        401,
        40160,
    );
    // Without a capability claim, the key's applies.
    let plain = oracle_jwt(&k.name, &k.secret, &json!({"iat": n, "exp": n + 600}));
    assert_error(
        &publish(&s, "/channels/other/messages", &bearer(&plain), "{}"),
        401,
        40160,
    );
    // A capability claim that is not capability JSON makes the token unusable.
    let broken = oracle_jwt(
        &k.name,
        &k.secret,
        &json!({"iat": n, "exp": n + 600, "x-ably-capability": "{"}),
    );
    assert_error(&jwt_get(&s, &broken), 401, 40101);
}

fn revoke(s: &LoopbackServer, target: &str) {
    let r = request(
        s.port(),
        "POST",
        &format!("/keys/{}/revokeTokens", s.key().name),
        &[
            (
                "Authorization",
                &format!("Basic {}", b64(&s.key().key_string())),
            ),
            ("Content-Type", "application/json"),
        ],
        json!({"targets": [target]}).to_string().as_bytes(),
    );
    assert_eq!(
        (r.status, r.json()["successCount"].clone()),
        (201, json!(1)),
        "{}",
        r.text()
    );
}

#[test]
fn jwt_revocation_key_lets_revoke_tokens_target_it() {
    let s = server();
    let k = s.key().clone();
    let n = now_s(&s);
    let jwt = |rk: Value| {
        oracle_jwt(
            &k.name,
            &k.secret,
            &json!({"iat": n - 5, "exp": n + 600, "x-ably-revocation-key": rk}),
        )
    };
    let group = jwt(json!("group-1"));
    let other = jwt(json!("group-2"));
    let minted = s.mint_jwt(MintSpec {
        revocation_key: Some("group-1".into()),
        issued_ms: Some(s.now_ms() - 5_000),
        ..MintSpec::default()
    });
    assert_eq!(jwt_get(&s, &group).status, 200);
    revoke(&s, "revocationKey:group-1");
    assert_error(&jwt_get(&s, &group), 401, 40141);
    assert_error(&jwt_get(&s, &minted), 401, 40141);
    assert_eq!(jwt_get(&s, &other).status, 200);
    // Ably's documented 40144 for an empty or non-string revocation key.
    assert_error(&jwt_get(&s, &jwt(json!(""))), 401, 40144);
    assert_error(&jwt_get(&s, &jwt(json!(7))), 401, 40144);
}

#[test]
fn jwt_embedding_an_ably_token_stands_for_it() {
    let s = server();
    let k = s.key().clone();
    let n = now_s(&s);
    let td = s.mint_token(MintSpec {
        client_id: Some("embedded".into()),
        ttl_ms: Some(600_000),
        issued_ms: Some(s.now_ms() - 5_000),
        ..MintSpec::default()
    });
    // Signed with the app's own secret, which Ably cannot check.
    let outer = |token: &str, exp: i64, in_header: bool| {
        let mut header = json!({"typ": "JWT", "alg": "HS256"});
        let mut claims = json!({"exp": exp});
        let slot = if in_header { &mut header } else { &mut claims };
        slot["x-ably-token"] = json!(token);
        oracle_jws(&header, &claims, "the app's own secret")
    };
    let r = jwt_get(&s, &outer(&td.token, n + 300, true));
    assert_eq!(
        (r.status, r.json()["clientId"].clone()),
        (200, json!("embedded"))
    );
    assert_eq!(jwt_get(&s, &outer(&td.token, n + 300, false)).status, 200);
    // An Ably JWT may be embedded too.
    let inner = oracle_jwt(
        &k.name,
        &k.secret,
        &json!({"iat": n, "exp": n + 300, "x-ably-clientId": "j"}),
    );
    let r = jwt_get(&s, &outer(&inner, n + 200, true));
    assert_eq!((r.status, r.json()["clientId"].clone()), (200, json!("j")));
    // The outer exp may not outlive the embedded token, nor have passed.
    assert_error(&jwt_get(&s, &outer(&td.token, n + 3_600, true)), 401, 40144);
    assert_error(&jwt_get(&s, &outer(&td.token, n - 1, true)), 401, 40142);
    assert_error(
        &jwt_get(&s, &outer("lbtk-never-issued", n + 60, true)),
        401,
        40144,
    );
    // Revoking the embedded token revokes the embedding.
    revoke(&s, "clientId:embedded");
    assert_error(&jwt_get(&s, &outer(&td.token, n + 300, true)), 401, 40141);
}
