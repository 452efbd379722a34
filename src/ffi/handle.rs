//! Turning C pointers into Rust references, checked.
//!
//! Builders (`ably_auth_options`, `ably_token_params`, `ably_auth_completion`) never expose a
//! memory address: their C "pointer" is an opaque number naming a slot of one process-wide
//! registry and that slot's generation. A builder used after it was consumed or freed, by any
//! thread, names a slot whose generation has moved on and is refused with
//! ABLY_ERR_INVALID_ARGUMENT; it can never reach another builder's memory, because no address
//! is ever reused. While a call works on a builder, the builder is taken out of its slot, so a
//! second call on it at the same time (another thread, or a `free_user_data` run by the first
//! call) is refused with ABLY_ERR_INVALID_ARGUMENT instead of aliasing it. Free slots are
//! reused oldest first and only once 1024 of them are free, so a slot is reused at most once
//! per 1024 builders created. On 64-bit platforms a slot's generation has 43 bits and never
//! wraps in practice; on 32-bit platforms it has 15, so a stale handle is detected unless 32768
//! × 1024 (about 33 million) builders were created since it was freed.
//!
//! Long-lived handles (`ably_auth`, tokens) are plain boxes: checking them would put a lock on
//! the hot path.

use std::any::Any;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Mutex, PoisonError};

use crate::core::error::{ErrorInfo, Result};

/// Bits of a handle that name the slot (so at most 2^INDEX_BITS builders are alive at once);
/// the rest is the slot's generation.
#[cfg(target_pointer_width = "64")]
const INDEX_BITS: u32 = 20;
#[cfg(not(target_pointer_width = "64"))]
const INDEX_BITS: u32 = 16;
/// A free slot is reused only while at least this many are free, so that each slot's
/// generation advances once per this many builders created, not once per builder: with few
/// builders alive, a small pool would otherwise cycle one slot through its generations fast.
const MIN_FREE: usize = 1024;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Handles are odd numbers, so no handle is NULL or looks like an aligned pointer.
const TAG_BITS: u32 = 1;
const GENERATION_MASK: usize = usize::MAX >> (INDEX_BITS + TAG_BITS);

enum Content {
    Empty,
    Live(Box<dyn Any + Send>),
    /// Taken out by a call in progress; `freed` when it was consumed meanwhile.
    Busy {
        freed: bool,
    },
}

struct Slot {
    generation: usize,
    content: Content,
}

/// Every builder slot; free slots are reused oldest first, and only once [`MIN_FREE`] are
/// free, so generations rise slowly.
struct Registry {
    slots: Vec<Slot>,
    free: std::collections::VecDeque<usize>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    slots: Vec::new(),
    free: std::collections::VecDeque::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn encode<T>(index: usize, generation: usize) -> *mut T {
    let value = (((generation << INDEX_BITS) | index) << TAG_BITS) | 1;
    std::ptr::without_provenance_mut(value)
}

/// The slot index and generation a handle names; `None` for NULL and non-handles.
fn decode<T>(ptr: *mut T) -> Option<(usize, usize)> {
    let value = ptr.addr();
    if value & 1 == 0 {
        return None;
    }
    let value = value >> TAG_BITS;
    Some((value & INDEX_MASK, value >> INDEX_BITS))
}

impl Registry {
    /// Whether [`Registry::insert`] has a slot to give.
    fn has_room(&self) -> bool {
        self.slots.len() <= INDEX_MASK || !self.free.is_empty()
    }

    /// A slot for `value`; the caller checked [`Registry::has_room`].
    fn insert(&mut self, value: Box<dyn Any + Send>) -> (usize, usize) {
        let index = if self.free.len() < MIN_FREE && self.slots.len() <= INDEX_MASK {
            self.slots.push(Slot {
                generation: 0,
                content: Content::Empty,
            });
            self.slots.len() - 1
        } else {
            self.free.pop_front().expect("has_room checked")
        };
        let slot = &mut self.slots[index];
        slot.content = Content::Live(value);
        (index, slot.generation)
    }

    /// The slot `ptr` names, if it is current.
    fn slot<T>(&mut self, ptr: *mut T) -> Option<&mut Slot> {
        let (index, generation) = decode(ptr)?;
        self.slots
            .get_mut(index)
            .filter(|slot| slot.generation == generation)
    }

    fn release(&mut self, ptr_index: usize) {
        let slot = &mut self.slots[ptr_index];
        slot.content = Content::Empty;
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        self.free.push_back(ptr_index);
    }
}

/// Register `value` as a live builder and return its handle. When 2^INDEX_BITS builders
/// (about a million; 65536 on 32-bit platforms) are alive at once, `value` comes back
/// instead, so that the caller drops it (and any `free_user_data` it holds runs) outside the
/// registry's lock, or answers it.
pub(crate) fn try_new_builder<T: Send + 'static>(value: T) -> std::result::Result<*mut T, T> {
    let mut registry = registry();
    if !registry.has_room() {
        return Err(value);
    }
    let (index, generation) = registry.insert(Box::new(value));
    Ok(encode(index, generation))
}

/// [`try_new_builder`], or NULL when no slot is left (every call refuses NULL with
/// ABLY_ERR_INVALID_ARGUMENT).
pub(crate) fn new_builder<T: Send + 'static>(value: T) -> *mut T {
    try_new_builder(value).unwrap_or(std::ptr::null_mut())
}

fn not_live(name: &str) -> ErrorInfo {
    ErrorInfo::invalid_value(format!(
        "`{name}` is not a live handle: it is NULL, was already consumed or freed, or is not a {name}"
    ))
}

fn busy(name: &str) -> ErrorInfo {
    ErrorInfo::invalid_value(format!(
        "`{name}` is in use by another call right now (a builder is for one thread at a time)"
    ))
}

/// Run `f` on a live builder, taken out of its slot for the duration; a call on the same
/// builder meanwhile is refused, and a free meanwhile takes effect when `f` returns.
pub(crate) fn with_builder<T: Send + 'static, R>(
    ptr: *mut T,
    name: &str,
    f: impl FnOnce(&mut T) -> Result<R>,
) -> Result<R> {
    let mut value = {
        let mut registry = registry();
        let slot = registry.slot(ptr).ok_or_else(|| not_live(name))?;
        match std::mem::replace(&mut slot.content, Content::Busy { freed: false }) {
            Content::Live(value) if value.is::<T>() => value,
            other => {
                let refusal = match other {
                    Content::Busy { .. } => busy(name),
                    _ => not_live(name),
                };
                slot.content = other;
                return Err(refusal);
            }
        }
    };
    let typed = value.downcast_mut::<T>().expect("type checked above");
    // The builder goes back to its slot (or is dropped, if freed meanwhile) even if `f` panics.
    let outcome = catch_unwind(AssertUnwindSafe(|| f(typed)));
    let mut registry = registry();
    let index = decode(ptr).expect("decoded above").0;
    let slot = &mut registry.slots[index];
    let dropped = match std::mem::replace(&mut slot.content, Content::Live(value)) {
        Content::Busy { freed: true } => {
            let Content::Live(value) = std::mem::replace(&mut slot.content, Content::Empty) else {
                unreachable!("just stored")
            };
            registry.release(index);
            Some(value)
        }
        _ => None,
    };
    drop(registry);
    drop(dropped); // a builder freed meanwhile: its callbacks' free_user_data run now
    outcome.unwrap_or_else(|panic| resume_unwind(panic))
}

/// The body of every builder setter: run `f` on the live builder behind the panic boundary.
/// Whatever `f` returns is dropped after the builder is back in its slot, so a setter can
/// hand back a replaced callback whose `free_user_data` may then use the builder again.
pub(crate) fn edit_builder<T: Send + 'static, R>(
    ptr: *mut T,
    name: &str,
    f: impl FnOnce(&mut T) -> Result<R>,
) -> *mut super::error::ably_error_info {
    super::boundary::boundary(|| with_builder(ptr, name, f).map(drop))
}

/// Take ownership of a builder (consuming it). `Ok(None)` for NULL when `optional`.
pub(crate) fn take_builder<T: Send + 'static>(
    ptr: *mut T,
    name: &str,
    optional: bool,
) -> Result<Option<T>> {
    if ptr.is_null() && optional {
        return Ok(None);
    }
    let mut registry = registry();
    let Some(slot) = registry.slot(ptr) else {
        return Err(not_live(name));
    };
    match &mut slot.content {
        Content::Live(value) if value.is::<T>() => {}
        Content::Busy { .. } => return Err(busy(name)),
        _ => return Err(not_live(name)),
    }
    let Content::Live(value) = std::mem::replace(&mut slot.content, Content::Empty) else {
        unreachable!("checked above")
    };
    registry.release(decode(ptr).expect("decoded above").0);
    drop(registry);
    Ok(Some(*value.downcast::<T>().expect("type checked above")))
}

/// Free a builder; NULL and handles that are no longer live are ignored. A builder that a
/// call is using right now is freed when that call returns.
pub(crate) fn free_builder<T: Send + 'static>(ptr: *mut T) {
    let mut registry = registry();
    if let Some(slot) = registry.slot(ptr)
        && let Content::Busy { freed } = &mut slot.content
    {
        *freed = true;
        return;
    }
    drop(registry);
    drop(take_builder(ptr, "", true));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_waits_for_min_free_others_before_reuse() {
        let mut registry = Registry {
            slots: Vec::new(),
            free: std::collections::VecDeque::new(),
        };
        let (first, generation) = registry.insert(Box::new(1u8));
        registry.release(first);
        // One builder alive at a time, as a loop that creates and consumes them makes.
        for _ in 1..MIN_FREE {
            let (index, _) = registry.insert(Box::new(2u8));
            assert_ne!(
                index, first,
                "reused before {MIN_FREE} builders were created"
            );
            registry.release(index);
        }
        let (index, reused_generation) = registry.insert(Box::new(3u8));
        assert_eq!(index, first, "the oldest free slot comes back first");
        assert_eq!(reused_generation, generation + 1);
        assert_eq!(registry.slots.len(), MIN_FREE);
    }

    #[test]
    fn handles_round_trip_and_are_never_null_or_aligned() {
        for (index, generation) in [(0, 0), (INDEX_MASK, GENERATION_MASK), (5, 77)] {
            let ptr: *mut u8 = encode(index, generation);
            assert!(!ptr.is_null() && ptr.addr() % 2 == 1);
            assert_eq!(decode(ptr), Some((index, generation)));
        }
        assert_eq!(decode(std::ptr::null_mut::<u8>()), None);
    }
}
