//! When to renew a token ahead of its expiry, and how long to wait after a failed renewal.
//! Pure arithmetic on server-clock milliseconds; the Auth turns the results into timers.

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

/// Milliseconds to wait before retrying a failed background renewal, after `failures`
/// failures (1 for the first): 1 s, 2 s, 4 s ... up to 60 s, and at most half of the time
/// left until the token counts as expired (`remaining`), so the retries get denser as the
/// deadline nears. `None` when no time is left: the next call that needs a token fetches
/// one in the foreground.
pub fn retry_delay(failures: u32, remaining: u64) -> Option<u64> {
    if remaining < 2 {
        return None;
    }
    let backoff = 1000u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Some(backoff.min(60_000).min(remaining / 2))
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
    }
}
