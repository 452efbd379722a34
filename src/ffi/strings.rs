//! Strings handed to C: owned ones freed with `ably_string_free`, borrowed ones cached
//! in their handle.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use zeroize::Zeroize;

use crate::core::error::{ErrorInfo, Result};

/// A string given by pointer and length, not NUL-terminated: the form of the strings inside
/// structs passed by value (`ably_token_params_values`). `ptr` NULL (with `len` 0) means
/// unset. The bytes are UTF-8 without NUL bytes and only need to stay valid for the call;
/// the library copies what it keeps.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ably_str {
    /// The first byte, or NULL for an unset string.
    pub ptr: *const c_char,
    /// The number of bytes at `ptr`.
    pub len: usize,
}

impl ably_str {
    /// The string, `None` when unset. Errors: ABLY_ERR_INVALID_ARGUMENT naming `name` for NULL
    /// with a length, invalid UTF-8 or a NUL byte (which the NUL-terminated form of the same
    /// argument cannot hold either).
    ///
    /// # Safety
    /// `ptr` is NULL or points to `len` readable bytes that outlive `'a`.
    pub(crate) unsafe fn get<'a>(self, name: &str) -> Result<Option<&'a str>> {
        if self.ptr.is_null() {
            if self.len != 0 {
                return Err(ErrorInfo::invalid_value(format!(
                    "`{name}` is NULL with a non-zero length"
                )));
            }
            return Ok(None);
        }
        // SAFETY: caller contract.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) };
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ErrorInfo::invalid_value(format!("`{name}` is not valid UTF-8")))?;
        if text.contains('\0') {
            return Err(ErrorInfo::invalid_value(format!(
                "`{name}` contains a NUL byte"
            )));
        }
        Ok(Some(text))
    }
}

/// A caller's output buffer: `buf` may be NULL only when `buf_len` is 0 (a size query).
pub(crate) fn out_buffer(buf: *mut c_char, buf_len: usize) -> Result<(*mut c_char, usize)> {
    if buf.is_null() && buf_len != 0 {
        return Err(ErrorInfo::invalid_value(
            "`buf` is NULL with a non-zero `buf_len`",
        ));
    }
    Ok((buf, buf_len))
}

/// Write `parts` one after another, without separators or NUL terminators, into the buffer
/// when all of them fit; return their total length either way (nothing is written when it
/// exceeds the buffer, as with snprintf the caller retries with a larger one).
///
/// # Safety
/// `buf` came from [`out_buffer`] and points to `buf_len` writable bytes.
pub(crate) unsafe fn write_parts(buf: *mut c_char, buf_len: usize, parts: &[&str]) -> usize {
    let total = parts.iter().map(|p| p.len()).sum();
    if total <= buf_len && total > 0 {
        // SAFETY: caller contract; total <= buf_len, and the library's strings never
        // overlap the caller's buffer.
        let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), total) };
        let mut at = 0;
        for part in parts {
            out[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
    }
    total
}

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
