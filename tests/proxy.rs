//! The built-in client's proxy option (issue 13, item 5): an explicit proxy URL, and the
//! HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment variables when asked. A tiny CONNECT proxy
//! on 127.0.0.1 (below) tunnels to the loopback server and records every tunnel it opens, so
//! the tests see that requests went through it.
//!
//! One test changes the process environment, so it is the only test of this binary that
//! reads it (the others set the proxy explicitly or not at all).

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use ably_auth::Auth;

/// A CONNECT-only HTTP proxy on 127.0.0.1 that records the targets it tunnels to.
struct ConnectProxy {
    port: u16,
    tunnels: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&tunnels);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || tunnel(client, &seen));
            }
        });
        ConnectProxy { port, tunnels }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

/// Serve one proxy connection: `CONNECT host:port`, then copy bytes both ways.
fn tunnel(client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    let mut writer = client;
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = writer.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    seen.lock().unwrap().push(target.to_owned());
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    writer
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
    let mut down_write = writer.try_clone().unwrap();
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut up_write); // what the reader buffered, then the rest
        let _ = up_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up_read, &mut down_write);
    let _ = down_write.shutdown(Shutdown::Write);
    let _ = upload.join();
}

#[test]
fn an_explicit_proxy_carries_every_request() {
    let server = tls_server();
    let proxy = ConnectProxy::start();
    let mut options = key_options(&server);
    options.transport.proxy = Some(proxy.url());
    let auth = Auth::new(options).unwrap();
    auth.time().unwrap();
    auth.request_token(None, None).unwrap();
    let target = format!("127.0.0.1:{}", server.port());
    assert!(!proxy.tunnels().is_empty());
    assert!(
        proxy.tunnels().iter().all(|t| *t == target),
        "{:?}",
        proxy.tunnels()
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_bad_proxy_url_is_refused_when_the_auth_is_made() {
    let server = tls_server();
    let mut options = key_options(&server);
    options.transport.proxy = Some("http://user:hunter2@[not a host".into());
    let error = Auth::new(options).unwrap_err();
    assert_eq!(error.code, 40003, "{error}");
    assert!(
        !error.message.contains("hunter2"),
        "no credentials in errors: {error}"
    );
}

#[test]
fn the_environment_proxy_is_used_only_when_asked_and_no_proxy_is_honoured() {
    let server = tls_server();
    let proxy = ConnectProxy::start();
    // SAFETY (edition 2024 makes set_var unsafe): no other test of this binary reads the
    // environment.
    unsafe {
        std::env::set_var("HTTPS_PROXY", proxy.url());
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let not_asked = Auth::new(key_options(&server)).unwrap();
    not_asked.time().unwrap();
    assert!(proxy.tunnels().is_empty(), "not asked: direct");

    let mut options = key_options(&server);
    options.transport.proxy_from_env = true;
    Auth::new(options.clone()).unwrap().time().unwrap();
    assert_eq!(proxy.tunnels().len(), 1, "asked: through HTTPS_PROXY");

    // SAFETY: as above.
    unsafe { std::env::set_var("NO_PROXY", "127.0.0.1") };
    Auth::new(options).unwrap().time().unwrap();
    assert_eq!(proxy.tunnels().len(), 1, "NO_PROXY: direct again");
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("HTTPS_PROXY");
        std::env::remove_var("NO_PROXY");
    }
    assert_eq!(server.requests().len(), 3);
}
