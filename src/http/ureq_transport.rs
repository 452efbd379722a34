//! The built-in transport: one ureq agent (connection pool with keep-alive) over rustls with
//! the ring provider, Mozilla's roots plus extra CAs or the platform's verifier, connect and
//! whole-request timeouts, an optional proxy and an optional fixed host-to-address map.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ureq::http::Uri;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{Agent, Proxy, config::Config};

use super::{
    HttpRequest, HttpResponse, Method, Transport, TransportError, TransportErrorKind,
    TransportOptions,
};
use crate::core::error::{ErrorInfo, Result};

/// The ureq-based [`Transport`].
pub struct UreqTransport {
    agent: Agent,
    /// The connect timeout, named in the message of a connect timeout.
    open_timeout: Duration,
}

impl std::fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UreqTransport").finish_non_exhaustive()
    }
}

/// Mozilla's roots, converted once per process and shared by every agent.
fn web_roots() -> &'static Arc<Vec<Certificate<'static>>> {
    static ROOTS: OnceLock<Arc<Vec<Certificate<'static>>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        Arc::new(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .collect(),
        )
    })
}

fn root_certs(options: &TransportOptions) -> Result<RootCerts> {
    if options.platform_verifier {
        return Ok(RootCerts::PlatformVerifier);
    }
    let extra_pem = &options.extra_ca_pem;
    if extra_pem.is_empty() {
        return Ok(RootCerts::Specific(Arc::clone(web_roots())));
    }
    let mut roots = web_roots().as_ref().clone();
    for pem in extra_pem {
        let before = roots.len();
        for item in ureq::tls::parse_pem(pem.as_bytes()) {
            match item {
                Ok(PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => {
                    return Err(ErrorInfo::invalid_value(format!(
                        "an extra CA certificate is not valid PEM: {e}"
                    )));
                }
            }
        }
        if roots.len() == before {
            return Err(ErrorInfo::invalid_value(
                "an extra CA PEM holds no CERTIFICATE block",
            ));
        }
    }
    Ok(RootCerts::Specific(Arc::new(roots)))
}

/// Resolves the configured names to fixed addresses, IP literals to themselves, everything
/// else through DNS.
///
/// ureq resolves before it looks for a pooled connection, on every request, and its
/// `DefaultResolver` spawns a thread per lookup to bound it by the timeout. An IP literal
/// needs no lookup, so it skips that thread (a `127.0.0.1` endpoint paid a thread spawn
/// per request on a reused connection).
#[derive(Debug)]
struct FixedResolver {
    fixed: Vec<(String, SocketAddr)>,
    fallback: DefaultResolver,
}

impl Resolver for FixedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        if let Some((_, addr)) = self
            .fixed
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host))
        {
            let mut addrs = self.empty();
            addrs.push(*addr);
            return Ok(addrs);
        }
        if let (Ok(ip), Some(port)) = (host.parse::<IpAddr>(), port_of(uri)) {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        self.fallback.resolve(uri, config, timeout)
    }
}

/// The proxy the options ask for: the explicit URL, else the environment's when asked.
fn proxy(options: &TransportOptions) -> Result<Option<Proxy>> {
    match &options.proxy {
        // The URL may hold credentials: the error does not quote it.
        Some(url) => Proxy::new(url).map(Some).map_err(|_| {
            ErrorInfo::invalid_value(
                "the proxy is not a valid proxy URL (http://host:port or https://host:port, \
                 optionally with user:password@)",
            )
        }),
        None if options.proxy_from_env => Ok(Proxy::try_from_env()),
        None => Ok(None),
    }
}

/// The URI's port, or its scheme's default (the two schemes this library uses).
fn port_of(uri: &Uri) -> Option<u16> {
    uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })
}

impl UreqTransport {
    /// Build the agent. Errors: 40003 for an extra CA that is not PEM or a proxy URL that
    /// does not parse.
    pub fn new(options: &TransportOptions, user_agent: &str) -> Result<Self> {
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(root_certs(options)?)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(options.open_timeout))
            .timeout_global(Some(options.request_timeout))
            .proxy(proxy(options)?)
            .user_agent(user_agent)
            .tls_config(tls)
            .build();
        let resolver = FixedResolver {
            fixed: options.resolve.clone(),
            fallback: DefaultResolver::default(),
        };
        Ok(UreqTransport {
            agent: Agent::with_parts(config, DefaultConnector::default(), resolver),
            open_timeout: options.open_timeout,
        })
    }
}

fn classify(error: ureq::Error, request: &HttpRequest, open_timeout: Duration) -> TransportError {
    use ureq::Error as E;
    let kind = match &error {
        E::Timeout(_) => TransportErrorKind::Timeout,
        E::HostNotFound => TransportErrorKind::HostNotFound,
        E::ConnectionFailed => TransportErrorKind::ConnectionFailed,
        E::BodyExceedsLimit(_) => TransportErrorKind::BodyTooLarge,
        E::Tls(_) | E::Rustls(_) | E::Pem(_) => TransportErrorKind::Tls,
        E::Io(e) => match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportErrorKind::Timeout,
            io::ErrorKind::InvalidData => {
                // rustls reports handshake failures as InvalidData I/O errors.
                if rustls_error(&error).is_some() {
                    TransportErrorKind::Tls
                } else {
                    TransportErrorKind::Protocol
                }
            }
            _ => TransportErrorKind::ConnectionFailed,
        },
        E::Protocol(_) | E::BadUri(_) | E::Http(_) => TransportErrorKind::Protocol,
        _ => TransportErrorKind::ConnectionFailed,
    };
    TransportError {
        kind,
        message: describe(&error, request, open_timeout),
    }
}

/// A message for `error` that says what would help, in plain words: the origin (scheme,
/// host, port; never the path or query) of a refused connection, the timeout that ran out,
/// and for a certificate from an unknown CA how to trust it.
fn describe(error: &ureq::Error, request: &HttpRequest, open_timeout: Duration) -> String {
    use ureq::Error as E;
    let origin = || origin(&request.url);
    match error {
        E::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => format!(
            "could not connect to {} within the open timeout ({} ms)",
            origin(),
            open_timeout.as_millis()
        ),
        E::Timeout(_) => format!(
            "no complete answer from {} within the request timeout ({} ms)",
            origin(),
            request.timeout.as_millis()
        ),
        E::ConnectionFailed => format!("could not connect to {}", origin()),
        E::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            format!(
                "connection refused by {} (is a server listening there?)",
                origin()
            )
        }
        E::Io(e) if e.kind() != io::ErrorKind::InvalidData => format!("{e} ({})", origin()),
        _ if matches!(
            rustls_error(error),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ) =>
        {
            format!(
                "{error}: the certificate of {} is not signed by a trusted CA; trust that CA \
                 with ably_auth_options_add_ca_pem, or use the operating system's verifier \
                 (ably_auth_options_set_platform_verifier) if the system trusts it",
                origin()
            )
        }
        _ => error.to_string(),
    }
}

/// The rustls error behind `error`, if any (ureq passes handshake failures up as I/O errors).
fn rustls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}

/// `scheme://host:port` of `url` (its port made explicit), or "the server".
fn origin(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.host(), port_of(&uri)) {
            (Some(scheme), Some(host), Some(port)) => format!("{scheme}://{host}:{port}"),
            _ => "the server".to_owned(),
        },
        Err(_) => "the server".to_owned(),
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: &HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let protocol = |e: ureq::http::Error| TransportError {
            kind: TransportErrorKind::Protocol,
            message: format!("invalid request: {e}"),
        };
        // The request's own timeout (what is left of an authUrl chain's deadline, or the
        // request timeout), not only the agent's.
        let timeout = Some(request.timeout);
        let sent = match (&request.body, request.method) {
            (Some(body), _) => {
                let http = builder.body(body.as_slice()).map_err(protocol)?;
                let http = self.agent.configure_request(http).timeout_global(timeout);
                self.agent.run(http.build())
            }
            (None, Method::Post | Method::Put | Method::Patch) => {
                let http = builder.body(&[][..]).map_err(protocol)?;
                let http = self.agent.configure_request(http).timeout_global(timeout);
                self.agent.run(http.build())
            }
            (None, _) => {
                let http = builder.body(()).map_err(protocol)?;
                let http = self.agent.configure_request(http).timeout_global(timeout);
                self.agent.run(http.build())
            }
        };
        let classify = |e| classify(e, request, self.open_timeout);
        let mut response = sent.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(request.max_response_bytes as u64)
            .read_to_vec()
            .map_err(classify)?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::Timeout;
    use ureq::unversioned::transport::time::Duration;

    fn resolve(resolver: &FixedResolver, uri: &str) -> Vec<SocketAddr> {
        let timeout = NextTimeout {
            after: Duration::from(std::time::Duration::from_secs(1)),
            reason: Timeout::Resolve,
            per_read: None,
            per_write: None,
        };
        let config = Agent::config_builder().build();
        let uri: Uri = uri.parse().expect("uri");
        resolver
            .resolve(&uri, &config, timeout)
            .expect("resolved")
            .to_vec()
    }

    #[test]
    fn ip_literals_resolve_to_themselves_with_the_scheme_default_port() {
        let resolver = FixedResolver {
            fixed: vec![("fixed.example".into(), "10.1.2.3:9".parse().unwrap())],
            fallback: DefaultResolver::default(),
        };
        let cases = [
            ("http://127.0.0.1:8080/time", "127.0.0.1:8080"),
            ("http://127.0.0.1/time", "127.0.0.1:80"),
            ("https://[::1]/time", "[::1]:443"),
            ("https://[::1]:8443/time", "[::1]:8443"),
            ("https://FIXED.example/time", "10.1.2.3:9"),
        ];
        for (uri, expected) in cases {
            assert_eq!(
                resolve(&resolver, uri),
                vec![expected.parse::<SocketAddr>().unwrap()],
                "{uri}"
            );
        }
    }
}
