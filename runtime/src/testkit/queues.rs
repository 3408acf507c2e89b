//! The fake server's event queues: `POST /register` (as each feature level answers it),
//! `GET /events` (long polls, heartbeats, backlogs), server settings and people.

use std::sync::Arc;
use std::time::Instant;

use std::collections::HashMap;

use serde_json::{Value, json};

use super::reply::{Reply, json_param};
use super::state::{FakeUser, Queue, Shared, State, lock};

pub(super) fn bad_queue(id: &str) -> Reply {
    Reply::json(
        400,
        json!({
            "result": "error", "code": "BAD_EVENT_QUEUE_ID",
            "msg": format!("Bad event queue ID: {id}"), "queue_id": id,
        }),
    )
}

pub(super) fn gc_queues(shared: &Shared) {
    let idle = shared.opts.queue_idle_timeout;
    lock(shared)
        .queues
        .retain(|_, q| q.polling > 0 || q.last_activity.elapsed() < idle);
}

pub(super) fn register(shared: &Shared, user: &FakeUser, p: &HashMap<String, String>) -> Reply {
    let event_types: Option<Vec<String>> = match json_param(p, "event_types") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let event_types_param = event_types.clone();
    let narrow: Vec<(String, String)> = match json_param::<Vec<Vec<String>>>(p, "narrow") {
        Ok(v) => v
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.first()?.clone(), t.get(1)?.clone())))
            .collect(),
        Err(r) => return r,
    };
    let apply_markdown = p.get("apply_markdown").is_some_and(|v| v == "true");
    let bulk_deletion = json_param::<Value>(p, "client_capabilities")
        .ok()
        .flatten()
        .is_some_and(|c| c["bulk_message_deletion"] == true);
    let mut st = lock(shared);
    let id = format!("fake-queue-{}", st.next_queue);
    st.next_queue += 1;
    let max_message_id = st.messages.last().map_or(-1, |m| m.id);
    let wants_messages = event_types
        .as_ref()
        .is_none_or(|t| t.iter().any(|t| t == "message"));
    let backlog_len = match &shared.opts.backlog {
        Some(b) if wants_messages => b.len(),
        _ => 0,
    };
    st.queues.insert(
        id.clone(),
        Queue {
            user_id: user.id,
            event_types,
            narrow,
            apply_markdown,
            events: Default::default(),
            backlog_next: 0,
            backlog_len,
            next_event_id: backlog_len as i64,
            last_activity: Instant::now(),
            polling: 0,
            bulk_deletion,
        },
    );
    let mut reply = json!({"queue_id": id, "last_event_id": -1});
    version_fields(&mut reply, shared.opts.feature_level);
    let level = shared.opts.feature_level;
    let fetch: Option<Vec<String>> = json_param(p, "fetch_event_types").ok().flatten();
    let wants_realm = fetch
        .as_ref()
        .or(event_types_param.as_ref())
        .is_none_or(|types| types.iter().any(|t| t == "realm"));
    if let Some(o) = reply.as_object_mut() {
        if level >= 74 {
            o.insert(
                "event_queue_longpoll_timeout_seconds".into(),
                json!(shared.opts.longpoll_timeout_secs),
            );
        }
        // Deprecated, still sent.
        o.insert("max_message_id".into(), json!(max_message_id));
        if wants_realm {
            o.insert("realm_name".into(), json!("Fake Zulip"));
            realm_url_fields(o, &format!("http://{}", shared.addr), level);
            o.insert("max_message_length".into(), json!(10000));
            o.insert("max_topic_length".into(), json!(60));
            o.insert("server_generation".into(), json!(1_700_000_000));
            if level >= 334 {
                o.insert(
                    "realm_empty_topic_display_name".into(),
                    json!("general chat"),
                );
            }
        }
    }
    Reply::ok(reply)
}

/// `zulip_version`, `zulip_feature_level` and `zulip_merge_base` as a server of `level`
/// sends them (no feature level before 3, no merge base before 88).
fn version_fields(v: &mut Value, level: i64) {
    let Some(o) = v.as_object_mut() else { return };
    o.insert("zulip_version".into(), json!(format!("fake-{level}")));
    if level >= 3 {
        o.insert("zulip_feature_level".into(), json!(level));
    }
    if level >= 88 {
        o.insert("zulip_merge_base".into(), json!(format!("fake-{level}")));
    }
}

/// The realm URL under the names a server of `level` uses: `realm_uri` before 257, then
/// `realm_url` with the deprecated `realm_uri` beside it.
fn realm_url_fields(o: &mut serde_json::Map<String, Value>, url: &str, level: i64) {
    if level >= 257 {
        o.insert("realm_url".into(), json!(url));
    }
    o.insert("realm_uri".into(), json!(url));
}

pub(super) fn server_settings(shared: &Shared) -> Value {
    let mut v = json!({
        "authentication_methods": {"password": true, "dev": false, "email": true, "ldap": false,
            "remoteuser": false, "github": false, "azuread": false, "gitlab": false,
            "apple": false, "google": false, "saml": false, "openid connect": false},
        "external_authentication_methods": [],
        "email_auth_enabled": true,
        "require_email_format_usernames": true,
        "realm_name": "Fake Zulip",
        "realm_icon": "https://secure.gravatar.com/avatar/62429d594b6ffc712f54aee976a18b44?d=identicon",
        "realm_description": "<p>The testkit's fake Zulip server.</p>",
        "realm_web_public_access_enabled": false,
        "push_notifications_enabled": false,
        "is_incompatible": false,
    });
    version_fields(&mut v, shared.opts.feature_level);
    if let Some(o) = v.as_object_mut() {
        realm_url_fields(
            o,
            &format!("http://{}", shared.addr),
            shared.opts.feature_level,
        );
    }
    v
}

/// A user as `GET /users` and `GET /users/me` describe one.
pub(super) fn person(u: &FakeUser, st: &State) -> Value {
    let mut v = json!({
        "user_id": u.id, "email": u.email, "delivery_email": null, "full_name": u.full_name,
        "avatar_url": null, "avatar_version": 1, "is_admin": u.role <= 200,
        "is_owner": u.role == 100, "is_guest": u.role == 600, "is_bot": u.is_bot,
        "role": u.role, "timezone": "",
        "is_active": !st.deactivated.contains(&u.id), "date_joined": "2026-11-01T12:00:00+00:00",
    });
    if let Some(o) = v.as_object_mut() {
        if u.is_bot {
            o.insert("bot_type".into(), json!(1));
            o.insert("bot_owner_id".into(), Value::Null);
        } else {
            o.insert("profile_data".into(), json!({}));
        }
    }
    v
}

/// An answer of `GET /events` with a backlog: its events' text as it is, then the
/// queue's own events.
fn backlog_answer<'a>(
    queue_id: &str,
    texts: &[Box<str>],
    own: impl Iterator<Item = &'a Value>,
) -> String {
    let mut body = String::from("{\"result\":\"success\",\"msg\":\"\",\"queue_id\":");
    body.push_str(&json!(queue_id).to_string());
    body.push_str(",\"events\":[");
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(text);
    }
    for e in own {
        body.push(',');
        body.push_str(&e.to_string());
    }
    body.push_str("]}");
    body
}

pub(super) async fn get_events(shared: &Arc<Shared>, p: &HashMap<String, String>) -> Reply {
    let Some(queue_id) = p.get("queue_id").cloned() else {
        return Reply::error(
            400,
            "REQUEST_VARIABLE_MISSING",
            "Missing 'queue_id' argument",
        );
    };
    let last: i64 = p
        .get("last_event_id")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let dont_block = p.get("dont_block").is_some_and(|v| v == "true");
    let deadline = tokio::time::Instant::now() + shared.opts.heartbeat;
    let mut registered = false;
    loop {
        let notified = shared.notify.notified();
        {
            let mut st = lock(shared);
            let State {
                queues, delivered, ..
            } = &mut *st;
            let Some(q) = queues.get_mut(&queue_id) else {
                return bad_queue(&queue_id);
            };
            q.last_activity = Instant::now();
            // Acknowledged events are dropped, as Zulip does.
            while q.events.front().is_some_and(|(id, _)| *id <= last) {
                q.events.pop_front();
            }
            if let Some(backlog) = shared.opts.backlog.as_ref().filter(|_| q.backlog_len > 0) {
                let acked = usize::try_from(last.saturating_add(1)).unwrap_or(0);
                q.backlog_next = q.backlog_next.max(acked.min(q.backlog_len));
                if q.backlog_next < q.backlog_len {
                    let texts = &backlog.events[q.backlog_next..q.backlog_len];
                    let body = backlog_answer(&queue_id, texts, q.events.iter().map(|(_, e)| e));
                    if registered {
                        q.polling -= 1;
                    }
                    return Reply::raw(body);
                }
            }
            let ready: Vec<Value> = q.events.iter().map(|(_, e)| e.clone()).collect();
            let timed_out = tokio::time::Instant::now() >= deadline;
            if !ready.is_empty() || dont_block || timed_out {
                let ready = if ready.is_empty() && timed_out {
                    let id = q.push(json!({"type": "heartbeat"}));
                    let last = q.events.back().map(|(_, e)| e.clone());
                    vec![last.unwrap_or(json!({"type": "heartbeat", "id": id}))]
                } else {
                    ready
                };
                if registered {
                    q.polling -= 1;
                }
                for e in &ready {
                    delivered.push((queue_id.clone(), e["id"].as_i64().unwrap_or(-1)));
                }
                return Reply::ok(json!({"events": ready, "queue_id": queue_id}));
            }
            if !registered {
                q.polling += 1;
                registered = true;
            }
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}
