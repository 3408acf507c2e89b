//! The runtime's one error type.
//!
//! Every failure is classified once, where it is detected, so that retry policy is
//! decided in one place: [`Error::is_retryable`] says whether waiting and trying again
//! can help, and [`Error::retry_after`] how long the server asked us to wait.

use std::time::Duration;

/// Errors of the Zulip client, the event sources and the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event queue no longer exists on the server (`BAD_EVENT_QUEUE_ID`).
    #[error("event queue {queue_id} is gone: {msg}")]
    QueueGone {
        /// The queue that expired.
        queue_id: String,
        /// The server's message.
        msg: String,
    },
    /// The server rate-limited the request (HTTP 429 / `RATE_LIMIT_HIT`).
    #[error("rate limited by the server; retry after {retry_after:.1?}")]
    RateLimited {
        /// How long the server asked us to wait.
        retry_after: Duration,
    },
    /// Wrong or missing credentials, or a deactivated user or organization. Retrying
    /// cannot help.
    #[error("authentication failed ({code}): {msg}")]
    Auth {
        /// The Zulip error code (`INVALID_API_KEY`, `USER_DEACTIVATED`, ...).
        code: String,
        /// The server's message.
        msg: String,
    },
    /// A failure that may pass: 5xx, an HTML error page, a timeout, a cut connection.
    #[error("transient failure of {endpoint}: {detail}")]
    Transient {
        /// The API endpoint called.
        endpoint: String,
        /// What happened.
        detail: String,
    },
    /// No connection could be made (the name does not resolve, nothing listens, the
    /// network is down): the server has not answered at all. Retryable, but a site that
    /// has never answered is given up on after a few tries, so that a typo fails fast.
    #[error("cannot connect for {endpoint}: {detail}")]
    Unreachable {
        /// The API endpoint called.
        endpoint: String,
        /// What happened.
        detail: String,
    },
    /// An HTTP call of a webhook or a handler failed (or was refused by the address
    /// rules); `retryable` says whether trying again can help.
    #[error("{detail}")]
    Http {
        /// What happened.
        detail: String,
        /// A timeout, a cut connection, a 5xx or a 429.
        retryable: bool,
        /// The wait a 429 asked for (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The server rejected the request (4xx other than the above).
    #[error("{endpoint} was rejected ({code}): {msg}")]
    BadRequest {
        /// The API endpoint called.
        endpoint: String,
        /// The Zulip error code.
        code: String,
        /// The server's message.
        msg: String,
    },
    /// The server answered with JSON we could not understand.
    #[error("unexpected response from {endpoint}: {detail}")]
    Protocol {
        /// The API endpoint called.
        endpoint: String,
        /// What was wrong.
        detail: String,
    },
    /// Missing or invalid configuration (zuliprc, site URL, credentials).
    #[error("{0}")]
    Config(String),
    /// An event could not be read.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another process took over a realm connection: this one may no longer move its
    /// checkpoint (the write was refused by the lease's fence).
    #[error("another process took over {connection}")]
    LeaseLost {
        /// The connection key.
        connection: String,
    },
    /// The database failed.
    #[error("store: {0}")]
    Store(String),
    /// Work stopped because shutdown was requested.
    #[error("cancelled by shutdown")]
    Cancelled,
}

impl Error {
    /// Whether waiting and retrying the same request can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Transient { .. }
                | Error::Unreachable { .. }
                | Error::Http {
                    retryable: true,
                    ..
                }
        )
    }

    /// The wait the server asked for, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            Error::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the error means the credentials or the account are unusable.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Auth { .. } | Error::Config(_))
    }

    pub(crate) fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Store(format!("migration failed: {e}"))
    }
}

/// An event that could not be read. Never stops a source: it is counted and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The text is not a JSON object with a string `type`, or a known type's body does not
    /// match the spec.
    #[error("malformed event ({error}): {excerpt}")]
    Malformed {
        /// The parser's message.
        error: String,
        /// The start of the offending text.
        excerpt: String,
    },
    /// The event is larger than the limit ([`crate::event::MAX_EVENT_BYTES`]).
    #[error("event of {bytes} bytes is over the {limit} byte limit, skipped: {excerpt}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
        /// The start of it.
        excerpt: String,
    },
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
