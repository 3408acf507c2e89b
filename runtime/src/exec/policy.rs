//! The policy around every attempt of an action: a timeout per attempt, retries of
//! retryable failures with exponential backoff and full jitter (or the wait a 429 asked
//! for), and the listener's circuit breaker, which counts jobs: one failed job is one
//! failure, however many attempts it made.

use std::future::Future;
use std::time::{Duration, Instant};

use super::Executor;
use crate::actions::Failure;
use crate::backoff::Backoff;
use crate::pipeline::ListenerDesc;

/// The longest wait a 429 may impose on a job.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Executor {
    /// Records how a job of listener `i` ended, for its circuit breaker.
    pub(crate) fn job_ended(&self, i: usize, ok: bool) {
        let Ok(mut b) = self.breakers[i].lock() else {
            return;
        };
        let now = Instant::now();
        let was_open = b.is_open(now);
        if ok {
            b.success();
        } else {
            let p = &self.pipeline.listeners[i].policy;
            b.failure(
                now,
                p.breaker_threshold,
                Duration::from_millis(p.breaker_cooldown_ms),
            );
        }
        if let Some(m) = crate::metrics::get() {
            let open = b.is_open(now);
            m.breaker(i, open, open && !was_open);
        }
    }

    /// Runs `attempt` with listener `i`'s policy: a timeout per attempt, retries of
    /// retryable failures with backoff (a 429 waits its `Retry-After`, up to five
    /// minutes), and no attempt while the breaker is open.
    pub(super) async fn retrying<T, F, Fut>(
        &self,
        l: &ListenerDesc,
        i: usize,
        what: &str,
        mut attempt: F,
    ) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let p = &l.policy;
        let mut backoff = Backoff::new(
            Duration::from_millis(p.backoff_ms.min(1000)),
            Duration::from_millis(p.backoff_ms),
            Duration::from_millis(p.backoff_max_ms),
        );
        let mut tries = 0;
        let mut last_error: Option<String> = None;
        loop {
            let allowed = self.breakers[i]
                .lock()
                .map(|mut b| b.allow(Instant::now()))
                .unwrap_or(true);
            if !allowed {
                return Err(match &last_error {
                    Some(e) => format!(
                        "{what} failed after {tries} attempt(s): {e}; circuit breaker now open"
                    ),
                    None => {
                        format!("{what} skipped: circuit breaker open after repeated failures")
                    }
                });
            }
            let result = match tokio::time::timeout(p.timeout(), attempt()).await {
                Ok(r) => r,
                Err(_) => Err(Failure::retryable(format!(
                    "timed out after {} ms",
                    p.timeout_ms
                ))),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(f) => {
                    tries += 1;
                    if !f.retryable || tries > p.retries {
                        return Err(format!(
                            "{what} failed after {tries} attempt(s): {}",
                            f.message
                        ));
                    }
                    last_error = Some(f.message.clone());
                    let wait = match f.retry_after {
                        Some(asked) => asked.min(MAX_RETRY_AFTER),
                        None => backoff.next_delay(),
                    };
                    tracing::warn!(listener = l.name, action = what, error = %f.message, wait = %crate::retry::human(wait), "retrying");
                    if let Some(m) = crate::metrics::get() {
                        m.retried(l.name);
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
