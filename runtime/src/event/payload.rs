//! Payloads of every event type except `message` (see [`super::message`]).
//!
//! Field names follow the Zulip spec. Fields that the spec marks optional, or that old
//! servers omit, are `Option` or `#[serde(default)]`; unknown fields are ignored, so a
//! newer server adding a field never breaks parsing. Nested objects that listeners filter
//! on (users, channels, groups) are typed; rarely used deep settings stay `Value`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A value of a `property`/`value` style update (bool, number, string, object or null).
pub type PropertyValue = Value;

fn direct() -> String {
    "direct".to_owned()
}

macro_rules! payload {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name { $($(#[$fm])* pub $field: $ty,)* }
    };
}

payload!(/// `alert_words`: the user's alert words changed.
AlertWords { /// The full new list.
    alert_words: Vec<String> });
payload!(/// `update_display_settings` (deprecated, sent without the `user_settings_object` capability).
UpdateDisplaySettings { /// The user's email.
    user: String, /// Setting changed.
    setting_name: String, /// New value.
    setting: PropertyValue, /// Present when the language changed.
    #[serde(default)] language_name: Option<String> });
payload!(/// `update_global_notifications` (deprecated).
UpdateGlobalNotifications { /// The user's email.
    user: String, /// Setting changed.
    notification_name: String, /// New value.
    setting: PropertyValue });
payload!(/// `user_settings` / `update`: one of the user's settings changed.
UserSettingsUpdate { /// Setting name.
    property: String, /// New value.
    value: PropertyValue, /// Present when the language changed.
    #[serde(default)] language_name: Option<String> });

payload!(/// A user as in `realm_user` events: only `user_id` is always present, the rest
/// only for the fields that changed (`update`) or exist (`add`).
Person {
    /// User id.
    user_id: i64,
    /// Email address.
    #[serde(default)] email: Option<String>,
    /// Real email address, when visible.
    #[serde(default)] delivery_email: Option<String>,
    /// Display name.
    #[serde(default)] full_name: Option<String>,
    /// Role: 100 owner, 200 administrator, 300 moderator, 400 member, 600 guest.
    #[serde(default)] role: Option<i64>,
    /// Administrator.
    #[serde(default)] is_admin: Option<bool>,
    /// Owner.
    #[serde(default)] is_owner: Option<bool>,
    /// Guest.
    #[serde(default)] is_guest: Option<bool>,
    /// A bot account.
    #[serde(default)] is_bot: Option<bool>,
    /// Account active.
    #[serde(default)] is_active: Option<bool>,
    /// Time zone name.
    #[serde(default)] timezone: Option<String>,
    /// ISO 8601 join time.
    #[serde(default)] date_joined: Option<String>,
    /// Avatar source (`G` gravatar, `U` uploaded).
    #[serde(default)] avatar_source: Option<String>,
    /// Avatar URL.
    #[serde(default)] avatar_url: Option<String>,
    /// Medium avatar URL.
    #[serde(default)] avatar_url_medium: Option<String>,
    /// Avatar version.
    #[serde(default)] avatar_version: Option<i64>,
    /// Custom profile field values keyed by field id.
    #[serde(default)] profile_data: Option<Value>,
    /// Bot owner, for bots.
    #[serde(default)] bot_owner_id: Option<i64>,
    /// A single changed custom profile field (`update`).
    #[serde(default)] custom_profile_field: Option<Value>,
    /// New email (`update` of the address).
    #[serde(default)] new_email: Option<String>,
});
payload!(/// `realm_user` / `add`: a user joined the organization.
RealmUserAdd { /// The new user.
    person: Person });
payload!(/// `realm_user` / `remove`: a user was deactivated.
RealmUserRemove { /// The user (id and name).
    person: Person });
payload!(/// `realm_user` / `update`: some of a user's fields changed.
RealmUserUpdate { /// The user id and the changed fields.
    person: Person });

payload!(/// A channel as in `stream` and `subscription` events. Only the id is always present.
Channel {
    /// Channel id.
    stream_id: i64,
    /// Name.
    #[serde(default)] name: Option<String>,
    /// Archived.
    #[serde(default)] is_archived: Option<bool>,
    /// Description (Markdown).
    #[serde(default)] description: Option<String>,
    /// Description (HTML).
    #[serde(default)] rendered_description: Option<String>,
    /// Unix time of creation.
    #[serde(default)] date_created: Option<i64>,
    /// Creator's user id.
    #[serde(default)] creator_id: Option<i64>,
    /// Private channel.
    #[serde(default)] invite_only: Option<bool>,
    /// Web-public channel.
    #[serde(default)] is_web_public: Option<bool>,
    /// Who may post (legacy policy number).
    #[serde(default)] stream_post_policy: Option<i64>,
    /// New subscribers see history.
    #[serde(default)] history_public_to_subscribers: Option<bool>,
    /// First message id, if any.
    #[serde(default)] first_message_id: Option<i64>,
    /// Recently active.
    #[serde(default)] is_recently_active: Option<bool>,
    /// Retention policy in days.
    #[serde(default)] message_retention_days: Option<i64>,
    /// Announcement-only (legacy).
    #[serde(default)] is_announcement_only: Option<bool>,
    /// Weekly traffic estimate.
    #[serde(default)] stream_weekly_traffic: Option<i64>,
    /// Group that may add subscribers (id or anonymous group object).
    #[serde(default)] can_add_subscribers_group: Option<Value>,
    /// Group that may remove subscribers.
    #[serde(default)] can_remove_subscribers_group: Option<Value>,
    /// Group that may subscribe.
    #[serde(default)] can_subscribe_group: Option<Value>,
    /// Subscription colour (subscription events).
    #[serde(default)] color: Option<String>,
    /// Muted (subscription events).
    #[serde(default)] is_muted: Option<bool>,
    /// Pinned (subscription events).
    #[serde(default)] pin_to_top: Option<bool>,
    /// Legacy inverse of `is_muted`.
    #[serde(default)] in_home_view: Option<bool>,
    /// Subscribers' user ids, when requested.
    #[serde(default)] subscribers: Option<Vec<i64>>,
    /// Per-subscription notification settings (null = use the user's default).
    #[serde(default)] audible_notifications: Option<bool>,
    /// Desktop notifications.
    #[serde(default)] desktop_notifications: Option<bool>,
    /// Email notifications.
    #[serde(default)] email_notifications: Option<bool>,
    /// Push notifications.
    #[serde(default)] push_notifications: Option<bool>,
    /// Wildcard mention notifications.
    #[serde(default)] wildcard_mentions_notify: Option<bool>,
});
payload!(/// `subscription` / `add`: the user joined channels.
SubscriptionAdd { /// The new subscriptions.
    subscriptions: Vec<Channel> });
payload!(/// `subscription` / `remove`: the user left channels.
SubscriptionRemove { /// The channels (id and name).
    subscriptions: Vec<Channel> });
payload!(/// `subscription` / `update`: a personal setting of one subscription changed.
SubscriptionUpdate { /// Channel id.
    stream_id: i64, /// Setting name.
    property: String, /// New value.
    value: PropertyValue });
payload!(/// `subscription` / `peer_add`: other users joined channels. Servers before
/// feature level 35 name one channel and one user (`stream_id`, `user_id`); use
/// [`SubscriptionPeerAdd::channels`] and [`SubscriptionPeerAdd::users`] for either form.
SubscriptionPeerAdd { /// Channels (feature level 35).
    #[serde(default)] stream_ids: Vec<i64>, /// Users (feature level 35).
    #[serde(default)] user_ids: Vec<i64>, /// The channel, before feature level 35.
    #[serde(default)] stream_id: Option<i64>, /// The user, before feature level 35.
    #[serde(default)] user_id: Option<i64> });
payload!(/// `subscription` / `peer_remove`: other users left channels (both forms, as
/// [`SubscriptionPeerAdd`]).
SubscriptionPeerRemove { /// Channels (feature level 35).
    #[serde(default)] stream_ids: Vec<i64>, /// Users (feature level 35).
    #[serde(default)] user_ids: Vec<i64>, /// The channel, before feature level 35.
    #[serde(default)] stream_id: Option<i64>, /// The user, before feature level 35.
    #[serde(default)] user_id: Option<i64> });

macro_rules! peer_accessors {
    ($ty:ident) => {
        impl $ty {
            /// The channels, whichever form the server used.
            pub fn channels(&self) -> Vec<i64> {
                self.stream_ids
                    .iter()
                    .copied()
                    .chain(self.stream_id)
                    .collect()
            }

            /// The users, whichever form the server used.
            pub fn users(&self) -> Vec<i64> {
                self.user_ids.iter().copied().chain(self.user_id).collect()
            }
        }
    };
}
peer_accessors!(SubscriptionPeerAdd);
peer_accessors!(SubscriptionPeerRemove);

payload!(/// `has_zoom_token`: the user's Zoom link changed.
HasZoomToken { /// Whether a token is stored now.
    value: bool });
payload!(/// `invites_changed`: the set of pending invitations changed (no payload).
InvitesChanged {});

payload!(/// One client's presence.
PresenceClient {
    /// Client name (legacy format).
    #[serde(default)] client: Option<String>,
    /// `active` or `idle` (empty if a server leaves it out).
    #[serde(default)] status: String,
    /// Unix time of the report.
    #[serde(default)] timestamp: Option<i64>,
    /// Whether the client can receive push notifications.
    #[serde(default)] pushable: Option<bool>,
});
payload!(/// `presence`: a user's presence changed.
Presence {
    /// User id.
    user_id: i64,
    /// Email.
    #[serde(default)] email: Option<String>,
    /// Server time (float seconds).
    #[serde(default)] server_timestamp: f64,
    /// Per-client presence, keyed by client name.
    #[serde(default)] presence: std::collections::BTreeMap<String, PresenceClient>,
});

payload!(/// `stream` / `create`: channels became visible to the user.
StreamCreate { /// The channels.
    streams: Vec<Channel> });
payload!(/// `stream` / `delete`: channels were archived or became invisible.
StreamDelete { /// The channels (legacy: objects with ids).
    #[serde(default)] streams: Vec<Channel>, /// Their ids (FL 343).
    #[serde(default)] stream_ids: Vec<i64> });
payload!(/// `stream` / `update`: a channel property changed.
StreamUpdate {
    /// Channel id.
    stream_id: i64,
    /// Channel name.
    name: String,
    /// Property name.
    property: String,
    /// New value.
    value: PropertyValue,
    /// New rendered description (with `description`).
    #[serde(default)] rendered_description: Option<String>,
    /// With `invite_only`.
    #[serde(default)] history_public_to_subscribers: Option<bool>,
    /// With `invite_only`.
    #[serde(default)] is_web_public: Option<bool>,
});

payload!(/// The user object inside a reaction event (deprecated by the spec, still sent).
ReactionUser { /// User id.
    user_id: i64, /// Email.
    #[serde(default)] email: Option<String>, /// Display name.
    #[serde(default)] full_name: Option<String> });
payload!(/// `reaction` / `add` and `reaction` / `remove`.
Reaction {
    /// Who reacted (feature level 2; before it, only in `user`: see [`Reaction::reactor`]).
    #[serde(default)] user_id: Option<i64>,
    /// Deprecated user object.
    #[serde(default)] user: Option<ReactionUser>,
    /// The message reacted to.
    message_id: i64,
    /// Emoji name.
    emoji_name: String,
    /// Emoji code.
    #[serde(default)] emoji_code: String,
    /// `unicode_emoji`, `realm_emoji` or `zulip_extra_emoji`.
    #[serde(default)] reaction_type: String,
});

impl Reaction {
    /// Who reacted, whichever form the server used.
    pub fn reactor(&self) -> Option<i64> {
        self.user_id.or(self.user.as_ref().map(|u| u.user_id))
    }
}

payload!(/// An uploaded file.
Attachment {
    /// Attachment id.
    id: i64,
    /// File name.
    #[serde(default)] name: Option<String>,
    /// Path id: `{realm_id}/…/{name}`.
    #[serde(default)] path_id: Option<String>,
    /// Size in bytes.
    #[serde(default)] size: Option<i64>,
    /// Upload time (milliseconds).
    #[serde(default)] create_time: Option<i64>,
    /// Messages referring to it.
    #[serde(default)] messages: Option<Vec<Value>>,
});
payload!(/// `attachment` / `add`, `update` or `remove`.
AttachmentChange { /// The attachment (only its id on `remove`).
    attachment: Attachment, /// Bytes used by the user's uploads now.
    #[serde(default)] upload_space_used: i64 });

payload!(/// `submessage`: widget data attached to a message.
Submessage {
    /// Submessage type (`widget`).
    msg_type: String,
    /// Message.
    message_id: i64,
    /// Submessage id.
    submessage_id: i64,
    /// Sender.
    sender_id: i64,
    /// JSON text.
    content: String,
});
payload!(/// `user_status`: a user's status changed; only changed fields are present.
UserStatus {
    /// User id.
    user_id: i64,
    /// Away (deprecated).
    #[serde(default)] away: Option<bool>,
    /// Status text.
    #[serde(default)] status_text: Option<String>,
    /// Status emoji name.
    #[serde(default)] emoji_name: Option<String>,
    /// Status emoji code.
    #[serde(default)] emoji_code: Option<String>,
    /// Emoji type.
    #[serde(default)] reaction_type: Option<String>,
});
payload!(/// `custom_profile_fields`: the organization's profile fields changed.
CustomProfileFields { /// All fields.
    fields: Vec<Value> });
payload!(/// A default channel group.
DefaultStreamGroup { /// Group id.
    id: i64, /// Name.
    name: String, /// Description.
    #[serde(default)] description: String, /// Channel ids (or objects on old servers).
    streams: Vec<Value> });
payload!(/// `default_stream_groups`.
DefaultStreamGroups { /// All groups.
    default_stream_groups: Vec<DefaultStreamGroup> });
payload!(/// `default_streams`: the default channels for new users.
DefaultStreams { /// Channel ids (objects on old servers).
    default_streams: Vec<Value> });
payload!(/// `delete_message`: messages were deleted.
DeleteMessage {
    /// `stream` or `private`.
    message_type: String,
    /// The message (without `bulk_message_deletion`).
    #[serde(default)] message_id: Option<i64>,
    /// The messages (with `bulk_message_deletion`).
    #[serde(default)] message_ids: Option<Vec<i64>>,
    /// Channel, for channel messages.
    #[serde(default)] stream_id: Option<i64>,
    /// Topic, for channel messages.
    #[serde(default)] topic: Option<String>,
});
payload!(/// `muted_topics` (deprecated): `[channel, topic, timestamp]` triples.
MutedTopics { /// The muted topics.
    muted_topics: Vec<(String, String, i64)> });
payload!(/// `user_topic`: the user's visibility policy for one topic.
UserTopic { /// Channel.
    stream_id: i64, /// Topic.
    topic_name: String, /// Unix time.
    last_updated: i64, /// 0 inherit, 1 muted, 2 unmuted, 3 followed.
    visibility_policy: i64 });
payload!(/// A muted user.
MutedUser { /// User id.
    id: i64, /// When muted.
    timestamp: i64 });
payload!(/// `muted_users`.
MutedUsers { /// All muted users.
    muted_users: Vec<MutedUser> });
payload!(/// `heartbeat`: keeps the long poll alive; only its id matters.
Heartbeat {});
payload!(/// `onboarding_steps`.
OnboardingSteps { /// Steps still to show.
    onboarding_steps: Vec<Value> });
payload!(/// `update_message`: a message was edited or moved (or re-rendered).
UpdateMessage {
    /// Editor (absent for `rendering_only` updates).
    #[serde(default)] user_id: Option<i64>,
    /// When.
    #[serde(default)] edit_timestamp: i64,
    /// The edited message.
    message_id: i64,
    /// Every affected message (moves).
    #[serde(default)] message_ids: Vec<i64>,
    /// The user's flags on the edited message.
    #[serde(default)] flags: Vec<String>,
    /// Only the rendering changed.
    #[serde(default)] rendering_only: bool,
    /// Old channel name.
    #[serde(default)] stream_name: Option<String>,
    /// Old channel id.
    #[serde(default)] stream_id: Option<i64>,
    /// New channel id (move).
    #[serde(default)] new_stream_id: Option<i64>,
    /// `change_one`, `change_later` or `change_all`.
    #[serde(default)] propagate_mode: Option<String>,
    /// Old topic.
    #[serde(default)] orig_subject: Option<String>,
    /// New topic.
    #[serde(default)] subject: Option<String>,
    /// New topic links.
    #[serde(default)] topic_links: Option<Vec<Value>>,
    /// Old Markdown.
    #[serde(default)] orig_content: Option<String>,
    /// Old HTML.
    #[serde(default)] orig_rendered_content: Option<String>,
    /// New Markdown.
    #[serde(default)] content: Option<String>,
    /// New HTML.
    #[serde(default)] rendered_content: Option<String>,
    /// A `/me` message now.
    #[serde(default)] is_me_message: Option<bool>,
});
payload!(/// A user reference in typing events.
TypingUser { /// User id.
    user_id: i64, /// Email.
    #[serde(default)] email: Option<String> });
payload!(/// `typing` / `start` and `stop`.
Typing {
    /// `direct` or `stream` (absent before feature level 58, when typing events were
    /// only sent for direct messages).
    #[serde(default = "direct")] message_type: String,
    /// Who is typing.
    sender: TypingUser,
    /// Direct-message recipients.
    #[serde(default)] recipients: Option<Vec<TypingUser>>,
    /// Channel, for channel typing.
    #[serde(default)] stream_id: Option<i64>,
    /// Topic, for channel typing.
    #[serde(default)] topic: Option<String>,
});
payload!(/// `typing_edit_message` / `start` and `stop`.
TypingEditMessage { /// Who is editing.
    sender_id: i64, /// The message.
    message_id: i64, /// `{type, user_ids}` or `{type, channel_id, topic}`.
    recipient: Value });
payload!(/// `update_message_flags` / `add` and `remove`.
UpdateMessageFlags {
    /// Same as `op` (deprecated; the only name before feature level 32).
    #[serde(default)] operation: Option<String>,
    /// The flag.
    flag: String,
    /// The messages.
    messages: Vec<i64>,
    /// All messages (only for `read` on `add`).
    #[serde(default)] all: bool,
    /// Details of newly unread messages (`remove` of `read`).
    #[serde(default)] message_details: Option<Value>,
});

payload!(/// A user group.
UserGroup {
    /// Group id.
    id: i64,
    /// Name.
    name: String,
    /// Direct members.
    #[serde(default)] members: Vec<i64>,
    /// Direct subgroups.
    #[serde(default)] direct_subgroup_ids: Vec<i64>,
    /// Description.
    #[serde(default)] description: String,
    /// A system group.
    #[serde(default)] is_system_group: bool,
    /// Creator.
    #[serde(default)] creator_id: Option<i64>,
    /// Unix time of creation.
    #[serde(default)] date_created: Option<i64>,
    /// Deactivated.
    #[serde(default)] deactivated: Option<bool>,
    /// Permission groups and other settings, by name.
    #[serde(flatten)] settings: std::collections::BTreeMap<String, Value>,
});
payload!(/// `user_group` / `add`.
UserGroupAdd { /// The new group.
    group: UserGroup });
payload!(/// `user_group` / `update`.
UserGroupUpdate { /// Group id.
    group_id: i64, /// Changed fields.
    data: Value });
payload!(/// `user_group` / `add_members` and `remove_members`.
UserGroupMembers { /// Group id.
    group_id: i64, /// Users.
    user_ids: Vec<i64> });
payload!(/// `user_group` / `add_subgroups` and `remove_subgroups`.
UserGroupSubgroups { /// Group id.
    group_id: i64, /// Subgroups.
    direct_subgroup_ids: Vec<i64> });
payload!(/// `user_group` / `remove`.
UserGroupRemove { /// Group id.
    group_id: i64 });

payload!(/// `realm_linkifiers`.
RealmLinkifiers { /// All linkifiers.
    realm_linkifiers: Vec<Value> });
payload!(/// `realm_filters` (deprecated).
RealmFilters { /// `[pattern, url, id]` triples.
    realm_filters: Vec<Value> });
payload!(/// `realm_playgrounds`.
RealmPlaygrounds { /// All playgrounds.
    realm_playgrounds: Vec<Value> });
payload!(/// `realm_emoji` / `update`.
RealmEmojiUpdate { /// All custom emoji by id.
    realm_emoji: std::collections::BTreeMap<String, Value> });
payload!(/// An allowed email domain.
RealmDomain { /// Domain.
    domain: String, /// Subdomains allowed too.
    allow_subdomains: bool });
payload!(/// `realm_domains` / `add` and `change`.
RealmDomainsChange { /// The domain.
    realm_domain: RealmDomain });
payload!(/// `realm_domains` / `remove`.
RealmDomainsRemove { /// The domain.
    domain: String });
payload!(/// `realm_export`.
RealmExport { /// All exports.
    exports: Vec<Value> });
payload!(/// `realm_export_consent`.
RealmExportConsent { /// User.
    user_id: i64, /// Consent given.
    consented: bool });
payload!(/// A bot, as in `realm_bot` events; only `user_id` is always present.
Bot {
    /// User id.
    user_id: i64,
    /// Email.
    #[serde(default)] email: Option<String>,
    /// Display name.
    #[serde(default)] full_name: Option<String>,
    /// 1 generic, 2 incoming webhook, 3 outgoing webhook, 4 embedded.
    #[serde(default)] bot_type: Option<i64>,
    /// Active.
    #[serde(default)] is_active: Option<bool>,
    /// Owner.
    #[serde(default)] owner_id: Option<i64>,
    /// Avatar URL.
    #[serde(default)] avatar_url: Option<String>,
    /// Outgoing-webhook or embedded services.
    #[serde(default)] services: Option<Vec<Value>>,
    /// Default sending channel.
    #[serde(default)] default_sending_stream: Option<String>,
    /// Default events channel.
    #[serde(default)] default_events_register_stream: Option<String>,
    /// Default `all_public_streams`.
    #[serde(default)] default_all_public_streams: Option<bool>,
    /// The bot's API key: a secret, skipped when serialized.
    #[serde(default, skip_serializing)] api_key: Option<crate::config::Secret>,
});
payload!(/// `realm_bot` / `add`, `update`, `remove` or `delete`.
RealmBot { /// The bot (`update`: id and changed fields).
    bot: Bot });
payload!(/// `realm` / `update`: one organization setting changed.
RealmUpdate { /// Setting.
    property: String, /// New value.
    value: PropertyValue });
payload!(/// `realm` / `update_dict`: several related settings changed.
RealmUpdateDict { /// Group (`default`, `icon`, `logo`, ...).
    property: String, /// Changed settings.
    data: Value });
payload!(/// `realm` / `deactivated`: the organization was deactivated.
RealmDeactivated { /// Zulip's numeric realm id.
    realm_id: i64 });
payload!(/// `restart`: the server restarted; the queue normally survives.
Restart {
    /// Server version (feature level 59).
    #[serde(default)] zulip_version: String,
    /// Merge base.
    #[serde(default)] zulip_merge_base: Option<String>,
    /// Feature level (feature level 59; 0 before).
    #[serde(default)] zulip_feature_level: i64,
    /// Server generation.
    #[serde(default)] server_generation: i64,
    /// Legacy: whether web clients must reload now.
    #[serde(default)] immediate: Option<bool>,
});
payload!(/// `web_reload_client`: for the web app; other clients ignore it.
WebReloadClient { /// Reload immediately.
    #[serde(default)] immediate: bool });
payload!(/// `realm_user_settings_defaults` / `update`.
RealmUserSettingsDefaultsUpdate { /// Setting.
    property: String, /// New value.
    value: PropertyValue });
payload!(/// A message draft.
Draft {
    /// Draft id.
    #[serde(default)] id: Option<i64>,
    /// `stream`, `private` or empty.
    #[serde(rename = "type")] kind: String,
    /// Channel id or user ids.
    to: Vec<i64>,
    /// Topic.
    topic: String,
    /// Content.
    content: String,
    /// Unix time.
    #[serde(default)] timestamp: Option<i64>,
});
payload!(/// `drafts` / `add`.
DraftsAdd { /// New drafts.
    drafts: Vec<Draft> });
payload!(/// `drafts` / `update`.
DraftsUpdate { /// The draft.
    draft: Draft });
payload!(/// `drafts` / `remove`.
DraftsRemove { /// Draft id.
    draft_id: i64 });
payload!(/// A saved snippet.
SavedSnippet { /// Id.
    id: i64, /// Title.
    title: String, /// Content.
    content: String, /// Unix time.
    date_created: i64 });
payload!(/// `saved_snippets` / `add`.
SavedSnippetsAdd { /// The snippet.
    saved_snippet: SavedSnippet });
payload!(/// `saved_snippets` / `update`.
SavedSnippetsUpdate { /// The snippet.
    saved_snippet: SavedSnippet });
payload!(/// `saved_snippets` / `remove`.
SavedSnippetsRemove { /// Snippet id.
    saved_snippet_id: i64 });
payload!(/// A scheduled message.
ScheduledMessage {
    /// Id.
    scheduled_message_id: i64,
    /// `stream` or `private`.
    #[serde(rename = "type")] kind: String,
    /// Channel id or user ids.
    to: Value,
    /// Topic, for channel messages.
    #[serde(default)] topic: Option<String>,
    /// Markdown.
    content: String,
    /// HTML.
    rendered_content: String,
    /// When it will be sent.
    scheduled_delivery_timestamp: i64,
    /// Sending failed.
    failed: bool,
});
payload!(/// `scheduled_messages` / `add`.
ScheduledMessagesAdd { /// The new ones.
    scheduled_messages: Vec<ScheduledMessage> });
payload!(/// `scheduled_messages` / `update`.
ScheduledMessagesUpdate { /// The changed one.
    scheduled_message: ScheduledMessage });
payload!(/// `scheduled_messages` / `remove`.
ScheduledMessagesRemove { /// Its id.
    scheduled_message_id: i64 });
