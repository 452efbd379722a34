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

// ----- issue 20 item 8: the authUrl and its redirects against a hostile authUrl server -----

use std::sync::{Arc, Mutex};

/// Every log line of an Auth, at every level.
fn capture_logs(options: &mut ably_auth::ClientOptions) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    options.logger = Some(ably_auth::Logger {
        level: ably_auth::LogLevel::Verbose,
        sink: Arc::new(move |_, line: &str| sink.lock().unwrap().push(line.to_owned())),
    });
    lines
}

/// The message of `error` and of its causes, in one string.
fn all_messages(error: &ably_auth::ErrorInfo) -> String {
    let mut text = error.message.clone();
    let mut cause = error.cause.as_deref();
    while let Some(c) = cause {
        text.push_str(" | ");
        text.push_str(&c.message);
        cause = c.cause.as_deref();
    }
    text
}

#[test]
fn auth_urls_with_a_port_out_of_range_are_refused_at_construction() {
    let server = http_server();
    for (port, what) in [
        ("99999", "out of range"),
        ("65536", "out of range"),
        ("0", "port 0"),
    ] {
        let mut options = options_for(&server);
        options.auth.auth_url = Some(format!("http://127.0.0.1:{port}/auth/token-request"));
        let error = common::new_auth(options).unwrap_err();
        assert_eq!(
            error.code,
            codes::INVALID_PARAMETER_VALUE,
            "{port}: {error}"
        );
        assert!(error.message.contains(what), "{port}: {error}");
    }
    for bad in [
        "ftp://127.0.0.1/t",
        "javascript:alert(1)",
        "/relative",
        "http://127.0.0.1:8o/t",
    ] {
        let mut options = options_for(&server);
        options.auth.auth_url = Some(bad.into());
        assert_eq!(
            common::new_auth(options).unwrap_err().code,
            codes::INVALID_PARAMETER_VALUE,
            "{bad}"
        );
    }
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[test]
fn a_location_with_a_port_out_of_range_is_refused_and_quoted_without_its_query() {
    let server = http_server();
    for port in ["99999", "65536", "0"] {
        server.clear_rules();
        server.clear_requests();
        server.push_rule(Rule::always(
            "/hostile",
            redirect(
                302,
                &format!("http://127.0.0.1:{port}/auth/token-request?echo=authParam-s3cret"),
            ),
        ));
        let mut options = auth_url_options(&server, "/hostile", Method::Get);
        let lines = capture_logs(&mut options);
        let auth = common::new_auth(options).unwrap();
        let error = auth.authorize(None, None).unwrap_err();
        assert_eq!(
            (error.code, error.status_code),
            (codes::AUTH_CALLBACK_FAILED, 401)
        );
        let text = all_messages(&error);
        assert!(text.contains("port"), "{port}: {text}");
        assert!(
            text.contains(&format!("127.0.0.1:{port}/auth/token-request")),
            "the Location is quoted: {text}"
        );
        assert!(!text.contains("s3cret"), "without its query: {text}");
        let lines = lines.lock().unwrap().join("\n");
        assert!(!lines.contains("s3cret"), "nor in the log: {lines}");
        assert_eq!(
            server.requests().len(),
            1,
            "{port}: nothing went to another port"
        );
    }
}

#[test]
fn locations_of_other_schemes_are_refused_never_requested_as_paths() {
    let server = http_server();
    for (location, scheme) in [
        ("data:text/plain,lbtk-token", "data:"),
        ("javascript:alert(document.cookie)", "javascript:"),
        ("mailto:ops@example.com?body=s3cret", "mailto:"),
        ("about:blank", "about:"),
        ("file:///etc/passwd", "file:"),
        ("ftp://127.0.0.1/auth/token-request", "ftp:"),
    ] {
        server.clear_rules();
        server.clear_requests();
        server.push_rule(Rule::always("/hostile", redirect(302, location)));
        let auth = common::new_auth(auth_url_options(&server, "/hostile", Method::Get)).unwrap();
        let error = auth.authorize(None, None).unwrap_err();
        assert_eq!(error.code, codes::AUTH_CALLBACK_FAILED, "{location}");
        let text = all_messages(&error);
        assert!(text.contains(scheme), "{location}: {text}");
        assert!(
            !text.contains("cookie") && !text.contains("s3cret") && !text.contains("passwd"),
            "only the scheme is quoted: {text}"
        );
        let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            paths,
            ["/hostile"],
            "{location} was not requested: {paths:?}"
        );
    }
}

#[test]
fn a_relative_location_with_a_url_in_its_query_is_followed() {
    let server = http_server();
    server.push_rule(Rule::always(
        "/login",
        redirect(
            302,
            "/auth/token-request?next=https://evil.example/steal&x=1",
        ),
    ));
    let auth = common::new_auth(auth_url_options(&server, "/login", Method::Get)).unwrap();
    let details = auth.authorize(None, None).expect("followed as browsers do");
    assert!(details.token.starts_with("lbtk-"));
    let followed = requests_to(&server, "/auth/token-request");
    assert_eq!(followed.len(), 1);
    assert_eq!(
        followed[0].query_param("next"),
        Some("https://evil.example/steal")
    );
    assert_eq!(
        followed[0].header("x-game-secret"),
        Some("s3cret"),
        "same origin: the authHeaders go along"
    );
}

#[test]
fn a_backslash_location_is_another_origin_as_in_browsers() {
    let first = http_server();
    let other = http_server();
    // Browsers read `/\host` as `//host`: another origin, so no authHeaders go there.
    first.push_rule(Rule::always(
        "/slash",
        redirect(
            302,
            &format!("/\\127.0.0.1:{}/auth/token-request", other.port()),
        ),
    ));
    let auth = common::new_auth(auth_url_options(&first, "/slash", Method::Get)).unwrap();
    auth.authorize(None, None)
        .expect("a token from the other origin");
    let request = requests_to(&other, "/auth/token-request")
        .pop()
        .expect("the other server was asked");
    assert_eq!(request.header("x-game-secret"), None);
    assert!(requests_to(&first, "/127.0.0.1").is_empty());
}

#[test]
fn one_deadline_covers_the_whole_redirect_chain() {
    // Five hops of 1.2 s each: every hop is well within the 3 s request timeout, the chain
    // is not. Before, each hop got a whole request timeout and the token came after 6 s,
    // past the fetch deadline of docs/lifecycle.md.
    let server = http_server();
    for hop in 1..=5 {
        let next = if hop == 5 {
            "/auth/token-request".to_owned()
        } else {
            format!("/hop{}", hop + 1)
        };
        server.push_rule(Rule::always(
            &format!("/hop{hop}"),
            Action::SlowHeaders {
                delay_ms: 1_200,
                then: Box::new(redirect(302, &next)),
            },
        ));
    }
    let auth = common::new_auth(auth_url_options(&server, "/hop1", Method::Get)).unwrap();
    let error = auth.authorize(None, None).unwrap_err();
    assert_eq!(error.code, codes::AUTH_CALLBACK_FAILED, "{error}");
    let text = all_messages(&error);
    assert!(
        text.contains("timed out") || text.contains("request timeout"),
        "{text}"
    );
    assert!(
        requests_to(&server, "/auth/token-request").is_empty(),
        "the chain ended before its last hop"
    );
    assert!(
        requests_to(&server, "/hop").len() <= 3,
        "at most 3 hops fit in 3 s: {:?}",
        requests_to(&server, "/hop").len()
    );
}

#[test]
fn a_password_in_the_auth_url_never_reaches_a_log_line_or_an_error() {
    let server = http_server();
    server.push_rule(Rule::always(
        "/fails",
        Action::AblyError {
            status: 500,
            code: 50000,
            message: "down".into(),
        },
    ));
    for path in ["/auth/token-request", "/fails"] {
        let mut options = options_for(&server);
        options.auth.auth_url = Some(format!(
            "http://game:hunter2-pw@127.0.0.1:{}{path}?apiSecret=q-s3cret",
            server.port()
        ));
        let lines = capture_logs(&mut options);
        let auth = common::new_auth(options).unwrap();
        let outcome = auth.authorize(None, None);
        let mut text = lines.lock().unwrap().join("\n");
        if let Err(error) = &outcome {
            text.push_str(&all_messages(error));
            text.push_str(&format!("{error:?}"));
        }
        assert!(
            text.contains(&format!("127.0.0.1:{}{path}", server.port())),
            "{path}: the URL is named: {text}"
        );
        assert!(!text.contains("hunter2-pw"), "{path}: {text}");
        assert!(!text.contains("q-s3cret"), "{path}: {text}");
        assert!(!text.contains("game:"), "{path}: {text}");
        assert_eq!(
            outcome.is_ok(),
            path == "/auth/token-request",
            "{outcome:?}"
        );
    }
}

#[test]
fn a_307_carries_the_body_with_auth_params_to_another_origin_but_not_auth_headers() {
    // As in browsers (README): 307/308 keep the method and the body, whatever the origin.
    let first = http_server();
    let other = http_server();
    first.push_rule(Rule::always(
        "/moved",
        redirect(307, &format!("{}/auth/token-request", other.base_url())),
    ));
    let mut options = auth_url_options(&first, "/moved", Method::Post);
    options.auth.auth_params = vec![("game".into(), "chess".into())];
    let auth = common::new_auth(options).unwrap();
    auth.authorize(None, None)
        .expect("a token from the other origin");
    let request = requests_to(&other, "/auth/token-request")
        .pop()
        .expect("the other origin was asked");
    assert_eq!(request.method, "POST");
    assert!(
        request.form().contains(&("game".into(), "chess".into())),
        "{:?}",
        request.form()
    );
    assert_eq!(request.header("x-game-secret"), None);
}
