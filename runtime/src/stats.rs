//! Statistics in memory, flushed to the store in batches.
//!
//! Dispatch increments plain counters ([`StatsBuf`]); the run loop merges each batch's
//! buffer into the shared one and a flusher writes it every few seconds (and at
//! shutdown) in one transaction. No database write happens per event.

use std::collections::HashMap;

use crate::event::RawEvent;

/// Counters of one listener in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events that reached the listener's filters.
    pub seen: u64,
    /// Events that passed them.
    pub matched: u64,
    /// Matched events whose actions all succeeded.
    pub succeeded: u64,
    /// Matched events whose actions failed for good.
    pub failed: u64,
    /// Time spent in actions, in microseconds.
    pub time_us: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.seen += o.seen;
        self.matched += o.matched;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.time_us += o.time_us;
    }
}

/// Key of a grouped count (`count` with `by`): ids, not strings, so counting allocates
/// nothing per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountKey {
    /// Listener index.
    pub listener: usize,
    /// Hour bucket (Unix seconds / 3600).
    pub hour: i64,
    /// Channel id, when grouped by channel.
    pub channel: Option<i64>,
    /// Sender id, when grouped by sender.
    pub sender: Option<i64>,
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
    /// The event JSON.
    pub payload: String,
    /// Unix time.
    pub at: i64,
}

impl LogRow {
    /// A row for `ev`.
    pub fn new(
        listener: &str,
        realm_id: u32,
        ev: &RawEvent<'_>,
        message_id: Option<i64>,
        status: &str,
        error: Option<String>,
    ) -> Self {
        LogRow {
            listener: listener.to_owned(),
            realm_id,
            kind: ev.kind.to_owned(),
            event_id: ev.id,
            message_id,
            status: status.to_owned(),
            error,
            payload: ev.json.to_owned(),
            at: crate::stats::now_secs(),
        }
    }
}

/// Counters of a batch or of a flush period.
#[derive(Debug, Default, Clone)]
pub struct StatsBuf {
    hour: i64,
    per_listener: Vec<Counters>,
    /// Hourly counters already closed (the hour changed mid-period).
    closed: Vec<(usize, i64, Counters)>,
    counts: HashMap<CountKey, u64>,
    names: HashMap<(bool, i64), String>,
    /// Malformed events skipped.
    pub malformed: u64,
    /// Events dispatched.
    pub events: u64,
}

impl StatsBuf {
    /// An empty buffer for `listeners` listeners in hour `hour`.
    pub fn new(listeners: usize, hour: i64) -> Self {
        StatsBuf {
            hour,
            per_listener: vec![Counters::default(); listeners],
            ..Default::default()
        }
    }

    /// The counters of listener `i` in the current hour.
    #[inline]
    pub fn listener(&mut self, i: usize) -> &mut Counters {
        if i >= self.per_listener.len() {
            self.per_listener.resize(i + 1, Counters::default());
        }
        &mut self.per_listener[i]
    }

    /// Moves to `hour`, closing the counters of the previous one.
    pub fn set_hour(&mut self, hour: i64) {
        if hour != self.hour {
            for (i, c) in self.per_listener.iter_mut().enumerate() {
                if *c != Counters::default() {
                    self.closed.push((i, self.hour, std::mem::take(c)));
                }
            }
            self.hour = hour;
        }
    }

    /// Adds one to a grouped count, remembering the names behind the ids.
    pub fn count(&mut self, key: CountKey, channel: Option<&str>, sender: Option<&str>) {
        *self.counts.entry(key).or_default() += 1;
        if let (Some(id), Some(name)) = (key.channel, channel) {
            self.names
                .entry((true, id))
                .or_insert_with(|| name.to_owned());
        }
        if let (Some(id), Some(email)) = (key.sender, sender) {
            self.names
                .entry((false, id))
                .or_insert_with(|| email.to_owned());
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &mut StatsBuf) {
        other.set_hour(self.hour.max(other.hour));
        self.set_hour(other.hour);
        for (i, c) in other.per_listener.iter().enumerate() {
            self.listener(i).add(c);
        }
        self.closed.append(&mut other.closed);
        for (k, n) in other.counts.drain() {
            *self.counts.entry(k).or_default() += n;
        }
        for (k, v) in other.names.drain() {
            self.names.entry(k).or_insert(v);
        }
        self.malformed += other.malformed;
        self.events += other.events;
        other
            .per_listener
            .iter_mut()
            .for_each(|c| *c = Counters::default());
        other.malformed = 0;
        other.events = 0;
    }

    /// Takes everything out, leaving the buffer empty: (listener, hour, counters) rows
    /// and grouped counts with their names.
    pub fn drain(&mut self) -> Drained {
        let mut rows = std::mem::take(&mut self.closed);
        for (i, c) in self.per_listener.iter_mut().enumerate() {
            if *c != Counters::default() {
                rows.push((i, self.hour, std::mem::take(c)));
            }
        }
        let names = std::mem::take(&mut self.names);
        let counts = self
            .counts
            .drain()
            .map(|(k, n)| {
                let channel = k.channel.map(|id| {
                    names
                        .get(&(true, id))
                        .cloned()
                        .unwrap_or_else(|| id.to_string())
                });
                let sender = k.sender.map(|id| {
                    names
                        .get(&(false, id))
                        .cloned()
                        .unwrap_or_else(|| id.to_string())
                });
                (
                    k.listener,
                    k.hour,
                    channel.unwrap_or_default(),
                    sender.unwrap_or_default(),
                    n,
                )
            })
            .collect();
        Drained { rows, counts }
    }

    /// Totals per listener index (all hours in the buffer), for reports.
    pub fn totals(&self) -> Vec<Counters> {
        let mut t = self.per_listener.clone();
        for (i, _, c) in &self.closed {
            if *i >= t.len() {
                t.resize(i + 1, Counters::default());
            }
            t[*i].add(c);
        }
        t
    }
}

/// Whole-run totals for the final report: per-listener counters and event counts only
/// (grouped counts go to the store, not here).
#[derive(Debug, Default, Clone)]
pub struct RunTotals {
    /// Counters per listener index, over all hours.
    pub counters: Vec<Counters>,
    /// Events dispatched.
    pub events: u64,
    /// Malformed events skipped.
    pub malformed: u64,
}

impl RunTotals {
    /// Adds a batch's counters (before the batch buffer is merged away).
    pub fn add(&mut self, buf: &StatsBuf) {
        for (i, c) in buf.totals().iter().enumerate() {
            if i >= self.counters.len() {
                self.counters.resize(i + 1, Counters::default());
            }
            self.counters[i].add(c);
        }
        self.events += buf.events;
        self.malformed += buf.malformed;
    }
}

/// What a flush writes.
#[derive(Debug, Default)]
pub struct Drained {
    /// (listener index, hour, counters).
    pub rows: Vec<(usize, i64, Counters)>,
    /// (listener index, hour, channel, sender, count).
    pub counts: Vec<(usize, i64, String, String, u64)>,
}

/// Unix time now, in seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
