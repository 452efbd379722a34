//! Notifications (token changed, auth failed) and the log callback. Listeners and the log
//! sink are called without any lock of the Auth held, so they may call back into it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::core::error::ErrorInfo;
use crate::core::token::TokenDetails;

/// Log levels, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// Failures the caller sees as errors.
    Error = 1,
    /// Recoverable trouble: fallback to another host, renewal after a token error.
    Warn = 2,
    /// Major events: a new token, a renewal, RSA4a1's "no means to renew".
    Info = 3,
    /// Each token fetch and each authenticated request with its status.
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
    /// Getting a token failed; requests will fail until a token can be obtained.
    Failed(&'a ErrorInfo),
}

/// Identifies a listener for removal.
pub type ListenerId = u64;

type Listener = Arc<dyn Fn(&AuthEvent<'_>) + Send + Sync>;

/// The listeners of one Auth.
#[derive(Default)]
pub(crate) struct Listeners {
    next_id: Mutex<(ListenerId, Vec<(ListenerId, Listener)>)>,
}

impl Listeners {
    pub(crate) fn add(&self, listener: Listener) -> ListenerId {
        let mut guard = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0 += 1;
        let id = guard.0;
        guard.1.push((id, listener));
        id
    }

    /// Remove a listener; `false` if there was none with that id. A call of it already
    /// under way finishes; the listener is dropped after that.
    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let removed = {
            let mut guard = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
            let position = guard.1.iter().position(|(i, _)| *i == id);
            position.map(|p| guard.1.remove(p))
        };
        removed.is_some()
    }

    /// Call every listener with `event`, without holding the lock.
    pub(crate) fn emit(&self, event: &AuthEvent<'_>) {
        let snapshot: Vec<Listener> = {
            let guard = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
            guard.1.iter().map(|(_, l)| Arc::clone(l)).collect()
        };
        for listener in snapshot {
            listener(event);
        }
    }
}
