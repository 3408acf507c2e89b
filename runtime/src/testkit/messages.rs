//! The fake server's messages: storing and sending them (each queue that wants one gets
//! its event), `GET /messages` with narrows and anchors, reactions.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::reply::{Reply, json_param};
use super::state::{FakeUser, Shared, State, StoredMessage, lock};

pub(super) fn store_message(
    shared: &Shared,
    sender: i64,
    channel_id: Option<i64>,
    topic: &str,
    to: &[i64],
    content: &str,
) -> i64 {
    let mut st = lock(shared);
    let id = st
        .last_message_id
        .max(st.messages.last().map_or(999, |m| m.id))
        + 1;
    st.last_message_id = id;
    // Real time, as Zulip stamps messages (never going backwards).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    st.clock = st.clock.max(now);
    let mut dm_user_ids: Vec<i64> = if channel_id.is_some() {
        Vec::new()
    } else {
        to.iter().copied().chain([sender]).collect()
    };
    dm_user_ids.sort_unstable();
    dm_user_ids.dedup();
    let msg = StoredMessage {
        id,
        sender_id: sender,
        channel_id,
        topic: if channel_id.is_some() {
            topic.to_owned()
        } else {
            String::new()
        },
        dm_user_ids,
        content: content.to_owned(),
        timestamp: st.clock,
    };
    let State {
        queues,
        users,
        channels,
        ..
    } = &mut *st;
    for q in queues.values_mut() {
        if q.wants("message")
            && visible(&msg, q.user_id)
            && matches_narrow(&msg, &q.narrow, q.user_id, users, channels)
        {
            let event = json!({
                "type": "message",
                "message": message_json(&msg, users, channels, q.apply_markdown, None),
                "flags": flags(&msg, q.user_id, users),
            });
            q.push(event);
        }
    }
    st.messages.push(msg);
    drop(st);
    shared.push_notify.notify_one();
    id
}

pub(super) fn visible(m: &StoredMessage, user_id: i64) -> bool {
    m.channel_id.is_some() || m.dm_user_ids.contains(&user_id)
}

pub(super) fn flags(m: &StoredMessage, user_id: i64, users: &[FakeUser]) -> Vec<&'static str> {
    let mut f = Vec::new();
    if m.sender_id == user_id {
        f.push("read");
    }
    if let Some(u) = users.iter().find(|u| u.id == user_id)
        && m.content.contains(&format!("@**{}**", u.full_name))
    {
        f.push("mentioned");
    }
    if m.content.contains("@**all**") {
        f.push("wildcard_mentioned");
    }
    f
}

fn matches_narrow(
    m: &StoredMessage,
    narrow: &[(String, String)],
    user_id: i64,
    users: &[FakeUser],
    channels: &[(i64, String)],
) -> bool {
    narrow.iter().all(|(op, operand)| {
        let (negated, op) = match op.strip_prefix('-') {
            Some(o) => (true, o),
            None => (false, op.as_str()),
        };
        let hit = match op {
            "channel" | "stream" => m.channel_id.is_some_and(|c| {
                channels
                    .iter()
                    .any(|(id, name)| *id == c && (name == operand || id.to_string() == *operand))
            }),
            "channels" | "streams" => operand == "public" && m.channel_id.is_some(),
            "topic" | "subject" => m.channel_id.is_some() && m.topic.eq_ignore_ascii_case(operand),
            "is" => match operand.as_str() {
                "dm" | "private" => m.channel_id.is_none(),
                "mentioned" => flags(m, user_id, users)
                    .iter()
                    .any(|f| f.ends_with("mentioned")),
                _ => true,
            },
            "sender" => users.iter().any(|u| {
                u.id == m.sender_id && (u.email == *operand || u.id.to_string() == *operand)
            }),
            "id" => operand.parse() == Ok(m.id),
            "search" => m.content.to_lowercase().contains(&operand.to_lowercase()),
            _ => true,
        };
        hit != negated
    })
}

pub(super) fn message_json(
    m: &StoredMessage,
    users: &[FakeUser],
    channels: &[(i64, String)],
    html: bool,
    flags: Option<Vec<&str>>,
) -> Value {
    let sender = users.iter().find(|u| u.id == m.sender_id);
    let (display_recipient, kind) = match m.channel_id {
        Some(c) => (json!(channels.iter().find(|(id, _)| *id == c).map_or("", |(_, n)| n.as_str())), "stream"),
        None => (
            Value::Array(
                m.dm_user_ids
                    .iter()
                    .filter_map(|id| users.iter().find(|u| u.id == *id))
                    .map(|u| json!({"id": u.id, "email": u.email, "full_name": u.full_name, "is_mirror_dummy": false}))
                    .collect(),
            ),
            "private",
        ),
    };
    let content = if html {
        format!("<p>{}</p>", escape_html(&m.content))
    } else {
        m.content.clone()
    };
    let mut v = json!({
        "id": m.id, "sender_id": m.sender_id, "content": content,
        "recipient_id": m.channel_id.map_or(1000 + m.dm_user_ids.iter().sum::<i64>(), |c| 20 + c),
        "timestamp": m.timestamp, "client": "fake", "subject": m.topic, "topic_links": [],
        "is_me_message": false, "reactions": [], "submessages": [],
        "sender_full_name": sender.map_or("", |u| u.full_name.as_str()),
        "sender_email": sender.map_or("", |u| u.email.as_str()),
        "sender_realm_str": "fake", "display_recipient": display_recipient, "type": kind,
        "avatar_url": null, "content_type": if html { "text/html" } else { "text/x-markdown" },
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(c) = m.channel_id {
            obj.insert("stream_id".into(), json!(c));
        }
        if let Some(f) = flags {
            obj.insert("flags".into(), json!(f));
        }
    }
    v
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn send_message(shared: &Shared, user: &FakeUser, p: &HashMap<String, String>) -> Reply {
    let Some(content) = p.get("content").filter(|c| !c.trim().is_empty()) else {
        return Reply::error(
            400,
            "REQUEST_VARIABLE_MISSING",
            "Missing 'content' argument",
        );
    };
    let to = p.get("to").cloned().unwrap_or_default();
    let id = match p.get("type").map(String::as_str) {
        Some("stream" | "channel") => {
            let channel = {
                let st = lock(shared);
                st.channels
                    .iter()
                    .find(|(id, name)| *name == to || id.to_string() == to)
                    .map(|(id, _)| *id)
            };
            let Some(channel) = channel else {
                return Reply::json(
                    400,
                    json!({"result": "error", "code": "STREAM_DOES_NOT_EXIST",
                    "msg": format!("Channel '{to}' does not exist"), "stream": to}),
                );
            };
            let Some(topic) = p.get("topic").or_else(|| p.get("subject")) else {
                return Reply::error(400, "REQUEST_VARIABLE_MISSING", "Missing 'topic' argument");
            };
            store_message(shared, user.id, Some(channel), topic, &[], content)
        }
        Some("private" | "direct") => {
            let ids: Vec<Value> = match serde_json::from_str(&to) {
                Ok(v) => v,
                Err(_) => return Reply::error(400, "BAD_REQUEST", "Invalid 'to' argument"),
            };
            let users: Vec<i64> = {
                let st = lock(shared);
                ids.iter()
                    .filter_map(|v| match v {
                        Value::Number(n) => {
                            n.as_i64().filter(|id| st.users.iter().any(|u| u.id == *id))
                        }
                        Value::String(e) => st.users.iter().find(|u| u.email == *e).map(|u| u.id),
                        _ => None,
                    })
                    .collect()
            };
            if users.len() != ids.len() {
                return Reply::error(
                    400,
                    "BAD_REQUEST",
                    &format!("Invalid user ID or email in {to}"),
                );
            }
            store_message(shared, user.id, None, "", &users, content)
        }
        _ => return Reply::error(400, "BAD_REQUEST", "Invalid message type"),
    };
    shared.notify.notify_waiters();
    Reply::ok(json!({"id": id}))
}

/// One narrow term, `{operator, operand, negated}` or the legacy `[operator, operand]`,
/// as (operator, `-` before it when negated; operand).
fn narrow_term(t: &Value) -> Option<(String, String)> {
    match t {
        Value::Object(o) => {
            let op = o.get("operator")?.as_str()?.to_owned();
            let operand = match o.get("operand")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let neg = o.get("negated").and_then(Value::as_bool).unwrap_or(false);
            Some((if neg { format!("-{op}") } else { op }, operand))
        }
        Value::Array(a) => Some((
            a.first()?.as_str()?.to_owned(),
            a.get(1)?.as_str()?.to_owned(),
        )),
        _ => None,
    }
}

pub(super) fn get_messages(shared: &Shared, user: &FakeUser, p: &HashMap<String, String>) -> Reply {
    let narrow: Vec<(String, String)> = match json_param::<Vec<Value>>(p, "narrow") {
        Ok(v) => v
            .unwrap_or_default()
            .iter()
            .filter_map(narrow_term)
            .collect(),
        Err(r) => return r,
    };
    let num = |k: &str| p.get(k).and_then(|v| v.parse::<usize>().ok());
    let (Some(before), Some(after)) = (num("num_before"), num("num_after")) else {
        return Reply::error(
            400,
            "REQUEST_VARIABLE_MISSING",
            "Missing 'num_before' or 'num_after' argument",
        );
    };
    if before + after > 5000 {
        return Reply::error(
            400,
            "BAD_REQUEST",
            "Too many messages requested (maximum 5000).",
        );
    }
    let include_anchor = p.get("include_anchor").is_none_or(|v| v == "true");
    let html = p.get("apply_markdown").is_none_or(|v| v == "true");
    let st = lock(shared);
    let matching: Vec<&StoredMessage> = st
        .messages
        .iter()
        .filter(|m| {
            visible(m, user.id) && matches_narrow(m, &narrow, user.id, &st.users, &st.channels)
        })
        .collect();
    let anchor = match p.get("anchor").map(String::as_str) {
        Some("newest") | None => i64::MAX,
        Some("oldest") => i64::MIN,
        Some(n) => match n.parse() {
            Ok(n) => n,
            Err(_) => return Reply::error(400, "BAD_REQUEST", "Invalid anchor"),
        },
    };
    let older: Vec<&&StoredMessage> = matching.iter().filter(|m| m.id < anchor).collect();
    let newer: Vec<&&StoredMessage> = matching.iter().filter(|m| m.id > anchor).collect();
    let at = matching.iter().find(|m| m.id == anchor);
    let mut out: Vec<&StoredMessage> = older[older.len().saturating_sub(before)..]
        .iter()
        .map(|m| **m)
        .collect();
    if include_anchor && let Some(m) = at {
        out.push(m);
    }
    out.extend(newer.iter().take(after).map(|m| **m));
    let messages: Vec<Value> = out
        .iter()
        .map(|m| {
            message_json(
                m,
                &st.users,
                &st.channels,
                html,
                Some(flags(m, user.id, &st.users)),
            )
        })
        .collect();
    Reply::ok(json!({
        "anchor": anchor, "found_anchor": at.is_some(), "found_newest": newer.len() <= after,
        "found_oldest": older.len() <= before, "history_limited": false, "messages": messages,
    }))
}

pub(super) fn reaction(
    shared: &Shared,
    user: &FakeUser,
    method: &str,
    message_id: i64,
    p: &HashMap<String, String>,
) -> Reply {
    let Some(emoji) = p.get("emoji_name").cloned() else {
        return Reply::error(
            400,
            "REQUEST_VARIABLE_MISSING",
            "Missing 'emoji_name' argument",
        );
    };
    let mut st = lock(shared);
    if !st.messages.iter().any(|m| m.id == message_id) {
        return Reply::error(400, "BAD_REQUEST", "Invalid message(s)");
    }
    let record = super::state::ReactionRecord {
        message_id,
        user_id: user.id,
        emoji_name: emoji.clone(),
    };
    let exists = st.reactions.contains(&record);
    let op = match (method, exists) {
        ("POST", true) => {
            return Reply::error(400, "REACTION_ALREADY_EXISTS", "Reaction already exists.");
        }
        ("DELETE", false) => {
            return Reply::error(400, "REACTION_DOES_NOT_EXIST", "Reaction doesn't exist.");
        }
        ("POST", false) => {
            st.reactions.push(record);
            "add"
        }
        ("DELETE", true) => {
            st.reactions.retain(|r| *r != record);
            "remove"
        }
        _ => return Reply::error(405, "BAD_REQUEST", "Method not allowed"),
    };
    let event = super::build::reaction(op, user, message_id, &emoji);
    for q in st.queues.values_mut() {
        if q.wants("reaction") {
            q.push(event.clone());
        }
    }
    drop(st);
    shared.notify.notify_waiters();
    Reply::ok(json!({}))
}
