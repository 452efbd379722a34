//! UTS `rest/unit/auth/token_request_params.md` (RSA5, RSA6): ttl and capability stay
//! null unless set, and defaults apply only when no explicit value is given.

use ably_auth::{Auth, ClientOptions, TokenParams};

const KEY: &str = "appId.keyId:keySecret";

fn client(defaults: Option<TokenParams>) -> std::sync::Arc<Auth> {
    let mut options = ClientOptions::from_key(KEY).unwrap();
    options.default_token_params = defaults;
    Auth::new(options).unwrap()
}

fn ttl(ms: u64) -> TokenParams {
    TokenParams {
        ttl: Some(ms),
        ..Default::default()
    }
}

fn capability(text: &str) -> TokenParams {
    TokenParams {
        capability: Some(text.into()),
        ..Default::default()
    }
}

/// rest/unit/RSA5/ttl-null-when-unspecified-0
#[test]
fn rsa5_ttl_null_when_unspecified_0() {
    let request = client(None).create_token_request(None, None).unwrap();
    assert_eq!(request.ttl, None);
    assert!(!request.to_json().contains("\"ttl\""));
}

/// rest/unit/RSA5b/explicit-ttl-preserved-0
#[test]
fn rsa5b_explicit_ttl_preserved_0() {
    let request = client(None)
        .create_token_request(Some(&ttl(7_200_000)), None)
        .unwrap();
    assert_eq!(request.ttl, Some(7_200_000));
}

/// rest/unit/RSA5c/ttl-from-default-params-0
#[test]
fn rsa5c_ttl_from_default_params_0() {
    let request = client(Some(ttl(1_800_000)))
        .create_token_request(None, None)
        .unwrap();
    assert_eq!(request.ttl, Some(1_800_000));
}

/// rest/unit/RSA5d/explicit-ttl-overrides-default-0
#[test]
fn rsa5d_explicit_ttl_overrides_default_0() {
    let request = client(Some(ttl(1_800_000)))
        .create_token_request(Some(&ttl(600_000)), None)
        .unwrap();
    assert_eq!(request.ttl, Some(600_000));
}

/// rest/unit/RSA6/capability-null-when-unspecified-0
#[test]
fn rsa6_capability_null_when_unspecified_0() {
    let request = client(None).create_token_request(None, None).unwrap();
    assert_eq!(request.capability, None);
    assert!(!request.to_json().contains("capability"));
}

/// rest/unit/RSA6b/explicit-capability-preserved-0
#[test]
fn rsa6b_explicit_capability_preserved_0() {
    let request = client(None)
        .create_token_request(
            Some(&capability(r#"{"channel-a":["publish","subscribe"]}"#)),
            None,
        )
        .unwrap();
    assert_eq!(
        request.capability.as_deref(),
        Some(r#"{"channel-a":["publish","subscribe"]}"#)
    );
}

/// rest/unit/RSA6c/capability-from-default-params-0
#[test]
fn rsa6c_capability_from_default_params_0() {
    let request = client(Some(capability(r#"{"*":["subscribe"]}"#)))
        .create_token_request(None, None)
        .unwrap();
    assert_eq!(
        request.capability.as_deref(),
        Some(r#"{"*":["subscribe"]}"#)
    );
}

/// rest/unit/RSA6d/explicit-capability-overrides-default-0
#[test]
fn rsa6d_explicit_capability_overrides_default_0() {
    let request = client(Some(capability(r#"{"*":["subscribe"]}"#)))
        .create_token_request(Some(&capability(r#"{"channel-x":["publish"]}"#)), None)
        .unwrap();
    assert_eq!(
        request.capability.as_deref(),
        Some(r#"{"channel-x":["publish"]}"#)
    );
}

/// RSA9h / RSA8e: explicit params replace the defaults as a whole, so a default ttl does
/// not leak into a request whose params set only a capability.
#[test]
fn rsa9h_explicit_params_replace_defaults_as_a_whole() {
    let defaults = TokenParams {
        ttl: Some(1_800_000),
        capability: Some(r#"{"*":["subscribe"]}"#.into()),
        ..Default::default()
    };
    let request = client(Some(defaults))
        .create_token_request(Some(&capability(r#"{"a":["publish"]}"#)), None)
        .unwrap();
    assert_eq!(request.ttl, None);
    assert_eq!(request.capability.as_deref(), Some(r#"{"a":["publish"]}"#));
}
