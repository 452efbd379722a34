//! UTS `rest/unit/time.md` (RSC16), over real sockets against the loopback server.
//!
//! The UTS mock answers every request; here the loopback server's real `/time` answers
//! `[server ms]`, and a rule replaces the body where the UTS needs an exact value. All five
//! cases are ported.

mod common;
use common::*;

const SERVER_TIME_MS: u64 = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC

fn fixed_time(server: &LoopbackServer) {
    server.push_rule(Rule::once(
        "/time",
        Action::Json {
            status: 200,
            body: format!("[{SERVER_TIME_MS}]"),
        },
    ));
}

/// rest/unit/RSC16/returns-server-time-0
///
/// The UTS builds the client from a key alone (TLS on), so this runs against the HTTPS server.
#[test]
fn rsc16_returns_server_time_0() {
    let server = tls_server();
    fixed_time(&server);
    let auth = common::new_auth(key_options(&server)).unwrap();
    assert_eq!(auth.time().unwrap(), SERVER_TIME_MS);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/time");
}

/// rest/unit/RSC16/returns-server-time-0 (the real endpoint: no canned body)
#[test]
fn rsc16_returns_server_time_0_real_server() {
    let server = tls_server();
    let auth = common::new_auth(key_options(&server)).unwrap();
    server.set_clock_skew_ms(-3_600_000);
    let before = server.now_ms() as u64;
    let time = auth.time().unwrap();
    let after = server.now_ms() as u64;
    assert!(
        (before..=after).contains(&time),
        "{before} <= {time} <= {after}"
    );
}

/// rest/unit/RSC16/request-format-get-time-1
#[test]
fn rsc16_request_format_get_time_1() {
    let server = tls_server();
    fixed_time(&server);
    let auth = common::new_auth(key_options(&server)).unwrap();
    auth.time().unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/time");
    let version = request.header("X-Ably-Version").expect("X-Ably-Version");
    assert!(!version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.'));
    let agent = request.header("Ably-Agent").expect("Ably-Agent");
    assert!(agent.starts_with("ably-"), "{agent}");
}

/// rest/unit/RSC16/no-auth-required-2
#[test]
fn rsc16_no_auth_required_2() {
    let server = tls_server();
    fixed_time(&server);
    let auth = common::new_auth(key_options(&server)).unwrap();
    assert!(!auth.uses_token_auth(), "the client has Basic credentials");
    assert_eq!(auth.time().unwrap(), SERVER_TIME_MS);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("Authorization"), None);
}

/// rest/unit/RSC16/works-without-tls-3
#[test]
fn rsc16_works_without_tls_3() {
    let server = http_server();
    fixed_time(&server);
    let auth = token_auth_with_key(&server); // key + useTokenAuth, tls false
    assert_eq!(auth.time().unwrap(), SERVER_TIME_MS);
    let requests = server.requests();
    // One request, to the plain-HTTP server (so the scheme was http), no credentials and no
    // token fetched for it.
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/time");
    assert_eq!(requests[0].header("Authorization"), None);
    assert_eq!(server.tokens_issued(), 0);
}

/// rest/unit/RSC16/error-propagated-4
///
/// The endpoint is an explicit host (127.0.0.1), so the 500 is not retried on a fallback.
#[test]
fn rsc16_error_propagated_4() {
    let server = tls_server();
    server.push_rule(Rule::once(
        "/time",
        Action::AblyError {
            status: 500,
            code: 50000,
            message: "Internal server error".into(),
        },
    ));
    let auth = common::new_auth(key_options(&server)).unwrap();
    let error = auth.time().unwrap_err();
    assert_eq!(error.status_code, 500);
    assert_eq!(error.code, 50000);
    assert_eq!(server.requests().len(), 1);
}

/// rest/unit/RSC16 (DESIGN §4 item 3): `{"time": ms}` is accepted as well as `[ms]`.
#[test]
fn rsc16_object_time_body_accepted() {
    let server = http_server();
    server.push_rule(Rule::once(
        "/time",
        Action::Json {
            status: 200,
            body: format!("{{\"time\":{SERVER_TIME_MS}}}"),
        },
    ));
    let auth = token_auth_with_key(&server);
    assert_eq!(auth.time().unwrap(), SERVER_TIME_MS);
}
