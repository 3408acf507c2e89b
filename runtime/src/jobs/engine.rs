//! One connection's processing of events: the generated dispatch function runs each
//! event through the listeners' filters (cheap actions at once, I/O actions as jobs for
//! the [`Scheduler`]). The run loop dispatches batch after batch and learns of jobs'
//! ends as they come ([`Engine::next_finished`]); the test harness
//! ([`crate::harness`]) dispatches and waits for every job ([`Engine::process`]). Both
//! see the same behaviour because they share this code.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::EventError;
use crate::event::RawEvent;
use crate::jobs::dispatch::{Cx, DispatchFn, Job};
use crate::jobs::handler::HandlerTable;
use crate::jobs::{Executor, Finished, Scheduler};
use crate::pipeline::{EventLogMode, PipelineDesc};
use crate::stats::{LogRow, StatsBuf};

/// A pipeline's generated code: its dispatch function and its handler thunks (the
/// description beside it only names what runs).
#[derive(Debug, Clone, Copy)]
pub struct Code {
    /// The static dispatch: each listener's filters inline.
    pub dispatch: DispatchFn,
    /// The `handler` actions' thunks.
    pub handlers: HandlerTable,
}

/// A pipeline put together by `pipeline!`: its description, dispatch function and
/// handler thunks.
#[derive(Debug, Clone, Copy)]
pub struct Pipeline {
    /// What it is.
    pub desc: &'static PipelineDesc,
    /// Its static dispatch.
    pub dispatch: DispatchFn,
    /// Its handlers' thunks, by listener.
    pub handlers: HandlerTable,
}

impl Pipeline {
    /// Its generated code, as the runtime runs it.
    pub fn code(&self) -> Code {
        Code {
            dispatch: self.dispatch,
            handlers: self.handlers,
        }
    }
}

/// What a connection knows while it processes events.
#[derive(Debug)]
pub struct Engine {
    pipeline: &'static PipelineDesc,
    dispatch: DispatchFn,
    enabled: Vec<bool>,
    own_user_id: i64,
    bots: Arc<HashSet<i64>>,
    /// Some listener's answers follow their message (edits, deletions).
    follows: bool,
    /// Some listener takes part in conversations (which follow their topics).
    converses: bool,
    scheduler: Scheduler,
    jobs: Vec<Job>,
}

impl Engine {
    /// An engine for one connection: `enabled` says which listeners run on it,
    /// `own_user_id` is the bot (whose messages listeners skip unless told otherwise)
    /// and `bots` the organization's bots.
    pub fn new(
        pipeline: &'static PipelineDesc,
        dispatch: DispatchFn,
        enabled: Vec<bool>,
        own_user_id: i64,
        bots: HashSet<i64>,
        executor: Arc<Executor>,
    ) -> Self {
        let bots = Arc::new(bots);
        // An edited message is run again through the same dispatch.
        executor.run_edits_with(dispatch, bots.clone());
        Engine {
            pipeline,
            dispatch,
            enabled,
            own_user_id,
            follows: pipeline.listeners.iter().any(|l| l.follows_its_message()),
            converses: (pipeline.listeners.iter()).any(|l| l.conversation.takes_part()),
            bots,
            scheduler: Scheduler::new(executor),
            jobs: Vec::new(),
        }
    }

    /// Dispatches `events` (of event queue `queue`, if they came from one): counters
    /// land in `buf`, event-log rows in `log`, and I/O jobs go to the scheduler under
    /// `ticket`. Returns how many jobs were submitted. `now` is the Unix time of the
    /// batch (events without a time of their own count in its hour).
    pub fn dispatch<'e>(
        &mut self,
        events: impl Iterator<Item = Result<RawEvent<'e>, EventError>>,
        queue: Option<&str>,
        ticket: u64,
        now: i64,
        buf: &mut StatsBuf,
        log: &mut Vec<LogRow>,
    ) -> usize {
        let p = self.pipeline;
        {
            let mut cx = Cx {
                pipeline: p,
                enabled: &self.enabled,
                own_user_id: self.own_user_id,
                bots: &self.bots,
                now,
                realm: self.scheduler.executor().realm(),
                stats: &mut *buf,
                jobs: &mut self.jobs,
                log_rows: &mut *log,
                log_all: p.event_log == EventLogMode::All,
                queue,
                edit: false,
            };
            for ev in events {
                // Events without a time of their own count in the hour they are
                // processed; dispatch moves messages to the hour they were sent.
                cx.stats.set_hour(now.div_euclid(3600));
                match ev {
                    Ok(raw) => {
                        cx.stats.events += 1;
                        if p.commands.by_role && raw.kind == "realm_user" {
                            cx.realm.roles.follow(raw.json);
                        }
                        if p.commands.by_group && raw.kind == "user_group" {
                            cx.realm.groups.follow(raw.json);
                        }
                        if self.follows && matches!(raw.kind, "update_message" | "delete_message") {
                            cx.follow(&raw);
                        }
                        if self.converses && raw.kind == "update_message" {
                            follow_topic(cx.realm, raw.json);
                        }
                        (self.dispatch)(&mut cx, &raw);
                        if self.converses {
                            cx.realm.conversations.settle();
                        }
                    }
                    Err(e) => {
                        cx.stats.malformed += 1;
                        tracing::warn!(error = %e, "skipping an unreadable event");
                    }
                }
            }
        }
        let n = self.jobs.len();
        for job in self.jobs.drain(..) {
            self.scheduler.submit(ticket, job);
        }
        n
    }

    /// Whether listener `name` runs on this connection.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.pipeline
            .listeners
            .iter()
            .position(|l| l.name == name)
            .and_then(|i| self.enabled.get(i).copied())
            .unwrap_or(false)
    }

    /// Which listeners run from now on (a live enable or disable).
    pub fn set_enabled(&mut self, enabled: Vec<bool>) {
        self.enabled = enabled;
    }

    /// Replaces the listeners' config overrides (a live change).
    pub fn set_config(&self, overrides: &HashMap<String, Vec<(String, String)>>) {
        self.scheduler.executor().set_config(overrides);
    }

    /// The next job to end (`None` when none is in flight).
    pub async fn next_finished(&mut self) -> Option<Finished> {
        self.scheduler.next().await
    }

    /// A job that has ended, without waiting.
    pub fn try_finished(&mut self) -> Option<Finished> {
        self.scheduler.try_next()
    }

    /// Counts how `f` ended in `buf` (and its dead letter in `log`).
    pub fn account(&self, f: Finished, buf: &mut StatsBuf, log: &mut Vec<LogRow>) {
        let log_failures = self.pipeline.event_log != EventLogMode::None;
        f.account(self.scheduler.executor(), buf, log, log_failures);
    }

    /// Whether new events must wait for jobs to end (`max_total` in flight, or a
    /// listener at its bound).
    pub fn is_full(&self, max_total: usize) -> bool {
        self.scheduler.is_full(max_total)
    }

    /// How many more events may be dispatched before a bound is reached.
    pub fn room(&self, max_total: usize) -> usize {
        self.scheduler.room(max_total)
    }

    /// Jobs waiting or running.
    pub fn in_flight(&self) -> usize {
        self.scheduler.in_flight()
    }

    /// Stops every job in flight.
    pub fn abort(&mut self) {
        self.scheduler.abort();
    }

    /// Dispatches `events` and waits for all their jobs, counting everything in `buf`
    /// and `log`.
    pub async fn process<'e>(
        &mut self,
        events: impl Iterator<Item = Result<RawEvent<'e>, EventError>>,
        now: i64,
        buf: &mut StatsBuf,
        log: &mut Vec<LogRow>,
    ) {
        self.dispatch(events, None, 0, now, buf, log);
        while let Some(f) = self.next_finished().await {
            self.account(f, buf, log);
        }
    }
}

/// A topic renamed or moved (an `update_message` event, `json`) takes its conversation
/// along.
fn follow_topic(realm: &crate::template::RealmInfo, json: &str) {
    if let Ok(e) = serde_json::from_str::<serde_json::Value>(json)
        && let Some((from, to)) = crate::conversation::move_of(&e)
    {
        realm.conversations.moved(&from, &to);
    }
}
