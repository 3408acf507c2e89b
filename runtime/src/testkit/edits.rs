//! One message by id on the fake server: `GET /messages/{id}`, editing its content
//! (`PATCH`) and deleting it (`DELETE`), each with the events Zulip sends for them
//! (`update_message` in the shape of the API's example, `delete_message` with
//! `message_ids` to clients that take bulk deletions and `message_id` to others).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::messages::{flags, message_json, visible};
use super::reply::Reply;
use super::state::{FakeUser, Shared, State, lock};

fn invalid() -> Reply {
    Reply::error(400, "BAD_REQUEST", "Invalid message(s)")
}

/// `GET /messages/{id}`: the message (with the caller's flags) and, deprecated, its
/// Markdown as `raw_content`.
pub(super) fn get_message(
    shared: &Shared,
    user: &FakeUser,
    id: i64,
    p: &HashMap<String, String>,
) -> Reply {
    let st = lock(shared);
    let Some(m) = st
        .messages
        .iter()
        .find(|m| m.id == id && visible(m, user.id))
    else {
        return invalid();
    };
    let html = p.get("apply_markdown").is_none_or(|v| v != "false");
    let f = flags(m, user.id, &st.users);
    let message = message_json(m, &st.users, &st.channels, html, Some(f));
    Reply::ok(json!({"message": message, "raw_content": m.content}))
}

/// `PATCH /messages/{id}` with new `content`, by the message's sender.
pub(super) fn edit_message(
    shared: &Shared,
    user: &FakeUser,
    id: i64,
    p: &HashMap<String, String>,
) -> Reply {
    let Some(content) = p.get("content") else {
        return Reply::error(400, "BAD_REQUEST", "Nothing to change");
    };
    let mut st = lock(shared);
    let Some(m) = st.messages.iter_mut().find(|m| m.id == id) else {
        return invalid();
    };
    if m.sender_id != user.id {
        return Reply::error(
            400,
            "BAD_REQUEST",
            "You don't have permission to edit this message",
        );
    }
    let old = std::mem::replace(&mut m.content, content.clone());
    let m = m.clone();
    let now = st.clock.max(crate::clock::now_secs());
    let State {
        queues,
        users,
        channels,
        ..
    } = &mut *st;
    for q in queues.values_mut() {
        if !q.wants("update_message") || !visible(&m, q.user_id) {
            continue;
        }
        let mut event = json!({
            "type": "update_message", "user_id": user.id, "edit_timestamp": now,
            "message_id": id, "message_ids": [id], "orig_content": old,
            "orig_rendered_content": format!("<p>{old}</p>"), "content": m.content,
            "rendered_content": format!("<p>{}</p>", m.content),
            "prev_rendered_content_version": 1, "is_me_message": false,
            "flags": flags(&m, q.user_id, users), "rendering_only": false,
        });
        if let Some(channel) = m.channel_id {
            event["stream_id"] = json!(channel);
            event["stream_name"] = channel_name(channels, channel);
        }
        q.push(event);
    }
    drop(st);
    shared.notify.notify_waiters();
    Reply::ok(json!({"detached_uploads": []}))
}

fn channel_name(channels: &[(i64, String)], id: i64) -> Value {
    json!(
        channels
            .iter()
            .find(|(c, _)| *c == id)
            .map_or("", |(_, n)| n.as_str())
    )
}

/// `DELETE /messages/{id}`, by its sender or an administrator.
pub(super) fn delete_message(shared: &Shared, user: &FakeUser, id: i64) -> Reply {
    let mut st = lock(shared);
    let Some(at) = st.messages.iter().position(|m| m.id == id) else {
        return invalid();
    };
    if st.messages[at].sender_id != user.id && user.role > 200 {
        return Reply::error(
            400,
            "BAD_REQUEST",
            "You don't have permission to delete this message",
        );
    }
    let m = st.messages.remove(at);
    st.reactions.retain(|r| r.message_id != id);
    let State { queues, .. } = &mut *st;
    for q in queues.values_mut() {
        if !q.wants("delete_message") || !visible(&m, q.user_id) {
            continue;
        }
        let mut event = match m.channel_id {
            Some(channel) => json!({"type": "delete_message", "message_type": "stream",
                "stream_id": channel, "topic": m.topic}),
            None => json!({"type": "delete_message", "message_type": "private"}),
        };
        if q.bulk_deletion {
            event["message_ids"] = json!([id]);
        } else {
            event["message_id"] = json!(id);
        }
        q.push(event);
    }
    drop(st);
    shared.notify.notify_waiters();
    Reply::ok(json!({}))
}
