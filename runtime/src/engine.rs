//! One connection's processing of a batch of events: the generated dispatch function
//! runs each event through the listeners' filters (cheap actions at once, I/O actions
//! queued as jobs), then the executor runs the batch's jobs. The run loop feeds it
//! batches from a source; the test harness ([`crate::harness`]) feeds it events
//! directly. Both see the same behaviour because they share this code.

use std::collections::HashSet;
use std::sync::Arc;

use crate::dispatch::{Cx, DispatchFn, Job};
use crate::error::EventError;
use crate::event::RawEvent;
use crate::exec::Executor;
use crate::pipeline::{EventLogMode, PipelineDesc};
use crate::stats::{LogRow, StatsBuf};

/// What a connection knows while it processes events.
#[derive(Debug)]
pub struct Engine {
    pipeline: &'static PipelineDesc,
    dispatch: DispatchFn,
    enabled: Vec<bool>,
    own_user_id: i64,
    bots: HashSet<i64>,
    executor: Arc<Executor>,
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
        Engine {
            pipeline,
            dispatch,
            enabled,
            own_user_id,
            bots,
            executor,
            jobs: Vec::new(),
        }
    }

    /// Dispatches `events` and runs their jobs. Counters land in `buf`, event-log rows
    /// in `log`. `now` is the Unix time of the batch (events without a time of their
    /// own count in its hour).
    pub async fn process<'e>(
        &mut self,
        events: impl Iterator<Item = Result<RawEvent<'e>, EventError>>,
        now: i64,
        buf: &mut StatsBuf,
        log: &mut Vec<LogRow>,
    ) {
        let p = self.pipeline;
        {
            let mut cx = Cx {
                pipeline: p,
                enabled: &self.enabled,
                own_user_id: self.own_user_id,
                bots: &self.bots,
                now,
                realm: self.executor.realm(),
                stats: &mut *buf,
                jobs: &mut self.jobs,
                log_rows: &mut *log,
                log_all: p.event_log == EventLogMode::All,
            };
            for ev in events {
                // Events without a time of their own count in the hour they are
                // processed; dispatch moves messages to the hour they were sent.
                cx.stats.set_hour(now.div_euclid(3600));
                match ev {
                    Ok(raw) => {
                        cx.stats.events += 1;
                        (self.dispatch)(&mut cx, &raw);
                    }
                    Err(e) => {
                        cx.stats.malformed += 1;
                        tracing::warn!(error = %e, "skipping an unreadable event");
                    }
                }
            }
        }
        if !self.jobs.is_empty() {
            self.executor
                .run(
                    std::mem::take(&mut self.jobs),
                    buf,
                    log,
                    p.event_log != EventLogMode::None,
                )
                .await;
        }
    }
}
