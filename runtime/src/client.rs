//! The Zulip REST client: one `reqwest` client per realm connection.
//!
//! Every response goes through [`Client::send`], which reads the body under a size
//! limit and classifies the outcome once into [`Error`]: queue gone, rate limited (with
//! the wait from the body's `retry-after` or the `Retry-After` header, as a float),
//! authentication, transient (5xx, HTML error pages, non-JSON, timeouts, cut
//! connections) or bad request. Callers decide on retries from the classification only.

use std::sync::Once;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::config::{Secret, ZulipConfig};
use crate::error::{Error, Result};
use crate::event::excerpt;

mod answer;
mod groups;
mod messages;
mod wire;

pub(crate) use answer::{classify, describe};
pub use messages::is_no_such_message;
pub use wire::{
    DEFAULT_LONGPOLL, Destination, Member, MessagesPage, NarrowTerm, OwnUser, RegisterRequest,
    Registration, ServerInfo, ServerSettings,
};

/// Default timeout of requests other than the long poll.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest response body accepted from `GET /events` and `GET /messages`.
pub const MAX_EVENTS_BODY: usize = 256 << 20;
/// The largest body accepted from other endpoints.
pub const MAX_BODY: usize = 16 << 20;

static CRYPTO: Once = Once::new();

/// Installs rustls' ring provider once per process (reqwest panics without one).
pub fn install_crypto_provider() {
    CRYPTO.call_once(|| {
        // Err means another provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for one account on one Zulip site.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    email: String,
    key: Secret,
}

impl Client {
    /// A client for `config`. Builds the HTTP client; makes no request.
    pub fn new(config: &ZulipConfig) -> Result<Self> {
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("zlc/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(REQUEST_TIMEOUT)
            .tls_danger_accept_invalid_certs(config.insecure);
        if let Some(path) = &config.cert_bundle {
            let pem = std::fs::read(path).map_err(|e| {
                Error::Config(format!("cannot read cert bundle {}: {e}", path.display()))
            })?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::Config(format!("cert bundle {} is not PEM: {e}", path.display()))
            })? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: format!("{}/v1", config.site),
            email: config.email.clone(),
            key: config.api_key.clone(),
        })
    }

    /// The API base URL (`…/api/v1`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, endpoint: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{endpoint}", self.base))
            .basic_auth(&self.email, Some(self.key.expose()))
    }

    /// `GET /server_settings`.
    pub async fn server_settings(&self) -> Result<ServerSettings> {
        let req = self.http.get(format!("{}/server_settings", self.base));
        json_of(
            &self.send(req, "server_settings", MAX_BODY).await?,
            "server_settings",
        )
    }

    /// `GET /users/me`.
    pub async fn own_user(&self) -> Result<OwnUser> {
        let req = self.request(reqwest::Method::GET, "users/me");
        json_of(&self.send(req, "users/me", MAX_BODY).await?, "users/me")
    }

    /// The first contact: the server's settings, our own account and the bots. Any
    /// failure is returned as classified, for the caller's retry policy; only a refusal
    /// to list users is tolerated (bots are then known by their `-bot@` addresses).
    pub async fn hello(&self) -> Result<ServerInfo> {
        let settings = self.server_settings().await?;
        let me = self.own_user().await?;
        let members = match self.members().await {
            Ok(m) => m,
            Err(e @ Error::BadRequest { .. }) => {
                tracing::warn!(error = %e, "cannot list the organization's users; bots are recognized by their -bot@ addresses only, and commands for some roles refuse everyone");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let bots = members
            .iter()
            .filter(|m| m.is_bot)
            .map(|m| m.user_id)
            .collect();
        let roles = members.iter().map(|m| (m.user_id, m.role())).collect();
        Ok(ServerInfo {
            settings,
            me,
            bots,
            roles,
        })
    }

    /// `GET /users`: the organization's members.
    pub async fn members(&self) -> Result<Vec<Member>> {
        #[derive(Deserialize)]
        struct Members {
            members: Vec<Member>,
        }
        let req = self.request(reqwest::Method::GET, "users");
        let m: Members = json_of(&self.send(req, "users", MAX_EVENTS_BODY).await?, "users")?;
        Ok(m.members)
    }

    /// `POST /register`: creates an event queue.
    pub async fn register(&self, r: &RegisterRequest) -> Result<Registration> {
        let mut form: Vec<(&str, String)> = vec![
            ("apply_markdown", r.apply_markdown.to_string()),
            ("all_public_streams", r.all_public_streams.to_string()),
            ("fetch_event_types", r#"["realm"]"#.to_owned()),
        ];
        if let Some(types) = &r.event_types {
            form.push(("event_types", to_json(types)));
        }
        if !r.narrow.is_empty() {
            form.push(("narrow", to_json(&r.narrow)));
        }
        if let Some(caps) = &r.client_capabilities {
            form.push(("client_capabilities", caps.to_string()));
        }
        if let Some(secs) = r.queue_lifespan_secs {
            form.push(("queue_lifespan_secs", secs.to_string()));
        }
        let req = self.request(reqwest::Method::POST, "register").form(&form);
        let reg: Registration = json_of(&self.send(req, "register", MAX_BODY).await?, "register")?;
        if reg.queue_id.as_deref().is_none_or(str::is_empty) {
            return Err(Error::Protocol {
                endpoint: "register".into(),
                detail: "the server registered no event queue (queue_id is null)".into(),
            });
        }
        Ok(reg)
    }

    /// `GET /events`: long-polls `queue_id`, acknowledging everything up to
    /// `last_event_id`. Returns the raw body (validated UTF-8) for zero-copy parsing.
    pub async fn get_events(
        &self,
        queue_id: &str,
        last_event_id: i64,
        timeout: Duration,
    ) -> Result<String> {
        let req = self.events_request(queue_id, last_event_id, timeout);
        self.send(req, "events", MAX_EVENTS_BODY).await
    }

    /// The long poll of `queue_id` after `last_event_id`.
    fn events_request(
        &self,
        queue_id: &str,
        last_event_id: i64,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, "events")
            .query(&[
                ("queue_id", queue_id),
                ("last_event_id", &last_event_id.to_string()),
            ])
            .timeout(timeout)
    }

    /// `GET /events`, read as it arrives: a successful answer is handed over unread, so
    /// that its events can be taken out in bounded chunks
    /// ([`EventsResponse::next_chunk`]); any other answer is read whole and classified.
    pub async fn get_events_stream(
        &self,
        queue_id: &str,
        last_event_id: i64,
        timeout: Duration,
    ) -> Result<EventsResponse> {
        let resp = self
            .events_request(queue_id, last_event_id, timeout)
            .send()
            .await
            .map_err(|e| request_failed("events", &e))?;
        if resp.status() != reqwest::StatusCode::OK {
            let status = resp.status().as_u16();
            let header_retry = retry_header(&resp);
            let text = read_limited(resp, "events", MAX_BODY).await?;
            return classify("events", status, header_retry, text).map(|_| EventsResponse {
                resp: None,
                scanner: crate::event::stream::Scanner::default(),
                start: Vec::new(),
                rest: bytes::Bytes::new(),
            });
        }
        Ok(EventsResponse {
            resp: Some(resp),
            scanner: crate::event::stream::Scanner::default(),
            start: Vec::new(),
            rest: bytes::Bytes::new(),
        })
    }

    /// `DELETE /events`: frees a queue (not done on a normal shutdown: see DESIGN).
    pub async fn delete_queue(&self, queue_id: &str) -> Result<()> {
        let req = self
            .request(reqwest::Method::DELETE, "events")
            .form(&[("queue_id", queue_id)]);
        self.send(req, "events", MAX_BODY).await.map(drop)
    }

    /// `GET /messages`: up to `num_after` messages after `anchor` (exclusive).
    pub async fn get_messages_after(
        &self,
        anchor: i64,
        num_after: u32,
        narrow: &[NarrowTerm],
        apply_markdown: bool,
    ) -> Result<MessagesPage> {
        self.messages_page(&[
            ("anchor", anchor.to_string()),
            ("include_anchor", "false".into()),
            ("num_before", "0".into()),
            ("num_after", num_after.to_string()),
            ("narrow", to_json(narrow)),
            ("apply_markdown", apply_markdown.to_string()),
        ])
        .await
    }

    /// `GET /messages`: up to `num_before` messages before `anchor`, the anchor, and up
    /// to `num_after` after it (raw Markdown).
    pub async fn get_messages_around(
        &self,
        anchor: i64,
        (num_before, num_after): (u32, u32),
        narrow: &[NarrowTerm],
    ) -> Result<MessagesPage> {
        self.messages_page(&[
            ("anchor", anchor.to_string()),
            ("num_before", num_before.to_string()),
            ("num_after", num_after.to_string()),
            ("narrow", to_json(narrow)),
            ("apply_markdown", "false".into()),
        ])
        .await
    }

    async fn messages_page(&self, query: &[(&str, String)]) -> Result<MessagesPage> {
        let req = self.request(reqwest::Method::GET, "messages").query(query);
        let body = self.send(req, "messages", MAX_EVENTS_BODY).await?;
        #[derive(Deserialize)]
        struct Page {
            messages: Vec<Box<RawValue>>,
            #[serde(default)]
            found_newest: bool,
        }
        #[derive(Deserialize)]
        struct Id {
            id: i64,
        }
        let page: Page = json_of(&body, "messages")?;
        let ids = page
            .messages
            .iter()
            .map(|m| serde_json::from_str::<Id>(m.get()).map(|i| i.id))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Protocol {
                endpoint: "messages".into(),
                detail: format!("message without id: {e}"),
            })?;
        Ok(MessagesPage {
            messages: page.messages,
            ids,
            found_newest: page.found_newest,
        })
    }

    /// The id of the newest message visible through `narrow`, if any.
    pub async fn newest_message_id(&self, narrow: &[NarrowTerm]) -> Result<Option<i64>> {
        let req = self.request(reqwest::Method::GET, "messages").query(&[
            ("anchor", "newest"),
            ("num_before", "1"),
            ("num_after", "0"),
            ("narrow", &to_json(narrow)),
            ("apply_markdown", "false"),
        ]);
        #[derive(Deserialize)]
        struct Page {
            messages: Vec<Id>,
        }
        #[derive(Deserialize)]
        struct Id {
            id: i64,
        }
        let page: Page = json_of(
            &self.send(req, "messages", MAX_EVENTS_BODY).await?,
            "messages",
        )?;
        Ok(page.messages.iter().map(|m| m.id).max())
    }

    /// `POST /messages`: sends a message and returns its id.
    pub async fn send_message(&self, to: &Destination, content: &str) -> Result<i64> {
        let form: Vec<(&str, String)> = match to {
            Destination::Channel { channel, topic } => vec![
                ("type", "stream".into()),
                ("to", channel.clone()),
                ("topic", topic.clone()),
                ("content", content.to_owned()),
            ],
            Destination::Direct { user_ids } => vec![
                ("type", "private".into()),
                ("to", to_json(user_ids)),
                ("content", content.to_owned()),
            ],
        };
        let req = self.request(reqwest::Method::POST, "messages").form(&form);
        #[derive(Deserialize)]
        struct Sent {
            id: i64,
        }
        let sent: Sent = json_of(&self.send(req, "messages", MAX_BODY).await?, "messages")?;
        Ok(sent.id)
    }

    /// `POST /messages/{id}/reactions`.
    pub async fn add_reaction(&self, message_id: i64, emoji_name: &str) -> Result<()> {
        self.reaction(reqwest::Method::POST, message_id, emoji_name)
            .await
    }

    /// `DELETE /messages/{id}/reactions`.
    pub async fn remove_reaction(&self, message_id: i64, emoji_name: &str) -> Result<()> {
        self.reaction(reqwest::Method::DELETE, message_id, emoji_name)
            .await
    }

    async fn reaction(
        &self,
        method: reqwest::Method,
        message_id: i64,
        emoji_name: &str,
    ) -> Result<()> {
        let endpoint = format!("messages/{message_id}/reactions");
        let req = self
            .request(method, &endpoint)
            .form(&[("emoji_name", emoji_name)]);
        self.send(req, "reactions", MAX_BODY).await.map(drop)
    }

    /// Sends a request and classifies the outcome. Returns the success body.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        endpoint: &str,
        limit: usize,
    ) -> Result<String> {
        let resp = req.send().await.map_err(|e| request_failed(endpoint, &e))?;
        let status = resp.status().as_u16();
        let header_retry = retry_header(&resp);
        let text = read_limited(resp, endpoint, limit).await?;
        classify(endpoint, status, header_retry, text)
    }
}

/// A request that got no answer: nothing could connect (the server has never answered,
/// or the network is down), or the exchange failed on the way.
fn request_failed(endpoint: &str, e: &reqwest::Error) -> Error {
    if e.is_connect() {
        Error::Unreachable {
            endpoint: endpoint.to_owned(),
            detail: describe(e),
        }
    } else {
        Error::Transient {
            endpoint: endpoint.to_owned(),
            detail: describe(e),
        }
    }
}

/// The `Retry-After` header, in seconds, when it is a number.
fn retry_header(resp: &reqwest::Response) -> Option<f64> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// Reads a body whole, up to `limit` bytes, as UTF-8.
async fn read_limited(mut resp: reqwest::Response, endpoint: &str, limit: usize) -> Result<String> {
    let transient = |detail: String| Error::Transient {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let status = resp.status();
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(transient(format!(
            "response of {} bytes exceeds the {limit}-byte limit",
            resp.content_length().unwrap_or(0)
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transient(format!("reading the body: {}", describe(&e))))?
    {
        if body.len() + chunk.len() > limit {
            return Err(transient(format!(
                "response exceeds the {limit}-byte limit"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| transient(format!("HTTP {status}: body is not UTF-8")))
}

/// A successful `GET /events` answer being read.
#[derive(Debug)]
pub struct EventsResponse {
    resp: Option<reqwest::Response>,
    scanner: crate::event::stream::Scanner,
    /// The body's first bytes, to quote when it holds no `events` list.
    start: Vec<u8>,
    /// What the last piece had beyond a full chunk.
    rest: bytes::Bytes,
}

impl EventsResponse {
    /// The next events of the answer (about [`crate::event::stream::CHUNK_BYTES`]
    /// of them); `None` at its end. An answer without an `events` list, or cut short,
    /// is a transient error (the events it gave before come again).
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<crate::event::stream::Chunk>> {
        let Some(resp) = self.resp.as_mut() else {
            return Ok(None);
        };
        let transient = |detail: String| Error::Transient {
            endpoint: "events".into(),
            detail,
        };
        let mut out = crate::event::stream::Chunk::default();
        loop {
            let fresh = self.rest.is_empty();
            let piece = if fresh {
                resp.chunk()
                    .await
                    .map_err(|e| transient(format!("reading the body: {}", describe(&e))))?
            } else {
                Some(std::mem::take(&mut self.rest))
            };
            let Some(piece) = piece else {
                self.resp = None;
                if !self.scanner.finished() {
                    return Err(transient(format!(
                        "response without a readable `events` list: {}",
                        excerpt(&String::from_utf8_lossy(&self.start))
                    )));
                }
                return Ok((!out.is_empty()).then_some(out));
            };
            if fresh && self.start.len() < 200 {
                let n = (200 - self.start.len()).min(piece.len());
                self.start.extend_from_slice(&piece[..n]);
            }
            let read = self.scanner.feed(&piece, &mut out);
            if read < piece.len() {
                self.rest = piece.slice(read..);
            }
            if out.is_full() {
                return Ok(Some(out));
            }
        }
    }
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn json_of<T: DeserializeOwned>(text: &str, endpoint: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Protocol {
        endpoint: endpoint.to_owned(),
        detail: format!("{e}: {}", excerpt(text)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn err(status: u16, body: &str) -> Error {
        classify("events", status, None, body.to_owned()).unwrap_err()
    }

    #[test]
    fn a_members_role_is_read_from_role_or_from_older_servers_flags() {
        let members: Vec<wire::Member> = serde_json::from_str(
            r#"[
                {"user_id": 1, "role": 300, "is_admin": false},
                {"user_id": 2, "is_admin": true, "is_owner": true},
                {"user_id": 3, "is_admin": true},
                {"user_id": 4, "is_guest": true},
                {"user_id": 5}
            ]"#,
        )
        .unwrap();
        let roles: Vec<u16> = members.iter().map(wire::Member::role).collect();
        assert_eq!(roles, [300, 100, 200, 600, 400]);
    }

    #[test]
    fn errors_are_classified_once() {
        let gone = err(
            400,
            r#"{"code":"BAD_EVENT_QUEUE_ID","msg":"Bad event queue ID: abc","queue_id":"abc","result":"error"}"#,
        );
        assert!(matches!(&gone, Error::QueueGone { queue_id, .. } if queue_id == "abc"));
        let legacy = err(400, r#"{"msg":"Bad event queue id: abc","result":"error"}"#);
        assert!(matches!(legacy, Error::QueueGone { .. }));

        let rl = err(
            429,
            r#"{"code":"RATE_LIMIT_HIT","msg":"API usage exceeded rate limit","result":"error","retry-after":28.706807374954224}"#,
        );
        assert_eq!(
            rl.retry_after(),
            Some(Duration::from_secs_f64(28.706807374954224))
        );
        assert!(rl.is_retryable());
        let rl = classify("events", 429, Some(2.5), "<html>slow down</html>".into()).unwrap_err();
        assert_eq!(rl.retry_after(), Some(Duration::from_millis(2500)));

        for code in ["INVALID_API_KEY", "USER_DEACTIVATED", "REALM_DEACTIVATED"] {
            let e = err(
                401,
                &format!(r#"{{"code":"{code}","msg":"no","result":"error"}}"#),
            );
            assert!(e.is_fatal() && !e.is_retryable(), "{code}");
        }
        // The spec lists INVALID_API_KEY under 400; the server sends 401. Both are fatal.
        assert!(
            err(
                400,
                r#"{"code":"INVALID_API_KEY","msg":"Invalid API key","result":"error"}"#
            )
            .is_fatal()
        );

        let html = err(502, "<html><body><h1>502 Bad Gateway</h1></body></html>");
        assert!(html.is_retryable());
        assert!(html.to_string().contains("502"), "{html}");
        assert!(err(500, r#"{"result":"error","msg":"Internal server error"}"#).is_retryable());
        assert!(err(200, "{\"events\": [trunc").is_retryable());

        let bad = err(
            400,
            r#"{"code":"STREAM_DOES_NOT_EXIST","msg":"Channel 'x' does not exist","result":"error","stream":"x"}"#,
        );
        assert!(
            matches!(bad, Error::BadRequest { ref code, .. } if code == "STREAM_DOES_NOT_EXIST")
        );
        assert!(!bad.is_retryable());
    }

    #[test]
    fn backfill_narrows_follow_the_queue() {
        let r = RegisterRequest {
            all_public_streams: true,
            ..Default::default()
        };
        let n = r.backfill_narrows();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0][0].operator, "channels");
        assert_eq!(n[1][0].operand, Value::String("dm".into()));
        let r = RegisterRequest {
            narrow: vec![("channel".into(), "devel".into())],
            all_public_streams: true,
            ..Default::default()
        };
        assert_eq!(
            r.backfill_narrows(),
            vec![vec![NarrowTerm {
                operator: "channel".into(),
                operand: "devel".into()
            }]]
        );
    }
}
