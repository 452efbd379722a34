//! The token in use: the cache, the single flight that fetches a new one, and the
//! operations built on them (requestToken, authorize, the Authorization header, renewal).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use zeroize::Zeroizing;

use super::events::LogLevel;
use super::fetch;
use super::options::AuthOptions;
use super::reentry;
use super::{
    Auth, Means, check_auth_options, given_token, lock, prepare_defaults, renewal_impossible,
};
use crate::core::client_id::check_compatible;
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::material::TokenMaterial;
use crate::core::renewal::{Arrival, classify_arrival, renewal_floor};
use crate::core::sign;
use crate::core::token::{TokenDetails, TokenParams, TokenRequest};
use crate::http::rest::RestClient;

/// The token in use, its ready-made `Authorization` value, and when it needs renewing.
pub(super) struct CachedToken {
    pub(super) details: TokenDetails,
    pub(super) header: Zeroizing<String>,
    /// Server time (ms) from which the token counts as expired: `expires` less the
    /// margin, the margin at most half the token's life; `None` when it never expires.
    pub(super) renew_at: Option<u64>,
    /// What the token was worth to renewal ahead when it was fetched (given tokens: fresh).
    pub(super) arrival: Arrival,
    /// Tokens in a row, this one included, that were of no use to renewal ahead (0 when
    /// this one is fresh): the floor of the next renewal doubles with each
    /// ([`crate::core::renewal`]).
    pub(super) streak: u32,
    /// Server time (ms) when it was fetched (0 for a given token).
    arrived_at: u64,
    /// Set once a caller found the token expired: it then stays expired, whatever the
    /// server offset learnt afterwards (see [`CachedToken::is_stale_at`]).
    judged_stale: AtomicBool,
}

impl CachedToken {
    pub(super) fn new(details: TokenDetails, margin_ms: u64) -> Arc<Self> {
        Arc::new(Self::build(details, margin_ms))
    }

    fn build(details: TokenDetails, margin_ms: u64) -> Self {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&details.token);
        let margin = details.usable_margin(margin_ms);
        CachedToken {
            header: Zeroizing::new(format!("Bearer {encoded}")),
            renew_at: details.expires.map(|e| e.saturating_sub(margin)),
            details,
            arrival: Arrival::Fresh,
            streak: 0,
            arrived_at: 0,
            judged_stale: AtomicBool::new(false),
        }
    }

    /// A token fetched at server time `now`, `previous` being the token in use then:
    /// classified for renewal ahead, its streak carried on from `previous`.
    pub(super) fn fetched(
        details: TokenDetails,
        margin_ms: u64,
        now: u64,
        previous: Option<&CachedToken>,
    ) -> Arc<Self> {
        let mut token = Self::build(details, margin_ms);
        token.arrived_at = now;
        let repeated = previous.is_some_and(|p| p.details.token == token.details.token);
        token.arrival = classify_arrival(now, token.renew_at, repeated);
        token.streak = match token.arrival {
            Arrival::Fresh => 0,
            _ => previous.map_or(0, |p| p.streak).saturating_add(1),
        };
        Arc::new(token)
    }

    /// Why this token is of no use to renewal ahead, for a log line and listeners (`None`
    /// for a fresh token). `margin_ms` is the configured margin, `floor_ms` the time the
    /// next renewal ahead waits at least.
    fn arrival_problem(&self, margin_ms: u64, floor_ms: u64) -> Option<String> {
        let expires = self.details.expires.unwrap_or(self.arrived_at);
        let expires_in = i128::from(expires) - i128::from(self.arrived_at);
        match self.arrival {
            Arrival::Fresh => None,
            Arrival::Short { usable_ms: ..=0 } => Some(format!(
                "the new token counts as expired on arrival: it expires in {} ms, inside the \
                 expiry margin of {margin_ms} ms (tokens shorter than the margin with no \
                 `issued`, a token server whose clock lags, or a cached token handed out \
                 again); {} token(s) like it in a row, so renewal ahead waits {floor_ms} ms \
                 before it asks again",
                expires_in, self.streak
            )),
            Arrival::Short { usable_ms } => Some(format!(
                "the new token is usable for only {usable_ms} ms before it enters its expiry \
                 margin of {margin_ms} ms; {} token(s) like it in a row, so renewal ahead \
                 waits {floor_ms} ms before it asks again",
                self.streak
            )),
            Arrival::Repeated => Some(format!(
                "the token server handed out the token already in use again; {} time(s) in a \
                 row, so renewal ahead waits at least {floor_ms} ms before it asks again",
                self.streak
            )),
        }
    }

    /// Whether the token counts as expired at server time `now_ms`: from `renew_at` on, and
    /// for ever once a caller found it so. A fetch learns the server offset from the new
    /// token's `issued` before that token replaces this one; the offset may then move back
    /// (a local clock that ran ahead), so that this token, which the fetch is replacing,
    /// would look valid again in between. Once judged expired it is never handed out again.
    ///
    /// `now_ms` must be read (with the offset) before this is called: a caller that saw the
    /// offset a fetch learnt then also sees the mark set before that fetch started.
    pub(super) fn is_stale_at(&self, now_ms: u64) -> bool {
        if self.judged_stale.load(Ordering::Acquire) {
            return true;
        }
        let stale = self.renew_at.is_some_and(|at| now_ms >= at);
        if stale {
            self.judged_stale.store(true, Ordering::Release);
        }
        stale
    }
}

/// Who leads a token fetch: a call that needs the token, or the renewal ahead of expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Leader {
    Foreground,
    Background,
}

/// One token fetch in progress; every caller who needs a token meanwhile waits for it, at
/// most until the fetch's deadline (the worst case the options allow). A fetch still
/// running past its deadline (its authCallback never returned) is abandoned: the next
/// caller starts a new one, and the late result is dropped.
pub(super) struct Flight {
    deadline: Instant,
    result: Mutex<Option<Result<Arc<CachedToken>>>>,
    done: Condvar,
}

impl Flight {
    pub(super) fn new(budget: Duration) -> Arc<Self> {
        Arc::new(Flight {
            deadline: Instant::now() + budget,
            result: Mutex::new(None),
            done: Condvar::new(),
        })
    }

    pub(super) fn is_overdue(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn wait(&self) -> Result<Arc<CachedToken>> {
        let mut result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = result.as_ref() {
                return result.clone();
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(ErrorInfo::new(
                    codes::TIMEOUT,
                    0,
                    "the token fetch this call waited for did not finish by its deadline (is the authCallback stuck?)",
                ));
            }
            result = self
                .done
                .wait_timeout(result, self.deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn finish(&self, outcome: Result<Arc<CachedToken>>) {
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.done.notify_all();
    }
}

impl Auth {
    // ----- networked -----------------------------------------------------------------

    /// `Auth#requestToken` (RSA8): a new token from the authCallback, authUrl or key
    /// (in that order of preference), without storing it. `params` and `auth_options`, when
    /// given, replace the stored ones for this call (RSA8e).
    ///
    /// Errors: 40170 for authCallback/authUrl failures (with the cause), the server's error
    /// for a rejected TokenRequest, 40102 for a clientId conflict, 40171 when there is no
    /// means to get a token.
    pub fn request_token(
        &self,
        params: Option<&TokenParams>,
        auth_options: Option<&AuthOptions>,
    ) -> Result<TokenDetails> {
        self.check_may_fetch("requestToken")?;
        let means = self.means();
        let options = auth_options.unwrap_or(&means.options);
        let params = self.effective_params(&means, params);
        self.fetch(options, &params)
    }

    /// `Auth#authorize` (RSA10): get a new token now and use token auth from then on.
    /// Given params and options are stored as the new defaults (RSA10g; not the timestamp
    /// nor queryTime). A token in `auth_options` is used as-is (RSA10e).
    pub fn authorize(
        &self,
        params: Option<&TokenParams>,
        auth_options: Option<&AuthOptions>,
    ) -> Result<TokenDetails> {
        self.check_may_fetch("authorize")?;
        if params.is_some() || auth_options.is_some() {
            let current = self.means();
            let mut options = auth_options
                .cloned()
                .unwrap_or_else(|| current.options.clone());
            let stored_query_time = options.query_time;
            options.query_time = current.options.query_time;
            check_auth_options(&options)?;
            let defaults = match params {
                Some(p) => {
                    let mut p = p.clone();
                    p.timestamp = None;
                    p.nonce = None;
                    // An explicit clientId wins over the options' one (RSA10b, checklist §2.9).
                    let client_id = p.client_id.is_none().then_some(self.client_id.as_deref());
                    prepare_defaults(p, client_id.flatten())?
                }
                None => current.defaults.clone(),
            };
            let given = given_token(&options)?;
            if let Some(details) = &given {
                check_compatible(self.client_id.as_deref(), details.client_id.as_deref())?;
            }
            if stored_query_time && !self.offset_known.load(Ordering::Acquire) {
                self.time()?; // RSA10k: once, and the offset persists
            }
            self.set_means(Means {
                options,
                defaults,
                use_token_auth: true,
            });
            if let Some(details) = given {
                let cached = CachedToken::new(details, self.margin_ms);
                {
                    let mut flight = lock(&self.flight);
                    *flight = None; // a fetch under way is overtaken: its token is not used
                    self.token.store(Some(Arc::clone(&cached)));
                    self.listeners.queue_token(&cached.details);
                }
                self.schedule_renewal(&cached, 0);
                self.listeners.deliver(&self.gate);
                return Ok(cached.details.clone());
            }
        } else if !self.uses_token_auth() {
            let current = self.means();
            self.set_means(Means {
                options: current.options.clone(),
                defaults: current.defaults.clone(),
                use_token_auth: true,
            });
        }
        self.obtain_token(true).map(|t| t.details.clone())
    }

    /// The `Authorization` header value for a request now: `Basic ...` with Basic auth,
    /// else `Bearer base64(token)` for a valid token, fetching or renewing one first when
    /// needed (RSA4b1). A secret: do not log it.
    pub fn authorization_header(&self) -> Result<Zeroizing<String>> {
        if !self.uses_token_auth() {
            return self.basic_header();
        }
        if let Some(token) = self.token.load().as_ref()
            && !token.is_stale_at(self.server_now())
        {
            return Ok(token.header.clone()); // the hot path: no lock, no shared count
        }
        self.obtain_token(false).map(|t| t.header.clone())
    }

    /// Tell the library that a server rejected `token` (a token error, 40140–40149): the
    /// cached token is dropped if it is still that one, so the next call renews. Errors:
    /// 40171 when there is no means to renew.
    pub fn token_rejected(&self, token: Option<&str>) -> Result<()> {
        self.invalidate(token);
        if !self.means().options.can_renew() {
            return Err(renewal_impossible());
        }
        Ok(())
    }

    /// Get a token from `options` for `params` (RSA8), checked against the clientId.
    pub(super) fn fetch(
        &self,
        options: &AuthOptions,
        params: &TokenParams,
    ) -> Result<TokenDetails> {
        let rest = self.rest()?;
        self.note_unknown_operations(params);
        // Whether the library signs the TokenRequest itself (only then may it re-sign one).
        let signs_here = options.auth_callback.is_none() && options.auth_url.is_none();
        let material = if options.auth_callback.is_some() {
            self.log(LogLevel::Debug, || {
                "requesting a token from the authCallback".into()
            });
            fetch::from_callback(&self.gate, options, params, self.request_timeout)?
        } else if let Some(url) = &options.auth_url {
            self.log(LogLevel::Debug, || {
                format!(
                    "requesting a token from the authUrl {}",
                    crate::core::url::redact(url)
                )
            });
            fetch::from_auth_url(rest, options, url, params)?
        } else if let Some(key) = options.key.as_ref() {
            let now = self.timestamp_now(options)?;
            TokenMaterial::Request(sign::create_token_request(key, params, now)?)
        } else {
            return Err(renewal_impossible());
        };
        let details = match material {
            TokenMaterial::Token(token) => TokenDetails::from_token(token),
            TokenMaterial::Details(details) => details,
            TokenMaterial::Request(request) => {
                let resign_with = signs_here.then_some(options.key.as_ref()).flatten();
                self.exchange(rest, resign_with, params, request)?
            }
        };
        check_compatible(self.client_id.as_deref(), details.client_id.as_deref())?;
        Ok(details)
    }

    /// POST the TokenRequest; on 40104 (timestamp outside the window) for a request the
    /// library signed (`resign_with` is its key) with a timestamp it chose, learn the server
    /// time and retry once with a fresh request. A timestamp the caller fixed in the params,
    /// or a TokenRequest an authCallback or authUrl gave, is theirs: the 40104 is returned.
    pub(super) fn exchange(
        &self,
        rest: &RestClient,
        resign_with: Option<&crate::core::key::ApiKey>,
        params: &TokenParams,
        request: TokenRequest,
    ) -> Result<TokenDetails> {
        self.log(LogLevel::Debug, || {
            format!(
                "exchanging a TokenRequest of key {} for a token at Ably",
                request.key_name
            )
        });
        let sent_at = self.clock.now_ms();
        let result = match fetch::exchange(rest, &request) {
            // Only when the library chose the timestamp: re-signing the caller's own fixed
            // timestamp could not succeed.
            Err(e) if e.code == codes::TIMESTAMP_NOT_CURRENT && params.timestamp.is_none() => {
                let Some(key) = resign_with else {
                    return Err(e);
                };
                self.log(LogLevel::Warn, || {
                    "TokenRequest timestamp rejected (40104): reading the server time and retrying once"
                        .into()
                });
                self.time()?;
                let retry = sign::create_token_request(key, params, self.server_now())?;
                fetch::exchange(rest, &retry)
            }
            other => other,
        }?;
        if let Some(issued) = result.issued {
            // A fresh token's issue time is the server's clock (DESIGN §4 item 2).
            self.learn_offset(issued, sent_at);
        }
        Ok(result)
    }

    pub(super) fn invalidate(&self, token: Option<&str>) {
        // Drop the cached token only if it is still the rejected one (RSA16d).
        self.token.rcu(|cached| match (cached, token) {
            (Some(current), Some(t)) if current.details.token != t => Some(Arc::clone(current)),
            _ => None,
        });
    }

    /// The cached token when valid; otherwise one fetch for all concurrent callers. With
    /// `force`, a new token is fetched even when one is cached (authorize).
    ///
    /// The cache and the listeners change together, under the flight lock, and only for
    /// the fetch that is still current: a fetch overtaken by `authorize` neither replaces
    /// the token in use nor is announced. Listeners hear events in that order, after the
    /// lock is released.
    pub(super) fn obtain_token(&self, force: bool) -> Result<Arc<CachedToken>> {
        if !force && let Some(token) = self.valid_cached() {
            return Ok(token);
        }
        self.check_may_fetch("getting a token")?;
        let (flight, leader) = {
            let mut current = lock(&self.flight);
            match current.as_ref() {
                Some(f) if !force && !f.is_overdue() => (Arc::clone(f), false),
                _ => {
                    if !force && let Some(token) = self.valid_cached() {
                        return Ok(token); // a flight finished while we took the lock
                    }
                    let flight = Flight::new(self.fetch_budget());
                    *current = Some(Arc::clone(&flight));
                    (flight, true)
                }
            }
        };
        if !leader {
            return flight.wait();
        }
        self.lead(&flight, Leader::Foreground)
    }

    /// Run the fetch of `flight`, which this thread leads, and publish its outcome: the
    /// cache and the listeners change together, and only if the flight is still current.
    /// A background renewal that fails keeps the token in use (it is still valid).
    pub(super) fn lead(&self, flight: &Arc<Flight>, leader: Leader) -> Result<Arc<CachedToken>> {
        let outcome = self.fetch_for_cache();
        let published = {
            let mut current = lock(&self.flight);
            let still_current = current.as_ref().is_some_and(|f| Arc::ptr_eq(f, flight));
            if still_current {
                *current = None;
                match &outcome {
                    Ok(token) => {
                        self.token.store(Some(Arc::clone(token)));
                        self.listeners.queue_token(&token.details);
                        if let Some(error) = self.arrival_event(token) {
                            self.listeners.queue_failure(&error);
                        }
                    }
                    Err(error) => {
                        if leader == Leader::Foreground {
                            self.token.store(None); // RSA16d
                        }
                        self.listeners.queue_failure(error);
                    }
                }
            }
            still_current
        };
        flight.finish(outcome.clone());
        match &outcome {
            Ok(token) => self.log(LogLevel::Info, || {
                let details = &token.details;
                let client_id = details.client_id.as_deref().unwrap_or("(none)");
                let how = match leader {
                    Leader::Foreground => "new token",
                    Leader::Background => "renewed ahead of expiry: new token",
                };
                match details.expires {
                    Some(expires) => {
                        format!("{how} in use for clientId {client_id}, expires at {expires} ms")
                    }
                    None => format!("{how} in use for clientId {client_id}"),
                }
            }),
            Err(error) => self.log(LogLevel::Error, || match leader {
                Leader::Foreground => format!("getting a token failed: {error}"),
                Leader::Background => {
                    format!(
                        "renewing ahead of expiry failed (the token in use is still valid): {error}"
                    )
                }
            }),
        }
        if published && let Ok(token) = &outcome {
            self.note_arrival(token);
            self.schedule_renewal(token, 0);
        }
        self.listeners.deliver(&self.gate);
        outcome
    }

    /// Refuse an operation that may fetch a token: after shutdown, or from where it would
    /// wait for itself or recurse without end (`super::reentry`).
    pub(super) fn check_may_fetch(&self, operation: &str) -> Result<()> {
        self.check_open()?;
        reentry::check_may_fetch(self.gate.auth_id(), operation)
    }

    pub(super) fn valid_cached(&self) -> Option<Arc<CachedToken>> {
        let cached = self.token.load();
        let token = cached.as_ref()?;
        (!token.is_stale_at(self.server_now())).then(|| Arc::clone(token))
    }

    pub(super) fn fetch_for_cache(&self) -> Result<Arc<CachedToken>> {
        let means = self.means();
        if !means.options.can_renew() {
            // A given token that expired, or was rejected, and nothing to renew it (RSA4a2).
            return Err(renewal_impossible());
        }
        let details = self.fetch(&means.options, &means.defaults)?;
        let now = self.server_now();
        if details.is_expired_at(now, 0) {
            return Err(crate::core::material::callback_error(
                "the new token has already expired",
            ));
        }
        let previous = self.token.load();
        Ok(CachedToken::fetched(
            details,
            self.margin_ms,
            now,
            previous.as_deref(),
        ))
    }

    /// Whether renewal ahead will plan a renewal for tokens of this Auth.
    fn renews_ahead(&self) -> bool {
        self.renew_ahead && self.means().options.can_renew()
    }

    /// The auth-failed event that tells listeners a token that just arrived cannot be
    /// renewed ahead as usual (40142: it counts as expired, or nearly, on arrival), when
    /// renewal ahead is on. A repeated token that is still far from its margin is only
    /// logged ([`Auth::note_arrival`]): token servers that cache tokens are common.
    fn arrival_event(&self, token: &CachedToken) -> Option<ErrorInfo> {
        if !matches!(token.arrival, Arrival::Short { .. }) || !self.renews_ahead() {
            return None;
        }
        let floor = renewal_floor(token.streak, 0.0);
        let message = token.arrival_problem(self.margin_ms, floor)?;
        Some(ErrorInfo::new(codes::TOKEN_EXPIRED, 401, message))
    }

    /// Log why a token that just arrived is of no use to renewal ahead: a warning for one
    /// usable for less than the floor, an info line for the token in use handed out again.
    fn note_arrival(&self, token: &CachedToken) {
        if token.arrival == Arrival::Fresh || !self.renews_ahead() {
            return;
        }
        let level = match token.arrival {
            Arrival::Repeated => LogLevel::Info,
            _ => LogLevel::Warn,
        };
        self.log(level, || {
            let floor = renewal_floor(token.streak, 0.0);
            token
                .arrival_problem(self.margin_ms, floor)
                .unwrap_or_default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_base64_of_the_token() {
        let cached = CachedToken::new(TokenDetails::from_token("abc"), 15_000);
        assert_eq!(cached.header.as_str(), "Bearer YWJj");
    }

    #[test]
    fn log_urls_lose_their_userinfo_and_query() {
        assert_eq!(
            crate::core::url::redact("https://user:pw@a.example/auth?key=s#f"),
            "https://a.example/auth"
        );
    }

    #[test]
    fn fetched_tokens_carry_their_streak() {
        let mut details = TokenDetails::from_token("t");
        details.expires = Some(10_000);
        let first = CachedToken::fetched(details.clone(), 15_000, 0, None);
        assert_eq!(first.arrival, Arrival::Short { usable_ms: 0 });
        assert_eq!(first.streak, 1);
        let again = CachedToken::fetched(details.clone(), 15_000, 0, Some(&first));
        assert_eq!(again.streak, 2, "the streak goes on");
        let message = again.arrival_problem(15_000, 4_000).unwrap();
        assert!(
            message.contains("counts as expired on arrival")
                && message.contains("expires in 10000 ms")
                && message.contains("waits 4000 ms"),
            "{message}"
        );
        details.token = "fresh".into();
        details.expires = Some(100_000);
        let fresh = CachedToken::fetched(details.clone(), 15_000, 0, Some(&again));
        assert_eq!((fresh.arrival, fresh.streak), (Arrival::Fresh, 0));
        let repeated = CachedToken::fetched(details, 15_000, 0, Some(&fresh));
        assert_eq!((repeated.arrival, repeated.streak), (Arrival::Repeated, 1));
        assert!(
            repeated
                .arrival_problem(15_000, 2_000)
                .unwrap()
                .contains("again")
        );
    }
}
