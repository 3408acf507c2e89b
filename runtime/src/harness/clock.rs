//! The harness's clock: a test sets it and moves it forward, and the schedules' ticks
//! that fall on the way run, in order, as a running process would run them.

use super::Harness;
use crate::error::{Error, Result};
use crate::stats::StatsBuf;

/// The most ticks one move of the clock runs (a year of a `10m` schedule is 52,560).
const MAX_TICKS: usize = 10_000;

impl Harness {
    /// The test's clock, if a test set it.
    pub fn clock(&self) -> Option<i64> {
        self.clock
    }

    /// Sets the clock to `t` (Unix seconds) without running any tick: the time a test
    /// starts at. Messages sent from now on are sent at the clock's time.
    pub fn set_clock(&mut self, t: i64) {
        self.clock = Some(t);
    }

    /// Moves the clock forward to `t`, running every tick of every schedule after the
    /// clock's time up to `t` (included), in order; returns how many ran. A clock not
    /// set yet starts at `t` less a second (the tick at `t` runs).
    pub async fn advance_to(&mut self, t: i64) -> Result<usize> {
        let from = self.clock.unwrap_or(t - 1);
        if t < from {
            return Err(Error::Config(format!(
                "the clock goes forward only: {t} is before {from}"
            )));
        }
        let mut ticks = Vec::new();
        for (k, (_, schedule)) in self.ticker.schedules().iter().enumerate() {
            let mut at = from;
            while let Some(next) = schedule.next_after(at).filter(|n| *n <= t) {
                ticks.push((next, k));
                if ticks.len() > MAX_TICKS {
                    return Err(Error::Config(format!(
                        "moving the clock that far runs more than {MAX_TICKS} ticks"
                    )));
                }
                at = next;
            }
        }
        ticks.sort_unstable();
        self.clock = Some(t);
        let names: Vec<&str> = self.pipeline.listeners.iter().map(|l| l.name).collect();
        for (next, k) in &ticks {
            let mut buf = StatsBuf::new(self.pipeline.listeners.len(), next.div_euclid(3600));
            let mut log = Vec::new();
            self.ticker
                .run(*k, *next, false, &mut buf, &mut log)
                .await?;
            self.totals.add(&buf);
            self.store
                .flush(self.pipeline.name, &names, &buf.drain(), &log)
                .await?;
        }
        Ok(ticks.len())
    }
}
