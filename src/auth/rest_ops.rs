//! Requests to Ably on behalf of the caller: authenticated requests (RSC10), `time()`
//! (RSC16) and revokeTokens (RSA17), and the REST client they share.

use std::time::Duration;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::events::LogLevel;
use super::{Auth, reentry, renewal_impossible};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::material::{RevocationResult, parse_revocation_result, parse_time};
use crate::http::rest::{RestClient, RestRequest, path_segment};
use crate::http::{HttpResponse, Method};

impl Auth {
    /// The longest one request to Ably may take, fallback hosts included: each attempt is
    /// bounded by the request timeout `T`, at most `1 + httpMaxRetryCount` hosts are tried,
    /// and none is started after `httpMaxRetryDuration` `D`; so `min((1 + count) × T, D + T)`.
    pub(super) fn rest_budget(&self) -> Duration {
        let policy = &self.rest_config.fallback;
        let per_attempt = self.rest_config.transport.request_timeout;
        let attempts = u32::try_from(policy.max_retry_count.saturating_add(1)).unwrap_or(u32::MAX);
        per_attempt
            .saturating_mul(attempts)
            .min(policy.max_retry_duration.saturating_add(per_attempt))
    }

    /// The longest one token fetch may take: the authCallback or authUrl answer (`T`),
    /// then the TokenRequest exchange, and on 40104 a `/time` request and one more exchange.
    pub(super) fn fetch_budget(&self) -> Duration {
        self.request_timeout
            .saturating_add(self.rest_budget().saturating_mul(3))
    }

    /// An authenticated request to Ably REST (RSC10, RSC19): the current credentials, the Ably
    /// headers, host fallback, and on a token error (401 with 40140..=40149) one renewal and
    /// one retry. `path` starts with `/`.
    ///
    /// Every answer from the server is `Ok`, whatever its status (RSC19d: like an
    /// `HttpPaginatedResponse`), so the caller sees the body and headers of an error answer
    /// too (`Retry-After` on a 429, Ably's error body); [`HttpResponse::error_info`] parses
    /// the ErrorInfo of one with status 400 or more. `Err` means no usable answer: bad
    /// arguments, a network failure (RSC19e), or a token that could not be renewed.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<HttpResponse> {
        check_request_args(path, headers)?;
        self.check_may_send("request")?;
        let send = |authorization: &str| {
            let mut all = vec![("Authorization".to_owned(), authorization.to_owned())];
            all.extend(self.client_id_header());
            all.extend(headers.iter().cloned());
            self.execute_logged(RestRequest {
                method,
                path,
                query,
                headers: all,
                body: body.map(<[u8]>::to_vec),
                max_response_bytes: 16 * 1024 * 1024,
            })
        };
        if !self.uses_token_auth() {
            return send(&self.basic_header()?);
        }
        let token = self.obtain_token(false)?;
        let response = send(&token.header)?;
        if response.status != 401 {
            return Ok(response);
        }
        let error = response.error_info();
        if !error.is_token_error() {
            return Ok(response); // RSC10b: not a token error, no renewal
        }
        self.invalidate(Some(&token.details.token));
        if !self.means().options.can_renew() {
            let error = renewal_impossible().with_cause(error);
            self.listeners.queue_failure(&error);
            self.listeners.deliver(&self.gate);
            return Err(error); // RSA4a2
        }
        self.log(LogLevel::Warn, || {
            format!(
                "token rejected with {}; renewing once and retrying",
                error.code
            )
        });
        let renewed = self.obtain_token(false)?;
        send(&renewed.header)
    }

    /// `time()` (RSC16): the server time in ms since the epoch, from `GET /time` without
    /// credentials. Also records the server offset (RSA10k).
    pub fn time(&self) -> Result<u64> {
        self.check_may_send("time")?;
        let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
        headers.extend(self.client_id_header());
        let sent_at = self.clock.now_ms();
        let response = self.execute_logged(RestRequest {
            method: Method::Get,
            path: "/time",
            query: &[],
            headers,
            body: None,
            max_response_bytes: 4096,
        })?;
        if !response.is_success() {
            return Err(response.error_info());
        }
        let server = parse_time(&response.body)?;
        self.learn_offset(server, sent_at);
        Ok(server)
    }

    /// `revokeTokens` (RSA17): revoke tokens matching `targets` (`type:value`, e.g.
    /// `clientId:alice`). Needs Basic auth (40162/401 otherwise, RSA17d).
    pub fn revoke_tokens(
        &self,
        targets: &[String],
        issued_before: Option<u64>,
        allow_reauth_margin: Option<bool>,
    ) -> Result<RevocationResult> {
        if self.uses_token_auth() {
            return Err(ErrorInfo::new(
                codes::REQUIRES_BASIC_AUTH,
                401,
                "revokeTokens requires Basic authentication, but this client uses token auth",
            ));
        }
        check_revoke_targets(targets)?;
        let key = self.key.as_ref().ok_or_else(|| {
            ErrorInfo::new(
                codes::REQUIRES_BASIC_AUTH,
                401,
                "revokeTokens needs an API key",
            )
        })?;
        self.check_may_send("revokeTokens")?;
        let mut body = serde_json::Map::new();
        body.insert("targets".into(), serde_json::json!(targets));
        if let Some(before) = issued_before {
            body.insert("issuedBefore".into(), before.into());
        }
        if let Some(margin) = allow_reauth_margin {
            body.insert("allowReauthMargin".into(), margin.into());
        }
        let path = format!("/keys/{}/revokeTokens", path_segment(key.name()));
        let mut headers = vec![
            (
                "Authorization".to_owned(),
                key.basic_authorization().to_string(),
            ),
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
        ];
        headers.extend(self.client_id_header());
        let response = self.execute_logged(RestRequest {
            method: Method::Post,
            path: &path,
            query: &[],
            headers,
            body: Some(serde_json::Value::Object(body).to_string().into_bytes()),
            max_response_bytes: 4 * 1024 * 1024,
        })?;
        let legacy_batch = response.status == 400
            && serde_json::from_slice::<serde_json::Value>(&response.body)
                .is_ok_and(|v| v.get("batchResponse").is_some());
        if !response.is_success() && !legacy_batch {
            return Err(response.error_info());
        }
        parse_revocation_result(&response.body)
    }

    /// Refuse network I/O started from where it is not allowed: after shutdown, and from
    /// inside a log sink (`super::reentry`). Every operation that sends a request checks
    /// this first, also one that needs no token fetch (`time`, `revokeTokens`, a request
    /// with a valid token cached or with Basic auth).
    pub(super) fn check_may_send(&self, operation: &str) -> Result<()> {
        self.check_open()?;
        reentry::check_may_send(operation)
    }

    /// Send a request to Ably; its outcome is logged at info (an answer, whatever its
    /// status) or warn (no answer). Paths name no secret (key names only).
    fn execute_logged(&self, request: RestRequest<'_>) -> Result<HttpResponse> {
        // Every request of the Auth passes here: after shutdown none is sent, and none from
        // inside a log sink, whichever call (blocking or not) asks for it. (Each operation
        // also checks on entry, before any other work.)
        self.check_may_send("a request to Ably")?;
        let (method, path) = (request.method, request.path.to_owned());
        let outcome = self.rest()?.execute(request);
        match &outcome {
            Ok(r) => self.log(LogLevel::Info, || {
                format!("{} {path} -> HTTP {}", method.as_str(), r.status)
            }),
            Err(e) => self.log(LogLevel::Warn, || {
                format!("{} {path} failed: {e}", method.as_str())
            }),
        }
        outcome
    }

    pub(super) fn rest(&self) -> Result<&RestClient> {
        self.rest
            .get_or_init(|| {
                let config = &self.rest_config;
                let transport = crate::http::build_transport(
                    config.custom_transport.as_ref(),
                    &config.transport,
                    crate::http::rest::AGENT,
                )?;
                Ok(RestClient::new(
                    transport,
                    config.plan.clone(),
                    config.fallback.clone(),
                    &config.agents,
                    config.add_request_ids,
                    config.transport.request_timeout,
                ))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(super) fn basic_header(&self) -> Result<Zeroizing<String>> {
        if !self.rest_config.plan.tls {
            return Err(ErrorInfo::new(
                codes::INSECURE_BASIC_AUTH,
                401,
                "Basic authentication over an insecure connection (tls is false)",
            ));
        }
        let key = self.key.as_ref().ok_or_else(|| {
            ErrorInfo::new(
                codes::NO_AUTH_METHOD,
                401,
                "no key for Basic authentication",
            )
        })?;
        Ok(key.basic_authorization())
    }

    /// `X-Ably-ClientId: base64(clientId)` when the options name a clientId (RSA7e2).
    pub(super) fn client_id_header(&self) -> Option<(String, String)> {
        self.client_id.as_ref().map(|id| {
            (
                "X-Ably-ClientId".to_owned(),
                base64::engine::general_purpose::STANDARD.encode(id),
            )
        })
    }
}

/// Check the arguments of [`Auth::request`]: `path` starts with `/` and every header is a
/// valid HTTP header. Shared by the blocking form and the non-blocking one, which checks
/// before it starts.
pub(super) fn check_request_args(path: &str, headers: &[(String, String)]) -> Result<()> {
    if !path.starts_with('/') {
        return Err(ErrorInfo::invalid_value("path must start with '/'"));
    }
    for (name, value) in headers {
        crate::http::check_header(name, value)?;
    }
    Ok(())
}

/// Check the arguments of [`Auth::revoke_tokens`]: at least one target, each `type:value`.
/// Shared by the blocking form and the non-blocking one, which checks before it starts.
pub(super) fn check_revoke_targets(targets: &[String]) -> Result<()> {
    if targets.is_empty() {
        return Err(ErrorInfo::invalid_value(
            "revokeTokens needs at least one target",
        ));
    }
    if let Some(bad) = targets.iter().find(|t| !t.contains(':')) {
        return Err(ErrorInfo::invalid_value(format!(
            "a revocation target must be type:value, got {:?}",
            crate::core::material::truncate(bad, 64)
        )));
    }
    Ok(())
}
