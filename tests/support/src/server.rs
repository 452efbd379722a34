//! Sockets, TLS, HTTP/1.1 framing, rules.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ably::{Revocation, TokenRecord};
use crate::{Action, RecordedRequest, Rule, ServerConfig, util};

/// Largest request head + body the server reads.
const MAX_REQUEST: usize = 8 * 1024 * 1024;
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    pub ca_pem: String,
}

/// Generates a CA and a leaf for `localhost` / `127.0.0.1` signed by it.
pub fn make_tls() -> Result<Tls, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType,
    };
    let e = |e: rcgen::Error| e.to_string();
    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ably-loopback test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(e)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(e)?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).map_err(e)?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(e)?;

    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        leaf_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)
    .map_err(|e| e.to_string())?;
    Ok(Tls {
        config: Arc::new(config),
        ca_pem: ca_cert.pem(),
    })
}

#[derive(Default)]
pub struct State {
    pub requests: Vec<RecordedRequest>,
    pub rules: Vec<Rule>,
    /// TokenRequest nonce → when it may be used again (ms), for every key at once.
    pub nonces: HashMap<String, i64>,
    pub tokens: HashMap<String, TokenRecord>,
    pub jwts_minted: HashSet<String>,
    pub jwts_revoked: HashSet<String>,
    pub revocations: Vec<Revocation>,
    pub tokens_issued: usize,
}

pub struct Inner {
    pub config: ServerConfig,
    pub tls: Option<Tls>,
    state: Mutex<State>,
    pub skew_ms: AtomicI64,
    pub connections: AtomicUsize,
    pub stop: AtomicBool,
    pub control: AtomicBool,
}

impl Inner {
    pub fn new(config: ServerConfig, tls: Option<Tls>) -> Inner {
        Inner {
            config,
            tls,
            state: Mutex::new(State::default()),
            skew_ms: AtomicI64::new(0),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            control: AtomicBool::new(false),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Server clock in microseconds.
    pub fn now_us(&self) -> i64 {
        let sys = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        sys + self.skew_ms.load(Ordering::SeqCst) * 1000
    }

    pub fn now_ms(&self) -> i64 {
        self.now_us().div_euclid(1000)
    }
}

pub fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    for stream in listener.incoming() {
        if inner.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = inner.connections.fetch_add(1, Ordering::SeqCst) + 1;
        let inner = inner.clone();
        let _ = std::thread::Builder::new()
            .name(format!("loopback-conn-{id}"))
            .spawn(move || serve_connection(inner, stream, id));
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn serve_connection(inner: Arc<Inner>, tcp: TcpStream, id: usize) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(IDLE_TIMEOUT));
    let mut stream: Box<dyn Stream> = match &inner.tls {
        Some(tls) => match rustls::ServerConnection::new(tls.config.clone()) {
            Ok(conn) => Box::new(rustls::StreamOwned::new(conn, tcp)),
            Err(_) => return,
        },
        None => Box::new(tcp),
    };
    let mut buf = Vec::new();
    loop {
        let Ok(Some(parsed)) = read_request(&mut *stream, &mut buf, id) else {
            return;
        };
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let keep_alive = parsed.keep_alive;
        let outcome = inner.handle(parsed.request);
        if write_outcome(&mut *stream, outcome, keep_alive).is_err() || !keep_alive {
            let _ = stream.flush();
            return;
        }
    }
}

struct Parsed {
    request: RecordedRequest,
    keep_alive: bool,
}

fn read_more(stream: &mut dyn Stream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads one request; `Ok(None)` on a clean close.
fn read_request(
    stream: &mut dyn Stream,
    buf: &mut Vec<u8>,
    id: usize,
) -> io::Result<Option<Parsed>> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut scanned: usize = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut headers);
        // Parse once the blank line ending the head has arrived: parsing a partial head again
        // after every read is quadratic in its size (a 10 MB header took half a minute).
        let tail = &buf[scanned.saturating_sub(2)..];
        let head_ended =
            tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n");
        scanned = buf.len();
        let status = if head_ended {
            req.parse(buf).map_err(|e| invalid(&e.to_string()))?
        } else {
            httparse::Status::Partial
        };
        match status {
            httparse::Status::Complete(head_len) => {
                let method = req.method.unwrap_or("").to_string();
                let target = req.path.unwrap_or("/").to_string();
                let version = req.version.unwrap_or(1);
                let headers: Vec<(String, String)> = req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let find = |n: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.to_ascii_lowercase())
                };
                let conn_hdr = find("connection").unwrap_or_default();
                let keep_alive = if version == 0 {
                    conn_hdr.contains("keep-alive")
                } else {
                    !conn_hdr.contains("close")
                };
                if find("expect").is_some_and(|v| v.contains("100-continue")) {
                    stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
                    stream.flush()?;
                }
                let chunked = find("transfer-encoding").is_some_and(|v| v.contains("chunked"));
                buf.drain(..head_len);
                let body = if chunked {
                    read_chunked(stream, buf)?
                } else {
                    let len: usize = match find("content-length") {
                        Some(v) => v.trim().parse().map_err(|_| invalid("content-length"))?,
                        None => 0,
                    };
                    if len > MAX_REQUEST {
                        return Err(invalid("body too large"));
                    }
                    while buf.len() < len {
                        if !read_more(stream, buf)? {
                            return Err(invalid("eof in body"));
                        }
                    }
                    buf.drain(..len).collect()
                };
                let (path, query) = match target.split_once('?') {
                    Some((p, q)) => (p.to_string(), util::parse_form(q)),
                    None => (target.clone(), Vec::new()),
                };
                return Ok(Some(Parsed {
                    request: RecordedRequest {
                        method,
                        path,
                        query,
                        headers,
                        body,
                        connection_id: id,
                    },
                    keep_alive,
                }));
            }
            httparse::Status::Partial => {
                if buf.len() > MAX_REQUEST {
                    return Err(invalid("head too large"));
                }
                let was_empty = buf.is_empty();
                if !read_more(stream, buf)? {
                    return if was_empty {
                        Ok(None)
                    } else {
                        Err(invalid("eof in head"))
                    };
                }
            }
        }
    }
}

fn read_chunked(stream: &mut dyn Stream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                break p;
            }
            if !read_more(stream, buf)? {
                return Err(invalid("eof in chunk size"));
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16).map_err(|_| invalid("chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    buf.drain(..p + 2);
                    if p == 0 {
                        return Ok(body);
                    }
                } else if !read_more(stream, buf)? {
                    return Err(invalid("eof in trailers"));
                }
            }
        }
        if body.len() + size > MAX_REQUEST {
            return Err(invalid("body too large"));
        }
        while buf.len() < size + 2 {
            if !read_more(stream, buf)? {
                return Err(invalid("eof in chunk"));
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// A response to write.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(status, "application/json", body)
    }

    pub fn ably_error(status: u16, code: u32, message: &str) -> Reply {
        let body = serde_json::json!({"error": {
            "code": code,
            "statusCode": status,
            "message": message,
            "href": format!("https://help.ably.io/error/{code}"),
        }});
        let mut r = Reply::json(status, body.to_string());
        r.headers
            .push(("X-Ably-ErrorCode".into(), code.to_string()));
        // Header values must be visible ASCII.
        let msg: String = message
            .chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
            .collect();
        r.headers.push(("X-Ably-ErrorMessage".into(), msg));
        r
    }
}

/// 40004/415 unless the request body is JSON (or untyped), as ably-server's
/// `contentTypeFormat` (this server does not speak msgpack).
pub fn json_content_type(req: &RecordedRequest) -> Result<(), Reply> {
    let ct = req.header("content-type").unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    match media {
        "" | "application/json" => Ok(()),
        _ => Err(Reply::ably_error(
            415,
            40004,
            &format!("unsupported Content-Type {ct:?}"),
        )),
    }
}

/// 40004/406 unless `Accept` is absent or its first type ably-server knows is JSON (`*/*`,
/// `application/*`, `application/json`); msgpack first is refused too, as this server only
/// writes JSON.
pub fn accept_json(req: &RecordedRequest) -> Result<(), Reply> {
    let Some(accept) = req.header("accept").filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    let first = accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim())
        .find(|m| {
            matches!(
                *m,
                "*/*"
                    | "application/*"
                    | "application/json"
                    | "application/x-msgpack"
                    | "application/msgpack"
            )
        });
    match first {
        Some(m) if !m.contains("msgpack") => Ok(()),
        _ => Err(Reply::ably_error(
            406,
            40004,
            &format!("no acceptable response format in Accept {accept:?}"),
        )),
    }
}

pub enum Outcome {
    Reply {
        delay_ms: u64,
        reply: Reply,
        slow_body_ms: Option<u64>,
    },
    Drop {
        delay_ms: u64,
    },
}

impl Inner {
    fn handle(&self, req: RecordedRequest) -> Outcome {
        if self.control.load(Ordering::SeqCst) && req.path.starts_with("/_control/") {
            return Outcome::Reply {
                delay_ms: 0,
                reply: crate::control::handle(self, &req),
                slow_body_ms: None,
            };
        }
        let action = {
            let mut st = self.state();
            st.requests.push(req.clone());
            let pos = st.rules.iter().position(|r| {
                r.times > 0
                    && req.path.starts_with(&r.path_prefix)
                    && r.method
                        .as_ref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(&req.method))
            });
            match pos {
                Some(i) => {
                    let rule = &mut st.rules[i];
                    let action = rule.action.clone();
                    if rule.times != usize::MAX {
                        rule.times -= 1;
                    }
                    if rule.times == 0 {
                        st.rules.remove(i);
                    }
                    action
                }
                None => Action::Pass,
            }
        };
        self.apply(action, &req, 0)
    }

    fn apply(&self, action: Action, req: &RecordedRequest, delay_ms: u64) -> Outcome {
        let reply = |reply: Reply| Outcome::Reply {
            delay_ms,
            reply,
            slow_body_ms: None,
        };
        match action {
            Action::Pass => reply(self.route(req)),
            Action::Respond {
                status,
                headers,
                body,
            } => reply(Reply {
                status,
                headers,
                body,
            }),
            Action::AblyError {
                status,
                code,
                message,
            } => reply(Reply::ably_error(status, code, &message)),
            Action::Json { status, body } => reply(Reply::json(status, body)),
            Action::MalformedJson => reply(Reply::json(200, r#"{"token": "abc""#)),
            Action::WrongContentType => {
                reply(Reply::new(200, "text/html", "<html>not json</html>"))
            }
            Action::Oversized { bytes } => {
                let body = match bytes {
                    0 => Vec::new(),
                    1 => b"0".to_vec(),
                    n => {
                        let mut b = vec![b'a'; n];
                        b[0] = b'"';
                        b[n - 1] = b'"';
                        b
                    }
                };
                reply(Reply::json(200, body))
            }
            Action::SlowHeaders { delay_ms: d, then } => {
                self.apply(*then, req, delay_ms.saturating_add(d))
            }
            Action::SlowBody { delay_ms: d } => Outcome::Reply {
                delay_ms,
                reply: self.route(req),
                slow_body_ms: Some(d),
            },
            Action::Drop => Outcome::Drop { delay_ms },
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        406 => "Not Acceptable",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_outcome(stream: &mut dyn Stream, outcome: Outcome, keep_alive: bool) -> io::Result<()> {
    let (delay_ms, reply, slow) = match outcome {
        Outcome::Drop { delay_ms } => {
            std::thread::sleep(Duration::from_millis(delay_ms));
            return Err(io::Error::other("dropped"));
        }
        Outcome::Reply {
            delay_ms,
            reply,
            slow_body_ms,
        } => (delay_ms, reply, slow_body_ms),
    };
    if delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(delay_ms));
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut out = head.into_bytes();
    match slow {
        None => {
            out.extend_from_slice(&reply.body);
            stream.write_all(&out)?;
            stream.flush()
        }
        Some(d) => {
            let half = reply.body.len() / 2;
            out.extend_from_slice(&reply.body[..half]);
            stream.write_all(&out)?;
            stream.flush()?;
            std::thread::sleep(Duration::from_millis(d));
            stream.write_all(&reply.body[half..])?;
            stream.flush()
        }
    }
}
