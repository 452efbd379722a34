//! Each fault the loopback server can inject, on the requestToken exchange and on the authUrl,
//! maps to one specific ErrorInfo, reported without waiting for the request timeout (quick
//! faults) or after waiting for it (slow faults).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ably_auth::{Auth, ErrorInfo, Method, TokenParams};
use common::*;

/// The request timeout for the quick faults: far longer than any scheduling delay, so a
/// fault reported in under a quarter of it did not wait for it.
const LONG_TIMEOUT: Duration = Duration::from_secs(60);
/// The request timeout for the slow faults, which the server's delay outlasts by far.
const SHORT_TIMEOUT: Duration = Duration::from_millis(600);
/// The slow faults' delay: the server answers long after the short timeout (and after the
/// hang guard), so a 50003 proves the timeout cut the request short.
const SLOW_MS: u64 = 120_000;
/// A hang guard, not a speed target.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// How long a case may take.
#[derive(Clone, Copy, Debug)]
enum Within {
    /// Reported without waiting for the (long) request timeout.
    Quick,
    /// Reported after waiting for the (short) request timeout.
    Timeout,
}

struct Case {
    name: &'static str,
    action: Action,
    code: u32,
    status: u16,
    within: Within,
}

fn cases() -> Vec<Case> {
    let quick = Within::Quick;
    let timed = Within::Timeout;
    vec![
        Case {
            name: "HTTP 500 with an Ably error body",
            action: Action::AblyError {
                status: 500,
                code: 50000,
                message: "boom".into(),
            },
            code: 50000,
            status: 500,
            within: quick,
        },
        Case {
            name: "HTTP 503 with a non-JSON body",
            action: Action::Respond {
                status: 503,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: b"<html>down</html>".to_vec(),
            },
            code: 50000, // Ably's generic 5xx code; the status stays 503
            status: 503,
            within: quick,
        },
        Case {
            name: "HTTP 401 with 40101",
            action: Action::AblyError {
                status: 401,
                code: 40101,
                message: "bad key".into(),
            },
            code: 40101,
            status: 401,
            within: quick,
        },
        Case {
            name: "HTTP 400 with 40003",
            action: Action::AblyError {
                status: 400,
                code: 40003,
                message: "bad ttl".into(),
            },
            code: 40003,
            status: 400,
            within: quick,
        },
        Case {
            name: "malformed JSON",
            action: Action::MalformedJson,
            code: 50000,
            status: 500,
            within: quick,
        },
        Case {
            name: "wrong content type",
            action: Action::WrongContentType,
            code: 50000,
            status: 500,
            within: quick,
        },
        Case {
            name: "oversized body (200 KiB)",
            action: Action::Oversized { bytes: 200 * 1024 },
            code: 50000,
            status: 500,
            within: quick,
        },
        Case {
            name: "slow headers (120 s)",
            action: Action::SlowHeaders {
                delay_ms: SLOW_MS,
                then: Box::new(Action::Pass),
            },
            code: 50003,
            status: 0,
            within: timed,
        },
        Case {
            name: "slow body (120 s)",
            action: Action::SlowBody { delay_ms: SLOW_MS },
            code: 50003,
            status: 0,
            within: timed,
        },
        Case {
            name: "dropped connection",
            action: Action::Drop,
            code: 80000,
            status: 0,
            within: quick,
        },
    ]
}

fn check(
    case: &Case,
    started: Instant,
    result: Result<impl std::fmt::Debug, ErrorInfo>,
    expect: (u32, u16),
) {
    let elapsed = started.elapsed();
    let error = result.expect_err(case.name);
    assert_eq!(
        (error.code, error.status_code),
        expect,
        "{}: {error}",
        case.name
    );
    match case.within {
        // A quarter of the 60 s timeout: a fault that waited for the timeout cannot pass.
        Within::Quick => assert!(
            elapsed < LONG_TIMEOUT / 4,
            "{}: took {elapsed:?}, waited for the {LONG_TIMEOUT:?} request timeout",
            case.name
        ),
        // The request timeout was awaited; the 50003 above proves it ended the request
        // before the server's answer. The upper bound is only a hang guard.
        Within::Timeout => {
            assert!(
                elapsed >= SHORT_TIMEOUT.mul_f64(0.9),
                "{}: took {elapsed:?}, before the {SHORT_TIMEOUT:?} request timeout",
                case.name
            );
            assert!(
                elapsed < HANG_GUARD,
                "{}: hang guard: took {elapsed:?}",
                case.name
            );
        }
    }
}

/// Two Auths from the same options: one with the long request timeout (for the quick
/// faults), one with the short one (for the slow faults).
struct Auths {
    quick: Arc<Auth>,
    timed: Arc<Auth>,
}

impl Auths {
    fn new(options: &ably_auth::ClientOptions) -> Self {
        let with = |timeout| {
            let mut options = options.clone();
            options.transport.request_timeout = timeout;
            common::new_auth(options).unwrap()
        };
        Auths {
            quick: with(LONG_TIMEOUT),
            timed: with(SHORT_TIMEOUT),
        }
    }

    fn for_case(&self, case: &Case) -> &Auth {
        match case.within {
            Within::Quick => &self.quick,
            Within::Timeout => &self.timed,
        }
    }
}

/// Faults on `POST /keys/{keyName}/requestToken`: the server's error is passed on; a body
/// that is not a TokenDetails is 50000; timeouts are 50003; a dropped connection is 80000.
#[test]
fn faults_on_request_token_map_to_error_infos() {
    let server = http_server();
    let mut options = key_options(&server);
    options.auth.use_token_auth = Some(true);
    let auths = Auths::new(&options);
    for case in cases() {
        server.clear_rules();
        server.push_rule(Rule::once("/keys/", case.action.clone()));
        let auth = auths.for_case(&case);
        let started = Instant::now();
        check(
            &case,
            started,
            auth.request_token(None, None),
            (case.code, case.status),
        );
    }
    server.clear_rules();
    for auth in [&auths.quick, &auths.timed] {
        assert!(
            auth.request_token(None, None).is_ok(),
            "healthy again without rules"
        );
    }
}

/// The same faults on the authUrl are all 40170/401 (RSA4e), the original error kept as the
/// cause where there is one; an authUrl 403 is 40300/403.
#[test]
fn faults_on_auth_url_are_40170_with_cause() {
    let server = http_server();
    let mut options = options_for(&server);
    options.auth.auth_url = Some(format!("{}/auth/token", server.base_url()));
    let auths = Auths::new(&options);
    for case in cases() {
        server.clear_rules();
        server.push_rule(Rule::once("/auth/", case.action.clone()));
        let auth = auths.for_case(&case);
        let started = Instant::now();
        let result = auth.request_token(None, None);
        let error = result.as_ref().err().cloned();
        check(&case, started, result, (40170, 401));
        let error = error.unwrap();
        assert!(
            error.message.contains("auth"),
            "{}: {}",
            case.name,
            error.message
        );
        // A body the library cannot read is the 40170 itself; HTTP and transport failures
        // keep the underlying ErrorInfo as the cause.
        let unreadable = matches!(
            case.action,
            Action::MalformedJson | Action::WrongContentType | Action::Oversized { .. }
        );
        if !unreadable {
            let cause = error
                .cause
                .as_ref()
                .unwrap_or_else(|| panic!("{}: a cause", case.name));
            assert_eq!(cause.code, case.code, "{}: cause {cause}", case.name);
        }
    }
    server.clear_rules();
    server.push_rule(Rule::once(
        "/auth/",
        Action::AblyError {
            status: 403,
            code: 0,
            message: "forbidden".into(),
        },
    ));
    let error = auths.quick.request_token(None, None).unwrap_err();
    assert_eq!((error.code, error.status_code), (40300, 403));
    server.clear_rules();
    for auth in [&auths.quick, &auths.timed] {
        assert!(auth.request_token(None, None).is_ok());
    }
}

/// A server whose certificate the client does not trust: 80000, no token, no hang.
#[test]
fn untrusted_certificate_is_a_connection_error() {
    let server = tls_server();
    let mut options = key_options(&server);
    options.transport.extra_ca_pem.clear();
    options.auth.use_token_auth = Some(true);
    // Timeouts far longer than any scheduling delay: failing in under half of them is
    // failing at the handshake, not at a timeout.
    options.transport.open_timeout = LONG_TIMEOUT;
    options.transport.request_timeout = LONG_TIMEOUT;
    let auth = common::new_auth(options).unwrap();
    let started = Instant::now();
    let error = auth.request_token(None, None).unwrap_err();
    assert_eq!((error.code, error.status_code), (80000, 0), "{error}");
    assert!(
        started.elapsed() < LONG_TIMEOUT / 2,
        "hang guard: {:?}, not at the handshake",
        started.elapsed()
    );
    assert_eq!(server.tokens_issued(), 0);
    // The message says how to trust the server's CA (issue 15, item 5).
    let origin = format!("https://127.0.0.1:{}", server.port());
    for hint in [
        "UnknownIssuer",
        &origin,
        "ably_auth_options_add_ca_pem",
        "platform_verifier",
    ] {
        assert!(error.message.contains(hint), "{hint:?} in {error}");
    }
}

/// A refused connection: 80000 with status 0 (no HTTP status applies), and a message naming
/// the scheme, host and port that refused.
#[test]
fn refused_connection_names_scheme_host_and_port() {
    let server = http_server();
    let mut options = options_for(&server);
    let port = unused_port();
    options.endpoint.port = port;
    options.auth.token = Some("t".into());
    let error = common::new_auth(options).unwrap().time().unwrap_err();
    assert_eq!((error.code, error.status_code), (80000, 0), "{error}");
    let origin = format!("http://127.0.0.1:{port}");
    assert!(
        error
            .message
            .contains(&format!("connection refused by {origin}")),
        "{error}"
    );
}

/// How many requests `server` received for TokenRequest exchanges and for `/time`.
fn exchanges_and_time_reads(server: &LoopbackServer) -> (usize, usize) {
    let requests = server.requests();
    let exchanges = requests
        .iter()
        .filter(|r| r.path.ends_with("/requestToken"))
        .count();
    let time_reads = requests.iter().filter(|r| r.path == "/time").count();
    (exchanges, time_reads)
}

/// A client clock an hour off: the server answers 40104; the library reads `/time`, learns
/// the offset and retries once, successfully.
#[test]
fn clock_skew_recovers_through_time() {
    let server = http_server();
    server.set_clock_skew_ms(3_600_000);
    let auth = token_auth_with_key(&server);
    let details = auth
        .request_token(None, None)
        .expect("recovered from 40104");
    assert!(details.token.starts_with("lbtk-"));
    assert_eq!(exchanges_and_time_reads(&server), (2, 1));
    let offset = auth.server_time_offset().expect("offset learnt");
    assert!((offset - 3_600_000).abs() < 5_000, "offset {offset}");
    // Later requests use the offset at once: no further 40104.
    auth.request(Method::Get, "/channels/skew", &[], &[], None)
        .and_then(ably_auth::HttpResponse::error_for_status)
        .unwrap();
    assert_eq!(exchanges_and_time_reads(&server).1, 1);
}

/// A 40104 is retried only when the library chose the timestamp: with the caller's own
/// (stale) timestamp a re-signed request would carry the same timestamp and be refused again,
/// so the server's 40104 comes back after one request and no `/time` read.
#[test]
fn caller_timestamp_40104_is_not_retried() {
    let server = http_server();
    let auth = token_auth_with_key(&server);
    let stale = TokenParams {
        timestamp: Some(auth.clock().now_ms() - 3_600_000),
        ..TokenParams::default()
    };
    let error = auth.request_token(Some(&stale), None).unwrap_err();
    assert_eq!((error.code, error.status_code), (40104, 401), "{error}");
    assert_eq!(
        exchanges_and_time_reads(&server),
        (1, 0),
        "one request, no /time"
    );
    assert_eq!(server.tokens_issued(), 0);
}

/// Nor is a TokenRequest an authCallback handed over retried with the library's own key
/// (the key may differ from the one that signed it, and the callback chose the timestamp).
#[test]
fn callback_token_request_40104_is_not_resigned() {
    let server = http_server();
    let signer = token_auth_with_key(&server);
    let stale = signer
        .create_token_request(
            Some(&TokenParams {
                timestamp: Some(signer.clock().now_ms() - 3_600_000),
                ..TokenParams::default()
            }),
            None,
        )
        .unwrap();
    let mut options = key_options(&server);
    options.auth.auth_callback = Some(ably_auth::auth_callback_fn(move |_params| {
        Ok(ably_auth::TokenMaterial::Request(stale.clone()))
    }));
    let auth = Auth::new(options).unwrap();
    let error = auth.request_token(None, None).unwrap_err();
    assert_eq!(error.code, 40104, "{error}");
    assert_eq!(exchanges_and_time_reads(&server), (1, 0));
    assert_eq!(server.tokens_issued(), 0);
}
