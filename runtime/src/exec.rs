//! Running the I/O actions of matched events: bounded concurrency per listener, a
//! timeout per attempt, retries with exponential backoff and full jitter, and a circuit
//! breaker per listener. A job that fails for good is a dead letter in the event log.
//!
//! Side effects are de-duplicated: each (realm, message or event id, action) is recorded
//! once done, so an event delivered again after a crash does not reply twice. Only what
//! was really done is recorded: a replay, which only logs its Zulip actions, records
//! none of them. What a listener posts to Zulip is rate limited ([`crate::limit`]) and
//! made safe ([`crate::markup`]); webhooks reach only public addresses unless the
//! action opts in ([`crate::net`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::backoff::Backoff;
use crate::client::{Client, Destination};
use crate::config::Secret;
use crate::dispatch::Job;
use crate::limit::{Limiter, Over, conversation_key, sender_of};
use crate::markup;
use crate::pipeline::{ActionDesc, ListenerDesc, PipelineDesc, ReplyDesc};
use crate::stats::{LogRow, StatsBuf};
use crate::store::Store;
use crate::template::{RealmInfo, render};

/// The largest webhook response read.
const MAX_WEBHOOK_RESPONSE: usize = 1 << 20;

/// Circuit breaker of one listener.
#[derive(Debug, Default)]
pub struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    /// Whether a call may go ahead now (after the cool-down, one trial call may).
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.open_until {
            Some(until) if now < until => false,
            Some(_) => {
                self.open_until = None;
                true
            }
            None => true,
        }
    }

    /// Records a success: closes the breaker.
    pub fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// Records a failure; opens the breaker after `threshold` in a row.
    pub fn failure(&mut self, now: Instant, threshold: u32, cooldown: Duration) {
        self.failures += 1;
        if threshold > 0 && self.failures >= threshold {
            self.open_until = Some(now + cooldown);
            self.failures = 0;
        }
    }

    /// Whether it is open.
    pub fn is_open(&self, now: Instant) -> bool {
        self.open_until.is_some_and(|u| now < u)
    }
}

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
struct Failure {
    message: String,
    retryable: bool,
}

/// Whether an action really happened or was only logged (Zulip actions in a replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Really,
    DryRun,
}

/// How a job ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Every action ran.
    Done,
    /// A rate limit held back at least one action.
    Limited,
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Self {
        Failure {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

/// Runs jobs for one realm connection.
#[derive(Debug)]
pub struct Executor {
    pipeline: &'static PipelineDesc,
    client: Option<Client>,
    /// Webhooks to public addresses only (the default).
    http_public: reqwest::Client,
    /// Webhooks of actions with `allow_private = true`.
    http_private: reqwest::Client,
    store: Option<Store>,
    semaphores: Vec<Arc<Semaphore>>,
    breakers: Vec<Mutex<Breaker>>,
    limiters: Vec<Mutex<Limiter>>,
    tokens: Vec<Option<Secret>>,
    realm: RealmInfo,
    own_user_id: i64,
}

impl Executor {
    /// An executor; `client` is `None` in replay mode (Zulip actions are then skipped).
    pub fn new(
        pipeline: &'static PipelineDesc,
        client: Option<Client>,
        store: Option<Store>,
        realm: RealmInfo,
        own_user_id: i64,
    ) -> crate::Result<Self> {
        let mut tokens = Vec::new();
        for l in pipeline.listeners {
            let mut token = None;
            for a in l.actions {
                if let ActionDesc::Webhook {
                    token_env: Some(var),
                    ..
                } = a
                {
                    match std::env::var(var) {
                        Ok(v) if !v.is_empty() => token = Some(Secret::new(v)),
                        _ => {
                            return Err(crate::Error::Config(format!(
                                "listener `{}` needs the webhook token in ${var}, which is not set",
                                l.name
                            )));
                        }
                    }
                }
            }
            tokens.push(token);
        }
        Ok(Executor {
            pipeline,
            client,
            http_public: crate::net::webhook_client(false)?,
            http_private: crate::net::webhook_client(true)?,
            store,
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
            realm,
            own_user_id,
        })
    }

    /// Runs `jobs` (concurrently, within each listener's limit) and waits for all.
    pub async fn run(
        self: &Arc<Self>,
        jobs: Vec<Job>,
        stats: &mut StatsBuf,
        log: &mut Vec<LogRow>,
        log_failures: bool,
    ) {
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            let me = self.clone();
            set.spawn(async move {
                let start = Instant::now();
                let result = me.run_job(&job).await;
                (job, result, start.elapsed())
            });
        }
        while let Some(done) = set.join_next().await {
            let Ok((job, result, took)) = done else {
                continue;
            };
            let c = stats.listener(job.listener);
            c.time_us += took.as_micros() as u64;
            match result {
                Ok(Outcome::Done) => c.succeeded += 1,
                Ok(Outcome::Limited) => c.limited += 1,
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
                            self.realm.id,
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
    }

    async fn run_job(&self, job: &Job) -> Result<Outcome, String> {
        let l = &self.pipeline.listeners[job.listener];
        let _permit = self.semaphores[job.listener]
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        let event: Value =
            serde_json::from_str(&job.json).map_err(|e| format!("event is not JSON: {e}"))?;
        let key = job.message_id.map_or_else(
            || format!("e{}", job.event_id.unwrap_or(-1)),
            |m| format!("m{m}"),
        );
        let mut outcome = Outcome::Done;
        for (n, action) in l.actions.iter().enumerate().filter(|(_, a)| a.is_io()) {
            let effect = format!("{}:{key}:{n}", self.realm.id);
            if let Some(store) = &self.store
                && store
                    .effect_done(self.pipeline.name, l.name, &effect)
                    .await
                    .unwrap_or(false)
            {
                tracing::debug!(listener = l.name, effect, "already done; skipping");
                continue;
            }
            // A replay posts nothing (and plays a day in seconds): limits are for real posts.
            if action.posts_to_zulip()
                && self.client.is_some()
                && !self.within_limits(job.listener, &event)
            {
                outcome = Outcome::Limited;
                continue;
            }
            let done = self
                .attempt_with_retries(l, job.listener, action, &event, &job.json)
                .await?;
            if done == Done::Really
                && let Some(store) = &self.store
                && let Err(e) = store
                    .record_effect(self.pipeline.name, l.name, &effect)
                    .await
            {
                tracing::warn!(error = %e, "could not record a side effect as done");
            }
        }
        Ok(outcome)
    }

    /// Takes one post from listener `i`'s rate limits; logs the first refusal of an
    /// episode (not every one: a flood must not become a flood of log lines).
    fn within_limits(&self, i: usize, event: &Value) -> bool {
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

    async fn attempt_with_retries(
        &self,
        l: &ListenerDesc,
        i: usize,
        action: &ActionDesc,
        event: &Value,
        json: &str,
    ) -> Result<Done, String> {
        let p = &l.policy;
        let mut backoff = Backoff::new(
            Duration::from_millis(p.backoff_ms.min(1000)),
            Duration::from_millis(p.backoff_ms),
            Duration::from_millis(p.backoff_max_ms),
        );
        let mut attempt = 0;
        let mut last_error: Option<String> = None;
        loop {
            let allowed = self.breakers[i]
                .lock()
                .map(|mut b| b.allow(Instant::now()))
                .unwrap_or(true);
            if !allowed {
                return Err(match &last_error {
                    Some(e) => format!(
                        "{} failed after {attempt} attempt(s): {e}; circuit breaker now open",
                        action.kind()
                    ),
                    None => format!(
                        "{} skipped: circuit breaker open after repeated failures",
                        action.kind()
                    ),
                });
            }
            let result =
                match tokio::time::timeout(p.timeout(), self.perform(l, i, action, event, json))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err(Failure {
                        message: format!("timed out after {} ms", p.timeout_ms),
                        retryable: true,
                    }),
                };
            match result {
                Ok(done) => {
                    if let Ok(mut b) = self.breakers[i].lock() {
                        b.success();
                    }
                    return Ok(done);
                }
                Err(f) => {
                    if let Ok(mut b) = self.breakers[i].lock() {
                        b.failure(
                            Instant::now(),
                            p.breaker_threshold,
                            Duration::from_millis(p.breaker_cooldown_ms),
                        );
                    }
                    attempt += 1;
                    if !f.retryable || attempt > p.retries {
                        return Err(format!(
                            "{} failed after {attempt} attempt(s): {}",
                            action.kind(),
                            f.message
                        ));
                    }
                    last_error = Some(f.message.clone());
                    let wait = backoff.next_delay();
                    tracing::warn!(listener = l.name, action = action.kind(), error = %f.message, wait = %crate::retry::human(wait), "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn zulip(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    async fn perform(
        &self,
        l: &ListenerDesc,
        i: usize,
        action: &ActionDesc,
        event: &Value,
        json: &str,
    ) -> Result<Done, Failure> {
        let cx = self.realm.render_cx(event, json, l.name);
        match action {
            ActionDesc::Reply { to, template } => {
                let content = render(template, &cx, true);
                let dest = match to {
                    ReplyDesc::Same => same_conversation(event, self.own_user_id),
                    ReplyDesc::Sender => event["message"]["sender_id"]
                        .as_i64()
                        .map(|id| Destination::Direct { user_ids: vec![id] }),
                    ReplyDesc::Channel { channel, topic } => Some(Destination::Channel {
                        channel: (*channel).to_owned(),
                        topic: render(topic, &cx, false),
                    }),
                };
                let Some(dest) = dest else {
                    return Err(Failure {
                        message: "the event has no conversation to reply to".into(),
                        retryable: false,
                    });
                };
                self.send(&dest, &content).await
            }
            ActionDesc::React { emoji } => {
                let Some(id) = event["message"]["id"].as_i64() else {
                    return Err(Failure {
                        message: "the event has no message to react to".into(),
                        retryable: false,
                    });
                };
                let Some(client) = self.zulip() else {
                    tracing::info!(
                        listener = l.name,
                        message_id = id,
                        emoji,
                        "replay: would react"
                    );
                    return Ok(Done::DryRun);
                };
                match client.add_reaction(id, emoji).await {
                    Ok(()) => Ok(Done::Really),
                    Err(crate::Error::BadRequest { code, .. })
                        if code == "REACTION_ALREADY_EXISTS" =>
                    {
                        Ok(Done::Really)
                    }
                    Err(e) => Err(Failure::from(e)),
                }
            }
            ActionDesc::Forward { channel, topic } => {
                let m = &event["message"];
                let original_topic = m["subject"].as_str().unwrap_or("");
                let topic = match topic {
                    Some(t) => render(t, &cx, false),
                    None if original_topic.is_empty() => "forwarded".to_owned(),
                    None => original_topic.to_owned(),
                };
                let from = match m["display_recipient"].as_str() {
                    Some(c) => markup::conversation_link(c, original_topic),
                    None => "a direct message".to_owned(),
                };
                let content = format!(
                    "{} in {from}:\n{}",
                    markup::silent_mention(m["sender_full_name"].as_str().unwrap_or("someone")),
                    markup::quote(m["content"].as_str().unwrap_or(""))
                );
                self.send(
                    &Destination::Channel {
                        channel: (*channel).to_owned(),
                        topic,
                    },
                    &content,
                )
                .await
            }
            ActionDesc::Webhook {
                url,
                body,
                reply_field,
                allow_private,
                ..
            } => {
                if let Some(reason) = crate::net::literal_refusal(url, *allow_private) {
                    return Err(Failure {
                        message: reason,
                        retryable: false,
                    });
                }
                let payload = match body {
                    Some(fields) => {
                        let mut obj = serde_json::Map::new();
                        for (k, t) in fields.iter() {
                            obj.insert((*k).to_owned(), Value::String(render(t, &cx, false)));
                        }
                        Value::Object(obj)
                    }
                    None => event.clone(),
                };
                let http = if *allow_private {
                    &self.http_private
                } else {
                    &self.http_public
                };
                let mut req = http.post(*url).json(&payload);
                if let Some(token) = self.tokens.get(i).and_then(Option::as_ref) {
                    req = req.bearer_auth(token.expose());
                }
                let answer = webhook(req).await?;
                if let Some(field) = reply_field {
                    let text =
                        answer
                            .get(*field)
                            .and_then(Value::as_str)
                            .ok_or_else(|| Failure {
                                message: format!(
                                    "the webhook's answer has no string field `{field}`"
                                ),
                                retryable: false,
                            })?;
                    let Some(dest) = same_conversation(event, self.own_user_id) else {
                        return Err(Failure {
                            message: "the event has no conversation to reply to".into(),
                            retryable: false,
                        });
                    };
                    return self.send(&dest, &markup::user_text(text)).await;
                }
                Ok(Done::Really)
            }
            ActionDesc::Count { .. } | ActionDesc::Log { .. } | ActionDesc::Store => {
                Ok(Done::Really)
            }
        }
    }

    async fn send(&self, dest: &Destination, content: &str) -> Result<Done, Failure> {
        match self.zulip() {
            Some(client) => client
                .send_message(dest, content)
                .await
                .map(|_| Done::Really)
                .map_err(Failure::from),
            None => {
                tracing::info!(to = %dest, content, "replay: would send");
                Ok(Done::DryRun)
            }
        }
    }
}

/// The conversation a message event came from, as a destination for a reply.
fn same_conversation(event: &Value, own_user_id: i64) -> Option<Destination> {
    let m = &event["message"];
    match &m["display_recipient"] {
        Value::String(channel) => Some(Destination::Channel {
            channel: channel.clone(),
            topic: m["subject"].as_str().unwrap_or("").to_owned(),
        }),
        Value::Array(users) => {
            let mut ids: Vec<i64> = users
                .iter()
                .filter_map(|u| u["id"].as_i64())
                .filter(|id| *id != own_user_id)
                .collect();
            if ids.is_empty() {
                ids = m["sender_id"].as_i64().into_iter().collect();
            }
            Some(Destination::Direct { user_ids: ids })
        }
        _ => None,
    }
}

async fn webhook(req: reqwest::RequestBuilder) -> Result<Value, Failure> {
    let transient = |message: String| Failure {
        message,
        retryable: true,
    };
    let mut resp = req.send().await.map_err(|e| Failure {
        message: format!("webhook request failed: {}", crate::client::describe(&e)),
        // A refusal by the address guard is a configuration matter: retrying cannot help.
        retryable: !crate::net::is_refused(&e),
    })?;
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transient(format!("webhook response cut: {e}")))?
    {
        if body.len() + chunk.len() > MAX_WEBHOOK_RESPONSE {
            return Err(Failure {
                message: format!("webhook response exceeds {MAX_WEBHOOK_RESPONSE} bytes"),
                retryable: false,
            });
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(Failure {
            message: format!(
                "webhook answered HTTP {status}: {}",
                crate::event::excerpt(&text)
            ),
            retryable: status.is_server_error() || status.as_u16() == 429,
        });
    }
    Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_threshold_and_half_opens_after_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::default();
        for _ in 0..2 {
            b.failure(t0, 3, Duration::from_secs(30));
            assert!(b.allow(t0));
        }
        b.failure(t0, 3, Duration::from_secs(30));
        assert!(!b.allow(t0 + Duration::from_secs(29)));
        assert!(b.is_open(t0 + Duration::from_secs(1)));
        assert!(
            b.allow(t0 + Duration::from_secs(31)),
            "one trial after the cool-down"
        );
        b.success();
        assert!(b.allow(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn replies_go_back_to_the_conversation_without_ourselves() {
        let ch = serde_json::json!({"message": {"display_recipient": "devel", "subject": "ci", "sender_id": 5}});
        assert_eq!(
            same_conversation(&ch, 9),
            Some(Destination::Channel {
                channel: "devel".into(),
                topic: "ci".into()
            })
        );
        let dm = serde_json::json!({"message": {"display_recipient": [{"id": 5}, {"id": 9}, {"id": 7}], "sender_id": 5}});
        assert_eq!(
            same_conversation(&dm, 9),
            Some(Destination::Direct {
                user_ids: vec![5, 7]
            })
        );
    }
}
