//! Turning C pointers into Rust references, checked.
//!
//! Builders (`ably_auth_options`, `ably_token_params`) are registered in a set of live
//! handles, so that a builder used after it was consumed or freed is reported as 40003
//! instead of being undefined behaviour, and a second free is a no-op. This is best effort:
//! once the allocator hands the same address to a new builder of the same type, a stale
//! pointer reaches the new builder (still memory-safe, but the wrong object). Long-lived handles
//! (`ably_auth`, tokens) are plain boxes: checking them would put a lock on the hot path.

use std::any::TypeId;
use std::collections::BTreeSet;
use std::ffi::{CStr, c_char};
use std::sync::{LazyLock, Mutex, PoisonError};

use crate::core::error::{ErrorInfo, Result};

// A BTreeSet rather than a HashSet: its nodes are referenced from their start, so memory
// checkers classify the registry as "still reachable" rather than "possibly lost".
static LIVE_BUILDERS: LazyLock<Mutex<BTreeSet<(TypeId, usize)>>> =
    LazyLock::new(|| Mutex::new(BTreeSet::new()));

/// The registry's key for a builder. The address is stored inverted so that the set does not
/// hold a pointer to the builder: LeakSanitizer still reports a builder the caller leaked.
fn key<T: 'static>(ptr: *mut T) -> (TypeId, usize) {
    (TypeId::of::<T>(), !(ptr as usize))
}

fn live() -> std::sync::MutexGuard<'static, BTreeSet<(TypeId, usize)>> {
    LIVE_BUILDERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Box `value` and register it as a live builder handle.
pub(crate) fn new_builder<T: 'static>(value: T) -> *mut T {
    let ptr = Box::into_raw(Box::new(value));
    live().insert(key(ptr));
    ptr
}

fn not_live(name: &str) -> ErrorInfo {
    ErrorInfo::invalid_value(format!(
        "`{name}` is not a live handle: it is NULL, or was already consumed or freed"
    ))
}

/// Borrow a live builder mutably.
///
/// # Safety
/// A live builder pointer came from [`new_builder`] and is only used by one thread at a time.
pub(crate) unsafe fn builder_mut<'a, T: 'static>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    if ptr.is_null() || !live().contains(&key(ptr)) {
        return Err(not_live(name));
    }
    // SAFETY: registered pointers come from Box::into_raw and stay valid until unregistered.
    Ok(unsafe { &mut *ptr })
}

/// The body of every builder setter: borrow the live builder and run `f` on it, behind the
/// panic boundary.
///
/// # Safety
/// As for [`builder_mut`].
pub(crate) unsafe fn edit_builder<T: 'static>(
    ptr: *mut T,
    name: &str,
    f: impl FnOnce(&mut T) -> Result<()>,
) -> *mut super::error::ably_error_info {
    super::boundary::boundary(|| {
        // SAFETY: forwarded; checked against the live-builder set.
        f(unsafe { builder_mut(ptr, name) }?)
    })
}

/// Take ownership of a builder (consuming it). `Ok(None)` for NULL when `optional`.
///
/// # Safety
/// As for [`builder_mut`].
pub(crate) unsafe fn take_builder<T: 'static>(
    ptr: *mut T,
    name: &str,
    optional: bool,
) -> Result<Option<T>> {
    if ptr.is_null() && optional {
        return Ok(None);
    }
    if ptr.is_null() || !live().remove(&key(ptr)) {
        return Err(not_live(name));
    }
    // SAFETY: it was registered, so it came from Box::into_raw and nobody else owns it now.
    Ok(Some(*unsafe { Box::from_raw(ptr) }))
}

/// Free a builder; NULL and handles that are no longer live are ignored.
///
/// # Safety
/// As for [`builder_mut`].
pub(crate) unsafe fn free_builder<T: 'static>(ptr: *mut T) {
    // SAFETY: forwarded.
    let _ = unsafe { take_builder(ptr, "", true) };
}

/// Box a long-lived handle.
pub(crate) fn new_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Borrow a long-lived handle.
///
/// # Safety
/// `ptr` is NULL or came from [`new_handle`] and has not been freed.
pub(crate) unsafe fn handle_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: caller contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| ErrorInfo::invalid_value(format!("`{name}` is NULL")))
}

/// Run a getter on a long-lived handle; NULL (or a panic) gives `fallback`.
///
/// # Safety
/// `ptr` is NULL or came from [`new_handle`] and has not been freed.
pub(crate) unsafe fn read_handle<H, T: Copy>(
    ptr: *const H,
    fallback: T,
    f: impl FnOnce(&H) -> T,
) -> T {
    // SAFETY: caller contract.
    match unsafe { ptr.as_ref() } {
        Some(handle) => super::boundary::boundary_or(fallback, || f(handle)),
        None => fallback,
    }
}

/// Free a long-lived handle; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from [`new_handle`] and has not been freed.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: caller contract.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(ErrorInfo::invalid_value(format!("`{name}` is NULL")));
    }
    // SAFETY: caller contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| ErrorInfo::invalid_value(format!("`{name}` is not valid UTF-8")))
}

/// A non-negative `int64_t` argument.
pub(crate) fn non_negative(value: i64, name: &str) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| ErrorInfo::invalid_value(format!("`{name}` must not be negative")))
}

/// Check an out-parameter before doing any work, so that outputs are never lost.
pub(crate) fn out_arg<T>(out: *mut T, name: &str) -> Result<*mut T> {
    if out.is_null() {
        return Err(ErrorInfo::invalid_value(format!("`{name}` is NULL")));
    }
    Ok(out)
}

/// Write an output (only ever called on success, after [`out_arg`] checked it).
///
/// # Safety
/// `out` was returned by [`out_arg`] and points to writable memory for a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: caller contract; the previous value is a plain pointer/integer, not dropped.
    unsafe { out.write(value) }
}
