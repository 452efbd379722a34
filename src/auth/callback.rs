//! The authCallback (RSA8d): asynchronous-capable. The library calls the callback with the
//! token params and a [`Completion`]; the host answers it once, now or later, from any
//! thread. An answer that does not come within the request timeout is 40170.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::reentry::{CallbackKind, Gate, shut_down};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::material::{TokenMaterial, callback_error};
use crate::core::token::TokenParams;

/// An authCallback. Implementations must answer `completion` exactly once; answering after
/// the library gave up (timeout) is harmless and reported by [`Completion::complete`].
pub trait AuthCallback: Send + Sync {
    /// Produce a token for `params`.
    fn call(&self, params: &TokenParams, completion: Completion);
}

/// A synchronous authCallback from a closure.
struct FnCallback<F>(F);

impl<F> AuthCallback for FnCallback<F>
where
    F: Fn(&TokenParams) -> Result<TokenMaterial> + Send + Sync,
{
    fn call(&self, params: &TokenParams, completion: Completion) {
        // Refused only when the closure outlived the timeout; the waiter already reported 40170.
        let _ = completion.complete((self.0)(params));
    }
}

/// Wrap a closure that answers synchronously as an [`AuthCallback`].
pub fn auth_callback_fn<F>(f: F) -> Arc<dyn AuthCallback>
where
    F: Fn(&TokenParams) -> Result<TokenMaterial> + Send + Sync + 'static,
{
    Arc::new(FnCallback(f))
}

#[derive(Default)]
struct Slot {
    answer: Option<Result<TokenMaterial>>,
    closed: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    ready: Condvar,
    /// Answers after this instant are refused, whether they come during the callback
    /// (a synchronous callback that took too long) or later.
    deadline: Instant,
}

/// The one-shot answer channel of one authCallback invocation. `Send`: complete it from
/// any thread.
pub struct Completion {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion").finish_non_exhaustive()
    }
}

impl Completion {
    /// Answer the callback. Returns an error (40170) when the library no longer waits
    /// (it timed out) or the completion was already answered; the answer is then dropped.
    pub fn complete(&self, answer: Result<TokenMaterial>) -> Result<()> {
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.closed || Instant::now() > self.shared.deadline {
            slot.closed = true;
            return Err(callback_error(
                "the completion was answered after the library stopped waiting (timeout or shutdown) or answered twice",
            ));
        }
        slot.answer = Some(answer);
        slot.closed = true;
        self.shared.ready.notify_all();
        Ok(())
    }
}

/// An ErrorInfo the callback reported: kept when it carries a code, otherwise made 40170
/// (or 40300 for a 403), with the callback's message kept (RSA4e).
fn normalize_callback_error(error: ErrorInfo) -> ErrorInfo {
    if error.code != 0 {
        return error;
    }
    if error.status_code == 403 {
        return ErrorInfo::new(codes::FORBIDDEN, 403, error.message);
    }
    callback_error(&error.message).with_cause(error)
}

/// The authCallback answers an Auth is waiting for, so that its shutdown can end those
/// waits at once ([`Waits::stop_all`]): each then fails with SHUT_DOWN and its answer, when
/// it comes, is refused.
#[derive(Default)]
pub(crate) struct Waits {
    state: Mutex<WaitsState>,
}

#[derive(Default)]
struct WaitsState {
    stopped: bool,
    waiting: Vec<std::sync::Weak<Shared>>,
    /// Live entries after the last pruning: pruned when the list doubles (amortised O(1)).
    pruned_len: usize,
}

impl Waits {
    fn state(&self) -> std::sync::MutexGuard<'_, WaitsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Track a wait about to start; SHUT_DOWN once stopped.
    fn register(&self, shared: &Arc<Shared>) -> Result<()> {
        let mut state = self.state();
        if state.stopped {
            return Err(shut_down());
        }
        state.waiting.push(Arc::downgrade(shared));
        if state.waiting.len() > 2 * state.pruned_len + 16 {
            state.waiting.retain(|w| w.strong_count() > 0);
            state.pruned_len = state.waiting.len();
        }
        Ok(())
    }

    /// End every wait now (SHUT_DOWN; later answers are refused) and refuse new ones.
    pub(crate) fn stop_all(&self) {
        let waiting = {
            let mut state = self.state();
            state.stopped = true;
            std::mem::take(&mut state.waiting)
        };
        for shared in waiting.iter().filter_map(std::sync::Weak::upgrade) {
            let mut slot = shared.slot.lock().unwrap_or_else(PoisonError::into_inner);
            if !slot.closed {
                slot.answer = Some(Err(shut_down()));
                slot.closed = true;
                shared.ready.notify_all();
            }
        }
    }
}

/// Call `callback` through its Auth's `gate` and wait for its answer, at most `timeout`
/// from now: an answer after that, even from a callback that answers before returning, is
/// refused. The Auth's shutdown ends the wait at once (SHUT_DOWN).
pub(crate) fn invoke(
    gate: &Gate,
    callback: &dyn AuthCallback,
    params: &TokenParams,
    timeout: Duration,
) -> Result<TokenMaterial> {
    let deadline = Instant::now() + timeout;
    let shared = Arc::new(Shared {
        slot: Mutex::default(),
        ready: Condvar::new(),
        deadline,
    });
    gate.waits().register(&shared)?;
    let completion = Completion {
        shared: Arc::clone(&shared),
    };
    {
        let Some(_in_callback) = gate.enter(CallbackKind::AuthCallback) else {
            return Err(shut_down());
        };
        callback.call(params, completion);
    }
    let mut slot = shared.slot.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(answer) = slot.answer.take() {
            return answer.map_err(normalize_callback_error);
        }
        let now = Instant::now();
        if now >= deadline {
            slot.closed = true; // a late answer is refused
            return Err(callback_error(format!(
                "the authCallback did not answer within {} ms",
                timeout.as_millis()
            )));
        }
        slot = shared
            .ready
            .wait_timeout(slot, deadline - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Issue 20 item 7: the shutdown ends a wait on an unanswered authCallback at once, and
    /// its later answer is refused.
    #[test]
    fn stopping_the_waits_ends_a_wait_on_an_unanswered_callback() {
        struct Keep(Mutex<mpsc::Sender<Completion>>);
        impl AuthCallback for Keep {
            fn call(&self, _params: &TokenParams, completion: Completion) {
                self.0.lock().unwrap().send(completion).unwrap();
            }
        }
        let gate = Arc::new(Gate::new(1));
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                invoke(
                    &gate,
                    &Keep(Mutex::new(tx)),
                    &TokenParams::default(),
                    Duration::from_secs(600),
                )
            })
        };
        let completion = rx.recv().unwrap();
        gate.waits().stop_all();
        let error = waiter.join().unwrap().unwrap_err();
        assert_eq!(error.code, codes::SHUT_DOWN);
        let late = completion.complete(Ok(TokenMaterial::Token("late".into())));
        assert_eq!(late.unwrap_err().code, codes::AUTH_CALLBACK_FAILED);
        // New waits are refused from then on, without calling the callback.
        let (tx, rx) = mpsc::channel();
        let refused = invoke(
            &gate,
            &Keep(Mutex::new(tx)),
            &TokenParams::default(),
            Duration::from_secs(600),
        );
        assert_eq!(refused.unwrap_err().code, codes::SHUT_DOWN);
        assert!(rx.try_recv().is_err(), "the callback was not called");
    }
}
