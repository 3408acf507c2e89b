//! Push: Zulip's outgoing webhooks as a source. Zulip POSTs every message that
//! mentions an outgoing-webhook bot, or is sent to it directly, to the bot's URL; `NAME
//! run --listen ADDR` serves that protocol for the realms whose `[[realm]]` says
//! `source = "push"`.
//!
//! | module | role |
//! | --- | --- |
//! | [`server`] | the HTTP server: one path, `POST` only, bodies and time bounded, the token checked |
//! | [`answers`] | a listener's answer that goes in the HTTP response |
//! | [`crate::source::push`] | the realm's source: pushes, de-duplicated, and the sweeps that fetch what was missed |

pub mod answers;
pub mod server;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Secret;

pub use answers::{Answers, Conversation};

/// The largest request body read. Zulip's messages are at most 10,000 characters
/// (up to 40 KB of UTF-8); the payload carries the message twice (`data`, `message`)
/// and its rendered HTML: a quarter of a mebibyte leaves room for all of it.
pub const MAX_BODY: usize = 256 * 1024;

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client may take to send a request's body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one connection may stay open (keep-alive included).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// How the push server runs.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The one path it serves (`/` unless `--listen-path` says).
    pub path: String,
    /// How long a request waits for an answer to put in its response, at most.
    pub answer_within: Duration,
    /// Connections served at once, at most (more wait to be accepted).
    pub max_connections: usize,
}

/// A message Zulip pushed: as a `message` event (the message object and its flags).
#[derive(Debug)]
pub struct Pushed {
    /// The event's JSON.
    pub event: String,
    /// The message's id.
    pub message_id: i64,
}

/// One push realm as the server routes to it: by its token, to its connection.
#[derive(Debug, Clone)]
pub struct Route {
    /// The realm.
    pub realm: u32,
    /// SHA-256 of its outgoing-webhook token (compared in constant time, whatever the
    /// length of what a request sends).
    token_digest: [u8; 32],
    /// Its connection's inbox.
    pub inbox: mpsc::Sender<Pushed>,
}

impl Route {
    /// A route to `inbox` for the requests that carry `token`.
    pub fn new(realm: u32, token: &Secret, inbox: mpsc::Sender<Pushed>) -> Self {
        Route {
            realm,
            token_digest: digest(token.expose().as_bytes()),
            inbox,
        }
    }

    /// Whether `token` is this realm's (constant time).
    fn accepts(&self, token: &[u8]) -> bool {
        self.has_digest(&digest(token))
    }

    /// Whether two routes share a token.
    pub fn same_token(&self, other: &Route) -> bool {
        self.has_digest(&other.token_digest)
    }

    fn has_digest(&self, d: &[u8; 32]) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(d.ct_eq(&self.token_digest))
    }
}

fn digest(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_accepts_its_token_only() {
        let (tx, _rx) = mpsc::channel(1);
        let r = Route::new(1, &Secret::new("s3cret-token"), tx.clone());
        assert!(r.accepts(b"s3cret-token"));
        assert!(!r.accepts(b"S3CRET-TOKEN"));
        assert!(!r.accepts(b"s3cret-toke"));
        assert!(!r.accepts(b""));
        let other = Route::new(2, &Secret::new("s3cret-token"), tx);
        assert!(r.same_token(&other));
    }
}
