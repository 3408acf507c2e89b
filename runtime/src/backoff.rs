//! Exponential backoff with full jitter, and the circuit breaker: small pure types.
//!
//! Delay *n* is drawn uniformly from `[floor, min(cap, base · 2ⁿ)]`: full jitter spreads
//! many clients apart after a shared outage, and the floor (1 s by default) makes a
//! tight retry loop impossible whatever the random draw.

use std::time::{Duration, Instant};

/// Backoff state for one retried operation.
#[derive(Debug, Clone)]
pub struct Backoff {
    floor: Duration,
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(60),
        )
    }
}

impl Backoff {
    /// A backoff whose delays never go below `floor` nor above `cap`.
    pub fn new(floor: Duration, base: Duration, cap: Duration) -> Self {
        let cap = cap.max(floor);
        Backoff {
            floor,
            base,
            cap,
            attempt: 0,
        }
    }

    /// Failures since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next retry, given a uniform draw `unit` in `[0, 1)`.
    pub fn next_with(&mut self, unit: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(20));
        let ceiling = exp.min(self.cap).max(self.floor);
        self.attempt = self.attempt.saturating_add(1);
        let span = ceiling - self.floor;
        self.floor + span.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The delay before the next retry, with a random draw.
    pub fn next_delay(&mut self) -> Duration {
        self.next_with(fastrand::f64())
    }

    /// Forget past failures after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Circuit breaker of one listener.
#[derive(Debug, Default)]
pub struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    /// Whether a call may go ahead now (after the cool-down, one trial call may).
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.open_until {
            Some(until) if now < until => false,
            Some(_) => {
                self.open_until = None;
                true
            }
            None => true,
        }
    }

    /// Records a success: closes the breaker.
    pub fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// Records a failure; opens the breaker after `threshold` in a row.
    pub fn failure(&mut self, now: Instant, threshold: u32, cooldown: Duration) {
        self.failures += 1;
        if threshold > 0 && self.failures >= threshold {
            self.open_until = Some(now + cooldown);
            self.failures = 0;
        }
    }

    /// Whether it is open.
    pub fn is_open(&self, now: Instant) -> bool {
        self.open_until.is_some_and(|u| now < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_floor_and_cap() {
        let mut b = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(30),
        );
        // The largest draw follows the exponential ceiling, capped.
        let maxes: Vec<u64> = (0..8).map(|_| b.next_with(1.0).as_secs()).collect();
        assert_eq!(maxes, [1, 2, 4, 8, 16, 30, 30, 30]);
        b.reset();
        // The smallest draw never goes below the floor.
        for _ in 0..10 {
            assert_eq!(b.next_with(0.0), Duration::from_secs(1));
        }
        b.reset();
        b.next_with(0.0);
        b.next_with(0.0);
        // Third attempt: ceiling 4 s, a half draw lands half-way between 1 s and 4 s.
        assert_eq!(b.next_with(0.5), Duration::from_millis(2500));
    }

    #[test]
    fn random_draws_stay_in_bounds() {
        let mut b = Backoff::default();
        for _ in 0..1000 {
            let d = b.next_delay();
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(60),
                "{d:?}"
            );
        }
        assert_eq!(b.attempts(), 1000);
    }

    #[test]
    fn breaker_opens_after_threshold_and_half_opens_after_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::default();
        for _ in 0..2 {
            b.failure(t0, 3, Duration::from_secs(30));
            assert!(b.allow(t0));
        }
        b.failure(t0, 3, Duration::from_secs(30));
        assert!(!b.allow(t0 + Duration::from_secs(29)));
        assert!(b.is_open(t0 + Duration::from_secs(1)));
        assert!(
            b.allow(t0 + Duration::from_secs(31)),
            "one trial after the cool-down"
        );
        b.success();
        assert!(b.allow(t0 + Duration::from_secs(32)));
    }
}
