//! `ably_token_params`: a builder for TokenParams.

use std::ffi::c_char;

use super::boundary::{boundary, boundary_or};
use super::error::ably_error_info;
use super::handle::{
    edit_builder, free_builder, new_builder, non_negative, out_arg, str_arg, with_builder,
    write_out,
};
use super::strings::{ably_str, owned_c_string};
use crate::core::error::{ErrorInfo, Result};
use crate::core::jwt::JwtOptions;
use crate::core::token::TokenParams;
use crate::core::{capability, client_id, sign};

/// TokenParams under construction: ttl, capability, clientId, timestamp, nonce, and for JWTs
/// only a revocation key; every field starts unset. Thread safety: a single-thread object. It
/// is consumed (freed) by the call it is passed to, also when that call fails; free an unused
/// one with `ably_token_params_free`. Using it after it was consumed gives error
/// ABLY_ERR_INVALID_ARGUMENT.
pub struct ably_token_params {
    pub(crate) inner: TokenParams,
    /// The JWT-only claims (`ably_auth_create_jwt`).
    pub(crate) jwt: JwtOptions,
}

impl ably_token_params {
    /// The params for a call that is not `ably_auth_create_jwt`. Errors:
    /// ABLY_ERR_INVALID_ARGUMENT when a JWT-only field is set, rather than dropping it
    /// silently.
    pub(crate) fn into_token_params(self) -> Result<TokenParams> {
        refuse_jwt_claims(&self.jwt)?;
        Ok(self.inner)
    }
}

/// Errors: ABLY_ERR_INVALID_ARGUMENT when JWT-only claims are set for a call that is not a
/// JWT's, rather than dropping them silently.
pub(crate) fn refuse_jwt_claims(jwt: &JwtOptions) -> Result<()> {
    if *jwt != JwtOptions::default() {
        return Err(ErrorInfo::invalid_value(
            "params: a revocation key is a JWT claim; only the JWT calls take params that set one",
        ));
    }
    Ok(())
}

/// Create empty TokenParams. NULL only when about a million builders (options, params and
/// completions; 65536 on 32-bit platforms) are alive at once; every call refuses NULL with
/// ABLY_ERR_INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub extern "C" fn ably_token_params_new() -> *mut ably_token_params {
    new_builder(ably_token_params {
        inner: TokenParams::default(),
        jwt: JwtOptions::default(),
    })
}

/// Free TokenParams that were not passed to a consuming call. NULL, and params that were
/// already consumed or freed, are ignored.
///
/// # Safety
/// `params` is NULL or a pointer returned by `ably_token_params_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_free(params: *mut ably_token_params) {
    boundary_or((), || free_builder(params))
}

/// Apply `f` to live params; shared by the setters.
///
/// # Safety
/// Safe to call with any pointer; `unsafe` so that setters' closures may read their C
/// arguments (whose contracts their own callers uphold).
unsafe fn edit(
    params: *mut ably_token_params,
    f: impl FnOnce(&mut TokenParams) -> Result<()>,
) -> *mut ably_error_info {
    edit_builder(
        params,
        "params",
        |b: &mut ably_token_params| f(&mut b.inner),
    )
}

/// Set the token's lifetime in milliseconds. Unset, Ably applies 60 minutes. Errors:
/// ABLY_ERR_INVALID_ARGUMENT when `ttl_ms` is not positive or `params` is not live.
///
/// # Safety
/// `params` is NULL or a pointer returned by `ably_token_params_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_set_ttl(
    params: *mut ably_token_params,
    ttl_ms: i64,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { edit(params, |p| set_ttl(p, ttl_ms)) }
}

/// Set the capability JSON, e.g. `{"chat:*":["publish","subscribe"]}`. It is validated now and
/// stored in canonical form. Unset, the key's capabilities apply. Operations are checked by
/// shape, not against a list, so operations Ably adds work at once (one this library does not
/// know is logged at debug when used). Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid
/// UTF-8, or an invalid capability (an operation that is not lowercase words joined by `-` or
/// `:` nor `*`, an empty list, `*` mixed with other operations, a duplicate resource).
///
/// # Safety
/// `params` as for `ably_token_params_set_ttl`; `capability_json` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_set_capability(
    params: *mut ably_token_params,
    capability_json: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(params, |p| {
            set_capability(p, str_arg(capability_json, "capability_json")?)
        })
    }
}

/// Set the token's clientId; `"*"` issues a wildcard token. Errors: ABLY_ERR_INVALID_ARGUMENT
/// for NULL or invalid UTF-8; ABLY_ERR_INVALID_CLIENT_ID for an empty clientId or one
/// containing a line feed.
///
/// # Safety
/// `params` as for `ably_token_params_set_ttl`; `client_id` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_set_client_id(
    params: *mut ably_token_params,
    client_id: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit(params, |p| {
            set_client_id(p, str_arg(client_id, "client_id")?)
        })
    }
}

/// Set the timestamp in milliseconds since the epoch; unset, the current time is used. Errors:
/// ABLY_ERR_INVALID_ARGUMENT when negative.
///
/// # Safety
/// `params` is NULL or a pointer returned by `ably_token_params_new`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_set_timestamp(
    params: *mut ably_token_params,
    timestamp_ms: i64,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { edit(params, |p| set_timestamp(p, timestamp_ms)) }
}

/// Set the nonce; unset, a random 22-character nonce is generated per request. Errors:
/// ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8, an empty nonce or one containing a line
/// feed.
///
/// # Safety
/// `params` as for `ably_token_params_set_ttl`; `nonce` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_set_nonce(
    params: *mut ably_token_params,
    nonce: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe { edit(params, |p| set_nonce(p, str_arg(nonce, "nonce")?)) }
}

// The checks shared by the setters above and `ably_token_params_values`.

fn set_ttl(p: &mut TokenParams, ttl_ms: i64) -> Result<()> {
    if ttl_ms <= 0 {
        return Err(ErrorInfo::invalid_value("`ttl_ms` must be positive"));
    }
    p.ttl = Some(ttl_ms as u64);
    Ok(())
}

fn set_capability(p: &mut TokenParams, json: &str) -> Result<()> {
    p.capability = Some(capability::canonicalize(json)?);
    Ok(())
}

fn set_client_id(p: &mut TokenParams, text: &str) -> Result<()> {
    client_id::validate_token_client_id(text)?;
    p.client_id = Some(text.to_owned());
    Ok(())
}

fn set_timestamp(p: &mut TokenParams, timestamp_ms: i64) -> Result<()> {
    p.timestamp = Some(non_negative(timestamp_ms, "timestamp_ms")?);
    Ok(())
}

fn set_nonce(p: &mut TokenParams, text: &str) -> Result<()> {
    sign::validate_nonce(text)?;
    p.nonce = Some(text.to_owned());
    Ok(())
}

/// TokenParams as plain values, passed by value to the one-call issuing functions
/// (`ably_auth_create_token_request_into`, `ably_auth_create_jwt_into`), so that a binding
/// builds no `ably_token_params` handle. The rules are those of the `ably_token_params_set_*`
/// setters; a zeroed struct is explicit params with every field unset.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ably_token_params_values {
    /// true: the Auth's default token params apply (as NULL params do elsewhere) and the other
    /// fields are ignored; false: these params replace the defaults as a whole.
    pub use_defaults: bool,
    /// Lifetime in milliseconds; 0: unset. Negative: error ABLY_ERR_INVALID_ARGUMENT.
    pub ttl_ms: i64,
    /// Capability JSON, validated and canonicalised; `ptr` NULL: unset.
    pub capability: ably_str,
    /// clientId; `ptr` NULL: unset. Empty or with a line feed: error
    /// ABLY_ERR_INVALID_CLIENT_ID.
    pub client_id: ably_str,
    /// Milliseconds since the epoch; 0: unset (the current time). Negative:
    /// ABLY_ERR_INVALID_ARGUMENT.
    pub timestamp_ms: i64,
    /// Nonce; `ptr` NULL: unset (a random one per request).
    pub nonce: ably_str,
    /// JWTs only: the `x-ably-revocation-key` claim (`ably_token_params_set_revocation_key`);
    /// `ptr` NULL: unset. Set, the calls that make TokenRequests refuse the values
    /// (ABLY_ERR_INVALID_ARGUMENT).
    pub revocation_key: ably_str,
}

impl ably_token_params_values {
    /// The JWT-only claims of these values (none for the defaults). Errors:
    /// ABLY_ERR_INVALID_ARGUMENT for a revocation key that
    /// `ably_token_params_set_revocation_key` would refuse.
    ///
    /// # Safety
    /// `revocation_key` is unset or points to `len` readable bytes.
    pub(crate) unsafe fn jwt_options(&self) -> Result<JwtOptions> {
        // SAFETY: caller contract.
        let key = unsafe { self.revocation_key.get("revocation_key") }?;
        let options = JwtOptions {
            revocation_key: key.filter(|_| !self.use_defaults).map(str::to_owned),
        };
        options.validate()?;
        Ok(options)
    }

    /// The params these values describe; `None` for the defaults. The capability is
    /// canonicalised (and so validated) when `canonicalise`; otherwise it is kept as given,
    /// for a caller that canonicalises it anyway (JWT creation), so it is parsed once.
    ///
    /// # Safety
    /// Each string is unset or points to `len` readable bytes.
    pub(crate) unsafe fn token_params(&self, canonicalise: bool) -> Result<Option<TokenParams>> {
        if self.use_defaults {
            return Ok(None);
        }
        let mut p = TokenParams::default();
        if self.ttl_ms != 0 {
            set_ttl(&mut p, self.ttl_ms)?;
        }
        // SAFETY (the three blocks below): caller contract.
        if let Some(json) = unsafe { self.capability.get("capability") }? {
            if canonicalise {
                set_capability(&mut p, json)?;
            } else {
                p.capability = Some(json.to_owned());
            }
        }
        if let Some(text) = unsafe { self.client_id.get("client_id") }? {
            set_client_id(&mut p, text)?;
        }
        if self.timestamp_ms != 0 {
            set_timestamp(&mut p, self.timestamp_ms)?;
        }
        if let Some(text) = unsafe { self.nonce.get("nonce") }? {
            set_nonce(&mut p, text)?;
        }
        Ok(Some(p))
    }
}

/// Set the `x-ably-revocation-key` claim of a JWT: every JWT with the same key can be revoked
/// at once with the target `revocationKey:<key>` (`ably_auth_revoke_tokens`), e.g. all the
/// tokens of one user or group. Not a secret. Only `ably_auth_create_jwt` takes params with a
/// revocation key; every other call refuses them with ABLY_ERR_INVALID_ARGUMENT (a TokenRequest
/// cannot carry one). Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, invalid UTF-8, an empty key
/// or one with control characters.
///
/// # Safety
/// `params` as for `ably_token_params_set_ttl`; `revocation_key` is NULL or NUL-terminated.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_set_revocation_key(
    params: *mut ably_token_params,
    revocation_key: *const c_char,
) -> *mut ably_error_info {
    // SAFETY: forwarded.
    unsafe {
        edit_builder(params, "params", |b: &mut ably_token_params| {
            let text = str_arg(revocation_key, "revocation_key")?;
            let jwt = JwtOptions {
                revocation_key: Some(text.to_owned()),
            };
            jwt.validate()?;
            b.jwt = jwt;
            Ok(())
        })
    }
}

/// Read params back: fill `*out_values` with what is set, in the form
/// `ably_auth_create_token_request_into` takes (`use_defaults` false; `ttl_ms` and
/// `timestamp_ms` 0 when unset; a string's `ptr` NULL when unset). The strings are borrowed
/// from `params`, not NUL-terminated, and stay valid until `params` is changed, consumed or
/// freed.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT when `params` is not live or `out_values` is NULL (nothing
/// is written).
///
/// Thread safety: like every builder call, one call on `params` at a time.
///
/// # Safety
/// `params` is NULL or from `ably_token_params_new`; `out_values` is NULL or points to writable
/// memory for an `ably_token_params_values`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_get(
    params: *mut ably_token_params,
    out_values: *mut ably_token_params_values,
) -> *mut ably_error_info {
    boundary(|| {
        let out = out_arg(out_values, "out_values")?;
        let values = with_builder(params, "params", |b: &mut ably_token_params| {
            Ok(values_of(&b.inner, &b.jwt))
        })?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, values) };
        Ok(())
    })
}

/// The values of `p` and `jwt`, borrowing their strings.
fn values_of(p: &TokenParams, jwt: &JwtOptions) -> ably_token_params_values {
    let borrow = |text: &Option<String>| match text {
        Some(text) => ably_str {
            ptr: text.as_ptr().cast(),
            len: text.len(),
        },
        None => ably_str {
            ptr: std::ptr::null(),
            len: 0,
        },
    };
    let millis = |value: Option<u64>| value.map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX));
    ably_token_params_values {
        use_defaults: false,
        ttl_ms: millis(p.ttl),
        capability: borrow(&p.capability),
        client_id: borrow(&p.client_id),
        timestamp_ms: millis(p.timestamp),
        nonce: borrow(&p.nonce),
        revocation_key: borrow(&jwt.revocation_key),
    }
}

/// Parse TokenParams JSON (TK2: `ttl`, `capability` as a JSON string, `clientId`, `timestamp`,
/// `nonce`; numbers may be numeric strings; unknown fields ignored), e.g. the params an
/// authCallback receives, into new params (read them with `ably_token_params_get`). Each field
/// is checked as its setter checks it. On success `*out_params` receives params to pass to a
/// call or free with `ably_token_params_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for NULL, JSON that is not a TokenParams object, or a
/// field its setter refuses (ABLY_ERR_INVALID_CLIENT_ID for a bad clientId); nothing is written
/// then.
///
/// # Safety
/// `json` is NULL or NUL-terminated; `out_params` is NULL or points to writable memory for a
/// pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_from_json(
    json: *const c_char,
    out_params: *mut *mut ably_token_params,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let text = unsafe { str_arg(json, "json") }?;
        let out = out_arg(out_params, "out_params")?;
        let parsed = TokenParams::from_json(text)?;
        let mut checked = TokenParams {
            ttl: parsed.ttl,
            timestamp: parsed.timestamp,
            ..TokenParams::default()
        };
        if let Some(json) = &parsed.capability {
            set_capability(&mut checked, json)?;
        }
        if let Some(text) = &parsed.client_id {
            set_client_id(&mut checked, text)?;
        }
        if let Some(text) = &parsed.nonce {
            set_nonce(&mut checked, text)?;
        }
        let handle = new_params(ably_token_params {
            inner: checked,
            jwt: JwtOptions::default(),
        })?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, handle) };
        Ok(())
    })
}

/// The params as TokenParams JSON (the form `ably_token_params_from_json` reads; fields that
/// are unset are left out). On success `*out_json` receives a string to free with
/// `ably_string_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT when `params` is not live or `out_json` is NULL.
///
/// # Safety
/// `params` is NULL or from `ably_token_params_new`; `out_json` is NULL or points to writable
/// memory for a pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_to_json(
    params: *mut ably_token_params,
    out_json: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        let out = out_arg(out_json, "out_json")?;
        let json = with_builder(params, "params", |b: &mut ably_token_params| {
            Ok(b.inner.to_json())
        })?;
        let json = owned_c_string(json)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, json) };
        Ok(())
    })
}

/// A copy of `params` (the revocation key included), for a server that builds its params once
/// and passes a copy to each consuming call. On success `*out_params` receives params to pass
/// to a call or free with `ably_token_params_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT when `params` is not live or `out_params` is NULL.
///
/// # Safety
/// `params` is NULL or from `ably_token_params_new`; `out_params` is NULL or points to writable
/// memory for a pointer.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_token_params_clone(
    params: *mut ably_token_params,
    out_params: *mut *mut ably_token_params,
) -> *mut ably_error_info {
    boundary(|| {
        let out = out_arg(out_params, "out_params")?;
        let (inner, jwt) = with_builder(params, "params", |b: &mut ably_token_params| {
            Ok((b.inner.clone(), b.jwt.clone()))
        })?;
        let handle = new_params(ably_token_params { inner, jwt })?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, handle) };
        Ok(())
    })
}

/// Register new params; ABLY_ERR_INVALID_ARGUMENT when no handle slot is left.
fn new_params(params: ably_token_params) -> Result<*mut ably_token_params> {
    let handle = new_builder(params);
    if handle.is_null() {
        return Err(ErrorInfo::invalid_value(
            "too many builders are alive at once (no handle slot left)",
        ));
    }
    Ok(handle)
}
