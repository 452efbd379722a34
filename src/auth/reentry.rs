//! What a user callback may call back into: a per-thread record of the library's callbacks
//! in progress, so that a call that would wait for itself or recurse without end is refused
//! with [`codes::REENTRANT_CALL`] instead of deadlocking or overflowing the stack.
//!
//! The rules (also in the C header's preamble and docs/lifecycle.md):
//! - inside the authCallback of an Auth, nothing on that Auth may fetch a token (it would
//!   wait for the very callback that is running): `requestToken`, `authorize`, and a header
//!   or request that finds no valid token are refused;
//! - inside a log sink, nothing may fetch a token or do network I/O on any Auth (logging
//!   happens deep inside operations): [`check_may_fetch`] guards every token fetch and
//!   [`check_may_send`] every other request to Ably;
//! - callbacks nest at most [`MAX_NESTING`] deep on one thread (a listener that calls a
//!   function whose authCallback calls another Auth, ...): deeper calls are refused;
//! - listener events have a generation: one raised by a call made from inside a listener
//!   is one generation younger than the event that listener was hearing. A listener
//!   hearing an event of generation [`MAX_NESTING`] - 1 may not fetch a token: so a
//!   listener that retries on every failure, or renews on every new token, stops after a
//!   bounded number of rounds instead of looping for ever (events are queued, not nested,
//!   so this bound is not a stack depth).

use std::cell::RefCell;
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread::ThreadId;

use crate::core::error::{ErrorInfo, Result, codes};

/// How deep library callbacks may nest on one thread.
pub const MAX_NESTING: usize = 8;

/// The kinds of user code the library calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallbackKind {
    AuthCallback,
    Listener,
    Log,
    /// The completion of a non-blocking call.
    Done,
}

/// The door every user callback of one Auth goes through: once closed (shutdown, free) no
/// callback starts, and [`Gate::close_and_wait`] waits for those under way on other threads.
pub(crate) struct Gate {
    auth_id: u64,
    state: Mutex<GateState>,
    left: Condvar,
    /// The authCallback answers being waited for (ended by the shutdown).
    waits: super::callback::Waits,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    /// The threads running a callback of this Auth now (a thread once per nesting level).
    inside: Vec<ThreadId>,
    /// The threads inside a shutdown, free or listener removal of this Auth now, which may
    /// wait for other threads (a thread once per call): [`Gate::lifecycle_wait`].
    waiting: Vec<ThreadId>,
}

impl Gate {
    pub(crate) fn new(auth_id: u64) -> Self {
        Gate {
            auth_id,
            state: Mutex::default(),
            left: Condvar::new(),
            waits: super::callback::Waits::default(),
        }
    }

    /// The authCallback answers being waited for.
    pub(crate) fn waits(&self) -> &super::callback::Waits {
        &self.waits
    }

    pub(crate) fn auth_id(&self) -> u64 {
        self.auth_id
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Let a callback of `kind` in, or `None` once the gate is closed.
    pub(crate) fn enter(&self, kind: CallbackKind) -> Option<InCallback<'_>> {
        self.enter_entry(Entry {
            auth_id: self.auth_id,
            kind,
            generation: 0,
        })
    }

    /// Let a listener hearing an event of `generation` in, or `None` once closed.
    pub(crate) fn enter_listener(&self, generation: u32) -> Option<InCallback<'_>> {
        self.enter_entry(Entry {
            auth_id: self.auth_id,
            kind: CallbackKind::Listener,
            generation,
        })
    }

    fn enter_entry(&self, entry: Entry) -> Option<InCallback<'_>> {
        {
            let mut state = self.state();
            if state.closed {
                return None;
            }
            state.inside.push(std::thread::current().id());
        }
        STACK.with(|stack| stack.borrow_mut().push(entry));
        Some(InCallback { gate: self })
    }

    /// Mark this thread as inside a shutdown, free or listener removal of this Auth (calls
    /// that wait for other threads) until the guard drops. A shutdown does not wait for the
    /// threads so marked: they may be waiting for the shutting thread ([`Gate::is_waiting`]).
    pub(crate) fn lifecycle_wait(&self) -> LifecycleWait<'_> {
        self.state().waiting.push(std::thread::current().id());
        LifecycleWait { gate: self }
    }

    /// Is `thread` inside a shutdown, free or listener removal of this Auth now?
    pub(crate) fn is_waiting(&self, thread: ThreadId) -> bool {
        self.state().waiting.contains(&thread)
    }

    /// Close the gate, then wait until no callback of this Auth runs on another thread.
    /// Callbacks of this thread (when called from inside one) are not waited for.
    pub(crate) fn close_and_wait(&self) {
        let me = std::thread::current().id();
        let mut state = self.state();
        state.closed = true;
        while state.inside.iter().any(|t| *t != me) {
            state = self
                .left
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A thread inside a shutdown, free or listener removal ([`Gate::lifecycle_wait`]).
pub(crate) struct LifecycleWait<'a> {
    gate: &'a Gate,
}

impl Drop for LifecycleWait<'_> {
    fn drop(&mut self) {
        let me = std::thread::current().id();
        let mut state = self.gate.state();
        if let Some(position) = state.waiting.iter().rposition(|t| *t == me) {
            state.waiting.swap_remove(position);
        }
    }
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

/// A callback running on this thread, let in by its Auth's [`Gate`]; dropped when it returns.
pub(crate) struct InCallback<'a> {
    gate: &'a Gate,
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

impl Drop for InCallback<'_> {
    fn drop(&mut self) {
        STACK.with(|stack| stack.borrow_mut().pop());
        let me = std::thread::current().id();
        let mut state = self.gate.state();
        if let Some(position) = state.inside.iter().rposition(|t| *t == me) {
            state.inside.swap_remove(position);
        }
        drop(state);
        self.gate.left.notify_all();
    }
}

/// [`codes::SHUT_DOWN`]: the Auth takes no new work.
pub(crate) fn shut_down() -> ErrorInfo {
    ErrorInfo::new(codes::SHUT_DOWN, 0, "the Auth is shut down or being freed")
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
        if stack.last().is_some_and(|e| e.kind == CallbackKind::Done) {
            return Err(refused(format!(
                "{operation} refused: a blocking call from inside the completion of a non-blocking call would hold up every other completion; use the non-blocking form"
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

/// May this thread send a request to Ably (network I/O that needs no token fetch: `time`,
/// `revokeTokens`, a request with a valid token or Basic auth)? Not from inside a log sink,
/// of any Auth. The token fetches themselves are checked by [`check_may_fetch`].
pub(crate) fn check_may_send(operation: &str) -> Result<()> {
    STACK.with(|stack| {
        if stack.borrow().iter().any(|e| e.kind == CallbackKind::Log) {
            return Err(refused(format!(
                "{operation} refused: a log sink may not call functions that do network I/O"
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
        let gate = Gate::new(1);
        let _inside = gate.enter(CallbackKind::AuthCallback);
        let error = check_may_fetch(1, "authorize").unwrap_err();
        assert_eq!(error.code, codes::REENTRANT_CALL);
        assert!(error.message.contains("authCallback"));
        assert!(check_may_fetch(2, "authorize").is_ok());
    }

    #[test]
    fn log_sink_refuses_network_calls_on_every_auth() {
        let gate = Gate::new(1);
        let _inside = gate.enter(CallbackKind::Log);
        assert_eq!(
            check_may_fetch(7, "time").unwrap_err().code,
            codes::REENTRANT_CALL
        );
    }

    #[test]
    fn log_sink_refuses_requests_that_need_no_token() {
        assert!(check_may_send("time").is_ok());
        let gate = Gate::new(1);
        let inside = gate.enter(CallbackKind::Log);
        let error = check_may_send("time").unwrap_err();
        assert_eq!(error.code, codes::REENTRANT_CALL);
        assert!(error.message.contains("log sink"), "{}", error.message);
        drop(inside);
        let _listener = gate.enter(CallbackKind::Listener);
        assert!(check_may_send("time").is_ok(), "only the log sink refuses");
    }

    #[test]
    fn nesting_is_bounded_and_unwinds() {
        let gates: Vec<Gate> = (0..MAX_NESTING as u64).map(|i| Gate::new(i + 10)).collect();
        let guards: Vec<_> = gates
            .iter()
            .map(|g| g.enter(CallbackKind::Listener).expect("open"))
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
        let gate = Gate::new(1);
        assert_eq!(event_generation(), 0);
        let young = gate.enter_listener(2);
        assert_eq!(event_generation(), 3);
        assert!(check_may_fetch(1, "authorize").is_ok());
        drop(young);
        let _old = gate.enter_listener(MAX_NESTING as u32 - 1);
        assert_eq!(
            check_may_fetch(1, "authorize").unwrap_err().code,
            codes::REENTRANT_CALL
        );
    }

    #[test]
    fn closed_gate_lets_nothing_in_and_waits_for_other_threads() {
        let gate = std::sync::Arc::new(Gate::new(3));
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let worker = {
            let gate = std::sync::Arc::clone(&gate);
            std::thread::spawn(move || {
                let _inside = gate.enter(CallbackKind::Listener).expect("open");
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            })
        };
        entered_rx.recv().unwrap();
        let _mine = gate.enter(CallbackKind::Done).expect("open");
        release_tx.send(()).unwrap();
        gate.close_and_wait(); // waits for the worker, not for this thread's own callback
        worker.join().unwrap();
        assert!(gate.enter(CallbackKind::Log).is_none());
    }
}
