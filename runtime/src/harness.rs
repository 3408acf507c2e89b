//! Running listeners without a server: events in, effects out.
//!
//! A [`Harness`] is a connection without a network: the pipeline's own dispatch and
//! executor ([`crate::jobs::engine`]) over events a test hands it, with Zulip posts recorded
//! ([`crate::jobs::outbox::Recorder`]), a private in-memory store (state, counters,
//! de-duplication, dead letters) and HTTP calls either made for real (to a local
//! receiver) or recorded and answered. It serves users' tests of their Rust listeners
//! (through the testkit) and `zlc test`'s pipeline test cases ([`crate::pipetest`]).
//!
//! ```no_run
//! # async fn demo(pipeline: &'static zlc_runtime::codegen::Pipeline) -> zlc_runtime::Result<()> {
//! use zlc_runtime::harness::{Harness, MessageSpec};
//! let mut h = Harness::of(pipeline).await?;
//! h.send(MessageSpec::channel("devel", "ci").content("deploy #12")).await?;
//! assert_eq!(h.messages()[0].1, "Deploying #12");
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::now_secs;
use crate::error::{Error, Result};
use crate::event::RawEvent;
use crate::jobs::Executor;
use crate::jobs::actions::Effects;
use crate::jobs::dispatch::enabled_for;
use crate::jobs::engine::Code;
use crate::jobs::engine::Engine;
use crate::jobs::outbox::{Effect, HttpSink, Recorder, ZulipSink};
use crate::pipeline::PipelineDesc;
use crate::stats::{Figures, LogRow, RunTotals, StatsBuf};
use crate::store::Store;
use crate::template::RealmInfo;

mod clock;

/// The bot's user id in a harness (its own messages are skipped unless a listener
/// says `include_own`).
pub const BOT_ID: i64 = 100;
/// The bot's full name in harness runs: `@**Listener Bot** help` addresses it.
pub const BOT_NAME: &str = "Listener Bot";

/// How a harness runs.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// The realm connection the events come from.
    pub realm: u32,
    /// Record HTTP calls (and answer them from the recorder) instead of making them.
    pub record_http: bool,
    /// Config overrides per listener, as `NAME config LISTENER KEY VALUE` sets them.
    pub config: HashMap<String, Vec<(String, String)>>,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        HarnessOptions {
            realm: 1,
            record_http: false,
            config: HashMap::new(),
        }
    }
}

impl HarnessOptions {
    /// With `listener`'s config key `key` set to `value` (over the pipeline's).
    pub fn config(mut self, listener: &str, key: &str, value: &str) -> Self {
        self.config
            .entry(listener.to_owned())
            .or_default()
            .push((key.to_owned(), value.to_owned()));
        self
    }

    /// With HTTP calls recorded (and answered by the recorder) instead of made.
    pub fn record_http(mut self) -> Self {
        self.record_http = true;
        self
    }

    /// Events come from realm connection `realm`.
    pub fn realm(mut self, realm: u32) -> Self {
        self.realm = realm;
        self
    }
}

/// A pipeline's listeners, run on events a test gives them.
#[derive(Debug)]
pub struct Harness {
    pipeline: &'static PipelineDesc,
    engine: Engine,
    /// The roles of the people messages come from (`MessageSpec::sender_role`).
    roles: crate::command::Roles,
    groups: crate::people::Groups, // the senders' groups (`MessageSpec::sender_groups`)
    recorder: Arc<Recorder>,
    store: Store,
    totals: RunTotals,
    next_event_id: i64,
    next_message_id: i64,
    /// The schedules' ticks, run as the clock moves ([`Harness::advance_to`]).
    ticker: crate::jobs::ticks::Ticker,
    /// The test's clock (Unix seconds), once a test sets it: messages are sent at it.
    clock: Option<i64>,
}

impl Harness {
    /// A harness for a pipeline put together by `pipeline!`.
    pub async fn of(pipeline: &crate::jobs::engine::Pipeline) -> Result<Self> {
        Self::new(pipeline.desc, pipeline.code(), HarnessOptions::default()).await
    }

    /// A harness for a pipeline put together by `pipeline!`, run as `opts` say.
    pub async fn with_options(
        pipeline: &crate::jobs::engine::Pipeline,
        opts: HarnessOptions,
    ) -> Result<Self> {
        Self::new(pipeline.desc, pipeline.code(), opts).await
    }

    /// A harness for a pipeline's description and generated code.
    pub async fn new(
        pipeline: &'static PipelineDesc,
        code: Code,
        opts: HarnessOptions,
    ) -> Result<Self> {
        let recorder = Recorder::new();
        let store = Store::memory().await?;
        let roles = crate::command::Roles::default();
        let groups = crate::people::Groups::default();
        let realm = RealmInfo {
            id: opts.realm,
            name: "test".into(),
            site: "https://zulip.example.com".into(),
            bot_name: BOT_NAME.into(),
            bot_id: u64::try_from(BOT_ID).ok(),
            roles: roles.clone(),
            conversations: crate::conversation::Conversations::in_memory(
                pipeline.conversation_timeout,
            ),
            groups: groups.clone(),
        };
        let http = if opts.record_http {
            HttpSink::Record(recorder.clone())
        } else {
            HttpSink::Live
        };
        let effects = Effects::new(
            pipeline.name,
            ZulipSink::Record(recorder.clone()),
            http,
            Some(store.clone()),
            realm,
            BOT_ID,
        );
        let executor = Arc::new(Executor::new(
            pipeline,
            code.handlers,
            effects,
            &opts.config,
        )?);
        let enabled = enabled_for(pipeline, opts.realm, None, &HashMap::new());
        let schedules: Vec<bool> = (0..pipeline.listeners.len())
            .map(|i| pipeline.schedules.iter().any(|s| s.listener == i))
            .collect();
        let ticker = crate::jobs::ticks::Ticker::new(pipeline, executor.clone(), &schedules)?;
        let engine = Engine::new(
            pipeline,
            code.dispatch,
            enabled,
            BOT_ID,
            Default::default(),
            executor,
        );
        Ok(Harness {
            pipeline,
            engine,
            roles,
            groups,
            recorder,
            store,
            totals: RunTotals::default(),
            next_event_id: 0,
            next_message_id: 1000,
            ticker,
            clock: None,
        })
    }

    /// The recorder: what was posted and called, and the answers HTTP calls get.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The store (state, counters, dead letters).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs the listeners on `events` (Zulip event objects; an event without an `id`
    /// gets the next one) and waits for everything they do.
    pub async fn feed(&mut self, events: impl IntoIterator<Item = Value>) -> Result<()> {
        let texts: Vec<String> = events
            .into_iter()
            .map(|mut e| {
                if let Some(obj) = e.as_object_mut()
                    && !obj.contains_key("id")
                {
                    obj.insert("id".into(), json!(self.next_event_id));
                }
                self.next_event_id += 1;
                e.to_string()
            })
            .collect();
        self.feed_texts(texts.iter().map(String::as_str)).await
    }

    /// Runs the listeners on lines of a recording (`zlc tail` output: one event per
    /// line; blank lines are skipped).
    pub async fn feed_json_lines(&mut self, text: &str) -> Result<()> {
        self.feed_texts(text.lines().map(str::trim).filter(|l| !l.is_empty()))
            .await
    }

    async fn feed_texts<'t>(&mut self, texts: impl Iterator<Item = &'t str>) -> Result<()> {
        // Listeners that follow edits read the edited message by id: the recorder
        // keeps the messages fed.
        let follows = self.pipeline.listeners.iter().any(|l| l.on_edit);
        let texts: Vec<&str> = texts.collect();
        for text in texts.iter().filter(|_| follows) {
            if let Ok(e) = serde_json::from_str::<Value>(text)
                && e["type"] == "message"
            {
                self.recorder.know_message(&e["message"]);
            }
        }
        let texts = texts.into_iter();
        let mut buf = StatsBuf::new(self.pipeline.listeners.len(), now_secs() / 3600);
        let mut log: Vec<LogRow> = Vec::new();
        self.engine
            .process(texts.map(RawEvent::new), now_secs(), &mut buf, &mut log)
            .await;
        self.totals.add(&buf);
        let names: Vec<&str> = self.pipeline.listeners.iter().map(|l| l.name).collect();
        self.store
            .flush(self.pipeline.name, &names, &buf.drain(), &log)
            .await
    }

    /// Sends a message (built with [`MessageSpec`]) to the listeners; returns its id.
    pub async fn send(&mut self, spec: MessageSpec) -> Result<i64> {
        let id = spec.id.unwrap_or(self.next_message_id);
        self.next_message_id = self.next_message_id.max(id) + 1;
        let role = spec.sender_role.clone();
        let spec = MessageSpec {
            timestamp: spec.timestamp.or(self.clock),
            ..spec
        };
        let event = spec.event(id);
        // Direct messages are recorded by their recipients' emails.
        let m = &event["message"];
        if let Some(role) = role {
            let Some(n) = zlc_catalog::role_number(&role) else {
                return Err(Error::Config(format!(
                    "unknown role `{role}`; one of: {}",
                    zlc_catalog::role_names()
                )));
            };
            self.roles.set(m["sender_id"].as_i64().unwrap_or(-1), n);
        }
        for g in &spec.sender_groups {
            self.groups.join(g, m["sender_id"].as_i64().unwrap_or(-1));
        }
        if let (Some(id), Some(email)) = (m["sender_id"].as_i64(), m["sender_email"].as_str()) {
            self.recorder.know_user(id, email);
        }
        if let Some(users) = m["display_recipient"].as_array() {
            for u in users {
                if let (Some(id), Some(email)) = (u["id"].as_i64(), u["email"].as_str()) {
                    self.recorder.know_user(id, email);
                }
            }
        }
        self.feed([event]).await?;
        Ok(id)
    }

    /// Edits message `id` (one sent or fed before) as its sender does: the
    /// `update_message` event Zulip sends, fed to the listeners.
    pub async fn edit(&mut self, id: i64, content: &str) -> Result<()> {
        let Some(mut m) = self.recorder.message_by_id(id) else {
            return Err(Error::Config(format!("there is no message {id} to edit")));
        };
        let old = m["content"].as_str().unwrap_or_default().to_owned();
        m["content"] = json!(content);
        self.recorder.know_message(&m);
        let mentioned = content.contains(&format!("@**{BOT_NAME}**"));
        let mut event = json!({
            "type": "update_message", "user_id": m["sender_id"], "edit_timestamp": now_secs(),
            "message_id": id, "message_ids": [id], "orig_content": old,
            "orig_rendered_content": format!("<p>{old}</p>"), "content": content,
            "rendered_content": format!("<p>{content}</p>"), "is_me_message": false,
            "topic_links": [], "flags": if mentioned { json!(["mentioned"]) } else { json!([]) },
            "rendering_only": false,
        });
        if let Some(channel) = m["stream_id"].as_i64() {
            event["stream_id"] = json!(channel);
            event["stream_name"] = m["display_recipient"].clone();
        }
        self.feed([event]).await
    }

    /// Deletes message `id` (one sent or fed before): the `delete_message` event Zulip
    /// sends (to clients that take bulk deletions), fed to the listeners.
    pub async fn delete(&mut self, id: i64) -> Result<()> {
        let Some(m) = self.recorder.message_by_id(id) else {
            return Err(Error::Config(format!("there is no message {id} to delete")));
        };
        let event = match m["stream_id"].as_i64() {
            Some(channel) => json!({"type": "delete_message", "message_ids": [id],
                "message_type": "stream", "stream_id": channel, "topic": m["subject"]}),
            None => {
                json!({"type": "delete_message", "message_ids": [id], "message_type": "private"})
            }
        };
        self.feed([event]).await
    }

    /// Everything recorded so far: posts and HTTP calls, in order.
    pub fn effects(&self) -> Vec<Effect> {
        self.recorder.effects()
    }

    /// The messages sent so far: (where, content).
    pub fn messages(&self) -> Vec<(String, String)> {
        self.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Message { to, content, .. } => Some((to, content)),
                _ => None,
            })
            .collect()
    }

    /// The reactions added so far: (message id, emoji).
    pub fn reactions(&self) -> Vec<(i64, String)> {
        self.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Reaction {
                    message_id, emoji, ..
                } => Some((message_id, emoji)),
                _ => None,
            })
            .collect()
    }

    /// The counters of `listener` so far (seen, matched, succeeded, failed, limited).
    pub fn counters(&self, listener: &str) -> Figures {
        self.pipeline
            .listeners
            .iter()
            .position(|l| l.name == listener)
            .and_then(|i| self.totals.counters.get(i).copied())
            .unwrap_or_default()
    }

    /// Events `listener` matched so far.
    pub fn matched(&self, listener: &str) -> u64 {
        self.counters(listener).matched
    }

    /// The named counter `name` of `listener` (`Context::count`).
    pub async fn counter(&self, listener: &str, name: &str) -> Result<i64> {
        Ok(self
            .store
            .named_counts(self.pipeline.name, listener)
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .map_or(0, |c| c.n))
    }

    /// The state value of `listener` under `key` (`Context::state_set`).
    pub async fn state(&self, listener: &str, key: &str) -> Result<Option<String>> {
        self.store
            .state_get(self.pipeline.name, listener, key)
            .await
    }

    /// The dead letters so far: (listener, error).
    pub async fn dead_letters(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .store
            .dead_letters(self.pipeline.name)
            .await?
            .into_iter()
            .map(|d| (d.listener, d.error))
            .collect())
    }
}

/// A message to send to listeners, as Zulip's `message` event shapes it. Unset parts
/// get plausible values (a channel message in `general` by Alice).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// The message id (default: the next one).
    #[serde(default)]
    pub id: Option<i64>,
    /// The channel (a channel message); absent with `direct_to`.
    #[serde(default)]
    pub channel: Option<String>,
    /// The channel's id.
    #[serde(default)]
    pub channel_id: Option<i64>,
    /// The topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// The sender's email.
    #[serde(default)]
    pub sender: Option<String>,
    /// The sender's name.
    #[serde(default)]
    pub sender_name: Option<String>,
    /// The sender's user id.
    #[serde(default)]
    pub sender_id: Option<i64>,
    /// A direct message to these users (emails), besides the bot.
    #[serde(default)]
    pub direct_to: Vec<String>,
    /// The content (Markdown).
    #[serde(default)]
    pub content: String,
    /// Unix time sent (default: now).
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// The bot was mentioned (the `mentioned` flag).
    #[serde(default)]
    pub mentioned: bool,
    /// The sender's Zulip role (`owner`, `admin`, `moderator`, `member`, `guest`), for
    /// commands some roles only may run; unknown (no role) when left out.
    #[serde(default)]
    pub sender_role: Option<String>,
    /// The user groups the sender is in, for commands some groups only may run.
    #[serde(default)]
    pub sender_groups: Vec<String>,
}

impl MessageSpec {
    /// A message in `channel`'s `topic`.
    pub fn channel(channel: &str, topic: &str) -> Self {
        MessageSpec {
            channel: Some(channel.to_owned()),
            topic: Some(topic.to_owned()),
            ..Default::default()
        }
    }

    /// A direct message from the sender to the bot (and `others`).
    pub fn direct(others: &[&str]) -> Self {
        MessageSpec {
            direct_to: others.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    /// With this content.
    pub fn content(mut self, content: &str) -> Self {
        self.content = content.to_owned();
        self
    }

    /// From this sender (email and name).
    pub fn from(mut self, email: &str, name: &str) -> Self {
        self.sender = Some(email.to_owned());
        self.sender_name = Some(name.to_owned());
        self
    }

    /// Mentioning the bot.
    pub fn mentioning_the_bot(mut self) -> Self {
        self.mentioned = true;
        self
    }

    /// From someone of this Zulip role (`admin`, ...).
    pub fn with_role(mut self, role: &str) -> Self {
        self.sender_role = Some(role.to_owned());
        self
    }

    /// The sender is in user group `group`.
    pub fn in_group(mut self, group: &str) -> Self {
        self.sender_groups.push(group.to_owned());
        self
    }

    /// The `message` event, with message id `id`.
    pub fn event(&self, id: i64) -> Value {
        let sender = self
            .sender
            .clone()
            .unwrap_or_else(|| "alice@zulip.example.com".into());
        let sender_name = self.sender_name.clone().unwrap_or_else(|| {
            let local = sender.split('@').next().unwrap_or("someone");
            let mut c = local.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        });
        let sender_id = self.sender_id.unwrap_or_else(|| user_id(&sender));
        let timestamp = self.timestamp.unwrap_or_else(now_secs);
        let (display_recipient, kind, stream_id, topic) = if !self.direct_to.is_empty()
            || self.channel.is_none() && self.topic.is_none() && self.channel_id.is_none()
        {
            let mut users = vec![
                json!({"id": sender_id, "email": sender, "full_name": sender_name, "is_mirror_dummy": false}),
                json!({"id": BOT_ID, "email": "listener-bot@zulip.example.com", "full_name": BOT_NAME, "is_mirror_dummy": false}),
            ];
            for other in &self.direct_to {
                users.push(json!({"id": user_id(other), "email": other, "full_name": other, "is_mirror_dummy": false}));
            }
            (Value::Array(users), "private", None, String::new())
        } else {
            let channel = self.channel.clone().unwrap_or_else(|| "general".into());
            let channel_id = self.channel_id.unwrap_or_else(|| channel_id(&channel));
            (
                json!(channel),
                "stream",
                Some(channel_id),
                self.topic.clone().unwrap_or_else(|| "test".into()),
            )
        };
        let mut message = json!({
            "id": id, "sender_id": sender_id, "content": self.content, "recipient_id": 20,
            "timestamp": timestamp, "client": "test", "subject": topic, "topic_links": [],
            "is_me_message": false, "reactions": [], "submessages": [],
            "sender_full_name": sender_name, "sender_email": sender, "sender_realm_str": "zulip",
            "display_recipient": display_recipient, "type": kind, "avatar_url": null,
            "content_type": "text/x-markdown",
        });
        if let (Some(sid), Some(obj)) = (stream_id, message.as_object_mut()) {
            obj.insert("stream_id".into(), json!(sid));
        }
        let flags: Vec<&str> = if self.mentioned {
            vec!["mentioned"]
        } else {
            vec![]
        };
        json!({"type": "message", "message": message, "flags": flags})
    }
}

/// A `reaction` event: `user` (an email) adds (`op = "add"`) or removes (`"remove"`)
/// `emoji` on message `message_id`, shaped like Zulip's (with the deprecated `user`
/// object beside `user_id`).
pub fn reaction_event(op: &str, message_id: i64, emoji: &str, user: &str) -> Value {
    let id = user_id(user);
    json!({
        "type": "reaction", "op": op, "user_id": id,
        "user": {"user_id": id, "email": user, "full_name": user},
        "message_id": message_id, "emoji_name": emoji, "emoji_code": emoji,
        "reaction_type": "unicode_emoji",
    })
}

/// A `realm_user` `add` event: `email` (named `full_name`) joined the organization.
pub fn user_joined_event(email: &str, full_name: &str) -> Value {
    json!({
        "type": "realm_user", "op": "add",
        "person": {
            "email": email, "delivery_email": null, "user_id": user_id(email),
            "avatar_version": 1, "is_admin": false, "is_owner": false, "is_guest": false,
            "role": 400, "is_bot": false, "full_name": full_name, "timezone": "",
            "is_active": true, "date_joined": "2026-01-01T00:00:00+00:00",
            "avatar_url": null, "profile_data": {},
        },
    })
}

/// A stable user id for an email (so that the same sender is the same user).
fn user_id(email: &str) -> i64 {
    1000 + (fnv(email) % 100_000) as i64
}

/// A stable channel id for a name.
fn channel_id(name: &str) -> i64 {
    1 + (fnv(name) % 1000) as i64
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
