//! The `ably-loopback-server` binary and its `/_control/` API.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

struct Proc {
    child: Child,
    base_url: String,
    port: u16,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ably-loopback-server"))
            .args(args)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server binary");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base_url = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let port = base_url.rsplit(':').next().unwrap().parse().unwrap();
        Proc {
            child,
            base_url,
            port,
        }
    }

    /// Closes stdin and waits for a clean exit.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success());
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "hang guard: the server did not exit on stdin EOF"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn control_api_drives_rules_requests_skew_and_mint() {
    let p = Proc::start(&["--key", "app.k1:s3cret", "--skew-ms", "120000"]);
    assert_eq!(p.base_url, format!("http://127.0.0.1:{}", p.port));
    let port = p.port;

    let key = get(port, "/_control/key").json();
    assert_eq!(key, json!({"key": "app.k1:s3cret", "keyName": "app.k1"}));

    // Skew from the command line shows in /time.
    let t = get(port, "/time").json()[0].as_i64().unwrap();
    assert!((t - system_now_ms() - 120_000).abs() < 10_000);
    assert_eq!(post_json(port, "/_control/skew", r#"{"ms":0}"#).status, 200);
    let t = get(port, "/time").json()[0].as_i64().unwrap();
    assert!((t - system_now_ms()).abs() < 10_000);

    // A rule from JSON applies twice, then real behaviour again.
    let rule = json!({"method": "GET", "pathPrefix": "/time", "times": 2,
        "action": {"type": "ablyError", "status": 500, "code": 50000, "message": "down"}});
    assert_eq!(
        post_json(port, "/_control/rule", &rule.to_string()).status,
        200
    );
    assert_eq!(get(port, "/time").code(), 50000);
    assert_eq!(get(port, "/time").code(), 50000);
    assert_eq!(get(port, "/time").status, 200);

    let rule = json!({"pathPrefix": "/auth/", "action": {"type": "respond", "status": 200,
        "headers": [["Content-Type", "text/plain"]], "body": "tok"}});
    post_json(port, "/_control/rule", &rule.to_string());
    let r = get(port, "/auth/token");
    assert_eq!(
        (r.text().as_str(), r.header("content-type")),
        ("tok", Some("text/plain"))
    );

    for (action, check) in [
        (json!({"type": "malformedJson"}), "malformed"),
        (json!({"type": "wrongContentType"}), "html"),
        (json!({"type": "oversized", "bytes": 1000}), "big"),
        (json!({"type": "slowHeaders", "delayMs": 200}), "slow"),
        (json!({"type": "slowBody", "delayMs": 200}), "slow"),
    ] {
        post_json(
            port,
            "/_control/rule",
            &json!({"pathPrefix": "/time", "action": action}).to_string(),
        );
        let t0 = Instant::now();
        let r = get(port, "/time");
        match check {
            "malformed" => assert!(serde_json::from_slice::<Value>(&r.body).is_err()),
            "html" => assert_eq!(r.header("content-type"), Some("text/html")),
            "big" => assert_eq!(r.body.len(), 1000),
            _ => {
                assert!(t0.elapsed() >= Duration::from_millis(200));
                assert!(r.json()[0].is_i64());
            }
        }
    }
    post_json(
        port,
        "/_control/rule",
        r#"{"pathPrefix":"/time","action":{"type":"drop"}}"#,
    );
    let mut c = connect(port);
    write_request(&mut c, "GET", "/time", &[], b"", false).unwrap();
    assert!(read_response(&mut c).is_err());

    // Bad rules are refused.
    let r = post_json(
        port,
        "/_control/rule",
        r#"{"pathPrefix":"/x","action":{"type":"nope"}}"#,
    );
    assert_eq!((r.status, r.code()), (400, 40000));

    // Mint a token over the control API and use it.
    let td = post_json(port, "/_control/mint", r#"{"clientId":"ctl","ttl":60000}"#).json();
    assert_eq!(
        td["expires"].as_i64().unwrap() - td["issued"].as_i64().unwrap(),
        60000
    );
    let r = get_auth(
        port,
        "/channels/c",
        &format!("Bearer {}", td["token"].as_str().unwrap()),
    );
    assert_eq!(r.json()["clientId"], "ctl");
    let jwt = post_json(port, "/_control/jwt", r#"{"clientId":"j"}"#).json();
    let r = get_auth(
        port,
        "/channels/c",
        &format!("Bearer {}", jwt["jwt"].as_str().unwrap()),
    );
    assert_eq!(r.json()["clientId"], "j");

    // A TokenRequest signed by the test with the --key is accepted.
    let tr = token_request(
        "app.k1",
        "s3cret",
        None,
        None,
        Some("x"),
        system_now_ms(),
        "bin-nonce-1",
    );
    let r = post_json(port, "/keys/app.k1/requestToken", &tr.to_string());
    assert_eq!(r.status, 200, "{}", r.text());

    // Recorded requests exclude /_control.
    let reqs = get(port, "/_control/requests").json();
    let list = reqs.as_array().unwrap();
    assert!(
        list.iter()
            .all(|r| !r["path"].as_str().unwrap().starts_with("/_control"))
    );
    let last = list.last().unwrap();
    assert_eq!(last["method"], "POST");
    assert_eq!(last["path"], "/keys/app.k1/requestToken");
    assert_eq!(
        serde_json::from_str::<Value>(last["body"].as_str().unwrap()).unwrap(),
        tr
    );
    assert!(
        last["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "content-type")
    );
    let stats = get(port, "/_control/stats").json();
    assert_eq!(stats["tokensIssued"], 1);
    assert_eq!(stats["requests"].as_u64().unwrap() as usize, list.len());

    // Reset clears rules and requests.
    post_json(
        port,
        "/_control/rule",
        r#"{"pathPrefix":"/time","times":"forever","action":{"type":"drop"}}"#,
    );
    assert_eq!(post_json(port, "/_control/reset", "").status, 200);
    assert_eq!(get(port, "/time").status, 200);
    assert_eq!(
        get(port, "/_control/requests")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    p.finish();
}

#[test]
fn tls_binary_writes_the_ca() {
    let dir = std::env::temp_dir().join(format!("ably-loopback-ca-{}", std::process::id()));
    let ca = dir.with_extension("pem");
    let p = Proc::start(&["--tls", "--ca-out", ca.to_str().unwrap()]);
    assert!(p.base_url.starts_with("https://localhost:"));
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"));
    let _ = std::fs::remove_file(&ca);
    p.finish();
}
