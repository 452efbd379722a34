//! UTS `rest/unit/types/token_types.md` (TD, TK, TE). The UTS numbering is shifted against
//! features.md (checklist §2.16 item 11); the IDs below are the UTS ones.

use ably_auth::{TokenDetails, TokenParams, TokenRequest};
use serde_json::{Value, json};

/// rest/unit/TD1/token-details-attributes-0
#[test]
fn td1_token_details_attributes_0() {
    let mut details = TokenDetails::from_token("test-token");
    details.expires = Some(1_234_567_890_000);
    assert_eq!(details.token, "test-token");
    assert_eq!(details.expires, Some(1_234_567_890_000));
    details.issued = Some(1_234_567_800_000);
    assert_eq!(details.issued, Some(1_234_567_800_000));
    details.capability = Some(r#"{"*":["*"]}"#.into());
    assert_eq!(details.capability.as_deref(), Some(r#"{"*":["*"]}"#));
    details.client_id = Some("my-client".into());
    assert_eq!(details.client_id.as_deref(), Some("my-client"));
}

/// rest/unit/TD/token-details-from-json-0 (both forms of TD7: a parsed object and text)
#[test]
fn td_token_details_from_json_0() {
    let object = json!({
        "token": "deserialized-token",
        "expires": 1_234_567_890_000u64,
        "issued": 1_234_567_800_000u64,
        "capability": "{\"channel-1\":[\"publish\"]}",
        "clientId": "json-client",
        "keyName": "appId.keyId"
    });
    let from_object = TokenDetails::from_value(&object).unwrap();
    let from_text = TokenDetails::from_json(&object.to_string()).unwrap();
    assert_eq!(from_object, from_text);
    assert_eq!(from_object.token, "deserialized-token");
    assert_eq!(from_object.expires, Some(1_234_567_890_000));
    assert_eq!(from_object.issued, Some(1_234_567_800_000));
    assert_eq!(
        from_object.capability.as_deref(),
        Some("{\"channel-1\":[\"publish\"]}")
    );
    assert_eq!(from_object.client_id.as_deref(), Some("json-client"));
}

/// rest/unit/TK1/token-params-attributes-0
#[test]
fn tk1_token_params_attributes_0() {
    let empty = TokenParams::default();
    assert_eq!(empty.ttl, None);
    assert_eq!(empty.capability, None);
    let params = TokenParams {
        ttl: Some(7_200_000),
        capability: Some(r#"{"*":["*"]}"#.into()),
        client_id: Some("full-client".into()),
        timestamp: Some(1_234_567_890_000),
        nonce: Some("full-nonce".into()),
    };
    assert_eq!(params.ttl, Some(7_200_000));
    assert_eq!(params.capability.as_deref(), Some(r#"{"*":["*"]}"#));
    assert_eq!(params.client_id.as_deref(), Some("full-client"));
    assert_eq!(params.timestamp, Some(1_234_567_890_000));
    assert_eq!(params.nonce.as_deref(), Some("full-nonce"));
    assert_eq!(TokenParams::from_json(&params.to_json()).unwrap(), params);
}

/// rest/unit/TK/token-params-to-query-string-0
#[test]
fn tk_token_params_to_query_string_0() {
    let params = TokenParams {
        ttl: Some(3_600_000),
        client_id: Some("query-client".into()),
        capability: Some(r#"{"ch":["pub"]}"#.into()),
        ..Default::default()
    };
    let query: std::collections::HashMap<_, _> = params.to_query_params().into_iter().collect();
    assert_eq!(query["ttl"], "3600000");
    assert_eq!(query["clientId"], "query-client");
    assert_eq!(query["capability"], r#"{"ch":["pub"]}"#);
    assert_eq!(query.len(), 3, "unset fields are not sent");
}

fn request(nonce: &str) -> TokenRequest {
    TokenRequest {
        key_name: "appId.keyId".into(),
        ttl: None,
        capability: None,
        client_id: None,
        timestamp: 1_234_567_890_000,
        nonce: nonce.into(),
        mac: None,
    }
}

/// rest/unit/TE1/token-request-attributes-0
#[test]
fn te1_token_request_attributes_0() {
    let plain = request("nonce-1");
    assert_eq!(plain.key_name, "appId.keyId");
    assert_eq!(plain.ttl, None);
    assert_eq!(plain.capability, None);
    assert_eq!(plain.timestamp, 1_234_567_890_000);
    assert_eq!(plain.nonce, "nonce-1");
    let full = {
        let mut r = request("unique-nonce");
        r.ttl = Some(3_600_000);
        r.capability = Some(r#"{"*":["*"]}"#.into());
        r.client_id = Some("request-client".into());
        r
    };
    assert_eq!(full.ttl, Some(3_600_000));
    assert_eq!(full.capability.as_deref(), Some(r#"{"*":["*"]}"#));
    assert_eq!(full.client_id.as_deref(), Some("request-client"));
}

/// rest/unit/TE/token-request-mac-signature-0
#[test]
fn te_token_request_mac_signature_0() {
    let signed = {
        let mut r = request("nonce-value");
        r.mac = Some("signature-base64".into());
        r
    };
    assert_eq!(signed.mac.as_deref(), Some("signature-base64"));
}

/// rest/unit/TE/token-request-to-json-1
#[test]
fn te_token_request_to_json_1() {
    let full = {
        let mut r = request("json-nonce");
        r.ttl = Some(3_600_000);
        r.capability = Some(r#"{"*":["*"]}"#.into());
        r.client_id = Some("json-client".into());
        r.mac = Some("json-mac".into());
        r
    };
    let value: Value = serde_json::from_str(&full.to_json()).unwrap();
    assert_eq!(value["keyName"], "appId.keyId");
    assert_eq!(value["ttl"], 3_600_000);
    assert!(value["ttl"].is_number() && value["timestamp"].is_number());
    assert_eq!(value["capability"], r#"{"*":["*"]}"#);
    assert_eq!(value["clientId"], "json-client");
    assert_eq!(value["timestamp"], 1_234_567_890_000u64);
    assert_eq!(value["nonce"], "json-nonce");
    assert_eq!(value["mac"], "json-mac");
    let bare: Value = serde_json::from_str(&request("n").to_json()).unwrap();
    for absent in ["ttl", "capability", "clientId", "mac"] {
        assert!(bare.get(absent).is_none(), "{absent} must be left out");
    }
}

/// rest/unit/TE/token-request-from-json-2 (both forms of TE6)
#[test]
fn te_token_request_from_json_2() {
    let object = json!({
        "keyName": "appId.keyId",
        "ttl": 7_200_000,
        "capability": "{\"ch\":[\"sub\"]}",
        "clientId": "from-json-client",
        "timestamp": 1_234_567_899_999u64,
        "nonce": "from-json-nonce",
        "mac": "from-json-mac"
    });
    let parsed = TokenRequest::from_value(&object).unwrap();
    assert_eq!(
        parsed,
        TokenRequest::from_json(&object.to_string()).unwrap()
    );
    assert_eq!(parsed.key_name, "appId.keyId");
    assert_eq!(parsed.ttl, Some(7_200_000));
    assert_eq!(parsed.capability.as_deref(), Some("{\"ch\":[\"sub\"]}"));
    assert_eq!(parsed.client_id.as_deref(), Some("from-json-client"));
    assert_eq!(parsed.timestamp, 1_234_567_899_999);
    assert_eq!(parsed.nonce, "from-json-nonce");
    assert_eq!(parsed.mac.as_deref(), Some("from-json-mac"));
    let round: Value = serde_json::from_str(&parsed.to_json()).unwrap();
    assert_eq!(round, object);
}
