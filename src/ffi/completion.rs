//! `ably_auth_completion`: the one-shot answer to one authCallback call.

use std::ffi::c_char;

use super::boundary::boundary;
use super::error::ably_error_info;
use super::handle::{str_arg, take_builder};
use crate::auth::Completion;
use crate::core::error::{ErrorInfo, Result};
use crate::core::material::{TokenMaterial, callback_error};

/// The answer channel of one authCallback call. The library creates it and passes it to the
/// callback; the host answers it exactly once, with `ably_auth_completion_token`,
/// `ably_auth_completion_json` or `ably_auth_completion_error`, which free it in every case. A
/// completion never answered is leaked (and the waiting call fails with
/// ABLY_ERR_AUTH_CALLBACK_FAILED after the request timeout), so answer it even when it is late.
///
/// Thread safety: answer it from any thread, during or after the callback. Answering it twice
/// gives ABLY_ERR_INVALID_ARGUMENT.
pub struct ably_auth_completion {
    inner: Completion,
}

impl ably_auth_completion {
    pub(crate) fn new(inner: Completion) -> Self {
        ably_auth_completion { inner }
    }

    /// Answer without a C handle (when none could be made).
    pub(crate) fn complete(self, answer: Result<TokenMaterial>) -> Result<()> {
        self.inner.complete(answer)
    }
}

/// Consume `completion` (always), then hand it `answer()`'s result. An invalid argument is
/// reported to the caller and answers the completion with ABLY_ERR_AUTH_CALLBACK_FAILED.
///
/// # Safety
/// `completion` is NULL or a pointer passed to an authCallback.
unsafe fn answer(
    completion: *mut ably_auth_completion,
    answer: impl FnOnce() -> Result<Result<TokenMaterial>>,
) -> *mut ably_error_info {
    boundary(|| {
        // Consumed before anything can fail.
        let completion = take_builder(completion, "completion", false)?.expect("required");
        match answer() {
            Ok(material) => completion.inner.complete(material),
            Err(bad_input) => {
                // The waiting call fails now (40170) rather than at the timeout.
                let _ = completion
                    .inner
                    .complete(Err(callback_error(&bad_input.message)));
                Err(bad_input)
            }
        }
    })
}

/// Answer with a token string: an Ably token or a JWT. `completion` is consumed (freed) in
/// every case, also on error.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `completion` or one already answered;
/// ABLY_ERR_INVALID_ARGUMENT for a NULL or non-UTF-8 `token` (the waiting call then fails with
/// ABLY_ERR_AUTH_CALLBACK_FAILED at once); ABLY_ERR_AUTH_CALLBACK_FAILED when the library no
/// longer waits (the request timeout passed). A token that is empty or clearly not a token
/// makes the waiting call fail with ABLY_ERR_AUTH_CALLBACK_FAILED.
///
/// Thread safety: any thread, during or after the callback.
///
/// # Safety
/// `completion` is NULL or a pointer passed to an authCallback; `token` is NULL or
/// NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_completion_answer_token(
    completion: *mut ably_auth_completion,
    token: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        answer(completion, || {
            let text = str_arg(token, "token")?;
            Ok(TokenMaterial::token_string(text))
        })
    }
}

/// Answer with JSON: a TokenDetails (has `token`) or a signed TokenRequest (has `keyName` and
/// `mac`), which the library exchanges for a token. `completion` is consumed (freed) in every
/// case, also on error.
///
/// Errors: as for `ably_auth_completion_answer_token`. JSON that is neither makes the waiting
/// call fail with ABLY_ERR_AUTH_CALLBACK_FAILED.
///
/// Thread safety: any thread, during or after the callback.
///
/// # Safety
/// `completion` is NULL or a pointer passed to an authCallback; `json` is NULL or
/// NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_completion_answer_json(
    completion: *mut ably_auth_completion,
    json: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        answer(completion, || {
            let text = str_arg(json, "json")?;
            Ok(TokenMaterial::from_json(text))
        })
    }
}

/// Answer with an error: the waiting call fails with it. A `code` of 0 becomes
/// ABLY_ERR_AUTH_CALLBACK_FAILED (or ABLY_ERR_FORBIDDEN with `status_code` 403), keeping
/// `message`. `message` may be NULL. `completion` is consumed (freed) in every case, also on
/// error.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `completion` or one already answered, or a
/// non-UTF-8 `message`; ABLY_ERR_INVALID_ARGUMENT for a negative `code` or a `status_code`
/// outside 0..=599; ABLY_ERR_AUTH_CALLBACK_FAILED when the library no longer waits.
///
/// Thread safety: any thread, during or after the callback.
///
/// # Safety
/// `completion` is NULL or a pointer passed to an authCallback; `message` is NULL or
/// NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_completion_answer_error(
    completion: *mut ably_auth_completion,
    code: i32,
    status_code: i32,
    message: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        answer(completion, || {
            let code = u32::try_from(code)
                .map_err(|_| ErrorInfo::invalid_value("`code` must not be negative"))?;
            let status = u16::try_from(status_code)
                .ok()
                .filter(|s| *s < 600)
                .ok_or_else(|| ErrorInfo::invalid_value("`status_code` must be 0..=599"))?;
            let text = if message.is_null() {
                "the authCallback reported an error"
            } else {
                str_arg(message, "message")?
            };
            Ok(Err(ErrorInfo::new(code, status, text)))
        })
    }
}

// The names before 0.2: nouns that read like getters. Kept as deprecated aliases under the
// README's ABI policy (a name is never removed within a major version).

/// Deprecated alias of `ably_auth_completion_answer_token`.
///
/// # Safety
/// As for `ably_auth_completion_answer_token`.
#[must_use]
#[deprecated(note = "use ably_auth_completion_answer_token")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_completion_token(
    completion: *mut ably_auth_completion,
    token: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { ably_auth_completion_answer_token(completion, token) }
}

/// Deprecated alias of `ably_auth_completion_answer_json`.
///
/// # Safety
/// As for `ably_auth_completion_answer_json`.
#[must_use]
#[deprecated(note = "use ably_auth_completion_answer_json")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_completion_json(
    completion: *mut ably_auth_completion,
    json: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { ably_auth_completion_answer_json(completion, json) }
}

/// Deprecated alias of `ably_auth_completion_answer_error`.
///
/// # Safety
/// As for `ably_auth_completion_answer_error`.
#[must_use]
#[deprecated(note = "use ably_auth_completion_answer_error")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_completion_error(
    completion: *mut ably_auth_completion,
    code: i32,
    status_code: i32,
    message: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { ably_auth_completion_answer_error(completion, code, status_code, message) }
}
