//! The executor: runs a job's I/O actions in order, each under its listener's policy,
//! claiming and settling its side effects.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::config::Secret;
use crate::jobs::actions::{Attempt, Done, Effects, Failure, Post};
use crate::jobs::dispatch::{DispatchFn, Follow, Job};
use crate::jobs::handler::{Context, HandlerFn, HandlerTable};
use crate::jobs::limit::Limiter;
use crate::metrics::Metrics;
use crate::pipeline::{ActionDesc, ListenerDesc, PipelineDesc};
use crate::stats::{CountKey, LogRow};
use crate::store::effects::Claim;

use super::policy::{JobPolicy, Next};
use super::setup::{ListenerConfigs, config_with, handler_thunks, webhook_tokens};

/// How a job ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Outcome {
    /// A rate limit held back at least one post.
    pub(super) limited: bool,
    /// Named counters the job's handlers bumped.
    pub(super) counters: Vec<(String, u64)>,
    /// What its `count` actions counted (those after an I/O action, which run here).
    pub(super) counts: Vec<Counted>,
    /// What its `store` actions recorded.
    pub(super) stored: Vec<LogRow>,
}

/// One `count` action done by a job: the grouped count's key and the names behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Counted {
    pub(super) key: CountKey,
    pub(super) channel: Option<String>,
    pub(super) sender: Option<String>,
}

impl Counted {
    /// Listener `i`'s count of `event`, grouped as asked, in the hour the event carries
    /// (a message's) or else this hour.
    fn of(i: usize, event: &Value, by_channel: bool, by_sender: bool) -> Self {
        let m = &event["message"];
        let hour = m["timestamp"]
            .as_i64()
            .filter(|t| *t > 0)
            .unwrap_or_else(crate::clock::now_secs)
            .div_euclid(3600);
        let channel = m["stream_id"]
            .as_i64()
            .filter(|_| by_channel)
            .map(|id| (id, m["display_recipient"].as_str().unwrap_or("").to_owned()));
        let sender = m["sender_id"]
            .as_i64()
            .filter(|_| by_sender)
            .map(|id| (id, m["sender_email"].as_str().unwrap_or("").to_owned()));
        Counted {
            key: CountKey {
                listener: i,
                hour,
                channel: channel.as_ref().map(|c| c.0),
                sender: sender.as_ref().map(|s| s.0),
            },
            channel: channel.map(|c| c.1),
            sender: sender.map(|s| s.1),
        }
    }
}

/// Runs jobs for one realm connection.
#[derive(Debug)]
pub struct Executor {
    pub(super) pipeline: &'static PipelineDesc,
    pub(super) effects: Effects,
    semaphores: Vec<Arc<Semaphore>>,
    /// Each listener's retry policy and circuit breaker.
    policies: Vec<Mutex<JobPolicy>>,
    pub(super) limiters: Vec<Mutex<Limiter>>,
    /// The shared limits' buckets refusing posts now, by listener: a refusal is logged
    /// once per episode (until the bucket takes a post again).
    pub(super) refusing: Mutex<std::collections::HashSet<(usize, String)>>,
    /// The message the latest edit changed, as read (by the edit job's key): every
    /// listener that follows the edit reads it once between them.
    pub(super) edited: Mutex<Option<(String, Value)>>,
    /// Bearer tokens, by listener and action.
    tokens: Vec<Vec<Option<Secret>>>,
    /// Handler thunks, by listener and action.
    handlers: Vec<Vec<Option<HandlerFn>>>,
    /// The metrics, when served.
    metrics: Option<Arc<Metrics>>,
    /// Each listener's `config`, with the store's overrides applied (replaced whole
    /// when they change while running).
    config: std::sync::RwLock<Arc<ListenerConfigs>>,
    /// What runs an edited message again: the dispatch and the organization's bots.
    pub(super) redispatch: std::sync::OnceLock<(DispatchFn, Arc<HashSet<i64>>)>,
}

/// One I/O action of a job: its listener (and index), its place among the listener's
/// actions, the job and its event, and the side effect's name.
pub(super) struct Step<'a> {
    pub(super) l: &'a ListenerDesc,
    pub(super) i: usize,
    pub(super) n: usize,
    pub(super) job: &'a Job,
    pub(super) event: &'a Value,
    pub(super) effect: String,
    /// The edit this run follows ([`crate::jobs::dispatch::Follow::Edit`]).
    pub(super) edit: Option<&'a str>,
}

impl Step<'_> {
    /// The name `effect` (this step's, or one of its handler's posts) is claimed under:
    /// its own, or on an edit its own with the edit's (a reaction is added once).
    fn claimed_as(&self, effect: &str, once: bool) -> String {
        match self.edit {
            Some(edit) if !once => format!("{effect}@{edit}"),
            _ => effect.to_owned(),
        }
    }
}

impl Executor {
    /// An executor performing its effects through `effects`, calling `handlers` for the
    /// `handler` actions. `overrides`: the store's config values, by listener name.
    pub fn new(
        pipeline: &'static PipelineDesc,
        handlers: HandlerTable,
        effects: Effects,
        overrides: &std::collections::HashMap<String, Vec<(String, String)>>,
    ) -> crate::error::Result<Self> {
        let recorded = matches!(effects.http, crate::jobs::outbox::HttpSink::Record(_));
        let tokens = webhook_tokens(pipeline, recorded)?;
        let handlers = handler_thunks(pipeline, handlers)?;
        Ok(Executor {
            pipeline,
            effects,
            semaphores: pipeline
                .listeners
                .iter()
                .map(|l| Arc::new(Semaphore::new(l.policy.concurrency.max(1) as usize)))
                .collect(),
            policies: pipeline
                .listeners
                .iter()
                .map(|l| Mutex::new(JobPolicy::new(&l.policy)))
                .collect(),
            limiters: pipeline
                .listeners
                .iter()
                .map(|l| Mutex::new(Limiter::new(&l.policy)))
                .collect(),
            refusing: Mutex::default(),
            edited: Mutex::default(),
            tokens,
            handlers,
            metrics: None,
            config: std::sync::RwLock::new(Arc::new(config_with(pipeline, overrides))),
            redispatch: std::sync::OnceLock::new(),
        })
    }

    /// The same executor, telling `metrics` (when served) of retries and breakers.
    pub fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Replaces the store's config overrides (a change made while running).
    pub fn set_config(&self, overrides: &std::collections::HashMap<String, Vec<(String, String)>>) {
        let config = Arc::new(config_with(self.pipeline, overrides));
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &'static PipelineDesc {
        self.pipeline
    }

    /// The connection's realm.
    pub fn realm(&self) -> &crate::template::RealmInfo {
        &self.effects.realm
    }

    /// Records how a job of listener `i` ended, for its circuit breaker.
    pub(crate) fn job_ended(&self, i: usize, ok: bool) {
        let Ok(mut policy) = self.policies[i].lock() else {
            return;
        };
        let state = policy.job_ended(ok, Instant::now());
        if let Some(m) = &self.metrics {
            m.breaker(i, state.open, state.opened);
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
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut attempts = self.policies[i]
            .lock()
            .map(|p| p.attempts())
            .map_err(|e| e.to_string())?;
        loop {
            let allowed = self.policies[i]
                .lock()
                .map(|mut p| p.allow(Instant::now()))
                .unwrap_or(true);
            if !allowed {
                return Err(attempts.refused(what));
            }
            let failure = match tokio::time::timeout(l.policy.timeout(), attempt()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(f)) => f,
                Err(_) => Failure::retryable(format!("timed out after {} ms", l.policy.timeout_ms)),
            };
            match attempts.failed(what, &failure, fastrand::f64()) {
                Next::GiveUp(message) => return Err(message),
                Next::Retry(wait) => {
                    tracing::warn!(listener = l.name, action = what, error = %failure.message, wait = %crate::retry::human(wait), "retrying");
                    if let Some(m) = &self.metrics {
                        m.retried(l.name);
                    }
                    // Recorded calls (tests) live on simulated time: no wait.
                    if !self.effects.records_http() {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }

    /// An event-log row of listener `l` about `job`'s event.
    pub(super) fn log_row(
        &self,
        l: &ListenerDesc,
        job: &Job,
        status: &str,
        error: Option<String>,
    ) -> LogRow {
        let kind = crate::event::RawEvent::new(&job.json)
            .map(|r| r.kind.to_owned())
            .unwrap_or_default();
        LogRow::new(
            l.name,
            self.effects.realm.id,
            &kind,
            (job.event_id, job.message_id),
            &job.json,
            status,
            error,
        )
        .with_key(job.key.clone())
    }

    pub(crate) async fn run_job(&self, job: &Job) -> Result<Outcome, String> {
        let _permit = self.semaphores[job.listener]
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        match job.follow() {
            Follow::Event => {}
            Follow::Edit(edit) => return self.run_edit(job, edit).await,
            Follow::Delete => return self.run_delete(job).await,
        }
        let event: Value =
            serde_json::from_str(&job.json).map_err(|e| format!("event is not JSON: {e}"))?;
        self.run_actions(job, &event, None).await
    }

    /// Runs `job`'s I/O actions (and the cheap ones after them) on `event`; `edit`:
    /// the edit of its message this run follows.
    pub(super) async fn run_actions(
        &self,
        job: &Job,
        event: &Value,
        edit: Option<&str>,
    ) -> Result<Outcome, String> {
        let i = job.listener;
        let l = &self.pipeline.listeners[i];
        let mut outcome = Outcome::default();
        // Dispatch ran the cheap actions before the first I/O action; the rest run here,
        // in order, each only after the ones before it succeeded. On an edit, what the
        // first run counted and stored is not counted or stored again.
        let first = l.first_io().unwrap_or(l.actions.len());
        for (n, action) in l.actions.iter().enumerate().skip(first) {
            if edit.is_some() && matches!(action, ActionDesc::Count { .. } | ActionDesc::Store) {
                continue;
            }
            if self.run_inline(l, job, event, action, &mut outcome) {
                continue;
            }
            let step = Step {
                l,
                i,
                n,
                job,
                event,
                effect: format!("{}:{}:{n}", self.effects.realm.id, job.key),
                edit,
            };
            if let ActionDesc::Handler { allow_private, .. } = action
                && let Some(call) = self.handlers[i][n]
            {
                self.run_handler(&step, call, *allow_private, &mut outcome)
                    .await?;
            } else {
                self.run_action(&step, action, &mut outcome).await?;
            }
        }
        Ok(outcome)
    }

    /// Does an action that needs no I/O (a count, a log line, a stored row) and returns
    /// `true`; `false` for the others.
    fn run_inline(
        &self,
        l: &ListenerDesc,
        job: &Job,
        event: &Value,
        action: &ActionDesc,
        outcome: &mut Outcome,
    ) -> bool {
        match action {
            ActionDesc::Count {
                by_channel,
                by_sender,
            } => outcome
                .counts
                .push(Counted::of(job.listener, event, *by_channel, *by_sender)),
            ActionDesc::Log { template } => {
                if let Ok(raw) = crate::event::RawEvent::new(&job.json) {
                    crate::jobs::dispatch::log_line(l, &self.effects.realm, &raw, *template);
                }
            }
            ActionDesc::Store => outcome.stored.push(self.log_row(l, job, "stored", None)),
            _ => return false,
        }
        true
    }

    /// Runs a handler (retried as one action), then performs the posts it asked for,
    /// each claimed, rate limited and retried like a built-in post.
    async fn run_handler(
        &self,
        step: &Step<'_>,
        call: HandlerFn,
        allow_private: bool,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        let Step {
            l, i, job, event, ..
        } = *step;
        // Its calls out are made again on an edit (with keys of their own).
        let effect = &step.claimed_as(&step.effect, false);
        let config = self
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (posts, counters) = self
            .retrying(l, i, "handler", || async {
                let cx = Context {
                    listener: l,
                    realm: &self.effects.realm,
                    json: &job.json,
                    event,
                    config: &config[i],
                    effects: &self.effects,
                    allow_private,
                    posts: Mutex::new(Vec::new()),
                    counters: Mutex::new(Vec::new()),
                    effect,
                    calls: Default::default(),
                };
                call(&cx).await.map_err(|e| Failure {
                    message: e.message,
                    retryable: e.retryable,
                    retry_after: None,
                })?;
                let posts = cx.posts.into_inner().unwrap_or_else(|e| e.into_inner());
                let counters = cx.counters.into_inner().unwrap_or_else(|e| e.into_inner());
                Ok((posts, counters))
            })
            .await?;
        outcome.counters.extend(counters);
        for (k, post) in posts.iter().enumerate() {
            let base = format!("{}.{k}", step.effect);
            let effect = step.claimed_as(&base, matches!(post, Post::React(_)));
            let real = self.effects.posts_for_real();
            if !self.claim(l, &effect, real).await? {
                continue;
            }
            if !self.within_limits(i, event).await {
                self.release(l, &effect, real).await;
                outcome.limited = true;
                continue;
            }
            let slot = self
                .slot(step, &base, !matches!(post, Post::React(_)))
                .await;
            let done = self
                .retrying(l, i, post_kind(post), || {
                    self.effects.post(l, post, event, &slot)
                })
                .await;
            self.settle(l, &effect, real, &done).await;
            done?;
            self.remember(step, &base, &slot).await;
        }
        Ok(())
    }

    /// Performs a built-in I/O action once it is claimed and within the rate limits.
    async fn run_action(
        &self,
        step: &Step<'_>,
        action: &ActionDesc,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        let Step {
            l,
            i,
            n,
            job,
            event,
            ..
        } = *step;
        let react = matches!(action, ActionDesc::React { .. });
        let effect = &step.claimed_as(&step.effect, react);
        // A post to Zulip in a replay is only logged: nothing to claim.
        let real = self.effects.posts_for_real() || !action.posts_only_to_zulip();
        if !self.claim(l, effect, real).await? {
            return Ok(());
        }
        if action.posts_to_zulip() && !self.within_limits(i, event).await {
            self.release(l, effect, real).await;
            outcome.limited = true;
            return Ok(());
        }
        let token = self.tokens[i].get(n).and_then(Option::as_ref);
        let slot = self.slot(step, &step.effect, !react).await;
        let done = self
            .retrying(l, i, action.kind(), || {
                let attempt = Attempt {
                    token,
                    effect,
                    slot: &slot,
                };
                self.effects.perform(l, action, event, &job.json, attempt)
            })
            .await;
        self.settle(l, effect, real, &done).await;
        done?;
        self.remember(step, &step.effect, &slot).await;
        Ok(())
    }

    /// Claims `effect` for this process before it is performed: `Ok(true)` when it is
    /// ours to do, `Ok(false)` when it was done. While another job or process holds it,
    /// this waits (it finishes, gives it back, or dies and it is taken over).
    /// `real`: whether it will be performed for real (a replay's Zulip posts are only
    /// logged, so they are not claimed, only skipped when done). While the store cannot
    /// be reached, this waits for it (the job's retries are not spent on the store).
    async fn claim(&self, l: &ListenerDesc, effect: &str, real: bool) -> Result<bool, String> {
        let Some(store) = &self.effects.store else {
            return Ok(true);
        };
        let mut backoff = crate::backoff::Backoff::default();
        let mut warned = false;
        loop {
            let result = if real {
                store
                    .claim_effect(self.pipeline.name, l.name, effect, &self.effects.owner)
                    .await
            } else {
                store
                    .is_effect_done(self.pipeline.name, l.name, effect)
                    .await
                    .map(|done| if done { Claim::Done } else { Claim::Ours })
            };
            match result {
                Ok(Claim::Ours) => return Ok(true),
                Ok(Claim::Done) => {
                    tracing::debug!(listener = l.name, effect, "already done; skipping");
                    return Ok(false);
                }
                Ok(Claim::Busy) => {
                    // Another job or process is on it: wait until it is done, given
                    // back, or its owner is gone.
                    tracing::debug!(listener = l.name, effect, "being done elsewhere; waiting");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(listener = l.name, error = %e, "cannot claim a side effect in the store; waiting for it");
                        warned = true;
                    }
                    tokio::time::sleep(
                        backoff.next_delay().min(std::time::Duration::from_secs(10)),
                    )
                    .await;
                }
            }
        }
    }

    /// After an attempt: a side effect really done is marked done; anything else gives
    /// the claim back, so that a later delivery may try.
    async fn settle<T>(&self, l: &ListenerDesc, effect: &str, real: bool, done: &Result<Done, T>) {
        if !real {
            return;
        }
        match done {
            Ok(Done::Really) => {
                if let Some(store) = &self.effects.store
                    && let Err(e) = store
                        .effect_done(self.pipeline.name, l.name, effect, &self.effects.owner)
                        .await
                {
                    tracing::warn!(error = %e, "could not mark a side effect done (a later delivery may repeat it)");
                }
            }
            _ => self.release(l, effect, real).await,
        }
    }

    /// Gives back the claim on `effect`.
    async fn release(&self, l: &ListenerDesc, effect: &str, real: bool) {
        if real
            && let Some(store) = &self.effects.store
            && let Err(e) = store
                .release_effect(self.pipeline.name, l.name, effect, &self.effects.owner)
                .await
        {
            tracing::debug!(error = %e, "could not release a side-effect claim (it is taken over once this process is gone)");
        }
    }
}

fn post_kind(post: &Post) -> &'static str {
    match post {
        Post::Reply(_) => "reply",
        Post::Send(..) => "send",
        Post::React(_) => "react",
        Post::Forward { .. } => "forward",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::handler::HandlerFuture;

    fn thunk<'a>(_: &'a Context<'a>) -> HandlerFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    static TWO_HANDLERS: &[ActionDesc] = &[
        ActionDesc::Handler {
            function: "a",
            allow_private: false,
        },
        ActionDesc::Store,
        ActionDesc::Handler {
            function: "b",
            allow_private: false,
        },
    ];
    static LISTENERS: &[ListenerDesc] = &[
        ListenerDesc::stand_in("none"),
        ListenerDesc {
            actions: TWO_HANDLERS,
            ..ListenerDesc::stand_in("two")
        },
    ];
    static PIPELINE: PipelineDesc = PipelineDesc::stand_in("p", LISTENERS);

    const T: HandlerFn = thunk;

    #[test]
    fn handler_thunks_are_laid_out_by_listener_and_action() {
        let laid = handler_thunks(&PIPELINE, &[&[], &[T, T]]).unwrap();
        let shape: Vec<Vec<bool>> = laid
            .iter()
            .map(|l| l.iter().map(Option::is_some).collect())
            .collect();
        assert_eq!(shape, [vec![], vec![true, false, true]]);
    }

    #[test]
    fn a_handler_table_that_does_not_match_the_description_is_refused() {
        let tables: [(HandlerTable, &str); 3] = [
            (&[&[]], "2 listeners, 1 entries"),
            (&[&[], &[T]], "no thunk for `b` of `two`"),
            (&[&[T], &[T, T]], "more thunks than handlers for `none`"),
        ];
        for (table, says) in tables {
            let e = handler_thunks(&PIPELINE, table).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
