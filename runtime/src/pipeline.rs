//! Static descriptions of a compiled pipeline: what the generated code hands the
//! runtime. Plain data with `'static` strings, so that generated crates build them as
//! constants and the runtime's machinery stays non-generic (fast rebuilds).

use std::time::Duration;

use crate::command::Commands;
use crate::template::Seg;

/// A compiled pipeline.
#[derive(Debug)]
pub struct PipelineDesc {
    /// Name (the binary's name).
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// The zlc version that generated it.
    pub zlc_version: &'static str,
    /// Realm connections.
    pub realms: &'static [RealmDesc],
    /// Where the store is, as the file says (never with a secret in it).
    pub store: StoreDesc,
    /// What goes to the event log.
    pub event_log: EventLogMode,
    /// Listeners, indexed as the dispatch function indexes them.
    pub listeners: &'static [ListenerDesc],
    /// The commands its listeners declare, and its command prefix.
    pub commands: Commands,
    /// Its `[[schedule]]`s (each runs the actions of a listener without events).
    pub schedules: &'static [ScheduleDesc],
    /// Seconds of silence after which a conversation is over.
    pub conversation_timeout: i64,
}

/// A `[[schedule]]`: when it ticks, and the listener whose actions each tick runs.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleDesc {
    /// Its listener (an index into `listeners`).
    pub listener: usize,
    /// `("every", "weekday 09:00")` or `("cron", "0 9 * * 1-5")`, as written.
    pub when: (&'static str, &'static str),
    /// IANA time zone name.
    pub timezone: &'static str,
    /// After downtime the last missed tick runs once, late (else it is skipped).
    pub catch_up: bool,
    /// The listener whose `count` statistics (by channel) `digest.*` fields read.
    pub digest_of: Option<&'static str>,
}

impl ScheduleDesc {
    /// No schedule (a placeholder while a table is put together).
    pub const NONE: ScheduleDesc = ScheduleDesc {
        listener: 0,
        when: ("every", ""),
        timezone: "UTC",
        catch_up: false,
        digest_of: None,
    };

    /// When it ticks, read as the compiler read it.
    pub fn when(&self) -> Result<zlc_catalog::schedule::When, String> {
        match self.when {
            ("cron", text) => zlc_catalog::schedule::parse_cron(text),
            (_, text) => zlc_catalog::schedule::parse_every(text),
        }
    }
}

/// One realm connection.
#[derive(Debug)]
pub struct RealmDesc {
    /// The pipeline's number for it.
    pub id: u32,
    /// A label.
    pub name: Option<&'static str>,
    /// Where its credentials come from.
    pub credentials: CredentialsDesc,
    /// Receive every public channel's messages.
    pub all_public_streams: bool,
    /// The event queue's narrow (`[operator, operand]` terms, all of which a message
    /// must match to be delivered); empty: every message the bot receives.
    pub narrow: &'static [(&'static str, &'static str)],
    /// `source = "push"`: Zulip pushes its messages to `run --listen` (an
    /// outgoing-webhook bot); it is not polled.
    pub push: bool,
    /// The environment variable holding its outgoing-webhook token (`None`:
    /// `ZULIP_WEBHOOK_TOKEN`).
    pub token_env: Option<&'static str>,
}

/// `[store]`: the URL, or where to read it, and where its password comes from.
#[derive(Debug, Default)]
pub struct StoreDesc {
    /// URL without a password.
    pub url: Option<&'static str>,
    /// Environment variable holding the whole URL.
    pub url_env: Option<&'static str>,
    /// Environment variable holding the password.
    pub password_env: Option<&'static str>,
    /// File holding the password.
    pub password_file: Option<&'static str>,
}

/// Where credentials come from (never the key itself).
#[derive(Debug)]
pub enum CredentialsDesc {
    /// `$ZULIP_CONFIG`, `ZULIP_*` or `~/.zuliprc`.
    Default,
    /// A zuliprc path.
    Zuliprc(&'static str),
    /// Site and email, key from an environment variable.
    Explicit {
        /// Site.
        site: &'static str,
        /// Email.
        email: &'static str,
        /// Variable holding the key.
        api_key_env: &'static str,
    },
}

/// What the event log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLogMode {
    /// Nothing.
    None,
    /// Failed jobs.
    Failures,
    /// Every matched event.
    All,
}

/// One listener.
#[derive(Debug)]
pub struct ListenerDesc {
    /// Name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Event selectors as written (`message`, `reaction:add`).
    pub events: &'static [&'static str],
    /// Realms; `None`: all.
    pub realms: Option<&'static [u32]>,
    /// Enabled at start.
    pub enabled: bool,
    /// Filters in words, for `list --config`.
    pub filters: &'static str,
    /// Retry, timeout, breaker, concurrency.
    pub policy: PolicyDesc,
    /// `config` values handlers read (`Context::config`), as the pipeline declares them.
    pub config: &'static [(&'static str, &'static str)],
    /// Actions in order.
    pub actions: &'static [ActionDesc],
    /// The pipeline's commands (the same for every listener of it), which its
    /// templates' `args.*` and command answers are read with.
    pub commands: Commands,
    /// The command (an index into `commands.specs`) this listener runs, if it is one.
    pub command: Option<usize>,
    /// `on_edit = "update"`: when a message it matched is edited, it runs again on the
    /// new text and updates its answer (or deletes it, when the edit no longer matches).
    pub on_edit: bool,
    /// `on_delete = "delete"`: when a message it answered is deleted, so is the answer.
    pub on_delete: bool,
    /// The steps of a conversation it takes (none: it takes none).
    pub conversation: ConversationDesc,
}

/// A listener's step in a conversation: the state it requires, the state it leaves the
/// conversation in, and what it remembers in it.
#[derive(Debug, Clone, Copy)]
pub struct ConversationDesc {
    /// It runs only in a conversation in this state (`in_state`).
    pub in_state: Option<&'static str>,
    /// The state it leaves the conversation in when it matches (`next_state`; `"end"`:
    /// the conversation is over).
    pub next_state: Option<&'static str>,
    /// Values it remembers in the conversation when it matches: name, template.
    pub remember: &'static [(&'static str, &'static [crate::template::Seg])],
    /// Its templates read the conversation (`conversation.*`).
    pub reads: bool,
}

impl ConversationDesc {
    /// No part in any conversation.
    pub const NONE: ConversationDesc = ConversationDesc {
        in_state: None,
        next_state: None,
        remember: &[],
        reads: false,
    };

    /// Whether it takes any part in a conversation.
    pub fn takes_part(&self) -> bool {
        self.in_state.is_some()
            || self.next_state.is_some()
            || !self.remember.is_empty()
            || self.reads
    }
}

impl PipelineDesc {
    /// A pipeline of `listeners` and nothing else: no realm, the default store, failures
    /// logged (for tests, and for descriptions built by hand).
    pub const fn stand_in(name: &'static str, listeners: &'static [ListenerDesc]) -> Self {
        PipelineDesc {
            name,
            description: "",
            zlc_version: "0",
            realms: &[],
            store: StoreDesc {
                url: None,
                url_env: None,
                password_env: None,
                password_file: None,
            },
            event_log: EventLogMode::Failures,
            listeners,
            commands: Commands::NONE,
            schedules: &[],
            conversation_timeout: 3600,
        }
    }

    /// The event types the listeners take, sorted.
    pub fn event_types(&self) -> Vec<String> {
        self.event_types_for(&vec![true; self.listeners.len()])
    }

    /// The event types the listeners marked in `listeners` take (by index), sorted: what
    /// a connection running them registers its queue for. Whether a listener is
    /// enabled does not matter: enabling one while running needs no new queue.
    pub fn event_types_for(&self, listeners: &[bool]) -> Vec<String> {
        let mut types: Vec<String> = self
            .listeners
            .iter()
            .zip(listeners)
            .filter(|(_, on)| **on)
            .flat_map(|(l, _)| l.events.iter())
            .map(|e| e.split(':').next().unwrap_or(e).to_owned())
            .collect();
        // Commands for some roles only follow the people's roles.
        if self.commands.by_role {
            types.push("realm_user".into());
        }
        // Commands for some groups only follow the groups.
        if self.commands.by_group {
            types.push("user_group".into());
        }
        // Answers that follow their message learn of its edits and deletions.
        let chosen = || self.listeners.iter().zip(listeners).filter(|(_, on)| **on);
        if chosen().any(|(l, _)| l.on_edit) {
            types.push("update_message".into());
        }
        if chosen().any(|(l, _)| l.on_delete) {
            types.push("delete_message".into());
        }
        // A conversation follows its topic when the topic is renamed or moved.
        if chosen().any(|(l, _)| l.conversation.takes_part()) {
            types.push("update_message".into());
        }
        types.sort_unstable();
        types.dedup();
        types
    }
}

impl ListenerDesc {
    /// An inert listener, standing in for one whose `#[listener]` has errors (so that
    /// `pipeline!` naming it adds no errors of its own).
    #[doc(hidden)]
    pub const fn stand_in(name: &'static str) -> Self {
        ListenerDesc {
            name,
            description: "",
            events: &[],
            realms: None,
            enabled: false,
            filters: "",
            policy: PolicyDesc {
                timeout_ms: 0,
                retries: 0,
                backoff_ms: 0,
                backoff_max_ms: 0,
                breaker_threshold: 0,
                breaker_cooldown_ms: 0,
                concurrency: 1,
                max_in_flight: 1000,
                ordered: true,
                limit_per_conversation: RateLimitDesc { max: 0, per_ms: 0 },
                limit_per_sender: RateLimitDesc { max: 0, per_ms: 0 },
            },
            config: &[],
            actions: &[],
            commands: Commands::NONE,
            command: None,
            on_edit: false,
            on_delete: false,
            conversation: ConversationDesc::NONE,
        }
    }

    /// Whether its answers follow their message (edits or deletions).
    pub fn follows_its_message(&self) -> bool {
        self.on_edit || self.on_delete
    }

    /// Whether any action does I/O (and so runs as a job).
    pub fn has_jobs(&self) -> bool {
        self.actions.iter().any(ActionDesc::is_io)
    }

    /// The index of the first action that does I/O: the actions from there on run as
    /// a job, in order; the cheap ones before it run at dispatch.
    pub fn first_io(&self) -> Option<usize> {
        self.actions.iter().position(ActionDesc::is_io)
    }
}

/// Resolved policy of a listener.
#[derive(Debug, Clone, Copy)]
pub struct PolicyDesc {
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff delay.
    pub backoff_ms: u64,
    /// Largest backoff delay.
    pub backoff_max_ms: u64,
    /// Consecutive failures that open the breaker (0: never).
    pub breaker_threshold: u32,
    /// How long it stays open.
    pub breaker_cooldown_ms: u64,
    /// Jobs at once.
    pub concurrency: u32,
    /// Jobs waiting or running; at the bound, polling pauses.
    pub max_in_flight: u32,
    /// Events of one conversation reach the listener in order.
    pub ordered: bool,
    /// Messages and reactions sent into one conversation.
    pub limit_per_conversation: RateLimitDesc,
    /// Messages and reactions sent in answer to one sender.
    pub limit_per_sender: RateLimitDesc,
}

impl PolicyDesc {
    /// The built-in policy (a pipeline file's defaults when `[defaults]` sets none).
    pub const DEFAULT: PolicyDesc = PolicyDesc {
        timeout_ms: 10_000,
        retries: 3,
        backoff_ms: 1_000,
        backoff_max_ms: 60_000,
        breaker_threshold: 5,
        breaker_cooldown_ms: 30_000,
        concurrency: 4,
        max_in_flight: 1000,
        ordered: true,
        limit_per_conversation: RateLimitDesc {
            max: 20,
            per_ms: 60_000,
        },
        limit_per_sender: RateLimitDesc {
            max: 10,
            per_ms: 60_000,
        },
    };
}

/// At most `max` per `per_ms` milliseconds; `max == 0`: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDesc {
    /// How many.
    pub max: u32,
    /// In how long.
    pub per_ms: u64,
}

impl PolicyDesc {
    /// The timeout as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// One action.
#[derive(Debug)]
pub enum ActionDesc {
    /// Count matches (inline).
    Count {
        /// Group by channel.
        by_channel: bool,
        /// Group by sender.
        by_sender: bool,
    },
    /// Log a line (inline).
    Log {
        /// Template; `None`: a summary.
        template: Option<&'static [Seg]>,
    },
    /// Record in the event log (inline, flushed in batches).
    Store,
    /// Send a message (job).
    Reply {
        /// Where.
        to: ReplyDesc,
        /// Content.
        template: &'static [Seg],
    },
    /// React to the message (job).
    React {
        /// Emoji name.
        emoji: &'static str,
    },
    /// Copy the message to a channel (job).
    Forward {
        /// Channel.
        channel: &'static str,
        /// Topic; `None`: the original.
        topic: Option<&'static [Seg]>,
    },
    /// Run a Rust function (job). The description names it; the code that calls it is
    /// handed to the runtime beside the description (the pipeline's handler table).
    Handler {
        /// The function's path, for messages.
        function: &'static str,
        /// Its HTTP calls may reach private, loopback and link-local addresses.
        allow_private: bool,
    },
    /// POST JSON (job).
    Webhook {
        /// URL.
        url: &'static str,
        /// Body fields; `None`: the raw event.
        body: Option<&'static [(&'static str, &'static [Seg])]>,
        /// Environment variable with a bearer token.
        token_env: Option<&'static str>,
        /// Reply with this string field of the JSON response.
        reply_field: Option<&'static str>,
        /// May reach private, loopback and link-local addresses.
        allow_private: bool,
    },
}

impl ActionDesc {
    /// Whether it does I/O.
    pub fn is_io(&self) -> bool {
        !matches!(
            self,
            ActionDesc::Count { .. } | ActionDesc::Log { .. } | ActionDesc::Store
        )
    }

    /// Whether all it does is post to Zulip (a reply, a reaction, a forward).
    pub fn posts_only_to_zulip(&self) -> bool {
        matches!(
            self,
            ActionDesc::Reply { .. } | ActionDesc::React { .. } | ActionDesc::Forward { .. }
        )
    }

    /// Whether it posts to Zulip (and so is rate limited): replies, reactions, forwards,
    /// and webhooks whose answer is posted back.
    pub fn posts_to_zulip(&self) -> bool {
        matches!(
            self,
            ActionDesc::Reply { .. }
                | ActionDesc::React { .. }
                | ActionDesc::Forward { .. }
                | ActionDesc::Webhook {
                    reply_field: Some(_),
                    ..
                }
        )
    }

    /// A short name.
    pub fn kind(&self) -> &'static str {
        match self {
            ActionDesc::Count { .. } => "count",
            ActionDesc::Log { .. } => "log",
            ActionDesc::Store => "store",
            ActionDesc::Reply { .. } => "reply",
            ActionDesc::React { .. } => "react",
            ActionDesc::Forward { .. } => "forward",
            ActionDesc::Webhook { .. } => "webhook",
            ActionDesc::Handler { .. } => "handler",
        }
    }
}

/// Where a reply goes.
#[derive(Debug)]
pub enum ReplyDesc {
    /// The same conversation.
    Same,
    /// A direct message to the sender.
    Sender,
    /// A fixed channel and topic.
    Channel {
        /// Channel.
        channel: &'static str,
        /// Topic template.
        topic: &'static [Seg],
    },
}
