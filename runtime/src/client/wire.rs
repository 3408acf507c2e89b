//! What the Zulip API sends and takes, as types: `POST /register` and its answer,
//! server settings, the own user, message pages, where a message goes.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Long-poll timeout when the server does not say (`api-notes.md` §3).
pub const DEFAULT_LONGPOLL: Duration = Duration::from_secs(90);

/// `POST /register` parameters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegisterRequest {
    /// Event types to receive; `None` means all.
    pub event_types: Option<Vec<String>>,
    /// `[operator, operand]` pairs filtering message events.
    pub narrow: Vec<(String, String)>,
    /// Receive messages of every public channel.
    pub all_public_streams: bool,
    /// Content as rendered HTML (true) or Markdown (false).
    pub apply_markdown: bool,
    /// Client capabilities (`bulk_message_deletion`, ...).
    pub client_capabilities: Option<Value>,
    /// Queue lifespan in seconds (server default 600).
    pub queue_lifespan_secs: Option<u64>,
}

impl RegisterRequest {
    /// The client capabilities zlc declares: modern event shapes (bulk deletions,
    /// the `user_settings` object, linkifier templates, channel typing) and no legacy
    /// duplicates.
    pub fn capabilities() -> Value {
        serde_json::json!({
            "notification_settings_null": true,
            "bulk_message_deletion": true,
            "user_avatar_url_field_optional": true,
            "stream_typing_notifications": true,
            "user_settings_object": true,
            "linkifier_url_template": true,
        })
    }

    /// What a queue registered with these parameters receives, as canonical JSON (sorted
    /// event types, the narrow in its order, every flag): two requests whose
    /// fingerprints differ give queues that receive different events. The checkpoint
    /// keeps it beside the queue id, so that a queue is resumed only by a pipeline that
    /// would register it the same way.
    pub fn fingerprint(&self) -> String {
        let types = self.event_types.as_ref().map(|t| {
            let mut t = t.clone();
            t.sort_unstable();
            t.dedup();
            t
        });
        serde_json::json!({
            "event_types": types,
            "narrow": self.narrow,
            "all_public_streams": self.all_public_streams,
            "apply_markdown": self.apply_markdown,
            "client_capabilities": self.client_capabilities,
            "queue_lifespan_secs": self.queue_lifespan_secs,
        })
        .to_string()
    }

    /// What differs between the queue registered as `old` (a fingerprint; `None`: not
    /// known) and one registered as `self`, in words for a log line:
    /// `event types changed: message → message, reaction`.
    pub fn describe_change(&self, old: Option<&str>) -> String {
        let Some(old) = old.and_then(|o| serde_json::from_str::<Value>(o).ok()) else {
            return "the checkpoint does not say what its queue was registered for (it was \
                    written by an older zlc)"
                .to_owned();
        };
        let new: Value = serde_json::from_str(&self.fingerprint()).unwrap_or_default();
        let types = |v: &Value| match v["event_types"].as_array() {
            Some(t) if t.is_empty() => "none".to_owned(),
            Some(t) => t
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            None => "all".to_owned(),
        };
        let narrow = |v: &Value| match v["narrow"].as_array() {
            Some(terms) if !terms.is_empty() => terms
                .iter()
                .map(|t| {
                    format!(
                        "{}:{}",
                        t[0].as_str().unwrap_or(""),
                        t[1].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => "none".to_owned(),
        };
        let mut changes = Vec::new();
        if old["event_types"] != new["event_types"] {
            changes.push(format!(
                "event types changed: {} → {}",
                types(&old),
                types(&new)
            ));
        }
        if old["narrow"] != new["narrow"] {
            changes.push(format!(
                "narrow changed: {} → {}",
                narrow(&old),
                narrow(&new)
            ));
        }
        for (key, what) in [
            ("all_public_streams", "all_public_streams"),
            ("apply_markdown", "apply_markdown"),
            ("queue_lifespan_secs", "queue lifespan"),
        ] {
            if old[key] != new[key] {
                changes.push(format!("{what} changed: {} → {}", old[key], new[key]));
            }
        }
        if old["client_capabilities"] != new["client_capabilities"] {
            changes.push("client capabilities changed (a newer zlc)".to_owned());
        }
        if changes.is_empty() {
            changes.push("the registration changed".to_owned());
        }
        changes.join("; ")
    }

    /// The `GET /messages` narrows that find the messages this queue would have
    /// delivered: the queue's own narrow and, for `all_public_streams` without a channel
    /// operator, every public channel plus direct messages (two searches).
    pub fn backfill_narrows(&self) -> Vec<Vec<NarrowTerm>> {
        let base: Vec<NarrowTerm> = self
            .narrow
            .iter()
            .map(|(op, operand)| NarrowTerm {
                operator: op.clone(),
                operand: Value::String(operand.clone()),
            })
            .collect();
        let has_channel = self
            .narrow
            .iter()
            .any(|(op, _)| matches!(op.as_str(), "channel" | "stream" | "channels" | "streams"));
        let has_dm = self
            .narrow
            .iter()
            .any(|(op, v)| op == "is" && matches!(v.as_str(), "dm" | "private"));
        if self.all_public_streams && !has_channel && !has_dm {
            let mut public = base.clone();
            public.push(NarrowTerm {
                operator: "channels".into(),
                operand: Value::String("public".into()),
            });
            let mut dms = base;
            dms.push(NarrowTerm {
                operator: "is".into(),
                operand: Value::String("dm".into()),
            });
            vec![public, dms]
        } else {
            vec![base]
        }
    }
}

/// A `GET /messages` narrow term (object form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NarrowTerm {
    /// Operator (`channel`, `topic`, `is`, `sender`, ...).
    pub operator: String,
    /// Operand.
    pub operand: Value,
}

/// What `POST /register` returned that a listener needs.
///
/// Every field but `last_event_id` may be missing on some server version, and a server
/// may send a renamed field under its old and its new name at once (Zulip 9.0, feature
/// level 257, sends `realm_url` beside the deprecated `realm_uri`). So renamed fields are
/// separate fields here, never serde aliases (an alias turns "both" into a duplicate-field
/// error), and unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct Registration {
    /// The new queue (`null` only for unauthenticated web-public access).
    #[serde(default)]
    pub queue_id: Option<String>,
    /// Acknowledge from here.
    pub last_event_id: i64,
    /// Server feature level (0 when absent: servers before feature level 3).
    #[serde(default)]
    pub zulip_feature_level: i64,
    /// Server version.
    #[serde(default)]
    pub zulip_version: String,
    /// Seconds before the server ends an idle long poll (feature level 74).
    #[serde(default)]
    pub event_queue_longpoll_timeout_seconds: Option<u64>,
    /// The realm URL (feature level 257; with `realm` in `fetch_event_types`).
    #[serde(default)]
    pub realm_url: Option<String>,
    /// The realm URL under its name before feature level 257 (still sent beside it).
    #[serde(default)]
    pub realm_uri: Option<String>,
    /// The organization's name (with `realm` in `fetch_event_types`).
    #[serde(default)]
    pub realm_name: Option<String>,
}

impl Registration {
    /// The HTTP timeout for long polls on this queue: the server's long-poll timeout
    /// plus a margin, so a heartbeat always arrives first.
    pub fn poll_timeout(&self) -> Duration {
        self.event_queue_longpoll_timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LONGPOLL)
            + Duration::from_secs(10)
    }

    /// The realm URL under whichever name the server used.
    pub fn realm_url(&self) -> Option<&str> {
        self.realm_url.as_deref().or(self.realm_uri.as_deref())
    }

    /// The queue id (never empty in a registration [`Client::register`] returned).
    pub fn queue(&self) -> &str {
        self.queue_id.as_deref().unwrap_or_default()
    }
}

/// `GET /server_settings` (no authentication). Renamed fields as in [`Registration`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServerSettings {
    /// Server version.
    #[serde(default)]
    pub zulip_version: String,
    /// Feature level (0 when absent).
    #[serde(default)]
    pub zulip_feature_level: i64,
    /// Realm URL (feature level 257).
    #[serde(default)]
    pub realm_url: Option<String>,
    /// Realm URL, the name before feature level 257 (still sent beside it).
    #[serde(default)]
    pub realm_uri: Option<String>,
    /// Realm name.
    #[serde(default)]
    pub realm_name: Option<String>,
}

impl ServerSettings {
    /// The realm URL under whichever name the server used.
    pub fn realm_url(&self) -> Option<&str> {
        self.realm_url.as_deref().or(self.realm_uri.as_deref())
    }
}

/// `GET /users/me`, the parts that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct OwnUser {
    /// Our user id (to ignore our own messages).
    pub user_id: i64,
    /// Our email.
    pub email: String,
    /// Our name.
    #[serde(default)]
    pub full_name: String,
    /// Whether we are a bot.
    #[serde(default)]
    pub is_bot: bool,
}

/// What a connection learns about the server and its account before it registers.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// `GET /server_settings`.
    pub settings: ServerSettings,
    /// `GET /users/me`.
    pub me: OwnUser,
    /// The organization's bots (`GET /users`); empty when the account may not list users.
    pub bots: std::collections::HashSet<i64>,
    /// Every member's role (`GET /users`), by user id; empty likewise.
    pub roles: Vec<(i64, u16)>,
}

/// A page of `GET /messages`: raw message objects in one owned buffer.
#[derive(Debug)]
pub struct MessagesPage {
    /// The message objects, as JSON text.
    pub messages: Vec<Box<RawValue>>,
    /// Their ids, in the same order.
    pub ids: Vec<i64>,
    /// No newer message matches.
    pub found_newest: bool,
}

/// Where a new message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Destination {
    /// A channel (by name) and topic.
    Channel {
        /// Channel name.
        channel: String,
        /// Topic.
        topic: String,
    },
    /// A direct message to these users.
    Direct {
        /// User ids.
        user_ids: Vec<i64>,
    },
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Channel { channel, topic } => write!(f, "#{channel} > {topic}"),
            Destination::Direct { user_ids } => {
                f.write_str("a direct message to user")?;
                if user_ids.len() > 1 {
                    f.write_str("s")?;
                }
                for (n, id) in user_ids.iter().enumerate() {
                    write!(f, "{}{id}", if n == 0 { " " } else { ", " })?;
                }
                Ok(())
            }
        }
    }
}

/// A member of the organization, as `GET /users` lists them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Member {
    /// User id.
    pub user_id: i64,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Full name.
    #[serde(default)]
    pub full_name: String,
    /// Whether it is a bot.
    #[serde(default)]
    pub is_bot: bool,
    /// Zulip role (100 owner, 200 admin, 300 moderator, 400 member, 600 guest);
    /// servers before feature level 59 say it with the flags below instead.
    #[serde(default)]
    pub role: Option<u16>,
    /// Older servers: an owner.
    #[serde(default)]
    pub is_owner: bool,
    /// Older servers: an administrator.
    #[serde(default)]
    pub is_admin: bool,
    /// Older servers: a guest.
    #[serde(default)]
    pub is_guest: bool,
}

impl Member {
    /// The member's role, from `role` or, on older servers, the flags.
    pub fn role(&self) -> u16 {
        self.role.unwrap_or(if self.is_owner {
            100
        } else if self.is_admin {
            200
        } else if self.is_guest {
            600
        } else {
            400
        })
    }
}
