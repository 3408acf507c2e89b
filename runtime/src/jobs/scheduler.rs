//! When each job runs. Jobs of one listener and one conversation (a channel's topic, or
//! a direct-message group) run one after another, in the order their events came;
//! everything else runs at once, within each listener's concurrency. Nothing here waits
//! for a batch: the connection keeps polling while jobs run, and learns of each job's
//! end through [`Scheduler::next`], tagged with the ticket it was submitted under.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::executor::{Executor, Outcome};
use crate::jobs::dispatch::Job;
use crate::stats::{LogRow, StatsBuf};

/// A job that ended.
#[derive(Debug)]
pub struct Finished {
    /// The ticket it was submitted under (its batch).
    pub ticket: u64,
    /// The job.
    pub job: Job,
    pub(crate) result: Result<Outcome, String>,
    pub(crate) took: Duration,
}

impl Finished {
    /// Counts how this job ended in `stats`; a job that failed for good becomes a dead
    /// letter (logged, and an event-log row of `executor`'s when `log_failures`).
    pub fn account(
        self,
        executor: &Executor,
        stats: &mut StatsBuf,
        log: &mut Vec<LogRow>,
        log_failures: bool,
    ) {
        let Finished {
            job, result, took, ..
        } = self;
        let c = stats.listener(job.listener);
        c.time_us += took.as_micros() as u64;
        match result {
            Ok(outcome) => {
                if outcome.limited {
                    c.limited += 1;
                } else {
                    c.succeeded += 1;
                }
                for (name, n) in outcome.counters {
                    stats.named(job.listener, name, n);
                }
                for c in outcome.counts {
                    stats.count(c.key, c.channel.as_deref(), c.sender.as_deref());
                }
                log.extend(outcome.stored);
            }
            Err(error) => {
                c.failed += 1;
                let l = &executor.pipeline().listeners[job.listener];
                tracing::error!(listener = l.name, event = %crate::logging::EventRef::new(job.message_id, job.event_id), %error, "action failed for good (dead letter)");
                if log_failures {
                    log.push(executor.log_row(l, &job, "dead", Some(error)));
                }
            }
        }
    }

    /// Whether it failed for good (a dead letter).
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }
}

/// The jobs of one connection: running, and waiting for their conversation.
#[derive(Debug)]
pub struct Scheduler {
    executor: Arc<Executor>,
    tx: mpsc::UnboundedSender<Finished>,
    rx: mpsc::UnboundedReceiver<Finished>,
    /// Jobs behind a running job of their conversation, by (listener, conversation).
    waiting: HashMap<(usize, u64), VecDeque<(u64, Job)>>,
    /// (listener, conversation) pairs with a job running.
    busy: HashSet<(usize, u64)>,
    in_flight: usize,
    per_listener: Vec<usize>,
    tasks: JoinSet<()>,
}

impl Scheduler {
    /// A scheduler running jobs with `executor`.
    pub fn new(executor: Arc<Executor>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let listeners = executor.pipeline().listeners.len();
        Scheduler {
            executor,
            tx,
            rx,
            waiting: HashMap::new(),
            busy: HashSet::new(),
            in_flight: 0,
            per_listener: vec![0; listeners],
            tasks: JoinSet::new(),
        }
    }

    /// The executor.
    pub fn executor(&self) -> &Arc<Executor> {
        &self.executor
    }

    /// Takes `job` under `ticket`: it starts now, or after the running job of its
    /// conversation.
    pub fn submit(&mut self, ticket: u64, job: Job) {
        self.in_flight += 1;
        if let Some(n) = self.per_listener.get_mut(job.listener) {
            *n += 1;
        }
        match job.conversation {
            Some(c) if !self.busy.insert((job.listener, c)) => self
                .waiting
                .entry((job.listener, c))
                .or_default()
                .push_back((ticket, job)),
            _ => self.start(ticket, job),
        }
    }

    fn start(&mut self, ticket: u64, job: Job) {
        let (executor, tx) = (self.executor.clone(), self.tx.clone());
        self.tasks.spawn(async move {
            let started = Instant::now();
            let result = executor.run_job(&job).await;
            executor.job_ended(job.listener, result.is_ok());
            let _ = tx.send(Finished {
                ticket,
                job,
                result,
                took: started.elapsed(),
            });
        });
    }

    /// The next job to end; `None` when none is in flight.
    pub async fn next(&mut self) -> Option<Finished> {
        if self.in_flight == 0 {
            return None;
        }
        let f = self.rx.recv().await?;
        self.ended(&f);
        Some(f)
    }

    /// A job that has ended, if one has, without waiting.
    pub fn try_next(&mut self) -> Option<Finished> {
        let f = self.rx.try_recv().ok()?;
        self.ended(&f);
        Some(f)
    }

    fn ended(&mut self, f: &Finished) {
        self.in_flight -= 1;
        if let Some(n) = self.per_listener.get_mut(f.job.listener) {
            *n -= 1;
        }
        while self.tasks.try_join_next().is_some() {}
        if let Some(c) = f.job.conversation {
            let key = (f.job.listener, c);
            match self.waiting.get_mut(&key).and_then(VecDeque::pop_front) {
                Some((ticket, job)) => {
                    if self.waiting.get(&key).is_some_and(VecDeque::is_empty) {
                        self.waiting.remove(&key);
                    }
                    self.start(ticket, job);
                }
                None => {
                    self.busy.remove(&key);
                }
            }
        }
    }

    /// Jobs waiting or running.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether new events must wait: `max_total` jobs in flight, or a listener at its
    /// own bound (`max_in_flight`).
    pub fn is_full(&self, max_total: usize) -> bool {
        self.in_flight >= max_total
            || self
                .per_listener
                .iter()
                .zip(self.executor.pipeline().listeners)
                .any(|(n, l)| *n >= l.policy.max_in_flight.max(1) as usize)
    }

    /// How many more events may be dispatched before `max_total` or a listener's bound
    /// is reached (an event makes at most one job per listener).
    pub fn room(&self, max_total: usize) -> usize {
        let listeners = self.per_listener.len().max(1);
        let total = max_total.saturating_sub(self.in_flight) / listeners;
        self.per_listener
            .iter()
            .zip(self.executor.pipeline().listeners)
            .map(|(n, l)| (l.policy.max_in_flight.max(1) as usize).saturating_sub(*n))
            .fold(total, usize::min)
    }

    /// Stops every job (their events are not acknowledged, so they come again).
    pub fn abort(&mut self) {
        self.tasks.abort_all();
        self.waiting.clear();
        self.busy.clear();
    }
}
