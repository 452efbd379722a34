//! The Auth object: options, stored defaults, the token cache and every operation on them,
//! offline (createTokenRequest, JWTs) and networked (requestToken, authorize, renewal,
//! revokeTokens, time, authenticated requests).
//!
//! Files: this one holds the state and the offline operations; `cache` the token in use and
//! the single flight that renews it; `rest_ops` the other requests to Ably; `fetch` the three
//! means of getting a token; `callback` the authCallback's completion; `events` listeners
//! and logging; `reentry` what user callbacks may call back into.
//!
//! Shared state: `means` and `token` are read-mostly [`ArcSwap`]s (readers take no lock and
//! touch no shared reference count); `flight` coordinates the single token fetch in
//! progress. No lock is held while the network or a user callback runs.

mod cache;
mod callback;
mod calls;
mod events;
mod fetch;
mod options;
mod pool;
mod reentry;
mod renew;
mod rest_ops;

pub use callback::{AuthCallback, Completion, auth_callback_fn};
pub use calls::Call;
pub use events::{AuthEvent, ListenerId, LogLevel, Logger};
pub use options::{AuthOptions, ClientOptions, DEFAULT_MAX_CALLS_IN_FLIGHT};
pub use reentry::MAX_NESTING;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::core::client_id::{check_compatible, effective_client_id};
use crate::core::clock::{Clock, SystemClock};
use crate::core::endpoint::{self, HostPlan};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::key::ApiKey;
use crate::core::token::{TokenDetails, TokenParams, TokenRequest};
use crate::core::{jwt, sign};
use crate::http::rest::RestClient;
use crate::http::{Transport, TransportOptions};
use cache::{CachedToken, Flight};
use events::Listeners;
use pool::Pool;
use reentry::{CallbackKind, Gate};

/// The means of getting tokens and the defaults in force; replaced by `authorize`.
struct Means {
    options: AuthOptions,
    /// `defaultTokenParams` (or authorize's params), canonical, options' clientId applied.
    defaults: TokenParams,
    use_token_auth: bool,
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

/// The user code an Auth holds (callbacks, listeners, log sink), taken out by
/// [`Auth::detach_callbacks`]; dropping it runs their destructors (`free_user_data` in C).
pub(crate) struct DetachedCallbacks {
    _listeners: Vec<events::Listener>,
    _logger: Option<Arc<Logger>>,
    _means: Arc<Means>,
}

/// Ids that tell Auth objects apart on one thread's callback record (`reentry`).
static NEXT_AUTH_ID: AtomicU64 = AtomicU64::new(1);

/// Ably token authentication for one app key or token source.
///
/// `Auth` is `Send + Sync`: share it between threads behind an `Arc` (the C handle does).
/// Network calls block the calling thread, within the bounds documented on each call.
pub struct Auth {
    /// This Auth, for the jobs it hands its threads.
    me: Weak<Auth>,
    /// Every user callback goes through it; closed by free.
    gate: Gate,
    /// The constructor's key: Basic auth and revokeTokens use it (DESIGN §4 item 7).
    key: Option<ApiKey>,
    client_id: Option<String>,
    clock: Arc<dyn Clock>,
    margin_ms: u64,
    request_timeout: Duration,
    logger: ArcSwapOption<Logger>,
    listeners: Listeners,
    rest_config: RestConfig,
    rest: OnceLock<std::result::Result<RestClient, ErrorInfo>>,
    /// `serverTime - localTime` in ms (RSA10k), valid when `offset_known`.
    offset_ms: AtomicI64,
    offset_known: AtomicBool,
    means: ArcSwap<Means>,
    token: ArcSwapOption<CachedToken>,
    flight: Mutex<Option<Arc<Flight>>>,
    /// Set by [`Auth::shutdown`]: no new operation starts.
    closed: AtomicBool,
    /// The library threads, started on first use.
    pool: OnceLock<Pool>,
    worker_threads: usize,
    renew_ahead: bool,
    /// Non-blocking calls in flight: bounded, and cancelled by the shutdown.
    calls: calls::InFlight,
}

/// The most worker threads an Auth may have.
pub const MAX_WORKER_THREADS: usize = 16;

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
            0,
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
    ///
    /// The Auth is shared (`Arc`) with its library threads, which start on first use: the
    /// first non-blocking call, or the first token that is renewed ahead of expiry.
    pub fn new(options: ClientOptions) -> Result<Arc<Self>> {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// As [`Auth::new`], with an injected clock.
    pub fn with_clock(options: ClientOptions, clock: Arc<dyn Clock>) -> Result<Arc<Self>> {
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
        crate::http::check_transport_options(custom_transport.is_some(), &transport)?;
        let request_timeout = transport.request_timeout;
        let id = NEXT_AUTH_ID.fetch_add(1, Ordering::Relaxed);
        let auth_state = Arc::new_cyclic(|me| Auth {
            me: Weak::clone(me),
            gate: Gate::new(id),
            key: auth.key.clone(),
            client_id,
            clock,
            margin_ms: token_expiry_margin_ms,
            request_timeout,
            logger: ArcSwapOption::new(logger.map(Arc::new)),
            listeners: Listeners::new(),
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
            token: ArcSwapOption::new(token.map(|t| CachedToken::new(t, token_expiry_margin_ms))),
            flight: Mutex::new(None),
            closed: AtomicBool::new(false),
            means: ArcSwap::from_pointee(Means {
                options: auth,
                defaults,
                use_token_auth,
            }),
            pool: OnceLock::new(),
            worker_threads: worker_threads.clamp(1, MAX_WORKER_THREADS),
            renew_ahead,
            calls: calls::InFlight::new(max_calls_in_flight),
        });
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
            None => {
                self.note_unknown_operations(&means.defaults);
                sign::create_token_request_canonical(key, &means.defaults, now)
            }
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
        self.create_jwt_with(params, auth_options, &jwt::JwtOptions::default())
    }

    /// [`Auth::create_jwt`] with the claims only a JWT can carry, such as
    /// `x-ably-revocation-key` ([`jwt::JwtOptions`]). Errors: those of `create_jwt`, and
    /// 40003 for invalid `jwt_options`.
    pub fn create_jwt_with(
        &self,
        params: Option<&TokenParams>,
        auth_options: Option<&AuthOptions>,
        jwt_options: &jwt::JwtOptions,
    ) -> Result<String> {
        let means = self.means();
        let key = signing_key(&means, auth_options)?;
        let now = self.timestamp_now(auth_options.unwrap_or(&means.options))?;
        self.with_effective_params(&means, params, |p| {
            jwt::create_jwt(key, p, jwt_options, now)
        })
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

    /// How long the token in use has left, in ms by the library's clock (local time plus
    /// the server offset), before its `expires` (negative once past it; the renewal margin
    /// is not subtracted). `None` without a token; `Some(i64::MAX)` for a token that does
    /// not say when it expires.
    pub fn token_remaining_ms(&self) -> Option<i64> {
        let token = self.token.load();
        let details = &token.as_ref()?.details;
        Some(match details.expires {
            Some(expires) => offset_between(expires, self.server_now()),
            None => i64::MAX,
        })
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

    /// Remove a listener; `Ok(false)` when `id` is unknown. When it returns `Ok`, the
    /// listener is not running on another thread and is never called again (a call under
    /// way on another thread is waited for). Errors: [`codes::SHUT_DOWN`] when the call
    /// being waited for frees this Auth (the free waits for the other threads' callbacks,
    /// maybe for this one): the listener is removed and never called again, but that call
    /// may still be running.
    pub fn remove_listener(&self, id: ListenerId) -> Result<bool> {
        let _waiting = self.gate.lifecycle_wait();
        self.listeners.remove(id)
    }

    /// Log `message()` at `level` if the sink wants it; the sink runs marked as a log
    /// callback (it may not do network I/O through the library).
    fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        let logger = self.logger.load();
        if let Some(logger) = logger.as_ref()
            && level <= logger.level
            && let Some(_in_sink) = self.gate.enter(CallbackKind::Log)
        {
            logger.log(level, message);
        }
    }

    /// What freeing the C handle does: [`Auth::shutdown`] (calls in flight complete with
    /// CANCELLED, their completions delivered), then close the callback gate and wait for
    /// the callbacks running on other threads, then take out every piece of user code the
    /// Auth holds (listeners, log sink, authCallback) so that the caller decides where
    /// their destructors run, and close the host transport (see [`Transport::close`]). No
    /// callback of this Auth starts afterwards. Library threads
    /// in a blocking network step are not waited for: they exit when it ends.
    pub(crate) fn close(&self) -> DetachedCallbacks {
        let _waiting = self.gate.lifecycle_wait();
        let _freeing = self.listeners.freeing();
        let _ = self.shutdown(Some(Duration::ZERO));
        if let Some(pool) = self.pool.get() {
            pool.drain_completions();
        }
        self.gate.close_and_wait();
        // The application's transport is a callback like the others: not called after this.
        if let Some(transport) = &self.rest_config.custom_transport {
            transport.close();
        }
        let current = self.means();
        let mut options = current.options.clone();
        options.auth_callback = None;
        let stripped = Arc::new(Means {
            options,
            defaults: current.defaults.clone(),
            use_token_auth: current.use_token_auth,
        });
        drop(current);
        DetachedCallbacks {
            _listeners: self.listeners.take_all(),
            _logger: self.logger.swap(None),
            _means: self.means.swap(stripped),
        }
    }

    /// Log, at debug, capability operations this library does not know: they are sent as
    /// they are (Ably adds operations), but a typo is worth seeing. Costs nothing unless a
    /// log sink wants debug lines.
    fn note_unknown_operations(&self, params: &TokenParams) {
        let Some(capability) = &params.capability else {
            return;
        };
        let logger = self.logger.load();
        if logger.as_ref().is_none_or(|l| l.level < LogLevel::Debug) {
            return;
        }
        let unknown = crate::core::capability::unknown_operations(capability);
        if !unknown.is_empty() {
            self.log(LogLevel::Debug, || {
                format!(
                    "the capability names operations this library does not know (sent as they are): {}",
                    unknown.join(", ")
                )
            });
        }
    }

    /// The library threads (started by their first job).
    fn pool(&self) -> &Pool {
        self.pool.get_or_init(|| {
            Pool::new(
                self.worker_threads,
                format!("ably-auth-{}", self.gate.auth_id()),
            )
        })
    }

    /// [`codes::SHUT_DOWN`] once shut down.
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(reentry::shut_down());
        }
        Ok(())
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
        self.note_unknown_operations(params.unwrap_or(&means.defaults));
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
