//! ClientOptions (TO3, the auth and REST transport part) and AuthOptions (AO2).

use std::fmt;
use std::sync::Arc;

use super::callback::AuthCallback;
use super::events::Logger;
use crate::core::endpoint::EndpointOptions;
use crate::core::key::ApiKey;
use crate::core::token::{TokenDetails, TokenParams};
use crate::http::rest::FallbackPolicy;
use crate::http::{Method, Transport, TransportOptions};

/// AuthOptions (AO2): the means of authentication.
#[derive(Clone, Default)]
pub struct AuthOptions {
    /// The API key (AO2a), parsed; its secret is redacted in `Debug`.
    pub key: Option<ApiKey>,
    /// A token string (AO2h).
    pub token: Option<String>,
    /// A TokenDetails (AO2i).
    pub token_details: Option<TokenDetails>,
    /// Force token auth (AO2j). `None` means unset: token auth then follows from the
    /// presence of a token, authUrl or authCallback (RSA4).
    pub use_token_auth: Option<bool>,
    /// The authCallback (AO2b, RSA8d): called for a token, TokenDetails or TokenRequest.
    pub auth_callback: Option<Arc<dyn AuthCallback>>,
    /// The authUrl (AO2c, RSA8c).
    pub auth_url: Option<String>,
    /// The authUrl method (AO2d): GET (default) or POST.
    pub auth_method: Option<Method>,
    /// Headers sent to the authUrl (AO2e). Values are redacted in `Debug`.
    pub auth_headers: Vec<(String, String)>,
    /// Parameters sent to the authUrl (AO2f).
    pub auth_params: Vec<(String, String)>,
    /// Ask Ably for the time before signing a TokenRequest (AO2g, RSA9d).
    pub query_time: bool,
}

impl fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.auth_headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("AuthOptions")
            .field("key", &self.key)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_details", &self.token_details)
            .field("use_token_auth", &self.use_token_auth)
            .field(
                "auth_callback",
                &self.auth_callback.as_ref().map(|_| "<fn>"),
            )
            .field("auth_url", &self.auth_url)
            .field("auth_method", &self.auth_method)
            .field("auth_header_names", &header_names)
            .field("auth_params", &self.auth_params)
            .field("query_time", &self.query_time)
            .finish()
    }
}

impl AuthOptions {
    /// Parse and set the API key (errors are 40101 and never quote the key).
    pub fn with_key(mut self, key: &str) -> crate::core::error::Result<Self> {
        self.key = Some(ApiKey::parse(key)?);
        Ok(self)
    }

    /// Whether these options hold a way to get a new token (RSA4a: key, authUrl or
    /// authCallback).
    pub fn can_renew(&self) -> bool {
        self.key.is_some() || self.auth_url.is_some() || self.auth_callback.is_some()
    }
}

/// The options an [`super::Auth`] is built from (TO3).
#[derive(Clone)]
pub struct ClientOptions {
    /// Means of authentication.
    pub auth: AuthOptions,
    /// The client identity (TO3a); `*` is not allowed here (RSA7c).
    pub client_id: Option<String>,
    /// Defaults for every token request (TO3j11).
    pub default_token_params: Option<TokenParams>,
    /// Hosts, scheme and ports (REC1, REC2, RSC18).
    pub endpoint: EndpointOptions,
    /// Timeouts, extra CAs and fixed host addresses (RSC13).
    pub transport: TransportOptions,
    /// Fallback limits (RSC15).
    pub fallback: FallbackPolicy,
    /// Add a `request_id` query parameter to Ably requests (RSC7c).
    pub add_request_ids: bool,
    /// Extra `name/version` entries for the `Ably-Agent` header (RSC7d6).
    pub agents: Vec<String>,
    /// A token counts as expired this many milliseconds before its `expires` (default
    /// 15 000), so it is renewed before a request could carry an expired token.
    pub token_expiry_margin_ms: u64,
    /// Where log lines go, and from which level.
    pub logger: Option<Logger>,
    /// A transport to use instead of the built-in ureq one: the application's own HTTP
    /// stack, synchronous (implement `http::Transport`) or answering later from any thread
    /// (`http::host::HostTransport` over an `http::host::HttpHost`). Options only the
    /// built-in client honours are then refused (40000).
    pub custom_transport: Option<Arc<dyn Transport>>,
    /// Worker threads for non-blocking calls and renewal (default 2, at most 16), plus one
    /// thread that delivers completions; started on first use.
    pub worker_threads: usize,
    /// Renew a token in the background before it enters its expiry margin (default on),
    /// so that the header never waits on the network while a valid token exists. Off: no
    /// library thread is started unless a non-blocking call is made.
    pub renew_ahead: bool,
    /// The most non-blocking calls in flight at once (default
    /// [`DEFAULT_MAX_CALLS_IN_FLIGHT`]): a start past it fails with
    /// `codes::TOO_MANY_CALLS` and its completion never runs. A call is in flight from its
    /// start until its work has ended on a worker, or was dropped unstarted.
    pub max_calls_in_flight: usize,
}

/// The default bound on non-blocking calls in flight per Auth.
pub const DEFAULT_MAX_CALLS_IN_FLIGHT: usize = 10_000;

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            auth: AuthOptions::default(),
            client_id: None,
            default_token_params: None,
            endpoint: EndpointOptions::default(),
            transport: TransportOptions::default(),
            fallback: FallbackPolicy::default(),
            add_request_ids: false,
            agents: Vec::new(),
            token_expiry_margin_ms: 15_000,
            logger: None,
            custom_transport: None,
            worker_threads: 2,
            renew_ahead: true,
            max_calls_in_flight: DEFAULT_MAX_CALLS_IN_FLIGHT,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("auth", &self.auth)
            .field("client_id", &self.client_id)
            .field("default_token_params", &self.default_token_params)
            .field("endpoint", &self.endpoint)
            .field("transport", &self.transport)
            .field("fallback", &self.fallback)
            .field("add_request_ids", &self.add_request_ids)
            .field("agents", &self.agents)
            .field("token_expiry_margin_ms", &self.token_expiry_margin_ms)
            .field("worker_threads", &self.worker_threads)
            .field("renew_ahead", &self.renew_ahead)
            .field("max_calls_in_flight", &self.max_calls_in_flight)
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// The auth part of options given to one call (requestToken, authorize: RSA8e,
    /// RSA10). Errors: 40003 naming each option that is not an auth option, since a call
    /// cannot apply a clientId, hosts, timeouts or logging of its own.
    pub fn into_auth_options(self) -> crate::core::error::Result<AuthOptions> {
        let ClientOptions {
            auth,
            client_id,
            default_token_params,
            endpoint,
            transport,
            fallback,
            add_request_ids,
            agents,
            token_expiry_margin_ms,
            logger,
            custom_transport,
            worker_threads,
            renew_ahead,
            max_calls_in_flight,
        } = self;
        let defaults = ClientOptions::default();
        let set: Vec<&str> = [
            ("clientId", client_id.is_some()),
            ("defaultTokenParams", default_token_params.is_some()),
            ("endpoint/hosts/port/tls", endpoint != defaults.endpoint),
            ("timeouts/CA/resolve", transport != defaults.transport),
            ("fallback retry options", fallback != defaults.fallback),
            ("addRequestIds", add_request_ids),
            ("agents", !agents.is_empty()),
            (
                "tokenExpiryMargin",
                token_expiry_margin_ms != defaults.token_expiry_margin_ms,
            ),
            ("log", logger.is_some()),
            ("transport", custom_transport.is_some()),
            ("workerThreads", worker_threads != defaults.worker_threads),
            ("renewAhead", renew_ahead != defaults.renew_ahead),
            (
                "maxCallsInFlight",
                max_calls_in_flight != defaults.max_calls_in_flight,
            ),
        ]
        .into_iter()
        .filter_map(|(name, is_set)| is_set.then_some(name))
        .collect();
        if set.is_empty() {
            Ok(auth)
        } else {
            Err(crate::core::error::ErrorInfo::invalid_value(format!(
                "the options of one call may only hold auth options (key, token, authUrl, authCallback, queryTime...); also set: {}",
                set.join(", ")
            )))
        }
    }

    /// Options holding just an API key: the common case of a token-issuing server.
    pub fn from_key(key: &str) -> crate::core::error::Result<Self> {
        Ok(ClientOptions {
            auth: AuthOptions::default().with_key(key)?,
            ..ClientOptions::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_of_one_call_hold_auth_options_only() {
        let mut options = ClientOptions::default();
        options.auth.token = Some("t".into());
        options.auth.query_time = true;
        assert_eq!(
            options.into_auth_options().unwrap().token.as_deref(),
            Some("t")
        );

        let mut options = ClientOptions {
            client_id: Some("c".into()),
            renew_ahead: false,
            ..ClientOptions::default()
        };
        options.endpoint.port = 8080;
        let error = options.into_auth_options().unwrap_err();
        assert_eq!(
            error.code,
            crate::core::error::codes::INVALID_PARAMETER_VALUE
        );
        assert!(
            error
                .message
                .ends_with("clientId, endpoint/hosts/port/tls, renewAhead"),
            "{}",
            error.message
        );
    }
}
