//! Requests to Ably hosts: Ably headers (RSC7e, RSC7d), request ids (RSC7c), host
//! fallback (RSC15) with a remembered fallback host (RSC15f).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::seq::SliceRandom;

use super::{HttpRequest, HttpResponse, Method, RequestPurpose, Transport};
use crate::core::endpoint::HostPlan;
use crate::core::error::Result;

/// The protocol version sent in `X-Ably-Version` (RSC7e, CSV2).
pub const PROTOCOL_VERSION: &str = "6";

/// The `Ably-Agent` product token of this library (RSC7d1).
pub const AGENT: &str = concat!("ably-auth/", env!("CARGO_PKG_VERSION"));

/// Characters escaped in a path segment: controls, space, and those with a meaning in a
/// URL (`/ ? # %` and the unsafe ones). A key name such as `appId.keyId` passes unchanged,
/// as other Ably clients send it.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `segment` percent-encoded for use as one path segment.
pub fn path_segment(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

/// Fallback limits (RSC15a, RSC15f; TO3l6, TO3l10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackPolicy {
    /// Fallback hosts tried after the first host at most (`httpMaxRetryCount`, default 3).
    pub max_retry_count: usize,
    /// Total time after which no further host is tried (`httpMaxRetryDuration`, 15 s).
    pub max_retry_duration: Duration,
    /// How long a fallback that worked stays preferred (`fallbackRetryTimeout`, 10 min).
    pub fallback_retry_timeout: Duration,
}

impl Default for FallbackPolicy {
    fn default() -> Self {
        FallbackPolicy {
            max_retry_count: 3,
            max_retry_duration: Duration::from_secs(15),
            fallback_retry_timeout: Duration::from_secs(600),
        }
    }
}

/// One request to Ably, before a host is chosen.
#[derive(Debug)]
pub struct RestRequest<'a> {
    /// The method.
    pub method: Method,
    /// The path, starting with `/`, already percent-encoded.
    pub path: &'a str,
    /// Query parameters (not yet encoded).
    pub query: &'a [(String, String)],
    /// Extra headers (Authorization, Content-Type, ...).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Option<Vec<u8>>,
    /// The largest response body accepted.
    pub max_response_bytes: usize,
}

/// Sends requests to the primary host and, on qualifying failures, to fallback hosts.
pub struct RestClient {
    transport: Arc<dyn Transport>,
    plan: HostPlan,
    policy: FallbackPolicy,
    agent: String,
    add_request_ids: bool,
    /// Each request may take this long (TO3l4).
    request_timeout: Duration,
    /// The fallback host that last worked and until when it is preferred (RSC15f).
    preferred: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("plan", &self.plan)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Whether an HTTP response justifies trying another host (RSC15l3, RSC15l4).
fn response_qualifies(response: &HttpResponse) -> bool {
    (500..=504).contains(&response.status)
        || (response.status >= 400
            && response
                .header("server")
                .is_some_and(|s| s.eq_ignore_ascii_case("cloudfront")))
}

impl RestClient {
    /// A client for `plan`. `extra_agents` are appended to the `Ably-Agent` value (RSC7d6);
    /// every request may take `request_timeout` (TO3l4).
    pub fn new(
        transport: Arc<dyn Transport>,
        plan: HostPlan,
        policy: FallbackPolicy,
        extra_agents: &[String],
        add_request_ids: bool,
        request_timeout: Duration,
    ) -> Self {
        let mut agent = String::from(AGENT);
        for extra in extra_agents {
            agent.push(' ');
            agent.push_str(extra);
        }
        RestClient {
            transport,
            plan,
            policy,
            agent,
            add_request_ids,
            request_timeout,
            preferred: Mutex::new(None),
        }
    }

    /// The host plan in use.
    pub fn plan(&self) -> &HostPlan {
        &self.plan
    }

    /// The `Ably-Agent` value sent.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The transport.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The time each request may take (TO3l4).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Send a request that is not to Ably (authUrl): no fallback, no Ably headers; its
    /// purpose becomes [`RequestPurpose::AuthUrl`] and it may take `timeout` (what is left of
    /// the request timeout for a chain of redirects), at most the request timeout.
    pub fn send_to_auth_url(
        &self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> std::result::Result<HttpResponse, super::TransportError> {
        let request = HttpRequest {
            purpose: RequestPurpose::AuthUrl,
            timeout: timeout.min(self.request_timeout),
            ..request.clone()
        };
        self.transport.send(&request)
    }

    fn first_host(&self) -> (String, bool) {
        let mut preferred = self
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match preferred.as_ref() {
            Some((host, until)) if Instant::now() < *until => (host.clone(), true),
            Some(_) => {
                *preferred = None; // expired (RSC15f)
                (self.plan.primary.clone(), false)
            }
            None => (self.plan.primary.clone(), false),
        }
    }

    fn forget_preferred(&self, host: &str) {
        let mut preferred = self
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if preferred.as_ref().is_some_and(|(h, _)| h == host) {
            *preferred = None;
        }
    }

    fn remember_preferred(&self, host: &str) {
        let until = Instant::now() + self.policy.fallback_retry_timeout;
        *self
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((host.to_owned(), until));
    }

    /// Send `request`, falling back to other hosts on qualifying failures. Returns the
    /// response of the last host tried whatever its status, or the ErrorInfo of the last
    /// transport failure. Blocks; holds no lock while the network runs.
    pub fn execute(&self, request: RestRequest<'_>) -> Result<HttpResponse> {
        let started = Instant::now();
        let mut query: Vec<(&str, &str)> = request
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let request_id = self.add_request_ids.then(|| {
            let bytes: [u8; 12] = rand::random();
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        });
        if let Some(id) = &request_id {
            query.push(("request_id", id)); // the same on every host (RSC7c)
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            // for_suffix: the `?` is not a pair of the query (`new` would write `?&a=b`).
            let mut encoded = form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
            encoded.extend_pairs(query);
            encoded.finish()
        };
        let mut headers = vec![
            ("X-Ably-Version".to_owned(), PROTOCOL_VERSION.to_owned()),
            ("Ably-Agent".to_owned(), self.agent.clone()),
        ];
        headers.extend(request.headers);

        let (first, first_is_preferred) = self.first_host();
        let mut fallbacks: Vec<&String> = self
            .plan
            .fallbacks
            .iter()
            .filter(|h| **h != first)
            .collect();
        fallbacks.shuffle(&mut rand::rng()); // RSC15a: random order
        fallbacks.truncate(self.policy.max_retry_count);
        let hosts = std::iter::once(&first).chain(fallbacks);

        let mut last = None;
        for (attempt, host) in hosts.enumerate() {
            if attempt > 0 && started.elapsed() >= self.policy.max_retry_duration {
                break;
            }
            let http_request = HttpRequest {
                method: request.method,
                url: format!("{}{}{}", self.plan.base_url(host), request.path, query),
                headers: headers.clone(),
                body: request.body.clone(),
                max_response_bytes: request.max_response_bytes,
                purpose: RequestPurpose::Ably,
                timeout: self.request_timeout,
            };
            let outcome = self.transport.send(&http_request);
            let qualifies = match &outcome {
                Ok(response) => response_qualifies(response),
                Err(error) => error.qualifies_for_fallback(),
            };
            if !qualifies {
                // A fallback reached from the primary becomes preferred (RSC15f); a host that
                // was already preferred is not renewed, so an expired one is not resurrected.
                if attempt > 0 && outcome.is_ok() {
                    self.remember_preferred(host);
                }
                return outcome.map_err(|e| e.to_error_info(host));
            }
            if attempt == 0 && first_is_preferred {
                self.forget_preferred(host);
            }
            last = Some(outcome.map_err(|e| e.to_error_info(host)));
        }
        last.expect("at least the first host is always tried")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_pass_unescaped_and_separators_do_not() {
        assert_eq!(path_segment("appId.keyId"), "appId.keyId");
        assert_eq!(path_segment("a/b?c#d e%"), "a%2Fb%3Fc%23d%20e%25");
    }
}
