//! UTS `rest/unit/types/options_types.md`, the offline parts. The options for hosts,
//! timeouts, TLS, authUrl and authCallback belong to the networked Auth; the cases that
//! only test those are listed at the end with the reason.

use ably_auth::{Auth, AuthOptions, ClientOptions, TokenParams};

/// rest/unit/TO3/client-options-attributes-0 (partly: key and clientId, and the defaults of
/// the auth options this library has; `useBinaryProtocol`, `idempotentRestPublishing` and
/// `maxMessageSize` are out of scope for a JSON-only auth library, and the transport
/// options arrive with the networked Auth).
#[test]
fn to3_client_options_attributes_0() {
    let defaults = ClientOptions::default();
    assert!(defaults.auth.key.is_none());
    assert_eq!(defaults.auth.use_token_auth, None);
    assert!(defaults.client_id.is_none() && defaults.default_token_params.is_none());

    let mut options = ClientOptions::from_key("appId.keyId:keySecret").unwrap();
    options.client_id = Some("my-client".into());
    let key = options.auth.key.as_ref().unwrap();
    assert_eq!(key.name(), "appId.keyId");
    assert_eq!(key.secret(), "keySecret");
    assert_eq!(options.client_id.as_deref(), Some("my-client"));
}

/// rest/unit/TO3/client-options-default-token-params-3
#[test]
fn to3_client_options_default_token_params_3() {
    let mut options = ClientOptions::from_key("appId.keyId:keySecret").unwrap();
    options.default_token_params = Some(TokenParams {
        ttl: Some(7_200_000),
        client_id: Some("default-client".into()),
        capability: Some(r#"{"*":["subscribe"]}"#.into()),
        ..Default::default()
    });
    let stored = options.default_token_params.as_ref().unwrap();
    assert_eq!(stored.ttl, Some(7_200_000));
    assert_eq!(stored.client_id.as_deref(), Some("default-client"));
    assert_eq!(stored.capability.as_deref(), Some(r#"{"*":["subscribe"]}"#));
    let auth = Auth::new(options).unwrap();
    assert_eq!(auth.default_token_params().ttl, Some(7_200_000));
    assert_eq!(
        auth.default_token_params().client_id.as_deref(),
        Some("default-client")
    );
}

/// rest/unit/TO/conflicting-options-validation-1, case 3 (no auth options → an error that
/// mentions auth, key or token; RSC1b code 40106). Case 1 (key + authCallback) and case 2
/// (restHost + endpoint) need options of the networked Auth.
#[test]
fn to_conflicting_options_validation_1() {
    let e = Auth::new(ClientOptions::default()).unwrap_err();
    assert_eq!((e.code, e.status_code), (40106, 401));
    assert!(
        e.message.contains("key") && e.message.contains("token"),
        "{e}"
    );

    // token and tokenDetails together are contradictory rather than ordered.
    let both = ClientOptions {
        auth: AuthOptions {
            token: Some("a".into()),
            token_details: Some(ably_auth::TokenDetails::from_token("b")),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(Auth::new(both).unwrap_err().code, 40000);
}

/// Default token params are validated at construction: per-request fields (timestamp,
/// nonce; TK2d) and an invalid capability are rejected.
#[test]
fn default_token_params_are_validated_at_construction() {
    for params in [
        TokenParams {
            timestamp: Some(1),
            ..Default::default()
        },
        TokenParams {
            nonce: Some("n".into()),
            ..Default::default()
        },
        TokenParams {
            capability: Some("{}".into()),
            ..Default::default()
        },
    ] {
        let mut options = ClientOptions::from_key("appId.keyId:keySecret").unwrap();
        options.default_token_params = Some(params);
        assert_eq!(Auth::new(options).unwrap_err().code, 40003);
    }
}

// Not ported yet, because they only store options of the networked Auth (hosts, timeouts,
// TLS, authUrl, authCallback), which do not exist in the offline library:
// - rest/unit/TO3/client-options-custom-hosts-1
// - rest/unit/TO3/client-options-auth-url-2
// - rest/unit/AO2/auth-options-attributes-0
// - rest/unit/AO/auth-options-with-callback-0
// - rest/unit/TO/endpoint-affects-host-0
