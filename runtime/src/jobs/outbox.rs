//! Where a connection's effects go: posts to Zulip (messages, reactions) and webhook
//! calls. Live, they are performed; in a replay, Zulip posts are only logged; under
//! test (`zlc test`, the testkit's harness) everything is recorded for assertions, and
//! webhooks get canned answers instead of a network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::client::{Client, Destination};

/// Where posts to Zulip go.
#[derive(Debug, Clone)]
pub enum ZulipSink {
    /// Sent to the server.
    Live(Client),
    /// Logged, not sent (a replay).
    DryRun,
    /// Recorded (tests).
    Record(Arc<Recorder>),
}

/// Where webhook calls (and handlers' HTTP calls) go.
#[derive(Debug, Clone, Default)]
pub enum HttpSink {
    /// Over the network, under the address rules of [`crate::net`].
    #[default]
    Live,
    /// Recorded, and answered from the recorder's canned answers (tests).
    Record(Arc<Recorder>),
}

/// One effect, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// A message sent (a reply, a forward, a handler's post).
    Message {
        /// The listener that sent it.
        listener: String,
        /// Where: `#channel > topic`, or the recipients of a direct message (emails the
        /// recorder knows, else `user ID`), comma-separated.
        to: String,
        /// The channel, for channel messages.
        channel: Option<String>,
        /// The topic, for channel messages.
        topic: Option<String>,
        /// The content.
        content: String,
    },
    /// An earlier message of ours updated (its trigger was edited).
    Edit {
        /// The listener that updated it.
        listener: String,
        /// The message updated.
        message_id: i64,
        /// Where it is (as in [`Effect::Message`]).
        to: String,
        /// Its new content.
        content: String,
    },
    /// An earlier message of ours deleted (its trigger was deleted, or no longer
    /// matches after an edit).
    Delete {
        /// The listener that deleted it.
        listener: String,
        /// The message deleted.
        message_id: i64,
        /// Where it was.
        to: String,
        /// What it said.
        content: String,
    },
    /// A reaction added.
    Reaction {
        /// The listener.
        listener: String,
        /// The message reacted to.
        message_id: i64,
        /// The emoji.
        emoji: String,
    },
    /// A webhook or HTTP call made.
    Http {
        /// The listener.
        listener: String,
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The JSON body sent (null for a GET).
        body: Value,
        /// The `Idempotency-Key` header it carried (POSTs of actions and handlers).
        idempotency_key: Option<String>,
    },
}

impl Effect {
    /// The listener that caused it.
    pub fn listener(&self) -> &str {
        match self {
            Effect::Message { listener, .. }
            | Effect::Edit { listener, .. }
            | Effect::Delete { listener, .. }
            | Effect::Reaction { listener, .. }
            | Effect::Http { listener, .. } => listener,
        }
    }
}

/// Where a message post goes when its listener's answers follow their message: over
/// an earlier answer (when the trigger was edited), and which message it became.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// The earlier answer to update instead of posting a new one.
    pub(crate) replace: Option<i64>,
    /// The message posted (0: none yet).
    sent: AtomicI64,
    /// The message it answers, when there is one (a push may take the answer in its
    /// HTTP response).
    pub(crate) trigger: Option<i64>,
}

impl Slot {
    /// A slot over the earlier answer `replace`, if any.
    pub(crate) fn over(replace: Option<i64>) -> Self {
        Slot {
            replace,
            sent: AtomicI64::new(0),
            trigger: None,
        }
    }

    /// The same slot, answering message `trigger`.
    pub(crate) fn answering(mut self, trigger: Option<i64>) -> Self {
        self.trigger = trigger;
        self
    }

    /// Notes the message a post became.
    pub(crate) fn posted(&self, id: i64) {
        self.sent.store(id, Ordering::Relaxed);
    }

    /// The message a post became, when it posted a new one.
    pub(crate) fn sent(&self) -> Option<i64> {
        Some(self.sent.load(Ordering::Relaxed)).filter(|id| *id != 0)
    }
}

/// Records effects and answers recorded HTTP calls.
#[derive(Debug, Default)]
pub struct Recorder {
    effects: Mutex<Vec<Effect>>,
    /// Per listener: its answers, and how many of its calls were answered.
    answers: Mutex<HashMap<String, (Vec<Answer>, usize)>>,
    emails: Mutex<HashMap<i64, String>>,
    /// The messages sent, by the id each was given: where, and what they say now.
    sent: Mutex<HashMap<i64, (String, String)>>,
    /// The messages of the events fed, by id (what reading a message by id finds).
    seen: Mutex<HashMap<i64, Value>>,
}

/// The first id a recorded message gets (far above the messages tests write).
const FIRST_SENT_ID: i64 = 900_000_001;

/// A canned answer to a recorded HTTP call: a status and a body, maybe late or cut.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Answer {
    /// The HTTP status (2xx: the body is the answer; 5xx and 429 are retried).
    #[serde(default = "ok_status")]
    pub status: u16,
    /// The JSON body.
    #[serde(default = "empty_object")]
    pub body: Value,
    /// How late it comes: at or over the listener's timeout, the attempt times out (at
    /// once: recorded calls do not wait).
    #[serde(default)]
    pub delay_ms: u64,
    /// The connection is cut before the answer (retried).
    #[serde(default)]
    pub cut: bool,
}

fn ok_status() -> u16 {
    200
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl Answer {
    /// A 200 with `body`.
    pub fn body(body: Value) -> Answer {
        Answer {
            status: 200,
            body,
            delay_ms: 0,
            cut: false,
        }
    }
}

impl Recorder {
    /// An empty recorder (HTTP calls are answered with `{}`).
    pub fn new() -> Arc<Self> {
        Arc::new(Recorder::default())
    }

    /// Answers HTTP calls of `listener` with `body` from now on.
    pub fn answer(&self, listener: &str, body: Value) {
        self.answer_in_turn(listener, vec![Answer::body(body)]);
    }

    /// Answers `listener`'s next calls with `answers` in turn, the last one from then on
    /// (none: `{}`).
    pub fn answer_in_turn(&self, listener: &str, answers: Vec<Answer>) {
        lock(&self.answers).insert(listener.to_owned(), (answers, 0));
    }

    /// Names user `id` by `email` in recorded direct messages.
    pub fn know_user(&self, id: i64, email: &str) {
        lock(&self.emails).insert(id, email.to_owned());
    }

    /// Everything recorded so far, in order.
    pub fn effects(&self) -> Vec<Effect> {
        lock(&self.effects).clone()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        lock(&self.effects).clear();
    }

    /// Records a message sent and returns the id it was given.
    pub(crate) fn message(&self, listener: &str, to: &Destination, content: &str) -> i64 {
        let (channel, topic, to) = match to {
            Destination::Channel { channel, topic } => {
                (Some(channel.clone()), Some(topic.clone()), to.to_string())
            }
            Destination::Direct { user_ids } => {
                let emails = lock(&self.emails);
                let names: Vec<String> = user_ids
                    .iter()
                    .map(|id| {
                        emails
                            .get(id)
                            .cloned()
                            .unwrap_or_else(|| format!("user {id}"))
                    })
                    .collect();
                (None, None, names.join(", "))
            }
        };
        let mut sent = lock(&self.sent);
        let id = FIRST_SENT_ID + sent.len() as i64;
        sent.insert(id, (to.clone(), content.to_owned()));
        lock(&self.effects).push(Effect::Message {
            listener: listener.to_owned(),
            to,
            channel,
            topic,
            content: content.to_owned(),
        });
        id
    }

    /// Updates recorded message `id`; `false` when no such message was sent.
    pub(crate) fn edit(&self, listener: &str, message_id: i64, content: &str) -> bool {
        let mut sent = lock(&self.sent);
        let Some((to, old)) = sent.get_mut(&message_id) else {
            return false;
        };
        content.clone_into(old);
        lock(&self.effects).push(Effect::Edit {
            listener: listener.to_owned(),
            message_id,
            to: to.clone(),
            content: content.to_owned(),
        });
        true
    }

    /// Deletes recorded message `id`; `false` when it is not there.
    pub(crate) fn delete(&self, listener: &str, message_id: i64) -> bool {
        let Some((to, content)) = lock(&self.sent).remove(&message_id) else {
            return false;
        };
        lock(&self.effects).push(Effect::Delete {
            listener: listener.to_owned(),
            message_id,
            to,
            content,
        });
        true
    }

    /// Knows `message` (a message object of an event fed): reading it by id finds it.
    pub fn know_message(&self, message: &Value) {
        if let Some(id) = message["id"].as_i64() {
            lock(&self.seen).insert(id, message.clone());
        }
    }

    /// Message `id` as reading it by id finds it: one of the events fed, or one sent.
    pub(crate) fn message_by_id(&self, id: i64) -> Option<Value> {
        lock(&self.seen).get(&id).cloned()
    }

    pub(crate) fn reaction(&self, listener: &str, message_id: i64, emoji: &str) {
        lock(&self.effects).push(Effect::Reaction {
            listener: listener.to_owned(),
            message_id,
            emoji: emoji.to_owned(),
        });
    }

    pub(crate) fn http(
        &self,
        listener: &str,
        method: &str,
        url: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Answer {
        lock(&self.effects).push(Effect::Http {
            listener: listener.to_owned(),
            method: method.to_owned(),
            url: url.to_owned(),
            body: body.clone(),
            idempotency_key: idempotency_key.map(str::to_owned),
        });
        let mut answers = lock(&self.answers);
        let Some((list, answered)) = answers.get_mut(listener) else {
            return Answer::body(empty_object());
        };
        let answer = list
            .get((*answered).min(list.len().saturating_sub(1)))
            .cloned();
        *answered += 1;
        answer.unwrap_or_else(|| Answer::body(empty_object()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
