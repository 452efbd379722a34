//! authUrl redirects (issue 11): followed as browsers follow them, a bounded number of
//! times, never from https to http, with the caller's authHeaders kept to the authUrl's own
//! origin. Against the loopback server, whose rules answer the redirects.

mod common;

use ably_auth::Method;
use ably_auth::core::error::codes;
use common::*;

fn redirect(status: u16, location: &str) -> Action {
    Action::Respond {
        status,
        headers: vec![("Location".into(), location.into())],
        body: Vec::new(),
    }
}

fn auth_url_options(
    server: &LoopbackServer,
    path: &str,
    method: Method,
) -> ably_auth::ClientOptions {
    let mut options = options_for(server);
    options.auth.auth_url = Some(format!("{}{path}", server.base_url()));
    options.auth.auth_method = Some(method);
    options.auth.auth_headers = vec![("X-Game-Secret".into(), "s3cret".into())];
    options
}

#[test]
fn redirects_are_followed_to_the_token_request() {
    let server = http_server();
    server.push_rule(Rule::always("/old", redirect(301, "/moved")));
    server.push_rule(Rule::always("/moved", redirect(307, "/auth/token-request")));
    let auth = common::new_auth(auth_url_options(&server, "/old", Method::Get)).unwrap();
    let details = auth
        .authorize(None, None)
        .expect("token through two redirects");
    assert!(details.token.starts_with("lbtk-"));
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths[..3],
        ["/old", "/moved", "/auth/token-request"],
        "{paths:?}"
    );
    let last = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/auth/token-request")
        .unwrap();
    assert_eq!(
        last.header("x-game-secret"),
        Some("s3cret"),
        "same origin keeps authHeaders"
    );
}

#[test]
fn see_other_turns_a_post_into_a_get() {
    let server = http_server();
    server.push_rule(Rule::always(
        "/post-here",
        redirect(303, "/auth/token-request"),
    ));
    let auth = common::new_auth(auth_url_options(&server, "/post-here", Method::Post)).unwrap();
    auth.authorize(None, None).expect("token after 303");
    let methods: Vec<(String, String)> = server
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(methods[0], ("POST".into(), "/post-here".into()));
    assert_eq!(methods[1], ("GET".into(), "/auth/token-request".into()));
}

#[test]
fn redirect_loops_end_with_40170() {
    let server = http_server();
    server.push_rule(Rule::always("/loop", redirect(302, "/loop")));
    let auth = common::new_auth(auth_url_options(&server, "/loop", Method::Get)).unwrap();
    let error = auth.authorize(None, None).unwrap_err();
    assert_eq!(
        (error.code, error.status_code),
        (codes::AUTH_CALLBACK_FAILED, 401)
    );
    assert!(error.message.contains("more than 5"), "{error}");
    assert_eq!(
        requests_to(&server, "/loop").len(),
        6,
        "the first request and 5 redirects"
    );
}

#[test]
fn a_redirect_without_location_says_so() {
    let server = http_server();
    server.push_rule(Rule::always(
        "/nowhere",
        Action::Respond {
            status: 302,
            headers: Vec::new(),
            body: Vec::new(),
        },
    ));
    let auth = common::new_auth(auth_url_options(&server, "/nowhere", Method::Get)).unwrap();
    let error = auth.authorize(None, None).unwrap_err();
    assert_eq!(error.code, codes::AUTH_CALLBACK_FAILED);
    assert!(error.message.contains("without a Location"), "{error}");
}

#[test]
fn https_to_http_is_refused_and_other_origins_get_no_auth_headers() {
    let tls = tls_server();
    let plain = http_server();
    tls.push_rule(Rule::always(
        "/down",
        redirect(302, &format!("{}/auth/token-request", plain.base_url())),
    ));
    let auth = common::new_auth(auth_url_options(&tls, "/down", Method::Get)).unwrap();
    let error = auth.authorize(None, None).unwrap_err();
    assert!(error.message.contains("https to http"), "{error}");
    assert!(plain.requests().is_empty(), "nothing sent over http");

    let other = http_server();
    plain.push_rule(Rule::always(
        "/away",
        redirect(302, &format!("{}/auth/token-request", other.base_url())),
    ));
    let auth = common::new_auth(auth_url_options(&plain, "/away", Method::Get)).unwrap();
    auth.authorize(None, None)
        .expect("token from the other origin");
    let request = other
        .requests()
        .into_iter()
        .find(|r| r.path == "/auth/token-request")
        .unwrap();
    assert_eq!(
        request.header("x-game-secret"),
        None,
        "authHeaders stay with their origin"
    );
}
