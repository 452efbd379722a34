//! When to renew a token ahead of its expiry, and how long to wait after a failed renewal.
//! Pure arithmetic on server-clock milliseconds; the Auth turns the results into timers.
//!
//! # The floor
//!
//! Renewal ahead never starts sooner than `RENEWAL_FLOOR_MS` after the token it replaces
//! was put in use, whatever the token server answers. A token that is of no use for
//! renewal ahead ([`Arrival::Short`]: less usable life on arrival than the floor, which
//! includes every token that arrives inside its expiry margin; [`Arrival::Repeated`]: the
//! token already in use, handed out again) doubles the floor for the next renewal, up to
//! `RENEWAL_BACKOFF_CAP_MS`: 2 s, 4 s, 8 s ... 60 s while it keeps happening, back to
//! 1 s after a fresh token. Without it, a token that counts as expired on arrival (tokens
//! shorter than the margin with no `issued`, a token server whose clock lags, a server that
//! repeats a cached token) was renewed at once, for ever: hundreds of thousands of
//! authCallback calls a second.
//!
//! Why 1 s: it is the first step of the backoff after a failed renewal ([`retry_delay`]),
//! so an answer that cannot serve is treated like a failure; it bounds renewal ahead to one
//! fetch a second per Auth at worst, and to one a minute once the same answer has come six
//! times; and it changes nothing for tokens that live long enough to be worth renewing
//! ahead (a token usable for 2 s or more is renewed at half that life at the earliest
//! anyway).

/// Milliseconds from `now` until a background renewal of a token should start, the token
/// counting as expired from `renew_at` (its expiry less the margin, server clock).
///
/// The renewal starts `lead` ms before `renew_at` (the worst case of one token fetch, so
/// that it is done in time), but never before half of the remaining time has passed: a
/// token that lives less than `lead` is renewed at most once per half its remaining life,
/// never in a loop. `jitter` in `[0, 1)` moves the start up to a tenth earlier, so that a
/// fleet of servers started together does not renew in lock step.
pub fn renewal_delay(now: u64, renew_at: u64, lead: u64, jitter: f64) -> u64 {
    let remaining = renew_at.saturating_sub(now);
    let base = remaining.saturating_sub(lead).max(remaining / 2);
    let early = (base as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as u64;
    base - early.min(base)
}

/// No renewal ahead starts sooner than this after the token it replaces was put in use.
pub(crate) const RENEWAL_FLOOR_MS: u64 = 1_000;

/// The most the floor grows to while tokens keep arriving of no use for renewal ahead.
pub(crate) const RENEWAL_BACKOFF_CAP_MS: u64 = 60_000;

/// What a freshly fetched token is worth to renewal ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A new token usable for at least the floor.
    Fresh,
    /// Usable for less than the floor on arrival: `usable_ms` is the time from its arrival
    /// until it counts as expired (negative or zero: it arrived inside its expiry margin).
    Short {
        /// Milliseconds from arrival until the token counts as expired.
        usable_ms: i64,
    },
    /// The token already in use, handed out again (a token server that caches tokens).
    Repeated,
}

/// Classify a token fetched at server time `now` that counts as expired from `renew_at`
/// (`None`: it never expires); `repeated` when it is the token already in use.
pub fn classify_arrival(now: u64, renew_at: Option<u64>, repeated: bool) -> Arrival {
    if let Some(at) = renew_at {
        let usable = i128::from(at) - i128::from(now);
        if usable < i128::from(RENEWAL_FLOOR_MS) {
            return Arrival::Short {
                usable_ms: i64::try_from(usable).unwrap_or(i64::MIN),
            };
        }
    }
    if repeated {
        Arrival::Repeated
    } else {
        Arrival::Fresh
    }
}

/// The least delay (ms) before renewing ahead a token that ends a streak of `streak` tokens
/// in a row of no use to renewal ahead, itself included (0 for a fresh token):
/// `RENEWAL_FLOOR_MS` doubled per token of the streak, at most
/// `RENEWAL_BACKOFF_CAP_MS`; `jitter` in `[0, 1)` adds up to a tenth, never less than the
/// floor, so that a fleet that met the same token server does not retry in lock step.
pub fn renewal_floor(streak: u32, jitter: f64) -> u64 {
    let base = RENEWAL_FLOOR_MS
        .saturating_mul(1 << streak.min(16))
        .min(RENEWAL_BACKOFF_CAP_MS);
    base + (base as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as u64
}

/// Milliseconds to wait before retrying a failed background renewal, after `failures`
/// failures (1 for the first): 1 s, 2 s, 4 s ... up to 60 s, and at most half of the time
/// left until the token counts as expired (`remaining`), so the retries get denser as the
/// deadline nears, but never sooner than the floor. `None` when less than twice the floor is
/// left: the next call that needs a token fetches one in the foreground.
pub fn retry_delay(failures: u32, remaining: u64) -> Option<u64> {
    if remaining < 2 * RENEWAL_FLOOR_MS {
        return None;
    }
    let backoff = RENEWAL_FLOOR_MS.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Some(
        backoff
            .min(RENEWAL_BACKOFF_CAP_MS)
            .min(remaining / 2)
            .max(RENEWAL_FLOOR_MS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tokens_renew_a_lead_before_the_margin() {
        // A 60-minute token, 15 s margin, 85 s lead: renew 85 s before the margin.
        let renew_at = 3_600_000 - 15_000;
        assert_eq!(renewal_delay(0, renew_at, 85_000, 0.0), renew_at - 85_000);
    }

    #[test]
    fn short_tokens_renew_at_half_their_remaining_life() {
        // A 20 s token whose margin is capped at 10 s: usable for 10 s, renewed after 5 s.
        assert_eq!(renewal_delay(1_000, 11_000, 85_000, 0.0), 5_000);
        assert_eq!(renewal_delay(20_000, 11_000, 85_000, 0.0), 0, "already due");
    }

    #[test]
    fn jitter_starts_at_most_a_tenth_earlier() {
        assert_eq!(renewal_delay(0, 10_000, 0, 1.0), 9_000);
        assert_eq!(renewal_delay(0, 10_000, 0, 0.5), 9_500);
        assert_eq!(renewal_delay(0, 10_000, 0, 7.0), 9_000, "clamped");
    }

    #[test]
    fn retries_back_off_within_the_time_left() {
        assert_eq!(retry_delay(1, 1_000_000), Some(1_000));
        assert_eq!(retry_delay(3, 1_000_000), Some(4_000));
        assert_eq!(retry_delay(40, 1_000_000), Some(60_000));
        assert_eq!(retry_delay(3, 3_000), Some(1_500));
        assert_eq!(retry_delay(1, 1), None);
        assert_eq!(
            retry_delay(1, 1_999),
            None,
            "less than twice the floor left"
        );
        assert_eq!(retry_delay(5, 2_000), Some(1_000), "never below the floor");
    }

    #[test]
    fn arrivals_are_classified_by_usable_life_then_repetition() {
        assert_eq!(classify_arrival(0, None, false), Arrival::Fresh);
        assert_eq!(classify_arrival(0, None, true), Arrival::Repeated);
        assert_eq!(classify_arrival(0, Some(1_000), false), Arrival::Fresh);
        assert_eq!(classify_arrival(0, Some(60_000), true), Arrival::Repeated);
        assert_eq!(
            classify_arrival(5_000, Some(5_999), false),
            Arrival::Short { usable_ms: 999 }
        );
        assert_eq!(
            classify_arrival(20_000, Some(5_000), true),
            Arrival::Short { usable_ms: -15_000 },
            "inside its margin on arrival"
        );
        assert_eq!(
            classify_arrival(u64::MAX, Some(0), false),
            Arrival::Short {
                usable_ms: i64::MIN
            },
            "saturated"
        );
    }

    #[test]
    fn the_floor_doubles_per_useless_token_up_to_the_cap() {
        assert_eq!(renewal_floor(0, 0.0), 1_000);
        assert_eq!(renewal_floor(1, 0.0), 2_000);
        assert_eq!(renewal_floor(5, 0.0), 32_000);
        assert_eq!(renewal_floor(6, 0.0), 60_000);
        assert_eq!(renewal_floor(u32::MAX, 0.0), 60_000);
        assert_eq!(renewal_floor(0, 1.0), 1_100, "jitter adds up to a tenth");
        assert_eq!(renewal_floor(0, -3.0), 1_000, "never below the floor");
    }
}
