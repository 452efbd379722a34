//! The transport: the only module that touches sockets.
//!
//! [`Transport`] is the small trait every request goes through. [`UreqTransport`] is the
//! built-in one (ureq over rustls, one keep-alive agent per `Auth`; Cargo feature
//! `http-client`, on by default); [`host::HostTransport`] hands each request to the host
//! application's own HTTP stack and waits for its answer. Tests may inject others.
//! [`rest::RestClient`] adds what Ably requests need on top: hosts and fallback (RSC15,
//! REC2), Ably headers (RSC7), request ids (RSC7c) and error decoding.

pub mod host;
pub mod rest;
#[cfg(feature = "http-client")]
mod ureq_transport;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "http-client")]
pub use ureq_transport::UreqTransport;

use crate::core::error::{ErrorInfo, Result, codes};

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

/// Whom a request is for: decides which rules apply to it (a host transport may route them
/// differently, e.g. through a proxy for Ably only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestPurpose {
    /// A request to an Ably host (with Ably credentials; fallback hosts apply).
    Ably,
    /// A request to the application's authUrl (RSA8c): no Ably credentials, no fallback.
    AuthUrl,
}

/// One HTTP request, fully formed.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL, query included (`Debug` shows it without userinfo and query).
    pub url: String,
    /// Request headers. `Authorization` values are secrets: `Debug` hides them.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// The largest response body accepted; a longer one fails with
    /// [`TransportErrorKind::BodyTooLarge`].
    pub max_response_bytes: usize,
    /// Whom the request is for.
    pub purpose: RequestPurpose,
    /// The whole request may take this long (TO3l4 `httpRequestTimeout`); then it fails
    /// with [`TransportErrorKind::Timeout`].
    pub timeout: Duration,
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
            .field("url", &crate::core::url::redact(&self.url))
            .field("headers", &headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("purpose", &self.purpose)
            .field("timeout", &self.timeout)
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

    /// `Err` with this answer's ErrorInfo when its status is 400 or more, else the answer:
    /// for callers of `Auth::request` that treat an error answer as a failure.
    pub fn error_for_status(self) -> Result<Self> {
        if self.status >= 400 {
            Err(self.error_info())
        } else {
            Ok(self)
        }
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
    /// The library stopped waiting for the answer (a cancelled call, a shutdown).
    Cancelled,
    /// This build has no HTTP client and no host transport was set.
    NotBuiltIn,
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

    /// The ErrorInfo for this failure: 50003 for timeouts (RSC13), 80000 for the others
    /// with no answer, `status_code` 0 (no HTTP status applies and the spec names none);
    /// 50000/500 for an answer over its size limit.
    pub fn to_error_info(&self, host: &str) -> ErrorInfo {
        match self.kind {
            TransportErrorKind::Timeout => ErrorInfo::new(
                codes::TIMEOUT,
                0,
                format!("request to {host} timed out: {}", self.message),
            ),
            TransportErrorKind::NotBuiltIn => not_built_in(&format!("a request to {host}")),
            TransportErrorKind::Cancelled => ErrorInfo::new(
                codes::CANCELLED,
                0,
                format!("the request to {host} was cancelled: {}", self.message),
            ),
            TransportErrorKind::BodyTooLarge => ErrorInfo::new(
                codes::INTERNAL_ERROR,
                500,
                format!("the response from {host} is too large: {}", self.message),
            ),
            _ => ErrorInfo::new(
                codes::CONNECTION_FAILED,
                0,
                format!("connection to {host} failed: {}", self.message),
            ),
        }
    }
}

/// Sends one HTTP request and reads the whole response. Implementations must be
/// thread-safe; the library calls `send` from any thread, without holding its locks.
///
/// A transport that answers asynchronously (an event loop, another thread) fits too: wrap it
/// in [`host::HostTransport`], which blocks `send` on a one-shot answer with a deadline.
pub trait Transport: Send + Sync {
    /// Send `request`; any HTTP status is `Ok`. Must give up after `request.timeout`.
    fn send(&self, request: &HttpRequest) -> std::result::Result<HttpResponse, TransportError>;

    /// Stop waiting for every request in flight: each `send` under way returns
    /// [`TransportErrorKind::Cancelled`] soon (shutdown). The default does nothing: the
    /// requests then end at their own timeout.
    fn cancel_all(&self) {}

    /// The id of the request `thread` is waiting for now, if this transport tracks them
    /// (a host transport does), so that a cancelled call can stop waiting for it.
    fn request_on_thread(&self, _thread: std::thread::ThreadId) -> Option<u64> {
        None
    }

    /// Stop waiting for request `id` (from [`Transport::request_on_thread`]): its `send`
    /// returns [`TransportErrorKind::Cancelled`] soon and the application hears of it. A
    /// request no longer waited for is left alone (ids are never reused).
    fn cancel_request(&self, _id: u64) {}

    /// The Auth is being freed: stop waiting for every request, make later `send`s fail
    /// with [`TransportErrorKind::Cancelled`], and return only once no other thread is
    /// inside the application's code for this transport, so that nothing calls it after
    /// the Auth's free returned. The default cancels (a built-in transport calls no
    /// application code).
    fn close(&self) {
        self.cancel_all();
    }
}

/// Settings of the built-in transport (RSC13 and the TLS options). Only `request_timeout`
/// applies to a host transport; the others are the built-in client's own, and setting them
/// together with a host transport is refused (40000) rather than silently ignored.
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
    /// Send every request through this proxy (`http://host:port`, `https://…`,
    /// `socks5://…`, with optional `user:password@`). Takes precedence over `proxy_from_env`.
    pub proxy: Option<String>,
    /// Use the proxy named by the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` environment
    /// variables (either case), honouring `NO_PROXY`. Off by default: the environment is
    /// read only when asked.
    pub proxy_from_env: bool,
    /// Verify server certificates with the operating system's verifier and trust store
    /// (rustls-platform-verifier) instead of the bundled Mozilla roots; `extra_ca_pem`
    /// cannot be combined with it.
    pub platform_verifier: bool,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            open_timeout: Duration::from_secs(4),
            request_timeout: Duration::from_secs(10),
            extra_ca_pem: Vec::new(),
            resolve: Vec::new(),
            proxy: None,
            proxy_from_env: false,
            platform_verifier: false,
        }
    }
}

impl TransportOptions {
    /// The options set here that only the built-in client honours.
    fn built_in_only(&self) -> Vec<&'static str> {
        let defaults = TransportOptions::default();
        [
            (
                "a connect timeout",
                self.open_timeout != defaults.open_timeout,
            ),
            ("extra CA certificates", !self.extra_ca_pem.is_empty()),
            ("fixed host addresses (resolve)", !self.resolve.is_empty()),
            ("a proxy", self.proxy.is_some() || self.proxy_from_env),
            ("the platform certificate verifier", self.platform_verifier),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// Whether this build has the built-in HTTP client (Cargo feature `http-client`).
pub const HTTP_CLIENT_BUILT_IN: bool = cfg!(feature = "http-client");

/// The error for a feature this build left out: [`codes::NOT_BUILT_IN`].
pub fn not_built_in(what: &str) -> ErrorInfo {
    ErrorInfo::new(
        codes::NOT_BUILT_IN,
        0,
        format!(
            "{what} needs the built-in HTTP client, which this build of ably-auth leaves out \
             (Cargo feature `http-client`, CMake option ABLY_AUTH_HTTP_CLIENT): set an HTTP \
             transport of your own"
        ),
    )
}

/// Check the transport settings when an Auth is made, so that mistakes show at once rather
/// than at the first request: with a host transport (`host_transport`), options only the
/// built-in client honours are refused (40000, naming them); otherwise the built-in
/// client's settings are checked (40003 for PEM without a certificate or a bad proxy URL).
pub fn check_transport_options(host_transport: bool, options: &TransportOptions) -> Result<()> {
    let built_in_only = options.built_in_only();
    if host_transport {
        if built_in_only.is_empty() {
            return Ok(());
        }
        return Err(ErrorInfo::new(
            codes::BAD_REQUEST,
            0,
            format!(
                "conflicting options: a host HTTP transport does not honour {} (only the \
                 built-in client does); configure them in your transport instead",
                built_in_only.join(", ")
            ),
        ));
    }
    #[cfg(feature = "http-client")]
    {
        if options.platform_verifier && !options.extra_ca_pem.is_empty() {
            return Err(ErrorInfo::new(
                codes::BAD_REQUEST,
                0,
                "conflicting options: extra CA certificates cannot be added to the platform \
                 verifier (install them in the operating system's trust store instead)",
            ));
        }
        if !options.extra_ca_pem.is_empty() || options.proxy.is_some() {
            UreqTransport::new(options, "")?;
        }
        Ok(())
    }
    #[cfg(not(feature = "http-client"))]
    match built_in_only.first() {
        Some(first) => Err(not_built_in(first)),
        None => Ok(()),
    }
}

/// The transport an Auth uses: the host's when given, else the built-in client (or, in a
/// build without it, one whose every request fails with [`codes::NOT_BUILT_IN`]: so that
/// operations that need no request, such as an authCallback's token, still work).
pub fn build_transport(
    host: Option<&Arc<dyn Transport>>,
    options: &TransportOptions,
    user_agent: &str,
) -> Result<Arc<dyn Transport>> {
    if let Some(transport) = host {
        return Ok(Arc::clone(transport));
    }
    #[cfg(feature = "http-client")]
    return Ok(Arc::new(UreqTransport::new(options, user_agent)?));
    #[cfg(not(feature = "http-client"))]
    {
        let _ = (options, user_agent);
        Ok(Arc::new(NoClient))
    }
}

/// The transport of a build without an HTTP client when the host set none.
#[cfg(not(feature = "http-client"))]
struct NoClient;

#[cfg(not(feature = "http-client"))]
impl Transport for NoClient {
    fn send(&self, _: &HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        Err(TransportError {
            kind: TransportErrorKind::NotBuiltIn,
            message: String::new(),
        })
    }
}
