//! The Auth object: options, stored defaults, the current token and the operations that
//! use them. This scope is offline: issuing TokenRequests and JWTs, and holding a
//! token given in the options. Network operations (requestToken, authorize, renewal) build
//! on this state.

mod options;

pub use options::{AuthOptions, ClientOptions};

use std::sync::{Arc, Mutex, PoisonError};

use crate::core::client_id::{check_compatible, effective_client_id};
use crate::core::clock::{Clock, SystemClock};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::key::ApiKey;
use crate::core::token::{TokenDetails, TokenParams, TokenRequest};
use crate::core::{jwt, sign};

/// Ably token authentication for one app key or token source.
///
/// `Auth` is `Send + Sync`: share it between threads behind an `Arc` (the C handle does).
pub struct Auth {
    key: Option<ApiKey>,
    client_id: Option<String>,
    use_token_auth: bool,
    /// Defaults for token requests: `defaultTokenParams` with the options' clientId (RSA7a4).
    defaults: TokenParams,
    /// The token in use (RSA16).
    token_details: Mutex<Option<TokenDetails>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("key", &self.key)
            .field("client_id", &self.client_id)
            .field("use_token_auth", &self.use_token_auth)
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Validate `options` and build the Auth state, reading time from the system clock.
    ///
    /// Errors: 40106 when there is no means of authentication (RSC1b, RSA14); 40012 for
    /// an invalid clientId (RSA7c); 40102 when the given token's clientId conflicts with
    /// the options' clientId (RSA15a); 40003 for invalid default token params; 40000 for
    /// conflicting options.
    pub fn new(options: ClientOptions) -> Result<Self> {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// As [`Auth::new`], with an injected clock.
    pub fn with_clock(options: ClientOptions, clock: Arc<dyn Clock>) -> Result<Self> {
        let ClientOptions {
            auth,
            client_id,
            default_token_params,
        } = options;
        let AuthOptions {
            key,
            token,
            token_details,
            use_token_auth,
        } = auth;
        if let Some(client_id) = &client_id {
            crate::core::client_id::validate_options_client_id(client_id)?;
        }
        let token_details = match (token, token_details) {
            (Some(_), Some(_)) => {
                return Err(ErrorInfo::new(
                    codes::BAD_REQUEST,
                    400,
                    "invalid options: set either token or tokenDetails, not both",
                ));
            }
            (Some(token), None) if token.is_empty() => {
                return Err(ErrorInfo::invalid_value("token must not be empty"));
            }
            (Some(token), None) => Some(TokenDetails::from_token(token)),
            (None, details) => details,
        };
        if key.is_none() && token_details.is_none() {
            return Err(ErrorInfo::new(
                codes::NO_AUTH_METHOD,
                401,
                "no means of authentication: the options need a key, a token or tokenDetails",
            ));
        }
        if let Some(details) = &token_details {
            check_compatible(client_id.as_deref(), details.client_id.as_deref())?;
        }
        let mut defaults = default_token_params.unwrap_or_default();
        validate_defaults(&defaults)?;
        if let Some(text) = &defaults.capability {
            defaults.capability = Some(crate::core::capability::canonicalize(text)?);
        }
        if let Some(id) = &defaults.client_id {
            crate::core::client_id::validate_token_client_id(id)?;
        }
        if client_id.is_some() {
            defaults.client_id = client_id.clone();
        }
        let use_token_auth = use_token_auth.unwrap_or(false) || token_details.is_some();
        Ok(Auth {
            key,
            client_id,
            use_token_auth,
            defaults,
            token_details: Mutex::new(token_details),
            clock,
        })
    }

    /// `Auth#createTokenRequest` (RSA9): a signed TokenRequest, with no network I/O.
    ///
    /// `params`, when given, replace the stored defaults as a whole (RSA9h, RSA8e); the
    /// options' clientId still applies when they name none (RSA7d). `auth_options.key`,
    /// when given, signs instead of the options' key (RSA9g).
    ///
    /// Errors: 40101/403 when there is no key to sign with; 40003 or 40012 for invalid params.
    pub fn create_token_request(
        &self,
        params: Option<&TokenParams>,
        auth_options: Option<&AuthOptions>,
    ) -> Result<TokenRequest> {
        let key = self.signing_key(auth_options)?;
        let now = self.clock.now_ms();
        match params {
            // The stored defaults were canonicalised once, at construction.
            None => sign::create_token_request_canonical(key, &self.defaults, now),
            Some(_) => {
                self.with_effective_params(params, |p| sign::create_token_request(key, p, now))
            }
        }
    }

    /// [`Auth::create_token_request`] for explicit params whose capability the caller has
    /// already canonicalised (the C params builder does so in its setter).
    pub(crate) fn create_token_request_canonical(
        &self,
        params: &TokenParams,
    ) -> Result<TokenRequest> {
        let key = self.signing_key(None)?;
        let now = self.clock.now_ms();
        self.with_effective_params(Some(params), |p| {
            sign::create_token_request_canonical(key, p, now)
        })
    }

    /// An Ably JWT signed with the key, for the same params as [`Auth::create_token_request`].
    pub fn create_jwt(
        &self,
        params: Option<&TokenParams>,
        auth_options: Option<&AuthOptions>,
    ) -> Result<String> {
        let key = self.signing_key(auth_options)?;
        self.with_effective_params(params, |p| jwt::create_jwt(key, p, self.clock.now_ms()))
    }

    /// `Auth#clientId` (RSA7b, RSA12): the options' clientId, else the current token's.
    pub fn client_id(&self) -> Option<String> {
        let token = self.lock_token();
        effective_client_id(
            self.client_id.as_deref(),
            token.as_ref().and_then(|t| t.client_id.as_deref()),
        )
        .map(str::to_owned)
    }

    /// `Auth#tokenDetails` (RSA16): the token in use, if any.
    pub fn token_details(&self) -> Option<TokenDetails> {
        self.lock_token().clone()
    }

    /// Whether requests use token auth (RSA4) rather than Basic auth (RSA2).
    pub fn uses_token_auth(&self) -> bool {
        self.use_token_auth
    }

    /// The stored default token params (with the options' clientId applied).
    pub fn default_token_params(&self) -> &TokenParams {
        &self.defaults
    }

    /// The key name (`appId.keyId`) of the options' key, if any.
    pub fn key_name(&self) -> Option<&str> {
        self.key.as_ref().map(ApiKey::name)
    }

    /// The clock this Auth reads.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn signing_key<'a>(&'a self, auth_options: Option<&'a AuthOptions>) -> Result<&'a ApiKey> {
        auth_options
            .and_then(|o| o.key.as_ref())
            .or(self.key.as_ref())
            .ok_or_else(|| {
                ErrorInfo::new(
                    codes::INVALID_CREDENTIALS,
                    403,
                    "no key specified: signing needs an API key in the options or the AuthOptions",
                )
            })
    }

    fn with_effective_params<T>(
        &self,
        params: Option<&TokenParams>,
        f: impl FnOnce(&TokenParams) -> Result<T>,
    ) -> Result<T> {
        match params {
            None => f(&self.defaults),
            Some(p) if p.client_id.is_some() || self.client_id.is_none() => f(p),
            Some(p) => {
                let mut p = p.clone();
                p.client_id = self.client_id.clone();
                f(&p)
            }
        }
    }

    fn lock_token(&self) -> std::sync::MutexGuard<'_, Option<TokenDetails>> {
        self.token_details
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
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
