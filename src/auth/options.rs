//! ClientOptions (TO3j, the auth part) and AuthOptions (AO2), offline subset.

use crate::core::key::ApiKey;
use crate::core::token::{TokenDetails, TokenParams};

/// AuthOptions (AO2): the means of authentication.
#[derive(Clone, Debug, Default)]
pub struct AuthOptions {
    /// The API key (AO2a), parsed; its secret is redacted in `Debug`.
    pub key: Option<ApiKey>,
    /// A token string (AO2h).
    pub token: Option<String>,
    /// A TokenDetails (AO2i).
    pub token_details: Option<TokenDetails>,
    /// Force token auth (AO2j). `None` means unset: token auth then follows from the
    /// presence of a token (RSA4).
    pub use_token_auth: Option<bool>,
}

impl AuthOptions {
    /// Parse and set the API key (errors are 40101 and never quote the key).
    pub fn with_key(mut self, key: &str) -> crate::core::error::Result<Self> {
        self.key = Some(ApiKey::parse(key)?);
        Ok(self)
    }
}

/// The options an [`super::Auth`] is built from: AuthOptions plus the client identity and
/// default token params (TO3a, TO3j11).
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Means of authentication.
    pub auth: AuthOptions,
    /// The client identity (TO3a); `*` is not allowed here (RSA7c).
    pub client_id: Option<String>,
    /// Defaults for every token request (TO3j11).
    pub default_token_params: Option<TokenParams>,
}

impl ClientOptions {
    /// Options holding just an API key: the common case of a token-issuing server.
    pub fn from_key(key: &str) -> crate::core::error::Result<Self> {
        Ok(ClientOptions {
            auth: AuthOptions::default().with_key(key)?,
            ..ClientOptions::default()
        })
    }
}
