//! What a user callback may call back into: a per-thread record of the library's callbacks
//! in progress, so that a call that would wait for itself or recurse without end is refused
//! with [`codes::REENTRANT_CALL`] instead of deadlocking or overflowing the stack.
//!
//! The rules (also in the C header's preamble and docs/lifecycle.md):
//! - inside the authCallback of an Auth, nothing on that Auth may fetch a token (it would
//!   wait for the very callback that is running): `requestToken`, `authorize`, and a header
//!   or request that finds no valid token are refused;
//! - inside a log sink, nothing may fetch a token or do network I/O on any Auth (logging
//!   happens deep inside operations);
//! - callbacks nest at most [`MAX_NESTING`] deep on one thread (a listener that calls a
//!   function whose authCallback calls another Auth, ...): deeper calls are refused;
//! - listener events have a generation: one raised by a call made from inside a listener
//!   is one generation younger than the event that listener was hearing. A listener
//!   hearing an event of generation [`MAX_NESTING`] - 1 may not fetch a token: so a
//!   listener that retries on every failure, or renews on every new token, stops after a
//!   bounded number of rounds instead of looping for ever (events are queued, not nested,
//!   so this bound is not a stack depth).

use std::cell::RefCell;

use crate::core::error::{ErrorInfo, Result, codes};

/// How deep library callbacks may nest on one thread.
pub const MAX_NESTING: usize = 8;

/// The kinds of user code the library calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallbackKind {
    AuthCallback,
    Listener,
    Log,
}

/// One callback in progress on this thread.
#[derive(Clone, Copy)]
struct Entry {
    auth_id: u64,
    kind: CallbackKind,
    /// For a listener: the generation of the event it hears.
    generation: u32,
}

thread_local! {
    static STACK: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Marks a callback of Auth `auth_id` as running on this thread until dropped.
pub(crate) struct InCallback(());

impl InCallback {
    pub(crate) fn enter(auth_id: u64, kind: CallbackKind) -> InCallback {
        Self::push(Entry {
            auth_id,
            kind,
            generation: 0,
        })
    }

    /// A listener of Auth `auth_id` hearing an event of `generation`.
    pub(crate) fn listener(auth_id: u64, generation: u32) -> InCallback {
        Self::push(Entry {
            auth_id,
            kind: CallbackKind::Listener,
            generation,
        })
    }

    fn push(entry: Entry) -> InCallback {
        STACK.with(|stack| stack.borrow_mut().push(entry));
        InCallback(())
    }
}

/// The generation of an event raised on this thread now: 0 outside listeners, else one
/// more than the youngest event a listener on this thread is hearing.
pub(crate) fn event_generation() -> u32 {
    STACK.with(|stack| {
        stack
            .borrow()
            .iter()
            .filter(|e| e.kind == CallbackKind::Listener)
            .map(|e| e.generation.saturating_add(1))
            .max()
            .unwrap_or(0)
    })
}

impl Drop for InCallback {
    fn drop(&mut self) {
        STACK.with(|stack| stack.borrow_mut().pop());
    }
}

fn refused(message: String) -> ErrorInfo {
    ErrorInfo::new(codes::REENTRANT_CALL, 0, message)
}

/// May this thread start an operation on Auth `auth_id` that fetches a token or does I/O
/// (and may so call user callbacks)?
pub(crate) fn check_may_fetch(auth_id: u64, operation: &str) -> Result<()> {
    STACK.with(|stack| {
        let stack = stack.borrow();
        let generation = stack
            .iter()
            .filter(|e| e.kind == CallbackKind::Listener)
            .map(|e| e.generation as usize + 1)
            .max()
            .unwrap_or(0);
        if stack.len() >= MAX_NESTING || generation >= MAX_NESTING {
            return Err(refused(format!(
                "{operation} refused: library callbacks are nested {MAX_NESTING} deep on this thread (a listener or callback keeps calling back into the library)"
            )));
        }
        if stack.iter().any(|e| e.kind == CallbackKind::Log) {
            return Err(refused(format!(
                "{operation} refused: a log sink may not call functions that do network I/O"
            )));
        }
        if stack
            .iter()
            .any(|e| e.auth_id == auth_id && e.kind == CallbackKind::AuthCallback)
        {
            return Err(refused(format!(
                "{operation} refused: called from inside the authCallback of the same Auth, it would wait for that callback; answer the completion instead"
            )));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_auth_callback_refuses_a_fetch_on_the_same_auth_only() {
        let _inside = InCallback::enter(1, CallbackKind::AuthCallback);
        let error = check_may_fetch(1, "authorize").unwrap_err();
        assert_eq!(error.code, codes::REENTRANT_CALL);
        assert!(error.message.contains("authCallback"));
        assert!(check_may_fetch(2, "authorize").is_ok());
    }

    #[test]
    fn log_sink_refuses_network_calls_on_every_auth() {
        let _inside = InCallback::enter(1, CallbackKind::Log);
        assert_eq!(
            check_may_fetch(7, "time").unwrap_err().code,
            codes::REENTRANT_CALL
        );
    }

    #[test]
    fn nesting_is_bounded_and_unwinds() {
        let guards: Vec<_> = (0..MAX_NESTING as u64)
            .map(|id| InCallback::enter(id + 10, CallbackKind::Listener))
            .collect();
        assert_eq!(
            check_may_fetch(1, "request").unwrap_err().code,
            codes::REENTRANT_CALL
        );
        drop(guards);
        assert!(check_may_fetch(1, "request").is_ok());
    }

    #[test]
    fn listener_generations_are_bounded() {
        assert_eq!(event_generation(), 0);
        let young = InCallback::listener(1, 2);
        assert_eq!(event_generation(), 3);
        assert!(check_may_fetch(1, "authorize").is_ok());
        drop(young);
        let _old = InCallback::listener(1, MAX_NESTING as u32 - 1);
        assert_eq!(
            check_may_fetch(1, "authorize").unwrap_err().code,
            codes::REENTRANT_CALL
        );
    }
}
