//! The fake server's HTTP side: routing, authentication, the Zulip endpoints and fault
//! injection. State lives in [`super::state::State`] behind a mutex that is never held across
//! an `.await`; long polls wait on a `Notify` that every new event wakes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::state::{FakeUser, Fault, Queue, RequestRecord, Shared, State, StoredMessage, lock};

const MAX_REQUEST_BODY: usize = 1 << 20;

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    // Connections live in this set: when the server stops, they are aborted with it.
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// A response body that is either whole or cut after its first half.
pub(super) enum FakeBody {
    Whole(Option<Bytes>),
    Cut(Option<Bytes>),
}

impl hyper::body::Body for FakeBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(match self.get_mut() {
            FakeBody::Whole(b) => b.take().map(|b| Ok(Frame::data(b))),
            FakeBody::Cut(b) => Some(match b.take() {
                Some(b) => Ok(Frame::data(b)),
                None => Err(std::io::Error::other("connection cut by fault injection")),
            }),
        })
    }
}

struct Reply {
    status: u16,
    body: String,
    content_type: &'static str,
    retry_after: Option<f64>,
    cut: bool,
}

impl Reply {
    fn json(status: u16, v: Value) -> Self {
        Reply {
            status,
            body: v.to_string(),
            content_type: "application/json",
            retry_after: None,
            cut: false,
        }
    }

    /// A 200 with a JSON body already written out.
    fn raw(body: String) -> Self {
        Reply {
            status: 200,
            body,
            content_type: "application/json",
            retry_after: None,
            cut: false,
        }
    }

    fn ok(mut v: Value) -> Self {
        if let Some(o) = v.as_object_mut() {
            o.insert("result".into(), json!("success"));
            o.insert("msg".into(), json!(""));
        }
        Reply::json(200, v)
    }

    fn error(status: u16, code: &str, msg: &str) -> Self {
        Reply::json(status, json!({"result": "error", "code": code, "msg": msg}))
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<FakeBody>, Infallible> {
    let at = shared.started.elapsed();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let mut params: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match http_body_util::Limited::new(req.into_body(), MAX_REQUEST_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(respond(Reply::error(
                413,
                "BAD_REQUEST",
                "request body too large",
            )));
        }
    };
    params.extend(form_urlencoded::parse(&body).into_owned());
    let endpoint = path
        .strip_prefix("/api/v1/")
        .unwrap_or(&path)
        .trim_end_matches('/')
        .to_owned();

    let fault = {
        let mut st = lock(&shared);
        let pos = st
            .faults
            .iter()
            .position(|(ep, _)| ep.as_deref().is_none_or(|e| e == endpoint));
        pos.and_then(|i| st.faults.remove(i)).map(|(_, f)| f)
    };
    let user = authenticate(&shared, auth.as_deref());
    let user_email = user.as_ref().ok().map(|u| u.email.clone());

    let reply = match &fault {
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(*d).await;
            route(&shared, &method, &endpoint, &params, user).await
        }
        Some(Fault::CutAnswer) => {
            let mut r = route(&shared, &method, &endpoint, &params, user).await;
            r.cut = true;
            r
        }
        Some(f) => fault_reply(f),
        None => route(&shared, &method, &endpoint, &params, user).await,
    };
    lock(&shared).requests.push(RequestRecord {
        method,
        endpoint,
        params,
        user: user_email,
        status: reply.status,
        fault,
        at,
    });
    Ok(respond(reply))
}

fn fault_reply(f: &Fault) -> Reply {
    match f {
        Fault::RateLimit { retry_after } => {
            let mut r = Reply::json(
                429,
                json!({
                    "result": "error", "code": "RATE_LIMIT_HIT",
                    "msg": "API usage exceeded rate limit", "retry-after": retry_after,
                }),
            );
            r.retry_after = Some(*retry_after);
            r
        }
        Fault::JsonError { status, code, msg } => Reply::error(*status, code, msg),
        Fault::Html { status } => Reply {
            status: *status,
            body: format!(
                "<html><head><title>{status} Bad Gateway</title></head><body><h1>{status} Bad Gateway</h1><hr>nginx</body></html>"
            ),
            content_type: "text/html",
            retry_after: None,
            cut: false,
        },
        Fault::CutBody => {
            let mut r = Reply::ok(
                json!({"events": [{"type": "heartbeat", "id": 999_999}], "queue_id": "x"}),
            );
            r.cut = true;
            r
        }
        Fault::Garbage => Reply {
            status: 200,
            body: r#"{"result":"success","events":[{"type":"mess"#.into(),
            content_type: "application/json",
            retry_after: None,
            cut: false,
        },
        Fault::Body { status, body } => Reply {
            status: *status,
            body: body.clone(),
            content_type: "application/json",
            retry_after: None,
            cut: false,
        },
        Fault::Delay(_) | Fault::CutAnswer => unreachable!("handled by the caller"),
    }
}

fn respond(r: Reply) -> Response<FakeBody> {
    let len = r.body.len();
    let mut builder = Response::builder()
        .status(r.status)
        .header("content-type", r.content_type);
    if let Some(s) = r.retry_after {
        builder = builder.header("retry-after", s.to_string());
    }
    let bytes = Bytes::from(r.body);
    let body = if r.cut {
        builder = builder.header("content-length", len.to_string());
        FakeBody::Cut(Some(bytes.slice(..len / 2)))
    } else {
        FakeBody::Whole(Some(bytes))
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(FakeBody::Whole(None)))
}

fn authenticate(shared: &Shared, header: Option<&str>) -> Result<FakeUser, Reply> {
    let unauthorized = || {
        Reply::error(
            401,
            "UNAUTHORIZED",
            "Not logged in: API authentication or user session required",
        )
    };
    let encoded = header
        .and_then(|h| h.strip_prefix("Basic "))
        .ok_or_else(unauthorized)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| unauthorized())?;
    let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
    let (email, key) = text.split_once(':').ok_or_else(unauthorized)?;
    let st = lock(shared);
    let user = st
        .users
        .iter()
        .find(|u| u.email == email && u.api_key == key);
    match user {
        Some(u) if st.deactivated.contains(&u.id) => Err(Reply::error(
            401,
            "USER_DEACTIVATED",
            "Account is deactivated",
        )),
        Some(u) => Ok(u.clone()),
        None => Err(Reply::error(401, "INVALID_API_KEY", "Invalid API key")),
    }
}

async fn route(
    shared: &Arc<Shared>,
    method: &str,
    endpoint: &str,
    p: &HashMap<String, String>,
    user: Result<FakeUser, Reply>,
) -> Reply {
    if (method, endpoint) == ("GET", "server_settings") {
        return Reply::ok(server_settings(shared));
    }
    let user = match user {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    gc_queues(shared);
    match (method, endpoint) {
        ("GET", "users/me") => {
            let st = lock(shared);
            let mut me = person(&user, &st);
            if let Some(o) = me.as_object_mut() {
                // Deprecated, still sent by `/users/me`.
                o.insert(
                    "max_message_id".into(),
                    json!(st.messages.last().map_or(-1, |m| m.id)),
                );
            }
            Reply::ok(me)
        }
        ("GET", "users") => {
            let st = lock(shared);
            let members: Vec<Value> = st.users.iter().map(|u| person(u, &st)).collect();
            Reply::ok(json!({"members": members}))
        }
        ("POST", "register") => register(shared, &user, p),
        ("GET", "events") => get_events(shared, p).await,
        ("DELETE", "events") => match p
            .get("queue_id")
            .and_then(|q| lock(shared).queues.remove(q))
        {
            Some(_) => Reply::ok(json!({})),
            None => bad_queue(p.get("queue_id").map_or("", String::as_str)),
        },
        ("POST", "messages") => send_message(shared, &user, p),
        ("GET", "messages") => get_messages(shared, &user, p),
        (m, ep) if ep.starts_with("messages/") && ep.ends_with("/reactions") => {
            let id = ep["messages/".len()..ep.len() - "/reactions".len()]
                .parse::<i64>()
                .unwrap_or(-1);
            reaction(shared, &user, m, id, p)
        }
        _ => Reply::error(
            404,
            "BAD_REQUEST",
            &format!("fake Zulip has no {method} /{endpoint}"),
        ),
    }
}

fn bad_queue(id: &str) -> Reply {
    Reply::json(
        400,
        json!({
            "result": "error", "code": "BAD_EVENT_QUEUE_ID",
            "msg": format!("Bad event queue ID: {id}"), "queue_id": id,
        }),
    )
}

fn gc_queues(shared: &Shared) {
    let idle = shared.opts.queue_idle_timeout;
    lock(shared)
        .queues
        .retain(|_, q| q.polling > 0 || q.last_activity.elapsed() < idle);
}

fn json_param<T: serde::de::DeserializeOwned>(
    p: &HashMap<String, String>,
    key: &str,
) -> Result<Option<T>, Reply> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => serde_json::from_str(v).map(Some).map_err(|_| {
            Reply::error(
                400,
                "BAD_REQUEST",
                &format!("Argument \"{key}\" is not valid JSON."),
            )
        }),
    }
}

fn register(shared: &Shared, user: &FakeUser, p: &HashMap<String, String>) -> Reply {
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

fn server_settings(shared: &Shared) -> Value {
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
fn person(u: &FakeUser, st: &State) -> Value {
    let mut v = json!({
        "user_id": u.id, "email": u.email, "delivery_email": null, "full_name": u.full_name,
        "avatar_url": null, "avatar_version": 1, "is_admin": false, "is_owner": false,
        "is_guest": false, "is_bot": u.is_bot, "role": 400, "timezone": "",
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

async fn get_events(shared: &Arc<Shared>, p: &HashMap<String, String>) -> Reply {
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

pub(super) fn store_message(
    shared: &Shared,
    sender: i64,
    channel_id: Option<i64>,
    topic: &str,
    to: &[i64],
    content: &str,
) -> i64 {
    let mut st = lock(shared);
    let id = st.messages.last().map_or(1000, |m| m.id + 1);
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
            && matches_narrow(&msg, &q.narrow, users, channels)
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
    id
}

fn visible(m: &StoredMessage, user_id: i64) -> bool {
    m.channel_id.is_some() || m.dm_user_ids.contains(&user_id)
}

fn flags(m: &StoredMessage, user_id: i64, users: &[FakeUser]) -> Vec<&'static str> {
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

fn message_json(
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

fn send_message(shared: &Shared, user: &FakeUser, p: &HashMap<String, String>) -> Reply {
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

fn get_messages(shared: &Shared, user: &FakeUser, p: &HashMap<String, String>) -> Reply {
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
        .filter(|m| visible(m, user.id) && matches_narrow(m, &narrow, &st.users, &st.channels))
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

fn reaction(
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
