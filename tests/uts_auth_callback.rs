//! UTS `rest/unit/auth/auth_callback.md` (RSA8c, RSA8d), over real sockets against the
//! loopback Ably-compatible server.
//!
//! Conventions of this file (deviations from the UTS mocks, applying to every case):
//! * The UTS mock answers every request with 200. The loopback server checks tokens for real,
//!   so where a token is then used on `/channels/test`, the callback or authUrl hands out a
//!   token (or JWT, or signed TokenRequest) that the server minted, instead of a literal such
//!   as `callback-token`; the assertions compare the Bearer value with that token.
//! * The Bearer header is `Bearer base64(token)` (DESIGN §4 item 1); the tests assert the
//!   decoded value.
//! * The UTS authUrl host `auth.example.com` is resolved to the loopback server
//!   (`transport.resolve`), over plain HTTP, so the authUrl request and the Ably request are
//!   recorded in one list, in order, and told apart by their `Host` header. Paths such as
//!   `/token` are answered by a fault rule with server-minted material.
//! * `client.request("GET", "/channels/test")` is `Auth::request(Method::Get, ...)`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ably_auth::{
    Auth, ClientOptions, ErrorInfo, Method, TokenDetails, TokenMaterial, TokenParams, TokenRequest,
    auth_callback_fn,
};
use common::*;

const AUTH_HOST: &str = "auth.example.com";

fn get_channel(auth: &Auth) -> ably_auth::Result<ably_auth::HttpResponse> {
    auth.request(Method::Get, "/channels/test", &[], &[], None)
        .and_then(ably_auth::HttpResponse::error_for_status)
}

/// Options for `server` whose token comes from `callback`.
fn callback_options(
    server: &LoopbackServer,
    callback: impl Fn(&TokenParams) -> ably_auth::Result<TokenMaterial> + Send + Sync + 'static,
) -> ClientOptions {
    let mut options = options_for(server);
    options.auth.auth_callback = Some(auth_callback_fn(callback));
    options
}

/// Options for `server` with the authUrl `http://auth.example.com:PORT{path}` (resolved to
/// the server itself).
fn auth_url_options(server: &LoopbackServer, path: &str) -> ClientOptions {
    let mut options = options_for(server);
    resolve_to_server(&mut options, AUTH_HOST, server);
    options.auth.auth_url = Some(format!("http://{AUTH_HOST}:{}{path}", server.port()));
    options
}

/// `path` on the loopback server answers 200 `application/json` with `json`.
fn serve_json(server: &LoopbackServer, path: &str, json: String) {
    server.push_rule(Rule::always(
        path,
        Action::Respond {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json.into_bytes(),
        },
    ));
}

fn host_of(request: &RecordedRequest) -> &str {
    let host = request.header("host").unwrap_or("");
    host.split(':').next().unwrap_or(host)
}

/// rest/unit/RSA8d/callback-invoked-for-auth-0
#[test]
fn rsa8d_callback_invoked_for_auth_0() {
    let server = http_server();
    let token = minted(&server, MintSpec::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let (c, t) = (calls.clone(), token.clone());
    let auth = common::new_auth(callback_options(&server, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(TokenMaterial::Details(t.clone()))
    }))
    .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "not called before a request"
    );

    let response = get_channel(&auth).unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/channels/test");
    assert_eq!(
        bearer_token(requests[0].header("authorization").unwrap()),
        token.token
    );
}

/// rest/unit/RSA8d/callback-returns-jwt-1 (the JWT is one the server signed, so it accepts it)
#[test]
fn rsa8d_callback_returns_jwt_1() {
    let server = http_server();
    let jwt = server.mint_jwt(MintSpec::default());
    assert_eq!(jwt.split('.').count(), 3);
    let j = jwt.clone();
    let auth = common::new_auth(callback_options(&server, move |_| {
        TokenMaterial::token_string(&j)
    }))
    .unwrap();

    assert_eq!(get_channel(&auth).unwrap().status, 200);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        bearer_token(requests[0].header("authorization").unwrap()),
        jwt
    );
    assert_eq!(auth.token_details().unwrap().token, jwt);
}

/// rest/unit/RSA8d/callback-returns-token-request-2 (the TokenRequest is signed by the server
/// with its key, where the UTS uses a made-up `mac`, so the exchange succeeds for real)
#[test]
fn rsa8d_callback_returns_token_request_2() {
    let server = http_server();
    let request = TokenRequest::from_json(&server.signed_token_request(MintSpec {
        ttl_ms: Some(3_600_000),
        ..Default::default()
    }))
    .unwrap();
    let r = request.clone();
    let auth = common::new_auth(callback_options(&server, move |_| {
        Ok(TokenMaterial::Request(r.clone()))
    }))
    .unwrap();

    assert_eq!(get_channel(&auth).unwrap().status, 200);

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].method, "POST");
    // The UTS matches `/keys/.*/requestToken`; the library percent-encodes the key name
    // (`appId%2EkeyId`), which decodes to the same path.
    let key_segment = requests[0]
        .path
        .strip_prefix("/keys/")
        .and_then(|p| p.strip_suffix("/requestToken"))
        .unwrap_or_else(|| panic!("not a requestToken path: {}", requests[0].path));
    assert_eq!(key_segment.replace("%2E", "."), request.key_name);
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["nonce"], request.nonce.as_str());
    assert_eq!(sent["mac"], request.mac.as_deref().unwrap());
    assert_eq!(server.tokens_issued(), 1);
    let exchanged = auth.token_details().unwrap();
    assert!(exchanged.token.starts_with("lbtk-"), "{exchanged:?}");
    assert_eq!(requests[1].path, "/channels/test");
    assert_eq!(
        bearer_token(requests[1].header("authorization").unwrap()),
        exchanged.token
    );
}

/// rest/unit/RSA8d/callback-receives-token-params-3 (no request reaches the server: the
/// callback answers with a TokenDetails)
#[test]
fn rsa8d_callback_receives_token_params_3() {
    let server = http_server();
    let received: Arc<Mutex<Vec<TokenParams>>> = Arc::default();
    let r = received.clone();
    let auth = common::new_auth(callback_options(&server, move |params| {
        r.lock().unwrap().push(params.clone());
        Ok(TokenMaterial::Details({
            let mut d = TokenDetails::from_token("test-token");
            d.expires = Some(now() + 3_600_000);
            d
        }))
    }))
    .unwrap();

    let details = auth
        .authorize(
            Some(&TokenParams {
                client_id: Some("requested-client-id".into()),
                ttl: Some(7_200_000),
                capability: Some(r#"{"channel1":["publish"]}"#.into()),
                ..Default::default()
            }),
            None,
        )
        .unwrap();

    assert_eq!(details.token, "test-token");
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].client_id.as_deref(),
        Some("requested-client-id")
    );
    assert_eq!(received[0].ttl, Some(7_200_000));
    let capability: serde_json::Value =
        serde_json::from_str(received[0].capability.as_deref().unwrap()).unwrap();
    assert_eq!(capability, serde_json::json!({"channel1": ["publish"]}));
    assert!(server.requests().is_empty());
}

/// rest/unit/RSA8c/authurl-invoked-for-auth-0
#[test]
fn rsa8c_authurl_invoked_for_auth_0() {
    let server = http_server();
    let token = server.mint_token(MintSpec::default());
    serve_json(&server, "/token", token.json.clone());
    let auth = common::new_auth(auth_url_options(&server, "/token")).unwrap();

    assert_eq!(get_channel(&auth).unwrap().status, 200);

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(host_of(&requests[0]), AUTH_HOST);
    assert_eq!(requests[0].path, "/token");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[1].path, "/channels/test");
    assert_eq!(host_of(&requests[1]), "127.0.0.1");
    assert_eq!(
        bearer_token(requests[1].header("authorization").unwrap()),
        token.token
    );
}

/// rest/unit/RSA8c/authurl-post-method-1
#[test]
fn rsa8c_authurl_post_method_1() {
    let server = http_server();
    let token = server.mint_token(MintSpec::default());
    serve_json(&server, "/token", token.json.clone());
    let mut options = auth_url_options(&server, "/token");
    options.auth.auth_method = Some(Method::Post);
    let auth = common::new_auth(options).unwrap();

    assert_eq!(get_channel(&auth).unwrap().status, 200);

    let requests = server.requests();
    assert_eq!(host_of(&requests[0]), AUTH_HOST);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        bearer_token(requests[1].header("authorization").unwrap()),
        token.token
    );
}

/// rest/unit/RSA8c/authurl-custom-headers-2 (also: no Ably credentials or headers go to the
/// authUrl, checklist §2.1)
#[test]
fn rsa8c_authurl_custom_headers_2() {
    let server = http_server();
    serve_json(
        &server,
        "/token",
        server.mint_token(MintSpec::default()).json,
    );
    let mut options = auth_url_options(&server, "/token");
    options.auth.auth_headers = vec![
        ("X-Custom-Header".into(), "custom-value".into()),
        ("X-API-Key".into(), "my-api-key".into()),
    ];
    let auth = common::new_auth(options).unwrap();

    get_channel(&auth).unwrap();

    let auth_request = &server.requests()[0];
    assert_eq!(host_of(auth_request), AUTH_HOST);
    assert_eq!(auth_request.header("X-Custom-Header"), Some("custom-value"));
    assert_eq!(auth_request.header("X-API-Key"), Some("my-api-key"));
    assert_eq!(auth_request.header("authorization"), None);
    assert_eq!(auth_request.header("x-ably-version"), None);
}

/// rest/unit/RSA8c/authurl-query-params-3
#[test]
fn rsa8c_authurl_query_params_3() {
    let server = http_server();
    serve_json(
        &server,
        "/token",
        server.mint_token(MintSpec::default()).json,
    );
    let mut options = auth_url_options(&server, "/token");
    options.auth.auth_params = vec![
        ("client_id".into(), "my-client".into()),
        ("scope".into(), "publish:*".into()),
    ];
    let auth = common::new_auth(options).unwrap();

    get_channel(&auth).unwrap();

    let auth_request = &server.requests()[0];
    assert_eq!(auth_request.method, "GET");
    assert_eq!(auth_request.query_param("client_id"), Some("my-client"));
    assert_eq!(auth_request.query_param("scope"), Some("publish:*"));
}

/// rest/unit/RSA8c/authurl-returns-jwt-4 (a server-signed JWT, served as `text/plain`)
#[test]
fn rsa8c_authurl_returns_jwt_4() {
    let server = http_server();
    let jwt = server.mint_jwt(MintSpec::default());
    server.push_rule(Rule::always(
        "/jwt",
        Action::Respond {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: jwt.clone().into_bytes(),
        },
    ));
    let auth = common::new_auth(auth_url_options(&server, "/jwt")).unwrap();

    assert_eq!(get_channel(&auth).unwrap().status, 200);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        bearer_token(requests[1].header("authorization").unwrap()),
        jwt
    );
}

/// rest/unit/RSA8d/callback-error-propagated-4 (also: a plain error becomes 40170/401,
/// checklist §2.7)
#[test]
fn rsa8d_callback_error_propagated_4() {
    let server = http_server();
    let auth = common::new_auth(callback_options(&server, |_| {
        Err(ErrorInfo::new(0, 0, "Authentication server unavailable"))
    }))
    .unwrap();

    let error = get_channel(&auth).unwrap_err();

    assert!(
        error.message.contains("Authentication server unavailable"),
        "{error}"
    );
    assert_eq!((error.code, error.status_code), (40170, 401));
    assert!(server.requests().is_empty());
    assert!(auth.token_details().is_none());
}

/// rest/unit/RSA8c/authurl-error-propagated-5 (DESIGN §4 item 9: 40170/401 with "auth" in
/// the message and the 500 kept as the cause)
#[test]
fn rsa8c_authurl_error_propagated_5() {
    let server = http_server();
    server.push_rule(Rule::always(
        "/token",
        Action::Json {
            status: 500,
            body: r#"{"error": "Internal server error"}"#.into(),
        },
    ));
    let auth = common::new_auth(auth_url_options(&server, "/token")).unwrap();

    let error = get_channel(&auth).unwrap_err();

    assert!(
        error.status_code == 500 || error.message.contains("auth"),
        "{error}"
    );
    assert_eq!((error.code, error.status_code), (40170, 401));
    assert_eq!(error.cause.as_ref().map(|c| c.status_code), Some(500));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(host_of(&requests[0]), AUTH_HOST);
}

fn now() -> u64 {
    ably_auth::Clock::now_ms(&ably_auth::SystemClock)
}

/// RSA8d, RSA4e (no UTS case): an asynchronous authCallback that answers from another thread
/// is waited for; one that never answers fails with 40170 after the request timeout.
#[test]
fn rsa8d_async_callback_answers_from_another_thread_or_times_out() {
    struct Later(TokenDetails);
    impl ably_auth::AuthCallback for Later {
        fn call(&self, _: &TokenParams, completion: ably_auth::Completion) {
            let details = self.0.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                completion
                    .complete(Ok(TokenMaterial::Details(details)))
                    .unwrap();
            });
        }
    }
    struct Never(Mutex<Vec<ably_auth::Completion>>);
    impl ably_auth::AuthCallback for Never {
        fn call(&self, _: &TokenParams, completion: ably_auth::Completion) {
            self.0.lock().unwrap().push(completion); // kept, never answered
        }
    }

    let server = http_server();
    let token = minted(&server, MintSpec::default());
    let mut options = options_for(&server);
    options.auth.auth_callback = Some(Arc::new(Later(token.clone())));
    let auth = common::new_auth(options).unwrap();
    assert_eq!(get_channel(&auth).unwrap().status, 200);
    assert_eq!(auth.token_details().unwrap().token, token.token);

    let never = Arc::new(Never(Mutex::default()));
    let mut options = options_for(&server);
    options.transport.request_timeout = std::time::Duration::from_millis(300);
    options.auth.auth_callback = Some(never.clone());
    let auth = common::new_auth(options).unwrap();
    let started = std::time::Instant::now();
    let error = get_channel(&auth).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!((error.code, error.status_code), (40170, 401), "{error}");
    // It fails at the request timeout, which the message names: waited for it (the lower
    // bound), and no hang (the upper bound is a hang guard, not a speed target).
    assert!(
        error.message.contains("did not answer within 300 ms"),
        "{error}"
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(270),
        "{elapsed:?}: the request timeout was not awaited"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(60),
        "hang guard: {elapsed:?}"
    );
    // A late answer is refused rather than used.
    let late = never.0.lock().unwrap().pop().unwrap();
    assert!(late.complete(Ok(TokenMaterial::Details(token))).is_err());
    assert!(auth.token_details().is_none());
}
