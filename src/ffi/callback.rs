//! C callbacks held by Rust objects: the function pointer types, the `user_data` owner that
//! runs `free_user_data` exactly once, and the authCallback and log glue.

use std::ffi::{CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::completion::ably_auth_completion;
use super::handle::try_new_builder;
use crate::auth::{AuthCallback, Completion, LogLevel, Logger};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::token::TokenParams;

/// Frees a `user_data` pointer handed to the library. Called exactly once, on whichever
/// thread releases the registration (possibly not the registering thread), and never after
/// `ably_auth_free` of the Auth that holds it has returned: see "User destructors" at the
/// top of this header.
pub type ably_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// An authCallback. `token_params_json` is the TokenParams of the request as JSON, borrowed for
/// the duration of the call (read its fields without a JSON parser of your own:
/// `ably_token_params_from_json`, then `ably_token_params_get`). The callback answers
/// `completion` exactly once, now or later and from any thread, with
/// `ably_auth_completion_answer_token`, `ably_auth_completion_answer_json` or
/// `ably_auth_completion_answer_error`; each of them frees it. It runs on the thread of the
/// call that needs a token, with no library lock held.
pub type ably_auth_callback_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        token_params_json: *const c_char,
        completion: *mut ably_auth_completion,
    ),
>;

/// Log level: failures the caller sees as errors.
pub const ABLY_LOG_LEVEL_ERROR: i32 = 1;
/// Log level: recoverable trouble (a fallback host, a renewal after a token error, a failed
/// renewal ahead of expiry).
pub const ABLY_LOG_LEVEL_WARN: i32 = 2;
/// Log level: what a service operator wants to see: each new token in use, each completed
/// request to Ably (method, path, status), RSA4a1's "no means to renew".
pub const ABLY_LOG_LEVEL_INFO: i32 = 3;
/// Log level: each step of a token fetch (which means is asked, the exchange).
pub const ABLY_LOG_LEVEL_DEBUG: i32 = 4;
/// Log level: everything the library logs.
pub const ABLY_LOG_LEVEL_VERBOSE: i32 = 5;

/// A log sink. `level` is one of the ABLY_LOG_LEVEL_* values (1 error .. 5 verbose); a sink
/// registered for a level gets the lines of that level and every more severe one.
/// `message` is borrowed for the duration of the call and never contains a key secret,
/// token or mac. Called from any thread, with no library lock held; it may not call
/// functions that do network I/O (ABLY_ERR_REENTRANT_CALL).
pub type ably_log_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: i32, message: *const c_char)>;

/// The caller's `user_data` and its destructor: `free_user_data` runs exactly once, when the
/// last Rust owner drops it, or earlier when the Auth that holds it is freed
/// ([`Custody::release_all`]), whichever comes first.
pub(crate) struct UserData {
    cell: Arc<UserCell>,
}

/// The shared part of a [`UserData`]: the pointer, its destructor (taken when it runs) and
/// how many calls of the host's functions with this pointer are under way.
pub(crate) struct UserCell {
    ptr: *mut c_void,
    state: Mutex<CellState>,
}

struct CellState {
    free: ably_free_fn,
    /// Calls of the host's functions with `ptr` under way (nested on one thread, or on
    /// several threads).
    busy: usize,
    /// The Auth was freed while a call was under way (from inside that call): the
    /// destructor runs as the last call returns.
    release_when_idle: bool,
}

// SAFETY: the C contract of every registration says user_data may be used and freed from
// any thread; the library never dereferences it.
unsafe impl Send for UserCell {}
// SAFETY: as above; the library only passes the pointer back to the caller's functions.
unsafe impl Sync for UserCell {}

impl UserCell {
    fn state(&self) -> std::sync::MutexGuard<'_, CellState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `free_user_data` now, or as the call under way returns; at most once.
    fn release(&self) {
        let free = {
            let mut state = self.state();
            if state.busy > 0 {
                state.release_when_idle = true;
                return;
            }
            state.free.take()
        };
        if let Some(free) = free {
            // SAFETY: the caller registered `free` for `ptr`; it runs once (take()), with no
            // call of the host's functions with `ptr` under way.
            unsafe { free(self.ptr) };
        }
    }
}

impl Drop for UserCell {
    fn drop(&mut self) {
        self.release();
    }
}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: ably_free_fn) -> Self {
        UserData {
            cell: Arc::new(UserCell {
                ptr,
                state: Mutex::new(CellState {
                    free,
                    busy: 0,
                    release_when_idle: false,
                }),
            }),
        }
    }

    /// Call one of the host's functions with the pointer: while `f` runs, a release (the
    /// Auth freed from inside `f`) waits for `f` to return.
    pub(crate) fn call<R>(&self, f: impl FnOnce(*mut c_void) -> R) -> R {
        self.cell.state().busy += 1;
        struct Idle<'a>(&'a UserCell);
        impl Drop for Idle<'_> {
            fn drop(&mut self) {
                let release = {
                    let mut state = self.0.state();
                    state.busy -= 1;
                    state.busy == 0 && state.release_when_idle
                };
                if release {
                    self.0.release();
                }
            }
        }
        let _idle = Idle(&self.cell);
        f(self.cell.ptr)
    }

    /// A reference for the [`Custody`] of the Auth that will hold this registration.
    pub(crate) fn watch(&self) -> Weak<UserCell> {
        Arc::downgrade(&self.cell)
    }
}

/// The registrations an Auth holds (authCallback, log sink, transport, listeners, per-call
/// options, completions), by weak reference: [`Custody::release_all`], run by
/// `ably_auth_free`, runs every destructor not run yet, so that none runs after it returns,
/// whoever still holds the registration (a worker inside a network step).
#[derive(Default)]
pub(crate) struct Custody {
    state: Mutex<CustodyState>,
}

#[derive(Default)]
struct CustodyState {
    cells: Vec<Weak<UserCell>>,
    /// Live cells after the last pruning: the list is pruned when it doubles, so adopting
    /// costs amortised O(1).
    pruned_len: usize,
    released: bool,
}

impl Custody {
    fn state(&self) -> std::sync::MutexGuard<'_, CustodyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hold `cells`; after [`Custody::release_all`] they are released at once instead.
    pub(crate) fn adopt(&self, cells: impl IntoIterator<Item = Weak<UserCell>>) {
        let mut state = self.state();
        if state.released {
            drop(state);
            for cell in cells.into_iter().filter_map(|c| c.upgrade()) {
                cell.release();
            }
            return;
        }
        state.cells.extend(cells);
        if state.cells.len() > 2 * state.pruned_len + 64 {
            state.cells.retain(|c| c.strong_count() > 0);
            state.pruned_len = state.cells.len();
        }
    }

    /// Run every destructor not run yet, on this thread (one whose function is running on
    /// this thread, which freed the Auth from inside it, runs as that function returns).
    pub(crate) fn release_all(&self) {
        let cells = {
            let mut state = self.state();
            state.released = true;
            std::mem::take(&mut state.cells)
        };
        for cell in cells.iter().filter_map(Weak::upgrade) {
            cell.release();
        }
    }
}

/// A required callback pointer; NULL is ABLY_ERR_INVALID_ARGUMENT naming `name`.
pub(crate) fn required<F>(callback: Option<F>, name: &str) -> Result<F> {
    callback.ok_or_else(|| ErrorInfo::invalid_value(format!("`{name}` is NULL")))
}

/// Text for C: NUL bytes replaced, so a message is never cut short or lost.
pub(crate) fn c_message(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// An authCallback implemented by a C function.
pub(crate) struct CAuthCallback {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char, *mut ably_auth_completion),
    user_data: UserData,
}

impl CAuthCallback {
    pub(crate) fn new(
        callback: unsafe extern "C" fn(*mut c_void, *const c_char, *mut ably_auth_completion),
        user_data: UserData,
    ) -> Self {
        CAuthCallback {
            callback,
            user_data,
        }
    }
}

impl AuthCallback for CAuthCallback {
    fn call(&self, params: &TokenParams, completion: Completion) {
        // Our glue must not unwind into the Auth's token flight (others wait on it); a panic
        // here becomes the callback's answer instead.
        let prepared = catch_unwind(AssertUnwindSafe(|| c_message(&params.to_json())));
        let json = match prepared {
            Ok(json) => json,
            Err(_) => {
                let _ = completion.complete(Err(ErrorInfo::new(
                    codes::INTERNAL_ERROR,
                    500,
                    "internal error in ably-auth while preparing the authCallback call",
                )));
                return;
            }
        };
        let handle = match try_new_builder(ably_auth_completion::new(completion)) {
            Ok(handle) => handle,
            Err(unsent) => {
                // No handle slot left: the callback is not called and the fetch fails now.
                let _ = unsent.complete(Err(ErrorInfo::new(
                    codes::INTERNAL_ERROR,
                    0,
                    "too many builders are alive at once (no handle slot left for the authCallback's completion)",
                )));
                return;
            }
        };
        self.user_data.call(|user_data| {
            // SAFETY: the caller registered this function for this user_data; the JSON
            // outlives the call and the completion is a live handle the callback now owns.
            unsafe { (self.callback)(user_data, json.as_ptr(), handle) }
        });
    }
}

/// A log sink calling a C function with lines from `level` (1..=5) up.
pub(crate) fn c_logger(
    callback: unsafe extern "C" fn(*mut c_void, i32, *const c_char),
    level: i32,
    user_data: UserData,
) -> Result<Logger> {
    let level = u8::try_from(level)
        .ok()
        .and_then(LogLevel::from_u8)
        .ok_or_else(|| ErrorInfo::invalid_value("`level` must be 1 (error) to 5 (verbose)"))?;
    let user_data = Arc::new(user_data);
    let sink = move |level: LogLevel, message: &str| {
        let Ok(text) = catch_unwind(AssertUnwindSafe(|| c_message(message))) else {
            return;
        };
        user_data.call(|user_data| {
            // SAFETY: the caller registered this function for this user_data; the text
            // outlives the call.
            unsafe { callback(user_data, i32::from(level as u8), text.as_ptr()) }
        });
    };
    Ok(Logger {
        level,
        sink: Arc::new(sink),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_log_levels_are_the_rust_levels() {
        let pairs = [
            (ABLY_LOG_LEVEL_ERROR, LogLevel::Error),
            (ABLY_LOG_LEVEL_WARN, LogLevel::Warn),
            (ABLY_LOG_LEVEL_INFO, LogLevel::Info),
            (ABLY_LOG_LEVEL_DEBUG, LogLevel::Debug),
            (ABLY_LOG_LEVEL_VERBOSE, LogLevel::Verbose),
        ];
        for (c, level) in pairs {
            assert_eq!(LogLevel::from_u8(c as u8), Some(level));
        }
    }
}
