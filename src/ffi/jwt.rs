//! `ably_jwt_*`: JWTs that need no `ably_auth` handle.

use std::ffi::c_char;

use super::boundary::boundary;
use super::error::ably_error_info;
use super::handle::{non_negative, out_arg, str_arg, write_out};
use super::strings::owned_c_string;
use crate::core::error::ErrorInfo;
use crate::core::jwt::embed_token_in_jwt;

/// Embed an Ably token (or Ably JWT) in the app's own JWT (ably.com/docs/auth/token#embedded):
/// an HS256 JWT signed with `secret` (the app's key for its own JWT scheme, not the Ably key)
/// whose JOSE header carries `token` as `x-ably-token` and whose only claim is `exp`,
/// `token_expires_ms` in whole seconds rounded down (Ably refuses an outer JWT that outlives
/// the token inside). Ably does not check the outer signature; the app's services can. Clients
/// use the result as a token string. No network I/O, no clock. On success `*out_jwt` receives a
/// string to free with `ably_string_free`.
///
/// Errors: ABLY_ERR_INVALID_ARGUMENT for a NULL `token` or `out_jwt`, invalid UTF-8, an empty
/// token or one with spaces or control characters, `token_expires_ms` under 1000, or an empty
/// secret (`secret` may be NULL only when `secret_len` is 0, which is refused as empty).
///
/// Thread safety: may be called from any thread; touches no shared state.
///
/// # Safety
/// `token` is NULL or NUL-terminated; `secret` is NULL or points to `secret_len` readable
/// bytes; `out_jwt` is NULL or writable.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_jwt_embed_token(
    token: *const c_char,
    token_expires_ms: i64,
    secret: *const u8,
    secret_len: usize,
    out_jwt: *mut *mut c_char,
) -> *mut ably_error_info {
    boundary(|| {
        // SAFETY: caller contract.
        let token = unsafe { str_arg(token, "token") }?;
        let expires = non_negative(token_expires_ms, "token_expires_ms")?;
        let secret: &[u8] = match (secret.is_null(), secret_len) {
            (_, 0) => &[],
            (true, _) => {
                return Err(ErrorInfo::invalid_value(
                    "`secret` is NULL but `secret_len` is not 0",
                ));
            }
            // SAFETY: caller contract: `secret_len` readable bytes.
            (false, len) => unsafe { std::slice::from_raw_parts(secret, len) },
        };
        let out = out_arg(out_jwt, "out_jwt")?;
        let jwt = owned_c_string(embed_token_in_jwt(token, expires, secret)?)?;
        // SAFETY: checked by out_arg.
        unsafe { write_out(out, jwt) };
        Ok(())
    })
}
