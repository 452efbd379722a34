//! Library version.

use std::ffi::c_char;

/// Major version of the library this header belongs to.
pub const ABLY_AUTH_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header belongs to.
pub const ABLY_AUTH_VERSION_MINOR: u32 = 1;
/// Patch version of the library this header belongs to.
pub const ABLY_AUTH_VERSION_PATCH: u32 = 0;

/// The version as one number, `MAJOR << 16 | MINOR << 8 | PATCH` (0x000100 for 0.1.0), for
/// `#if ABLY_AUTH_VERSION_NUMBER >= ...` checks; `ably_auth_version_number()` gives the
/// linked library's.
pub const ABLY_AUTH_VERSION_NUMBER: u32 =
    ABLY_AUTH_VERSION_MAJOR << 16 | ABLY_AUTH_VERSION_MINOR << 8 | ABLY_AUTH_VERSION_PATCH;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, e.g. "0.1.0": a static string, never NULL, never freed.
/// Compare it with the ABLY_AUTH_VERSION_* macros to detect a header/library mismatch.
/// Thread safety: may be called from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ably_auth_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The linked library's version as one number (see `ABLY_AUTH_VERSION_NUMBER`). A program
/// built against this header runs with any library whose major version is the same and
/// whose number is at least the header's (see "ABI policy" in the README).
/// Thread safety: may be called from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ably_auth_version_number() -> u32 {
    ABLY_AUTH_VERSION_NUMBER
}

/// Bit of `ably_auth_features()`: the built-in HTTP client (ureq, rustls, Mozilla's roots;
/// Cargo feature `http-client`, CMake option ABLY_AUTH_HTTP_CLIENT) is in this library.
/// Without it, networked calls need `ably_auth_options_set_http_transport` and otherwise
/// fail with `ABLY_ERR_NOT_BUILT_IN`. `ably_auth_conf.h` tells the same at compile time
/// (`ABLY_AUTH_FEATURE_HTTP_CLIENT`).
pub const ABLY_AUTH_FEATURE_MASK_HTTP_CLIENT: u32 = 1;

/// The optional parts built into the linked library, as `ABLY_AUTH_FEATURE_MASK_*` bits.
/// Thread safety: may be called from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn ably_auth_features() -> u32 {
    if crate::http::HTTP_CLIENT_BUILT_IN {
        ABLY_AUTH_FEATURE_MASK_HTTP_CLIENT
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        assert_eq!(
            ABLY_AUTH_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            ABLY_AUTH_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            ABLY_AUTH_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        // SAFETY: a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(ably_auth_version()) };
        assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        let number = ably_auth_version_number();
        assert_eq!(
            format!(
                "{}.{}.{}",
                number >> 16,
                (number >> 8) & 0xff,
                number & 0xff
            ),
            env!("CARGO_PKG_VERSION")
        );
    }
}
