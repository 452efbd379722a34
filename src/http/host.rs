//! The host transport: each request is handed to the host application's own HTTP stack as
//! an [`Exchange`], which the host answers exactly once, now or later, from any thread.
//! [`HostTransport::send`] blocks the calling library thread until the answer comes, the
//! request's deadline passes or the exchange is cancelled; whichever comes first settles it,
//! and a later answer is refused (and dropped).
//!
//! The exchange refers only to a small shared state, never to the Auth, so the host may
//! answer after the library stopped waiting, after a shutdown or after the Auth was freed.
//! Request headers and body (credentials, macs) are wiped when the exchange is dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use super::{HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind};
use crate::core::error::{ErrorInfo, Result, codes};

/// The host application's HTTP stack, as the library sees it.
pub trait HttpHost: Send + Sync {
    /// Start sending `exchange.request()`; answer with [`Exchange::respond`] or
    /// [`Exchange::fail`], during this call or later from any thread. Runs on the library
    /// thread that makes the request, with no library lock held; return promptly.
    fn send(&self, exchange: Exchange);

    /// The library no longer waits for exchange `id` (its deadline passed, or it was
    /// cancelled): abort it if you can. Only a hint: it may run at the same time as the
    /// answer, on another thread, and the exchange must still be answered (or dropped).
    fn cancel(&self, _id: u64) {}
}

/// How an exchange was settled.
enum Settled {
    /// Not yet.
    Waiting,
    /// The host answered in time; the waiter has not taken it yet.
    Answered(std::result::Result<HttpResponse, TransportError>),
    /// The waiter took the answer.
    Taken,
    /// The waiter gave up: the deadline passed.
    Expired,
    /// The waiter was woken early (a cancelled call, a shutdown).
    Cancelled,
}

/// The state the waiting thread and the host's exchange share.
struct Shared {
    id: u64,
    settled: Mutex<Settled>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Settled> {
        self.settled.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wake the waiter early with a cancellation; `false` when it was already settled.
    fn cancel(&self) -> bool {
        let mut settled = self.lock();
        if !matches!(*settled, Settled::Waiting) {
            return false;
        }
        *settled = Settled::Cancelled;
        self.changed.notify_all();
        true
    }

    /// Hand the host's answer to the waiter. Errors: 50003 after the deadline,
    /// CANCELLED after a cancellation, 40003 when it was already answered.
    fn answer(&self, outcome: std::result::Result<HttpResponse, TransportError>) -> Result<()> {
        let mut settled = self.lock();
        match *settled {
            Settled::Waiting => {
                *settled = Settled::Answered(outcome);
                self.changed.notify_all();
                Ok(())
            }
            Settled::Expired => Err(ErrorInfo::new(
                codes::TIMEOUT,
                0,
                format!(
                    "HTTP exchange {} was answered after its deadline; the answer is dropped",
                    self.id
                ),
            )),
            Settled::Cancelled => Err(ErrorInfo::new(
                codes::CANCELLED,
                0,
                format!(
                    "HTTP exchange {} was answered after it was cancelled; the answer is dropped",
                    self.id
                ),
            )),
            Settled::Answered(_) | Settled::Taken => Err(ErrorInfo::invalid_value(format!(
                "HTTP exchange {} was already answered",
                self.id
            ))),
        }
    }

    /// Wait for the answer until `deadline`, the end of the request's `timeout`.
    fn wait(
        &self,
        deadline: Instant,
        timeout: Duration,
    ) -> std::result::Result<HttpResponse, TransportError> {
        let mut settled = self.lock();
        loop {
            match std::mem::replace(&mut *settled, Settled::Taken) {
                Settled::Answered(outcome) => return outcome,
                Settled::Cancelled => {
                    *settled = Settled::Cancelled;
                    return Err(TransportError {
                        kind: TransportErrorKind::Cancelled,
                        message: "the library stopped waiting for the host transport".into(),
                    });
                }
                Settled::Waiting => *settled = Settled::Waiting,
                Settled::Taken | Settled::Expired => unreachable!("only the waiter settles so"),
            }
            let now = Instant::now();
            if now >= deadline {
                *settled = Settled::Expired;
                return Err(TransportError {
                    kind: TransportErrorKind::Timeout,
                    message: format!(
                        "the host transport did not answer exchange {} within the request timeout ({} ms)",
                        self.id,
                        timeout.as_millis()
                    ),
                });
            }
            settled = self
                .changed
                .wait_timeout(settled, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// One request awaiting one answer from the host. `Send`: answer it from any thread.
/// Dropping it unanswered fails the request at once (as a connection failure).
pub struct Exchange {
    shared: Arc<Shared>,
    request: HttpRequest,
    deadline: Instant,
    answered: bool,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("id", &self.shared.id)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Exchange {
    /// The exchange's id: unique in the process, never reused, the one [`HttpHost::cancel`]
    /// names.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The request to send. Its `Authorization` header is a secret: never log it.
    pub fn request(&self) -> &HttpRequest {
        &self.request
    }

    /// The time left until the library stops waiting (zero once it has passed).
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Answer with an HTTP response (any status). A body longer than the request's
    /// `max_response_bytes` fails the request instead. Errors: 50003 when the deadline
    /// passed, CANCELLED when the library stopped waiting; the answer is then dropped.
    pub fn respond(mut self, response: HttpResponse) -> Result<()> {
        self.answered = true;
        let outcome = if response.body.len() > self.request.max_response_bytes {
            Err(TransportError {
                kind: TransportErrorKind::BodyTooLarge,
                message: format!(
                    "the host transport's answer has {} bytes, more than the {} allowed",
                    response.body.len(),
                    self.request.max_response_bytes
                ),
            })
        } else {
            Ok(response)
        };
        self.shared.answer(outcome)
    }

    /// Answer with a connection-level failure: no HTTP response was received. Host not
    /// found, connection failures and timeouts let the library try a fallback host
    /// (RSC15l1, RSC15l2). Errors: as for [`Exchange::respond`].
    pub fn fail(mut self, error: TransportError) -> Result<()> {
        self.answered = true;
        self.shared.answer(Err(error))
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if !self.answered {
            let _ = self.shared.answer(Err(TransportError {
                kind: TransportErrorKind::ConnectionFailed,
                message: "the host transport dropped the exchange without answering".into(),
            }));
        }
        for (_, value) in &mut self.request.headers {
            value.zeroize();
        }
        if let Some(body) = &mut self.request.body {
            body.zeroize();
        }
        self.request.url.zeroize();
    }
}

/// Ids of exchanges: process-wide, so that an id is never reused while a host may still
/// hold an older exchange.
static NEXT_EXCHANGE_ID: AtomicU64 = AtomicU64::new(1);

/// A [`Transport`] whose requests the host sends (see the module documentation).
pub struct HostTransport {
    host: Box<dyn HttpHost>,
    /// The exchanges being waited for, by id, with the thread that waits.
    pending: Mutex<BTreeMap<u64, (ThreadId, Arc<Shared>)>>,
    /// Calls into the host in progress, and whether the transport was closed.
    calls: Mutex<HostCalls>,
    /// Signalled when a call into the host returns.
    returned: Condvar,
}

#[derive(Default)]
struct HostCalls {
    closed: bool,
    /// The threads inside `send` or `cancel` of the host now.
    inside: Vec<ThreadId>,
}

/// One call into the host in progress; leaving (also by unwinding) signals [`HostTransport::close`].
struct InHost<'a> {
    transport: &'a HostTransport,
}

impl Drop for InHost<'_> {
    fn drop(&mut self) {
        let mut calls = self.transport.calls();
        let me = std::thread::current().id();
        if let Some(at) = calls.inside.iter().position(|t| *t == me) {
            calls.inside.swap_remove(at);
        }
        self.transport.returned.notify_all();
    }
}

impl std::fmt::Debug for HostTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostTransport").finish_non_exhaustive()
    }
}

impl HostTransport {
    /// A transport sending through `host`.
    pub fn new(host: impl HttpHost + 'static) -> Self {
        HostTransport {
            host: Box::new(host),
            pending: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(HostCalls::default()),
            returned: Condvar::new(),
        }
    }

    fn pending(&self) -> MutexGuard<'_, BTreeMap<u64, (ThreadId, Arc<Shared>)>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn calls(&self) -> MutexGuard<'_, HostCalls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enter a call into the host; `None` once the transport is closed.
    fn enter(&self) -> Option<InHost<'_>> {
        let mut calls = self.calls();
        if calls.closed {
            return None;
        }
        calls.inside.push(std::thread::current().id());
        Some(InHost { transport: self })
    }

    fn cancel_hook(&self, id: u64) {
        if let Some(_inside) = self.enter() {
            self.host.cancel(id);
        }
    }

    /// Stop waiting for exchange `id`: its `send` returns
    /// [`TransportErrorKind::Cancelled`] now and the host's cancel hook is called. Returns
    /// whether it was still waiting.
    pub fn cancel(&self, id: u64) -> bool {
        let shared = self
            .pending()
            .get(&id)
            .map(|(_, shared)| Arc::clone(shared));
        let cancelled = shared.is_some_and(|shared| shared.cancel());
        if cancelled {
            self.cancel_hook(id);
        }
        cancelled
    }

    /// Stop waiting for the exchange `thread` is blocked on, if any (a worker whose call was
    /// cancelled). Returns whether one was cancelled.
    pub fn cancel_on_thread(&self, thread: ThreadId) -> bool {
        let id = self.request_on_thread(thread);
        id.is_some_and(|id| self.cancel(id))
    }

    /// The ids of the exchanges being waited for now.
    pub fn pending_ids(&self) -> Vec<u64> {
        self.pending().keys().copied().collect()
    }
}

impl Transport for HostTransport {
    fn send(&self, request: &HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        let shared = Arc::new(Shared {
            id: NEXT_EXCHANGE_ID.fetch_add(1, Ordering::Relaxed),
            settled: Mutex::new(Settled::Waiting),
            changed: Condvar::new(),
        });
        let deadline = Instant::now() + request.timeout;
        self.pending().insert(
            shared.id,
            (std::thread::current().id(), Arc::clone(&shared)),
        );
        let Some(inside) = self.enter() else {
            self.pending().remove(&shared.id);
            return Err(closed_error());
        };
        self.host.send(Exchange {
            shared: Arc::clone(&shared),
            request: request.clone(),
            deadline,
            answered: false,
        });
        drop(inside);
        let outcome = shared.wait(deadline, request.timeout);
        self.pending().remove(&shared.id);
        if outcome
            .as_ref()
            .is_err_and(|e| e.kind == TransportErrorKind::Timeout)
            && matches!(*shared.lock(), Settled::Expired)
        {
            self.cancel_hook(shared.id);
        }
        outcome
    }

    fn cancel_all(&self) {
        for id in self.pending_ids() {
            self.cancel(id);
        }
    }

    fn request_on_thread(&self, thread: ThreadId) -> Option<u64> {
        self.pending()
            .iter()
            .find(|(_, (waiter, _))| *waiter == thread)
            .map(|(id, _)| *id)
    }

    fn cancel_request(&self, id: u64) {
        self.cancel(id);
    }

    /// Cancel every exchange (calling the host's cancel hook), then refuse new requests
    /// without calling the host, and wait until no other thread is inside the host's `send`
    /// or `cancel`: once this returns, the library never calls the host again.
    fn close(&self) {
        self.cancel_all();
        let me = std::thread::current().id();
        let mut calls = self.calls();
        calls.closed = true;
        while calls.inside.iter().any(|t| *t != me) {
            calls = self
                .returned
                .wait(calls)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(calls);
        // A request that reached the host between the two steps: stop waiting for it too
        // (no hook: the host is no longer called).
        let pending: Vec<_> = self
            .pending()
            .values()
            .map(|(_, s)| Arc::clone(s))
            .collect();
        for shared in pending {
            shared.cancel();
        }
    }
}

fn closed_error() -> TransportError {
    TransportError {
        kind: TransportErrorKind::Cancelled,
        message: "the host transport was closed (its Auth was freed)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Method, RequestPurpose};
    use std::sync::mpsc;

    fn request(timeout_ms: u64) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url: "https://example.test/time".into(),
            headers: vec![("Authorization".into(), "Bearer c2VjcmV0".into())],
            body: None,
            max_response_bytes: 16,
            purpose: RequestPurpose::Ably,
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    fn ok(body: &[u8]) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: vec![],
            body: body.to_vec(),
        }
    }

    /// Hands every exchange to the test through a channel; records cancels.
    struct Relay {
        exchanges: Mutex<mpsc::Sender<Exchange>>,
        cancels: Arc<Mutex<Vec<u64>>>,
    }

    impl HttpHost for Relay {
        fn send(&self, exchange: Exchange) {
            self.exchanges.lock().unwrap().send(exchange).unwrap();
        }
        fn cancel(&self, id: u64) {
            self.cancels.lock().unwrap().push(id);
        }
    }

    fn relay() -> (
        Arc<HostTransport>,
        mpsc::Receiver<Exchange>,
        Arc<Mutex<Vec<u64>>>,
    ) {
        let (tx, rx) = mpsc::channel();
        let cancels = Arc::new(Mutex::new(Vec::new()));
        let transport = HostTransport::new(Relay {
            exchanges: Mutex::new(tx),
            cancels: Arc::clone(&cancels),
        });
        (Arc::new(transport), rx, cancels)
    }

    #[test]
    fn an_answer_from_another_thread_reaches_the_waiting_caller() {
        let (transport, exchanges, _) = relay();
        let host = std::thread::spawn(move || {
            let exchange = exchanges.recv().unwrap();
            assert_eq!(exchange.request().url, "https://example.test/time");
            exchange.respond(ok(b"[1]")).unwrap();
        });
        let response = transport.send(&request(10_000)).unwrap();
        assert_eq!(response.body, b"[1]");
        host.join().unwrap();
        assert!(transport.pending_ids().is_empty());
    }

    #[test]
    fn the_deadline_ends_the_wait_calls_cancel_and_refuses_the_late_answer() {
        let (transport, exchanges, cancels) = relay();
        let error = transport.send(&request(50)).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Timeout);
        let exchange = exchanges.recv().unwrap();
        assert_eq!(*cancels.lock().unwrap(), vec![exchange.id()]);
        assert_eq!(exchange.time_left(), Duration::ZERO);
        assert_eq!(
            exchange.respond(ok(b"late")).unwrap_err().code,
            codes::TIMEOUT
        );
    }

    #[test]
    fn cancel_wakes_the_waiter_early_and_refuses_the_answer() {
        let (transport, exchanges, cancels) = relay();
        let waiter = {
            let transport = Arc::clone(&transport);
            std::thread::spawn(move || transport.send(&request(60_000)))
        };
        let exchange = exchanges.recv().unwrap();
        assert!(!transport.cancel_on_thread(std::thread::current().id()));
        transport.cancel_all();
        let error = waiter.join().unwrap().unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Cancelled);
        let id = exchange.id();
        assert_eq!(*cancels.lock().unwrap(), vec![id]);
        assert_eq!(exchange.fail(error).unwrap_err().code, codes::CANCELLED);
        assert!(!transport.cancel(id), "no longer pending");
    }

    #[test]
    fn cancel_on_thread_wakes_that_waiter_only() {
        let (transport, exchanges, cancels) = relay();
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let transport = Arc::clone(&transport);
            std::thread::spawn(move || {
                tx.send(std::thread::current().id()).unwrap();
                transport.send(&request(60_000))
            })
        };
        let thread = rx.recv().unwrap();
        let exchange = exchanges.recv().unwrap();
        assert!(transport.cancel_on_thread(thread));
        assert_eq!(
            waiter.join().unwrap().unwrap_err().kind,
            TransportErrorKind::Cancelled
        );
        assert_eq!(*cancels.lock().unwrap(), vec![exchange.id()]);
    }

    #[test]
    fn a_dropped_exchange_or_an_oversized_body_fails_the_request() {
        struct Dropper;
        impl HttpHost for Dropper {
            fn send(&self, exchange: Exchange) {
                drop(exchange);
            }
        }
        let error = HostTransport::new(Dropper)
            .send(&request(60_000))
            .unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::ConnectionFailed);

        struct Big;
        impl HttpHost for Big {
            fn send(&self, exchange: Exchange) {
                exchange.respond(ok(&[b'x'; 17])).unwrap();
            }
        }
        let error = HostTransport::new(Big).send(&request(60_000)).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::BodyTooLarge);
    }

    #[test]
    fn ids_are_never_reused() {
        let (transport, exchanges, _) = relay();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let _ = transport.send(&request(0));
            ids.push(exchanges.recv().unwrap().id());
        }
        ids.dedup();
        assert_eq!(ids.len(), 3);
    }
}
