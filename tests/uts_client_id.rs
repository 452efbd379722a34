//! UTS `rest/unit/auth/client_id.md`. The offline cases build an Auth from options; the cases
//! that need a token obtained over the network (authCallback, authUrl, authorize) run over
//! real sockets against the loopback Ably-compatible server, where the callback or authUrl
//! hands out tokens the server minted (with the UTS clientIds), so the server accepts them.

mod common;

use std::sync::{Arc, Mutex};

use ably_auth::{
    Auth, AuthOptions, ClientOptions, Method, TokenDetails, TokenMaterial, TokenParams,
    auth_callback_fn,
};
use common::{LoopbackServer, MintSpec};

const KEY: &str = "appId.keyId:keySecret";
const HOUR_MS: u64 = 3_600_000;

fn token(token: &str, client_id: Option<&str>) -> TokenDetails {
    {
        let mut d = TokenDetails::from_token(token);
        d.expires = Some(now() + HOUR_MS);
        d.client_id = client_id.map(str::to_owned);
        d
    }
}

fn now() -> u64 {
    ably_auth::Clock::now_ms(&ably_auth::SystemClock)
}

fn with_token(
    client_id: Option<&str>,
    details: TokenDetails,
) -> ably_auth::Result<std::sync::Arc<Auth>> {
    common::new_auth(ClientOptions {
        auth: AuthOptions {
            token_details: Some(details),
            ..Default::default()
        },
        client_id: client_id.map(str::to_owned),
        ..Default::default()
    })
}

fn with_key(client_id: Option<&str>) -> std::sync::Arc<Auth> {
    let mut options = ClientOptions::from_key(KEY).unwrap();
    options.client_id = client_id.map(str::to_owned);
    common::new_auth(options).unwrap()
}

/// rest/unit/RSA7a/clientid-from-options-0
#[test]
fn rsa7a_clientid_from_options_0() {
    assert_eq!(
        with_key(Some("my-client-id")).client_id().as_deref(),
        Some("my-client-id")
    );
}

/// rest/unit/RSA7b/clientid-from-token-details-0
#[test]
fn rsa7b_clientid_from_token_details_0() {
    let auth = with_token(None, token("token-with-clientId", Some("token-client-id"))).unwrap();
    assert_eq!(auth.client_id().as_deref(), Some("token-client-id"));
    assert!(auth.uses_token_auth());
}

/// rest/unit/RSA7c/clientid-null-unidentified-0
#[test]
fn rsa7c_clientid_null_unidentified_0() {
    assert_eq!(with_key(None).client_id(), None);
}

/// rest/unit/RSA7c/clientid-null-unidentified-token-1
#[test]
fn rsa7c_clientid_null_unidentified_token_1() {
    let auth = with_token(None, token("token-without-clientId", None)).unwrap();
    assert_eq!(auth.client_id(), None);
}

/// rest/unit/RSA12/wildcard-clientid-0
#[test]
fn rsa12_wildcard_clientid_0() {
    let auth = with_token(None, token("wildcard-token", Some("*"))).unwrap();
    assert_eq!(auth.client_id().as_deref(), Some("*"));
}

/// rest/unit/RSA7/clientid-mismatch-error-1: the five cases of the table. The mismatch is
/// detected at construction (checklist §2.16 item 14).
#[test]
fn rsa7_clientid_mismatch_error_1() {
    // (options clientId, token clientId, Some(expected Auth#clientId) or None for an error)
    type Case = (
        Option<&'static str>,
        Option<&'static str>,
        Option<Option<&'static str>>,
    );
    let cases: [Case; 5] = [
        (Some("client-a"), Some("client-a"), Some(Some("client-a"))),
        (Some("client-a"), Some("client-b"), None),
        (Some("client-a"), None, Some(Some("client-a"))),
        (Some("client-a"), Some("*"), Some(Some("client-a"))),
        (None, Some("client-b"), Some(Some("client-b"))),
    ];
    for (options_id, token_id, expected) in cases {
        let result = with_token(options_id, token("t", token_id));
        match expected {
            Some(client_id) => assert_eq!(result.unwrap().client_id().as_deref(), client_id),
            None => {
                let e = result.unwrap_err();
                assert!(
                    e.message.contains("clientId") || e.message.contains("mismatch"),
                    "{e}"
                );
            }
        }
    }
}

/// rest/unit/RSA15a/token-clientid-must-match-0
#[test]
fn rsa15a_token_clientid_must_match_0() {
    let matching = with_token(
        Some("my-client"),
        token("matching-token", Some("my-client")),
    )
    .unwrap();
    assert_eq!(matching.client_id().as_deref(), Some("my-client"));
    let e = with_token(
        Some("my-client"),
        token("mismatched-token", Some("other-client")),
    )
    .unwrap_err();
    assert_eq!(e.code, 40102);
}

/// rest/unit/RSA15b/wildcard-token-permits-any-0
#[test]
fn rsa15b_wildcard_token_permits_any_0() {
    let auth = with_token(Some("any-client"), token("wildcard-token", Some("*"))).unwrap();
    assert_eq!(auth.client_id().as_deref(), Some("any-client"));
}

/// rest/unit/RSA15c/incompatible-clientid-error-0 (REST case): 40102, status 401.
#[test]
fn rsa15c_incompatible_clientid_error_0() {
    let e = with_token(Some("a"), token("t", Some("b"))).unwrap_err();
    assert_eq!((e.code, e.status_code), (40102, 401));
}

/// RSA7c (checklist §2.16 item 12, no UTS case): `*` and "" are not valid options clientIds.
#[test]
fn rsa7c_wildcard_and_empty_options_client_id_rejected() {
    for bad in ["*", ""] {
        let mut options = ClientOptions::from_key(KEY).unwrap();
        options.client_id = Some(bad.into());
        let e = common::new_auth(options).unwrap_err();
        assert_eq!((e.code, e.status_code), (40012, 400), "{bad:?}");
    }
}

/// RSA7d / RSA7a4: the options' clientId goes into every TokenRequest and wins over
/// defaultTokenParams; explicit params naming a clientId win over both.
#[test]
fn rsa7d_options_client_id_in_token_requests() {
    let mut options = ClientOptions::from_key(KEY).unwrap();
    options.client_id = Some("from-options".into());
    options.default_token_params = Some(TokenParams {
        client_id: Some("from-defaults".into()),
        ..Default::default()
    });
    let auth = common::new_auth(options).unwrap();
    let r = auth.create_token_request(None, None).unwrap();
    assert_eq!(r.client_id.as_deref(), Some("from-options"));
    let r = auth
        .create_token_request(
            Some(&TokenParams {
                ttl: Some(1000),
                ..Default::default()
            }),
            None,
        )
        .unwrap();
    assert_eq!(r.client_id.as_deref(), Some("from-options"));
    let explicit = TokenParams {
        client_id: Some("*".into()),
        ..Default::default()
    };
    assert_eq!(
        auth.create_token_request(Some(&explicit), None)
            .unwrap()
            .client_id
            .as_deref(),
        Some("*")
    );
}

fn channel_status(auth: &Auth) -> ably_auth::Result<ably_auth::HttpResponse> {
    auth.request(Method::Get, "/channels/test", &[], &[], None)
        .and_then(ably_auth::HttpResponse::error_for_status)
}

/// Options for `server` whose token comes from `callback`.
fn callback_options(
    server: &LoopbackServer,
    callback: impl Fn(&TokenParams) -> ably_auth::Result<TokenMaterial> + Send + Sync + 'static,
) -> ClientOptions {
    let mut options = common::options_for(server);
    options.auth.auth_callback = Some(auth_callback_fn(callback));
    options
}

fn minted_for(server: &LoopbackServer, client_id: Option<&str>) -> TokenDetails {
    common::minted(
        server,
        MintSpec {
            client_id: client_id.map(str::to_owned),
            ..Default::default()
        },
    )
}

/// rest/unit/RSA7b/clientid-from-callback-token-1
#[test]
fn rsa7b_clientid_from_callback_token_1() {
    let server = common::http_server();
    let token = minted_for(&server, Some("callback-client-id"));
    let auth = common::new_auth(callback_options(&server, move |_| {
        Ok(TokenMaterial::Details(token.clone()))
    }))
    .unwrap();
    assert_eq!(auth.client_id(), None, "no token yet");

    assert_eq!(channel_status(&auth).unwrap().status, 200);

    assert_eq!(auth.client_id().as_deref(), Some("callback-client-id"));
}

/// rest/unit/RSA12a/clientid-passed-to-callback-0
#[test]
fn rsa12a_clientid_passed_to_callback_0() {
    let server = common::http_server();
    let token = minted_for(&server, Some("library-client-id"));
    let received: Arc<Mutex<Vec<TokenParams>>> = Arc::default();
    let r = received.clone();
    let mut options = callback_options(&server, move |params| {
        r.lock().unwrap().push(params.clone());
        Ok(TokenMaterial::Details(token.clone()))
    });
    options.client_id = Some("library-client-id".into());
    let auth = common::new_auth(options).unwrap();

    assert_eq!(channel_status(&auth).unwrap().status, 200);

    let received = received.lock().unwrap();
    assert!(!received.is_empty());
    assert_eq!(received[0].client_id.as_deref(), Some("library-client-id"));
}

/// rest/unit/RSA12b/clientid-sent-to-authurl-0, both branches of the UTS: a query parameter
/// for GET and a form field for POST. The UTS host `auth.example.com` is resolved to the
/// loopback server; its `/token` answers with a server-minted TokenDetails.
#[test]
fn rsa12b_clientid_sent_to_authurl_0() {
    for method in [Method::Get, Method::Post] {
        let server = common::http_server();
        server.push_rule(common::Rule::always(
            "/token",
            common::Action::Respond {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: server
                    .mint_token(MintSpec {
                        client_id: Some("url-client-id".into()),
                        ..Default::default()
                    })
                    .json
                    .into_bytes(),
            },
        ));
        let mut options = common::options_for(&server);
        common::resolve_to_server(&mut options, "auth.example.com", &server);
        options.auth.auth_url = Some(format!("http://auth.example.com:{}/token", server.port()));
        options.auth.auth_method = Some(method);
        options.client_id = Some("url-client-id".into());
        let auth = common::new_auth(options).unwrap();

        assert_eq!(channel_status(&auth).unwrap().status, 200);

        let auth_request = &server.requests()[0];
        assert!(
            auth_request
                .header("host")
                .unwrap()
                .starts_with("auth.example.com"),
            "{auth_request:?}"
        );
        assert_eq!(auth_request.method, method.as_str());
        let client_id = if method == Method::Get {
            auth_request.query_param("clientId").map(str::to_owned)
        } else {
            auth_request
                .form()
                .into_iter()
                .find(|(k, _)| k == "clientId")
                .map(|(_, v)| v)
        };
        assert_eq!(client_id.as_deref(), Some("url-client-id"), "{method:?}");
    }
}

/// rest/unit/RSA7/clientid-updated-after-authorize-0
#[test]
fn rsa7_clientid_updated_after_authorize_0() {
    let server = common::http_server();
    let tokens = Arc::new(Mutex::new(vec![
        minted_for(&server, Some("client-2")),
        minted_for(&server, Some("client-1")),
    ]));
    let auth = common::new_auth(callback_options(&server, move |_| {
        Ok(TokenMaterial::Details(
            tokens.lock().unwrap().pop().unwrap(),
        ))
    }))
    .unwrap();

    assert_eq!(channel_status(&auth).unwrap().status, 200);
    assert_eq!(auth.client_id().as_deref(), Some("client-1"));

    auth.authorize(None, None).unwrap();
    assert_eq!(auth.client_id().as_deref(), Some("client-2"));
    assert_eq!(channel_status(&auth).unwrap().status, 200);
}

/// RSA15c (no UTS case): a token obtained later (here from the authCallback) is checked
/// against the options' clientId too, not only a token given at construction → 40102.
#[test]
fn rsa15c_callback_token_with_other_client_id_rejected() {
    let server = common::http_server();
    let token = minted_for(&server, Some("someone-else"));
    let mut options = callback_options(&server, move |_| Ok(TokenMaterial::Details(token.clone())));
    options.client_id = Some("my-client".into());
    let auth = common::new_auth(options).unwrap();

    let error = channel_status(&auth).unwrap_err();

    assert_eq!(error.code, 40102, "{error}");
    assert!(auth.token_details().is_none());
    assert!(server.requests().is_empty(), "the token was never used");
}
