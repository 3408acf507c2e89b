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
    /// How `job` ended (`result`), after `took`.
    pub(crate) fn new(job: Job, result: Result<Outcome, String>, took: Duration) -> Self {
        Finished {
            ticket: 0,
            job,
            result,
            took,
        }
    }

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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::jobs::actions::Effects;
    use crate::jobs::handler::{Context, HandlerFn, HandlerFuture};
    use crate::jobs::outbox::{HttpSink, Recorder, ZulipSink};
    use crate::pipeline::{ActionDesc, ListenerDesc, PipelineDesc, PolicyDesc, RateLimitDesc};
    use crate::template::RealmInfo;

    /// The events the handler finished, in the order it finished them: (test, event).
    static DONE: Mutex<Vec<(i64, i64)>> = Mutex::new(Vec::new());

    /// Takes `n` × 10 ms of (paused) time, then notes `n`.
    fn slow<'a>(cx: &'a Context<'a>) -> HandlerFuture<'a> {
        Box::pin(async move {
            let (test, n) = (cx.event()["test"].as_i64(), cx.event()["n"].as_i64());
            let (test, n) = (test.unwrap_or(0), n.unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(10 * n as u64)).await;
            DONE.lock().unwrap().push((test, n));
            Ok(())
        })
    }

    static ACTIONS: &[ActionDesc] = &[ActionDesc::Handler {
        function: "slow",
        allow_private: false,
    }];
    static LISTENERS: &[ListenerDesc] = &[ListenerDesc {
        actions: ACTIONS,
        policy: PolicyDesc {
            timeout_ms: 60_000,
            retries: 0,
            backoff_ms: 0,
            backoff_max_ms: 0,
            breaker_threshold: 0,
            breaker_cooldown_ms: 0,
            concurrency: 8,
            max_in_flight: 3,
            ordered: true,
            limit_per_conversation: RateLimitDesc { max: 0, per_ms: 0 },
            limit_per_sender: RateLimitDesc { max: 0, per_ms: 0 },
        },
        ..ListenerDesc::stand_in("ordered")
    }];
    static PIPELINE: PipelineDesc = PipelineDesc::stand_in("scheduler_test", LISTENERS);
    const SLOW: HandlerFn = slow;

    fn job(test: i64, n: i64, conversation: Option<u64>) -> Job {
        Job {
            listener: 0,
            json: format!(r#"{{"type":"custom","test":{test},"n":{n}}}"#),
            event_id: Some(n),
            message_id: None,
            key: format!("e{n}"),
            conversation,
        }
    }

    fn scheduler() -> Scheduler {
        let recorder = Recorder::new();
        let effects = Effects::new(
            PIPELINE.name,
            ZulipSink::Record(recorder.clone()),
            HttpSink::Record(recorder),
            None,
            RealmInfo {
                id: 1,
                name: "test".into(),
                site: String::new(),
                ..RealmInfo::default()
            },
            1,
        );
        let executor = Executor::new(&PIPELINE, &[&[SLOW]], effects, &Default::default());
        Scheduler::new(Arc::new(executor.unwrap()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_conversation_keeps_its_order_while_others_run_at_once_within_the_bounds() {
        let mut s = scheduler();
        assert!(s.next().await.is_none(), "nothing in flight");
        assert_eq!(s.room(100), 3, "the listener's own bound");
        // Conversation 7: a slow event, then a fast one; conversation 8: a fast one.
        s.submit(1, job(1, 5, Some(7)));
        s.submit(2, job(1, 1, Some(7)));
        s.submit(3, job(1, 2, Some(8)));
        assert_eq!(s.in_flight(), 3);
        assert!(s.is_full(100), "at the listener's max_in_flight");
        assert!(!scheduler().is_full(1) && s.is_full(3), "or at the total");
        assert_eq!(s.room(100), 0);
        let mut tickets = Vec::new();
        while let Some(f) = s.next().await {
            assert!(!f.failed(), "{:?}", f.result);
            tickets.push(f.ticket);
        }
        // 8's event ends first (20 ms); 7's fast event waited for its slow one (50 ms).
        assert_eq!(tickets, [3, 1, 2]);
        let done: Vec<i64> = DONE
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.0 == 1)
            .map(|d| d.1)
            .collect();
        assert_eq!(done, [2, 5, 1]);
        assert_eq!((s.in_flight(), s.room(100)), (0, 3));
        assert!(s.try_next().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_without_a_conversation_do_not_wait_for_each_other() {
        let mut s = scheduler();
        let started = tokio::time::Instant::now();
        s.submit(1, job(2, 3, None));
        s.submit(2, job(2, 3, None));
        assert!(s.next().await.is_some() && s.next().await.is_some());
        assert_eq!(started.elapsed(), Duration::from_millis(30), "side by side");
    }
}
