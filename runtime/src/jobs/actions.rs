//! Performing one action, once: the built-in actions, a handler's posts, and HTTP
//! calls. Retries, timeouts, the breaker, de-duplication and rate limits are the
//! executor's ([`crate::jobs`]); here an attempt either does its effect or says why
//! not, and whether trying again can help.
//!
//! Effects go through the connection's outbox ([`crate::jobs::outbox`]): performed live,
//! logged in a replay, recorded under test. User text entering a message goes through
//! [`crate::markup`]; HTTP calls follow the address rules of [`crate::net`].

use serde_json::Value;

use crate::client::Destination;
use crate::config::Secret;
use crate::jobs::outbox::{HttpSink, Slot, ZulipSink};
use crate::markup;
use crate::pipeline::{ActionDesc, ListenerDesc, ReplyDesc};
use crate::store::Store;
use crate::template::{RealmInfo, RenderCx, Seg, render};

/// The largest HTTP answer read.
const MAX_HTTP_ANSWER: usize = 1 << 20;

/// A post a handler asked for, performed after it returned `Ok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Post {
    /// A message to the conversation of the event.
    Reply(String),
    /// A message to a destination.
    Send(Destination, String),
    /// A reaction to the event's message.
    React(String),
    /// The event's message quoted in a channel (topic: the original's when `None`).
    Forward {
        /// The channel.
        channel: String,
        /// The topic.
        topic: Option<String>,
    },
}

/// The `Idempotency-Key` of one outbound call: the same for every attempt, every
/// delivery of the event and every process, so that a receiver can drop repeats (a
/// retry after a timeout, or the call made again after a crash between the call and
/// its record). It is derived from the site, the pipeline, the listener and the effect
/// (realm, event key, action, and the call's number within a handler), hashed so that
/// it says nothing about them, and written as an RFC 9562 UUID (version 8) because
/// many receivers expect a UUID there.
pub fn idempotency_key(site: &str, pipeline: &str, listener: &str, effect: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in ["zlc idempotency key", site, pipeline, listener, effect] {
        ctx.update(part.as_bytes());
        ctx.update(&[0]);
    }
    let digest = ctx.finish();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8: custom
    b[8] = (b[8] & 0x3f) | 0x80; // the RFC variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Whether an effect really happened or was only logged (Zulip posts in a replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Done {
    Really,
    DryRun,
}

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) retryable: bool,
    /// The wait the other side asked for (a 429's `Retry-After`).
    pub(crate) retry_after: Option<std::time::Duration>,
}

impl Failure {
    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    pub(crate) fn retryable(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }
}

impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Self {
        Failure {
            retryable: e.is_retryable(),
            retry_after: e.retry_after(),
            message: e.to_string(),
        }
    }
}

/// What one attempt at an action carries besides its event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    /// The webhook's bearer token.
    pub(crate) token: Option<&'a Secret>,
    /// The side effect's name, from which its `Idempotency-Key` comes.
    pub(crate) effect: &'a str,
    /// Where a message it posts goes ([`Slot`]).
    pub(crate) slot: &'a Slot,
}

/// A connection's means of effect: its outbox, HTTP clients, store and realm.
#[derive(Debug)]
pub struct Effects {
    pub(crate) pipeline: &'static str,
    pub(crate) zulip: ZulipSink,
    pub(crate) http: HttpSink,
    /// Webhook clients, built on first use: building one reads the system's
    /// certificates, which a connection whose listeners never call out (or a replay)
    /// should not pay for at every start.
    http_public: std::sync::OnceLock<reqwest::Client>,
    http_private: std::sync::OnceLock<reqwest::Client>,
    pub(crate) store: Option<Store>,
    pub(crate) realm: RealmInfo,
    pub(crate) own_user_id: i64,
    /// Who claims side effects: this process.
    pub(crate) owner: String,
    /// A push realm's answers in HTTP responses (and the realm).
    pub(crate) answers: Option<(u32, std::sync::Arc<crate::push::Answers>)>,
}

impl Effects {
    /// The effects of a connection to `realm` as `own_user_id`.
    pub fn new(
        pipeline: &'static str,
        zulip: ZulipSink,
        http: HttpSink,
        store: Option<Store>,
        realm: RealmInfo,
        own_user_id: i64,
    ) -> Self {
        Effects {
            pipeline,
            zulip,
            http,
            http_public: std::sync::OnceLock::new(),
            http_private: std::sync::OnceLock::new(),
            store,
            realm,
            own_user_id,
            owner: crate::store::effects::this_process().to_owned(),
            answers: None,
        }
    }

    /// The same effects, whose first answer to a pushed message's conversation goes
    /// in the push's HTTP response while it waits (realm `realm`).
    pub fn with_answers(
        mut self,
        realm: u32,
        answers: std::sync::Arc<crate::push::Answers>,
    ) -> Self {
        self.answers = Some((realm, answers));
        self
    }

    pub(crate) fn pipeline(&self) -> &'static str {
        self.pipeline
    }

    pub(crate) fn store(&self) -> crate::error::Result<&Store> {
        self.store
            .as_ref()
            .ok_or_else(|| crate::error::Error::Store("this connection has no store".into()))
    }

    /// Whether HTTP calls are recorded and answered from canned answers (tests): then
    /// retries do not wait out their backoff.
    pub(crate) fn records_http(&self) -> bool {
        matches!(self.http, HttpSink::Record(_))
    }

    /// Whether Zulip posts are really sent (and so rate limited).
    pub(crate) fn posts_for_real(&self) -> bool {
        !matches!(self.zulip, ZulipSink::DryRun)
    }

    /// Performs a built-in action once: `attempt` carries the webhook's bearer token,
    /// the effect's name (its `Idempotency-Key` comes from it) and the message slot.
    pub(crate) async fn perform(
        &self,
        l: &ListenerDesc,
        action: &ActionDesc,
        event: &Value,
        json: &str,
        attempt: Attempt<'_>,
    ) -> Result<Done, Failure> {
        let Attempt {
            token,
            effect,
            slot,
        } = attempt;
        let cx = self
            .realm
            .render_cx(event, json, l.name)
            .with_commands(l.commands);
        match action {
            ActionDesc::Reply { to, template } => self.reply(l, to, template, &cx, slot).await,
            ActionDesc::React { emoji } => self.react(l.name, event, emoji).await,
            ActionDesc::Forward { channel, topic } => {
                let topic = topic.map(|t| render(t, &cx, false));
                self.forward(l.name, event, channel, topic, slot).await
            }
            ActionDesc::Webhook {
                url,
                body,
                reply_field,
                allow_private,
                ..
            } => {
                let call = HttpCall {
                    method: "POST",
                    url,
                    body: None,
                    token,
                    allow_private: *allow_private,
                    idempotency_key: None,
                };
                let attempt = Attempt {
                    token,
                    effect,
                    slot,
                };
                self.webhook(l, call, *body, *reply_field, &cx, &attempt)
                    .await
            }
            // A handler is run by the executor (it needs a context); inline actions
            // were done by dispatch.
            ActionDesc::Handler { .. }
            | ActionDesc::Count { .. }
            | ActionDesc::Log { .. }
            | ActionDesc::Store => Ok(Done::Really),
        }
    }

    /// A `reply` action: its template rendered, sent to `to`.
    async fn reply(
        &self,
        l: &ListenerDesc,
        to: &ReplyDesc,
        template: &[Seg],
        cx: &RenderCx<'_>,
        slot: &Slot,
    ) -> Result<Done, Failure> {
        let content = render(template, cx, true);
        let event = cx.event;
        let dest = match to {
            ReplyDesc::Same => same_conversation(event, self.own_user_id),
            ReplyDesc::Sender => event["message"]["sender_id"]
                .as_i64()
                .map(|id| Destination::Direct { user_ids: vec![id] }),
            ReplyDesc::Channel { channel, topic } => Some(Destination::Channel {
                channel: (*channel).to_owned(),
                topic: render(topic, cx, false),
            }),
        };
        let Some(dest) = dest else {
            return Err(Failure::permanent(
                "the event has no conversation to reply to",
            ));
        };
        self.send(l.name, &dest, &content, slot).await
    }

    /// A `webhook` action: `call` with `body` (templates; else the event), its answer's
    /// `reply_field` (if named) posted back to the event's conversation.
    async fn webhook(
        &self,
        l: &ListenerDesc,
        call: HttpCall<'_>,
        body: Option<&[(&str, &[Seg])]>,
        reply_field: Option<&str>,
        cx: &RenderCx<'_>,
        attempt: &Attempt<'_>,
    ) -> Result<Done, Failure> {
        let Attempt { effect, slot, .. } = *attempt;
        let event = cx.event;
        let payload = match body {
            Some(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, t)| ((*k).to_owned(), Value::String(render(t, cx, false))))
                    .collect(),
            ),
            None => event.clone(),
        };
        let key = self.idempotency_key(l.name, effect);
        let call = HttpCall {
            body: Some(&payload),
            idempotency_key: Some(&key),
            ..call
        };
        let answer = self.http(l, call).await.map_err(Failure::from)?;
        let Some(field) = reply_field else {
            return Ok(Done::Really);
        };
        let text = answer.get(field).and_then(Value::as_str).ok_or_else(|| {
            Failure::permanent(format!(
                "the webhook's answer has no string field `{field}`"
            ))
        })?;
        let Some(dest) = same_conversation(event, self.own_user_id) else {
            return Err(Failure::permanent(
                "the event has no conversation to reply to",
            ));
        };
        self.send(l.name, &dest, &markup::user_text(text), slot)
            .await
    }

    /// Performs one post a handler asked for.
    pub(crate) async fn post(
        &self,
        l: &ListenerDesc,
        post: &Post,
        event: &Value,
        slot: &Slot,
    ) -> Result<Done, Failure> {
        match post {
            Post::Reply(text) => match same_conversation(event, self.own_user_id) {
                Some(dest) => self.send(l.name, &dest, text, slot).await,
                None => Err(Failure::permanent(
                    "the event has no conversation to reply to",
                )),
            },
            Post::Send(dest, text) => self.send(l.name, dest, text, slot).await,
            Post::React(emoji) => self.react(l.name, event, emoji).await,
            Post::Forward { channel, topic } => {
                self.forward(l.name, event, channel, topic.clone(), slot)
                    .await
            }
        }
    }

    async fn react(&self, listener: &str, event: &Value, emoji: &str) -> Result<Done, Failure> {
        let Some(id) = event["message"]["id"].as_i64() else {
            return Err(Failure::permanent("the event has no message to react to"));
        };
        match &self.zulip {
            ZulipSink::Live(client) => match client.add_reaction(id, emoji).await {
                Ok(()) => Ok(Done::Really),
                Err(crate::error::Error::BadRequest { code, .. })
                    if code == "REACTION_ALREADY_EXISTS" =>
                {
                    Ok(Done::Really)
                }
                Err(e) => Err(Failure::from(e)),
            },
            ZulipSink::DryRun => {
                tracing::info!(listener, message_id = id, emoji, "replay: would react");
                Ok(Done::DryRun)
            }
            ZulipSink::Record(r) => {
                r.reaction(listener, id, emoji);
                Ok(Done::Really)
            }
        }
    }

    async fn forward(
        &self,
        listener: &str,
        event: &Value,
        channel: &str,
        topic: Option<String>,
        slot: &Slot,
    ) -> Result<Done, Failure> {
        let m = &event["message"];
        let original_topic = m["subject"].as_str().unwrap_or("");
        let topic = match topic {
            Some(t) => t,
            None if original_topic.is_empty() => "forwarded".to_owned(),
            None => original_topic.to_owned(),
        };
        let from = match m["display_recipient"].as_str() {
            Some(c) => markup::conversation_link(c, original_topic),
            None => "a direct message".to_owned(),
        };
        let content = format!(
            "{} in {from}:\n{}",
            markup::silent_mention(m["sender_full_name"].as_str().unwrap_or("someone")),
            markup::quote(m["content"].as_str().unwrap_or(""))
        );
        let dest = Destination::Channel {
            channel: channel.to_owned(),
            topic,
        };
        self.send(listener, &dest, &content, slot).await
    }

    /// The `Idempotency-Key` of `listener`'s effect `effect` on this connection.
    pub(crate) fn idempotency_key(&self, listener: &str, effect: &str) -> String {
        idempotency_key(&self.realm.site, self.pipeline, listener, effect)
    }

    /// The HTTP client for webhooks that may (or may not) reach private addresses,
    /// built on first use.
    fn http_client(&self, allow_private: bool) -> crate::error::Result<&reqwest::Client> {
        let cell = if allow_private {
            &self.http_private
        } else {
            &self.http_public
        };
        match cell.get() {
            Some(c) => Ok(c),
            None => {
                let built = crate::net::webhook_client(allow_private)?;
                Ok(cell.get_or_init(|| built))
            }
        }
    }

    /// An HTTP call with a JSON answer (`null` when the answer is not JSON), under the
    /// address rules: public addresses only unless `allow_private`, `https://` or
    /// `http://` to loopback, no redirects, at most 1 MiB of answer. A 5xx or 429 answer,
    /// a timeout or a cut connection is retryable; anything else is not.
    pub(crate) async fn http(
        &self,
        l: &ListenerDesc,
        call: HttpCall<'_>,
    ) -> crate::error::Result<Value> {
        let listener = l.name;
        let HttpCall {
            method,
            url,
            body,
            token,
            allow_private,
            idempotency_key,
        } = call;
        let refuse = |detail: String| crate::error::Error::Http {
            detail,
            retryable: false,
            retry_after: None,
        };
        crate::net::check_url(url, allow_private).map_err(refuse)?;
        if let HttpSink::Record(r) = &self.http {
            let body = body.unwrap_or(&Value::Null);
            let answer = r.http(listener, method, url, body, idempotency_key);
            return recorded_answer(answer, url, l.policy.timeout_ms);
        }
        let client = self.http_client(allow_private)?;
        let mut req = match method {
            "GET" => client.get(url),
            _ => client.post(url).json(body.unwrap_or(&Value::Null)),
        };
        if let Some(token) = token {
            req = req.bearer_auth(token.expose());
        }
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        let mut resp = req.send().await.map_err(|e| crate::error::Error::Http {
            detail: format!("request to {url} failed: {}", crate::client::describe(&e)),
            // A refusal by the address guard is a configuration matter.
            retryable: !crate::net::is_refused(&e),
            retry_after: None,
        })?;
        let status = resp.status();
        let retry_after = (status.as_u16() == 429)
            .then(|| retry_after_header(resp.headers()))
            .flatten();
        let answer = read_answer(&mut resp, url).await?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&answer);
            return Err(crate::error::Error::Http {
                detail: format!(
                    "{url} answered HTTP {status}: {}",
                    crate::event::excerpt(&text)
                ),
                retryable: status.is_server_error() || status.as_u16() == 429,
                retry_after,
            });
        }
        Ok(serde_json::from_slice(&answer).unwrap_or(Value::Null))
    }
}

/// What a recorded call's canned `answer` makes of it, as a real answer would: a body,
/// a status error (5xx and 429 retried), a cut connection, or a timeout when it comes at
/// or after the listener's `timeout_ms` (at once: recorded calls do not wait).
fn recorded_answer(
    answer: crate::jobs::outbox::Answer,
    url: &str,
    timeout_ms: u64,
) -> crate::error::Result<Value> {
    let fail = |detail: String, retryable: bool| crate::error::Error::Http {
        detail,
        retryable,
        retry_after: None,
    };
    if answer.delay_ms > 0 && answer.delay_ms >= timeout_ms {
        let detail = format!(
            "{url} did not answer within {timeout_ms} ms (the test's delay: {} ms)",
            answer.delay_ms
        );
        return Err(fail(detail, true));
    }
    if answer.cut {
        return Err(fail(
            format!("the answer of {url} was cut (the test's `cut`)"),
            true,
        ));
    }
    let status = answer.status;
    if !(200..300).contains(&status) {
        let detail = format!("{url} answered HTTP {status} (the test's `status`)");
        return Err(fail(detail, status >= 500 || status == 429));
    }
    Ok(answer.body)
}

/// An HTTP answer's body, at most [`MAX_HTTP_ANSWER`] bytes of it.
async fn read_answer(resp: &mut reqwest::Response, url: &str) -> crate::error::Result<Vec<u8>> {
    let mut answer = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| crate::error::Error::Http {
        detail: format!("the answer of {url} was cut: {e}"),
        retryable: true,
        retry_after: None,
    })? {
        if answer.len() + chunk.len() > MAX_HTTP_ANSWER {
            return Err(crate::error::Error::Http {
                detail: format!("the answer of {url} exceeds {MAX_HTTP_ANSWER} bytes"),
                retryable: false,
                retry_after: None,
            });
        }
        answer.extend_from_slice(&chunk);
    }
    Ok(answer)
}

/// One outbound HTTP call of an action or a handler.
#[derive(Debug)]
pub(crate) struct HttpCall<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a str,
    /// The JSON body (a POST).
    pub(crate) body: Option<&'a Value>,
    /// A bearer token.
    pub(crate) token: Option<&'a Secret>,
    /// May reach private, loopback and link-local addresses.
    pub(crate) allow_private: bool,
    /// The `Idempotency-Key` header to send.
    pub(crate) idempotency_key: Option<&'a str>,
}

/// A 429's `Retry-After` (seconds, or an HTTP date), capped at an hour.
fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => s,
        _ => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    Some(std::time::Duration::from_secs_f64(secs.min(3600.0)))
}

/// The conversation a message event came from, as a destination for a reply.
pub(crate) fn same_conversation(event: &Value, own_user_id: i64) -> Option<Destination> {
    let m = &event["message"];
    match &m["display_recipient"] {
        Value::String(channel) => Some(Destination::Channel {
            channel: channel.clone(),
            topic: m["subject"].as_str().unwrap_or("").to_owned(),
        }),
        Value::Array(users) => {
            let mut ids: Vec<i64> = users
                .iter()
                .filter_map(|u| u["id"].as_i64())
                .filter(|id| *id != own_user_id)
                .collect();
            if ids.is_empty() {
                ids = m["sender_id"].as_i64().into_iter().collect();
            }
            Some(Destination::Direct { user_ids: ids })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_stable_uuids_that_differ_per_effect() {
        let key = idempotency_key("https://chat.example.com", "alerts", "hook", "1:m42:0");
        // Pinned: a key must not change between zlc versions (a fleet mid-upgrade, or a
        // call made again by a newer build after a crash, must send the same one).
        // The value was computed independently (Python's hashlib, the same layout).
        assert_eq!(key, "1ba47396-31df-8f02-b33d-c0c05ff2c01f");
        let parts: Vec<&str> = key.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8: {key}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "RFC variant: {key}"
        );
        for other in [
            idempotency_key("https://chat.example.org", "alerts", "hook", "1:m42:0"),
            idempotency_key("https://chat.example.com", "alerts2", "hook", "1:m42:0"),
            idempotency_key("https://chat.example.com", "alerts", "hook2", "1:m42:0"),
            idempotency_key("https://chat.example.com", "alerts", "hook", "1:m42:1"),
            // Parts are separated: moving a character between them changes the key.
            idempotency_key("https://chat.example.com", "alert", "shook", "1:m42:0"),
        ] {
            assert_ne!(other, key);
        }
    }

    #[test]
    fn replies_go_back_to_the_conversation_without_ourselves() {
        let ch = serde_json::json!({"message": {"display_recipient": "devel", "subject": "ci", "sender_id": 5}});
        assert_eq!(
            same_conversation(&ch, 9),
            Some(Destination::Channel {
                channel: "devel".into(),
                topic: "ci".into()
            })
        );
        let dm = serde_json::json!({"message": {"display_recipient": [{"id": 5}, {"id": 9}, {"id": 7}], "sender_id": 5}});
        assert_eq!(
            same_conversation(&dm, 9),
            Some(Destination::Direct {
                user_ids: vec![5, 7]
            })
        );
    }
}
