//! The message object's layout as Zulip writes it: its keys in order, each with what
//! the reader does with its value.

use crate::event::message::MessageType;

/// The fields of a message dispatch reads.
#[derive(Clone, Copy)]
pub(super) enum M {
    Id,
    SenderId,
    Content,
    Timestamp,
    Subject,
    SenderEmail,
    DisplayRecipient,
    Type,
    StreamId,
    Other,
}

/// The keys of a message in the order Zulip writes them (the official examples'), the
/// ones dispatch does not read included: they are what makes the next key predictable.
pub(super) const MESSAGE_LAYOUT: &[(Key, M)] = &[
    (Key::new("id"), M::Id),
    (Key::new("sender_id"), M::SenderId),
    (Key::new("content"), M::Content),
    (Key::new("recipient_id"), M::Other),
    (Key::new("timestamp"), M::Timestamp),
    (Key::new("client"), M::Other),
    (Key::new("subject"), M::Subject),
    (Key::new("topic_links"), M::Other),
    (Key::new("is_me_message"), M::Other),
    (Key::new("reactions"), M::Other),
    (Key::new("submessages"), M::Other),
    (Key::new("sender_full_name"), M::Other),
    (Key::new("sender_email"), M::SenderEmail),
    (Key::new("sender_realm_str"), M::Other),
    (Key::new("display_recipient"), M::DisplayRecipient),
    (Key::new("type"), M::Type),
    (Key::new("stream_id"), M::StreamId),
    (Key::new("avatar_url"), M::Other),
    (Key::new("content_type"), M::Other),
];

/// A key as Zulip writes it, `"name":`, in three little-endian words and their masks.
pub(super) struct Key {
    pub(super) name: &'static str,
    /// Bytes of `"name":`.
    pub(super) len: usize,
    pub(super) words: [u64; 3],
    pub(super) masks: [u64; 3],
}

impl Key {
    /// `name` of up to 21 bytes, without quotes or backslashes.
    pub(super) const fn new(name: &'static str) -> Key {
        let b = name.as_bytes();
        assert!(b.len() <= 21, "a key longer than the comparison");
        let len = b.len() + 3;
        let mut quoted = [0u8; 24];
        let mut mask = [0u8; 24];
        quoted[0] = b'"';
        let mut i = 0;
        while i < b.len() {
            assert!(b[i] != b'"' && b[i] != b'\\');
            quoted[i + 1] = b[i];
            i += 1;
        }
        quoted[len - 2] = b'"';
        quoted[len - 1] = b':';
        i = 0;
        while i < len {
            mask[i] = 0xff;
            i += 1;
        }
        let mut words = [0u64; 3];
        let mut masks = [0u64; 3];
        let mut w = 0;
        while w < 3 {
            let mut k = 0;
            while k < 8 {
                words[w] |= (quoted[w * 8 + k] as u64) << (8 * k);
                masks[w] |= (mask[w * 8 + k] as u64) << (8 * k);
                k += 1;
            }
            w += 1;
        }
        Key {
            name,
            len,
            words,
            masks,
        }
    }
}

/// A message's `type` as serde reads it (aliases included; anything else is `Other`).
#[inline]
pub(super) fn message_type(s: &str) -> MessageType {
    match s {
        "stream" | "channel" => MessageType::Channel,
        "private" | "direct" => MessageType::Direct,
        _ => MessageType::Other,
    }
}
