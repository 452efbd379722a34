//! `ably_error_info`: the spec's ErrorInfo as a C struct owned by the caller.

use std::ffi::{CString, c_char};
use std::ptr;

use crate::core::error::ErrorInfo;

/// Bad request: conflicting options.
pub const ABLY_ERR_BAD_REQUEST: i32 = 40000;
/// Invalid argument: NULL, invalid UTF-8, malformed JSON, out-of-range value, invalid
/// capability, or a builder that was already consumed.
pub const ABLY_ERR_INVALID_ARGUMENT: i32 = 40003;
/// Invalid clientId (empty, or `*` in the options).
pub const ABLY_ERR_INVALID_CLIENT_ID: i32 = 40012;
/// Invalid credentials: a malformed API key, or no key to sign with.
pub const ABLY_ERR_INVALID_CREDENTIALS: i32 = 40101;
/// Incompatible credentials: the token's clientId conflicts with the options' clientId.
pub const ABLY_ERR_INCOMPATIBLE_CREDENTIALS: i32 = 40102;
/// No means of authentication: no key, token or tokenDetails.
pub const ABLY_ERR_NO_AUTH_METHOD: i32 = 40106;
/// First code of the token-error range (a 401 with a code in a token error
/// (ABLY_ERR_TOKEN_ERROR_FIRST to _LAST) calls for renewal).
pub const ABLY_ERR_TOKEN_ERROR_FIRST: i32 = 40140;
/// Last code of the token-error range.
pub const ABLY_ERR_TOKEN_ERROR_LAST: i32 = 40149;
/// Basic authentication over plain HTTP: use TLS or token auth.
pub const ABLY_ERR_INSECURE_BASIC_AUTH: i32 = 40103;
/// A TokenRequest's timestamp is outside the server's window (clock skew).
pub const ABLY_ERR_TIMESTAMP_NOT_CURRENT: i32 = 40104;
/// The operation needs Basic auth with a key (revokeTokens, RSA17d).
pub const ABLY_ERR_REQUIRES_BASIC_AUTH: i32 = 40162;
/// The authCallback or authUrl failed, answered with something invalid, or did not answer
/// within the request timeout; also a completion answered too late.
pub const ABLY_ERR_AUTH_CALLBACK_FAILED: i32 = 40170;
/// A new token is needed but the options have no means to get one.
pub const ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED: i32 = 40171;
/// Invalid message data or encoding: an answer of an unsupported content type (status 400).
pub const ABLY_ERR_INVALID_MESSAGE_DATA: i32 = 40013;
/// Unauthorized: Ably's code for a 401 that names no other (not a token error).
pub const ABLY_ERR_UNAUTHORIZED: i32 = 40100;
/// A TokenRequest's nonce was used before (the server refuses a replayed request).
pub const ABLY_ERR_NONCE_REPLAYED: i32 = 40105;
/// The token was revoked (a token error: renewal follows).
pub const ABLY_ERR_TOKEN_REVOKED: i32 = 40141;
/// The token expired (a token error: renewal follows).
pub const ABLY_ERR_TOKEN_EXPIRED: i32 = 40142;
/// The token's capability does not allow the operation.
pub const ABLY_ERR_OPERATION_NOT_PERMITTED: i32 = 40160;
/// Token revocation is not enabled for the key (revokeTokens).
pub const ABLY_ERR_REVOCATION_NOT_ENABLED: i32 = 40163;
/// Forbidden: Ably's code for a 403 that names no other; also an authCallback error with
/// status 403 and no code.
pub const ABLY_ERR_FORBIDDEN: i32 = 40300;
/// Not found: Ably's code for a 404 that names no other.
pub const ABLY_ERR_NOT_FOUND: i32 = 40400;
/// Method not allowed: Ably's code for a 405 that names no other.
pub const ABLY_ERR_METHOD_NOT_ALLOWED: i32 = 40500;
/// Rate limited: Ably's code for a 429 that names no other.
pub const ABLY_ERR_RATE_LIMITED: i32 = 42910;
/// Internal error: a panic was caught inside the library, or an unexpected server answer.
pub const ABLY_ERR_INTERNAL: i32 = 50000;
/// The request timed out.
pub const ABLY_ERR_TIMEOUT: i32 = 50003;
/// The connection failed: host not found or unreachable, or TLS failed.
pub const ABLY_ERR_CONNECTION_FAILED: i32 = 80000;
/// (Library code, status 0.) A call refused because of where it was made from: a call that
/// needs a token from inside the authCallback of the same Auth (it would wait for itself),
/// a networked call from inside a log sink, or callbacks nested more than 8 deep on one
/// thread. See "Callbacks and re-entrancy" at the top of this header.
pub const ABLY_ERR_REENTRANT_CALL: i32 = 100_001;
/// (Library code, status 0.) The call was cancelled by its caller.
pub const ABLY_ERR_CANCELLED: i32 = 100_002;
/// (Library code, status 0.) The Auth is shut down or being freed and takes no new work.
pub const ABLY_ERR_SHUT_DOWN: i32 = 100_003;
/// (Library code, status 0.) No valid token is cached, from a read that does no I/O.
pub const ABLY_ERR_NO_VALID_TOKEN: i32 = 100_004;
/// (Library code, status 0.) The call needs a part this build of the library leaves out: a
/// networked call with no HTTP transport of the host's, or an option of the built-in HTTP
/// client, in a build without it (see `ably_auth_features`).
pub const ABLY_ERR_NOT_BUILT_IN: i32 = 100_005;
/// (Library code, status 0.) An `_async` call refused at once because the Auth already has
/// as many calls in flight as `ably_auth_options_set_max_calls_in_flight` allows (10000 by
/// default); its `done` never runs.
pub const ABLY_ERR_TOO_MANY_CALLS: i32 = 100_006;

/// An Ably ErrorInfo. Returned by every fallible function as an owned pointer: NULL means
/// success; otherwise the caller reads the fields and frees it, once, with
/// `ably_error_info_free` (which also frees `cause`). The fields are read-only for the caller.
/// New fields are only ever appended, so code compiled against an older header keeps working.
///
/// Thread safety: immutable; may be read from any thread and freed from any thread.
#[repr(C)]
pub struct ably_error_info {
    /// Ably error code, e.g. ABLY_ERR_TOKEN_ERROR_FIRST (token error) or
    /// ABLY_ERR_INVALID_ARGUMENT (invalid argument).
    pub code: i32,
    /// HTTP status code: the status of the answer the error reports, or the one the Ably spec
    /// names for the code (e.g. ABLY_ERR_AUTH_CALLBACK_FAILED (status 401)); 0 when none
    /// applies (see the header's conventions).
    pub status_code: i32,
    /// Human-readable message, never NULL. Never contains a key secret, token or mac.
    pub message: *const c_char,
    /// Help URL, or NULL.
    pub href: *const c_char,
    /// The underlying error, or NULL. Owned by this error.
    pub cause: *const ably_error_info,
}

fn c_text(text: &str) -> *const c_char {
    let cleaned = text.replace('\0', "\u{FFFD}");
    CString::new(cleaned)
        .expect("NUL bytes were replaced")
        .into_raw()
}

/// Convert an ErrorInfo into an owned C error.
pub(crate) fn error_into_c(error: ErrorInfo) -> *mut ably_error_info {
    let ErrorInfo {
        code,
        status_code,
        message,
        href,
        cause,
    } = error;
    Box::into_raw(Box::new(ably_error_info {
        code: i32::try_from(code).unwrap_or(i32::MAX),
        status_code: i32::from(status_code),
        message: c_text(&message),
        href: href.as_deref().map_or(ptr::null(), c_text),
        cause: cause.map_or(ptr::null(), |c| error_into_c(*c)),
    }))
}

/// Free an error returned by this library, including its `cause` chain. NULL is a no-op.
/// Call it exactly once per error.
///
/// # Safety
/// `error` is NULL or an error returned by this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_error_info_free(error: *mut ably_error_info) {
    let mut next = error;
    while !next.is_null() {
        // SAFETY: every error and cause was allocated by error_into_c and is owned here.
        let boxed = unsafe { Box::from_raw(next) };
        for text in [boxed.message, boxed.href] {
            if !text.is_null() {
                // SAFETY: allocated by CString::into_raw in c_text.
                drop(unsafe { CString::from_raw(text.cast_mut()) });
            }
        }
        next = boxed.cause.cast_mut();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::codes;

    #[test]
    fn c_error_constants_match_the_core_codes() {
        let pairs = [
            (ABLY_ERR_BAD_REQUEST, codes::BAD_REQUEST),
            (ABLY_ERR_INVALID_ARGUMENT, codes::INVALID_PARAMETER_VALUE),
            (ABLY_ERR_INVALID_CLIENT_ID, codes::INVALID_CLIENT_ID),
            (ABLY_ERR_INVALID_CREDENTIALS, codes::INVALID_CREDENTIALS),
            (
                ABLY_ERR_INCOMPATIBLE_CREDENTIALS,
                codes::INCOMPATIBLE_CREDENTIALS,
            ),
            (ABLY_ERR_NO_AUTH_METHOD, codes::NO_AUTH_METHOD),
            (ABLY_ERR_TOKEN_ERROR_FIRST, codes::TOKEN_ERROR_FIRST),
            (ABLY_ERR_TOKEN_ERROR_LAST, codes::TOKEN_ERROR_LAST),
            (ABLY_ERR_INSECURE_BASIC_AUTH, codes::INSECURE_BASIC_AUTH),
            (ABLY_ERR_TIMESTAMP_NOT_CURRENT, codes::TIMESTAMP_NOT_CURRENT),
            (ABLY_ERR_REQUIRES_BASIC_AUTH, codes::REQUIRES_BASIC_AUTH),
            (ABLY_ERR_AUTH_CALLBACK_FAILED, codes::AUTH_CALLBACK_FAILED),
            (
                ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED,
                codes::TOKEN_RENEWAL_NOT_CONFIGURED,
            ),
            (ABLY_ERR_UNAUTHORIZED, codes::UNAUTHORIZED),
            (ABLY_ERR_TOKEN_EXPIRED, codes::TOKEN_EXPIRED),
            (ABLY_ERR_FORBIDDEN, codes::FORBIDDEN),
            (ABLY_ERR_NOT_FOUND, codes::NOT_FOUND),
            (ABLY_ERR_RATE_LIMITED, codes::RATE_LIMITED),
            (ABLY_ERR_INTERNAL, codes::INTERNAL_ERROR),
            (ABLY_ERR_TIMEOUT, codes::TIMEOUT),
            (ABLY_ERR_CONNECTION_FAILED, codes::CONNECTION_FAILED),
            (ABLY_ERR_REENTRANT_CALL, codes::REENTRANT_CALL),
            (ABLY_ERR_CANCELLED, codes::CANCELLED),
            (ABLY_ERR_SHUT_DOWN, codes::SHUT_DOWN),
            (ABLY_ERR_NO_VALID_TOKEN, codes::NO_VALID_TOKEN),
            (ABLY_ERR_NOT_BUILT_IN, codes::NOT_BUILT_IN),
            (ABLY_ERR_TOO_MANY_CALLS, codes::TOO_MANY_CALLS),
        ];
        for (c, core) in pairs {
            assert_eq!(c as u32, core);
        }
    }
}
