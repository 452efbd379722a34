//! The transport: the only module that touches sockets.
//!
//! [`Transport`] is the small trait every request goes through; [`UreqTransport`] is the
//! real one (ureq over rustls, one keep-alive agent per `Auth`). Tests may inject another.
//! [`rest::RestClient`] adds what Ably requests need on top: hosts and fallback (RSC15,
//! REC2), Ably headers (RSC7), request ids (RSC7c) and error decoding.

pub mod rest;
mod ureq_transport;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use ureq_transport::UreqTransport;

use crate::core::error::{ErrorInfo, codes};

/// HTTP method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Parse a method name, case-insensitively.
    pub fn parse(name: &str) -> Option<Method> {
        [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

/// One HTTP request, fully formed.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL, query included.
    pub url: String,
    /// Request headers. `Authorization` values are secrets: `Debug` hides them.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// The largest response body accepted; a longer one fails with
    /// [`TransportErrorKind::BodyTooLarge`].
    pub max_response_bytes: usize,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = k.eq_ignore_ascii_case("authorization");
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// One HTTP response, body read in full.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers, names as the server sent them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The Ably ErrorInfo this (error) response carries (body, then headers, then status).
    pub fn error_info(&self) -> ErrorInfo {
        crate::core::material::error_from_response(
            self.status,
            |name| self.header(name).map(str::to_owned),
            &self.body,
        )
    }
}

/// Check a caller-supplied header before it is sent: the name must be an HTTP token
/// (RFC 9110 `tchar`s) and the value free of CR, LF and NUL, so no header can be split or
/// injected. Errors: 40003 naming the header.
pub fn check_header(name: &str, value: &str) -> crate::core::error::Result<()> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(ErrorInfo::invalid_value(format!(
            "header name {:?} is not a valid HTTP header name",
            crate::core::material::truncate(name, 64)
        )));
    }
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(ErrorInfo::invalid_value(format!(
            "the value of header {name} contains CR, LF or NUL"
        )));
    }
    Ok(())
}

/// Why a request got no HTTP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The host name could not be resolved (RSC15l1).
    HostNotFound,
    /// The connection was refused, reset or closed before a response (RSC15l1).
    ConnectionFailed,
    /// The connect or request timeout passed (RSC15l2, RSC13).
    Timeout,
    /// The TLS handshake failed (certificate not trusted, name mismatch).
    Tls,
    /// The response body was longer than the request allowed.
    BodyTooLarge,
    /// The request or response was malformed.
    Protocol,
}

/// A request that got no (complete) HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportErrorKind,
    /// Detail for humans; never contains credentials.
    pub message: String,
}

impl TransportError {
    /// Whether another host might do better (RSC15l1, RSC15l2).
    pub fn qualifies_for_fallback(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::HostNotFound
                | TransportErrorKind::ConnectionFailed
                | TransportErrorKind::Timeout
        )
    }

    /// The ErrorInfo for this failure: 50003/500 for timeouts (RSC13), 80000/500 otherwise.
    pub fn to_error_info(&self, host: &str) -> ErrorInfo {
        match self.kind {
            TransportErrorKind::Timeout => ErrorInfo::new(
                codes::TIMEOUT,
                500,
                format!("request to {host} timed out: {}", self.message),
            ),
            TransportErrorKind::BodyTooLarge => ErrorInfo::new(
                codes::INTERNAL_ERROR,
                500,
                format!("the response from {host} is too large: {}", self.message),
            ),
            _ => ErrorInfo::new(
                codes::CONNECTION_FAILED,
                500,
                format!("connection to {host} failed: {}", self.message),
            ),
        }
    }
}

/// Sends one HTTP request and reads the whole response. Implementations must be
/// thread-safe; the library calls `send` from any thread, without holding its locks.
pub trait Transport: Send + Sync {
    /// Send `request`; any HTTP status is `Ok`.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Settings of the real transport (RSC13 and the TLS options).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportOptions {
    /// Time allowed to open a connection (TO3l3 `httpOpenTimeout`, default 4 s).
    pub open_timeout: Duration,
    /// Time allowed for a whole request (TO3l4 `httpRequestTimeout`, default 10 s).
    pub request_timeout: Duration,
    /// Extra trusted CA certificates, PEM, added to Mozilla's roots.
    pub extra_ca_pem: Vec<String>,
    /// Host names resolved to fixed addresses instead of DNS (like curl's `--resolve`):
    /// for tests, pinned deployments and proxies.
    pub resolve: Vec<(String, SocketAddr)>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            open_timeout: Duration::from_secs(4),
            request_timeout: Duration::from_secs(10),
            extra_ca_pem: Vec::new(),
            resolve: Vec::new(),
        }
    }
}
