//! Non-blocking calls: each networked operation started on a worker, its completion run
//! exactly once on the completer thread (with the result, a cancellation or the deadline
//! error), a [`Call`] to cancel it; and the shutdown that cancels them all.
//!
//! Guarantees (also in the C header): `done` never runs inside the call that started the
//! operation; it runs exactly once, also when the call is cancelled (`CANCELLED`), when
//! its deadline passes (`TIMEOUT`) and on shutdown or free (`CANCELLED`); a cancelled
//! operation's blocking step may go on on its worker until its own timeout, but its result
//! is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::Auth;
use super::options::AuthOptions;
use super::pool::Deadline;
use super::reentry::{CallbackKind, shut_down};
use crate::core::error::{ErrorInfo, Result, codes};
use crate::core::material::RevocationResult;
use crate::core::token::{TokenDetails, TokenParams};
use crate::http::{HttpResponse, Method};

type Done<T> = Box<dyn FnOnce(Result<T>) + Send + 'static>;

/// One operation's completion, taken by whichever outcome comes first.
struct Pending<T> {
    done: Mutex<Option<Done<T>>>,
    auth: Weak<Auth>,
    /// The worker running the operation, while it runs: a cancel looks up (under this lock,
    /// so the worker is still in this operation) the request of the application's transport
    /// that it waits for, and stops waiting for it, so the host hears of the cancel.
    worker: Mutex<Option<std::thread::ThreadId>>,
}

impl<T: Send + 'static> Pending<T> {
    /// Hand `outcome` to the completer, unless an outcome was handed already. Returns
    /// whether this one won.
    fn resolve(&self, outcome: Result<T>) -> bool {
        let auth = self.auth.upgrade();
        // From the take to the queue, a free's drain waits for this completion: once taken,
        // the free's cancel no longer sees it, and it must not reach a closed gate.
        let _resolving = auth.as_ref().map(|auth| auth.pool().resolving());
        let Some(done) = self
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return false;
        };
        match &auth {
            Some(auth) => Arc::clone(auth).deliver(Box::new({
                let auth = Arc::clone(auth);
                move || {
                    // Through the gate, so that free waits for a completion running now. Every
                    // call is resolved before free closes the gate, so none is skipped here.
                    if let Some(_inside) = auth.gate.enter(CallbackKind::Done) {
                        done(outcome);
                    }
                }
            })),
            // The Auth is gone (a Rust caller dropped it): still never inline.
            None => std::thread::Builder::new()
                .name("ably-auth-late".into())
                .spawn(move || done(outcome))
                .is_ok(),
        }
    }
}

/// What [`Call`] and the shutdown need of an operation, whatever its result type.
pub(super) trait Cancel: Send + Sync {
    fn cancel(&self, error: ErrorInfo) -> bool;
}

impl<T: Send + 'static> Cancel for Pending<T> {
    fn cancel(&self, error: ErrorInfo) -> bool {
        if !self.resolve(Err(error)) {
            return false;
        }
        // The worker's request to the application's transport is abandoned too (its cancel
        // hook runs on the completer thread, a library thread, never on the caller's).
        if let Some(auth) = self.auth.upgrade()
            && let Some(transport) = auth.rest_config.custom_transport.clone()
        {
            let request = self
                .worker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .and_then(|thread| transport.request_on_thread(thread));
            if let Some(id) = request {
                // Weak: a queued job never keeps the application's transport (and its
                // `free_user_data`) alive past the Auth.
                let transport = Arc::downgrade(&transport);
                auth.deliver(Box::new(move || {
                    if let Some(transport) = transport.upgrade() {
                        transport.cancel_request(id);
                    }
                }));
            }
        }
        true
    }
}

impl<T: Send + 'static> Deadline for Pending<T> {
    fn expire(&self) {
        self.resolve(Err(ErrorInfo::new(
            codes::TIMEOUT,
            0,
            "the call did not complete by its deadline",
        )));
    }
}

/// The non-blocking calls of one Auth in flight, by id: starting, finishing and cancelling
/// one costs O(1) whatever the number in flight, which is bounded.
pub(super) struct InFlight {
    state: Mutex<InFlightState>,
    max: usize,
}

struct InFlightState {
    next_id: u64,
    calls: HashMap<u64, Weak<dyn Cancel>>,
}

impl InFlight {
    pub(super) fn new(max: usize) -> Self {
        InFlight {
            state: Mutex::new(InFlightState {
                next_id: 0,
                calls: HashMap::new(),
            }),
            max: max.max(1),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, InFlightState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A call's place among the calls in flight, held by its work: given up when the work has
/// run, or is dropped unstarted (by a stopping pool).
struct Ticket {
    auth: Weak<Auth>,
    id: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(auth) = self.auth.upgrade() {
            let removed = auth.calls.state().calls.remove(&self.id);
            drop(removed);
        }
    }
}

/// A non-blocking operation in flight. Dropping it does not cancel the operation.
#[derive(Clone)]
pub struct Call {
    pending: Arc<dyn Cancel>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").finish_non_exhaustive()
    }
}

impl Call {
    /// Ask for the operation to end now: `true` when this won the race with its outcome,
    /// and the completion then gets [`codes::CANCELLED`]; `false` when the completion has
    /// run, is running, or will carry the real outcome. Never blocks, never runs the
    /// completion on the calling thread; calling it again is harmless.
    pub fn cancel(&self) -> bool {
        self.pending.cancel(cancelled())
    }
}

fn cancelled() -> ErrorInfo {
    ErrorInfo::new(codes::CANCELLED, 0, "the call was cancelled")
}

fn cancelled_by_shutdown() -> ErrorInfo {
    ErrorInfo::new(codes::CANCELLED, 0, "the Auth was shut down or freed")
}

impl Auth {
    /// Start `work` on a worker with `budget` as its deadline; `done` gets its outcome.
    fn start_call<T: Send + 'static>(
        self: &Arc<Self>,
        budget: Duration,
        work: impl FnOnce(&Auth) -> Result<T> + Send + 'static,
        done: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<Call> {
        let pending = Arc::new(Pending {
            done: Mutex::new(Some(Box::new(done) as Done<T>)),
            auth: Arc::downgrade(self),
            worker: Mutex::new(None),
        });
        let cancel: Arc<dyn Cancel> = pending.clone();
        // Tracked, or refused, in one step against the shutdown: an operation the shutdown's
        // `cancel_all` does not see was refused here, so none is left unresolved.
        let ticket = self.track(Arc::downgrade(&cancel))?;
        let pool = self.pool();
        let deadline: Arc<dyn Deadline> = pending.clone();
        pool.watch(Instant::now() + budget, Arc::downgrade(&deadline));
        let auth = Arc::clone(self);
        let worker_pending = Arc::clone(&pending);
        let started = pool.run(Box::new(move || {
            let _deadline = deadline; // watched until the work ends
            let _ticket = ticket; // in flight until the work ends
            if worker_pending
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
            {
                return; // cancelled before it started
            }
            // An operation that meets the shutdown between `closed` and `cancel_all` fails
            // with SHUT_DOWN; it was in flight, so it completes as cancelled, like the others.
            let worker = || {
                worker_pending
                    .worker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            };
            *worker() = Some(std::thread::current().id());
            let outcome = work(&auth).map_err(|error| match error.code {
                codes::SHUT_DOWN => cancelled_by_shutdown(),
                _ => error,
            });
            *worker() = None;
            worker_pending.resolve(outcome);
        }));
        if !started {
            let unstarted = pending
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if unstarted.is_none() {
                // The shutdown cancelled it first: its `done` runs (CANCELLED), so this
                // start succeeded.
                return Ok(Call { pending: cancel });
            }
            drop(unstarted); // never runs: the caller gets the error instead
            return Err(if self.closed.load(std::sync::atomic::Ordering::Acquire) {
                shut_down()
            } else {
                ErrorInfo::new(
                    codes::INTERNAL_ERROR,
                    0,
                    "could not start a library thread for the call",
                )
            });
        }
        Ok(Call { pending: cancel })
    }

    /// Deliver a completion on the completer thread.
    fn deliver(&self, job: super::pool::Job) -> bool {
        self.pool().complete(job)
    }

    /// Remember an operation in flight, for the bound and the shutdown, in O(1);
    /// [`codes::SHUT_DOWN`] once shut down, [`codes::TOO_MANY_CALLS`] at the bound. Checked
    /// under the lock that the shutdown's [`Auth::cancel_all`] takes after setting
    /// `closed`, so every operation tracked here is cancelled by it.
    fn track(&self, call: Weak<dyn Cancel>) -> Result<Ticket> {
        let mut state = self.calls.state();
        self.check_open()?;
        if state.calls.len() >= self.calls.max {
            return Err(ErrorInfo::new(
                codes::TOO_MANY_CALLS,
                0,
                format!(
                    "too many calls in flight: this Auth already has {} (its bound, see maxCallsInFlight); wait for some to complete",
                    self.calls.max
                ),
            ));
        }
        let id = state.next_id;
        state.next_id += 1;
        state.calls.insert(id, call);
        Ok(Ticket {
            auth: Weak::clone(&self.me),
            id,
        })
    }

    /// Non-blocking [`Auth::request_token`].
    pub fn request_token_async(
        self: &Arc<Self>,
        params: Option<TokenParams>,
        auth_options: Option<AuthOptions>,
        done: impl FnOnce(Result<TokenDetails>) + Send + 'static,
    ) -> Result<Call> {
        self.start_call(
            self.fetch_budget(),
            move |auth| auth.request_token(params.as_ref(), auth_options.as_ref()),
            done,
        )
    }

    /// Non-blocking [`Auth::authorize`].
    pub fn authorize_async(
        self: &Arc<Self>,
        params: Option<TokenParams>,
        auth_options: Option<AuthOptions>,
        done: impl FnOnce(Result<TokenDetails>) + Send + 'static,
    ) -> Result<Call> {
        let budget = self.fetch_budget().saturating_add(self.rest_budget());
        self.start_call(
            budget,
            move |auth| auth.authorize(params.as_ref(), auth_options.as_ref()),
            done,
        )
    }

    /// Non-blocking [`Auth::authorization_header`]: with a valid token cached, `done` gets
    /// it at once (on the completer thread, never inside this call).
    pub fn authorization_header_async(
        self: &Arc<Self>,
        done: impl FnOnce(Result<Zeroizing<String>>) + Send + 'static,
    ) -> Result<Call> {
        if let Ok(header) = self.cached_authorization_header() {
            self.check_open()?;
            let pending = Arc::new(Pending {
                done: Mutex::new(Some(Box::new(done) as Done<Zeroizing<String>>)),
                auth: Arc::downgrade(self),
                worker: Mutex::new(None),
            });
            pending.resolve(Ok(header));
            return Ok(Call { pending });
        }
        self.start_call(
            self.fetch_budget(),
            |auth| auth.authorization_header(),
            done,
        )
    }

    /// Non-blocking [`Auth::time`].
    pub fn time_async(
        self: &Arc<Self>,
        done: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<Call> {
        self.start_call(self.rest_budget(), |auth| auth.time(), done)
    }

    /// Non-blocking [`Auth::revoke_tokens`]: its argument errors are returned at once; those
    /// of the Auth's state (Basic auth with a key) are given to `done`.
    pub fn revoke_tokens_async(
        self: &Arc<Self>,
        targets: Vec<String>,
        issued_before: Option<u64>,
        allow_reauth_margin: Option<bool>,
        done: impl FnOnce(Result<RevocationResult>) + Send + 'static,
    ) -> Result<Call> {
        // The blocking form's argument checks, before starting: bad targets fail at once.
        // A token-auth Auth makes the blocking form fail first with REQUIRES_BASIC_AUTH,
        // whatever the targets: that depends on the Auth's state (an authorize in flight
        // changes it), so it is left to the run, which gives it to `done`.
        if !self.uses_token_auth() {
            super::rest_ops::check_revoke_targets(&targets)?;
        }
        self.start_call(
            self.rest_budget(),
            move |auth| auth.revoke_tokens(&targets, issued_before, allow_reauth_margin),
            done,
        )
    }

    /// Non-blocking [`Auth::request`]; the arguments are owned copies, checked as the
    /// blocking form checks them before it starts (their errors are returned at once).
    pub fn request_async(
        self: &Arc<Self>,
        method: Method,
        path: String,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        done: impl FnOnce(Result<HttpResponse>) + Send + 'static,
    ) -> Result<Call> {
        // The blocking form's own checks, before starting: bad arguments fail at once.
        super::rest_ops::check_request_args(&path, &headers)?;
        // A token fetch, the request, a renewal and the retry.
        let budget = self
            .fetch_budget()
            .saturating_mul(2)
            .saturating_add(self.rest_budget().saturating_mul(2));
        self.start_call(
            budget,
            move |auth| auth.request(method, &path, &query, &headers, body.as_deref()),
            done,
        )
    }

    /// The `Authorization` value for a request now, from the cache only: never any I/O
    /// and never a wait. Errors: [`codes::NO_VALID_TOKEN`] when no valid token is cached
    /// (none yet, or it is within its expiry margin).
    pub fn cached_authorization_header(&self) -> Result<Zeroizing<String>> {
        if !self.uses_token_auth() {
            return self.basic_header();
        }
        self.valid_cached().map(|t| t.header.clone()).ok_or_else(|| {
            ErrorInfo::new(
                codes::NO_VALID_TOKEN,
                0,
                "no valid token is cached yet (request one with authorize or the non-blocking header call)",
            )
        })
    }

    /// Shut down: from now on every networked call and every non-blocking start fails
    /// with [`codes::SHUT_DOWN`]; every operation in flight completes with
    /// [`codes::CANCELLED`]; renewal stops; waits on unanswered authCallbacks and on host
    /// transport exchanges end now (later answers are refused). Then wait up to `timeout` (`None`: no limit)
    /// for the completions to be delivered and the library threads to exit (a thread in a
    /// blocking network step exits when the step ends, at most one request timeout later).
    /// Errors: 50003 when `timeout` passed first (everything still ends on its own).
    /// Idempotent. Called from inside a callback, it does not wait for that callback. It
    /// never waits for a thread that is itself inside a shutdown, free or listener removal
    /// of this Auth: those wait for other threads, maybe for this one (a listener shutting
    /// down while a `done` removes it, or frees the Auth, would otherwise wait for each
    /// other for ever).
    pub fn shutdown(&self, timeout: Option<Duration>) -> Result<()> {
        let _waiting = self.gate.lifecycle_wait();
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cancel_all();
        // Waits on unanswered authCallbacks end now; their answers are refused.
        self.gate.waits().stop_all();
        // Workers waiting for the application's transport stop waiting now.
        if let Some(transport) = &self.rest_config.custom_transport {
            transport.cancel_all();
        }
        let drained = match self.pool.get() {
            Some(pool) => pool.stop(timeout, &|thread| self.gate.is_waiting(thread)),
            None => true,
        };
        if drained {
            Ok(())
        } else {
            Err(ErrorInfo::new(
                codes::TIMEOUT,
                0,
                "shutdown: library threads still busy when the timeout passed (they end on their own)",
            ))
        }
    }

    /// Complete every operation in flight with CANCELLED.
    pub(super) fn cancel_all(&self) {
        let calls = std::mem::take(&mut self.calls.state().calls);
        for call in calls.values().filter_map(Weak::upgrade) {
            call.cancel(cancelled_by_shutdown());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ClientOptions;
    use std::sync::mpsc;

    fn token_auth() -> Arc<Auth> {
        let mut options = ClientOptions::default();
        options.auth.token = Some("tok".into());
        Auth::new(options).unwrap()
    }

    #[test]
    fn header_with_a_cached_token_completes_on_the_completer_not_inline() {
        let auth = token_auth();
        let (tx, rx) = mpsc::channel();
        let caller = std::thread::current().id();
        auth.authorization_header_async(move |result| {
            tx.send((result.map(|h| h.to_string()), std::thread::current().id()))
                .unwrap();
        })
        .unwrap();
        let (result, thread) = rx.recv().unwrap();
        assert_eq!(result.unwrap(), "Bearer dG9r");
        assert_ne!(thread, caller);
    }

    #[test]
    fn shutdown_refuses_new_calls_and_is_idempotent() {
        let auth = token_auth();
        auth.shutdown(Some(Duration::from_secs(5))).unwrap();
        auth.shutdown(None).unwrap();
        let error = auth.time_async(|_| {}).unwrap_err();
        assert_eq!(error.code, codes::SHUT_DOWN);
    }

    /// The blocking calls are refused after shutdown as the non-blocking ones are, before
    /// anything is sent (the options name no reachable host: a request would fail otherwise).
    #[test]
    fn shutdown_refuses_the_blocking_networked_calls_too() {
        let mut options = ClientOptions::default();
        options.auth.key = Some(crate::ApiKey::parse("appId.keyId:secret").unwrap());
        let auth = Auth::new(options).unwrap();
        auth.shutdown(Some(Duration::from_secs(5))).unwrap();
        let codes_seen = [
            auth.time().unwrap_err().code,
            auth.request(Method::Get, "/channels", &[], &[], None)
                .unwrap_err()
                .code,
            auth.revoke_tokens(&["clientId:a".to_owned()], None, None)
                .unwrap_err()
                .code,
            auth.request_token(None, None).unwrap_err().code,
        ];
        assert_eq!(codes_seen, [codes::SHUT_DOWN; 4]);
    }

    /// Calls started on one thread while another shuts the Auth down: each start either
    /// fails (its `done` never runs) or succeeds and its `done` runs exactly once. (A start
    /// that passed the closed check just before the shutdown, and queued its work just
    /// before the pool dropped the queue, used to succeed with a `done` that never ran.)
    #[test]
    fn calls_started_during_shutdown_complete_exactly_once_or_are_refused() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        for round in 0..200u64 {
            let auth = token_auth();
            let done = Arc::new(AtomicUsize::new(0));
            let starter = {
                let (auth, done) = (Arc::clone(&auth), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut accepted = 0;
                    loop {
                        let done = Arc::clone(&done);
                        let started = auth.start_call(
                            Duration::from_secs(60),
                            |_| {
                                std::thread::sleep(Duration::from_micros(50));
                                Ok(())
                            },
                            move |_| {
                                done.fetch_add(1, SeqCst);
                            },
                        );
                        match started {
                            Ok(_) => accepted += 1,
                            Err(error) => {
                                assert_eq!(error.code, codes::SHUT_DOWN);
                                return accepted; // the shutdown has begun
                            }
                        }
                    }
                })
            };
            std::thread::sleep(Duration::from_micros(round * 37 % 1000));
            auth.shutdown(Some(Duration::from_secs(10))).unwrap();
            let accepted = starter.join().unwrap();
            let give_up = Instant::now() + Duration::from_secs(10);
            while done.load(SeqCst) < accepted && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(5)); // a second run would show here
            assert_eq!(
                done.load(SeqCst),
                accepted,
                "round {round}: completions run vs calls started"
            );
        }
    }

    #[test]
    fn an_operation_meeting_the_shutdown_completes_as_cancelled() {
        let auth = token_auth();
        let (go, wait) = mpsc::channel::<()>();
        let (tx, rx) = mpsc::channel();
        let _call = auth
            .start_call(
                Duration::from_secs(60),
                move |auth| {
                    wait.recv().unwrap();
                    auth.check_may_fetch("authorize")
                },
                move |outcome| tx.send(outcome.map_err(|e| e.code)).unwrap(),
            )
            .unwrap();
        // What shutdown does first; the operation sees it before `cancel_all` reaches it.
        auth.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        go.send(()).unwrap();
        assert_eq!(rx.recv().unwrap(), Err(codes::CANCELLED));
    }

    #[test]
    fn cached_header_never_does_io() {
        let mut options = ClientOptions::default();
        options.auth.auth_url = Some("http://127.0.0.1:9/never".into());
        let auth = Auth::new(options).unwrap();
        assert_eq!(
            auth.cached_authorization_header().unwrap_err().code,
            codes::NO_VALID_TOKEN
        );
    }

    #[test]
    fn completion_is_refused_a_blocking_token_fetch() {
        let auth = token_auth();
        let (tx, rx) = mpsc::channel();
        let inner = Arc::clone(&auth);
        auth.authorization_header_async(move |_| {
            let nested = inner
                .request_token(None, None)
                .map(|_| ())
                .map_err(|e| e.code);
            tx.send(nested).unwrap();
        })
        .unwrap();
        assert_eq!(rx.recv().unwrap(), Err(codes::REENTRANT_CALL));
    }

    /// Issue 20 item 6: the bound on calls in flight. A start past it is refused at once
    /// (its completion is dropped unrun), and room comes back as work ends.
    #[test]
    fn starts_past_the_bound_are_refused_until_work_ends() {
        let mut options = ClientOptions::default();
        options.auth.token = Some("tok".into());
        options.max_calls_in_flight = 3;
        options.worker_threads = 1;
        let auth = Auth::new(options).unwrap();
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..3 {
            let (released, done_tx) = (Arc::clone(&released), done_tx.clone());
            auth.start_call(
                Duration::from_secs(60),
                move |_| {
                    released.lock().unwrap().recv().unwrap();
                    Ok(())
                },
                move |outcome: Result<()>| done_tx.send(outcome.is_ok()).unwrap(),
            )
            .unwrap();
        }
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ran_in_done = Arc::clone(&ran);
        let error = auth
            .start_call(
                Duration::from_secs(60),
                |_| Ok(()),
                move |_: Result<()>| ran_in_done.store(true, std::sync::atomic::Ordering::SeqCst),
            )
            .unwrap_err();
        assert_eq!(error.code, codes::TOO_MANY_CALLS);
        assert!(error.message.contains("in flight"));
        for _ in 0..3 {
            release.send(()).unwrap();
            assert!(done_rx.recv().unwrap());
        }
        // Each work has ended (its place is given up just after its completion is queued):
        // a start succeeds again. Hang guard, not a timing.
        let started = (0..10_000).any(|_| {
            let ok = auth
                .start_call(Duration::from_secs(60), |_| Ok(()), |_: Result<()>| {})
                .is_ok();
            if !ok {
                std::thread::sleep(Duration::from_millis(1));
            }
            ok
        });
        assert!(started, "room came back");
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "a refused start's done never runs"
        );
        auth.shutdown(Some(Duration::from_secs(10))).unwrap();
    }
}
