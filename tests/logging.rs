//! The log callback: RSA4a1's info line, and no secret (key secret, token, mac) in any line
//! or error message of the networked flows at the most verbose level.

mod common;

use std::sync::{Arc, Mutex};

use ably_auth::{AuthOptions, LogLevel, Logger, Method, TokenDetails};
use common::*;

type Lines = Arc<Mutex<Vec<(LogLevel, String)>>>;

fn collecting_logger(level: LogLevel) -> (Logger, Lines) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let logger = Logger {
        level,
        sink: Arc::new(move |level, line: &str| {
            sink.lock().unwrap().push((level, line.to_owned()))
        }),
    };
    (logger, lines)
}

/// RSA4a1: a token given with no means to renew it is reported at info level with 40171 and
/// its help URL; a level below info hears nothing.
#[test]
fn rsa4a1_no_means_to_renew_is_logged_at_info() {
    let server = http_server();
    for (level, expect_line) in [(LogLevel::Info, true), (LogLevel::Warn, false)] {
        let (logger, lines) = collecting_logger(level);
        let mut options = options_for(&server);
        options.auth.token = Some("static-token".into());
        options.logger = Some(logger);
        common::new_auth(options).unwrap();
        let lines = lines.lock().unwrap();
        let found = lines.iter().any(|(l, text)| {
            *l == LogLevel::Info
                && text.contains("40171")
                && text.contains("https://help.ably.io/error/40171")
        });
        assert_eq!(found, expect_line, "{lines:?}");
    }
}

/// Every flow at the most verbose level: key token, renewal after revocation, authUrl with a
/// secret in its query, failures; no line and no error message contains the key secret, any
/// token or any mac.
#[test]
fn no_secret_in_logs_or_errors() {
    let server = tls_server();
    let (logger, lines) = collecting_logger(LogLevel::Verbose);
    let mut options = key_options(&server);
    options.auth.use_token_auth = Some(true);
    options.logger = Some(logger.clone());
    let auth = common::new_auth(options).unwrap();
    let mut secrets: Vec<String> = vec![server.key().secret.clone()];
    let mut errors: Vec<String> = Vec::new();

    let first = auth.authorize(None, None).unwrap();
    secrets.push(first.token.clone());
    server.revoke_all_tokens();
    auth.request(Method::Get, "/channels/log", &[], &[], None)
        .and_then(ably_auth::HttpResponse::error_for_status)
        .unwrap(); // renews once
    secrets.push(auth.token_details().unwrap().token.clone());
    let request = auth.create_token_request(None, None).unwrap();
    secrets.push(request.mac.clone().unwrap());
    server.push_rule(Rule::once(
        "/keys/",
        Action::AblyError {
            status: 401,
            code: 40101,
            message: "Invalid mac".into(),
        },
    ));
    errors.push(auth.authorize(None, None).unwrap_err().to_string());

    let mut url_options = options_for(&server);
    url_options.logger = Some(logger);
    url_options.auth = AuthOptions {
        auth_url: Some(format!(
            "{}/auth/token?session=url-secret-1234",
            server.base_url()
        )),
        ..AuthOptions::default()
    };
    secrets.push("url-secret-1234".into());
    let url_auth = common::new_auth(url_options).unwrap();
    let details: TokenDetails = url_auth.authorize(None, None).unwrap();
    secrets.push(details.token.clone());
    server.push_rule(Rule::once("/auth/", Action::MalformedJson));
    errors.push(url_auth.authorize(None, None).unwrap_err().to_string());
    errors.push(format!("{:?} {:?}", auth, details));

    let lines = lines.lock().unwrap();
    assert!(lines.len() >= 4, "the flows logged: {lines:?}");
    for secret in &secrets {
        for (_, line) in lines.iter() {
            assert!(
                !line.contains(secret.as_str()),
                "secret in log line: {line}"
            );
        }
        for error in &errors {
            assert!(
                !error.contains(secret.as_str()),
                "secret in error or Debug: {error}"
            );
        }
    }
}
