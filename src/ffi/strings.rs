//! Strings handed to C: owned ones freed with `ably_string_free`, borrowed ones cached
//! in their handle.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use zeroize::Zeroize;

use crate::core::error::{ErrorInfo, Result};

/// Convert an owned Rust string to an owned C string.
pub(crate) fn owned_c_string(text: String) -> Result<*mut c_char> {
    CString::new(text).map(CString::into_raw).map_err(|_| {
        ErrorInfo::invalid_value(
            "the value contains a NUL byte and cannot be returned as a C string",
        )
    })
}

/// A lazily created NUL-terminated copy of a string field, valid as long as its handle.
#[derive(Default)]
pub(crate) struct CachedCStr(OnceLock<Option<CString>>);

impl CachedCStr {
    /// The C string for `value`: NULL when `value` is `None` or contains a NUL byte.
    pub(crate) fn get(&self, value: Option<&str>) -> *const c_char {
        self.0
            .get_or_init(|| value.and_then(|v| CString::new(v).ok()))
            .as_ref()
            .map_or(ptr::null(), |c| c.as_ptr())
    }
}

/// The cached copy may be a token or a mac: wiped when its handle is freed.
impl Drop for CachedCStr {
    fn drop(&mut self) {
        if let Some(Some(text)) = self.0.take() {
            text.into_bytes_with_nul().zeroize();
        }
    }
}

/// Free a string returned by this library (JSON text, a JWT, a clientId). The bytes are
/// overwritten with zeros before the memory is released, since such strings may be
/// credentials. NULL is a no-op. Call it exactly once per string; never pass it memory from
/// another allocator.
///
/// # Safety
/// `text` is NULL or a string returned by this library that has not been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ably_string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: caller contract: it came from CString::into_raw.
        let mut bytes = unsafe { CString::from_raw(text) }.into_bytes_with_nul();
        bytes.zeroize();
    }
}
