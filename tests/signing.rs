//! TokenRequest signing (RSA9; checklist §2.4 vectors), canonical capabilities, nonces and
//! Ably JWTs, through the public Rust API.

use std::collections::HashSet;
use std::sync::Arc;

use ably_auth::{Auth, ClientOptions, ManualClock, TokenParams};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

const KEY: &str = "appId.keyId:keySecret";
const TS: u64 = 1_234_567_890_000;

fn auth() -> std::sync::Arc<Auth> {
    Auth::with_clock(
        ClientOptions::from_key(KEY).unwrap(),
        Arc::new(ManualClock::new(TS)),
    )
    .unwrap()
}

fn fixed(params: TokenParams) -> TokenParams {
    TokenParams {
        timestamp: Some(TS),
        nonce: Some("abcdefghijklmnop".into()),
        ..params
    }
}

#[test]
fn mac_vector_minimal() {
    let request = auth()
        .create_token_request(Some(&fixed(TokenParams::default())), None)
        .unwrap();
    assert_eq!(
        request.mac.as_deref(),
        Some("foz/hUYxHedNgRFel0jQFxXq5fHsrIU9ZUZiqONgXow=")
    );
}

#[test]
fn mac_vector_full() {
    let params = fixed(TokenParams {
        ttl: Some(3_600_000),
        capability: Some(r#"{"channel2":["subscribe"],"channel1":["subscribe","publish"]}"#.into()),
        client_id: Some("client-1".into()),
        ..Default::default()
    });
    let request = auth().create_token_request(Some(&params), None).unwrap();
    assert_eq!(
        request.mac.as_deref(),
        Some("YyyQoBgJPiNWX5hgG6lCGuEfKybZMePUYxdV5mnCawY=")
    );
    // The sent capability is the signed, canonical one.
    assert_eq!(
        request.capability.as_deref(),
        Some(r#"{"channel1":["publish","subscribe"],"channel2":["subscribe"]}"#)
    );
    let json: Value = serde_json::from_str(&request.to_json()).unwrap();
    assert_eq!(
        json["capability"],
        r#"{"channel1":["publish","subscribe"],"channel2":["subscribe"]}"#
    );
}

#[test]
fn timestamp_comes_from_the_injected_clock() {
    let clock = Arc::new(ManualClock::new(42_000));
    let auth = Auth::with_clock(ClientOptions::from_key(KEY).unwrap(), clock.clone()).unwrap();
    assert_eq!(
        auth.create_token_request(None, None).unwrap().timestamp,
        42_000
    );
    clock.advance(5);
    assert_eq!(
        auth.create_token_request(None, None).unwrap().timestamp,
        42_005
    );
}

#[test]
fn nonces_are_long_and_unique() {
    let auth = auth();
    let nonces: HashSet<String> = (0..10_000)
        .map(|_| auth.create_token_request(None, None).unwrap().nonce.clone())
        .collect();
    assert_eq!(nonces.len(), 10_000);
    assert!(nonces.iter().all(|n| n.len() >= 16));
}

#[test]
fn invalid_params_are_rejected() {
    let auth = auth();
    let cases = [
        (
            TokenParams {
                ttl: Some(0),
                ..Default::default()
            },
            40003,
        ),
        (
            TokenParams {
                capability: Some(r#"{"a":["Fly"]}"#.into()), // not an operation name (upper case)
                ..Default::default()
            },
            40003,
        ),
        (
            TokenParams {
                client_id: Some(String::new()),
                ..Default::default()
            },
            40012,
        ),
        (
            TokenParams {
                client_id: Some("a\nb".into()),
                ..Default::default()
            },
            40012,
        ),
        (
            TokenParams {
                nonce: Some("a\nb".into()),
                ..Default::default()
            },
            40003,
        ),
    ];
    for (params, code) in cases {
        assert_eq!(
            auth.create_token_request(Some(&params), None)
                .unwrap_err()
                .code,
            code,
            "{params:?}"
        );
    }
}

#[test]
fn no_key_means_40101_with_status_403() {
    let options = ClientOptions {
        auth: ably_auth::AuthOptions {
            token: Some("tok".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = Auth::new(options)
        .unwrap()
        .create_token_request(None, None)
        .unwrap_err();
    assert_eq!((e.code, e.status_code), (40101, 403));
}

#[test]
fn auth_options_key_signs_instead_of_the_options_key() {
    let other = ably_auth::AuthOptions::default()
        .with_key("otherApp.otherKey:otherSecret")
        .unwrap();
    let request = auth().create_token_request(None, Some(&other)).unwrap();
    assert_eq!(request.key_name, "otherApp.otherKey");
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn jwt_header_claims_and_signature() {
    let params = TokenParams {
        ttl: Some(3_600_000),
        capability: Some(r#"{"b":["subscribe"],"a":["publish"]}"#.into()),
        client_id: Some("player-1".into()),
        timestamp: Some(TS),
        nonce: None,
    };
    let jwt = auth().create_jwt(Some(&params), None).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode(parts[0]);
    assert_eq!(
        header,
        serde_json::json!({"typ": "JWT", "alg": "HS256", "kid": "appId.keyId"})
    );
    let claims = decode(parts[1]);
    assert_eq!(claims["iat"], 1_234_567_890);
    assert_eq!(claims["exp"], 1_234_567_890 + 3600);
    assert_eq!(
        claims["x-ably-capability"],
        r#"{"a":["publish"],"b":["subscribe"]}"#
    );
    assert_eq!(claims["x-ably-clientId"], "player-1");
    // Recompute the signature with the hmac crate directly.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"keySecret").unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert_eq!(
        parts[2],
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
}

#[test]
fn jwt_defaults_and_limits() {
    let jwt = auth().create_jwt(None, None).unwrap();
    let claims = decode(jwt.split('.').nth(1).unwrap());
    assert_eq!(claims["iat"], TS / 1000);
    assert_eq!(claims["exp"], TS / 1000 + 3600);
    assert_eq!(claims["x-ably-capability"], r#"{"*":["*"]}"#);
    assert!(claims.get("x-ably-clientId").is_none());
    let short = TokenParams {
        ttl: Some(999),
        ..Default::default()
    };
    assert_eq!(
        auth().create_jwt(Some(&short), None).unwrap_err().code,
        40003
    );
}

/// Operations Ably accepts that an earlier release refused (issue 11), plus a made-up future
/// name: each well-formed name goes into TokenRequests and JWTs as given.
const NEWER_OPERATIONS: [&str; 6] = [
    "message-subscribe",
    "presence-subscribe",
    "channel-metadata:publishers",
    "list-channels",
    "connection-metadata",
    "teleport-v2",
];

#[test]
fn well_formed_operations_go_into_token_requests_and_jwts() {
    for op in NEWER_OPERATIONS {
        let params = TokenParams {
            capability: Some(format!(r#"{{"chat:*":["{op}"]}}"#)),
            ..Default::default()
        };
        let expected = format!(r#"{{"chat:*":["{op}"]}}"#);
        let request = auth().create_token_request(Some(&params), None).unwrap();
        assert_eq!(request.capability.as_deref(), Some(expected.as_str()));
        let jwt = auth().create_jwt(Some(&params), None).unwrap();
        let claims = decode(jwt.split('.').nth(1).unwrap());
        assert_eq!(claims["x-ably-capability"], expected.as_str(), "{op}");
    }
    for malformed in ["Publish", "pub lish", "", "publish*"] {
        let params = TokenParams {
            capability: Some(format!(r#"{{"a":["{malformed}"]}}"#)),
            ..Default::default()
        };
        let error = auth()
            .create_token_request(Some(&params), None)
            .unwrap_err();
        assert_eq!(error.code, 40003, "{malformed:?}");
    }
}

#[test]
fn unknown_operations_are_logged_at_debug() {
    use ably_auth::{LogLevel, Logger};
    use std::sync::Mutex;
    let capability = r#"{"a":["teleport-v2","publish"],"b":["message-subscribe"]}"#;
    for (level, expect_line) in [(LogLevel::Debug, true), (LogLevel::Info, false)] {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = Arc::clone(&lines);
        let mut options = ClientOptions::from_key(KEY).unwrap();
        options.logger = Some(Logger {
            level,
            sink: Arc::new(move |_, line: &str| sink.lock().unwrap().push(line.to_owned())),
        });
        options.default_token_params = Some(TokenParams {
            capability: Some(capability.into()),
            ..Default::default()
        });
        let auth = Auth::new(options).unwrap();
        auth.create_token_request(None, None).unwrap();
        auth.create_jwt(None, None).unwrap();
        let known = TokenParams {
            capability: Some(r#"{"a":["message-subscribe"]}"#.into()),
            ..Default::default()
        };
        auth.create_token_request(Some(&known), None).unwrap();
        let lines = lines.lock().unwrap();
        let unknown: Vec<&String> = lines.iter().filter(|l| l.contains("teleport-v2")).collect();
        assert_eq!(unknown.len(), if expect_line { 2 } else { 0 }, "{lines:?}");
        assert!(unknown.iter().all(|l| !l.contains("message-subscribe")));
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("does not know") && !l.contains("teleport"))
        );
    }
}

#[test]
fn jwt_revocation_key_claim() {
    use ably_auth::JwtOptions;
    let options = JwtOptions {
        revocation_key: Some("group-7".into()),
    };
    let jwt = auth().create_jwt_with(None, None, &options).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let claims = decode(parts[1]);
    assert_eq!(claims["x-ably-revocation-key"], "group-7");
    assert_eq!(claims["x-ably-capability"], r#"{"*":["*"]}"#);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"keySecret").unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert_eq!(
        parts[2],
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    // Absent unless set; empty or control characters are refused.
    let plain = auth().create_jwt(None, None).unwrap();
    assert!(
        decode(plain.split('.').nth(1).unwrap())
            .get("x-ably-revocation-key")
            .is_none()
    );
    for bad in ["", "a\nb"] {
        let options = JwtOptions {
            revocation_key: Some(bad.into()),
        };
        let error = auth().create_jwt_with(None, None, &options).unwrap_err();
        assert_eq!(error.code, 40003, "{bad:?}");
    }
}

#[test]
fn token_embedded_in_an_app_jwt() {
    let expires = 1_700_000_003_999;
    let jwt = ably_auth::embed_token_in_jwt("appId.tok-en_1", expires, b"app secret").unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        decode(parts[0]),
        serde_json::json!({"typ": "JWT", "alg": "HS256", "x-ably-token": "appId.tok-en_1"})
    );
    // exp is rounded down: the outer JWT must not outlive the token inside.
    assert_eq!(decode(parts[1]), serde_json::json!({"exp": 1_700_000_003}));
    let mut mac = Hmac::<Sha256>::new_from_slice(b"app secret").unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert_eq!(
        parts[2],
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    for (token, expires, secret) in [
        ("", expires, &b"s"[..]),
        ("a b", expires, b"s"),
        ("tok", 999, b"s"),
        ("tok", expires, b""),
    ] {
        let error = ably_auth::embed_token_in_jwt(token, expires, secret).unwrap_err();
        assert_eq!(error.code, 40003, "{token:?} {expires} {secret:?}");
    }
}
