//! The Auth object: options, stored defaults, the token cache and every operation on them,
//! offline (createTokenRequest, JWTs) and networked (requestToken, authorize, renewal,
//! revokeTokens, time, authenticated requests).
//!
//! Shared state: `means` and `token` are read-mostly [`ArcSwap`]s (readers take no lock and
//! touch no shared reference count); `flight` coordinates the single token fetch in
//! progress. No lock is held while the network or a user callback runs.

mod callback;
mod events;
mod fetch;
mod options;

pub use callback::{AuthCallback, Completion, auth_callback_fn};
pub use events::{AuthEvent, ListenerId, LogLevel, Logger};
pub use options::{AuthOptions, ClientOptions};

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use arc_swap::{ArcSwap, ArcSwapOption};
use std::thread::ThreadId;
use std::time::Duration;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::core::client_id::{check_compatible, effective_client_id};
use crate::core::clock::{Clock, SystemClock};
use crate::core::endpoint::{self, HostPlan};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::key::ApiKey;
use crate::core::material::{RevocationResult, TokenMaterial, parse_revocation_result, parse_time};
use crate::core::token::{TokenDetails, TokenParams, TokenRequest};
use crate::core::{jwt, sign};
use crate::http::rest::{RestClient, RestRequest, path_segment};
use crate::http::{HttpResponse, Method, Transport, TransportOptions, UreqTransport};
use events::Listeners;

/// The means of getting tokens and the defaults in force; replaced by `authorize`.
struct Means {
    options: AuthOptions,
    /// `defaultTokenParams` (or authorize's params), canonical, options' clientId applied.
    defaults: TokenParams,
    use_token_auth: bool,
}

/// The token in use and its ready-made `Authorization` value.
struct CachedToken {
    details: TokenDetails,
    header: Zeroizing<String>,
}

impl CachedToken {
    fn new(details: TokenDetails) -> Arc<Self> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&details.token);
        Arc::new(CachedToken {
            header: Zeroizing::new(format!("Bearer {encoded}")),
            details,
        })
    }
}

/// One token fetch in progress; every caller who needs a token meanwhile waits for it.
struct Flight {
    leader: ThreadId,
    result: Mutex<Option<Result<Arc<CachedToken>>>>,
    done: Condvar,
}

impl Flight {
    fn wait(&self) -> Result<Arc<CachedToken>> {
        let mut result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = result.as_ref() {
                return result.clone();
            }
            result = self
                .done
                .wait(result)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn finish(&self, outcome: Result<Arc<CachedToken>>) {
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.done.notify_all();
    }
}

/// What the REST client is built from, on first use.
struct RestConfig {
    plan: HostPlan,
    transport: TransportOptions,
    fallback: crate::http::rest::FallbackPolicy,
    agents: Vec<String>,
    add_request_ids: bool,
    custom_transport: Option<Arc<dyn Transport>>,
}

/// Ably token authentication for one app key or token source.
///
/// `Auth` is `Send + Sync`: share it between threads behind an `Arc` (the C handle does).
/// Network calls block the calling thread.
pub struct Auth {
    /// The constructor's key: Basic auth and revokeTokens use it (DESIGN §4 item 7).
    key: Option<ApiKey>,
    client_id: Option<String>,
    clock: Arc<dyn Clock>,
    margin_ms: u64,
    request_timeout: Duration,
    logger: Option<Logger>,
    listeners: Listeners,
    rest_config: RestConfig,
    rest: OnceLock<std::result::Result<RestClient, ErrorInfo>>,
    /// `serverTime - localTime` in ms (RSA10k), valid when `offset_known`.
    offset_ms: AtomicI64,
    offset_known: AtomicBool,
    means: ArcSwap<Means>,
    token: ArcSwapOption<CachedToken>,
    flight: Mutex<Option<Arc<Flight>>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("key", &self.key)
            .field("client_id", &self.client_id)
            .field("use_token_auth", &self.uses_token_auth())
            .field("plan", &self.rest_config.plan)
            .finish_non_exhaustive()
    }
}

/// `server - local` in ms, saturated to `i64`: a server time of 2^63 ms or more (which
/// `parse_time` and `TokenDetails.issued` accept) must not overflow.
fn offset_between(server: u64, local: u64) -> i64 {
    let offset = i128::from(server) - i128::from(local);
    i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX })
}

fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Checks and canonicalises stored default params.
fn prepare_defaults(params: TokenParams, client_id: Option<&str>) -> Result<TokenParams> {
    let mut defaults = params;
    validate_defaults(&defaults)?;
    if let Some(text) = &defaults.capability {
        defaults.capability = Some(crate::core::capability::canonicalize(text)?);
    }
    if let Some(id) = &defaults.client_id {
        crate::core::client_id::validate_token_client_id(id)?;
    }
    if let Some(id) = client_id {
        defaults.client_id = Some(id.to_owned());
    }
    Ok(defaults)
}

/// The token given in `options` (token or tokenDetails), checked.
fn given_token(options: &AuthOptions) -> Result<Option<TokenDetails>> {
    match (&options.token, &options.token_details) {
        (Some(_), Some(_)) => Err(ErrorInfo::new(
            codes::BAD_REQUEST,
            400,
            "invalid options: set either token or tokenDetails, not both",
        )),
        (Some(token), None) if token.is_empty() => {
            Err(ErrorInfo::invalid_value("token must not be empty"))
        }
        (Some(token), None) => Ok(Some(TokenDetails::from_token(token.clone()))),
        (None, details) => Ok(details.clone()),
    }
}

fn check_auth_options(options: &AuthOptions) -> Result<()> {
    if let Some(url) = &options.auth_url {
        fetch::auth_url_request(options, url, &TokenParams::default())?;
    }
    Ok(())
}

impl Auth {
    /// Validate `options` and build the Auth state, reading time from the system clock.
    ///
    /// Errors: 40106 when there is no means of authentication (RSC1b, RSA14); 40012 for
    /// an invalid clientId (RSA7c); 40102 when the given token's clientId conflicts with
    /// the options' clientId (RSA15a); 40103 for Basic auth without TLS (RSC18); 40003 for
    /// invalid default token params, authUrl or CA PEM; 40000 for conflicting options.
    pub fn new(options: ClientOptions) -> Result<Self> {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// As [`Auth::new`], with an injected clock.
    pub fn with_clock(options: ClientOptions, clock: Arc<dyn Clock>) -> Result<Self> {
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
        } = options;
        if let Some(client_id) = &client_id {
            crate::core::client_id::validate_options_client_id(client_id)?;
        }
        let token = given_token(&auth)?;
        if !auth.can_renew() && token.is_none() {
            return Err(ErrorInfo::new(
                codes::NO_AUTH_METHOD,
                401,
                "no means of authentication: the options need a key, token, tokenDetails, authUrl or authCallback",
            ));
        }
        check_auth_options(&auth)?;
        if let Some(details) = &token {
            check_compatible(client_id.as_deref(), details.client_id.as_deref())?;
        }
        let defaults = prepare_defaults(
            default_token_params.unwrap_or_default(),
            client_id.as_deref(),
        )?;
        let use_token_auth = match auth.use_token_auth {
            Some(forced) => forced,
            None => token.is_some() || auth.auth_url.is_some() || auth.auth_callback.is_some(),
        };
        if !use_token_auth && auth.key.is_none() {
            return Err(ErrorInfo::new(
                codes::NO_AUTH_METHOD,
                401,
                "useTokenAuth is false but there is no key for Basic auth",
            ));
        }
        let plan = endpoint::plan(&endpoint)?;
        if !use_token_auth && !plan.tls {
            return Err(ErrorInfo::new(
                codes::INSECURE_BASIC_AUTH,
                401,
                "Basic authentication over an insecure connection (tls is false): use TLS or token auth (RSC18)",
            ));
        }
        if custom_transport.is_none() && !transport.extra_ca_pem.is_empty() {
            UreqTransport::new(&transport, "")?; // rejects bad PEM now, not at the first request
        }
        let request_timeout = transport.request_timeout;
        let auth_state = Auth {
            key: auth.key.clone(),
            client_id,
            clock,
            margin_ms: token_expiry_margin_ms,
            request_timeout,
            logger,
            listeners: Listeners::default(),
            rest_config: RestConfig {
                plan,
                transport,
                fallback,
                agents,
                add_request_ids,
                custom_transport,
            },
            rest: OnceLock::new(),
            offset_ms: AtomicI64::new(0),
            offset_known: AtomicBool::new(false),
            token: ArcSwapOption::new(token.map(CachedToken::new)),
            flight: Mutex::new(None),
            means: ArcSwap::from_pointee(Means {
                options: auth,
                defaults,
                use_token_auth,
            }),
        };
        if auth_state.has_token() && !auth_state.means().options.can_renew() {
            // RSA4a1
            auth_state.log(LogLevel::Info, || {
                "[40171] a token was given but no means to renew it (key, authUrl or authCallback); \
                 requests fail with 40171 once it expires (https://help.ably.io/error/40171)"
                    .to_owned()
            });
        }
        Ok(auth_state)
    }

    // ----- offline ---------------------------------------------------------------------

    /// `Auth#createTokenRequest` (RSA9): a signed TokenRequest. No network I/O unless
    /// `queryTime` is set and the server time is not yet known (RSA9d).
    ///
    /// `params`, when given, replace the stored defaults as a whole (RSA9h, RSA8e); the
    /// options' clientId still applies when they name none (RSA7d). `auth_options.key`,
    /// when given, signs instead of the stored key (RSA9g).
    ///
    /// Errors: 40101/403 when there is no key to sign with; 40003 or 40012 for invalid params.
    pub fn create_token_request(
        &self,
        params: Option<&TokenParams>,
        auth_options: Option<&AuthOptions>,
    ) -> Result<TokenRequest> {
        let means = self.means();
        let key = signing_key(&means, auth_options)?;
        let now = self.timestamp_now(auth_options.unwrap_or(&means.options))?;
        match params {
            // The stored defaults were canonicalised once, at construction.
            None => sign::create_token_request_canonical(key, &means.defaults, now),
            Some(_) => self
                .with_effective_params(&means, params, |p| sign::create_token_request(key, p, now)),
        }
    }

    /// [`Auth::create_token_request`] for explicit params whose capability the caller has
    /// already canonicalised (the C params builder does so in its setter).
    pub(crate) fn create_token_request_canonical(
        &self,
        params: &TokenParams,
    ) -> Result<TokenRequest> {
        let means = self.means();
        let key = signing_key(&means, None)?;
        let now = self.timestamp_now(&means.options)?;
        self.with_effective_params(&means, Some(params), |p| {
            sign::create_token_request_canonical(key, p, now)
        })
    }

    /// An Ably JWT signed with the key, for the same params as [`Auth::create_token_request`].
    pub fn create_jwt(
        &self,
        params: Option<&TokenParams>,
        auth_options: Option<&AuthOptions>,
    ) -> Result<String> {
        let means = self.means();
        let key = signing_key(&means, auth_options)?;
        let now = self.timestamp_now(auth_options.unwrap_or(&means.options))?;
        self.with_effective_params(&means, params, |p| jwt::create_jwt(key, p, now))
    }

    /// `Auth#clientId` (RSA7b, RSA12): the options' clientId, else the current token's.
    pub fn client_id(&self) -> Option<String> {
        let token = self.token.load();
        effective_client_id(
            self.client_id.as_deref(),
            token.as_ref().and_then(|t| t.details.client_id.as_deref()),
        )
        .map(str::to_owned)
    }

    /// `Auth#tokenDetails` (RSA16): the token in use, if any.
    pub fn token_details(&self) -> Option<TokenDetails> {
        self.token.load().as_ref().map(|t| t.details.clone())
    }

    /// Whether requests use token auth (RSA4) rather than Basic auth (RSA2).
    pub fn uses_token_auth(&self) -> bool {
        self.means().use_token_auth
    }

    /// The stored default token params (with the options' clientId applied).
    pub fn default_token_params(&self) -> TokenParams {
        self.means().defaults.clone()
    }

    /// The key name (`appId.keyId`) of the stored key, if any.
    pub fn key_name(&self) -> Option<String> {
        let means = self.means();
        means
            .options
            .key
            .as_ref()
            .or(self.key.as_ref())
            .map(|k| k.name().to_owned())
    }

    /// The clock this Auth reads.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The server time offset learnt so far (`serverTime - localTime`, ms), if any.
    pub fn server_time_offset(&self) -> Option<i64> {
        self.offset_known
            .load(Ordering::Acquire)
            .then(|| self.offset_ms.load(Ordering::Acquire))
    }

    /// Local time corrected by the server offset (0 until one is learnt).
    pub fn server_now(&self) -> u64 {
        let offset = self.offset_ms.load(Ordering::Acquire);
        self.clock.now_ms().saturating_add_signed(offset)
    }

    // ----- listeners and logging -----------------------------------------------------

    /// Call `listener` on every token change and auth failure, from the thread that caused
    /// it, without any lock held. Returns an id for [`Auth::remove_listener`].
    pub fn add_listener(
        &self,
        listener: impl Fn(&AuthEvent<'_>) + Send + Sync + 'static,
    ) -> ListenerId {
        self.listeners.add(Arc::new(listener))
    }

    /// Remove a listener; `false` when `id` is unknown. A call already under way finishes.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
    }

    fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        if let Some(logger) = &self.logger {
            logger.log(level, message);
        }
    }

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
                let cached = CachedToken::new(details);
                self.token.store(Some(Arc::clone(&cached)));
                self.listeners
                    .emit(&AuthEvent::TokenChanged(&cached.details));
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
            && !token
                .details
                .is_expired_at(self.server_now(), self.margin_ms)
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

    /// An authenticated request to Ably REST (RSC10): the current credentials, the Ably
    /// headers, host fallback, and on a token error one renewal and one retry.
    /// `path` starts with `/`. Returns the response for status < 400, else its ErrorInfo.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<HttpResponse> {
        if !path.starts_with('/') {
            return Err(ErrorInfo::invalid_value("path must start with '/'"));
        }
        for (name, value) in headers {
            crate::http::check_header(name, value)?;
        }
        let send = |authorization: &str| {
            let mut all = vec![("Authorization".to_owned(), authorization.to_owned())];
            all.extend(self.client_id_header());
            all.extend(headers.iter().cloned());
            let outcome = self.rest()?.execute(RestRequest {
                method,
                path,
                query,
                headers: all,
                body: body.map(<[u8]>::to_vec),
                max_response_bytes: 16 * 1024 * 1024,
            });
            self.log(LogLevel::Debug, || match &outcome {
                Ok(r) => format!("{} {path} -> HTTP {}", method.as_str(), r.status),
                Err(e) => format!("{} {path} -> {e}", method.as_str()),
            });
            outcome
        };
        if !self.uses_token_auth() {
            return into_result(send(&self.basic_header()?)?);
        }
        let token = self.obtain_token(false)?;
        let response = send(&token.header)?;
        if response.status != 401 {
            return into_result(response);
        }
        let error = response.error_info();
        if !error.is_token_error() {
            return Err(error); // RSC10b: not a token error, no renewal
        }
        self.invalidate(Some(&token.details.token));
        if !self.means().options.can_renew() {
            let error = renewal_impossible().with_cause(error);
            self.listeners.emit(&AuthEvent::Failed(&error));
            return Err(error); // RSA4a2
        }
        self.log(LogLevel::Warn, || {
            format!(
                "token rejected with {}; renewing once and retrying",
                error.code
            )
        });
        let renewed = self.obtain_token(false)?;
        into_result(send(&renewed.header)?)
    }

    /// `time()` (RSC16): the server time in ms since the epoch, from `GET /time` without
    /// credentials. Also records the server offset (RSA10k).
    pub fn time(&self) -> Result<u64> {
        let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
        headers.extend(self.client_id_header());
        let sent_at = self.clock.now_ms();
        let response = self.rest()?.execute(RestRequest {
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
        let key = self.key.as_ref().ok_or_else(|| {
            ErrorInfo::new(
                codes::REQUIRES_BASIC_AUTH,
                401,
                "revokeTokens needs an API key",
            )
        })?;
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
        let response = self.rest()?.execute(RestRequest {
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

    // ----- internals -----------------------------------------------------------------

    /// The current means; a cheap guard (no shared reference count on the fast path).
    fn means(&self) -> arc_swap::Guard<Arc<Means>> {
        self.means.load()
    }

    fn set_means(&self, means: Means) {
        self.means.store(Arc::new(means));
    }

    fn has_token(&self) -> bool {
        self.token.load().is_some()
    }

    fn rest(&self) -> Result<&RestClient> {
        self.rest
            .get_or_init(|| {
                let config = &self.rest_config;
                let transport: Arc<dyn Transport> = match &config.custom_transport {
                    Some(t) => Arc::clone(t),
                    None => Arc::new(UreqTransport::new(
                        &config.transport,
                        crate::http::rest::AGENT,
                    )?),
                };
                Ok(RestClient::new(
                    transport,
                    config.plan.clone(),
                    config.fallback.clone(),
                    &config.agents,
                    config.add_request_ids,
                ))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn basic_header(&self) -> Result<Zeroizing<String>> {
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
    fn client_id_header(&self) -> Option<(String, String)> {
        self.client_id.as_ref().map(|id| {
            (
                "X-Ably-ClientId".to_owned(),
                base64::engine::general_purpose::STANDARD.encode(id),
            )
        })
    }

    /// Record the server offset from a server time read in a round trip that started at
    /// local time `sent_at`: the server's clock is taken to match the round trip's midpoint.
    fn learn_offset(&self, server_ms: u64, sent_at: u64) {
        let received_at = self.clock.now_ms();
        let local = sent_at + received_at.saturating_sub(sent_at) / 2;
        self.offset_ms
            .store(offset_between(server_ms, local), Ordering::Release);
        self.offset_known.store(true, Ordering::Release);
    }

    /// The timestamp for a TokenRequest: server time when known; with `queryTime` and no
    /// offset yet, ask the server first (RSA9d, RSA10k).
    fn timestamp_now(&self, options: &AuthOptions) -> Result<u64> {
        if options.query_time && !self.offset_known.load(Ordering::Acquire) {
            self.time()?;
        }
        Ok(self.server_now())
    }

    fn effective_params(&self, means: &Means, params: Option<&TokenParams>) -> TokenParams {
        match params {
            None => means.defaults.clone(),
            Some(p) => {
                let mut p = p.clone();
                if p.client_id.is_none() {
                    p.client_id = self.client_id.clone();
                }
                p
            }
        }
    }

    fn with_effective_params<T>(
        &self,
        means: &Means,
        params: Option<&TokenParams>,
        f: impl FnOnce(&TokenParams) -> Result<T>,
    ) -> Result<T> {
        match params {
            None => f(&means.defaults),
            Some(p) if p.client_id.is_some() || self.client_id.is_none() => f(p),
            Some(p) => {
                let mut p = p.clone();
                p.client_id = self.client_id.clone();
                f(&p)
            }
        }
    }

    /// Get a token from `options` for `params` (RSA8), checked against the clientId.
    fn fetch(&self, options: &AuthOptions, params: &TokenParams) -> Result<TokenDetails> {
        let rest = self.rest()?;
        let material = if options.auth_callback.is_some() {
            self.log(LogLevel::Debug, || {
                "requesting a token from the authCallback".into()
            });
            fetch::from_callback(options, params, self.request_timeout)?
        } else if let Some(url) = &options.auth_url {
            self.log(LogLevel::Debug, || {
                format!("requesting a token from the authUrl {}", redact_query(url))
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
            TokenMaterial::Request(request) => self.exchange(rest, options, params, request)?,
        };
        check_compatible(self.client_id.as_deref(), details.client_id.as_deref())?;
        Ok(details)
    }

    /// POST the TokenRequest; on 40104 (timestamp outside the window) with our own key,
    /// learn the server time and retry once with a fresh request.
    fn exchange(
        &self,
        rest: &RestClient,
        options: &AuthOptions,
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
            Err(e) if e.code == codes::TIMESTAMP_NOT_CURRENT && options.key.is_some() => {
                self.log(LogLevel::Warn, || {
                    "TokenRequest timestamp rejected (40104): reading the server time and retrying once"
                        .into()
                });
                self.time()?;
                let key = options.key.as_ref().ok_or_else(renewal_impossible)?;
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

    fn invalidate(&self, token: Option<&str>) {
        // Drop the cached token only if it is still the rejected one (RSA16d).
        self.token.rcu(|cached| match (cached, token) {
            (Some(current), Some(t)) if current.details.token != t => Some(Arc::clone(current)),
            _ => None,
        });
    }

    /// The cached token when valid; otherwise one fetch for all concurrent callers. With
    /// `force`, a new token is fetched even when one is cached (authorize).
    fn obtain_token(&self, force: bool) -> Result<Arc<CachedToken>> {
        if !force && let Some(token) = self.valid_cached() {
            return Ok(token);
        }
        let (flight, leader) = {
            let mut current = lock(&self.flight);
            match current.as_ref() {
                Some(f) if !force => {
                    if f.leader == std::thread::current().id() {
                        return Err(crate::core::material::callback_error(
                            "a token was requested from inside the authCallback of the same Auth, which would wait for itself",
                        ));
                    }
                    (Arc::clone(f), false)
                }
                _ => {
                    if !force && let Some(token) = self.valid_cached() {
                        return Ok(token); // a flight finished while we took the lock
                    }
                    let flight = Arc::new(Flight {
                        leader: std::thread::current().id(),
                        result: Mutex::new(None),
                        done: Condvar::new(),
                    });
                    *current = Some(Arc::clone(&flight));
                    (flight, true)
                }
            }
        };
        if !leader {
            return flight.wait();
        }
        let outcome = self.fetch_for_cache();
        {
            let mut current = lock(&self.flight);
            let still_current = current.as_ref().is_some_and(|f| Arc::ptr_eq(f, &flight));
            if still_current {
                *current = None;
                match &outcome {
                    Ok(token) => self.token.store(Some(Arc::clone(token))),
                    Err(_) => self.token.store(None), // RSA16d
                }
            }
        }
        flight.finish(outcome.clone());
        match &outcome {
            Ok(token) => {
                self.log(LogLevel::Info, || {
                    let details = &token.details;
                    let client_id = details.client_id.as_deref().unwrap_or("(none)");
                    match details.expires {
                        Some(expires) => format!(
                            "new token in use for clientId {client_id}, expires at {expires} ms"
                        ),
                        None => format!("new token in use for clientId {client_id}"),
                    }
                });
                self.listeners
                    .emit(&AuthEvent::TokenChanged(&token.details));
            }
            Err(error) => {
                self.log(LogLevel::Error, || {
                    format!("getting a token failed: {error}")
                });
                self.listeners.emit(&AuthEvent::Failed(error));
            }
        }
        outcome
    }

    fn valid_cached(&self) -> Option<Arc<CachedToken>> {
        let cached = self.token.load();
        let token = cached.as_ref()?;
        if token
            .details
            .is_expired_at(self.server_now(), self.margin_ms)
        {
            return None;
        }
        Some(Arc::clone(token))
    }

    fn fetch_for_cache(&self) -> Result<Arc<CachedToken>> {
        let means = self.means();
        if !means.options.can_renew() {
            // A given token that expired, or was rejected, and nothing to renew it (RSA4a2).
            return Err(renewal_impossible());
        }
        let details = self.fetch(&means.options, &means.defaults)?;
        if details.is_expired_at(self.server_now(), 0) {
            return Err(crate::core::material::callback_error(
                "the new token has already expired",
            ));
        }
        Ok(CachedToken::new(details))
    }
}

fn signing_key<'a>(means: &'a Means, auth_options: Option<&'a AuthOptions>) -> Result<&'a ApiKey> {
    auth_options
        .and_then(|o| o.key.as_ref())
        .or(means.options.key.as_ref())
        .ok_or_else(|| {
            ErrorInfo::new(
                codes::INVALID_CREDENTIALS,
                403,
                "no key specified: signing needs an API key in the options or the AuthOptions",
            )
        })
}

/// 40171/403: a token is needed and there is no way to get one (RSA4a2, RSA14).
fn renewal_impossible() -> ErrorInfo {
    ErrorInfo::new(
        codes::TOKEN_RENEWAL_NOT_CONFIGURED,
        403,
        "need a new token, but the options include no means to get one (key, authUrl or authCallback)",
    )
}

fn into_result(response: HttpResponse) -> Result<HttpResponse> {
    if response.status >= 400 {
        Err(response.error_info())
    } else {
        Ok(response)
    }
}

/// The URL without its query string (which may carry credentials) for log lines.
fn redact_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn validate_defaults(defaults: &TokenParams) -> Result<()> {
    if defaults.timestamp.is_some() {
        return Err(ErrorInfo::invalid_value(
            "defaultTokenParams must not set a timestamp: a timestamp is valid for one request only (TK2d)",
        ));
    }
    if defaults.nonce.is_some() {
        return Err(ErrorInfo::invalid_value(
            "defaultTokenParams must not set a nonce: a nonce is valid for one request only",
        ));
    }
    if defaults.ttl == Some(0) {
        return Err(ErrorInfo::invalid_value(
            "ttl must be a positive number of milliseconds",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_base64_of_the_token() {
        let cached = CachedToken::new(TokenDetails::from_token("abc"));
        assert_eq!(cached.header.as_str(), "Bearer YWJj");
    }

    #[test]
    fn log_urls_lose_their_query() {
        assert_eq!(
            redact_query("https://a.example/auth?key=s#f"),
            "https://a.example/auth"
        );
    }
}
