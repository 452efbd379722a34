//! `ErrorInfo` (TI1–TI6) and the Ably error codes this library produces.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Ably error codes used by this library (ably-common `protocol/errors.json`).
pub mod codes {
    /// Bad request (invalid option combinations).
    pub const BAD_REQUEST: u32 = 40000;
    /// Invalid parameter value: NULL, invalid UTF-8, malformed JSON or an out-of-range value.
    pub const INVALID_PARAMETER_VALUE: u32 = 40003;
    /// Invalid client ID (RSA7c: empty, or `*` where it is not allowed).
    pub const INVALID_CLIENT_ID: u32 = 40012;
    /// Unauthorized (generic 401; not a token error).
    pub const UNAUTHORIZED: u32 = 40100;
    /// Invalid credentials (malformed API key, no key to sign with).
    pub const INVALID_CREDENTIALS: u32 = 40101;
    /// Incompatible credentials (clientId mismatch, RSA15).
    pub const INCOMPATIBLE_CREDENTIALS: u32 = 40102;
    /// Basic auth over an insecure connection (RSA1, RSC18).
    pub const INSECURE_BASIC_AUTH: u32 = 40103;
    /// TokenRequest timestamp outside the permitted window (clock skew).
    pub const TIMESTAMP_NOT_CURRENT: u32 = 40104;
    /// No way to authenticate (RSC1b, RSA14).
    pub const NO_AUTH_METHOD: u32 = 40106;
    /// First code of the token-error range (RSA4b, RSC10).
    pub const TOKEN_ERROR_FIRST: u32 = 40140;
    /// Token expired.
    pub const TOKEN_EXPIRED: u32 = 40142;
    /// Last code of the token-error range.
    pub const TOKEN_ERROR_LAST: u32 = 40149;
    /// The operation requires Basic authentication (RSA17d).
    pub const REQUIRES_BASIC_AUTH: u32 = 40162;
    /// The authCallback or authUrl failed or gave something invalid (RSA4e, RSA4f).
    pub const AUTH_CALLBACK_FAILED: u32 = 40170;
    /// Forbidden (an authCallback error with status 403 and no code).
    pub const FORBIDDEN: u32 = 40300;
    /// Resource not found.
    pub const NOT_FOUND: u32 = 40400;
    /// Rate limit exceeded (nonfatal): request rejected (an HTTP 429 without an Ably code).
    pub const RATE_LIMITED: u32 = 42910;
    /// Token renewal not configured (RSA4a).
    pub const TOKEN_RENEWAL_NOT_CONFIGURED: u32 = 40171;
    /// Internal error (a caught panic at the C boundary; an unexpected server answer).
    pub const INTERNAL_ERROR: u32 = 50000;
    /// The request timed out (RSC13).
    pub const TIMEOUT: u32 = 50003;
    /// The connection failed: the host could not be resolved or reached, or TLS failed.
    pub const CONNECTION_FAILED: u32 = 80000;

    // Codes of this library for local conditions Ably has no code for. They have six
    // digits, so they can never collide with an Ably code (five digits), and carry status 0.

    /// A call refused because of where it was made from: inside the authCallback of the
    /// same Auth (it would wait for itself), inside a log sink, or nested too deep through
    /// callbacks (see `crate::auth` and the header's preamble).
    pub const REENTRANT_CALL: u32 = 100_001;
    /// The call was cancelled by its caller.
    pub const CANCELLED: u32 = 100_002;
    /// The Auth is shut down (or being freed): it takes no new work.
    pub const SHUT_DOWN: u32 = 100_003;
    /// No valid token is cached (a non-blocking read that does no I/O).
    pub const NO_VALID_TOKEN: u32 = 100_004;
    /// The call needs a part of the library this build leaves out (the built-in HTTP
    /// client of the Cargo feature `http-client`).
    pub const NOT_BUILT_IN: u32 = 100_005;
    /// A non-blocking call refused because its Auth has as many calls in flight as its
    /// bound allows (`ClientOptions::max_calls_in_flight`).
    pub const TOO_MANY_CALLS: u32 = 100_006;
}

/// An Ably `ErrorInfo`: the error type of every fallible call in this crate.
///
/// Equality compares every field (TI `error-equality-5`). `Display` gives
/// `[ErrorInfo code=… statusCode=…] message` followed by a help URL (TI5).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// Ably error code, for example 40140.
    #[serde(default)]
    pub code: u32,
    /// HTTP status code, 0 when none applies.
    #[serde(default)]
    pub status_code: u16,
    /// Human-readable message. Never contains a key secret, token or mac.
    #[serde(default)]
    pub message: String,
    /// Help URL (TI4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// The underlying error (TI1 `cause`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<ErrorInfo>>,
}

impl ErrorInfo {
    /// An error with a code, HTTP status and message; no href or cause.
    pub fn new(code: u32, status_code: u16, message: impl Into<String>) -> Self {
        ErrorInfo {
            code,
            status_code,
            message: message.into(),
            href: None,
            cause: None,
        }
    }

    /// 40003: an argument or parameter has an invalid value. A local failure with no HTTP
    /// exchange and no status named by the spec, so `status_code` is 0.
    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMETER_VALUE, 0, message)
    }

    /// Attach an underlying cause.
    pub fn with_cause(mut self, cause: ErrorInfo) -> Self {
        self.cause = Some(Box::new(cause));
        self
    }

    /// Attach a help URL.
    pub fn with_href(mut self, href: impl Into<String>) -> Self {
        self.href = Some(href.into());
        self
    }

    /// `ErrorInfo.fromJson` over a JSON string: either the error object itself or
    /// a response body `{"error": {...}}`.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| ErrorInfo::invalid_value(format!("ErrorInfo JSON is malformed: {e}")))?;
        Self::from_value(&value)
    }

    /// `ErrorInfo.fromJson` over an already parsed JSON object (either form).
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        let object = value.get("error").unwrap_or(value);
        if !object.is_object() {
            return Err(ErrorInfo::invalid_value("ErrorInfo JSON must be an object"));
        }
        ErrorInfo::deserialize(object)
            .map_err(|e| ErrorInfo::invalid_value(format!("ErrorInfo JSON is invalid: {e}")))
    }

    /// Whether this is a token error that calls for renewal (RSA4b: 401 and 40140..=40149).
    pub fn is_token_error(&self) -> bool {
        self.status_code == 401
            && (codes::TOKEN_ERROR_FIRST..=codes::TOKEN_ERROR_LAST).contains(&self.code)
    }

    /// The help URL for this error (TI5): `href` when set, otherwise
    /// `https://help.ably.io/error/<code>`; `None` when there is neither, and for this
    /// library's own six-digit codes, which Ably's help pages do not know.
    pub fn help_url(&self) -> Option<String> {
        match (&self.href, self.code) {
            (Some(href), _) => Some(href.clone()),
            (None, 0) => None,
            (None, code) if code >= codes::REENTRANT_CALL => None,
            (None, code) => Some(format!("https://help.ably.io/error/{code}")),
        }
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[ErrorInfo code={} statusCode={}] {}",
            self.code, self.status_code, self.message
        )?;
        if let Some(url) = self
            .help_url()
            .filter(|u| !self.message.contains(u.as_str()))
        {
            write!(f, " (See {url})")?;
        }
        if let Some(cause) = &self.cause {
            write!(f, "; caused by {cause}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorInfo")
            .field("code", &self.code)
            .field("status_code", &self.status_code)
            .field("message", &self.message)
            .field("href", &self.href)
            .field("cause", &self.cause)
            .finish()
    }
}

impl std::error::Error for ErrorInfo {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ErrorInfo>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_error_range_is_inclusive_and_needs_401() {
        assert!(ErrorInfo::new(40140, 401, "").is_token_error());
        assert!(ErrorInfo::new(40149, 401, "").is_token_error());
        assert!(!ErrorInfo::new(40150, 401, "").is_token_error());
        assert!(!ErrorInfo::new(40139, 401, "").is_token_error());
        assert!(!ErrorInfo::new(40142, 403, "").is_token_error());
    }

    #[test]
    fn display_adds_help_url_once() {
        let e = ErrorInfo::new(40100, 401, "nope");
        assert_eq!(
            e.to_string(),
            "[ErrorInfo code=40100 statusCode=401] nope (See https://help.ably.io/error/40100)"
        );
        let e = ErrorInfo::new(40100, 401, "see https://help.ably.io/error/40100");
        assert!(!e.to_string().contains("(See"));
        assert_eq!(ErrorInfo::new(0, 0, "x").help_url(), None);
    }
}
