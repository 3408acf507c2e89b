//! Listeners written in Rust: what a handler function receives, and what it can do.
//!
//! `#[listener(...)]` on `async fn on_deploy(msg: &Message<'_>, cx: &Context<'_>) ->
//! Result<(), E>` generates a thunk of type [`HandlerFn`]: it parses the event into the
//! type the function asked for and calls it. The runtime runs that thunk as an action
//! of the listener, with the same timeout, retries, circuit breaker and dead letters as
//! the built-in actions.
//!
//! What the function posts to Zulip ([`Context::reply`], [`Context::react`], …) is
//! **deferred**: it is performed after the function returns `Ok`, each post rate limited
//! and de-duplicated like a built-in action's. So a failing function that is retried
//! never leaves half its posts behind, and an event delivered twice is not answered
//! twice. HTTP calls ([`Context::post_json`]) and state ([`Context::state_get`]) happen
//! at once; counters ([`Context::count`]) land in the statistics with the job.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde_json::Value;

use crate::client::Destination;
use crate::jobs::actions::Post;
use crate::pipeline::ListenerDesc;
use crate::template::RealmInfo;

/// The future a handler thunk returns.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// A handler thunk, as `#[listener]` generates it: a plain function pointer, so that
/// the runtime's machinery stays non-generic (and a rebuild stays fast).
pub type HandlerFn = for<'a> fn(&'a Context<'a>) -> HandlerFuture<'a>;

/// A pipeline's handler thunks: for each listener (in the pipeline's order), one for each
/// of its `handler` actions, in their order. Generated beside the description, which
/// only names the functions.
pub type HandlerTable = &'static [&'static [HandlerFn]];

/// Why a handler failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// What went wrong (the error's message, with its causes).
    pub message: String,
    /// Whether the listener's retries apply.
    pub retryable: bool,
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl HandlerError {
    /// Classifies any error: [`Permanent`] is not retried, a runtime [`crate::error::Error`]
    /// is retried when it says it can pass, and anything else is retried (the listener's
    /// `retries` decide how often).
    pub fn from_error(e: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        let mut retryable = true;
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
        while let Some(err) = cur {
            if err.is::<Permanent>() {
                retryable = false;
                break;
            }
            if let Some(rt) = err.downcast_ref::<crate::error::Error>() {
                retryable = rt.is_retryable();
                break;
            }
            cur = err.source();
        }
        let mut message = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            message.push_str(&format!(": {s}"));
            src = s.source();
        }
        HandlerError { message, retryable }
    }

    /// The event is not of the type the function takes (a generated thunk's guard).
    pub fn mismatch(function: &str, kind: &str) -> Self {
        HandlerError {
            message: format!("`{function}` does not take `{kind}` events"),
            retryable: false,
        }
    }
}

/// An error that retrying cannot fix: return it (or wrap a cause in it) to fail the
/// event at once, as a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

/// `Permanent(message)`.
pub fn permanent(message: impl Into<String>) -> Permanent {
    Permanent(message.into())
}

/// What a handler function may return: `Result<(), E>` for any error type that converts
/// into a boxed error (`anyhow::Error`, `Box<dyn Error>`, [`crate::error::Error`], a `String`).
pub trait HandlerResult {
    /// The outcome as the runtime classifies it.
    fn into_outcome(self) -> Result<(), HandlerError>;
}

impl<E> HandlerResult for Result<(), E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    fn into_outcome(self) -> Result<(), HandlerError> {
        self.map_err(|e| HandlerError::from_error(e.into()))
    }
}

/// What a handler function gets besides its event.
pub struct Context<'a> {
    pub(crate) listener: &'a ListenerDesc,
    pub(crate) realm: &'a RealmInfo,
    pub(crate) json: &'a str,
    pub(crate) event: &'a Value,
    pub(crate) config: &'a [(String, String)],
    pub(crate) effects: &'a crate::jobs::actions::Effects,
    pub(crate) allow_private: bool,
    pub(crate) posts: Mutex<Vec<Post>>,
    pub(crate) counters: Mutex<Vec<(String, u64)>>,
    /// The handler action's effect name: its `post_json` calls' idempotency keys come
    /// from it and their number within the run (the same in every attempt).
    pub(crate) effect: &'a str,
    pub(crate) calls: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("listener", &self.listener.name)
            .field("realm", &self.realm.id)
            .finish()
    }
}

impl Context<'_> {
    /// The listener's name.
    pub fn listener(&self) -> &str {
        self.listener.name
    }

    /// The realm connection the event came from.
    pub fn realm(&self) -> &RealmInfo {
        self.realm
    }

    /// The event as Zulip sent it (JSON text).
    pub fn event_json(&self) -> &str {
        self.json
    }

    /// The event as a JSON value.
    pub fn event(&self) -> &Value {
        self.event
    }

    /// The command the message runs, with its arguments (for a command's listener).
    pub fn invocation(&self) -> Option<crate::command::Invocation> {
        let commands = &self.listener.commands;
        match self.realm.reading(commands, &self.event["message"])? {
            crate::command::Reading::Run(i) => Some(i),
            crate::command::Reading::Answer(_) => None,
        }
    }

    /// Whether this run follows an edit of the message (the listener has
    /// `on_edit = "update"`): its `reply` then updates the answer it posted before.
    pub fn is_edit(&self) -> bool {
        self.effect.contains('@')
    }

    /// The conversation of the event's message (its channel's topic, or its direct
    /// message's people), to keep state in across messages; `None` for other events.
    /// Changes take effect at once and are written to the store.
    pub fn conversation(&self) -> Option<crate::conversation::Handle<'_>> {
        let key = crate::conversation::key_of(&self.event["message"])?;
        Some(crate::conversation::Handle::new(
            &self.realm.conversations,
            key,
        ))
    }

    /// The listener's `config` value for `key`: as the store overrides it
    /// (`NAME config LISTENER KEY VALUE`), else as the pipeline declares it.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Replies in the event's conversation (its channel and topic, or its direct
    /// message group). Sent after the function returns `Ok`.
    pub fn reply(&self, text: impl Into<String>) {
        self.post(Post::Reply(text.into()));
    }

    /// Sends a direct message to the event's sender. Sent after the function returns `Ok`.
    pub fn reply_privately(&self, text: impl Into<String>) {
        match crate::jobs::limit::sender_of(self.event) {
            Some(id) => self.post(Post::Send(
                Destination::Direct { user_ids: vec![id] },
                text.into(),
            )),
            None => tracing::warn!(
                listener = self.listener.name,
                "reply_privately: the event has no sender"
            ),
        }
    }

    /// Sends a message to a channel's topic. Sent after the function returns `Ok`.
    pub fn send(
        &self,
        channel: impl Into<String>,
        topic: impl Into<String>,
        text: impl Into<String>,
    ) {
        self.post(Post::Send(
            Destination::Channel {
                channel: channel.into(),
                topic: topic.into(),
            },
            text.into(),
        ));
    }

    /// Sends a message to any destination. Sent after the function returns `Ok`.
    pub fn send_to(&self, to: Destination, text: impl Into<String>) {
        self.post(Post::Send(to, text.into()));
    }

    /// Reacts to the event's message with `emoji` (e.g. `"tada"`). Done after the
    /// function returns `Ok`.
    pub fn react(&self, emoji: impl Into<String>) {
        self.post(Post::React(emoji.into().trim_matches(':').to_owned()));
    }

    /// Quotes the event's message in `channel` (in `topic`, or the original topic).
    /// Sent after the function returns `Ok`.
    pub fn forward(&self, channel: impl Into<String>, topic: Option<&str>) {
        self.post(Post::Forward {
            channel: channel.into(),
            topic: topic.map(str::to_owned),
        });
    }

    fn post(&self, p: Post) {
        self.posts.lock().unwrap_or_else(|e| e.into_inner()).push(p);
    }

    /// Adds one to the counter `name` of this listener (table `zlc_named_counts`, per
    /// hour).
    pub fn count(&self, name: &str) {
        self.count_by(name, 1);
    }

    /// Adds `n` to the counter `name`.
    pub fn count_by(&self, name: &str, n: u64) {
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_owned(), n));
    }

    /// POSTs `body` as JSON and returns the JSON answer (`null` when it is not JSON).
    /// The same rules as the webhook action: public addresses only unless the listener
    /// sets `allow_private = true`, `https://` (or `http://` to loopback), no redirects,
    /// answers over 1 MiB refused, a 5xx or 429 retryable.
    ///
    /// It carries an `Idempotency-Key` header that is the same every time this call is
    /// made for this event (the n-th `post_json` of the function, in every attempt and
    /// after a crash), so that the receiver can drop repeats.
    pub async fn post_json(&self, url: &str, body: &Value) -> crate::error::Result<Value> {
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = self
            .effects
            .idempotency_key(self.listener.name, &format!("{}.http{n}", self.effect));
        self.effects
            .http(
                self.listener,
                crate::jobs::actions::HttpCall {
                    method: "POST",
                    url,
                    body: Some(body),
                    token: None,
                    allow_private: self.allow_private,
                    idempotency_key: Some(&key),
                },
            )
            .await
    }

    /// GETs `url` and returns the JSON answer, under the rules of [`Context::post_json`].
    pub async fn get_json(&self, url: &str) -> crate::error::Result<Value> {
        self.effects
            .http(
                self.listener,
                crate::jobs::actions::HttpCall {
                    method: "GET",
                    url,
                    body: None,
                    token: None,
                    allow_private: self.allow_private,
                    idempotency_key: None,
                },
            )
            .await
    }

    /// The value stored under `key` for this listener, if any.
    pub async fn state_get(&self, key: &str) -> crate::error::Result<Option<String>> {
        self.effects
            .store()?
            .state_get(self.effects.pipeline(), self.listener.name, key)
            .await
    }

    /// Stores `value` under `key` for this listener (it survives restarts).
    pub async fn state_set(&self, key: &str, value: &str) -> crate::error::Result<()> {
        self.effects
            .store()?
            .state_set(self.effects.pipeline(), self.listener.name, key, value)
            .await
    }

    /// Forgets `key`.
    pub async fn state_delete(&self, key: &str) -> crate::error::Result<()> {
        self.effects
            .store()?
            .state_delete(self.effects.pipeline(), self.listener.name, key)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a cause, as `anyhow`'s `context` or `thiserror`'s `#[source]` make.
    #[derive(Debug, thiserror::Error)]
    #[error("calling the deploy service")]
    struct Wrapped(#[source] Box<dyn std::error::Error + Send + Sync>);

    #[test]
    fn handler_errors_are_retried_unless_something_in_their_chain_says_otherwise() {
        let io = HandlerError::from_error(Box::new(std::io::Error::other("reset")));
        assert_eq!((io.message.as_str(), io.retryable), ("reset", true));

        let permanent = HandlerError::from_error(Box::new(Wrapped(Box::new(permanent(
            "no such environment",
        )))));
        assert_eq!(
            permanent.message,
            "calling the deploy service: no such environment"
        );
        assert!(!permanent.retryable, "a Permanent anywhere in the chain");

        let auth = crate::error::Error::Auth {
            code: "INVALID_API_KEY".into(),
            msg: "bad key".into(),
        };
        assert!(!HandlerError::from_error(Box::new(Wrapped(Box::new(auth)))).retryable);
        let busy = crate::error::Error::RateLimited {
            retry_after: std::time::Duration::from_secs(1),
        };
        assert!(HandlerError::from_error(Box::new(busy)).retryable);
        assert!(!HandlerError::mismatch("f", "reaction").retryable);
    }
}
