//! Users, settings, channels, subscriptions and presence.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::PropertyValue;

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
