//! The loopback server over real sockets, checked with an independent client and signing oracle.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ably_loopback::{Action, KeyConfig, LoopbackServer, MintSpec, Rule, ServerConfig};
use common::*;
use serde_json::{Value, json};

fn server() -> LoopbackServer {
    LoopbackServer::start(ServerConfig::default())
}

fn request_token_path(s: &LoopbackServer) -> String {
    format!("/keys/{}/requestToken", s.key().name)
}

/// Requests a token with a test-signed TokenRequest; returns the response.
fn request_token(
    s: &LoopbackServer,
    ttl: Option<i64>,
    cap: Option<&str>,
    client_id: Option<&str>,
) -> Resp {
    let k = s.key();
    let nonce = format!("nonce-{}", rand_suffix());
    let tr = token_request(&k.name, &k.secret, ttl, cap, client_id, s.now_ms(), &nonce);
    post_json(s.port(), &request_token_path(s), &tr.to_string())
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        common::system_now_ms(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn basic(key: &KeyConfig) -> String {
    format!("Basic {}", b64(&key.key_string()))
}

#[test]
fn checklist_vector_mac_is_accepted_at_that_timestamp() {
    // The checklist §2.4 "minimal" and "full" vectors, with the server clock moved to them.
    assert_eq!(
        oracle_mac(
            "keySecret",
            "appId.keyId",
            None,
            None,
            None,
            1234567890000,
            "abcdefghijklmnop"
        ),
        "foz/hUYxHedNgRFel0jQFxXq5fHsrIU9ZUZiqONgXow="
    );
    let cap = r#"{"channel1":["publish","subscribe"],"channel2":["subscribe"]}"#;
    assert_eq!(
        oracle_mac(
            "keySecret",
            "appId.keyId",
            Some(3600000),
            Some(cap),
            Some("client-1"),
            1234567890000,
            "abcdefghijklmnop"
        ),
        "YyyQoBgJPiNWX5hgG6lCGuEfKybZMePUYxdV5mnCawY="
    );
    let key = KeyConfig {
        secret: "keySecret".into(),
        ..KeyConfig::default()
    };
    let s = LoopbackServer::start(ServerConfig {
        keys: vec![key],
        ..ServerConfig::default()
    });
    s.set_clock_skew_ms(1234567890000 - system_now_ms());
    let body = json!({"keyName":"appId.keyId","ttl":3600000,"capability":cap,"clientId":"client-1",
        "timestamp":1234567890000i64,"nonce":"abcdefghijklmnop","mac":"YyyQoBgJPiNWX5hgG6lCGuEfKybZMePUYxdV5mnCawY="});
    let r = post_json(
        s.port(),
        "/keys/appId.keyId/requestToken",
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let td = r.json();
    assert_eq!(td["capability"], cap);
    assert_eq!(td["clientId"], "client-1");
    assert_eq!(td["keyName"], "appId.keyId");
    let issued = td["issued"].as_i64().unwrap();
    assert!((issued - 1234567890000).abs() < 60_000);
    assert_eq!(td["expires"].as_i64().unwrap() - issued, 3600000);
    assert!(td["token"].as_str().unwrap().starts_with("lbtk-"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(s.tokens_issued(), 1);
}

#[test]
fn signed_request_accepted_and_tampered_rejected() {
    let s = server();
    let r = request_token(&s, None, None, None);
    assert_eq!(r.status, 200, "{}", r.text());
    let td = r.json();
    assert_eq!(td["capability"], r#"{"*":["*"]}"#);
    assert!(td.get("clientId").is_none());
    assert_eq!(
        td["expires"].as_i64().unwrap() - td["issued"].as_i64().unwrap(),
        3_600_000
    );

    let k = s.key();
    let mut tr = token_request(
        &k.name,
        &k.secret,
        Some(60_000),
        None,
        Some("alice"),
        s.now_ms(),
        "tampered-nonce-123",
    );
    tr["clientId"] = json!("mallory");
    let r = post_json(s.port(), &request_token_path(&s), &tr.to_string());
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), 40101);
    assert_eq!(r.json()["error"]["statusCode"], 401);
    assert_eq!(
        r.json()["error"]["href"],
        "https://help.ably.io/error/40101"
    );
    assert_eq!(r.header("X-Ably-ErrorCode"), Some("40101"));
    assert!(r.header("X-Ably-ErrorMessage").is_some());
    assert_eq!(s.tokens_issued(), 1);

    // Signed with a wrong secret.
    let tr = token_request(
        &k.name,
        "wrong",
        None,
        None,
        None,
        s.now_ms(),
        "n-wrong-secret-1",
    );
    let r = post_json(s.port(), &request_token_path(&s), &tr.to_string());
    assert_eq!((r.status, r.code()), (401, 40101));
}

#[test]
fn replayed_nonce_and_stale_timestamp() {
    let s = server();
    let k = s.key().clone();
    let tr = token_request(
        &k.name,
        &k.secret,
        None,
        None,
        None,
        s.now_ms(),
        "same-nonce-0123456",
    );
    let path = request_token_path(&s);
    assert_eq!(post_json(s.port(), &path, &tr.to_string()).status, 200);
    let r = post_json(s.port(), &path, &tr.to_string());
    assert_eq!((r.status, r.code()), (401, 40105));

    let stale = token_request(
        &k.name,
        &k.secret,
        None,
        None,
        None,
        s.now_ms() - 700_000,
        "nonce-stale-1",
    );
    let r = post_json(s.port(), &path, &stale.to_string());
    assert_eq!((r.status, r.code()), (401, 40104));
    let future = token_request(
        &k.name,
        &k.secret,
        None,
        None,
        None,
        s.now_ms() + 700_000,
        "nonce-future-1",
    );
    let r = post_json(s.port(), &path, &future.to_string());
    assert_eq!((r.status, r.code()), (401, 40104));

    // Server clock skew: a timestamp from the local clock is now stale.
    s.set_clock_skew_ms(3_600_000);
    let local = token_request(
        &k.name,
        &k.secret,
        None,
        None,
        None,
        system_now_ms(),
        "nonce-skewed-1",
    );
    let r = post_json(s.port(), &path, &local.to_string());
    assert_eq!(r.code(), 40104);
    let t = get(s.port(), "/time").json()[0].as_i64().unwrap();
    assert!((t - system_now_ms() - 3_600_000).abs() < 10_000);
}

#[test]
fn bad_requests_to_request_token() {
    let s = server();
    let k = s.key().clone();
    // An unknown key is an authentication failure, as ably-server answers (not 404).
    let tr = token_request(
        "other.key",
        &k.secret,
        None,
        None,
        None,
        s.now_ms(),
        "n-unknown-key-1",
    );
    let r = post_json(s.port(), "/keys/other.key/requestToken", &tr.to_string());
    assert_eq!((r.status, r.code()), (401, 40101));

    let other = token_request(
        "appId.other",
        &k.secret,
        None,
        None,
        None,
        s.now_ms(),
        "n-mismatch-1",
    );
    let r = post_json(s.port(), &request_token_path(&s), &other.to_string());
    assert_eq!((r.status, r.code()), (400, 40000));

    // A body that is not a TokenRequest is 40001, as ably-server answers.
    let r = post_json(s.port(), &request_token_path(&s), "not json");
    assert_eq!((r.status, r.code()), (400, 40001));

    // ttl 0 is unset (the default hour), see conformance.rs; negative or above 24 h is 40003.
    for ttl in [-5, 86_400_001] {
        let r = request_token(&s, Some(ttl), None, None);
        assert_eq!((r.status, r.code()), (400, 40003), "ttl {ttl}");
    }
    let r = request_token(&s, Some(86_400_000), None, None);
    assert_eq!(r.status, 200);

    // Unsigned TokenRequest: needs Basic of the key.
    let unsigned = json!({"keyName": k.name, "timestamp": s.now_ms(), "nonce": "unsigned-nonce-1"});
    let r = post_json(s.port(), &request_token_path(&s), &unsigned.to_string());
    assert_eq!(r.code(), 40101);
    let r = request(
        s.port(),
        "POST",
        &request_token_path(&s),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &basic(&k)),
        ],
        unsigned.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn capability_intersection_and_channel_checks() {
    let key = KeyConfig {
        capability: r#"{"ch1":["publish","subscribe"],"ns:*":["subscribe"]}"#.into(),
        ..KeyConfig::default()
    };
    let s = LoopbackServer::start(ServerConfig {
        keys: vec![key],
        ..ServerConfig::default()
    });
    let req = r#"{"ch1":["history","publish"],"ns:a":["*"],"other":["subscribe"]}"#;
    let r = request_token(&s, None, Some(req), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["capability"],
        r#"{"ch1":["publish"],"ns:a":["subscribe"]}"#
    );
    let token = r.json()["token"].as_str().unwrap().to_string();
    let p = s.port();
    assert_eq!(get_auth(p, "/channels/ch1", &bearer(&token)).status, 200);
    assert_eq!(get_auth(p, "/channels/ns:a", &bearer(&token)).status, 200);
    let r = get_auth(p, "/channels/ns:b", &bearer(&token));
    assert_eq!((r.status, r.code()), (401, 40160));
    let post = |ch: &str| {
        request(
            p,
            "POST",
            &format!("/channels/{ch}/messages"),
            &[
                ("Authorization", &bearer(&token)),
                ("Content-Type", "application/json"),
            ],
            br#"{"name":"x"}"#,
        )
    };
    let r = post("ch1");
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["channel"], "ch1");
    let r = post("ns:a");
    assert_eq!((r.status, r.code()), (401, 40160));

    // Nothing in common → 40160.
    let r = request_token(&s, None, Some(r#"{"other":["publish"]}"#), None);
    assert_eq!((r.status, r.code()), (401, 40160));
    // Wildcard request narrows to the key capability.
    let r = request_token(&s, None, Some(r#"{"*":["subscribe"]}"#), None);
    assert_eq!(
        r.json()["capability"],
        r#"{"ch1":["subscribe"],"ns:*":["subscribe"]}"#
    );
    // Not a capability.
    let r = request_token(&s, None, Some("[1]"), None);
    assert_eq!((r.status, r.code()), (400, 40000));
    // Absent capability → the key's, canonicalised.
    let r = request_token(&s, None, None, None);
    assert_eq!(
        r.json()["capability"],
        r#"{"ch1":["publish","subscribe"],"ns:*":["subscribe"]}"#
    );
}

#[test]
fn time_endpoint() {
    let s = server();
    let before = system_now_ms();
    let r = get(s.port(), "/time");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1);
    let t = arr[0].as_i64().unwrap();
    assert!(t >= before && t <= system_now_ms());
    s.set_clock_skew_ms(-5_000);
    let t = get(s.port(), "/time").json()[0].as_i64().unwrap();
    assert!(t <= system_now_ms() - 4_000);
    assert!((s.now_ms() - (system_now_ms() - 5_000)).abs() < 1_000);
}

#[test]
fn bearer_raw_and_base64_basic_and_missing() {
    let s = server();
    let td = s.mint_token(MintSpec {
        client_id: Some("carol".into()),
        ..MintSpec::default()
    });
    let p = s.port();
    let r = get_auth(p, "/channels/room", &bearer(&td.token));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"channelId":"room","status":{"isActive":true},"clientId":"carol"})
    );
    let r = get_auth(p, "/channels/room", &bearer(&b64(&td.token)));
    assert_eq!(r.status, 200);
    let r = get_auth(p, "/protected/thing", &bearer(&td.token));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["clientId"], "carol");

    // A bearer that is neither a token this server issued nor a JWT: ably-server's 40144.
    let r = get_auth(p, "/channels/room", "Bearer lbtk-unknown");
    assert_eq!((r.status, r.code()), (401, 40144));
    let r = get(p, "/channels/room");
    assert_eq!((r.status, r.code()), (401, 40101));
    let r = get_auth(p, "/channels/room", &basic(s.key()));
    assert_eq!(r.status, 200);
    assert!(r.json().get("clientId").is_none());
    let r = get_auth(
        p,
        "/channels/room",
        &format!("Basic {}", b64("appId.keyId:nope")),
    );
    assert_eq!((r.status, r.code()), (401, 40101));

    // Percent-encoded channel names are decoded.
    let r = get_auth(p, "/channels/a%2Fb", &bearer(&td.token));
    assert_eq!(r.json()["channelId"], "a/b");
    // Unknown path.
    let r = get(p, "/nowhere");
    assert_eq!((r.status, r.code()), (404, 40400));
}

#[test]
fn expired_token_and_token_details_json() {
    let s = server();
    let now = s.now_ms();
    let td = s.mint_token(MintSpec {
        ttl_ms: Some(1_000),
        issued_ms: Some(now - 10_000),
        ..MintSpec::default()
    });
    assert_eq!(td.issued, now - 10_000);
    assert_eq!(td.expires, now - 9_000);
    let v: Value = serde_json::from_str(&td.json).unwrap();
    assert_eq!(v["token"], td.token.as_str());
    assert_eq!(v["expires"], td.expires);
    let r = get_auth(s.port(), "/channels/x", &bearer(&td.token));
    assert_eq!((r.status, r.code()), (401, 40142));

    // A token requested with a short ttl expires by the server clock.
    let r = request_token(&s, Some(60_000), None, None);
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        get_auth(s.port(), "/channels/x", &bearer(&token)).status,
        200
    );
    s.set_clock_skew_ms(61_000);
    let r = get_auth(s.port(), "/channels/x", &bearer(&token));
    assert_eq!(r.code(), 40142);
    assert_eq!(s.tokens_issued(), 1);
}

#[test]
fn jwt_verification() {
    let s = server();
    let k = s.key().clone();
    let p = s.port();
    let now_s = s.now_ms() / 1000;
    let claims = json!({"iat": now_s, "exp": now_s + 600, "x-ably-capability": r#"{"ch":["subscribe"]}"#, "x-ably-clientId": "dave"});
    let jwt = oracle_jwt(&k.name, &k.secret, &claims);
    let r = get_auth(p, "/channels/ch", &bearer(&jwt));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["clientId"], "dave");
    assert_eq!(get_auth(p, "/channels/ch", &bearer(&b64(&jwt))).status, 200);
    let r = get_auth(p, "/channels/other", &bearer(&jwt));
    assert_eq!(r.code(), 40160);

    let bad = oracle_jwt(&k.name, "wrong-secret", &claims);
    let r = get_auth(p, "/channels/ch", &bearer(&bad));
    assert_eq!((r.status, r.code()), (401, 40144));
    let unknown_kid = oracle_jwt("appId.nope", &k.secret, &claims);
    assert_eq!(
        get_auth(p, "/channels/ch", &bearer(&unknown_kid)).code(),
        40144
    );
    let expired = oracle_jwt(
        &k.name,
        &k.secret,
        &json!({"iat": now_s - 100, "exp": now_s - 10}),
    );
    let r = get_auth(p, "/channels/ch", &bearer(&expired));
    assert_eq!((r.status, r.code()), (401, 40142));

    // mint_jwt is verifiable by the oracle's rules too.
    let minted = s.mint_jwt(MintSpec {
        client_id: Some("erin".into()),
        ttl_ms: Some(120_000),
        ..MintSpec::default()
    });
    let parts: Vec<&str> = minted.split('.').collect();
    use base64::Engine as _;
    let dec = |p: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(dec(parts[0])["kid"], k.name.as_str());
    assert_eq!(dec(parts[0])["alg"], "HS256");
    let c = dec(parts[1]);
    assert_eq!(c["x-ably-clientId"], "erin");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    assert_eq!(c["x-ably-capability"], r#"{"*":["*"]}"#);
    let resign = oracle_jwt(&k.name, &k.secret, &c);
    assert_eq!(get_auth(p, "/channels/a", &bearer(&resign)).status, 200);
    assert_eq!(get_auth(p, "/channels/a", &bearer(&minted)).status, 200);
    s.revoke_all_tokens();
    assert_eq!(get_auth(p, "/channels/a", &bearer(&minted)).code(), 40141);
}

fn revoke(s: &LoopbackServer, auth: Option<&str>, body: &Value) -> Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    request(
        s.port(),
        "POST",
        &format!("/keys/{}/revokeTokens", s.key().name),
        &headers,
        body.to_string().as_bytes(),
    )
}

#[test]
fn revoke_tokens_envelope_and_effect() {
    let s = server();
    let k = s.key().clone();
    let p = s.port();
    let alice = request_token(&s, None, None, Some("alice")).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = request_token(&s, None, None, Some("bob")).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_jwt = s.mint_jwt(MintSpec {
        client_id: Some("alice".into()),
        issued_ms: Some(s.now_ms() - 5_000),
        ..MintSpec::default()
    });
    assert_eq!(get_auth(p, "/channels/c", &bearer(&alice)).status, 200);

    let body = json!({"targets": ["clientId:alice", "invalidType:abc", "revocationKey:group-1"]});
    let r = revoke(&s, Some(&basic(&k)), &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["successCount"], 2);
    assert_eq!(v["failureCount"], 1);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["target"], "clientId:alice");
    let applies = results[0]["appliesAt"].as_i64().unwrap();
    assert!((applies - s.now_ms()).abs() < 5_000);
    assert_eq!(results[0]["issuedBefore"].as_i64().unwrap(), applies);
    assert_eq!(results[1]["target"], "invalidType:abc");
    assert_eq!(results[1]["error"]["code"], 40000);
    assert_eq!(results[1]["error"]["statusCode"], 400);
    assert!(results[1]["error"]["message"].is_string());
    assert_eq!(results[2]["target"], "revocationKey:group-1");

    let r = get_auth(p, "/channels/c", &bearer(&alice));
    assert_eq!((r.status, r.code()), (401, 40141));
    assert_eq!(
        get_auth(p, "/channels/c", &bearer(&alice_jwt)).code(),
        40141
    );
    assert_eq!(get_auth(p, "/channels/c", &bearer(&bob)).status, 200);
    // A token issued after the revocation works.
    let fresh = request_token(&s, None, None, Some("alice")).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get_auth(p, "/channels/c", &bearer(&fresh)).status, 200);

    // allowReauthMargin delays enforcement by 30 s.
    let ib = s.now_ms() - 1;
    let r = revoke(
        &s,
        Some(&basic(&k)),
        &json!({"targets": ["clientId:bob"], "issuedBefore": ib, "allowReauthMargin": true}),
    );
    let item = &r.json()["results"][0];
    assert_eq!(item["issuedBefore"], ib);
    let applies = item["appliesAt"].as_i64().unwrap();
    assert!((applies - s.now_ms() - 30_000).abs() < 5_000);
    assert_eq!(get_auth(p, "/channels/c", &bearer(&bob)).status, 200);
    s.set_clock_skew_ms(31_000);
    assert_eq!(get_auth(p, "/channels/c", &bearer(&bob)).code(), 40141);
}

#[test]
fn revoke_tokens_request_errors() {
    let s = server();
    let k = s.key().clone();
    let body = json!({"targets": ["clientId:x"]});
    let r = revoke(&s, None, &body);
    assert_eq!((r.status, r.code()), (401, 40101));
    let r = revoke(&s, Some("Bearer abc"), &body);
    assert_eq!((r.status, r.code()), (401, 40162));
    let r = revoke(
        &s,
        Some(&format!("Basic {}", b64("appId.keyId:bad"))),
        &body,
    );
    assert_eq!((r.status, r.code()), (401, 40101));
    let r = revoke(
        &s,
        Some(&basic(&k)),
        &json!({"targets": ["clientId:x"], "issuedBefore": s.now_ms() + 60_000}),
    );
    assert_eq!((r.status, r.code()), (400, 40000));
    let r = revoke(&s, Some(&basic(&k)), &json!({"targets": []}));
    assert_eq!((r.status, r.code()), (400, 40000));

    let locked = KeyConfig {
        revocable: false,
        ..KeyConfig::default()
    };
    let s2 = LoopbackServer::start(ServerConfig {
        keys: vec![locked.clone()],
        ..ServerConfig::default()
    });
    let r = revoke(&s2, Some(&basic(&locked)), &body);
    assert_eq!((r.status, r.code()), (400, 40163));
}

#[test]
fn each_action_kind() {
    let s = server();
    let p = s.port();
    s.push_rule(Rule::once(
        "/time",
        Action::Respond {
            status: 503,
            headers: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("X-Test".into(), "1".into()),
            ],
            body: b"busy".to_vec(),
        },
    ));
    let r = get(p, "/time");
    assert_eq!((r.status, r.text().as_str()), (503, "busy"));
    assert_eq!(r.header("x-test"), Some("1"));
    assert_eq!(get(p, "/time").status, 200, "once means once");

    s.push_rule(Rule::once(
        "/keys/",
        Action::AblyError {
            status: 500,
            code: 50000,
            message: "boom".into(),
        },
    ));
    let r = request_token(&s, None, None, None);
    assert_eq!((r.status, r.code()), (500, 50000));
    assert_eq!(r.json()["error"]["message"], "boom");
    assert_eq!(r.header("X-Ably-ErrorCode"), Some("50000"));
    assert_eq!(r.header("X-Ably-ErrorMessage"), Some("boom"));

    s.push_rule(Rule::once(
        "/auth/",
        Action::Json {
            status: 200,
            body: r#"{"token":"t","expires":1}"#.into(),
        },
    ));
    let r = get(p, "/auth/anything");
    assert_eq!(r.json()["token"], "t");
    assert_eq!(r.header("content-type"), Some("application/json"));

    s.push_rule(Rule::once("/auth/", Action::MalformedJson));
    let r = get(p, "/auth/token");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    s.push_rule(Rule::once("/auth/", Action::WrongContentType));
    let r = get(p, "/auth/token");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.text(), "<html>not json</html>");

    s.push_rule(Rule::once("/auth/", Action::Oversized { bytes: 131_073 }));
    let r = get(p, "/auth/token");
    assert_eq!(r.body.len(), 131_073);
    assert!(r.json().is_string());

    s.push_rule(Rule::once(
        "/time",
        Action::SlowHeaders {
            delay_ms: 300,
            then: Box::new(Action::Pass),
        },
    ));
    let t0 = Instant::now();
    let r = get(p, "/time");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
    assert!(r.json()[0].is_i64());

    s.push_rule(Rule::once(
        "/time",
        Action::SlowHeaders {
            delay_ms: 100,
            then: Box::new(Action::AblyError {
                status: 504,
                code: 50003,
                message: "late".into(),
            }),
        },
    ));
    assert_eq!(get(p, "/time").code(), 50003);

    // SlowBody: the head and half the body arrive at once, the rest after the delay. The
    // split, with a 60 s delay: the head and half the body can be read (the socket's 20 s
    // read timeout is the hang guard), then nothing more is there yet. No time bound: only
    // a 60 s stall could let the rest arrive first.
    s.push_rule(Rule::once("/auth/", Action::SlowBody { delay_ms: 60_000 }));
    let mut c = connect(p);
    write_request(&mut c, "GET", "/auth/token-details", &[], b"", true).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        c.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    assert!(length > 2, "{head}");
    let mut half = vec![0u8; length / 2];
    c.read_exact(&mut half).unwrap();
    c.set_nonblocking(true).unwrap();
    let rest = c.read(&mut byte);
    assert!(
        matches!(&rest, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the rest of the body came with its first half: {rest:?}"
    );
    drop(c);
    // The whole answer, with a 400 ms delay: complete, after the delay.
    s.push_rule(Rule::once("/auth/", Action::SlowBody { delay_ms: 400 }));
    let mut c = connect(p);
    let t0 = Instant::now();
    write_request(&mut c, "GET", "/auth/token-details", &[], b"", true).unwrap();
    let r = read_response(&mut c).unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(400));
    assert!(r.json()["token"].is_string());

    // Drop: no bytes at all, connection closed.
    s.push_rule(Rule::once("/time", Action::Drop));
    let mut c = connect(p);
    write_request(&mut c, "GET", "/time", &[], b"", false).unwrap();
    let mut buf = Vec::new();
    let n = c.read_to_end(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);

    // Pass: real behaviour.
    s.push_rule(Rule::once("/time", Action::Pass));
    assert_eq!(get(p, "/time").status, 200);

    // Faulted requests are recorded too.
    let paths: Vec<String> = s.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.iter().filter(|p| *p == "/time").count(), 6);
}

#[test]
fn rules_are_fifo_counted_and_method_filtered() {
    let s = server();
    let p = s.port();
    let err = |code| Action::AblyError {
        status: 500,
        code,
        message: "x".into(),
    };
    s.push_rule(Rule::times("/time", 2, err(50001)));
    s.push_rule(Rule::once("/time", err(50002)));
    s.push_rule(Rule::always("/channels", err(50003)).method("POST"));
    assert_eq!(get(p, "/time").code(), 50001);
    assert_eq!(get(p, "/time").code(), 50001);
    assert_eq!(get(p, "/time").code(), 50002);
    assert_eq!(get(p, "/time").status, 200);
    for _ in 0..3 {
        let r = request(p, "POST", "/channels/a/messages", &[], b"{}");
        assert_eq!(r.code(), 50003);
    }
    // GET does not match the POST-only rule.
    assert_eq!(get(p, "/channels/a").code(), 40101);
    s.clear_rules();
    assert_eq!(
        request(p, "POST", "/channels/a/messages", &[], b"{}").code(),
        40101
    );
    assert_eq!(s.requests().len(), 9);
    s.clear_requests();
    assert!(s.requests().is_empty());
}

#[test]
fn keep_alive_reuses_one_connection() {
    let s = server();
    let mut c = connect(s.port());
    write_request(
        &mut c,
        "GET",
        "/time",
        &[("X-Ably-Version", "6")],
        b"",
        false,
    )
    .unwrap();
    let r1 = read_response(&mut c).unwrap();
    assert_eq!(r1.header("connection"), Some("keep-alive"));
    let tr = {
        let k = s.key();
        token_request(
            &k.name,
            &k.secret,
            None,
            None,
            None,
            s.now_ms(),
            "keepalive-nonce-1",
        )
    };
    write_request(
        &mut c,
        "POST",
        &request_token_path(&s),
        &[("Content-Type", "application/json")],
        tr.to_string().as_bytes(),
        false,
    )
    .unwrap();
    let r2 = read_response(&mut c).unwrap();
    assert_eq!((r1.status, r2.status), (200, 200));
    assert_eq!(s.connections(), 1);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].connection_id, reqs[1].connection_id);
    assert_eq!(reqs[0].header("x-ably-version"), Some("6"));
    assert_eq!(reqs[1].body_str(), tr.to_string());
    // A second connection gets a new id.
    get(s.port(), "/time");
    assert_eq!(s.connections(), 2);
    assert_ne!(s.requests()[2].connection_id, reqs[0].connection_id);
}

#[test]
fn chunked_request_body_is_read() {
    let s = server();
    let k = s.key().clone();
    let body = token_request(
        &k.name,
        &k.secret,
        None,
        None,
        None,
        s.now_ms(),
        "chunked-nonce-1",
    )
    .to_string();
    let (a, b) = body.split_at(10);
    let mut c = connect(s.port());
    let msg = format!(
        "POST /keys/{}/requestToken HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        k.name,
        a.len(),
        b.len()
    );
    c.write_all(msg.as_bytes()).unwrap();
    let r = read_response(&mut c).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.requests()[0].body_str(), body);
}

#[test]
fn auth_url_endpoints() {
    let s = server();
    let p = s.port();
    // GET token-request with query overrides → exchangeable TokenRequest.
    let r = request(
        p,
        "GET",
        "/auth/token-request?clientId=user%201&ttl=120000&capability=%7B%22a%22%3A%5B%22subscribe%22%5D%7D",
        &[
            ("Accept", "application/json, text/plain"),
            ("X-Custom", "h"),
        ],
        b"",
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let tr = r.json();
    assert_eq!(tr["clientId"], "user 1");
    assert_eq!(tr["ttl"], 120000);
    assert_eq!(tr["keyName"], s.key().name.as_str());
    assert_eq!(tr["capability"], r#"{"a":["subscribe"]}"#);
    let mac = oracle_mac(
        &s.key().secret,
        &s.key().name,
        Some(120000),
        Some(r#"{"a":["subscribe"]}"#),
        Some("user 1"),
        tr["timestamp"].as_i64().unwrap(),
        tr["nonce"].as_str().unwrap(),
    );
    assert_eq!(tr["mac"], mac.as_str());
    let td = post_json(p, &request_token_path(&s), &tr.to_string()).json();
    assert_eq!(td["clientId"], "user 1");
    let rec = &s.requests()[0];
    assert_eq!(rec.query_param("clientId"), Some("user 1"));
    assert_eq!(rec.header("x-custom"), Some("h"));

    // POST form → text/plain token that works.
    let r = request(
        p,
        "POST",
        "/auth/token?from=query",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"clientId=zed&ttl=60000",
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let token = r.text();
    let r = get_auth(p, "/channels/q", &bearer(&token));
    assert_eq!(r.json()["clientId"], "zed");
    let rec = s
        .requests()
        .into_iter()
        .find(|r| r.path == "/auth/token")
        .unwrap();
    assert_eq!(
        rec.form(),
        vec![
            ("clientId".to_string(), "zed".to_string()),
            ("ttl".to_string(), "60000".to_string())
        ]
    );
    assert_eq!(rec.query_param("from"), Some("query"));

    let r = get(p, "/auth/jwt?clientId=j");
    assert_eq!(r.header("content-type"), Some("application/jwt"));
    assert_eq!(
        get_auth(p, "/channels/q", &bearer(&r.text())).json()["clientId"],
        "j"
    );

    let r = get(p, "/auth/token-details");
    let td = r.json();
    assert!(td["token"].as_str().unwrap().starts_with("lbtk-"));
    assert!(td["expires"].as_i64().unwrap() > s.now_ms());
    assert_eq!(s.tokens_issued(), 1, "only requestToken counts");

    // The server's own signed_token_request is also accepted.
    let tr = s.signed_token_request(MintSpec {
        client_id: Some("sig".into()),
        ..MintSpec::default()
    });
    let v: Value = serde_json::from_str(&tr).unwrap();
    assert!(v.get("ttl").is_none() && v.get("capability").is_none());
    let r = post_json(p, &request_token_path(&s), &tr);
    assert_eq!(r.json()["clientId"], "sig");
}

#[test]
fn tls_with_the_generated_ca() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::sync::Arc;

    let s = LoopbackServer::start(ServerConfig {
        tls: true,
        ..ServerConfig::default()
    });
    assert!(s.base_url().starts_with("https://localhost:"));
    let pem = s.ca_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
        .unwrap();
    let cfg = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    for name in ["localhost", "127.0.0.1"] {
        let conn = rustls::ClientConnection::new(
            cfg.clone(),
            ServerName::try_from(name).unwrap().to_owned(),
        )
        .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, connect(s.port()));
        write_request(&mut tls, "GET", "/time", &[], b"", false).unwrap();
        assert_eq!(read_response(&mut tls).unwrap().status, 200);
        // Keep-alive over TLS.
        write_request(
            &mut tls,
            "GET",
            "/channels/x",
            &[("Authorization", &basic(s.key()))],
            b"",
            false,
        )
        .unwrap();
        assert_eq!(read_response(&mut tls).unwrap().status, 200);
    }
    assert_eq!(s.connections(), 2);

    // Without the CA the handshake fails.
    let untrusting = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    );
    let conn =
        rustls::ClientConnection::new(untrusting, ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, connect(s.port()));
    assert!(
        write_request(&mut tls, "GET", "/time", &[], b"", false).is_err()
            || read_response(&mut tls).is_err()
    );

    // Without TLS: no CA, http URL.
    let plain = server();
    assert!(plain.ca_pem().is_none());
    assert_eq!(
        plain.base_url(),
        format!("http://127.0.0.1:{}", plain.port())
    );
}

#[test]
fn drop_stops_listening() {
    let s = server();
    let port = s.port();
    assert_eq!(get(port, "/time").status, 200);
    drop(s);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn start_on_fixed_port_and_key_string() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let s = LoopbackServer::start_on(ServerConfig::default(), port).unwrap();
    assert_eq!(s.port(), port);
    assert_eq!(s.key().key_string(), "appId.keyId:loopbackSecret0123456789");
    assert!(LoopbackServer::start_on(ServerConfig::default(), port).is_err());
}
