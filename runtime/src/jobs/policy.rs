//! The policy around every attempt of an action: retries of retryable failures with
//! exponential backoff and full jitter (or the wait a 429 asked for, up to five
//! minutes), and the listener's circuit breaker, which counts jobs: one failed job is one
//! failure, however many attempts it made.
//!
//! Pure state machines: they are told what happened and when, and say what to do. The
//! executor does the waiting and the timing out (`executor.rs`), so every transition is
//! tested here without a clock or a server.

use std::time::{Duration, Instant};

use crate::backoff::{Backoff, Breaker};
use crate::jobs::actions::Failure;
use crate::pipeline::PolicyDesc;

/// The longest wait a 429 may impose on a job.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// One listener's job policy: its retry settings and its circuit breaker.
#[derive(Debug)]
pub(crate) struct JobPolicy {
    policy: PolicyDesc,
    breaker: Breaker,
}

/// The breaker after a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BreakerState {
    /// It is open: attempts are refused until the cool-down has passed.
    pub open: bool,
    /// This job's failure opened it.
    pub opened: bool,
}

impl JobPolicy {
    /// The policy of a listener with `policy`, its breaker closed.
    pub(crate) fn new(policy: &PolicyDesc) -> Self {
        JobPolicy {
            policy: *policy,
            breaker: Breaker::default(),
        }
    }

    /// Whether an attempt may start at `now` (after the cool-down, one trial may).
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        self.breaker.allow(now)
    }

    /// Records how a job ended at `now`: a success closes the breaker, failures in a row
    /// open it for the cool-down once they reach the threshold.
    pub(crate) fn job_ended(&mut self, ok: bool, now: Instant) -> BreakerState {
        let was_open = self.breaker.is_open(now);
        if ok {
            self.breaker.success();
        } else {
            self.breaker.failure(
                now,
                self.policy.breaker_threshold,
                Duration::from_millis(self.policy.breaker_cooldown_ms),
            );
        }
        let open = self.breaker.is_open(now);
        BreakerState {
            open,
            opened: open && !was_open,
        }
    }

    /// The attempts of one action of one job.
    pub(crate) fn attempts(&self) -> Attempts {
        let p = &self.policy;
        Attempts {
            retries: p.retries,
            backoff: Backoff::new(
                Duration::from_millis(p.backoff_ms.min(1000)),
                Duration::from_millis(p.backoff_ms),
                Duration::from_millis(p.backoff_max_ms),
            ),
            tries: 0,
            last_error: None,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Stop: the action failed for good, with this message.
    GiveUp(String),
}

/// The attempts of one action of one job: how many were made and what the next wait is.
#[derive(Debug)]
pub(crate) struct Attempts {
    retries: u32,
    backoff: Backoff,
    tries: u32,
    last_error: Option<String>,
}

impl Attempts {
    /// After attempt number `tries + 1` of `what` failed with `f`: retry after a wait
    /// (the server's `Retry-After`, capped, else the backoff with jitter drawn from
    /// `unit` in `[0, 1)`), or give up when it is not retryable or no retry is left.
    pub(crate) fn failed(&mut self, what: &str, f: &Failure, unit: f64) -> Next {
        self.tries += 1;
        if !f.retryable || self.tries > self.retries {
            return Next::GiveUp(format!(
                "{what} failed after {} attempt(s): {}",
                self.tries, f.message
            ));
        }
        self.last_error = Some(f.message.clone());
        Next::Retry(match f.retry_after {
            Some(asked) => asked.min(MAX_RETRY_AFTER),
            None => self.backoff.next_with(unit),
        })
    }

    /// Why an attempt of `what` was refused by an open breaker.
    pub(crate) fn refused(&self, what: &str) -> String {
        match &self.last_error {
            Some(e) => format!(
                "{what} failed after {} attempt(s): {e}; circuit breaker now open",
                self.tries
            ),
            None => format!("{what} skipped: circuit breaker open after repeated failures"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32, threshold: u32) -> PolicyDesc {
        PolicyDesc {
            timeout_ms: 1000,
            retries,
            backoff_ms: 500,
            backoff_max_ms: 4000,
            breaker_threshold: threshold,
            breaker_cooldown_ms: 30_000,
            ..crate::pipeline::ListenerDesc::stand_in("x").policy
        }
    }

    fn failure(retryable: bool, retry_after: Option<Duration>) -> Failure {
        Failure {
            message: "boom".into(),
            retryable,
            retry_after,
        }
    }

    #[test]
    fn retryable_failures_wait_the_backoff_until_the_retries_are_spent() {
        let mut a = JobPolicy::new(&policy(3, 5)).attempts();
        let f = failure(true, None);
        // The top of each jitter range: from the 500 ms floor to 500 ms, 1 s, 2 s (doubling,
        // capped at 4 s).
        let waits: Vec<Next> = (0..4).map(|_| a.failed("reply", &f, 0.999_999)).collect();
        let ms = |n: &Next| match n {
            Next::Retry(d) => Some(d.as_millis()),
            Next::GiveUp(_) => None,
        };
        assert_eq!(ms(&waits[0]), Some(500));
        assert_eq!(ms(&waits[1]), Some(999));
        assert_eq!(ms(&waits[2]), Some(1999));
        assert_eq!(
            waits[3],
            Next::GiveUp("reply failed after 4 attempt(s): boom".into())
        );
        // The bottom of each range is the floor.
        let mut b = JobPolicy::new(&policy(3, 5)).attempts();
        assert_eq!(
            b.failed("reply", &f, 0.0),
            Next::Retry(Duration::from_millis(500))
        );
    }

    #[test]
    fn a_permanent_failure_gives_up_at_once() {
        let mut a = JobPolicy::new(&policy(3, 5)).attempts();
        assert_eq!(
            a.failed("webhook", &failure(false, None), 0.5),
            Next::GiveUp("webhook failed after 1 attempt(s): boom".into())
        );
    }

    #[test]
    fn retry_after_is_obeyed_up_to_five_minutes() {
        let mut a = JobPolicy::new(&policy(3, 5)).attempts();
        let asked = |s| failure(true, Some(Duration::from_secs(s)));
        assert_eq!(
            a.failed("reply", &asked(7), 0.5),
            Next::Retry(Duration::from_secs(7))
        );
        assert_eq!(
            a.failed("reply", &asked(3600), 0.5),
            Next::Retry(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn no_retries_means_one_attempt() {
        let mut a = JobPolicy::new(&policy(0, 5)).attempts();
        assert!(matches!(
            a.failed("reply", &failure(true, None), 0.5),
            Next::GiveUp(_)
        ));
    }

    #[test]
    fn the_breaker_opens_after_failed_jobs_in_a_row_and_lets_one_trial_through_later() {
        let t0 = Instant::now();
        let mut p = JobPolicy::new(&policy(0, 3));
        assert!(p.allow(t0));
        let closed = BreakerState {
            open: false,
            opened: false,
        };
        assert_eq!(p.job_ended(false, t0), closed);
        // A success in between starts the count again.
        assert_eq!(p.job_ended(true, t0), closed);
        assert_eq!(p.job_ended(false, t0), closed);
        assert_eq!(p.job_ended(false, t0), closed);
        assert_eq!(
            p.job_ended(false, t0),
            BreakerState {
                open: true,
                opened: true
            }
        );
        assert!(!p.allow(t0 + Duration::from_secs(29)), "cooling down");
        // After the cool-down one trial goes through; the count starts afresh, as after
        // any opening.
        let later = t0 + Duration::from_secs(30);
        assert!(p.allow(later));
        assert_eq!(p.job_ended(false, later), closed);
        assert_eq!(p.job_ended(true, later), closed);
        assert!(p.allow(later));
    }

    #[test]
    fn a_threshold_of_zero_never_opens() {
        let t0 = Instant::now();
        let mut p = JobPolicy::new(&policy(0, 0));
        for _ in 0..100 {
            assert!(!p.job_ended(false, t0).open);
        }
        assert!(p.allow(t0));
    }

    #[test]
    fn a_refusal_says_what_failed_before_it() {
        let mut a = JobPolicy::new(&policy(3, 1)).attempts();
        assert_eq!(
            a.refused("reply"),
            "reply skipped: circuit breaker open after repeated failures"
        );
        let _ = a.failed("reply", &failure(true, None), 0.5);
        assert_eq!(
            a.refused("reply"),
            "reply failed after 1 attempt(s): boom; circuit breaker now open"
        );
    }
}
