//! A tiny hand-written HTTP/1.1 client and an independent signing oracle for the tests.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    /// `error.code` of an Ably error body.
    pub fn code(&self) -> u64 {
        self.json()["error"]["code"]
            .as_u64()
            .expect("an Ably error body")
    }
}

pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

pub fn write_request(
    s: &mut dyn Write,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    s.write_all(&out)?;
    s.flush()
}

pub fn read_response(s: &mut dyn Read) -> io::Result<Resp> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in head"));
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).expect("ascii head");
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("every reply has Content-Length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// One request on a fresh connection.
pub fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = connect(port);
    write_request(&mut s, method, target, headers, body, true).unwrap();
    read_response(&mut s).unwrap()
}

pub fn get(port: u16, target: &str) -> Resp {
    request(port, "GET", target, &[], b"")
}

pub fn post_json(port: u16, target: &str, body: &str) -> Resp {
    request(
        port,
        "POST",
        target,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

pub fn get_auth(port: u16, target: &str, auth: &str) -> Resp {
    request(port, "GET", target, &[("Authorization", auth)], b"")
}

pub fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// The checklist §2.4 mac, computed independently of the server.
pub fn oracle_mac(
    secret: &str,
    key_name: &str,
    ttl: Option<i64>,
    capability: Option<&str>,
    client_id: Option<&str>,
    timestamp: i64,
    nonce: &str,
) -> String {
    let mut text = String::new();
    text.push_str(key_name);
    text.push('\n');
    if let Some(t) = ttl {
        text.push_str(&t.to_string());
    }
    text.push('\n');
    text.push_str(capability.unwrap_or(""));
    text.push('\n');
    text.push_str(client_id.unwrap_or(""));
    text.push('\n');
    text.push_str(&timestamp.to_string());
    text.push('\n');
    text.push_str(nonce);
    text.push('\n');
    STANDARD.encode(hmac(secret.as_bytes(), text.as_bytes()))
}

/// A signed TokenRequest JSON built by the test.
#[allow(clippy::too_many_arguments)]
pub fn token_request(
    key_name: &str,
    secret: &str,
    ttl: Option<i64>,
    capability: Option<&str>,
    client_id: Option<&str>,
    timestamp: i64,
    nonce: &str,
) -> Value {
    let mac = oracle_mac(
        secret, key_name, ttl, capability, client_id, timestamp, nonce,
    );
    let mut v = serde_json::json!({"keyName": key_name, "timestamp": timestamp, "nonce": nonce, "mac": mac});
    if let Some(t) = ttl {
        v["ttl"] = t.into();
    }
    if let Some(c) = capability {
        v["capability"] = c.into();
    }
    if let Some(c) = client_id {
        v["clientId"] = c.into();
    }
    v
}

pub fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

/// An HS256 JWT built by the test.
pub fn oracle_jwt(kid: &str, secret: &str, claims: &Value) -> String {
    oracle_jws(
        &serde_json::json!({"typ": "JWT", "alg": "HS256", "kid": kid}),
        claims,
        secret,
    )
}

/// `header.claims` HMAC-SHA256-signed with `secret`, whatever the header says.
pub fn oracle_jws(header: &Value, claims: &Value, secret: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = hmac(secret.as_bytes(), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
