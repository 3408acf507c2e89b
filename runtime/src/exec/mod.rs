//! Running the I/O actions of matched events: bounded concurrency per listener, a
//! timeout per attempt, retries with exponential backoff and full jitter, and a circuit
//! breaker per listener. A job that fails for good is a dead letter in the event log.
//!
//! Side effects are de-duplicated: each (realm, message or event id, action) is recorded
//! once done, so an event delivered again after a crash does not reply twice. Only what
//! was really done is recorded: a replay, which only logs its Zulip actions, records
//! none of them. What a listener posts to Zulip is rate limited ([`crate::limit`]).
//!
//! A handler (a Rust function, [`crate::handler`]) is one action: its function is
//! retried like any action, and its posts, performed after it returns `Ok`, are each
//! de-duplicated, rate limited and retried like a built-in post. Performing an action
//! once is [`crate::actions`]'s job; the retry policy around each attempt is [`policy`]'s.

mod policy;
mod scheduler;

pub use scheduler::{Finished, Scheduler};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::actions::{Done, Effects, Failure};
use crate::backoff::Breaker;
use crate::config::Secret;
use crate::dispatch::Job;
use crate::handler::{Context, Post};
use crate::limit::{Limiter, Over, conversation_key, sender_of};
use crate::pipeline::{ActionDesc, ListenerDesc, PipelineDesc};
use crate::stats::{LogRow, StatsBuf};

/// How a job ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Outcome {
    /// A rate limit held back at least one post.
    limited: bool,
    /// Named counters the job's handlers bumped.
    counters: Vec<(String, u64)>,
}

/// Runs jobs for one realm connection.
#[derive(Debug)]
pub struct Executor {
    pipeline: &'static PipelineDesc,
    effects: Effects,
    semaphores: Vec<Arc<Semaphore>>,
    breakers: Vec<Mutex<Breaker>>,
    limiters: Vec<Mutex<Limiter>>,
    /// Bearer tokens, by listener and action.
    tokens: Vec<Vec<Option<Secret>>>,
    /// Each listener's `config`, with the store's overrides applied.
    config: Vec<Vec<(String, String)>>,
}

impl Executor {
    /// An executor performing its effects through `effects`. `overrides`: the store's
    /// config values, by listener name.
    pub fn new(
        pipeline: &'static PipelineDesc,
        effects: Effects,
        overrides: &std::collections::HashMap<String, Vec<(String, String)>>,
    ) -> crate::Result<Self> {
        let mut tokens = Vec::new();
        for l in pipeline.listeners {
            let mut per_action = Vec::new();
            for a in l.actions {
                let token = match a {
                    ActionDesc::Webhook {
                        token_env: Some(var),
                        ..
                    } => match std::env::var(var) {
                        Ok(v) if !v.is_empty() => Some(Secret::new(v)),
                        // Recorded calls go nowhere: a test needs no real token.
                        _ if matches!(effects.http, crate::outbox::HttpSink::Record(_)) => {
                            Some(Secret::new(format!("${var}")))
                        }
                        _ => {
                            return Err(crate::Error::Config(format!(
                                "listener `{}` needs the webhook token in ${var}, which is not set",
                                l.name
                            )));
                        }
                    },
                    _ => None,
                };
                per_action.push(token);
            }
            tokens.push(per_action);
        }
        let config = pipeline
            .listeners
            .iter()
            .map(|l| {
                let mut values: Vec<(String, String)> = l
                    .config
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                for (k, v) in overrides.get(l.name).into_iter().flatten() {
                    match values.iter_mut().find(|(key, _)| key == k) {
                        Some(slot) => slot.1 = v.clone(),
                        None => values.push((k.clone(), v.clone())),
                    }
                }
                values
            })
            .collect();
        Ok(Executor {
            pipeline,
            effects,
            semaphores: pipeline
                .listeners
                .iter()
                .map(|l| Arc::new(Semaphore::new(l.policy.concurrency.max(1) as usize)))
                .collect(),
            breakers: pipeline
                .listeners
                .iter()
                .map(|_| Mutex::new(Breaker::default()))
                .collect(),
            limiters: pipeline
                .listeners
                .iter()
                .map(|l| Mutex::new(Limiter::new(&l.policy)))
                .collect(),
            tokens,
            config,
        })
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &'static PipelineDesc {
        self.pipeline
    }

    /// The connection's realm.
    pub fn realm(&self) -> &crate::template::RealmInfo {
        &self.effects.realm
    }

    /// Counts how `f` ended in `stats`; a job that failed for good becomes a dead letter
    /// (logged, and an event-log row when `log_failures`).
    pub fn account(
        &self,
        f: Finished,
        stats: &mut StatsBuf,
        log: &mut Vec<LogRow>,
        log_failures: bool,
    ) {
        let Finished {
            job, result, took, ..
        } = f;
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
            }
            Err(error) => {
                c.failed += 1;
                let l = &self.pipeline.listeners[job.listener];
                tracing::error!(listener = l.name, event = %crate::logging::EventRef::of(&job), %error, "action failed for good (dead letter)");
                if log_failures {
                    let kind = crate::event::RawEvent::new(&job.json)
                        .map(|r| r.kind.to_owned())
                        .unwrap_or_default();
                    log.push(LogRow::new(
                        l.name,
                        self.effects.realm.id,
                        &kind,
                        (job.event_id, job.message_id),
                        &job.json,
                        "dead",
                        Some(error),
                    ));
                }
            }
        }
    }

    pub(crate) async fn run_job(&self, job: &Job) -> Result<Outcome, String> {
        let i = job.listener;
        let l = &self.pipeline.listeners[i];
        let _permit = self.semaphores[i]
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        let event: Value =
            serde_json::from_str(&job.json).map_err(|e| format!("event is not JSON: {e}"))?;
        let key = job.message_id.map_or_else(
            || format!("e{}", job.event_id.unwrap_or(-1)),
            |m| format!("m{m}"),
        );
        let mut outcome = Outcome::default();
        for (n, action) in l.actions.iter().enumerate().filter(|(_, a)| a.is_io()) {
            let effect = format!("{}:{key}:{n}", self.effects.realm.id);
            if let ActionDesc::Handler {
                call,
                allow_private,
                ..
            } = action
            {
                let (posts, counters) = self
                    .retrying(l, i, action.kind(), || async {
                        let cx = Context {
                            listener: l,
                            realm: &self.effects.realm,
                            json: &job.json,
                            event: &event,
                            config: &self.config[i],
                            effects: &self.effects,
                            allow_private: *allow_private,
                            posts: Mutex::new(Vec::new()),
                            counters: Mutex::new(Vec::new()),
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
                    let effect = format!("{effect}.{k}");
                    if self.already_done(l, &effect).await {
                        continue;
                    }
                    if !self.within_limits(i, &event) {
                        outcome.limited = true;
                        continue;
                    }
                    let done = self
                        .retrying(l, i, post_kind(post), || self.effects.post(l, post, &event))
                        .await?;
                    self.record(l, &effect, done).await;
                }
                continue;
            }
            if self.already_done(l, &effect).await {
                continue;
            }
            if action.posts_to_zulip() && !self.within_limits(i, &event) {
                outcome.limited = true;
                continue;
            }
            let token = self.tokens[i].get(n).and_then(Option::as_ref);
            let done = self
                .retrying(l, i, action.kind(), || {
                    self.effects.perform(l, action, &event, &job.json, token)
                })
                .await?;
            self.record(l, &effect, done).await;
        }
        Ok(outcome)
    }

    /// Whether `effect` was done already (by an earlier delivery of the event).
    async fn already_done(&self, l: &ListenerDesc, effect: &str) -> bool {
        let Some(store) = &self.effects.store else {
            return false;
        };
        let done = store
            .effect_done(self.pipeline.name, l.name, effect)
            .await
            .unwrap_or(false);
        if done {
            tracing::debug!(listener = l.name, effect, "already done; skipping");
        }
        done
    }

    /// Records `effect` as done, if it really was.
    async fn record(&self, l: &ListenerDesc, effect: &str, done: Done) {
        if done == Done::Really
            && let Some(store) = &self.effects.store
            && let Err(e) = store
                .record_effect(self.pipeline.name, l.name, effect)
                .await
        {
            tracing::warn!(error = %e, "could not record a side effect as done");
        }
    }

    /// Takes one post from listener `i`'s rate limits; logs the first refusal of an
    /// episode (not every one: a flood must not become a flood of log lines). A replay
    /// posts nothing (and plays a day in seconds): limits are for real posts.
    fn within_limits(&self, i: usize, event: &Value) -> bool {
        if !self.effects.posts_for_real() {
            return true;
        }
        let Ok(mut limiter) = self.limiters[i].lock() else {
            return true;
        };
        match limiter.take(conversation_key(event), sender_of(event), Instant::now()) {
            Ok(()) => true,
            Err(refusal) => {
                if refusal.first {
                    let l = &self.pipeline.listeners[i];
                    let (what, limit) = match refusal.over {
                        Over::Conversation => {
                            ("this conversation", l.policy.limit_per_conversation)
                        }
                        Over::Sender => ("this sender", l.policy.limit_per_sender),
                    };
                    tracing::warn!(
                        listener = l.name,
                        limit = %format_args!("{} per {}", limit.max, crate::retry::human(Duration::from_millis(limit.per_ms))),
                        "posting to Zulip about {what} faster than its limit allows; holding back until it calms down (counted as limited)"
                    );
                }
                false
            }
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
