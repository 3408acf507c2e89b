//! Schedules' ticks as jobs: a tick is an event of its own (`{"type": "schedule", ...}`)
//! that runs the actions of the schedule's listener, claimed in the store first so that
//! it runs **once per tick** however many processes of a fleet tick together, and with
//! a digest of the counts since the previous tick when the schedule reads one.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::jobs::dispatch::Cx;
use crate::jobs::scheduler::Finished;
use crate::jobs::{Executor, dispatch::Job};
use crate::pipeline::{PipelineDesc, ScheduleDesc};
use crate::schedule::Ticks;
use crate::stats::{LogRow, StatsBuf};
use crate::store::effects::Claim;

/// How many channels a digest lists.
const DIGEST_CHANNELS: usize = 5;

/// A pipeline's schedules, ticking through one executor.
#[derive(Debug)]
pub struct Ticker {
    executor: Arc<Executor>,
    schedules: Vec<(ScheduleDesc, Ticks)>,
}

/// What became of a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ticked {
    /// This process ran it.
    Ran,
    /// Another process ran it, or runs it now.
    Elsewhere,
}

impl Ticker {
    /// The ticks of `p`'s schedules whose listeners `enabled` marks, run by `executor`.
    pub fn new(
        p: &'static PipelineDesc,
        executor: Arc<Executor>,
        enabled: &[bool],
    ) -> Result<Self> {
        let mut schedules = Vec::new();
        for s in p
            .schedules
            .iter()
            .filter(|s| enabled.get(s.listener) == Some(&true))
        {
            let name = p.listeners[s.listener].name;
            let when = s
                .when()
                .map_err(|e| Error::Config(format!("schedule `{name}`: {e}")))?;
            schedules.push((*s, Ticks::new(when, s.timezone)?));
        }
        Ok(Ticker {
            executor,
            schedules,
        })
    }

    /// Whether it has any schedule to tick.
    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty()
    }

    /// The schedules, by their index here: their descriptions and ticks.
    pub fn schedules(&self) -> &[(ScheduleDesc, Ticks)] {
        &self.schedules
    }

    /// The earliest tick of any schedule after `t`: (when, schedule).
    pub fn next_after(&self, t: i64) -> Option<(i64, usize)> {
        (self.schedules.iter().enumerate())
            .filter_map(|(k, (_, ticks))| Some((ticks.next_after(t)?, k)))
            .min()
    }

    /// Runs tick `at` of schedule `k` unless another process has (or is running) it;
    /// counts in `stats` and `log`. `late`: it runs after its time (after downtime).
    pub async fn run(
        &self,
        k: usize,
        at: i64,
        late: bool,
        stats: &mut StatsBuf,
        log: &mut Vec<LogRow>,
    ) -> Result<Ticked> {
        let (s, ticks) = &self.schedules[k];
        let p = self.executor.pipeline();
        let l = &p.listeners[s.listener];
        let effect = format!("tick:{at:011}");
        let owner = self.executor.effects.owner.clone();
        let store = self.executor.effects.store()?;
        if store.claim_effect(p.name, l.name, &effect, &owner).await? != Claim::Ours {
            return Ok(Ticked::Elsewhere);
        }
        let event = self.event(s, ticks, at, late).await?;
        let json = event.to_string();
        let started = Instant::now();
        if let Some(job) = self.inline(s.listener, &json, stats, log) {
            let result = self.executor.run_actions(&job, &event, None).await;
            let finished = Finished::new(job, result, started.elapsed());
            let log_failures = p.event_log != crate::pipeline::EventLogMode::None;
            finished.account(&self.executor, stats, log, log_failures);
        }
        // Done, even when it failed: a failed tick is a dead letter (replayable with
        // `NAME dead-letters replay`), not a tick to try again and again.
        store.effect_done(p.name, l.name, &effect, &owner).await?;
        tracing::info!(schedule = l.name, tick = %ticks.local(at).time, late, "ticked");
        Ok(Ticked::Ran)
    }

    /// The tick as an event: its schedule, its time on the schedule's clock, and the
    /// digest of the counts since the previous tick when the schedule reads one.
    async fn event(&self, s: &ScheduleDesc, ticks: &Ticks, at: i64, late: bool) -> Result<Value> {
        let p = self.executor.pipeline();
        let local = ticks.local(at);
        // Its id is its time: the key its side effects are claimed by (`e<at>`).
        let mut event = json!({
            "type": "schedule",
            "id": at,
            "schedule": p.listeners[s.listener].name,
            "tick": {"at": at, "time": local.time, "date": local.date, "weekday": local.weekday, "late": late},
        });
        if let Some(of) = s.digest_of {
            let since = ticks.last_at_or_before(at - 1).unwrap_or(at - 86_400);
            let store = self.executor.effects.store()?;
            let (channels, total) = store.channel_counts_between(p.name, of, since, at).await?;
            let list: Vec<String> = channels
                .iter()
                .take(DIGEST_CHANNELS)
                .map(|(c, n)| format!("* #**{c}**: {n}"))
                .collect();
            let list = if list.is_empty() {
                "(none)".to_owned()
            } else {
                list.join("\n")
            };
            event["digest"] =
                json!({"channels": list, "messages": total, "since": ticks.local(since).time});
        }
        Ok(event)
    }

    /// Runs listener `i`'s cheap actions before its first I/O action on the tick `json`
    /// (as dispatch does for events) and returns the job for the rest, if any.
    fn inline(
        &self,
        i: usize,
        json: &str,
        stats: &mut StatsBuf,
        log: &mut Vec<LogRow>,
    ) -> Option<Job> {
        let raw = crate::event::RawEvent::new(json).ok()?;
        let p = self.executor.pipeline();
        let mut enabled = vec![false; p.listeners.len()];
        enabled[i] = true;
        let (mut jobs, bots) = (Vec::new(), std::collections::HashSet::new());
        let mut cx = Cx {
            pipeline: p,
            enabled: &enabled,
            own_user_id: self.executor.effects.own_user_id,
            bots: &bots,
            now: crate::clock::now_secs(),
            realm: &self.executor.effects.realm,
            stats,
            jobs: &mut jobs,
            log_rows: log,
            log_all: p.event_log == crate::pipeline::EventLogMode::All,
            queue: None,
            edit: false,
        };
        cx.seen(i);
        cx.matched(i, &raw, None);
        jobs.pop()
    }
}
