//! Typed Zulip events.
//!
//! An event arrives as JSON text. [`RawEvent`] is that text plus its *head* — `type`,
//! `op` and `id` — found without parsing the body: a dispatcher decides from the head
//! whether anyone listens, and only then calls [`RawEvent::parse`] for the typed
//! [`Event`]. Every (`type`, `op`) pair of the Zulip spec has its own variant; anything
//! else becomes [`Event::Unknown`], kept as raw JSON, never an error.
//!
//! Parsing borrows from the text (`Event<'a>`), so the hot message path copies no
//! strings it does not have to.

mod message;
mod payload;
mod scan;
#[doc(hidden)]
pub mod stream;

use serde::Deserialize;

pub use message::{
    DisplayRecipient, Message, MessageEvent, MessageReaction, MessageType, MessageView,
    MessageViewEvent, Recipient, TopicLink,
};
pub use payload::*;

use crate::error::EventError;

/// The largest event accepted, in bytes. Zulip's largest events (a realm's whole emoji
/// set, a long rendered message) are far below it; a bigger one is skipped, counted and
/// reported, never stored or logged whole.
pub const MAX_EVENT_BYTES: usize = 4 << 20;

/// The (`type`, `op`) of an event, `op` being `None` for types without one.
pub type EventKind<'a> = (&'a str, Option<&'a str>);

macro_rules! op_pat {
    () => {
        _
    };
    ($op:literal) => {
        Some($op)
    };
}
macro_rules! op_val {
    () => {
        None
    };
    ($op:literal) => {
        Some($op)
    };
}

macro_rules! events {
    ($( $(#[$m:meta])* $variant:ident($payload:ty) = $ty:literal $(/ $op:literal)? ; )*) => {
        /// A parsed Zulip event: one variant per (`type`, `op`) of the spec.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum Event<'a> {
            $( $(#[$m])* $variant($payload), )*
            /// A type or op this version does not know, kept as raw JSON.
            Unknown(UnknownEvent<'a>),
        }

        impl<'a> Event<'a> {
            /// Every (`type`, `op`) pair with a typed variant, in spec order.
            pub const KNOWN: &'static [(&'static str, Option<&'static str>)] =
                &[ $( ($ty, op_val!($($op)?)), )* ];

            /// Every (`type`, `op`) with its variant's name and payload type's name, in
            /// spec order: what `#[listener]` reads to type a handler's argument (the
            /// catalog's own table: the list this enum is made from).
            pub const VARIANTS: &'static [(&'static str, Option<&'static str>, &'static str, &'static str)] =
                zlc_catalog::VARIANTS;

            /// The event's `type`.
            pub fn type_name(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $ty, )*
                    Self::Unknown(u) => u.kind,
                }
            }

            /// The event's `op`, for types that have one.
            pub fn op(&self) -> Option<&str> {
                match self {
                    $( Self::$variant(_) => op_val!($($op)?), )*
                    Self::Unknown(u) => u.op,
                }
            }

            /// Whether (`type`, `op`) has a typed variant.
            pub fn is_known(kind: &str, op: Option<&str>) -> bool {
                #[allow(unreachable_patterns)]
                match (kind, op) {
                    $( ($ty, op_pat!($($op)?)) => true, )*
                    _ => false,
                }
            }

            fn parse_typed(kind: &'a str, op: Option<&'a str>, json: &'a str)
                -> Result<Self, serde_json::Error>
            {
                #[allow(unreachable_patterns)]
                Ok(match (kind, op) {
                    $( ($ty, op_pat!($($op)?)) => Self::$variant(serde_json::from_str(json)?), )*
                    _ => {
                        // The sniff does not validate: an unknown event is still checked
                        // to be JSON, so broken lines are reported, not passed on.
                        serde_json::from_str::<serde::de::IgnoredAny>(json)?;
                        Self::Unknown(UnknownEvent { kind, op, json })
                    }
                })
            }
        }
    };
}

zlc_catalog::zulip_events!(events);

/// An event of a type or op this version has no variant for: its head and raw JSON.
#[derive(Debug, Clone, Copy)]
pub struct UnknownEvent<'a> {
    /// The event's `type`.
    pub kind: &'a str,
    /// The event's `op`, if any.
    pub op: Option<&'a str>,
    /// The whole event as JSON text.
    pub json: &'a str,
}

/// One event as JSON text with its head (`type`, `op`, `id`) already read.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// The event's `type`.
    pub kind: &'a str,
    /// The event's `op`, if any.
    pub op: Option<&'a str>,
    /// The queue event id (absent from a few event types).
    pub id: Option<i64>,
    /// The whole event.
    pub json: &'a str,
}

/// The head fields, read by serde when the fast sniff cannot.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    op: Option<&'a str>,
    /// The name of `op` in `update_message_flags` events before feature level 32.
    #[serde(default, borrow)]
    operation: Option<&'a str>,
    #[serde(default)]
    id: Option<i64>,
}

impl<'a> RawEvent<'a> {
    /// Reads the head of one event.
    ///
    /// Fails only for text that is not a JSON object with a string `type`. The fast path
    /// reads `{"type":"…","op":"…"` directly when the event starts that way (Zulip puts
    /// `type` first for nearly all events); the id is then found by a scan of the last
    /// key, and anything unusual falls back to serde.
    pub fn new(json: &'a str) -> Result<Self, EventError> {
        if json.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                limit: MAX_EVENT_BYTES,
                bytes: json.len(),
                excerpt: excerpt(json),
            });
        }
        if let Some(raw) = Self::sniff(json) {
            return Ok(raw);
        }
        let head: Head<'a> = serde_json::from_str(json).map_err(|e| EventError::Malformed {
            error: e.to_string(),
            excerpt: excerpt(json),
        })?;
        Ok(RawEvent {
            kind: head.kind,
            op: head.op.or(head.operation),
            id: head.id,
            json,
        })
    }

    fn sniff(json: &'a str) -> Option<Self> {
        let rest = json.strip_prefix(r#"{"type":""#)?;
        let end = rest.find('"')?;
        let kind = &rest[..end];
        if kind.contains('\\') {
            return None;
        }
        let rest = &rest[end + 1..];
        let op = match rest.strip_prefix(r#","op":""#) {
            Some(r) => {
                let end = r.find('"')?;
                let op = &r[..end];
                if op.contains('\\') {
                    return None;
                }
                Some(op)
            }
            // An "op" later in the object: let serde find it.
            None if kind_has_op(kind) => return None,
            None => None,
        };
        // Zulip ends events with `"id":N}`; anything else goes through serde.
        let id = match trailing_id(json) {
            Some(id) => Some(id),
            None if is_id_less(kind) => None,
            None => return None,
        };
        Some(RawEvent { kind, op, id, json })
    }

    /// The kind as (`type`, `op`).
    pub fn event_kind(&self) -> EventKind<'a> {
        (self.kind, self.op)
    }

    /// Parses the typed event. Unknown types and ops give [`Event::Unknown`]; a known type
    /// whose body does not match the spec gives [`EventError::Malformed`].
    pub fn parse(&self) -> Result<Event<'a>, EventError> {
        Event::parse_typed(self.kind, self.op, self.json).map_err(|e| EventError::Malformed {
            error: format!("{} event: {e}", self.kind),
            excerpt: excerpt(self.json),
        })
    }
}

/// The event id of text ending the way Zulip ends events, `,"id":N}`, read from the
/// end without parsing the rest (so even an event too large or too broken to read can
/// be acknowledged and not asked for again).
pub fn trailing_id(json: &str) -> Option<i64> {
    // JSON's whitespace is ASCII: no Unicode trim on the per-event path.
    let body = json.trim_ascii_end().strip_suffix('}')?;
    let digits_start = body
        .bytes()
        .rposition(|b| !(b.is_ascii_digit() || b == b'-'))?
        + 1;
    if body[..digits_start].ends_with(r#","id":"#) {
        body[digits_start..].parse().ok()
    } else {
        None
    }
}

/// Types that carry an `op`: their events must have one read for dispatch. A `match`,
/// not a scan of [`Event::KNOWN`]: it runs for every event (a test keeps them in step).
fn kind_has_op(kind: &str) -> bool {
    matches!(
        kind,
        "user_settings"
            | "realm_user"
            | "subscription"
            | "stream"
            | "reaction"
            | "attachment"
            | "typing"
            | "typing_edit_message"
            | "update_message_flags"
            | "user_group"
            | "realm_emoji"
            | "realm_domains"
            | "realm_bot"
            | "realm"
            | "realm_user_settings_defaults"
            | "drafts"
            | "saved_snippets"
            | "scheduled_messages"
    )
}

/// Types whose spec examples carry no `id` (they are never sent on a queue).
fn is_id_less(kind: &str) -> bool {
    matches!(
        kind,
        "drafts" | "saved_snippets" | "scheduled_messages" | "realm_export_consent"
    )
}

/// A short, single-line excerpt of bad input for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    let mut end = text.len().min(MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut s: String = text[..end]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if end < text.len() {
        s.push('…');
    }
    s
}

/// Wraps a message object (`GET /messages`' shape, or a push's) as a `message` event
/// without an event id, onto `text`: with the message's own `flags`, else `flags` (a
/// JSON array).
pub(crate) fn push_message_event(text: &mut String, message: &str, flags: &str) {
    #[derive(serde::Deserialize)]
    struct Flags<'a> {
        #[serde(default, borrow)]
        flags: Option<&'a serde_json::value::RawValue>,
    }
    let own = serde_json::from_str::<Flags<'_>>(message)
        .ok()
        .and_then(|f| f.flags)
        .map(|f| f.get());
    text.push_str(r#"{"type":"message","message":"#);
    text.push_str(message);
    text.push_str(r#","flags":"#);
    text.push_str(own.unwrap_or(flags));
    text.push('}');
}

#[cfg(test)]
mod tests;
