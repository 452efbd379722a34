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
