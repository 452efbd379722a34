//! UTS `rest/unit/auth/auth_scheme.md` (RSA1, RSA2, RSA3, RSA4, RSA4a2, RSA11, RSC1b, RSC18),
//! over real sockets against the loopback server.
//!
//! Differences from the UTS mocks, common to every case:
//! * Tokens are real ones minted by the loopback server, so the server's own check of the
//!   credentials (it answers 401 to anything it did not issue) backs up each assertion.
//! * `Authorization: Bearer` carries base64 of the token (DESIGN §4 item 1); the tests decode it.
//! * Basic auth needs TLS (RSC18), so the Basic cases run against the HTTPS server.
//! * `client.request("GET", "/channels/test")` is `auth.request(Method::Get, "/channels/test")`.
//!
//! All eleven cases are ported.

mod common;

use std::sync::Arc;

use ably_auth::{Auth, AuthOptions, Method, TokenDetails, TokenMaterial, auth_callback_fn};
use base64::Engine as _;
use common::*;

const HOUR_MS: u64 = 3_600_000;

fn get_channel(auth: &Auth) -> ably_auth::HttpResponse {
    auth.request(Method::Get, "/channels/test", &[], &[], None)
        .and_then(ably_auth::HttpResponse::error_for_status)
        .unwrap()
}

fn only_request(server: &LoopbackServer, path: &str) -> RecordedRequest {
    let requests = requests_to(server, path);
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

fn details(token: &str, expires: u64) -> TokenDetails {
    {
        let mut d = TokenDetails::from_token(token);
        d.expires = Some(expires);
        d
    }
}

fn callback_options(server: &Arc<LoopbackServer>) -> (ably_auth::ClientOptions, String) {
    let minted = server.mint_token(MintSpec::default()).token;
    let token = minted.clone();
    let mut options = options_for(server);
    options.auth.auth_callback = Some(auth_callback_fn(move |_params| {
        Ok(TokenMaterial::Details(details(&token, now_ms() + HOUR_MS)))
    }));
    (options, minted)
}

/// rest/unit/RSA4/basic-auth-key-only-0
#[test]
fn rsa4_basic_auth_key_only_0() {
    let server = tls_server();
    let auth = common::new_auth(key_options(&server)).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let request = only_request(&server, "/channels/test");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(server.key().key_string())
    );
    assert_eq!(request.header("Authorization"), Some(expected.as_str()));
    assert_eq!(server.requests().len(), 1, "no token requested");
}

/// rest/unit/RSA3/token-auth-explicit-token-0
#[test]
fn rsa3_token_auth_explicit_token_0() {
    let server = http_server();
    let minted = server.mint_token(MintSpec::default());
    let mut options = options_for(&server);
    options.auth.token = Some(minted.token.clone());
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let request = only_request(&server, "/channels/test");
    assert_eq!(
        bearer_token(request.header("Authorization").unwrap()),
        minted.token
    );
}

/// rest/unit/RSA3/token-auth-token-details-1
#[test]
fn rsa3_token_auth_token_details_1() {
    let server = http_server();
    let minted = server.mint_token(MintSpec::default());
    let mut options = options_for(&server);
    options.auth.token_details = Some(details(&minted.token, now_ms() + HOUR_MS));
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let request = only_request(&server, "/channels/test");
    assert_eq!(
        bearer_token(request.header("Authorization").unwrap()),
        minted.token
    );
}

/// rest/unit/RSA4/use-token-auth-forced-1
///
/// The token comes from the server's real requestToken endpoint (the UTS mock's
/// "obtained-token"); it is compared with the token the library stored.
#[test]
fn rsa4_use_token_auth_forced_1() {
    let server = tls_server(); // TLS, so Basic would have been allowed: token auth is forced
    let mut options = key_options(&server);
    options.auth.use_token_auth = Some(true);
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // Compared percent-decoded: the library sends `/keys/appId%2EkeyId/requestToken` (see the
    // ignored BUG test in tests/uts_revoke_tokens.rs); the UTS does not check this path.
    let path = percent_encoding::percent_decode_str(&requests[0].path).decode_utf8_lossy();
    assert_eq!(path, "/keys/appId.keyId/requestToken");
    let api_request = &requests[1];
    assert_eq!(api_request.path, "/channels/test");
    let header = api_request.header("Authorization").unwrap();
    assert!(header.starts_with("Bearer "), "{header}");
    assert_eq!(bearer_token(header), auth.token_details().unwrap().token);
    assert_eq!(server.tokens_issued(), 1);
}

/// rest/unit/RSA4/auth-callback-triggers-token-2
#[test]
fn rsa4_auth_callback_triggers_token_2() {
    let server = Arc::new(http_server());
    let (options, token) = callback_options(&server);
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let request = only_request(&server, "/channels/test");
    assert_eq!(
        bearer_token(request.header("Authorization").unwrap()),
        token
    );
}

/// rest/unit/RSA4/authurl-triggers-token-3
///
/// The authUrl is the loopback server's `/auth/token-details` (TokenDetails JSON, as in the
/// UTS); the UTS's `auth.example.com` is told apart by path.
#[test]
fn rsa4_authurl_triggers_token_3() {
    let server = http_server();
    let mut options = options_for(&server);
    options.auth.auth_url = Some(format!("{}/auth/token-details", server.base_url()));
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/auth/token-details");
    let api_request = &requests[1];
    assert_eq!(api_request.path, "/channels/test");
    assert_eq!(
        bearer_token(api_request.header("Authorization").unwrap()),
        auth.token_details().unwrap().token
    );
}

/// rest/unit/RSC1b/no-auth-method-error-0
///
/// The error comes from the constructor (as in ably-js), before any request could be made.
#[test]
fn rsc1b_no_auth_method_error_0() {
    let server = http_server();
    let error = common::new_auth(options_for(&server)).unwrap_err();
    assert_eq!(error.code, 40106);
    assert!(server.requests().is_empty());
}

/// rest/unit/RSA4a2/expired-token-no-renewal-0
#[test]
fn rsa4a2_expired_token_no_renewal_0() {
    let server = http_server();
    let minted = server.mint_token(MintSpec::default()); // still valid on the server
    let mut options = options_for(&server);
    options.auth.token_details = Some(details(&minted.token, now_ms() - 1000));
    let auth = common::new_auth(options).unwrap();
    let error = auth
        .request(Method::Get, "/channels/test", &[], &[], None)
        .and_then(ably_auth::HttpResponse::error_for_status)
        .unwrap_err();
    assert_eq!(error.code, 40171);
    assert!(server.requests().is_empty(), "no HTTP request");
}

/// rest/unit/RSA1/token-auth-takes-precedence-0
#[test]
fn rsa1_token_auth_takes_precedence_0() {
    let server = Arc::new(tls_server()); // TLS, so Basic would have been allowed
    let (mut options, token) = callback_options(&server);
    options.auth = AuthOptions {
        key: Some(ably_auth::ApiKey::parse(&server.key().key_string()).unwrap()),
        ..options.auth
    };
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let request = only_request(&server, "/channels/test");
    assert_eq!(
        bearer_token(request.header("Authorization").unwrap()),
        token
    );
    assert_eq!(
        server.tokens_issued(),
        0,
        "the key was not used for a token either"
    );
}

/// rest/unit/RSA2/basic-auth-header-format-0
///
/// The loopback server is configured with the UTS's key `app123.key456:secretXYZ`, so it
/// checks the credentials too.
#[test]
fn rsa2_basic_auth_header_format_0() {
    let key = KeyConfig {
        name: "app123.key456".into(),
        secret: "secretXYZ".into(),
        ..KeyConfig::default()
    };
    let server = LoopbackServer::start(ServerConfig {
        tls: true,
        keys: vec![key],
        ..ServerConfig::default()
    });
    let mut options = options_for(&server);
    options.auth = AuthOptions::default()
        .with_key("app123.key456:secretXYZ")
        .unwrap();
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).status, 200);
    let request = only_request(&server, "/channels/test");
    // base64("app123.key456:secretXYZ"), standard alphabet with padding
    assert_eq!(
        request.header("Authorization"),
        Some("Basic YXBwMTIzLmtleTQ1NjpzZWNyZXRYWVo=")
    );
}

/// rest/unit/RSC18/token-auth-over-non-tls-0
#[test]
fn rsc18_token_auth_over_non_tls_0() {
    let server = http_server(); // plain TCP: the request arriving there was http://
    let minted = server.mint_token(MintSpec::default());
    let mut options = options_for(&server);
    assert!(!options.endpoint.tls);
    options.auth.token = Some(minted.token.clone());
    let auth = common::new_auth(options).unwrap();
    let response = get_channel(&auth);
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["status"]["isActive"], true);
    let request = only_request(&server, "/channels/test");
    assert_eq!(
        bearer_token(request.header("Authorization").unwrap()),
        minted.token
    );
}
