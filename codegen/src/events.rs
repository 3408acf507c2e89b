//! The catalog of Zulip event types and ops a pipeline may name, the handler-family
//! groups, and the template fields each type provides.

/// Every (`type`, `op`) of the Zulip spec (`None` for types without an op), with the
/// runtime's `Event` variant for it and the variant's payload type: what a Rust handler
/// of those events takes as its argument. The runtime's `Event::VARIANTS` is the same
/// table (a test in the CLI keeps them in step).
pub const VARIANTS: &[(&str, Option<&str>, &str, &str)] = &[
    ("message", None, "Message", "MessageEvent<'a>"),
    ("heartbeat", None, "Heartbeat", "Heartbeat"),
    ("alert_words", None, "AlertWords", "AlertWords"),
    (
        "update_display_settings",
        None,
        "UpdateDisplaySettings",
        "UpdateDisplaySettings",
    ),
    (
        "update_global_notifications",
        None,
        "UpdateGlobalNotifications",
        "UpdateGlobalNotifications",
    ),
    (
        "user_settings",
        Some("update"),
        "UserSettingsUpdate",
        "UserSettingsUpdate",
    ),
    (
        "realm_user",
        Some("update"),
        "RealmUserUpdate",
        "RealmUserUpdate",
    ),
    ("realm_user", Some("add"), "RealmUserAdd", "RealmUserAdd"),
    (
        "realm_user",
        Some("remove"),
        "RealmUserRemove",
        "RealmUserRemove",
    ),
    (
        "subscription",
        Some("add"),
        "SubscriptionAdd",
        "SubscriptionAdd",
    ),
    (
        "subscription",
        Some("remove"),
        "SubscriptionRemove",
        "SubscriptionRemove",
    ),
    (
        "subscription",
        Some("update"),
        "SubscriptionUpdate",
        "SubscriptionUpdate",
    ),
    (
        "subscription",
        Some("peer_add"),
        "SubscriptionPeerAdd",
        "SubscriptionPeerAdd",
    ),
    (
        "subscription",
        Some("peer_remove"),
        "SubscriptionPeerRemove",
        "SubscriptionPeerRemove",
    ),
    ("has_zoom_token", None, "HasZoomToken", "HasZoomToken"),
    ("invites_changed", None, "InvitesChanged", "InvitesChanged"),
    ("presence", None, "Presence", "Presence"),
    ("stream", Some("create"), "StreamCreate", "StreamCreate"),
    ("stream", Some("delete"), "StreamDelete", "StreamDelete"),
    ("stream", Some("update"), "StreamUpdate", "StreamUpdate"),
    ("reaction", Some("add"), "ReactionAdd", "Reaction"),
    ("reaction", Some("remove"), "ReactionRemove", "Reaction"),
    (
        "attachment",
        Some("add"),
        "AttachmentAdd",
        "AttachmentChange",
    ),
    (
        "attachment",
        Some("update"),
        "AttachmentUpdate",
        "AttachmentChange",
    ),
    (
        "attachment",
        Some("remove"),
        "AttachmentRemove",
        "AttachmentChange",
    ),
    ("submessage", None, "Submessage", "Submessage"),
    ("user_status", None, "UserStatus", "UserStatus"),
    (
        "custom_profile_fields",
        None,
        "CustomProfileFields",
        "CustomProfileFields",
    ),
    (
        "default_stream_groups",
        None,
        "DefaultStreamGroups",
        "DefaultStreamGroups",
    ),
    ("default_streams", None, "DefaultStreams", "DefaultStreams"),
    ("delete_message", None, "DeleteMessage", "DeleteMessage"),
    ("muted_topics", None, "MutedTopics", "MutedTopics"),
    ("user_topic", None, "UserTopic", "UserTopic"),
    ("muted_users", None, "MutedUsers", "MutedUsers"),
    (
        "onboarding_steps",
        None,
        "OnboardingSteps",
        "OnboardingSteps",
    ),
    ("update_message", None, "UpdateMessage", "UpdateMessage"),
    ("typing", Some("start"), "TypingStart", "Typing"),
    ("typing", Some("stop"), "TypingStop", "Typing"),
    (
        "typing_edit_message",
        Some("start"),
        "TypingEditMessageStart",
        "TypingEditMessage",
    ),
    (
        "typing_edit_message",
        Some("stop"),
        "TypingEditMessageStop",
        "TypingEditMessage",
    ),
    (
        "update_message_flags",
        Some("add"),
        "UpdateMessageFlagsAdd",
        "UpdateMessageFlags",
    ),
    (
        "update_message_flags",
        Some("remove"),
        "UpdateMessageFlagsRemove",
        "UpdateMessageFlags",
    ),
    ("user_group", Some("add"), "UserGroupAdd", "UserGroupAdd"),
    (
        "user_group",
        Some("update"),
        "UserGroupUpdate",
        "UserGroupUpdate",
    ),
    (
        "user_group",
        Some("add_members"),
        "UserGroupAddMembers",
        "UserGroupMembers",
    ),
    (
        "user_group",
        Some("remove_members"),
        "UserGroupRemoveMembers",
        "UserGroupMembers",
    ),
    (
        "user_group",
        Some("add_subgroups"),
        "UserGroupAddSubgroups",
        "UserGroupSubgroups",
    ),
    (
        "user_group",
        Some("remove_subgroups"),
        "UserGroupRemoveSubgroups",
        "UserGroupSubgroups",
    ),
    (
        "user_group",
        Some("remove"),
        "UserGroupRemove",
        "UserGroupRemove",
    ),
    (
        "realm_linkifiers",
        None,
        "RealmLinkifiers",
        "RealmLinkifiers",
    ),
    ("realm_filters", None, "RealmFilters", "RealmFilters"),
    (
        "realm_playgrounds",
        None,
        "RealmPlaygrounds",
        "RealmPlaygrounds",
    ),
    (
        "realm_emoji",
        Some("update"),
        "RealmEmojiUpdate",
        "RealmEmojiUpdate",
    ),
    (
        "realm_domains",
        Some("add"),
        "RealmDomainsAdd",
        "RealmDomainsChange",
    ),
    (
        "realm_domains",
        Some("change"),
        "RealmDomainsChange",
        "RealmDomainsChange",
    ),
    (
        "realm_domains",
        Some("remove"),
        "RealmDomainsRemove",
        "RealmDomainsRemove",
    ),
    ("realm_export", None, "RealmExport", "RealmExport"),
    (
        "realm_export_consent",
        None,
        "RealmExportConsent",
        "RealmExportConsent",
    ),
    ("realm_bot", Some("add"), "RealmBotAdd", "RealmBot"),
    ("realm_bot", Some("update"), "RealmBotUpdate", "RealmBot"),
    ("realm_bot", Some("remove"), "RealmBotRemove", "RealmBot"),
    ("realm_bot", Some("delete"), "RealmBotDelete", "RealmBot"),
    ("realm", Some("update"), "RealmUpdate", "RealmUpdate"),
    (
        "realm",
        Some("deactivated"),
        "RealmDeactivated",
        "RealmDeactivated",
    ),
    (
        "realm",
        Some("update_dict"),
        "RealmUpdateDict",
        "RealmUpdateDict",
    ),
    ("restart", None, "Restart", "Restart"),
    (
        "web_reload_client",
        None,
        "WebReloadClient",
        "WebReloadClient",
    ),
    (
        "realm_user_settings_defaults",
        Some("update"),
        "RealmUserSettingsDefaultsUpdate",
        "RealmUserSettingsDefaultsUpdate",
    ),
    ("drafts", Some("add"), "DraftsAdd", "DraftsAdd"),
    ("drafts", Some("update"), "DraftsUpdate", "DraftsUpdate"),
    ("drafts", Some("remove"), "DraftsRemove", "DraftsRemove"),
    (
        "saved_snippets",
        Some("add"),
        "SavedSnippetsAdd",
        "SavedSnippetsAdd",
    ),
    (
        "saved_snippets",
        Some("update"),
        "SavedSnippetsUpdate",
        "SavedSnippetsUpdate",
    ),
    (
        "saved_snippets",
        Some("remove"),
        "SavedSnippetsRemove",
        "SavedSnippetsRemove",
    ),
    (
        "scheduled_messages",
        Some("add"),
        "ScheduledMessagesAdd",
        "ScheduledMessagesAdd",
    ),
    (
        "scheduled_messages",
        Some("update"),
        "ScheduledMessagesUpdate",
        "ScheduledMessagesUpdate",
    ),
    (
        "scheduled_messages",
        Some("remove"),
        "ScheduledMessagesRemove",
        "ScheduledMessagesRemove",
    ),
];

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
