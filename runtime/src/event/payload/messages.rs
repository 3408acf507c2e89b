//! Reactions, attachments, submessages, statuses, edits, typing and message flags.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::direct;

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
