//! Shared set-up for the tests that talk to the loopback Ably-compatible server
//! (`tests/support`): options that point an Auth at it, and small decoders.
#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::time::Duration;

use ably_auth::{Auth, AuthOptions, ClientOptions, ManualClock};
pub use ably_loopback::{
    Action, KeyConfig, LoopbackServer, MintSpec, RecordedRequest, Rule, ServerConfig,
};
use base64::Engine as _;

#[cfg(feature = "http-client")] // its blocking client is the library's built-in one
pub mod host_transport;

/// Make an Auth from `options`, over the transport this run tests: the built-in client, or
/// with `ABLY_TEST_TRANSPORT=host` a host transport through the C ABI (`host_transport`).
pub fn new_auth(options: ClientOptions) -> ably_auth::Result<Arc<Auth>> {
    Auth::new(route(options))
}

/// As [`new_auth`], reading `clock`.
pub fn new_auth_with_clock(
    options: ClientOptions,
    clock: Arc<dyn ably_auth::Clock>,
) -> ably_auth::Result<Arc<Auth>> {
    Auth::with_clock(route(options), clock)
}

fn route(options: ClientOptions) -> ClientOptions {
    #[cfg(feature = "http-client")]
    let options = host_transport::route(options);
    options
}

/// A plain-HTTP loopback server with the default key.
pub fn http_server() -> LoopbackServer {
    LoopbackServer::start(ServerConfig::default())
}

/// An HTTPS loopback server (certificate made now, trusted through `extra_ca_pem`).
pub fn tls_server() -> LoopbackServer {
    LoopbackServer::start(ServerConfig {
        tls: true,
        ..ServerConfig::default()
    })
}

/// Options pointing at `server` with no credentials yet: endpoint 127.0.0.1 (an explicit
/// host, so no fallback hosts), the server's port and scheme, its CA trusted, 3 s timeouts.
pub fn options_for(server: &LoopbackServer) -> ClientOptions {
    let mut options = ClientOptions::default();
    let tls = server.ca_pem().is_some();
    options.endpoint.endpoint = Some("127.0.0.1".into());
    options.endpoint.tls = tls;
    options.endpoint.port = server.port();
    options.endpoint.tls_port = server.port();
    if let Some(pem) = server.ca_pem() {
        options.transport.extra_ca_pem.push(pem);
    }
    options.transport.open_timeout = Duration::from_secs(3);
    options.transport.request_timeout = Duration::from_secs(3);
    options
}

/// Options with the server's key (Basic auth needs `server` to be TLS).
pub fn key_options(server: &LoopbackServer) -> ClientOptions {
    let mut options = options_for(server);
    options.auth = AuthOptions::default()
        .with_key(&server.key().key_string())
        .expect("the loopback key parses");
    options
}

/// An Auth with the server's key that uses token auth (works over plain HTTP too).
pub fn token_auth_with_key(server: &LoopbackServer) -> Arc<Auth> {
    let mut options = key_options(server);
    options.auth.use_token_auth = Some(true);
    new_auth(options).expect("valid options")
}

/// An Auth built from `options` reading `clock`.
pub fn with_clock(options: ClientOptions, clock: &Arc<ManualClock>) -> Arc<Auth> {
    new_auth_with_clock(options, Arc::clone(clock) as Arc<dyn ably_auth::Clock>)
        .expect("valid options")
}

/// The token inside `Bearer base64(token)` (DESIGN §4 item 1: UTS-derived tests assert the
/// decoded value).
pub fn bearer_token(header: &str) -> String {
    let encoded = header
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("not a Bearer header: {header}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("Bearer value is base64");
    String::from_utf8(bytes).expect("token is UTF-8")
}

/// The requests `server` received at paths starting with `prefix`.
pub fn requests_to(server: &LoopbackServer, prefix: &str) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .collect()
}

/// Resolve `host` to `server` (127.0.0.1 and its port) in `options`, so a URL such as
/// `http://auth.example.com:PORT/token` reaches the loopback server with that Host header.
pub fn resolve_to_server(options: &mut ClientOptions, host: &str, server: &LoopbackServer) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port()));
    options.transport.resolve.push((host.to_owned(), addr));
}

/// A token minted by `server` (so the server accepts it), parsed as the library's TokenDetails.
pub fn minted(server: &LoopbackServer, spec: MintSpec) -> ably_auth::TokenDetails {
    ably_auth::TokenDetails::from_json(&server.mint_token(spec).json).expect("minted TokenDetails")
}

// ----- helpers added for the networked UTS ports (renewal, fallback, rest_client) -----

/// The local system clock in ms since the epoch.
pub fn now_ms() -> u64 {
    ably_auth::Clock::now_ms(&ably_auth::SystemClock)
}

/// A 127.0.0.1 port with nothing listening (bound, then released).
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// The default primary domain (REC1a).
pub const DEFAULT_PRIMARY_HOST: &str = "main.realtime.ably.net";

/// The default fallback domains (REC2c1).
pub const DEFAULT_FALLBACK_HOSTS: [&str; 5] = [
    "main.a.fallback.ably-realtime.com",
    "main.b.fallback.ably-realtime.com",
    "main.c.fallback.ably-realtime.com",
    "main.d.fallback.ably-realtime.com",
    "main.e.fallback.ably-realtime.com",
];

/// The default Ably hosts, each served by its own plain-HTTP loopback server: options with
/// no endpoint (so the default primary and fallbacks apply), `tls: false` on port 80 (so URLs
/// and `Host` headers carry the bare host name) and every host name resolved to its server's
/// 127.0.0.1 port through `TransportOptions.resolve`.
pub struct DefaultHosts {
    pub primary: LoopbackServer,
    /// In the order of [`DEFAULT_FALLBACK_HOSTS`].
    pub fallbacks: Vec<LoopbackServer>,
}

impl DefaultHosts {
    pub fn start() -> DefaultHosts {
        DefaultHosts {
            primary: http_server(),
            fallbacks: DEFAULT_FALLBACK_HOSTS
                .iter()
                .map(|_| http_server())
                .collect(),
        }
    }

    /// Options with no credentials; every default host resolved to its server.
    pub fn options(&self) -> ClientOptions {
        let mut options = ClientOptions::default();
        options.endpoint.tls = false;
        options.endpoint.port = 80;
        options.transport.resolve = self.resolve_map();
        options.transport.open_timeout = Duration::from_secs(2);
        options.transport.request_timeout = Duration::from_secs(2);
        options
    }

    /// `(host name, 127.0.0.1:port)` for the primary and the five fallbacks.
    pub fn resolve_map(&self) -> Vec<(String, std::net::SocketAddr)> {
        let addr = |s: &LoopbackServer| std::net::SocketAddr::from(([127, 0, 0, 1], s.port()));
        std::iter::once((DEFAULT_PRIMARY_HOST.to_owned(), addr(&self.primary)))
            .chain(
                DEFAULT_FALLBACK_HOSTS
                    .iter()
                    .zip(&self.fallbacks)
                    .map(|(h, s)| ((*h).to_owned(), addr(s))),
            )
            .collect()
    }

    /// Options with a token (time() needs no credentials; a token avoids RSC18's Basic check).
    pub fn token_options(&self) -> ClientOptions {
        let mut options = self.options();
        options.auth.token = Some("unused-token".into());
        options
    }

    /// Every server with the host name it stands for.
    pub fn all(&self) -> Vec<(&str, &LoopbackServer)> {
        std::iter::once((DEFAULT_PRIMARY_HOST, &self.primary))
            .chain(DEFAULT_FALLBACK_HOSTS.iter().copied().zip(&self.fallbacks))
            .collect()
    }

    /// Every request any host received, each with the host name its server stands for;
    /// grouped by server (primary first), not in arrival order.
    pub fn requests(&self) -> Vec<(&str, RecordedRequest)> {
        self.all()
            .into_iter()
            .flat_map(|(host, s)| s.requests().into_iter().map(move |r| (host, r)))
            .collect()
    }

    /// The requests received by the fallback servers, with their host names.
    pub fn fallback_requests(&self) -> Vec<(&str, RecordedRequest)> {
        self.requests()
            .into_iter()
            .filter(|(h, _)| *h != DEFAULT_PRIMARY_HOST)
            .collect()
    }

    /// Pushes a copy of `rule` to every fallback server.
    pub fn push_fallback_rule(&self, rule: Rule) {
        for s in &self.fallbacks {
            s.push_rule(rule.clone());
        }
    }
}
