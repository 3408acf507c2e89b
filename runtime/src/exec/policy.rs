//! The policy around every attempt of an action: a timeout per attempt, retries of
//! retryable failures with exponential backoff and full jitter, and the listener's
//! circuit breaker.

use std::future::Future;
use std::time::{Duration, Instant};

use super::Executor;
use crate::actions::Failure;
use crate::backoff::Backoff;
use crate::pipeline::ListenerDesc;

impl Executor {
    /// Runs `attempt` with listener `i`'s policy: a timeout per attempt, retries of
    /// retryable failures with backoff, and the circuit breaker.
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
                Err(_) => Err(Failure {
                    message: format!("timed out after {} ms", p.timeout_ms),
                    retryable: true,
                }),
            };
            match result {
                Ok(v) => {
                    if let Ok(mut b) = self.breakers[i].lock() {
                        b.success();
                    }
                    return Ok(v);
                }
                Err(f) => {
                    if let Ok(mut b) = self.breakers[i].lock() {
                        b.failure(
                            Instant::now(),
                            p.breaker_threshold,
                            Duration::from_millis(p.breaker_cooldown_ms),
                        );
                    }
                    tries += 1;
                    if !f.retryable || tries > p.retries {
                        return Err(format!(
                            "{what} failed after {tries} attempt(s): {}",
                            f.message
                        ));
                    }
                    last_error = Some(f.message.clone());
                    let wait = backoff.next_delay();
                    tracing::warn!(listener = l.name, action = what, error = %f.message, wait = %crate::retry::human(wait), "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
