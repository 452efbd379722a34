//! The library threads of one Auth: a few workers that run blocking work (non-blocking
//! calls, background renewal) and one completer that delivers completions and enforces the
//! deadlines of calls. Started on first use, so a program that never makes a non-blocking
//! call and has renewal ahead turned off never gets a thread. No async runtime: plain
//! `std` threads, the built-in HTTP client stays blocking.

use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// Something with a deadline that the completer resolves when the deadline passes.
pub(crate) trait Deadline: Send + Sync {
    /// Resolve with the deadline's error unless already resolved.
    fn expire(&self);
}

/// A deadline being watched, ordered so that [`BinaryHeap`] pops the earliest first.
struct Watched {
    at: Instant,
    seq: u64,
    deadline: Weak<dyn Deadline>,
}

impl PartialEq for Watched {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Watched {}

impl PartialOrd for Watched {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Watched {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: the earliest deadline is the greatest.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The deadlines of calls in flight: adding one costs O(log n), the earliest is found in
/// O(1), and deadlines of calls already resolved are pruned when the heap has doubled since
/// the last pruning (amortised O(1) per deadline).
#[derive(Default)]
struct Deadlines {
    heap: BinaryHeap<Watched>,
    seq: u64,
    pruned_len: usize,
}

impl Deadlines {
    /// Add one; true when it is now the earliest (the completer must wake for it).
    fn push(&mut self, at: Instant, deadline: Weak<dyn Deadline>) -> bool {
        if self.heap.len() > 2 * self.pruned_len + 1024 {
            self.heap.retain(|w| w.deadline.strong_count() > 0);
            self.pruned_len = self.heap.len();
        }
        let earliest = self.heap.peek().is_none_or(|w| at < w.at);
        self.seq += 1;
        self.heap.push(Watched {
            at,
            seq: self.seq,
            deadline,
        });
        earliest
    }

    /// The deadlines due at `now`, earliest first, removed.
    fn take_due(&mut self, now: Instant) -> Vec<Weak<dyn Deadline>> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|w| w.at <= now) {
            let watched = self.heap.pop().expect("peeked");
            if watched.deadline.strong_count() > 0 {
                due.push(watched.deadline);
            }
        }
        due
    }

    fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|w| w.at)
    }
}

#[derive(Default)]
struct State {
    /// Work ready to run, oldest first.
    work: VecDeque<Job>,
    /// Work to run at an instant (background renewal), unordered (a handful at most).
    timers: Vec<(Instant, Job)>,
    /// Completions to deliver, in order.
    completions: VecDeque<Job>,
    /// Deadlines of calls in flight.
    deadlines: Deadlines,
    /// The threads; empty until the first use.
    threads: Vec<(ThreadId, JoinHandle<()>)>,
    stopping: bool,
    /// Workers that have not exited: the completer outlives them, since their last jobs
    /// may still queue completions.
    workers_alive: usize,
    /// The completer is running a completion now.
    completing: bool,
    completer: Option<ThreadId>,
    /// Completions taken from their call and not queued yet ([`Pool::resolving`]).
    resolving: usize,
}

/// A completion on its way into the queue: taken from its call (so a cancel or shutdown no
/// longer sees it) and not queued yet. [`Pool::drain_completions`] waits for it.
pub(crate) struct Resolving<'a> {
    pool: &'a Pool,
}

impl Drop for Resolving<'_> {
    fn drop(&mut self) {
        self.pool.state().resolving -= 1;
        self.pool.shared.idle.notify_all();
    }
}

struct Shared {
    state: Mutex<State>,
    /// Signalled for workers: work, a timer, or stopping.
    work_ready: Condvar,
    /// Signalled for the completer: a completion, a deadline, or stopping.
    completion_ready: Condvar,
    /// Signalled whenever a thread exits or the completion queue drains.
    idle: Condvar,
    workers: usize,
    name: String,
}

/// The threads of one Auth.
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    pub(crate) fn new(workers: usize, name: String) -> Self {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::default(),
                work_ready: Condvar::new(),
                completion_ready: Condvar::new(),
                idle: Condvar::new(),
                workers: workers.max(1),
                name,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    /// Run `job` on a worker as soon as one is free. `false` once stopping.
    pub(crate) fn run(&self, job: Job) -> bool {
        let mut state = self.state();
        if state.stopping || !self.start(&mut state) {
            return false;
        }
        state.work.push_back(job);
        drop(state);
        self.shared.work_ready.notify_one();
        true
    }

    /// Run `job` on a worker at `at` (or later, when all are busy). `false` once stopping.
    pub(crate) fn run_at(&self, at: Instant, job: Job) -> bool {
        let mut state = self.state();
        if state.stopping || !self.start(&mut state) {
            return false;
        }
        state.timers.push((at, job));
        drop(state);
        self.shared.work_ready.notify_all();
        true
    }

    /// Deliver `job` (a completion) on the completer thread, after those queued before it.
    /// Completions are delivered also while stopping, until the queue is drained.
    pub(crate) fn complete(&self, job: Job) -> bool {
        let mut state = self.state();
        if state.stopping && state.threads.is_empty() {
            // Everything has exited: still never run a completion inline.
            drop(state);
            return std::thread::Builder::new()
                .name(format!("{}-late", self.shared.name))
                .spawn(job)
                .is_ok();
        }
        if !self.start(&mut state) {
            return false;
        }
        state.completions.push_back(job);
        drop(state);
        self.shared.completion_ready.notify_one();
        true
    }

    /// Mark a completion as on its way into the queue until the guard drops: take it from its
    /// call after this, and queue it with [`Pool::complete`] before dropping the guard.
    pub(crate) fn resolving(&self) -> Resolving<'_> {
        self.state().resolving += 1;
        Resolving { pool: self }
    }

    /// Have the completer call `deadline.expire()` at `at`, unless it was dropped before.
    pub(crate) fn watch(&self, at: Instant, deadline: Weak<dyn Deadline>) {
        let mut state = self.state();
        if !state.stopping && self.start(&mut state) && state.deadlines.push(at, deadline) {
            drop(state);
            self.shared.completion_ready.notify_one();
        }
    }

    /// Wait until every queued completion has been delivered. On the completer itself (a
    /// completion that frees its Auth) the queued ones are delivered here, in order.
    /// Completions being resolved on other threads meanwhile ([`Pool::resolving`]) are
    /// waited for too: one taken from its call before a shutdown's cancel is not lost.
    pub(crate) fn drain_completions(&self) {
        let me = std::thread::current().id();
        let mut state = self.state();
        if state.completer == Some(me) {
            loop {
                if let Some(job) = state.completions.pop_front() {
                    drop(state);
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    state = self.state();
                } else if state.resolving > 0 {
                    state = self
                        .shared
                        .idle
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                } else {
                    return;
                }
            }
        }
        while !state.completions.is_empty() || state.completing || state.resolving > 0 {
            if state.completer.is_none() {
                return; // never started
            }
            state = self
                .shared
                .idle
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Stop taking work: queued work and timers are dropped, completions still delivered.
    /// Then wait, up to `timeout` (`None`: no limit), until every thread has exited: the
    /// completer exits once the completions are delivered, a worker once its current job
    /// (a blocking step) ends. Returns whether that happened in time. Called on one of the
    /// pool's threads, it does not wait for that thread (nor, on the completer, for the
    /// completions: they are delivered after it returns). Nor does it wait for a thread for
    /// which `excused` is true (one that may be waiting for the caller): the completer counts
    /// as done once it is idle, since it outlives every worker, the caller's and the excused
    /// ones included.
    pub(crate) fn stop(
        &self,
        timeout: Option<Duration>,
        excused: &dyn Fn(ThreadId) -> bool,
    ) -> bool {
        let dropped = {
            let mut state = self.state();
            state.stopping = true;
            state.timers.clear();
            std::mem::take(&mut state.work)
        };
        drop(dropped); // jobs capture user data: dropped with no lock held
        self.shared.work_ready.notify_all();
        self.shared.completion_ready.notify_all();
        let deadline = timeout.map(|t| Instant::now() + t);
        let me = std::thread::current().id();
        let mut state = self.state();
        loop {
            let (finished, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut state.threads)
                .into_iter()
                .partition(|(id, handle)| *id != me && handle.is_finished());
            state.threads = kept;
            for (_, handle) in finished {
                let _ = handle.join(); // finished: returns at once
            }
            let completer = state.completer;
            let not_waited = |id: ThreadId| id == me || excused(id);
            // The completer exits only after every worker: it is waited for until idle
            // when a worker that is not waited for still lives.
            let completer_held = state
                .threads
                .iter()
                .any(|(id, _)| Some(*id) != completer && not_waited(*id));
            let completer_idle =
                completer_held && state.completions.is_empty() && !state.completing;
            if state
                .threads
                .iter()
                .all(|(id, _)| not_waited(*id) || (Some(*id) == completer && completer_idle))
            {
                return true;
            }
            let now = Instant::now();
            let wait = match deadline {
                Some(d) if now >= d => return false,
                Some(d) => d - now,
                None => Duration::from_secs(1),
            };
            state = self
                .shared
                .idle
                .wait_timeout(state, wait.min(Duration::from_millis(50)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Start the threads on first use; `false` if the OS refused.
    fn start(&self, state: &mut State) -> bool {
        if !state.threads.is_empty() {
            return true;
        }
        if state.stopping {
            return false;
        }
        for index in 0..=self.shared.workers {
            let shared = Arc::clone(&self.shared);
            let completer = index == self.shared.workers;
            let name = if completer {
                format!("{}-completer", self.shared.name)
            } else {
                format!("{}-worker{index}", self.shared.name)
            };
            let spawned = std::thread::Builder::new().name(name).spawn(move || {
                if completer {
                    shared.completer();
                } else {
                    shared.worker();
                }
                shared.idle.notify_all();
            });
            match spawned {
                Ok(handle) => {
                    if completer {
                        state.completer = Some(handle.thread().id());
                    } else {
                        state.workers_alive += 1;
                    }
                    state.threads.push((handle.thread().id(), handle));
                }
                Err(_) => return !state.threads.is_empty(),
            }
        }
        true
    }
}

impl Drop for Pool {
    /// The Auth is gone: the threads finish what they hold and exit; no thread is joined
    /// here, since the last owner may be one of them.
    fn drop(&mut self) {
        let dropped = {
            let mut state = self.state();
            state.stopping = true;
            state.timers.clear();
            std::mem::take(&mut state.work)
        };
        drop(dropped);
        self.shared.work_ready.notify_all();
        self.shared.completion_ready.notify_all();
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn worker(&self) {
        let mut state = self.state();
        loop {
            if state.stopping {
                state.workers_alive -= 1;
                drop(state);
                self.completion_ready.notify_all();
                return;
            }
            let now = Instant::now();
            if let Some(position) = state.timers.iter().position(|(at, _)| *at <= now) {
                let (_, job) = state.timers.swap_remove(position);
                state = self.run_job(state, job);
                continue;
            }
            if let Some(job) = state.work.pop_front() {
                state = self.run_job(state, job);
                continue;
            }
            let next_timer = state.timers.iter().map(|(at, _)| *at).min();
            state = match next_timer {
                Some(at) => {
                    self.work_ready
                        .wait_timeout(state, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .work_ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }

    fn run_job<'a>(&'a self, state: MutexGuard<'a, State>, job: Job) -> MutexGuard<'a, State> {
        drop(state);
        // A panic in a job (a bug, or a Rust caller's closure) must not kill the worker.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        self.state()
    }

    fn completer(&self) {
        let mut state = self.state();
        loop {
            if let Some(job) = state.completions.pop_front() {
                state.completing = true;
                drop(state);
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                state = self.state();
                state.completing = false;
                self.idle.notify_all();
                continue;
            }
            let now = Instant::now();
            let due = state.deadlines.take_due(now);
            if !due.is_empty() {
                drop(state);
                for deadline in due {
                    if let Some(deadline) = deadline.upgrade() {
                        deadline.expire(); // queues a completion: delivered next round
                    }
                }
                state = self.state();
                continue;
            }
            if state.stopping && state.workers_alive == 0 {
                return;
            }
            let next = state.deadlines.next();
            state = match next {
                Some(at) => {
                    self.completion_ready
                        .wait_timeout(state, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .completion_ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn work_runs_on_a_worker_and_completions_in_order_on_the_completer() {
        let pool = Pool::new(2, "test".into());
        let (tx, rx) = mpsc::channel();
        for i in 0..5 {
            let tx = tx.clone();
            assert!(pool.complete(Box::new(move || {
                tx.send((i, std::thread::current().name().map(str::to_owned)))
                    .unwrap();
            })));
        }
        let got: Vec<_> = (0..5).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(
            got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert!(
            got.iter()
                .all(|(_, n)| n.as_deref() == Some("test-completer"))
        );
        let (tx, rx) = mpsc::channel();
        assert!(pool.run(Box::new(move || {
            tx.send(std::thread::current().name().map(str::to_owned))
                .unwrap();
        })));
        assert!(rx.recv().unwrap().unwrap().starts_with("test-worker"));
        assert!(pool.stop(Some(Duration::from_secs(10)), &|_| false));
        assert!(!pool.run(Box::new(|| {})), "no work after stop");
    }

    #[test]
    fn stop_on_a_worker_waits_neither_for_itself_nor_for_the_completer() {
        let pool = Arc::new(Pool::new(2, "self-stop".into()));
        // The completer has started and is idle.
        let (tx, rx) = mpsc::channel();
        assert!(pool.complete(Box::new(move || tx.send(()).unwrap())));
        rx.recv().unwrap();
        let (tx, rx) = mpsc::channel();
        let inner = Arc::clone(&pool);
        assert!(pool.run(Box::new(move || {
            tx.send(inner.stop(Some(Duration::from_secs(30)), &|_| false))
                .unwrap();
        })));
        // A hang guard; before, the stop waited out its 30 s and returned false.
        assert!(rx.recv_timeout(Duration::from_secs(60)).unwrap());
        assert!(pool.stop(Some(Duration::from_secs(30)), &|_| false));
    }

    #[test]
    fn drain_waits_for_a_completion_taken_but_not_queued_yet() {
        let pool = Pool::new(1, "resolving".into());
        let (tx, rx) = mpsc::channel();
        assert!(pool.complete(Box::new(move || tx.send(()).unwrap())));
        rx.recv().unwrap(); // the completer runs
        let delivered = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let resolving = pool.resolving();
        std::thread::scope(|scope| {
            let flag = Arc::clone(&delivered);
            let pool = &pool;
            scope.spawn(move || {
                // Queued well after the drain below started.
                std::thread::sleep(Duration::from_millis(100));
                assert!(pool.complete(Box::new(move || {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                })));
                drop(resolving);
            });
            // Before, this returned at once, before the completion was even queued.
            pool.drain_completions();
            assert!(delivered.load(std::sync::atomic::Ordering::SeqCst));
        });
        pool.stop(None, &|_| false);
    }

    #[test]
    fn stop_does_not_wait_for_an_excused_thread() {
        let pool = Pool::new(1, "excused".into());
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (id_tx, id_rx) = mpsc::channel();
        assert!(pool.run(Box::new(move || {
            id_tx.send(std::thread::current().id()).unwrap();
            entered_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(60)); // hang guard
        })));
        entered_rx.recv().unwrap();
        let busy = id_rx.recv().unwrap();
        assert!(pool.stop(Some(Duration::from_secs(30)), &|t| t == busy));
        release_tx.send(()).unwrap();
        assert!(pool.stop(Some(Duration::from_secs(30)), &|_| false));
    }

    #[test]
    fn timers_fire_after_their_instant() {
        let pool = Pool::new(1, "timer".into());
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        assert!(pool.run_at(
            start + Duration::from_millis(50),
            Box::new(move || tx.send(Instant::now()).unwrap())
        ));
        assert!(rx.recv().unwrap() >= start + Duration::from_millis(50));
        pool.stop(None, &|_| false);
    }

    struct Flag(Mutex<bool>, mpsc::Sender<()>);
    impl Deadline for Flag {
        fn expire(&self) {
            *self.0.lock().unwrap() = true;
            let _ = self.1.send(());
        }
    }

    #[test]
    fn deadlines_expire_unless_dropped() {
        let pool = Pool::new(1, "deadline".into());
        let (tx, rx) = mpsc::channel();
        let kept: Arc<Flag> = Arc::new(Flag(Mutex::new(false), tx.clone()));
        let dropped: Arc<Flag> = Arc::new(Flag(Mutex::new(false), tx));
        let at = Instant::now() + Duration::from_millis(30);
        let kept_dyn: Arc<dyn Deadline> = kept.clone();
        let dropped_dyn: Arc<dyn Deadline> = dropped.clone();
        pool.watch(at, Arc::downgrade(&kept_dyn));
        pool.watch(at, Arc::downgrade(&dropped_dyn));
        drop(dropped_dyn);
        drop(dropped);
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(*kept.0.lock().unwrap());
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "only one expired"
        );
        pool.stop(None, &|_| false);
    }

    struct Nothing;
    impl Deadline for Nothing {
        fn expire(&self) {}
    }

    /// Issue 20 item 6: deadlines come out earliest first, only when due, and those of
    /// calls already resolved do not pile up.
    #[test]
    fn deadlines_come_out_earliest_first_and_dead_ones_are_pruned() {
        let mut deadlines = Deadlines::default();
        let now = Instant::now();
        let live: Vec<Arc<dyn Deadline>> = (0..3).map(|_| Arc::new(Nothing) as _).collect();
        assert!(deadlines.push(now + Duration::from_secs(3), Arc::downgrade(&live[2])));
        assert!(deadlines.push(now + Duration::from_secs(1), Arc::downgrade(&live[0])));
        assert!(!deadlines.push(now + Duration::from_secs(2), Arc::downgrade(&live[1])));
        assert_eq!(deadlines.next(), Some(now + Duration::from_secs(1)));
        assert!(deadlines.take_due(now).is_empty());
        let due = deadlines.take_due(now + Duration::from_secs(2));
        assert_eq!(due.len(), 2);
        assert!(Arc::ptr_eq(&due[0].upgrade().unwrap(), &live[0]));
        assert!(Arc::ptr_eq(&due[1].upgrade().unwrap(), &live[1]));
        for _ in 0..100_000 {
            let resolved: Arc<dyn Deadline> = Arc::new(Nothing);
            deadlines.push(now + Duration::from_secs(60), Arc::downgrade(&resolved));
        }
        assert!(
            deadlines.heap.len() <= 1024 + 2,
            "resolved deadlines were pruned ({} left)",
            deadlines.heap.len()
        );
        let due = deadlines.take_due(now + Duration::from_secs(3600));
        assert_eq!(due.len(), 1, "only the live one is due");
    }
}
