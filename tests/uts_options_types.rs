//! UTS `rest/unit/types/options_types.md`. The UTS cases only check that options are stored;
//! this library's options are plain struct fields, so besides the stored values each test
//! also checks that the option takes effect, over real sockets against the loopback
//! Ably-compatible server (host names are resolved to it with `transport.resolve`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ably_auth::{
    AuthOptions, ClientOptions, Method, TokenDetails, TokenMaterial, TokenParams, auth_callback_fn,
};
use common::{Action, LoopbackServer, Rule};

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
    let auth = common::new_auth(options).unwrap();
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
    let e = common::new_auth(ClientOptions::default()).unwrap_err();
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
    assert_eq!(common::new_auth(both).unwrap_err().code, 40000);
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
        assert_eq!(common::new_auth(options).unwrap_err().code, 40003);
    }
}

/// Options for `server` with its key on token auth (no TLS needed) and no explicit endpoint,
/// so the host options under test decide where requests go.
fn host_test_options(server: &LoopbackServer) -> ClientOptions {
    let mut options = common::key_options(server);
    options.auth.use_token_auth = Some(true);
    options.endpoint.endpoint = None;
    options
}

fn host_header(request: &common::RecordedRequest) -> String {
    request.header("host").unwrap_or("").to_owned()
}

/// rest/unit/TO3/client-options-attributes-0, the transport and auth defaults the offline
/// test above left out (authMethod GET, tls true, httpRequestTimeout 10 s,
/// httpMaxRetryCount 3, addRequestIds false, queryTime false), and a set request timeout
/// taking effect (50003 well before the server answers).
#[test]
fn to3_client_options_attributes_0_transport() {
    let defaults = ClientOptions::default();
    assert_eq!(defaults.auth.auth_method, None, "None means GET");
    assert!(defaults.endpoint.tls);
    assert_eq!(defaults.transport.request_timeout, Duration::from_secs(10));
    assert_eq!(defaults.fallback.max_retry_count, 3);
    assert!(!defaults.add_request_ids);
    assert!(!defaults.auth.query_time);

    let server = common::http_server();
    server.push_rule(Rule::once(
        "/time",
        Action::SlowHeaders {
            delay_ms: 120_000,
            then: Box::new(Action::Pass),
        },
    ));
    let mut options = common::options_for(&server);
    options.auth.token = Some("t".into());
    options.transport.request_timeout = Duration::from_millis(300);
    let auth = common::new_auth(options).unwrap();
    let started = Instant::now();
    let error = auth.time().unwrap_err();
    assert_eq!((error.code, error.status_code), (50003, 0), "{error}");
    // Plain words naming the timeout, not the HTTP client's "timeout: global".
    assert!(
        error
            .message
            .contains("within the request timeout (300 ms)")
            && !error.message.contains("global"),
        "{error}"
    );
    // Waited for the timeout, then gave up long before the server's 120 s answer (the
    // upper bound is a hang guard, not a speed target).
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(270), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "hang guard: {elapsed:?}");
}

/// rest/unit/TO3/client-options-custom-hosts-1. Beyond storage: requests go to the restHost,
/// and after a 500 from it to one of the fallbackHosts.
#[test]
fn to3_client_options_custom_hosts_1() {
    let server = common::http_server();
    let mut options = host_test_options(&server);
    options.endpoint.rest_host = Some("custom.ably.example.com".into());
    options.endpoint.fallback_hosts = Some(vec![
        "fallback1.example.com".into(),
        "fallback2.example.com".into(),
    ]);
    assert_eq!(
        options.endpoint.rest_host.as_deref(),
        Some("custom.ably.example.com")
    );
    assert_eq!(
        options.endpoint.fallback_hosts.as_deref(),
        Some(
            &[
                "fallback1.example.com".to_owned(),
                "fallback2.example.com".to_owned()
            ][..]
        )
    );
    for host in [
        "custom.ably.example.com",
        "fallback1.example.com",
        "fallback2.example.com",
    ] {
        common::resolve_to_server(&mut options, host, &server);
    }
    server.push_rule(Rule::once(
        "/time",
        Action::AblyError {
            status: 500,
            code: 50000,
            message: "primary down".into(),
        },
    ));
    let auth = common::new_auth(options).unwrap();

    assert!(auth.time().unwrap() > 1_700_000_000_000);

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let port = server.port();
    assert_eq!(
        host_header(&requests[0]),
        format!("custom.ably.example.com:{port}")
    );
    let fallback = host_header(&requests[1]);
    assert!(
        fallback == format!("fallback1.example.com:{port}")
            || fallback == format!("fallback2.example.com:{port}"),
        "{fallback}"
    );
}

/// rest/unit/TO3/client-options-auth-url-2. Beyond storage: the authUrl request is a POST
/// carrying the authHeaders and the authParams (form body).
#[test]
fn to3_client_options_auth_url_2() {
    let mut options = ClientOptions::default();
    options.auth.auth_url = Some("https://auth.example.com/token".into());
    options.auth.auth_method = Some(Method::Post);
    options.auth.auth_headers = vec![("X-API-Key".into(), "secret".into())];
    options.auth.auth_params = vec![("scope".into(), "full".into())];
    assert_eq!(
        options.auth.auth_url.as_deref(),
        Some("https://auth.example.com/token")
    );
    assert_eq!(options.auth.auth_method.map(Method::as_str), Some("POST"));
    assert_eq!(
        options.auth.auth_headers,
        vec![("X-API-Key".to_owned(), "secret".to_owned())]
    );
    assert_eq!(
        options.auth.auth_params,
        vec![("scope".to_owned(), "full".to_owned())]
    );
    assert!(common::new_auth(options.clone()).unwrap().uses_token_auth());

    let server = common::http_server();
    let mut live = common::options_for(&server);
    live.auth = AuthOptions {
        auth_url: Some(format!("{}/auth/token-details", server.base_url())),
        ..options.auth
    };
    let auth = common::new_auth(live).unwrap();
    let details = auth.authorize(None, None).unwrap();
    assert!(details.token.starts_with("lbtk-"));
    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("x-api-key"), Some("secret"));
    assert!(
        request
            .form()
            .contains(&("scope".to_owned(), "full".to_owned()))
    );
}

/// rest/unit/AO2/auth-options-attributes-0. Beyond storage: authorize with these AuthOptions
/// asks `/time` first (queryTime), then POSTs to the authUrl with the authHeaders (here an
/// `Authorization` header meant for the customer's server) and the authParams.
#[test]
fn ao2_auth_options_attributes_0() {
    let auth_options = AuthOptions {
        auth_url: Some("https://auth.example.com/token".into()),
        auth_method: Some(Method::Post),
        auth_headers: vec![("Authorization".into(), "Bearer api-key".into())],
        auth_params: vec![("user".into(), "test".into())],
        query_time: true,
        ..Default::default()
    };
    assert_eq!(
        auth_options.auth_url.as_deref(),
        Some("https://auth.example.com/token")
    );
    assert_eq!(auth_options.auth_method, Some(Method::Post));
    assert_eq!(
        auth_options.auth_headers[0],
        ("Authorization".to_owned(), "Bearer api-key".to_owned())
    );
    assert_eq!(
        auth_options.auth_params[0],
        ("user".to_owned(), "test".to_owned())
    );
    assert!(auth_options.query_time);

    let server = common::http_server();
    let auth = common::new_auth({
        let mut o = common::options_for(&server);
        o.auth.token = Some("initial".into());
        o
    })
    .unwrap();
    let live = AuthOptions {
        auth_url: Some(format!("{}/auth/token-details", server.base_url())),
        ..auth_options
    };
    auth.authorize(None, Some(&live)).unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].path, "/time");
    assert_eq!(requests[1].path, "/auth/token-details");
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].header("authorization"), Some("Bearer api-key"));
    assert!(
        requests[1]
            .form()
            .contains(&("user".to_owned(), "test".to_owned()))
    );
    assert!(auth.server_time_offset().is_some());
}

/// rest/unit/AO/auth-options-with-callback-0. Deviation: the UTS calls the stored callback
/// directly; here it is called through `Auth::request_token` with those AuthOptions, because
/// an AuthCallback answers through a `Completion` that only the library can create.
#[test]
fn ao_auth_options_with_callback_0() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let auth_options = AuthOptions {
        auth_callback: Some(auth_callback_fn(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(TokenMaterial::Details({
                let mut d = TokenDetails::from_token("callback-token");
                d.expires = Some(ably_auth::Clock::now_ms(&ably_auth::SystemClock) + 3_600_000);
                d
            }))
        })),
        ..Default::default()
    };
    assert!(auth_options.auth_callback.is_some());
    let auth = common::new_auth(ClientOptions::from_key("appId.keyId:keySecret").unwrap()).unwrap();

    let result = auth
        .request_token(Some(&TokenParams::default()), Some(&auth_options))
        .unwrap();

    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(result.token, "callback-token");
    assert!(
        auth.token_details().is_none(),
        "requestToken does not store"
    );
}

/// rest/unit/TO/endpoint-affects-host-0. The option is stored as given; the UTS host table
/// is out of date (checklist §2.16 item 10), so the hosts asserted are the current REC1 ones:
/// none → `main.realtime.ably.net`, `test` → `test.realtime.ably.net`, `custom-env` →
/// `custom-env.realtime.ably.net`, each checked on the wire (Host header of `/time`).
#[test]
fn to_endpoint_affects_host_0() {
    let server = common::http_server();
    for (endpoint, host) in [
        (None, "main.realtime.ably.net"),
        (Some("test"), "test.realtime.ably.net"),
        (Some("custom-env"), "custom-env.realtime.ably.net"),
    ] {
        let mut options = host_test_options(&server);
        options.endpoint.endpoint = endpoint.map(str::to_owned);
        assert_eq!(options.endpoint.endpoint.as_deref(), endpoint);
        options.endpoint.fallback_hosts = Some(vec![]); // never leave the loopback
        common::resolve_to_server(&mut options, host, &server);
        server.clear_requests();

        common::new_auth(options).unwrap().time().unwrap();

        let requests = server.requests();
        assert_eq!(requests.len(), 1, "{endpoint:?}");
        assert_eq!(
            host_header(&requests[0]),
            format!("{host}:{}", server.port()),
            "{endpoint:?}"
        );
    }
}

/// rest/unit/TO/conflicting-options-validation-1, cases 1 and 2 (case 3 is above): key +
/// authCallback is valid and the callback wins (token auth, the callback's token in the
/// header); restHost + endpoint is an error naming them.
#[test]
fn to_conflicting_options_validation_1_cases_1_and_2() {
    let mut options = ClientOptions::from_key("appId.keyId:keySecret").unwrap();
    options.auth.auth_callback = Some(auth_callback_fn(|_| {
        TokenMaterial::token_string("from-callback")
    }));
    let auth = common::new_auth(options).unwrap();
    assert!(auth.uses_token_auth());
    let header = auth.authorization_header().unwrap();
    assert_eq!(common::bearer_token(&header), "from-callback");

    let mut options = ClientOptions::from_key("appId.keyId:keySecret").unwrap();
    options.endpoint.rest_host = Some("custom.host.com".into());
    options.endpoint.endpoint = Some("test".into());
    let error = common::new_auth(options).unwrap_err();
    assert!(
        error.message.contains("restHost") || error.message.contains("endpoint"),
        "{error}"
    );
    assert_eq!(error.code, 40000);
}
