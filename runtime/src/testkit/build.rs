//! Builders for realistic events, shaped like the Zulip spec's examples, to pass to
//! [`super::FakeZulip::push_event`] (which assigns the event id). Message events are
//! made by [`super::FakeZulip::message`], which also stores the message.

use serde_json::{Value, json};

use super::state::FakeUser;

/// `reaction` / `add` or `remove` (`op`) of `emoji_name` on a message.
pub fn reaction(op: &str, user: &FakeUser, message_id: i64, emoji_name: &str) -> Value {
    json!({
        "type": "reaction", "op": op, "user_id": user.id,
        "user": {"user_id": user.id, "email": user.email, "full_name": user.full_name},
        "message_id": message_id, "emoji_name": emoji_name, "emoji_code": "1f389",
        "reaction_type": "unicode_emoji",
    })
}

/// `presence`: `user` is `active` or `idle` on the web client.
pub fn presence(user: &FakeUser, status: &str, timestamp: i64) -> Value {
    json!({
        "type": "presence", "user_id": user.id, "email": user.email,
        "server_timestamp": timestamp as f64 + 0.25,
        "presence": {"website": {"client": "website", "status": status, "timestamp": timestamp, "pushable": false}},
    })
}

/// `user_status`: `user` set a status text (and emoji).
pub fn user_status(user: &FakeUser, text: &str, emoji: Option<&str>) -> Value {
    let mut v =
        json!({"type": "user_status", "user_id": user.id, "away": false, "status_text": text});
    if let (Some(name), Some(obj)) = (emoji, v.as_object_mut()) {
        obj.insert("emoji_name".into(), json!(name));
        obj.insert("emoji_code".into(), json!("1f697"));
        obj.insert("reaction_type".into(), json!("unicode_emoji"));
    }
    v
}

/// `realm_user` / `update`: user `id` has Zulip role `role` now (Zulip's shape: only
/// the changed field beside the id).
pub fn realm_user_role(id: i64, role: u16) -> Value {
    json!({"type": "realm_user", "op": "update", "person": {"user_id": id, "role": role}})
}

/// `realm_user` / `add`: `user` joined the organization.
pub fn realm_user_add(user: &FakeUser) -> Value {
    json!({
        "type": "realm_user", "op": "add",
        "person": {
            "email": user.email, "delivery_email": null, "user_id": user.id, "avatar_version": 1,
            "is_admin": user.role <= 200, "is_owner": user.role == 100,
            "is_guest": user.role == 600, "role": user.role, "is_bot": user.is_bot, "full_name": user.full_name, "timezone": "", "is_active": true,
            "date_joined": "2026-11-01T12:00:00+00:00", "avatar_url": null, "profile_data": {},
        },
    })
}

/// `stream` / `create` of a public channel.
pub fn stream_create(channel_id: i64, name: &str) -> Value {
    json!({
        "type": "stream", "op": "create",
        "streams": [{
            "name": name, "stream_id": channel_id, "is_archived": false, "description": "",
            "rendered_description": "", "date_created": 1_700_000_000, "creator_id": null,
            "invite_only": false, "is_web_public": false, "stream_post_policy": 1,
            "history_public_to_subscribers": true, "first_message_id": null,
            "is_recently_active": true, "message_retention_days": null,
            "is_announcement_only": false, "stream_weekly_traffic": null,
        }],
    })
}

/// `subscription` / `peer_add`: users joined channels.
pub fn subscription_peer_add(channel_ids: &[i64], user_ids: &[i64]) -> Value {
    json!({"type": "subscription", "op": "peer_add", "stream_ids": channel_ids, "user_ids": user_ids})
}

/// `typing` / `start` of a direct message.
pub fn typing_start(sender: &FakeUser, recipients: &[&FakeUser]) -> Value {
    let r: Vec<Value> = recipients
        .iter()
        .map(|u| json!({"user_id": u.id, "email": u.email}))
        .collect();
    json!({"type": "typing", "op": "start", "message_type": "direct",
           "sender": {"user_id": sender.id, "email": sender.email}, "recipients": r})
}

/// `restart`: the server restarted (the queue survives).
pub fn restart(feature_level: i64) -> Value {
    json!({"type": "restart", "zulip_version": "11.0", "zulip_merge_base": "11.0",
           "zulip_feature_level": feature_level, "server_generation": 1_700_000_000})
}
