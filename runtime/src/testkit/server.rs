//! The fake server's HTTP side: routing, authentication, the Zulip endpoints and fault
//! injection. State lives in [`super::state::State`] behind a mutex that is never held across
//! an `.await`; long polls wait on a `Notify` that every new event wakes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::messages::{get_messages, reaction, send_message};
use super::queues::{bad_queue, gc_queues, get_events, person, register, server_settings};
use super::reply::Reply;
use super::state::{FakeUser, Fault, RequestRecord, Shared, lock};

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
        ("GET", "user_groups") => super::groups::user_groups(shared),
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
        (m, ep) if ep.starts_with("messages/") && !ep["messages/".len()..].contains('/') => {
            match (m, ep["messages/".len()..].parse::<i64>()) {
                ("GET", Ok(id)) => super::edits::get_message(shared, &user, id, p),
                ("PATCH", Ok(id)) => super::edits::edit_message(shared, &user, id, p),
                ("DELETE", Ok(id)) => super::edits::delete_message(shared, &user, id),
                _ => Reply::error(400, "BAD_REQUEST", "Invalid message(s)"),
            }
        }
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
