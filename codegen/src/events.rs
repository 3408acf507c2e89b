//! The catalog of Zulip event types and ops a pipeline may name, the handler-family
//! groups, and the template fields each type provides. The runtime's `Event::KNOWN` is
//! the same list (a test in the CLI keeps them in step).

/// Every (`type`, `op`) of the Zulip spec, `None` for types without an op.
pub const EVENT_KINDS: &[(&str, Option<&str>)] = &[
    ("message", None),
    ("heartbeat", None),
    ("alert_words", None),
    ("update_display_settings", None),
    ("update_global_notifications", None),
    ("user_settings", Some("update")),
    ("realm_user", Some("update")),
    ("realm_user", Some("add")),
    ("realm_user", Some("remove")),
    ("subscription", Some("add")),
    ("subscription", Some("remove")),
    ("subscription", Some("update")),
    ("subscription", Some("peer_add")),
    ("subscription", Some("peer_remove")),
    ("has_zoom_token", None),
    ("invites_changed", None),
    ("presence", None),
    ("stream", Some("create")),
    ("stream", Some("delete")),
    ("stream", Some("update")),
    ("reaction", Some("add")),
    ("reaction", Some("remove")),
    ("attachment", Some("add")),
    ("attachment", Some("update")),
    ("attachment", Some("remove")),
    ("submessage", None),
    ("user_status", None),
    ("custom_profile_fields", None),
    ("default_stream_groups", None),
    ("default_streams", None),
    ("delete_message", None),
    ("muted_topics", None),
    ("user_topic", None),
    ("muted_users", None),
    ("onboarding_steps", None),
    ("update_message", None),
    ("typing", Some("start")),
    ("typing", Some("stop")),
    ("typing_edit_message", Some("start")),
    ("typing_edit_message", Some("stop")),
    ("update_message_flags", Some("add")),
    ("update_message_flags", Some("remove")),
    ("user_group", Some("add")),
    ("user_group", Some("update")),
    ("user_group", Some("add_members")),
    ("user_group", Some("remove_members")),
    ("user_group", Some("add_subgroups")),
    ("user_group", Some("remove_subgroups")),
    ("user_group", Some("remove")),
    ("realm_linkifiers", None),
    ("realm_filters", None),
    ("realm_playgrounds", None),
    ("realm_emoji", Some("update")),
    ("realm_domains", Some("add")),
    ("realm_domains", Some("change")),
    ("realm_domains", Some("remove")),
    ("realm_export", None),
    ("realm_export_consent", None),
    ("realm_bot", Some("add")),
    ("realm_bot", Some("update")),
    ("realm_bot", Some("remove")),
    ("realm_bot", Some("delete")),
    ("realm", Some("update")),
    ("realm", Some("deactivated")),
    ("realm", Some("update_dict")),
    ("restart", None),
    ("web_reload_client", None),
    ("realm_user_settings_defaults", Some("update")),
    ("drafts", Some("add")),
    ("drafts", Some("update")),
    ("drafts", Some("remove")),
    ("saved_snippets", Some("add")),
    ("saved_snippets", Some("update")),
    ("saved_snippets", Some("remove")),
    ("scheduled_messages", Some("add")),
    ("scheduled_messages", Some("update")),
    ("scheduled_messages", Some("remove")),
];

/// Handler families of the original design. The `@` keeps them from ever being
/// mistaken for a Zulip type.
pub const GROUPS: &[(&str, &[&str])] = &[
    ("@user", &["presence", "user_status", "realm_user"]),
    ("@channel", &["stream", "subscription"]),
];

/// The distinct event types, sorted.
pub fn types() -> Vec<&'static str> {
    let mut t: Vec<&str> = EVENT_KINDS.iter().map(|(k, _)| *k).collect();
    t.sort_unstable();
    t.dedup();
    t
}

/// The ops of a type (empty for types without ops; `None` for unknown types).
pub fn ops_of(kind: &str) -> Option<Vec<&'static str>> {
    let ops: Vec<&str> = EVENT_KINDS
        .iter()
        .filter(|(k, _)| *k == kind)
        .filter_map(|(_, op)| *op)
        .collect();
    EVENT_KINDS.iter().any(|(k, _)| *k == kind).then_some(ops)
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
];

/// The field named `name`.
pub fn field(name: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.name == name)
}
