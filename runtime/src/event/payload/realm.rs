//! User groups, the organization's settings, bots, drafts, snippets and scheduled messages.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::PropertyValue;

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
