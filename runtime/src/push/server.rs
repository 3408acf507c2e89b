//! The push server: Zulip's outgoing-webhook protocol on one path, built to face the
//! internet. `POST` on the path only (405 for another method, 404 for another path);
//! bodies up to [`super::MAX_BODY`] (413 beyond), headers within
//! [`super::HEADER_TIMEOUT`] and bodies within [`super::BODY_TIMEOUT`] (the connection
//! is cut, or 408); at most `max_connections` connections served at once (more wait in
//! the kernel's backlog); a missing or wrong token is 401 with nothing dispatched. The
//! token is never logged.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{Answers, Conversation, PushSettings, Pushed, Route};
use crate::error::Result;

/// What the server needs for every request.
struct Served {
    settings: PushSettings,
    routes: Vec<Route>,
    answers: Arc<Answers>,
}

/// Serves the push protocol on `settings.listen` for `routes` until `cancel`; returns
/// the address it listens on.
pub async fn serve(
    settings: PushSettings,
    routes: Vec<Route>,
    answers: Arc<Answers>,
    cancel: CancellationToken,
) -> Result<SocketAddr> {
    let (listener, local) = crate::net::bind("--listen", settings.listen).await?;
    let realms: Vec<u32> = routes.iter().map(|r| r.realm).collect();
    tracing::info!(address = %local, path = %settings.path, ?realms, "serving Zulip's outgoing webhooks");
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let served = Arc::new(Served {
        settings,
        routes,
        answers,
    });
    tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                _ = cancel.cancelled() => break,
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let (stream, peer) = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::debug!(error = %e, "push: accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let served = served.clone();
            tokio::spawn(async move {
                connection(stream, peer, served).await;
                drop(permit);
            });
        }
    });
    Ok(local)
}

/// Serves one connection, for [`super::CONNECTION_LIFETIME`] at most.
async fn connection(stream: tokio::net::TcpStream, peer: SocketAddr, served: Arc<Served>) {
    let service = hyper::service::service_fn(move |req| {
        let served = served.clone();
        async move { Ok::<_, std::convert::Infallible>(request(req, peer, &served).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(super::HEADER_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    match tokio::time::timeout(super::CONNECTION_LIFETIME, conn).await {
        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "push: connection ended"),
        Err(_) => tracing::debug!(%peer, "push: connection open too long; closed"),
        Ok(Ok(())) => {}
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: serde_json::Value) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn refusal(status: StatusCode, msg: &str) -> Answer {
    answer(status, serde_json::json!({"result": "error", "msg": msg}))
}

fn not_required() -> Answer {
    answer(
        StatusCode::OK,
        serde_json::json!({"response_not_required": true}),
    )
}

/// One request: checked, read, routed by its token, dispatched, answered.
async fn request(req: Request<hyper::body::Incoming>, peer: SocketAddr, s: &Served) -> Answer {
    if req.uri().path() != s.settings.path {
        return refusal(StatusCode::NOT_FOUND, "not found");
    }
    if req.method() != Method::POST {
        let mut r = refusal(StatusCode::METHOD_NOT_ALLOWED, "only POST");
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST"),
        );
        return r;
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let payload: Payload<'_> = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(_) => return refusal(StatusCode::BAD_REQUEST, "not an outgoing-webhook payload"),
    };
    let token = payload.token.as_deref().unwrap_or_default();
    // Every route is compared, so that the time taken says nothing about which matched.
    let mut found = None;
    for r in &s.routes {
        if r.accepts(token.as_bytes()) {
            found = Some(r);
        }
    }
    let Some(route) = found else {
        tracing::warn!(%peer, "push refused: missing or wrong token");
        return refusal(StatusCode::UNAUTHORIZED, "missing or wrong token");
    };
    dispatch(route, payload, s).await
}

/// The body, within the size and time bounds.
async fn read_body(req: Request<hyper::body::Incoming>) -> std::result::Result<Bytes, Answer> {
    let too_large = || refusal(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::MAX_BODY as u64) {
        return Err(too_large());
    }
    let limited = Limited::new(req.into_body(), super::MAX_BODY);
    match tokio::time::timeout(super::BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(refusal(StatusCode::BAD_REQUEST, "body not read")),
        Err(_) => Err(refusal(StatusCode::REQUEST_TIMEOUT, "body too slow")),
    }
}

/// Zulip's outgoing-webhook payload (the fields read).
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(default)]
    token: Option<String>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    /// `mention`, `direct_message` (`private_message` before feature level 201).
    #[serde(default)]
    trigger: Option<String>,
}

/// Hands a pushed message to its realm's connection and waits (within the budget) for
/// an answer to put in the response.
async fn dispatch(route: &Route, payload: Payload<'_>, s: &Served) -> Answer {
    let Some(raw) = payload.message else {
        return refusal(StatusCode::BAD_REQUEST, "the payload has no message");
    };
    let message: serde_json::Value = match serde_json::from_str(raw.get()) {
        Ok(m) => m,
        Err(_) => return refusal(StatusCode::BAD_REQUEST, "the message is not JSON"),
    };
    let (Some(id), Some(at)) = (message["id"].as_i64(), Conversation::of(&message)) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "the message has no id or recipient",
        );
    };
    let Some(rx) = s.answers.wait(route.realm, id, at) else {
        // The same message is being handled: this is Zulip trying again.
        return not_required();
    };
    // A push's message carries no flags: a mention's are the ones Zulip would give it.
    let flags = match payload.trigger.as_deref() {
        Some("mention") => r#"["mentioned"]"#,
        _ => "[]",
    };
    let mut event = String::with_capacity(raw.get().len() + 48);
    crate::event::push_message_event(&mut event, raw.get(), flags);
    let pushed = Pushed {
        event,
        message_id: id,
    };
    if route.inbox.try_send(pushed).is_err() {
        s.answers.close(route.realm, id);
        tracing::warn!(
            realm = route.realm,
            message_id = id,
            "push refused: the realm's connection is not taking pushes (starting, stopping, or full)"
        );
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "busy; try again");
    }
    let mut rx = rx;
    let content = match tokio::time::timeout(s.settings.answer_within, &mut rx).await {
        Ok(Ok(content)) => Some(content),
        Ok(Err(_)) => None,
        Err(_) => {
            s.answers.close(route.realm, id);
            // An answer given between the deadline and the close still goes here.
            rx.try_recv().ok()
        }
    };
    match content {
        Some(content) => answer(StatusCode::OK, serde_json::json!({"content": content})),
        None => not_required(),
    }
}
