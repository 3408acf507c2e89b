//! Message events: the hot path.
//!
//! Everything here borrows from the JSON text it was parsed from (`Cow<'a, str>`), so a
//! message whose strings contain no escapes is parsed without copying them. HTML content
//! usually has escaped quotes and is copied once; nothing else is.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `message` event: a new message the queue's user can see.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageEvent<'a> {
    /// The message itself.
    #[serde(borrow)]
    pub message: Message<'a>,
    /// Per-user flags such as `read`, `mentioned`, `wildcard_mentioned`, `has_alert_word`.
    #[serde(default, borrow)]
    pub flags: Vec<Cow<'a, str>>,
}

// Flag accessors, for both the full event and the dispatch view.
macro_rules! flag_accessors {
    ($ty:ident) => {
        impl $ty<'_> {
            /// Whether the flags carry `flag`.
            pub fn has_flag(&self, flag: &str) -> bool {
                self.flags.iter().any(|f| f == flag)
            }

            /// The queue's user was mentioned personally, or through a group they belong to.
            pub fn mentioned(&self) -> bool {
                self.has_flag("mentioned")
            }
        }
    };
}

flag_accessors!(MessageEvent);
flag_accessors!(MessageViewEvent);

impl MessageEvent<'_> {
    /// The message used a wildcard mention (`@**all**`, `@**topic**`, ...).
    pub fn wildcard_mentioned(&self) -> bool {
        self.has_flag("wildcard_mentioned")
            || self.has_flag("stream_wildcard_mentioned")
            || self.has_flag("topic_wildcard_mentioned")
    }
}

/// Whether a message went to a channel or was a direct message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageType {
    /// A channel ("stream") message.
    #[serde(rename = "stream", alias = "channel")]
    Channel,
    /// A direct message to one or more users.
    #[serde(rename = "private", alias = "direct")]
    Direct,
    /// A kind of message a newer server introduced: matches neither channel nor direct
    /// filters, and never fails the parse.
    #[serde(other)]
    Other,
}

/// A Zulip message, as in `message` events and `GET /messages` results.
#[derive(Debug, Clone, Deserialize)]
pub struct Message<'a> {
    /// Message id: unique in the server, increasing.
    pub id: i64,
    /// User id of the sender.
    pub sender_id: i64,
    /// Body: Markdown or rendered HTML, depending on `apply_markdown`.
    #[serde(borrow)]
    pub content: Cow<'a, str>,
    /// Internal recipient id (a channel's or a direct-message group's).
    #[serde(default)]
    pub recipient_id: i64,
    /// Unix time the message was sent.
    #[serde(default)]
    pub timestamp: i64,
    /// The client that sent it.
    #[serde(default, borrow)]
    pub client: Cow<'a, str>,
    /// The topic (Zulip's wire name is `subject`); empty for direct messages.
    #[serde(rename = "subject", default, borrow)]
    pub topic: Cow<'a, str>,
    /// Links detected in the topic by linkifiers.
    #[serde(default)]
    pub topic_links: Vec<TopicLink>,
    /// A `/me` message.
    #[serde(default)]
    pub is_me_message: bool,
    /// Emoji reactions so far.
    #[serde(default)]
    pub reactions: Vec<MessageReaction>,
    /// Widget data (polls, to-do lists), kept as raw JSON.
    #[serde(default, borrow)]
    pub submessages: Option<&'a RawValue>,
    /// Sender's display name.
    #[serde(default, borrow)]
    pub sender_full_name: Cow<'a, str>,
    /// Sender's Zulip API email address.
    #[serde(default, borrow)]
    pub sender_email: Cow<'a, str>,
    /// The organization's string id (subdomain).
    #[serde(default, borrow)]
    pub sender_realm_str: Cow<'a, str>,
    /// Channel name for channel messages; the users for direct messages.
    #[serde(borrow)]
    pub display_recipient: DisplayRecipient<'a>,
    /// Channel or direct.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Channel id, for channel messages.
    #[serde(default)]
    pub stream_id: Option<i64>,
    /// Sender's avatar URL; `null` when the client asked for gravatar hashes.
    #[serde(default, borrow)]
    pub avatar_url: Option<Cow<'a, str>>,
    /// `text/html` or `text/x-markdown`.
    #[serde(default, borrow)]
    pub content_type: Option<Cow<'a, str>>,
    /// Rendered HTML (outgoing-webhook payloads).
    #[serde(default, borrow)]
    pub rendered_content: Option<Cow<'a, str>>,
    /// Flags, present on `GET /messages` results (events carry them beside the message).
    #[serde(default, borrow)]
    pub flags: Option<Vec<Cow<'a, str>>>,
    /// Unix time of the last edit, if edited.
    #[serde(default)]
    pub last_edit_timestamp: Option<i64>,
    /// Unix time of the last content edit, if any (FL 365).
    #[serde(default)]
    pub last_moved_timestamp: Option<i64>,
}

// The accessors listeners use, for both the full message and the dispatch view.
macro_rules! message_accessors {
    ($ty:ident) => {
        impl<'a> $ty<'a> {
            /// A channel message.
            pub fn is_channel(&self) -> bool {
                self.kind == MessageType::Channel
            }

            /// A direct message.
            pub fn is_direct(&self) -> bool {
                self.kind == MessageType::Direct
            }

            /// The channel's name, for channel messages.
            pub fn channel_name(&self) -> Option<&str> {
                match &self.display_recipient {
                    DisplayRecipient::Channel(name) if self.is_channel() => Some(name),
                    _ => None,
                }
            }

            /// The channel's id, for channel messages.
            pub fn channel_id(&self) -> Option<i64> {
                self.stream_id.filter(|_| self.is_channel())
            }

            /// The topic; empty for direct messages.
            pub fn topic(&self) -> &str {
                &self.topic
            }

            /// The content as received (HTML when rendered, else Markdown).
            pub fn content(&self) -> &str {
                &self.content
            }

            /// Sender's email address.
            pub fn sender_email(&self) -> &str {
                &self.sender_email
            }

            /// The users of a direct message (sender included); empty for channel messages.
            pub fn recipients(&self) -> &[Recipient<'a>] {
                match &self.display_recipient {
                    DisplayRecipient::Users(users) => users,
                    DisplayRecipient::Channel(_) => &[],
                }
            }
        }
    };
}

message_accessors!(Message);
message_accessors!(MessageView);

impl Message<'_> {
    /// Sender's display name.
    pub fn sender_name(&self) -> &str {
        &self.sender_full_name
    }
}

/// A `message` event as dispatch reads it: only the fields filters can test, so that
/// parsing skips (without allocating) everything else. Actions that need more parse
/// the event in full.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageViewEvent<'a> {
    /// The message.
    #[serde(borrow)]
    pub message: MessageView<'a>,
    /// Per-user flags (`mentioned`, ...).
    #[serde(default, borrow)]
    pub flags: Vec<Cow<'a, str>>,
}

/// The fields of a message that filters can test.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageView<'a> {
    /// Message id.
    pub id: i64,
    /// Sender's user id.
    pub sender_id: i64,
    /// Body.
    #[serde(borrow)]
    pub content: Cow<'a, str>,
    /// Unix time sent.
    #[serde(default)]
    pub timestamp: i64,
    /// Topic.
    #[serde(rename = "subject", default, borrow)]
    pub topic: Cow<'a, str>,
    /// Sender's email.
    #[serde(default, borrow)]
    pub sender_email: Cow<'a, str>,
    /// Channel name or direct-message users.
    #[serde(borrow)]
    pub display_recipient: DisplayRecipient<'a>,
    /// Channel or direct.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Channel id.
    #[serde(default)]
    pub stream_id: Option<i64>,
}

/// A topic link found by a linkifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicLink {
    /// The matched text.
    #[serde(default)]
    pub text: String,
    /// Where it links.
    #[serde(default)]
    pub url: String,
}

/// One reaction on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReaction {
    /// Emoji name, e.g. `tada`.
    pub emoji_name: String,
    /// Emoji code, e.g. `1f389`.
    #[serde(default)]
    pub emoji_code: String,
    /// `unicode_emoji`, `realm_emoji` or `zulip_extra_emoji`.
    #[serde(default)]
    pub reaction_type: String,
    /// Who reacted.
    #[serde(default)]
    pub user_id: i64,
}

/// One user of a direct message's `display_recipient`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recipient<'a> {
    /// User id.
    pub id: i64,
    /// Email address.
    #[serde(borrow)]
    pub email: Cow<'a, str>,
    /// Display name.
    #[serde(default, borrow)]
    pub full_name: Cow<'a, str>,
    /// A mirror dummy user (imported or mirrored).
    #[serde(default)]
    pub is_mirror_dummy: bool,
}

/// `display_recipient`: a channel name (string) or the users of a direct message (array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayRecipient<'a> {
    /// A channel message's channel name.
    Channel(Cow<'a, str>),
    /// A direct message's users.
    Users(Vec<Recipient<'a>>),
}

// Hand-written rather than `#[serde(untagged)]`: untagged enums buffer the value and
// cannot borrow, which would copy every channel name on the hot path.
impl<'de: 'a, 'a> Deserialize<'de> for DisplayRecipient<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = DisplayRecipient<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a channel name or a list of users")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(DisplayRecipient::Channel(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(DisplayRecipient::Channel(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(DisplayRecipient::Channel(Cow::Owned(v)))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut users = Vec::with_capacity(seq.size_hint().unwrap_or(2));
                while let Some(user) = seq.next_element()? {
                    users.push(user);
                }
                Ok(DisplayRecipient::Users(users))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}
