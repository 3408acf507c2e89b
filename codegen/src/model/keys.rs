//! The keys each part of a pipeline accepts.

/// Tables of a pipeline file.
pub const TOP: &[&str] = &[
    "pipeline", "crates", "realm", "store", "defaults", "listener", "schedule", "test",
];
/// `[[schedule]]`'s own keys (policies come on top).
pub const SCHEDULE: &[&str] = &[
    "name",
    "description",
    "every",
    "cron",
    "timezone",
    "catch_up",
    "realm",
    "enabled",
    "digest_of",
    "config",
    "action",
];
/// `[[test]]`.
pub const TEST: &[&str] = &[
    "name", "realm", "clock", "event", "http", "config", "expect",
];
/// A message written in a test's `[[test.event]]` (the harness's `MessageSpec`).
pub const TEST_MESSAGE: &[&str] = &[
    "id",
    "channel",
    "channel_id",
    "topic",
    "sender",
    "sender_name",
    "sender_id",
    "direct_to",
    "content",
    "timestamp",
    "mentioned",
    "sender_role",
    "sender_groups",
];
/// `[test.expect]`.
pub const EXPECT: &[&str] = &[
    "matched",
    "not_matched",
    "messages",
    "edits",
    "deleted",
    "reactions",
    "webhooks",
    "counts",
    "state",
    "dead_letters",
];
/// An entry of `expect.messages`, `expect.edits` and `expect.deleted`.
pub const EXPECT_MESSAGE: &[&str] = &["to", "text", "contains", "listener"];
/// An entry of `expect.reactions`.
pub const EXPECT_REACTION: &[&str] = &["emoji", "message_id", "listener"];
/// An entry of `expect.webhooks`.
pub const EXPECT_WEBHOOK: &[&str] = &["listener", "url", "method", "body"];
/// An entry of `expect.counts`.
pub const EXPECT_COUNT: &[&str] = &["listener", "n", "channel", "sender", "name"];
/// An entry of `expect.state`.
pub const EXPECT_STATE: &[&str] = &["listener", "key", "value"];
/// `[pipeline]`.
pub const PIPELINE: &[&str] = &[
    "name",
    "description",
    "command_prefix",
    "conversation_timeout",
];
/// `[[realm]]`.
pub const REALM: &[&str] = &[
    "id",
    "name",
    "zuliprc",
    "site",
    "email",
    "api_key_env",
    "all_public_streams",
    "narrow",
    "source",
    "token_env",
];
/// `[store]`.
pub const STORE: &[&str] = &[
    "url",
    "url_env",
    "password_env",
    "password_file",
    "event_log",
];
/// Policies (`[defaults]` and every listener).
pub const POLICY: &[&str] = &[
    "timeout",
    "retries",
    "backoff",
    "backoff_max",
    "breaker_threshold",
    "breaker_cooldown",
    "concurrency",
    "max_in_flight",
    "ordered",
    "limit_per_conversation",
    "limit_per_sender",
];
/// A listener's own keys (policies come on top).
pub const LISTENER: &[&str] = &[
    "name",
    "description",
    "events",
    "realms",
    "enabled",
    "channels",
    "topics",
    "senders",
    "message_type",
    "mentioned",
    "content",
    "exclude_bots",
    "include_own",
    "max_age",
    "handler",
    "allow_private",
    "config",
    "command",
    "allowed",
    "on_edit",
    "on_delete",
    "in_state",
    "next_state",
    "remember",
    "action",
];
/// Action types.
pub const ACTION_TYPES: &[&str] = &[
    "count", "log", "reply", "react", "forward", "webhook", "store", "handler",
];

/// The keys of an action of type `kind`, or `None` for an unknown type.
pub fn action(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "count" => &["type", "by"],
        "log" => &["type", "template"],
        "reply" => &["type", "to", "channel", "topic", "template"],
        "react" => &["type", "emoji"],
        "forward" => &["type", "channel", "topic"],
        "webhook" => &[
            "type",
            "url",
            "body",
            "token_env",
            "reply_field",
            "allow_private",
        ],
        "store" => &["type"],
        "handler" => &["type", "function", "allow_private"],
        _ => return None,
    })
}
