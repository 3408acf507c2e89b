//! What a realm connection does after a failed request: the one policy for the first
//! contact (`/server_settings`, `/users/me`, `/users`) and for the event queue
//! (`/register`, `/events`, backfill pages).
//!
//! * Rate limited: wait what the server said, but never longer than
//!   [`MAX_RATE_LIMIT_WAIT`]: Zulip drops an event queue nobody polls for about ten
//!   minutes, so a longer wait is cut (with a warning) and the request tried again.
//! * Transient (5xx, HTML error pages, timeouts, cut connections, garbage): back off with
//!   full jitter, never below a second, for as long as it takes. A process started while
//!   Zulip restarts waits for it instead of exiting.
//! * No connection at all ([`Error::Unreachable`]) to a site that has *never* answered:
//!   given up after [`FIRST_CONTACT_TRIES`], so a typo in the site fails fast. Once the
//!   site has answered anything, it is waited for like any transient failure.
//! * Everything else (authentication, bad requests, the store) is returned at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::error::{Error, Result};

/// Tries before giving up on a site that has never answered.
pub const FIRST_CONTACT_TRIES: u32 = 3;
/// How long Zulip keeps an event queue that nobody polls.
pub const QUEUE_IDLE_LIFETIME: Duration = Duration::from_secs(600);
/// The longest wait after a rate limit: well inside [`QUEUE_IDLE_LIFETIME`].
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);

/// Retry state of one connection.
#[derive(Debug, Clone)]
pub struct Retry {
    backoff: Backoff,
    site: String,
    answered: bool,
    unreachable: u32,
    /// Waits after transient failures so far.
    pub retries: u64,
    /// Waits after rate limits so far.
    pub rate_limited: u64,
}

impl Retry {
    /// A policy for requests to `site` (named in messages), with the default backoff.
    pub fn new(site: impl Into<String>) -> Self {
        Retry {
            backoff: Backoff::default(),
            site: site.into(),
            answered: false,
            unreachable: 0,
            retries: 0,
            rate_limited: 0,
        }
    }

    /// Replaces the backoff (tests use a deterministic one).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// A request succeeded: the site answers, and failures start counting afresh.
    pub fn succeeded(&mut self) {
        self.answered = true;
        self.unreachable = 0;
        self.backoff.reset();
    }

    /// How long to wait after `e` before trying again, or `e` itself when waiting
    /// cannot help.
    pub fn after(&mut self, e: Error) -> Result<Duration> {
        match e {
            Error::RateLimited { retry_after } => {
                self.answered = true;
                self.rate_limited += 1;
                let wait = retry_after.max(Duration::from_secs(1));
                if wait > MAX_RATE_LIMIT_WAIT {
                    tracing::warn!(
                        asked = %human(wait),
                        waiting = %human(MAX_RATE_LIMIT_WAIT),
                        "rate limited for longer than an idle event queue lives (about 10 minutes); \
                         waiting less and asking again (messages of an expired queue are backfilled)"
                    );
                    Ok(MAX_RATE_LIMIT_WAIT)
                } else {
                    tracing::warn!(wait = %human(wait), "rate limited; waiting as the server asked");
                    Ok(wait)
                }
            }
            Error::Unreachable { .. } if !self.answered => {
                self.unreachable += 1;
                if self.unreachable >= FIRST_CONTACT_TRIES {
                    return Err(Error::Config(format!(
                        "cannot reach {} after {FIRST_CONTACT_TRIES} tries: {e}; is the server running? (`zlc sandbox` starts a local one)",
                        self.site
                    )));
                }
                Ok(self.backoff_after(&e))
            }
            e if e.is_retryable() => {
                self.answered = true;
                Ok(self.backoff_after(&e))
            }
            e => Err(e),
        }
    }

    fn backoff_after(&mut self, e: &Error) -> Duration {
        self.retries += 1;
        let wait = self.backoff.next_delay();
        tracing::warn!(error = %e, wait = %human(wait), "request failed; backing off");
        wait
    }
}

/// Runs `op` until it succeeds, waiting between tries as `retry` decides. `None` when
/// `cancel` fires first.
pub async fn retrying<T, F: Future<Output = Result<T>>>(
    retry: &mut Retry,
    cancel: &CancellationToken,
    mut op: impl FnMut() -> F,
) -> Result<Option<T>> {
    loop {
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(None),
            r = op() => r,
        };
        let wait = match outcome {
            Ok(v) => {
                retry.succeeded();
                return Ok(Some(v));
            }
            Err(e) => retry.after(e)?,
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(None),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// A duration as a person writes it: `850ms`, `2.5s`, `5m`, `1h 2m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => {
            let s = d.as_secs_f64();
            if ms.is_multiple_of(1_000) {
                format!("{s:.0}s")
            } else {
                format!("{s:.1}s")
            }
        }
        _ => {
            let secs = d.as_secs();
            let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
            let mut out = Vec::new();
            if h > 0 {
                out.push(format!("{h}h"));
            }
            if m > 0 {
                out.push(format!("{m}m"));
            }
            if s > 0 {
                out.push(format!("{s}s"));
            }
            out.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> Error {
        Error::Unreachable {
            endpoint: "users/me".into(),
            detail: "could not connect".into(),
        }
    }

    fn transient() -> Error {
        Error::Transient {
            endpoint: "users/me".into(),
            detail: "HTTP 502".into(),
        }
    }

    #[test]
    fn a_site_that_never_answered_is_given_up_after_three_tries() {
        let mut r = Retry::new("https://typo.example.com");
        assert!(r.after(unreachable()).is_ok());
        assert!(r.after(unreachable()).is_ok());
        let e = r.after(unreachable()).unwrap_err().to_string();
        assert!(
            e.contains("cannot reach https://typo.example.com after 3 tries"),
            "{e}"
        );
    }

    #[test]
    fn once_the_site_answered_anything_it_is_waited_for() {
        let mut r = Retry::new("s");
        // A 502 is an answer (a proxy in front of a restarting Zulip).
        assert!(r.after(transient()).is_ok());
        for _ in 0..50 {
            assert!(r.after(unreachable()).is_ok());
        }
        assert_eq!(r.retries, 51);
        let mut r = Retry::new("s");
        r.succeeded();
        for _ in 0..10 {
            assert!(r.after(unreachable()).is_ok());
        }
    }

    #[test]
    fn timeouts_and_5xx_are_waited_for_forever_with_a_floor_of_a_second() {
        let mut r = Retry::new("s");
        for _ in 0..100 {
            let wait = r.after(transient()).unwrap();
            assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60));
        }
    }

    #[test]
    fn rate_limits_wait_as_asked_but_never_past_the_queue_lifetime() {
        let mut r = Retry::new("s");
        let asked = |secs| Error::RateLimited {
            retry_after: Duration::from_secs_f64(secs),
        };
        assert_eq!(r.after(asked(28.7)).unwrap(), Duration::from_secs_f64(28.7));
        assert_eq!(r.after(asked(3600.0)).unwrap(), MAX_RATE_LIMIT_WAIT);
        assert!(MAX_RATE_LIMIT_WAIT < QUEUE_IDLE_LIFETIME);
        assert_eq!(r.after(asked(0.0)).unwrap(), Duration::from_secs(1));
        assert_eq!(r.rate_limited, 3);
    }

    #[test]
    fn fatal_errors_come_back_at_once() {
        let mut r = Retry::new("s");
        let e = r
            .after(Error::Auth {
                code: "INVALID_API_KEY".into(),
                msg: "Invalid API key".into(),
            })
            .unwrap_err();
        assert!(e.is_fatal());
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(2500)), "2.5s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(3725)), "1h 2m 5s");
    }
}
