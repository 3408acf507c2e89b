//! The pipeline model: what a TOML file or a `#[listener]` attribute says, with the
//! source span of every user value so that checks can point at it.

use crate::diag::Span;

mod command;
pub mod keys;
mod schedule;
mod words;

pub use command::{AllowedRule, ArgDecl, ArgKind, CommandDecl};
pub use schedule::{ConversationStep, ScheduleSpec};
pub use words::*;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// Its place in the source.
    pub span: Span,
}

impl<T> Sp<T> {
    /// Wraps a value with its span.
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

/// A whole pipeline: realm connections, store, defaults and listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// Name: becomes the binary's name.
    pub name: Sp<String>,
    /// What it is for.
    pub description: String,
    /// Realm connections.
    pub realms: Vec<Realm>,
    /// Where statistics, logs and checkpoints go.
    pub store: Store,
    /// Policies for listeners that do not override them.
    pub defaults: Policy,
    /// The listeners, in file order.
    pub listeners: Vec<Listener>,
    /// Test cases (`[[test]]`), run by `zlc test`; they do not change the binary.
    pub tests: Vec<TestCase>,
    /// Rust crates whose functions listeners name as handlers (`[crates]`).
    pub crates: Vec<CrateDecl>,
    /// What makes a channel message a command besides a mention (`!`).
    pub command_prefix: Option<Sp<String>>,
    /// Seconds of silence after which a conversation is over (default: an hour).
    pub conversation_timeout: Option<Sp<u64>>,
}

/// A crate of handlers: `name = "path"` under `[crates]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateDecl {
    /// The crate's name in Rust (its library name: `my_bot`, not `my-bot`).
    pub name: Sp<String>,
    /// Its folder, relative to the pipeline file.
    pub path: Sp<String>,
    /// Found on disk (by [`crate::crates::resolve`]): its package name and absolute folder.
    pub found: Option<(String, String)>,
}

/// One `[[test]]`: events in, expectations out. The case itself is kept as the JSON
/// the binary's `test` command reads (`zlc_runtime::pipetest::Case`); what the checks
/// need is beside it, with places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// Its name, as reports show it.
    pub name: Sp<String>,
    /// The case as JSON, in the runtime's shape.
    pub json: String,
    /// Every listener name the case refers to.
    pub listeners: Vec<Sp<String>>,
    /// The realm its events come from, when given.
    pub realm: Option<Sp<u32>>,
    /// Event files it reads (relative to the pipeline file).
    pub files: Vec<Sp<String>>,
    /// The `[[test]]` table.
    pub span: Span,
}

/// One realm connection: a Zulip site and a bot account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm {
    /// The number listeners' `realms = [...]` refer to.
    pub id: Sp<u32>,
    /// A label for logs and `list`.
    pub name: Option<String>,
    /// Where the credentials come from.
    pub credentials: Credentials,
    /// Receive messages of every public channel.
    pub all_public_streams: bool,
    /// The event queue's narrow: `(operator, operand)` terms a message must all match
    /// to be delivered at all (Zulip filters them out before they are sent).
    pub narrow: Vec<(String, String)>,
    /// `source = "push"`: Zulip pushes this realm's messages to `run --listen` (an
    /// outgoing-webhook bot) instead of being polled.
    pub push: bool,
    /// The environment variable holding a push realm's outgoing-webhook token
    /// (`token_env`; `None`: `ZULIP_WEBHOOK_TOKEN`).
    pub token_env: Option<String>,
    /// The `[[realm]]` table.
    pub span: Span,
}

/// Where a realm's credentials come from. Never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `$ZULIP_CONFIG`, `ZULIP_*` variables or `~/.zuliprc`, as the Python client does.
    Default,
    /// A zuliprc file.
    Zuliprc(String),
    /// Site and email in the file, the key in an environment variable.
    Explicit {
        /// Site URL.
        site: String,
        /// Bot email.
        email: String,
        /// Name of the environment variable holding the API key.
        api_key_env: String,
    },
}

/// `[store]`. No secret is ever part of it: a password comes at run time from
/// `password_env` or `password_file`, or the whole URL from `url_env`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Store {
    /// Database URL without a password; `None`: `sqlite://<pipeline>.db`.
    pub url: Option<Sp<String>>,
    /// Environment variable holding the whole URL, read at run time.
    pub url_env: Option<Sp<String>>,
    /// Environment variable holding the database password, read at run time.
    pub password_env: Option<Sp<String>>,
    /// File holding the database password, read at run time.
    pub password_file: Option<Sp<String>>,
    /// What goes to the event log.
    pub event_log: EventLog,
}

/// What the event log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventLog {
    /// Nothing.
    None,
    /// Failed jobs (and dead letters).
    #[default]
    Failures,
    /// Every matched event.
    All,
}

/// Timeouts, retries, breaker and concurrency; `None` falls back to `[defaults]`, then
/// to the built-in values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Per-attempt timeout of an action, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Retries after the first attempt.
    pub retries: Option<u32>,
    /// First backoff delay, in milliseconds.
    pub backoff_ms: Option<u64>,
    /// Largest backoff delay, in milliseconds.
    pub backoff_max_ms: Option<u64>,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_threshold: Option<u32>,
    /// How long the breaker stays open, in milliseconds.
    pub breaker_cooldown_ms: Option<u64>,
    /// Jobs of this listener running at once.
    pub concurrency: Option<u32>,
    /// Jobs of this listener waiting or running; at the bound, polling pauses.
    pub max_in_flight: Option<u32>,
    /// Events of one conversation reach the listener in order (`false`: any order).
    pub ordered: Option<bool>,
    /// Messages and reactions this listener may send into one conversation.
    pub limit_per_conversation: Option<RateLimit>,
    /// Messages and reactions this listener may send in answer to one sender.
    pub limit_per_sender: Option<RateLimit>,
}

/// At most `max` per `per_ms` milliseconds; `max == 0` means no limit (`"off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many.
    pub max: u32,
    /// In how long.
    pub per_ms: u64,
}

impl Policy {
    /// `self`, with unset values taken from `fallback`.
    pub fn or(&self, fallback: &Policy) -> Policy {
        Policy {
            timeout_ms: self.timeout_ms.or(fallback.timeout_ms),
            retries: self.retries.or(fallback.retries),
            backoff_ms: self.backoff_ms.or(fallback.backoff_ms),
            backoff_max_ms: self.backoff_max_ms.or(fallback.backoff_max_ms),
            breaker_threshold: self.breaker_threshold.or(fallback.breaker_threshold),
            breaker_cooldown_ms: self.breaker_cooldown_ms.or(fallback.breaker_cooldown_ms),
            concurrency: self.concurrency.or(fallback.concurrency),
            max_in_flight: self.max_in_flight.or(fallback.max_in_flight),
            ordered: self.ordered.or(fallback.ordered),
            limit_per_conversation: self
                .limit_per_conversation
                .or(fallback.limit_per_conversation),
            limit_per_sender: self.limit_per_sender.or(fallback.limit_per_sender),
        }
    }

    /// The built-in values.
    pub fn builtin() -> Policy {
        Policy {
            timeout_ms: Some(10_000),
            retries: Some(3),
            backoff_ms: Some(1_000),
            backoff_max_ms: Some(60_000),
            breaker_threshold: Some(5),
            breaker_cooldown_ms: Some(30_000),
            concurrency: Some(4),
            max_in_flight: Some(1000),
            ordered: Some(true),
            limit_per_conversation: Some(RateLimit {
                max: 20,
                per_ms: 60_000,
            }),
            limit_per_sender: Some(RateLimit {
                max: 10,
                per_ms: 60_000,
            }),
        }
    }
}

/// One listener: which events, which filters, which actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Unique name (statistics and `--listeners` use it).
    pub name: Sp<String>,
    /// What it does.
    pub description: String,
    /// The event types (and ops) it wants, groups expanded.
    pub events: Vec<Sp<EventSel>>,
    /// Realm ids; `None`: every realm.
    pub realms: Option<Vec<Sp<u32>>>,
    /// Per-event filters.
    pub filters: Filters,
    /// The list filters (channels, topics, senders, content) of its handler's
    /// `#[listener]`, which a message must pass too.
    pub handler_filters: Filters,
    /// Actions, run in order.
    pub actions: Vec<Sp<Action>>,
    /// Policy overrides.
    pub policy: Policy,
    /// Enabled when the binary starts (the store's dynamic config can change it).
    pub enabled: bool,
    /// `config` values handlers read (never secrets: they are compiled in).
    pub config: Vec<(String, String)>,
    /// The command it runs (`command = "deploy <environment>"`), if it is one.
    pub command: Option<Sp<CommandDecl>>,
    /// Who may run the command (empty: everyone).
    pub allowed: Vec<Sp<AllowedRule>>,
    /// `on_edit = "update"`: runs again when a message it matched is edited.
    pub on_edit: bool,
    /// `on_delete = "delete"`: deletes its answers when their message is deleted.
    pub on_delete: bool,
    /// A `[[schedule]]`: when it ticks (it takes no events).
    pub schedule: Option<ScheduleSpec>,
    /// Its step in a conversation.
    pub step: ConversationStep,
    /// zlc's own listener that answers messages addressed to the bot which run no
    /// command (help, unknown commands, usage errors); added when a pipeline has
    /// commands.
    pub answers_commands: bool,
    /// The `[[listener]]` table.
    pub span: Span,
}

/// An event type, with an op or all ops.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventSel {
    /// Zulip `type`.
    pub kind: String,
    /// Zulip `op`; `None`: any.
    pub op: Option<String>,
}

impl std::fmt::Display for EventSel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.op {
            Some(op) => write!(f, "{}:{op}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

/// Per-event filters. Empty lists and `None` mean "no condition".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    /// Channel names or ids (channel messages only).
    pub channels: Vec<Sp<ChannelRef>>,
    /// Topics, exact or `/regex/`.
    pub topics: Vec<Sp<TextMatch>>,
    /// Senders, by email or id.
    pub senders: Vec<Sp<SenderRef>>,
    /// Channel or direct messages only.
    pub message_type: Option<Sp<MessageKind>>,
    /// Only messages that mention the bot (true) or that do not (false).
    pub mentioned: Option<Sp<bool>>,
    /// A regex searched in the content.
    pub content: Option<Sp<String>>,
    /// Skip messages sent by bots.
    pub exclude_bots: Option<Sp<bool>>,
    /// Include the bot's own messages (skipped by default).
    pub include_own: Option<Sp<bool>>,
    /// Skip messages older than this many seconds (matters after a backfill).
    pub max_age_secs: Option<Sp<u64>>,
}

impl Filters {
    /// Names of the filters set, with their spans (for applicability checks).
    pub fn set(&self) -> Vec<(&'static str, Span)> {
        let mut v = Vec::new();
        if let Some(first) = self.channels.first() {
            v.push(("channels", first.span.clone()));
        }
        if let Some(first) = self.topics.first() {
            v.push(("topics", first.span.clone()));
        }
        if let Some(first) = self.senders.first() {
            v.push(("senders", first.span.clone()));
        }
        let mut opt = |name, span: Option<&Span>| {
            if let Some(s) = span {
                v.push((name, s.clone()));
            }
        };
        opt("message_type", self.message_type.as_ref().map(|s| &s.span));
        opt("mentioned", self.mentioned.as_ref().map(|s| &s.span));
        opt("content", self.content.as_ref().map(|s| &s.span));
        opt("exclude_bots", self.exclude_bots.as_ref().map(|s| &s.span));
        opt("include_own", self.include_own.as_ref().map(|s| &s.span));
        opt("max_age", self.max_age_secs.as_ref().map(|s| &s.span));
        v
    }
}

/// A channel by name or id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    /// By name.
    Name(String),
    /// By id.
    Id(i64),
}

/// A sender by email or id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderRef {
    /// By email.
    Email(String),
    /// By user id.
    Id(i64),
}

/// Text matched exactly or by regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    /// Equal (case-sensitive).
    Exact(String),
    /// A regex, searched.
    Regex(String),
}

/// Channel or direct message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Channel messages.
    Channel,
    /// Direct messages.
    Direct,
}

/// What a matched event causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Count matches, grouped by listener and optionally channel, sender, hour.
    Count {
        /// Extra grouping keys.
        by: Vec<CountKey>,
    },
    /// Log a line (the template, or a summary).
    Log {
        /// Line template.
        template: Option<Template>,
    },
    /// Send a message.
    Reply {
        /// Where.
        to: ReplyTo,
        /// Content template.
        template: Template,
    },
    /// Add an emoji reaction to the message.
    React {
        /// Emoji name.
        emoji: String,
    },
    /// Copy the message to a channel.
    Forward {
        /// Channel name.
        channel: String,
        /// Topic template (default: the original topic).
        topic: Option<Template>,
    },
    /// POST JSON to a fixed URL.
    Webhook {
        /// URL (its host is fixed here).
        url: String,
        /// JSON object of templated strings; `None`: the raw event.
        body: Option<Vec<(String, Template)>>,
        /// Environment variable with a bearer token, if any.
        token_env: Option<String>,
        /// Reply in the same conversation with this string field of the JSON response.
        reply_field: Option<String>,
        /// May reach private, loopback and link-local addresses (opt-in, per action).
        allow_private: bool,
    },
    /// Record the event in the event log.
    Store,
    /// Call a Rust function annotated with `#[listener]`.
    Handler {
        /// Its path: `crate::module::function` in a pipeline file, the bare name in the
        /// attribute (the function itself).
        function: String,
        /// Its HTTP calls may reach private, loopback and link-local addresses.
        allow_private: bool,
    },
}

/// Grouping keys of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CountKey {
    /// Channel name.
    Channel,
    /// Sender email.
    Sender,
    /// Hour bucket (always kept in statistics; listed for clarity).
    Hour,
}

/// Where a reply goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTo {
    /// The same conversation (channel and topic, or the direct-message group).
    Same,
    /// A fixed channel and topic.
    Channel {
        /// Channel name.
        channel: String,
        /// Topic template.
        topic: Template,
    },
    /// A direct message to the sender.
    Sender,
}

/// A text with `{{field}}` placeholders, parsed; fields are checked against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The text as written.
    pub source: String,
    /// Literal text and fields.
    pub segments: Vec<Segment>,
    /// Where it was written.
    pub span: Span,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text.
    Lit(String),
    /// A field, by its dotted name.
    Field(Sp<String>),
}

// ---------------------------------------------------------------------------------
// The vocabulary of pipelines. Every front end (the TOML file, the `#[listener]`
// attribute) reads values with these parsers, so the same word means the same thing,
// and the same mistake gets the same message, wherever it is written.
// ---------------------------------------------------------------------------------

impl EventSel {
    /// `"message"`, `"reaction:add"` or a group (`"@user"`), groups expanded. Whether
    /// the type and op exist is checked later ([`crate::check`]), with the valid lists.
    pub fn parse(text: &str) -> Vec<EventSel> {
        let text = text.trim();
        if let Some((_, members)) = crate::events::GROUPS.iter().find(|(g, _)| *g == text) {
            return members
                .iter()
                .map(|m| EventSel {
                    kind: (*m).to_owned(),
                    op: None,
                })
                .collect();
        }
        let (kind, op) = match text.split_once(':') {
            Some((k, o)) => (k, Some(o)),
            None => (text, None),
        };
        vec![EventSel {
            kind: kind.to_owned(),
            op: op.map(str::to_owned),
        }]
    }
}

impl TextMatch {
    /// `"/regex/"` is a regex; anything else is exact text.
    pub fn parse(text: &str) -> TextMatch {
        match text.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(re) if text.len() >= 2 => TextMatch::Regex(re.to_owned()),
            _ => TextMatch::Exact(text.to_owned()),
        }
    }
}

impl MessageKind {
    /// `"channel"` (or `"stream"`), `"direct"` (or `"private"`, `"dm"`).
    pub fn parse(text: &str) -> Result<MessageKind, Problem> {
        match text {
            "channel" | "stream" => Ok(MessageKind::Channel),
            "direct" | "private" | "dm" => Ok(MessageKind::Direct),
            other => Err(Problem::new(format!("unknown message_type `{other}`"))
                .help("one of: channel, direct")),
        }
    }
}

impl CountKey {
    /// `"channel"`, `"sender"` or `"hour"`.
    pub fn parse(text: &str) -> Result<CountKey, Problem> {
        match text {
            "channel" => Ok(CountKey::Channel),
            "sender" => Ok(CountKey::Sender),
            "hour" => Ok(CountKey::Hour),
            other => Err(Problem::new(format!("cannot count by `{other}`"))
                .help("one of: channel, sender, hour")),
        }
    }
}

impl EventLog {
    /// `"none"`, `"failures"` or `"all"`.
    pub fn parse(text: &str) -> Result<EventLog, Problem> {
        match text {
            "none" => Ok(EventLog::None),
            "failures" => Ok(EventLog::Failures),
            "all" => Ok(EventLog::All),
            other => Err(Problem::new(format!("unknown event_log `{other}`"))
                .help("one of: none, failures, all")),
        }
    }
}

/// Where a reply goes, before its channel and topic are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyTarget {
    /// The same conversation.
    Same,
    /// A direct message to the sender.
    Sender,
    /// A fixed channel and topic.
    Channel,
}

impl ReplyTarget {
    /// `"same"`, `"sender"` or `"channel"`.
    pub fn parse(text: &str) -> Result<ReplyTarget, Problem> {
        match text {
            "same" => Ok(ReplyTarget::Same),
            "sender" => Ok(ReplyTarget::Sender),
            "channel" => Ok(ReplyTarget::Channel),
            other => Err(Problem::new(format!("unknown reply target `{other}`"))
                .help("one of: same (the conversation), sender (a direct message), channel")),
        }
    }
}
