//! What a pipeline may name: the Zulip event types and ops (from the shared catalog,
//! `zlc-catalog`), the handler-family groups, and the template fields each type
//! provides.

/// Every (`type`, `op`) of the Zulip spec (`None` for types without an op), with the
/// runtime's `Event` variant for it and the variant's payload type: what a Rust handler
/// of those events takes as its argument. The catalog's table (`zlc-catalog`), the list
/// the runtime's `Event` is made from.
pub use zlc_catalog::VARIANTS;

/// Every (`type`, `op`) of the Zulip spec.
pub fn kinds() -> impl Iterator<Item = (&'static str, Option<&'static str>)> {
    VARIANTS.iter().map(|(k, op, _, _)| (*k, *op))
}

/// Handler families of the original design. The `@` keeps them from ever being
/// mistaken for a Zulip type.
pub const GROUPS: &[(&str, &[&str])] = &[
    ("@user", &["presence", "user_status", "realm_user"]),
    ("@channel", &["stream", "subscription"]),
];

/// The distinct event types, sorted.
pub fn types() -> Vec<&'static str> {
    let mut t: Vec<&str> = kinds().map(|(k, _)| k).collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// The ops of a type (empty for types without ops; `None` for unknown types).
pub fn ops_of(kind: &str) -> Option<Vec<&'static str>> {
    let ops: Vec<&str> = kinds()
        .filter(|(k, _)| *k == kind)
        .filter_map(|(_, op)| op)
        .collect();
    kinds().any(|(k, _)| k == kind).then_some(ops)
}

/// A template field: its name and the event types that have it (`None`: all types).
#[derive(Debug)]
pub struct FieldInfo {
    /// Dotted name used in templates.
    pub name: &'static str,
    /// The runtime's `Field` variant.
    pub variant: &'static str,
    /// Event types providing it; `None`: every type.
    pub types: Option<&'static [&'static str]>,
}

const MESSAGE: &[&str] = &["message"];
/// A schedule's tick ([`crate::check::SCHEDULE_KIND`]).
const SCHEDULE: &[&str] = &["schedule"];

/// Every field templates may use.
pub const FIELDS: &[FieldInfo] = &[
    FieldInfo {
        name: "event.type",
        variant: "EventType",
        types: None,
    },
    FieldInfo {
        name: "event.op",
        variant: "EventOp",
        types: None,
    },
    FieldInfo {
        name: "event.id",
        variant: "EventId",
        types: None,
    },
    FieldInfo {
        name: "event.json",
        variant: "EventJson",
        types: None,
    },
    FieldInfo {
        name: "listener.name",
        variant: "ListenerName",
        types: None,
    },
    FieldInfo {
        name: "realm.id",
        variant: "RealmId",
        types: None,
    },
    FieldInfo {
        name: "realm.name",
        variant: "RealmName",
        types: None,
    },
    FieldInfo {
        name: "message.id",
        variant: "MessageId",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "message.content",
        variant: "MessageContent",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "message.topic",
        variant: "MessageTopic",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "message.channel",
        variant: "MessageChannel",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "message.channel_id",
        variant: "MessageChannelId",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "message.type",
        variant: "MessageType",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "message.timestamp",
        variant: "MessageTimestamp",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "message.link",
        variant: "MessageLink",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "sender.id",
        variant: "SenderId",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "sender.email",
        variant: "SenderEmail",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "sender.name",
        variant: "SenderName",
        types: Some(MESSAGE),
    },
    FieldInfo {
        name: "user.id",
        variant: "UserId",
        types: Some(&[
            "reaction",
            "presence",
            "user_status",
            "realm_user",
            "typing",
        ]),
    },
    FieldInfo {
        name: "user.email",
        variant: "UserEmail",
        types: Some(&["reaction", "presence", "realm_user"]),
    },
    FieldInfo {
        name: "user.name",
        variant: "UserName",
        types: Some(&["reaction", "realm_user"]),
    },
    FieldInfo {
        name: "reaction.emoji",
        variant: "ReactionEmoji",
        types: Some(&["reaction"]),
    },
    FieldInfo {
        name: "reaction.message_id",
        variant: "ReactionMessageId",
        types: Some(&["reaction"]),
    },
    FieldInfo {
        name: "status.text",
        variant: "StatusText",
        types: Some(&["user_status"]),
    },
    FieldInfo {
        name: "presence.status",
        variant: "PresenceStatus",
        types: Some(&["presence"]),
    },
    FieldInfo {
        name: "channel.name",
        variant: "ChannelName",
        types: Some(&["stream", "subscription"]),
    },
    FieldInfo {
        name: "schedule.name",
        variant: "ScheduleName",
        types: Some(SCHEDULE),
    },
    FieldInfo {
        name: "tick.time",
        variant: "TickTime",
        types: Some(SCHEDULE),
    },
    FieldInfo {
        name: "tick.date",
        variant: "TickDate",
        types: Some(SCHEDULE),
    },
    FieldInfo {
        name: "tick.weekday",
        variant: "TickWeekday",
        types: Some(SCHEDULE),
    },
    FieldInfo {
        name: "tick.late",
        variant: "TickLate",
        types: Some(SCHEDULE),
    },
    FieldInfo {
        name: "digest.channels",
        variant: "DigestChannels",
        types: Some(SCHEDULE),
    },
    FieldInfo {
        name: "digest.messages",
        variant: "DigestMessages",
        types: Some(SCHEDULE),
    },
    FieldInfo {
        name: "digest.since",
        variant: "DigestSince",
        types: Some(SCHEDULE),
    },
];

/// The field named `name`.
pub fn field(name: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.name == name)
}
