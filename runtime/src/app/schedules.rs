//! The schedules of `NAME run`: a task per realm that schedules post to, ticking with
//! the wall clock. Every process of a fleet ticks; the store's claim on each tick
//! ([`crate::jobs::ticks`]) lets one of them run it. At start, the last tick before now
//! runs if it was missed and the schedule says `catch_up = "once"` (late), or if it is
//! less than [`ON_TIME_SECS`] old (on time); any other missed tick is skipped.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::connection::hello;
use super::realms::ConfigFile;
use crate::clock::now_secs;
use crate::error::Result;
use crate::jobs::engine::Code;
use crate::jobs::ticks::{Ticked, Ticker};
use crate::pipeline::{PipelineDesc, RealmDesc};
use crate::stats::StatsBuf;
use crate::store::Store;

/// A tick this old or younger is on time; an older one is a missed one.
pub const ON_TIME_SECS: i64 = 60;

/// The longest wait between two looks at the clock (the clock may be set meanwhile).
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Which of `p`'s schedules post to `realm`: those that name it, and those that name
/// none when it is the pipeline's first realm. `only`: `--listeners`.
pub(super) fn schedules_on(p: &PipelineDesc, realm: u32, only: Option<&[String]>) -> Vec<bool> {
    let first = p.realms.first().map(|r| r.id);
    let mut on = vec![false; p.listeners.len()];
    for s in p.schedules {
        let l = &p.listeners[s.listener];
        on[s.listener] = l.enabled
            && l.realms
                .map_or(first == Some(realm), |r| r.contains(&realm))
            && only.is_none_or(|names| names.iter().any(|n| n == l.name));
    }
    on
}

/// Ticks `realm`'s schedules until `cancel`.
pub(super) async fn run(
    p: &'static PipelineDesc,
    code: Code,
    realm: &'static RealmDesc,
    (store, config_files): (Store, &[ConfigFile]),
    only: Option<Vec<String>>,
    cancel: CancellationToken,
) -> Result<()> {
    let on = schedules_on(p, realm.id, only.as_deref());
    let config_file = ConfigFile::for_realm(config_files, realm.id).map(|p| p.as_path());
    let Some(h) = hello(realm, config_file, &cancel).await? else {
        return Ok(());
    };
    let settings = store.listener_settings(p.name).await?;
    let executor = Arc::new(super::dead::live_executor(p, code, h, &store, &settings)?);
    let ticker = Ticker::new(p, executor, &on)?;
    tick(p, &ticker, &store, &cancel).await;
    Ok(())
}

/// The loop: each schedule's due tick, then a sleep until the next one.
async fn tick(
    p: &'static PipelineDesc,
    ticker: &Ticker,
    store: &Store,
    cancel: &CancellationToken,
) {
    let names: Vec<&str> = p.listeners.iter().map(|l| l.name).collect();
    let now = now_secs();
    // Where each schedule stands: at start, its last tick before now is missed unless
    // it is on time (and then runs with the others below).
    let mut last: Vec<i64> = (ticker.schedules().iter())
        .map(|(_, t)| t.last_at_or_before(now).map_or(now, |at| at - 1))
        .collect();
    for (k, (s, ticks)) in ticker.schedules().iter().enumerate() {
        if let Some(at) = ticks.last_at_or_before(now)
            && now - at > ON_TIME_SECS
        {
            if s.catch_up {
                run_one(p, ticker, store, (k, at, true), &names).await;
            } else {
                let name = p.listeners[s.listener].name;
                tracing::info!(schedule = name, missed = %ticks.local(at).time, "skipping a missed tick (catch_up = \"skip\")");
            }
            last[k] = at;
        }
    }
    loop {
        let now = now_secs();
        for (k, (_, ticks)) in ticker.schedules().iter().enumerate() {
            let Some(at) = ticks.last_at_or_before(now).filter(|at| *at > last[k]) else {
                continue;
            };
            // Woken late (a suspended machine, a clock set forward): a missed tick.
            let late = now - at > ON_TIME_SECS;
            if !late || ticker.schedules()[k].0.catch_up {
                run_one(p, ticker, store, (k, at, late), &names).await;
            }
            last[k] = at;
        }
        let wait = match ticker.next_after(now_secs()) {
            Some((at, _)) => {
                Duration::from_secs(u64::try_from(at - now_secs()).unwrap_or(0)).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
        }
    }
}

/// Runs tick `at` of schedule `k` (if no other process has) and writes what it counted.
async fn run_one(
    p: &'static PipelineDesc,
    ticker: &Ticker,
    store: &Store,
    (k, at, late): (usize, i64, bool),
    names: &[&str],
) {
    let mut stats = StatsBuf::new(p.listeners.len(), now_secs().div_euclid(3600));
    let mut log = Vec::new();
    let name = p.listeners[ticker.schedules()[k].0.listener].name;
    match ticker.run(k, at, late, &mut stats, &mut log).await {
        Ok(Ticked::Ran) => {
            if let Err(e) = store.flush(p.name, names, &stats.drain(), &log).await {
                tracing::warn!(schedule = name, error = %e, "cannot write a tick's statistics");
            }
        }
        Ok(Ticked::Elsewhere) => {
            tracing::debug!(schedule = name, at, "tick run by another process")
        }
        Err(e) => tracing::error!(schedule = name, error = %e, "tick failed"),
    }
}
