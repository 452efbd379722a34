//! `ably_revocation_result` and `ably_auth_revoke_tokens`.

use std::ffi::{CString, c_char};
use std::ptr;

use serde_json::json;

use super::auth::{ably_auth, auth_call};
use super::boundary::{boundary, boundary_or};
use super::error::{ably_error_info, ably_error_info_free, error_into_c};
use super::handle::{free_handle, handle_ref, new_handle, out_arg, write_out};
use super::options::string_array;
use super::strings::owned_c_string;
use super::token_request::saturating_i64;
use crate::core::error::ErrorInfo;
use crate::core::material::{RevocationOutcome, RevocationResult};

/// The outcome of `ably_auth_revoke_tokens`: one entry per target, in the server's order.
/// Immutable; strings and errors are borrowed from it and valid until it is freed with
/// `ably_revocation_result_free`. Thread safety: may be read from many threads at once.
pub struct ably_revocation_result {
    inner: RevocationResult,
    targets: Vec<CString>,
    /// Per entry: NULL for a success, else an error owned by this handle.
    errors: Vec<*mut ably_error_info>,
}

// SAFETY: the error pointers are owned, immutable after construction and freed in Drop.
unsafe impl Send for ably_revocation_result {}
// SAFETY: as above: shared access only reads them.
unsafe impl Sync for ably_revocation_result {}

impl ably_revocation_result {
    pub(crate) fn new(inner: RevocationResult) -> Self {
        let mut targets = Vec::with_capacity(inner.results.len());
        let mut errors = Vec::with_capacity(inner.results.len());
        for outcome in &inner.results {
            let (target, error) = match outcome {
                RevocationOutcome::Success { target, .. } => (target, ptr::null_mut()),
                RevocationOutcome::Failure { target, error } => {
                    (target, error_into_c(error.clone()))
                }
            };
            targets.push(CString::new(target.replace('\0', "\u{FFFD}")).unwrap_or_default());
            errors.push(error);
        }
        ably_revocation_result {
            inner,
            targets,
            errors,
        }
    }

    fn to_json(&self) -> String {
        let results: Vec<serde_json::Value> = self
            .inner
            .results
            .iter()
            .map(|outcome| match outcome {
                RevocationOutcome::Success {
                    target,
                    issued_before,
                    applies_at,
                } => json!({
                    "target": target,
                    "issuedBefore": issued_before,
                    "appliesAt": applies_at,
                }),
                RevocationOutcome::Failure { target, error } => {
                    json!({ "target": target, "error": error })
                }
            })
            .collect();
        json!({
            "successCount": self.inner.success_count,
            "failureCount": self.inner.failure_count,
            "results": results,
        })
        .to_string()
    }
}

impl Drop for ably_revocation_result {
    fn drop(&mut self) {
        for error in self.errors.drain(..) {
            // SAFETY: allocated by error_into_c, owned here, freed once.
            unsafe { ably_error_info_free(error) };
        }
    }
}

/// `revokeTokens`: revoke the tokens matching `targets`, `count` strings of the form
/// `type:value` (`clientId:alice`, `revocationKey:k`, `channel:c`). Needs Basic auth with the
/// Auth's own key.
///
/// `issued_before_ms`: revoke tokens issued before this time (ms since the epoch);
/// `ABLY_ISSUED_BEFORE_UNSET` (or any negative value) leaves it to the server (now).
/// `allow_reauth_margin`: `ABLY_REAUTH_MARGIN_UNSET`, `_OFF` or `_ON` (a 30 s grace period for
/// clients to get a new token). On success (even when some targets failed) `*out_result`
/// receives a result to free with `ably_revocation_result_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `auth` or `out_result`, NULL `targets` with a
/// non-zero `count`, a NULL or non-UTF-8 target, no targets, a target without `:`, or
/// `allow_reauth_margin` outside -1..=1; ABLY_ERR_REQUIRES_BASIC_AUTH when the Auth uses token
/// auth or has no key; the server's error (e.g. ABLY_ERR_REVOCATION_NOT_ENABLED for a key
/// without revocation); ABLY_ERR_TIMEOUT or ABLY_ERR_CONNECTION_FAILED for network failures.
///
/// Thread safety: `auth` may be used from many threads at once. Blocks the calling thread.
///
/// # Safety
/// `auth` is NULL or a live handle; `targets` is NULL or holds `count` pointers, each NULL or
/// NUL-terminated; `out_result` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_auth_revoke_tokens(
    auth: *const ably_auth,
    targets: *const *const c_char,
    count: usize,
    issued_before_ms: i64,
    allow_reauth_margin: i32,
    out_result: *mut *mut ably_revocation_result,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let auth = unsafe { auth_call(auth) }?;
        // SAFETY: caller contract.
        let (targets, issued_before, margin) =
            unsafe { revoke_args(targets, count, issued_before_ms, allow_reauth_margin) }?;
        let out = out_arg(out_result, "out_result")?;
        let result = auth.inner.revoke_tokens(&targets, issued_before, margin)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, new_handle(ably_revocation_result::new(result))) };
        Ok(())
    })
}

/// `issued_before_ms` of `ably_auth_revoke_tokens`: unset (the server uses now).
pub const ABLY_ISSUED_BEFORE_UNSET: i64 = -1;
/// `allow_reauth_margin` of `ably_auth_revoke_tokens`: unset (the server's default).
pub const ABLY_REAUTH_MARGIN_UNSET: i32 = -1;
/// `allow_reauth_margin`: revoked tokens stop working at once.
pub const ABLY_REAUTH_MARGIN_OFF: i32 = 0;
/// `allow_reauth_margin`: clients get a 30 s grace period to reauthenticate.
pub const ABLY_REAUTH_MARGIN_ON: i32 = 1;

/// Check and copy the arguments of `ably_auth_revoke_tokens` (and its non-blocking form).
///
/// # Safety
/// As for `ably_auth_revoke_tokens`.
pub(crate) unsafe fn revoke_args(
    targets: *const *const c_char,
    count: usize,
    issued_before_ms: i64,
    allow_reauth_margin: i32,
) -> crate::core::error::Result<(Vec<String>, Option<u64>, Option<bool>)> {
    // SAFETY: caller contract.
    let targets = unsafe { string_array(targets, count, "targets") }?;
    let margin = match allow_reauth_margin {
        ABLY_REAUTH_MARGIN_UNSET => None,
        ABLY_REAUTH_MARGIN_OFF => Some(false),
        ABLY_REAUTH_MARGIN_ON => Some(true),
        _ => {
            return Err(ErrorInfo::invalid_value(
                "`allow_reauth_margin` must be ABLY_REAUTH_MARGIN_UNSET (-1), _OFF (0) or _ON (1)",
            ));
        }
    };
    Ok((targets, u64::try_from(issued_before_ms).ok(), margin))
}

/// Run `f` on entry `index`; `fallback` when `result` is NULL or `index` out of range.
///
/// # Safety
/// `result` is NULL or a live handle.
unsafe fn entry<T: Copy>(
    result: *const ably_revocation_result,
    index: usize,
    fallback: T,
    f: impl FnOnce(&ably_revocation_result, &RevocationOutcome) -> T,
) -> T {
    // SAFETY: caller contract.
    let Some(r) = (unsafe { result.as_ref() }) else {
        return fallback;
    };
    boundary_or(fallback, || {
        r.inner.results.get(index).map_or(fallback, |o| f(r, o))
    })
}

/// The number of targets revoked; 0 when `result` is NULL.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_success_count(
    result: *const ably_revocation_result,
) -> usize {
    // SAFETY: caller contract.
    unsafe { result.as_ref() }.map_or(0, |r| r.inner.success_count)
}

/// The number of targets that failed; 0 when `result` is NULL.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_failure_count(
    result: *const ably_revocation_result,
) -> usize {
    // SAFETY: caller contract.
    unsafe { result.as_ref() }.map_or(0, |r| r.inner.failure_count)
}

/// The number of entries (one per target); 0 when `result` is NULL.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_len(
    result: *const ably_revocation_result,
) -> usize {
    // SAFETY: caller contract.
    unsafe { result.as_ref() }.map_or(0, |r| r.inner.results.len())
}

/// Entry `index`'s target (`type:value`), borrowed; NULL when `result` is NULL or `index`
/// is out of range.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_target(
    result: *const ably_revocation_result,
    index: usize,
) -> *const c_char {
    // SAFETY: forwarded.
    unsafe { entry(result, index, ptr::null(), |r, _| r.targets[index].as_ptr()) }
}

/// Whether entry `index` succeeded; false when `result` is NULL or `index` is out of range.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_is_success(
    result: *const ably_revocation_result,
    index: usize,
) -> bool {
    // SAFETY: forwarded.
    unsafe {
        entry(result, index, false, |_, o| {
            matches!(o, RevocationOutcome::Success { .. })
        })
    }
}

/// Entry `index`'s `issuedBefore` (ms since the epoch); 0 when absent, for a failure, or
/// when `result` is NULL or `index` is out of range.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_issued_before(
    result: *const ably_revocation_result,
    index: usize,
) -> i64 {
    // SAFETY: forwarded.
    unsafe {
        entry(result, index, 0, |_, o| match o {
            RevocationOutcome::Success { issued_before, .. } => {
                issued_before.map_or(0, saturating_i64)
            }
            RevocationOutcome::Failure { .. } => 0,
        })
    }
}

/// Entry `index`'s `appliesAt` (ms since the epoch, when the revocation takes effect); 0
/// when absent, for a failure, or when `result` is NULL or `index` is out of range.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_applies_at(
    result: *const ably_revocation_result,
    index: usize,
) -> i64 {
    // SAFETY: forwarded.
    unsafe {
        entry(result, index, 0, |_, o| match o {
            RevocationOutcome::Success { applies_at, .. } => applies_at.map_or(0, saturating_i64),
            RevocationOutcome::Failure { .. } => 0,
        })
    }
}

/// Entry `index`'s error, borrowed (do not free it; valid until `result` is freed); NULL
/// for a success, or when `result` is NULL or `index` is out of range.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_error(
    result: *const ably_revocation_result,
    index: usize,
) -> *const ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        entry(result, index, ptr::null(), |r, _| {
            r.errors[index].cast_const()
        })
    }
}

/// The result as JSON: `{"successCount","failureCount","results":[{"target","issuedBefore",
/// "appliesAt"} | {"target","error"}]}`. On success `*out_json` receives a string to free with
/// `ably_string_free`. Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL argument.
///
/// # Safety
/// `result` is NULL or a live handle; `out_json` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_to_json(
    result: *const ably_revocation_result,
    out_json: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let result = unsafe { handle_ref(result, "result") }?;
        let out = out_arg(out_json, "out_json")?;
        let json = owned_c_string(result.to_json())?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, json) };
        Ok(())
    })
}

/// Free a result and the errors it lends. NULL is a no-op; call it exactly once.
///
/// # Safety
/// `result` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_revocation_result_free(result: *mut ably_revocation_result) {
    // SAFETY: caller contract.
    boundary_or((), || unsafe { free_handle(result) })
}
