//! Rendering templates that the compiler parsed and checked: a template arrives as
//! [`Seg`]ments, so rendering is a walk, and a field that an event lacks renders empty.
//!
//! Values put into messages are made safe by [`crate::markup::user_text`]: mentions are
//! silenced and a leading `/` cannot start a command, so echoing user text never
//! notifies anyone or restructures the message.

use std::fmt::Write;

use serde_json::Value;

use crate::command::{Commands, Reading, Roles, Sender};

/// A piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// Literal text.
    Lit(&'static str),
    /// A field of the event.
    Field(Field),
}

/// The fields templates may use (the compiler's catalog names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Field {
    EventType,
    EventOp,
    EventId,
    EventJson,
    ListenerName,
    RealmId,
    RealmName,
    MessageId,
    MessageContent,
    MessageTopic,
    MessageChannel,
    MessageChannelId,
    MessageType,
    MessageTimestamp,
    MessageLink,
    SenderId,
    SenderEmail,
    SenderName,
    UserId,
    UserEmail,
    UserName,
    ReactionEmoji,
    ReactionMessageId,
    StatusText,
    PresenceStatus,
    ChannelName,
    /// An argument (or flag) of the command the message invokes.
    Arg(&'static str),
    /// What the bot answers a message addressed to it that runs no command: the list
    /// of commands, an unknown command, a usage error.
    CommandAnswer,
    /// The schedule a tick is of.
    ScheduleName,
    /// A tick's wall-clock time in its schedule's zone (`2026-12-07 09:00`).
    TickTime,
    /// A tick's date (`2026-12-07`).
    TickDate,
    /// A tick's day of the week (`Monday`).
    TickWeekday,
    /// Whether a tick runs late, after downtime (`true`/`false`).
    TickLate,
    /// The busiest channels since the previous tick, as a Markdown list.
    DigestChannels,
    /// How many messages were counted since the previous tick.
    DigestMessages,
    /// The previous tick's time (where the digest starts).
    DigestSince,
    /// The state of the message's conversation (as the listener left it).
    ConversationState,
    /// A value remembered in the message's conversation.
    Conversation(&'static str),
}

/// The realm a connection serves, as templates see it. One value per connection, owned
/// by it, so that every template (log lines, replies, webhook bodies) renders the same
/// `realm.*` fields and `message.link`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealmInfo {
    /// The pipeline's number for the connection.
    pub id: u32,
    /// Its label: the pipeline's `name`, else the organization's name from the server.
    pub name: String,
    /// The organization's URL, for links (empty in a replay).
    pub site: String,
    /// The bot's full name, as mentions of it are written (empty in a replay).
    pub bot_name: String,
    /// The bot's user id, when known.
    pub bot_id: Option<u64>,
    /// The people's roles, for commands some roles only may run.
    pub roles: Roles,
    /// The conversations' states and remembered values.
    pub conversations: crate::conversation::Conversations,
    /// The organization's user groups, for commands some groups only may run.
    pub groups: crate::people::Groups,
}

impl RealmInfo {
    /// The context to render templates of `listener` for `event` (whose text is `json`).
    pub fn render_cx<'a>(
        &'a self,
        event: &'a Value,
        json: &'a str,
        listener: &'a str,
    ) -> RenderCx<'a> {
        RenderCx {
            event,
            json,
            listener,
            realm: self,
            commands: Commands::default(),
        }
    }

    /// What the message `m` (a `message` event's message) asks of the bot.
    pub fn reading(&self, commands: &Commands, m: &Value) -> Option<Reading> {
        let content = m["content"].as_str()?;
        let direct = m["type"].as_str() == Some("private");
        let id = m["sender_id"].as_i64().unwrap_or(-1);
        let who = Sender {
            id,
            email: m["sender_email"].as_str().unwrap_or(""),
            role: self.roles.get(id),
            groups: commands.by_group.then_some(&self.groups),
        };
        commands.reading(content, direct, &self.bot_name, self.bot_id, &who)
    }
}

/// What a template is rendered against; made by [`RealmInfo::render_cx`].
#[derive(Debug)]
pub struct RenderCx<'a> {
    /// The event, parsed as JSON.
    pub event: &'a Value,
    /// The raw event text.
    pub json: &'a str,
    /// Listener name.
    pub listener: &'a str,
    /// The connection's realm.
    pub realm: &'a RealmInfo,
    /// The pipeline's commands (for `args.*` and the answers to mistakes).
    pub commands: Commands,
}

impl RenderCx<'_> {
    /// The same context, reading commands as `commands` says.
    pub fn with_commands(mut self, commands: Commands) -> Self {
        self.commands = commands;
        self
    }
}

/// Renders `segs`. `into_message`: the result is message content, so field values go
/// through [`crate::markup::user_text`]; otherwise (log lines, webhook bodies, topics)
/// they are inserted as they are.
pub fn render(segs: &[Seg], cx: &RenderCx<'_>, into_message: bool) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Lit(s) => out.push_str(s),
            Seg::Field(f) => {
                let v = field(*f, cx);
                // The answers to commands are zlc's own text, with what the person
                // wrote quoted as code ([`crate::command`]).
                if into_message && *f != Field::CommandAnswer {
                    out.push_str(&crate::markup::user_text(&v));
                } else {
                    out.push_str(&v);
                }
            }
        }
    }
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first of `values` that is there, as text.
fn first_of(values: &[&Value]) -> String {
    values
        .iter()
        .find(|v| !v.is_null())
        .map(|v| s(v))
        .unwrap_or_default()
}

/// A link to message `m` in the web app of `site`.
fn message_link(m: &Value, site: &str) -> String {
    let id = s(&m["id"]);
    match (&m["display_recipient"], m["stream_id"].as_i64()) {
        (Value::String(_), Some(sid)) => format!("{site}/#narrow/channel/{sid}/near/{id}"),
        _ => format!("{site}/#narrow/near/{id}"),
    }
}

/// A presence event's clients and their status: `website: active, ZulipMobile: idle`.
fn presence(p: &Value) -> String {
    let mut out = String::new();
    for (client, p) in p.as_object().into_iter().flatten() {
        let sep = if out.is_empty() { "" } else { ", " };
        let _ = write!(out, "{sep}{client}: {}", s(&p["status"]));
    }
    out
}

/// The value of one field for this event (empty when the event lacks it).
pub fn field(f: Field, cx: &RenderCx<'_>) -> String {
    let e = cx.event;
    let m = &e["message"];
    match f {
        Field::EventType => s(&e["type"]),
        Field::ScheduleName => s(&e["schedule"]),
        Field::TickTime => s(&e["tick"]["time"]),
        Field::TickDate => s(&e["tick"]["date"]),
        Field::TickWeekday => s(&e["tick"]["weekday"]),
        Field::TickLate => s(&e["tick"]["late"]),
        Field::DigestChannels => s(&e["digest"]["channels"]),
        Field::DigestMessages => s(&e["digest"]["messages"]),
        Field::DigestSince => s(&e["digest"]["since"]),
        Field::ConversationState => s(&e["zlc_conversation"]["state"]),
        Field::Conversation(name) => s(&e["zlc_conversation"]["values"][name]),
        Field::EventOp => s(&e["op"]),
        Field::EventId => s(&e["id"]),
        Field::EventJson => cx.json.to_owned(),
        Field::ListenerName => cx.listener.to_owned(),
        Field::RealmId => cx.realm.id.to_string(),
        Field::RealmName => cx.realm.name.clone(),
        Field::MessageId => s(&m["id"]),
        Field::MessageContent => s(&m["content"]),
        Field::MessageTopic => s(&m["subject"]),
        Field::MessageChannel => match &m["display_recipient"] {
            Value::String(c) => c.clone(),
            _ => String::new(),
        },
        Field::MessageChannelId => s(&m["stream_id"]),
        Field::MessageType => match m["type"].as_str() {
            Some("stream") => "channel".into(),
            Some("private") => "direct".into(),
            other => other.unwrap_or_default().to_owned(),
        },
        Field::MessageTimestamp => s(&m["timestamp"]),
        Field::MessageLink => message_link(m, &cx.realm.site),
        Field::SenderId => s(&m["sender_id"]),
        Field::SenderEmail => s(&m["sender_email"]),
        Field::SenderName => s(&m["sender_full_name"]),
        Field::UserId => first_of(&[
            &e["user_id"],
            &e["person"]["user_id"],
            &e["sender"]["user_id"],
            // Reactions from servers before feature level 2 name the user only here.
            &e["user"]["user_id"],
        ]),
        Field::UserEmail => first_of(&[&e["user"]["email"], &e["email"], &e["person"]["email"]]),
        Field::UserName => first_of(&[&e["user"]["full_name"], &e["person"]["full_name"]]),
        Field::ReactionEmoji => s(&e["emoji_name"]),
        Field::ReactionMessageId => s(&e["message_id"]),
        Field::StatusText => s(&e["status_text"]),
        Field::PresenceStatus => presence(&e["presence"]),
        Field::ChannelName => {
            let first = |k: &str| e[k].get(0).map(|c| s(&c["name"]));
            first("streams")
                .or_else(|| first("subscriptions"))
                .unwrap_or_else(|| s(&e["name"]))
        }
        Field::Arg(name) => match cx.realm.reading(&cx.commands, m) {
            Some(Reading::Run(i)) => i.get(name).map(|v| v.text()).unwrap_or_default(),
            _ => String::new(),
        },
        Field::CommandAnswer => match cx.realm.reading(&cx.commands, m) {
            Some(Reading::Answer(text)) => text,
            _ => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fields_and_silences_wildcards() {
        let ev: Value = serde_json::json!({"type": "message", "id": 4, "message": {
            "id": 17, "content": "ping @**all** and @**Iago**", "subject": "ci", "display_recipient": "devel",
            "stream_id": 3, "type": "stream", "sender_email": "a@x", "sender_full_name": "A", "sender_id": 9}});
        let realm = RealmInfo {
            id: 1,
            name: "main".into(),
            site: "https://z.x".into(),
            ..RealmInfo::default()
        };
        let cx = realm.render_cx(&ev, "{}", "l");
        let segs = [
            Seg::Lit("["),
            Seg::Field(Field::MessageChannel),
            Seg::Lit("/"),
            Seg::Field(Field::MessageTopic),
            Seg::Lit("] "),
            Seg::Field(Field::SenderName),
            Seg::Lit(": "),
            Seg::Field(Field::MessageContent),
        ];
        assert_eq!(
            render(&segs, &cx, true),
            "[devel/ci] A: ping @_**all** and @_**Iago**"
        );
        assert_eq!(
            render(&segs, &cx, false),
            "[devel/ci] A: ping @**all** and @**Iago**"
        );
        assert_eq!(
            field(Field::MessageLink, &cx),
            "https://z.x/#narrow/channel/3/near/17"
        );
        assert_eq!(field(Field::ReactionEmoji, &cx), "");
    }
}
