//! Renewing ahead of expiry: while a valid token is cached and the options can get another,
//! a worker fetches the next one before the current one enters its expiry margin, so that
//! the header call never waits on the network while a valid token exists. Failures are
//! reported to listeners and retried with backoff while the token in use stays valid; they
//! are never thrown at a header call.
//!
//! Whatever the token server answers, a renewal never starts sooner than a floor after the
//! token it replaces was put in use (1 s, doubled for each token in a row that arrived of no
//! use: usable for less than the floor, inside its margin included, or the token in use
//! handed out again; at most 60 s). Such a token is logged, and one that arrives with less
//! than the floor of usable life is also announced to listeners as an auth-failed event
//! (40142) that says why. See `crate::core::renewal`.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::Auth;
use super::cache::{CachedToken, Flight, Leader};
use super::lock;
use crate::core::renewal::{renewal_delay, renewal_floor, retry_delay};

/// A renewal woken this much earlier than due (a clock moved) sleeps again instead.
const EARLY_TOLERANCE_MS: u64 = 1_000;

impl Auth {
    /// Plan the renewal of `token`, the token just put in use (`failures`: failed
    /// renewals of it so far). Nothing happens when renewal ahead is off, the Auth is shut
    /// down, the token never expires or nothing can renew it.
    pub(super) fn schedule_renewal(&self, token: &Arc<CachedToken>, failures: u32) {
        let Some(renew_at) = token.renew_at else {
            return;
        };
        if !self.renew_ahead || self.check_open().is_err() || !self.means().options.can_renew() {
            return;
        }
        let now = self.server_now();
        let delay = if failures == 0 {
            let lead = u64::try_from(self.fetch_budget().as_millis()).unwrap_or(u64::MAX);
            // Never sooner than the floor, whatever the token server answered.
            renewal_delay(now, renew_at, lead, rand::random::<f64>())
                .max(renewal_floor(token.streak, rand::random::<f64>()))
        } else {
            match retry_delay(failures, renew_at.saturating_sub(now)) {
                Some(delay) => delay,
                None => return, // no time left: the next call renews in the foreground
            }
        };
        self.plan_renewal(token, failures, now.saturating_add(delay));
    }

    /// Run the renewal job when the server clock reads `due` (ms).
    fn plan_renewal(&self, token: &Arc<CachedToken>, failures: u32, due: u64) {
        let delay = due.saturating_sub(self.server_now());
        let auth = Weak::clone(&self.me);
        let expected = Arc::downgrade(token);
        self.pool().run_at(
            Instant::now() + Duration::from_millis(delay),
            Box::new(move || {
                if let Some(auth) = auth.upgrade() {
                    auth.renew(&expected, failures, due);
                }
            }),
        );
    }

    /// The renewal job: renew `expected` if it is still the token in use and its planned
    /// start `due` (server clock) has come; a timer that fired early because the clock
    /// moved back sleeps again until then.
    fn renew(&self, expected: &Weak<CachedToken>, failures: u32, due: u64) {
        let Some(expected) = expected.upgrade() else {
            return; // replaced and dropped meanwhile
        };
        let current = self.token.load();
        if self.check_open().is_err()
            || !current
                .as_ref()
                .is_some_and(|token| Arc::ptr_eq(token, &expected))
        {
            return; // shut down, or another fetch or authorize replaced it
        }
        drop(current);
        if self.server_now().saturating_add(EARLY_TOLERANCE_MS) < due {
            self.plan_renewal(&expected, failures, due); // woke early: the clock moved back
            return;
        }
        let flight = {
            let mut current = lock(&self.flight);
            if current.as_ref().is_some_and(|f| !f.is_overdue()) {
                return; // a call is fetching already; its leader plans the next renewal
            }
            let flight = Flight::new(self.fetch_budget());
            *current = Some(Arc::clone(&flight));
            flight
        };
        if self.lead(&flight, Leader::Background).is_err() {
            self.schedule_renewal(&expected, failures.saturating_add(1));
        }
    }
}
