//! The fake server's state and the types tests see of it: users, messages, queues,
//! faults to inject, and the record of requests.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;

/// Timing of the fake server.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// How long a long poll waits before answering with a heartbeat (Zulip: 45–55 s).
    pub heartbeat: Duration,
    /// How long a queue survives without a poll (Zulip: 10 minutes).
    pub queue_idle_timeout: Duration,
    /// The long-poll timeout the server advertises on `/register` (from feature level 74).
    pub longpoll_timeout_secs: u64,
    /// The Zulip feature level to imitate. Responses carry the fields a server of that
    /// level sends, under the names it uses: `realm_uri` alone before 257, `realm_url`
    /// beside the deprecated `realm_uri` from 257 on, no `zulip_feature_level` at 0.
    pub feature_level: i64,
    /// Events waiting in every queue that wants messages from the moment it is
    /// registered (`zlc sandbox --backlog`): a large backlog, shared by all queues,
    /// kept as text.
    pub backlog: Option<Arc<Backlog>>,
}

/// Events (JSON text, ids from 0) waiting in each new queue.
#[derive(Debug, Default)]
pub struct Backlog {
    pub(super) events: Vec<Box<str>>,
}

impl Backlog {
    /// Reads a JSONL file of `GET /events` events (gzipped or not), `repeat` times over,
    /// numbering the events from 0.
    pub fn read(path: &std::path::Path, repeat: usize) -> std::io::Result<Backlog> {
        use std::io::Read as _;
        let raw = std::fs::read(path)?;
        let mut text = String::new();
        if raw.starts_with(&[0x1f, 0x8b]) {
            flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut text)?;
        } else {
            text = String::from_utf8(raw)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        }
        let mut events = Vec::new();
        for _ in 0..repeat.max(1) {
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let mut event: Value = serde_json::from_str(line).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}:{}: {e}", path.display(), n + 1),
                    )
                })?;
                if let Some(o) = event.as_object_mut() {
                    o.insert("id".into(), json!(events.len()));
                }
                events.push(event.to_string().into_boxed_str());
            }
        }
        Ok(Backlog { events })
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The feature level the fake imitates by default: the one the vendored API examples
/// describe (Zulip 11.0-dev).
pub const FEATURE_LEVEL: i64 = 378;

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            heartbeat: Duration::from_secs(2),
            queue_idle_timeout: Duration::from_secs(600),
            longpoll_timeout_secs: 90,
            feature_level: FEATURE_LEVEL,
            backlog: None,
        }
    }
}

/// A user account on the fake server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// User id.
    pub id: i64,
    /// Email (the API user name).
    pub email: String,
    /// Display name.
    pub full_name: String,
    /// API key.
    pub api_key: String,
    /// A bot account.
    pub is_bot: bool,
    /// Zulip role (100 owner, 200 admin, 300 moderator, 400 member, 600 guest).
    pub role: u16,
}

/// A fault to inject into the next matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// HTTP 429 `RATE_LIMIT_HIT` with this `retry-after` (body and header).
    RateLimit {
        /// Seconds.
        retry_after: f64,
    },
    /// Any status with a JSON error body.
    JsonError {
        /// HTTP status.
        status: u16,
        /// Zulip error code.
        code: String,
        /// Message.
        msg: String,
    },
    /// An HTML error page, as a proxy in front of Zulip sends during a restart.
    Html {
        /// HTTP status (502 for a gateway error).
        status: u16,
    },
    /// A 200 whose body stops half-way and whose connection is then closed.
    CutBody,
    /// A 200 with a syntactically broken JSON body.
    Garbage,
    /// The real answer to the request, cut after its first half (then the connection
    /// is closed).
    CutAnswer,
    /// This status and body, exactly (an official example, or what some server sent).
    Body {
        /// HTTP status.
        status: u16,
        /// The body (sent as `application/json`).
        body: String,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Method.
    pub method: String,
    /// Endpoint, without the `/api/v1/` prefix (`events`, `messages/7/reactions`).
    pub endpoint: String,
    /// Query and form parameters.
    pub params: HashMap<String, String>,
    /// The authenticated user's email, if any.
    pub user: Option<String>,
    /// Status answered.
    pub status: u16,
    /// A fault answered it instead of the normal handler.
    pub fault: Option<Fault>,
    /// When it arrived, since the server started (tokio time: virtual under paused time).
    pub at: Duration,
}

/// A message stored by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Message id.
    pub id: i64,
    /// Sender's user id.
    pub sender_id: i64,
    /// Channel id, for channel messages.
    pub channel_id: Option<i64>,
    /// Topic (empty for direct messages).
    pub topic: String,
    /// Direct-message users (sender included), sorted.
    pub dm_user_ids: Vec<i64>,
    /// Markdown content.
    pub content: String,
    /// Unix time.
    pub timestamp: i64,
}

/// One push the server made, as tests see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRecord {
    /// The bot pushed to.
    pub bot_id: i64,
    /// The message pushed.
    pub message_id: i64,
    /// `mention` or `direct_message`.
    pub trigger: String,
    /// How many requests it took.
    pub attempts: u32,
    /// The last answer's status (`None`: no answer).
    pub status: Option<u16>,
    /// The last answer's body (`null`: none, or not JSON).
    pub answer: serde_json::Value,
    /// How long the last request took to be answered.
    pub took: std::time::Duration,
}

/// A reaction the server holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRecord {
    /// Message.
    pub message_id: i64,
    /// Reacting user.
    pub user_id: i64,
    /// Emoji name.
    pub emoji_name: String,
}

/// What a live queue was registered for ([`super::FakeZulip::queue_registrations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRegistration {
    /// The queue id.
    pub id: String,
    /// Its event types (`None`: all).
    pub event_types: Option<Vec<String>>,
    /// Its narrow.
    pub narrow: Vec<(String, String)>,
}

#[derive(Debug)]
pub(super) struct Queue {
    pub(super) user_id: i64,
    pub(super) event_types: Option<Vec<String>>,
    pub(super) narrow: Vec<(String, String)>,
    pub(super) apply_markdown: bool,
    pub(super) events: VecDeque<(i64, Value)>,
    /// The first backlog event not acknowledged (the backlog's events have ids
    /// `0..len`; the queue's own start after them).
    pub(super) backlog_next: usize,
    /// How many backlog events this queue has (0 without a backlog).
    pub(super) backlog_len: usize,
    pub(super) next_event_id: i64,
    pub(super) last_activity: Instant,
    pub(super) polling: u32,
    /// Registered with `bulk_message_deletion`: `delete_message` carries `message_ids`.
    pub(super) bulk_deletion: bool,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) users: Vec<FakeUser>,
    pub(super) deactivated: Vec<i64>,
    pub(super) channels: Vec<(i64, String)>,
    pub(super) messages: Vec<StoredMessage>,
    pub(super) reactions: Vec<ReactionRecord>,
    pub(super) queues: HashMap<String, Queue>,
    pub(super) next_queue: u64,
    pub(super) faults: VecDeque<(Option<String>, Fault)>,
    pub(super) requests: Vec<RequestRecord>,
    pub(super) delivered: Vec<(String, i64)>,
    pub(super) clock: i64,
    /// The newest message id given (ids are never given twice, deleted or not).
    pub(super) last_message_id: i64,
    /// User groups: id, name, members.
    pub(super) groups: Vec<(i64, String, Vec<i64>)>,
    /// Outgoing-webhook bots: user id, URL, token.
    pub(super) outgoing: Vec<(i64, String, String)>,
    /// The newest message looked at for pushes ([`super::push`]), and the pushes made.
    pub(super) pushed_up_to: i64,
    pub(super) pushes: Vec<PushRecord>,
}

pub(super) struct Shared {
    pub(super) started: tokio::time::Instant,
    pub(super) state: Mutex<State>,
    pub(super) notify: Notify,
    /// Wakes the pusher.
    pub(super) push_notify: Notify,
    pub(super) opts: FakeOptions,
    pub(super) addr: SocketAddr,
}

pub(super) fn placeholder_user() -> FakeUser {
    FakeUser {
        id: 0,
        email: String::new(),
        full_name: String::new(),
        api_key: String::new(),
        is_bot: true,
        role: 400,
    }
}

pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock must not hide its own failure behind
    // a poison error in the server task.
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Queue {
    pub(super) fn wants(&self, kind: &str) -> bool {
        kind == "heartbeat"
            || self
                .event_types
                .as_ref()
                .is_none_or(|t| t.iter().any(|k| k == kind))
    }

    pub(super) fn push(&mut self, mut event: Value) -> i64 {
        let id = self.next_event_id;
        self.next_event_id += 1;
        if let Some(obj) = event.as_object_mut() {
            obj.insert("id".into(), json!(id));
        }
        self.events.push_back((id, event));
        id
    }
}
