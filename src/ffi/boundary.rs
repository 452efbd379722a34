//! The panic boundary: no Rust panic ever unwinds into C.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use super::error::{ably_error_info, error_into_c};
use crate::core::error::{ErrorInfo, Result, codes};

/// Run `f`; return NULL on success, an owned error on failure, error ABLY_ERR_INTERNAL on a
/// panic.
pub(crate) fn boundary(f: impl FnOnce() -> Result<()>) -> *mut ably_error_info {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => error_into_c(e),
        Err(_) => error_into_c(ErrorInfo::new(
            codes::INTERNAL_ERROR,
            500,
            "internal error in ably-auth: a panic was caught at the C boundary (please report it)",
        )),
    }
}

/// Run `f`, which cannot report an error, returning `fallback` if it panics.
pub(crate) fn boundary_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
