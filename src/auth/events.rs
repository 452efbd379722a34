//! Notifications (token changed, auth failed) and the log callback. Listeners and the log
//! sink are called without any lock of the Auth held, so they may call back into it
//! (within the limits of `super::reentry`).

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use super::reentry::{Gate, event_generation};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::token::TokenDetails;

/// Log levels, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// Failures the caller sees as errors (a token could not be obtained).
    Error = 1,
    /// Recoverable trouble: a request with no answer (then a fallback host), a renewal
    /// after a token error, a failed renewal ahead of expiry.
    Warn = 2,
    /// What an operator wants to see: each new token in use, each request to Ably that was
    /// answered (method, path, status), RSA4a1's "no means to renew".
    Info = 3,
    /// Each step of a token fetch: which means is asked, the TokenRequest exchange.
    Debug = 4,
    /// Everything the library logs (currently the same lines as Debug).
    Verbose = 5,
}

impl LogLevel {
    /// The level for a number 1..=5.
    pub fn from_u8(level: u8) -> Option<LogLevel> {
        [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Verbose,
        ]
        .into_iter()
        .find(|l| *l as u8 == level)
    }
}

/// Receives each log line that passes the level.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// A log sink and the most verbose level it wants. Lines never contain key secrets,
/// tokens, JWT signatures or macs.
#[derive(Clone)]
pub struct Logger {
    /// The most verbose level passed to the sink.
    pub level: LogLevel,
    /// The sink.
    pub sink: LogSink,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// Log `message()` at `level` if the sink wants it; the message is built only then.
    pub fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        if level <= self.level {
            (self.sink)(level, &message());
        }
    }
}

/// What a listener hears.
#[derive(Clone, Copy, Debug)]
pub enum AuthEvent<'a> {
    /// A new token is in use (after requestToken via renewal, or authorize).
    TokenChanged(&'a TokenDetails),
    /// Getting a token failed; requests will fail until a token can be obtained. Also
    /// raised (40142) after the token-changed event of a token that arrived with less than
    /// a second of usable life before its expiry margin, while renewal ahead is on: its
    /// message says why, and how long renewal ahead waits before it asks again.
    Failed(&'a ErrorInfo),
}

/// Identifies a listener for removal.
pub type ListenerId = u64;

pub(crate) type Listener = Arc<dyn Fn(&AuthEvent<'_>) + Send + Sync>;

/// An event waiting for delivery, with its generation (`super::reentry`).
enum Pending {
    TokenChanged(TokenDetails, u32),
    Failed(ErrorInfo, u32),
}

impl Pending {
    fn as_event(&self) -> AuthEvent<'_> {
        match self {
            Pending::TokenChanged(details, _) => AuthEvent::TokenChanged(details),
            Pending::Failed(error, _) => AuthEvent::Failed(error),
        }
    }

    fn generation(&self) -> u32 {
        match self {
            Pending::TokenChanged(_, g) | Pending::Failed(_, g) => *g,
        }
    }
}

#[derive(Default)]
struct State {
    next_id: ListenerId,
    entries: Vec<(ListenerId, Listener)>,
    queue: VecDeque<Pending>,
    /// The thread delivering events right now, if any: one at a time per Auth.
    deliverer: Option<ThreadId>,
    /// The listener the deliverer is calling right now.
    running: Option<ListenerId>,
    /// The threads inside a free of this Auth, which waits for the callbacks running on
    /// other threads: a removal stops waiting for a listener whose call is inside one.
    freeing: Vec<ThreadId>,
}

/// A thread inside a free of the Auth ([`Listeners::freeing`]).
pub(crate) struct Freeing<'a> {
    listeners: &'a Listeners,
}

impl Drop for Freeing<'_> {
    fn drop(&mut self) {
        let me = std::thread::current().id();
        let mut state = self.listeners.state();
        if let Some(at) = state.freeing.iter().rposition(|t| *t == me) {
            state.freeing.swap_remove(at);
        }
    }
}

/// The listeners of one Auth, and the events on their way to them.
///
/// Events are delivered in the order they were raised, one at a time, with no lock held:
/// the thread that raises an event while no other delivers becomes the deliverer and drains
/// the queue; a thread that raises one meanwhile (or a listener, from inside its call)
/// queues it and returns. So listeners never run concurrently, never recurse, and hear token
/// N before token N+1.
pub(crate) struct Listeners {
    state: Mutex<State>,
    /// Signalled whenever a listener call returns (for removal).
    returned: Condvar,
}

impl Listeners {
    pub(crate) fn new() -> Self {
        Listeners {
            state: Mutex::default(),
            returned: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add(&self, listener: Listener) -> ListenerId {
        let mut state = self.state();
        state.next_id += 1;
        let id = state.next_id;
        state.entries.push((id, listener));
        id
    }

    /// Mark this thread as inside a free of the Auth until the guard drops.
    pub(crate) fn freeing(&self) -> Freeing<'_> {
        self.state().freeing.push(std::thread::current().id());
        // A removal waiting for a listener on this thread stops waiting.
        self.returned.notify_all();
        Freeing { listeners: self }
    }

    /// Remove a listener; `Ok(false)` if there was none with that id. When `remove` returns
    /// `Ok`, the listener is not running on another thread and will not be called again: a
    /// call under way on another thread is waited for (from inside a listener, on the
    /// delivering thread, there is none to wait for). A shutdown never waits for the
    /// removing thread ([`super::reentry::Gate::lifecycle_wait`]), so a listener shutting
    /// the Auth down is waited for like any other. The one wait that cannot be kept: a call
    /// that frees the Auth waits for the callbacks on other threads, maybe for the removing
    /// one; then the removal stops waiting and fails with [`codes::SHUT_DOWN`] (the
    /// listener is removed all the same and never called again). The listener is dropped
    /// after its last call.
    pub(crate) fn remove(&self, id: ListenerId) -> Result<bool> {
        let mut state = self.state();
        let Some(position) = state.entries.iter().position(|(i, _)| *i == id) else {
            return Ok(false);
        };
        let removed = state.entries.remove(position);
        let me = std::thread::current().id();
        let mut outcome = Ok(true);
        while state.running == Some(id) && state.deliverer != Some(me) {
            if state
                .deliverer
                .is_some_and(|deliverer| state.freeing.contains(&deliverer))
            {
                outcome = Err(ErrorInfo::new(
                    codes::SHUT_DOWN,
                    0,
                    "the listener's call in progress is freeing the Auth (ably_auth_free waits for this thread): removed, never called again, but not waited for",
                ));
                break;
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        drop(removed);
        outcome
    }

    /// Every listener, removed; dropping them runs their destructors.
    pub(crate) fn take_all(&self) -> Vec<Listener> {
        let mut state = self.state();
        state.queue.clear();
        std::mem::take(&mut state.entries)
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    }

    /// Queue a token change; call [`Listeners::deliver`] once no lock is held.
    pub(crate) fn queue_token(&self, details: &TokenDetails) {
        self.queue(Pending::TokenChanged(details.clone(), event_generation()));
    }

    /// Queue a failure; call [`Listeners::deliver`] once no lock is held.
    pub(crate) fn queue_failure(&self, error: &ErrorInfo) {
        self.queue(Pending::Failed(error.clone(), event_generation()));
    }

    fn queue(&self, event: Pending) {
        let mut state = self.state();
        if !state.entries.is_empty() {
            state.queue.push_back(event);
        }
    }

    /// Deliver the queued events through the Auth's `gate`, unless another thread (or an
    /// outer frame of this one) is delivering already. Must be called without any Auth
    /// lock held.
    pub(crate) fn deliver(&self, gate: &Gate) {
        let mut state = self.state();
        if state.deliverer.is_some() {
            return;
        }
        state.deliverer = Some(std::thread::current().id());
        while let Some(event) = state.queue.pop_front() {
            let snapshot: Vec<(ListenerId, Listener)> = state.entries.clone();
            for (id, listener) in snapshot {
                if !state.entries.iter().any(|(i, _)| *i == id) {
                    continue; // removed by an earlier listener of this event
                }
                state.running = Some(id);
                drop(state);
                if let Some(_in_listener) = gate.enter_listener(event.generation()) {
                    // A panicking Rust listener must not stop the others or the queue.
                    let _ = catch_unwind(AssertUnwindSafe(|| listener(&event.as_event())));
                }
                drop(listener); // a listener removed during its call is dropped here
                state = self.state();
                state.running = None;
                self.returned.notify_all();
            }
        }
        state.deliverer = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn failure() -> ErrorInfo {
        ErrorInfo::new(codes::SHUT_DOWN, 0, "an event")
    }

    #[test]
    fn removal_of_a_listener_whose_call_frees_the_auth_fails_instead_of_waiting() {
        let listeners = Arc::new(Listeners::new());
        let gate = Arc::new(Gate::new(9));
        let (entered_tx, entered_rx) = mpsc::channel();
        let (removed_tx, removed_rx) = mpsc::channel::<()>();
        let removed_rx = Mutex::new(removed_rx);
        let in_listener = Arc::clone(&listeners);
        let id = listeners.add(Arc::new(move |_: &AuthEvent<'_>| {
            entered_tx.send(()).unwrap();
            // As ably_auth_free from inside the listener: it would wait for the remover.
            let _freeing = in_listener.freeing();
            // Freeing until the removal returned (a hang guard, if it never does).
            let _ = removed_rx
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60));
        }));
        listeners.queue_failure(&failure());
        let deliverer = {
            let (listeners, gate) = (Arc::clone(&listeners), Arc::clone(&gate));
            std::thread::spawn(move || listeners.deliver(&gate))
        };
        entered_rx.recv().unwrap();
        let error = listeners.remove(id).unwrap_err();
        assert_eq!(error.code, codes::SHUT_DOWN);
        removed_tx.send(()).unwrap();
        deliverer.join().unwrap();
        assert!(!listeners.remove(id).unwrap(), "removed all the same");
    }

    #[test]
    fn removal_waits_for_a_call_that_is_not_freeing() {
        let listeners = Arc::new(Listeners::new());
        let gate = Arc::new(Gate::new(10));
        let (entered_tx, entered_rx) = mpsc::channel();
        let running = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&running);
        let id = listeners.add(Arc::new(move |_: &AuthEvent<'_>| {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            entered_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            flag.store(false, std::sync::atomic::Ordering::SeqCst);
        }));
        listeners.queue_failure(&failure());
        let deliverer = {
            let (listeners, gate) = (Arc::clone(&listeners), Arc::clone(&gate));
            std::thread::spawn(move || listeners.deliver(&gate))
        };
        entered_rx.recv().unwrap();
        assert!(listeners.remove(id).unwrap());
        assert!(
            !running.load(std::sync::atomic::Ordering::SeqCst),
            "the listener returned before its removal did"
        );
        deliverer.join().unwrap();
    }
}
