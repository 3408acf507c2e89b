//! The rows the store writes: statistics, grouped and named counts, the event log. Their
//! owner is the store; what fills them in memory is [`crate::stats`].

use crate::event::RawEvent;

/// The most bytes of an event stored in the event log; a longer one is stored cut,
/// marked `truncated`, with its full size in `payload_bytes`.
pub const MAX_STORED_PAYLOAD: usize = 64 * 1024;

/// Figures of one listener in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Events that reached the listener's filters.
    pub seen: u64,
    /// Events that passed them.
    pub matched: u64,
    /// Matched events whose actions all succeeded.
    pub succeeded: u64,
    /// Matched events whose actions failed for good.
    pub failed: u64,
    /// Matched events whose posts to Zulip a rate limit held back.
    pub limited: u64,
    /// Time spent in actions, in microseconds.
    pub time_us: u64,
    /// What its ungrouped `count` actions counted (written as a `zlc_counts` row without
    /// channel or sender; kept here so that counting a match costs one addition).
    pub counted: u64,
}

impl Figures {
    /// Adds `o` to these.
    pub(crate) fn add(&mut self, o: &Figures) {
        self.counted += o.counted;
        self.seen += o.seen;
        self.matched += o.matched;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.limited += o.limited;
        self.time_us += o.time_us;
    }
}

/// One row for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// Listener name.
    pub listener: String,
    /// Realm id.
    pub realm_id: u32,
    /// Event type.
    pub kind: String,
    /// Queue event id.
    pub event_id: Option<i64>,
    /// Message id.
    pub message_id: Option<i64>,
    /// `matched`, `stored`, `failed` or `dead`.
    pub status: String,
    /// Error, for failures.
    pub error: Option<String>,
    /// The event JSON, cut after [`MAX_STORED_PAYLOAD`] bytes.
    pub payload: String,
    /// The event's full size in bytes.
    pub payload_bytes: usize,
    /// The key its side effects are de-duplicated by (`crate::jobs::dispatch::event_key`).
    pub event_key: Option<String>,
    /// Whether `payload` was cut.
    pub truncated: bool,
    /// Unix time.
    pub at: i64,
}

impl LogRow {
    /// A row for the event `json` (of type `kind`).
    pub fn new(
        listener: &str,
        realm_id: u32,
        kind: &str,
        (event_id, message_id): (Option<i64>, Option<i64>),
        json: &str,
        status: &str,
        error: Option<String>,
    ) -> Self {
        let mut end = json.len().min(MAX_STORED_PAYLOAD);
        while !json.is_char_boundary(end) {
            end -= 1;
        }
        LogRow {
            listener: listener.to_owned(),
            realm_id,
            kind: kind.to_owned(),
            event_id,
            message_id,
            status: status.to_owned(),
            error,
            payload: json[..end].to_owned(),
            payload_bytes: json.len(),
            event_key: None,
            truncated: end < json.len(),
            at: crate::clock::now_secs(),
        }
    }

    /// A row for a dispatched event whose side effects go by `key`.
    pub fn of(
        listener: &str,
        realm_id: u32,
        ev: &RawEvent<'_>,
        message_id: Option<i64>,
        status: &str,
        key: String,
    ) -> Self {
        LogRow::new(
            listener,
            realm_id,
            ev.kind,
            (ev.id, message_id),
            ev.json,
            status,
            None,
        )
        .with_key(key)
    }

    /// The same row, with the key its event's side effects go by.
    pub fn with_key(mut self, key: String) -> Self {
        self.event_key = Some(key);
        self
    }
}

/// Figures of one listener in one hour, ready to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsRow {
    /// Listener index.
    pub listener: usize,
    /// Hour (Unix seconds / 3600).
    pub hour: i64,
    /// The counters.
    pub counters: Figures,
}

/// A grouped count, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// Listener index.
    pub listener: usize,
    /// Hour (Unix seconds / 3600).
    pub hour: i64,
    /// Channel name (empty when not grouped by channel).
    pub channel: String,
    /// Sender email (empty when not grouped by sender).
    pub sender: String,
    /// How many.
    pub n: u64,
}

/// A handler's named counter, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRow {
    /// Listener index.
    pub listener: usize,
    /// Hour (Unix seconds / 3600).
    pub hour: i64,
    /// The counter's name.
    pub name: String,
    /// How many.
    pub n: u64,
}

/// What a flush writes.
#[derive(Debug, Default)]
pub struct Drained {
    /// Per listener and hour.
    pub rows: Vec<StatsRow>,
    /// Grouped counts.
    pub counts: Vec<CountRow>,
    /// Handlers' named counters.
    pub named: Vec<NamedRow>,
}

impl Drained {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.counts.is_empty() && self.named.is_empty()
    }
}
