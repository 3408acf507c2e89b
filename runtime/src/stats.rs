//! Statistics in memory, flushed to the store in batches.
//!
//! Dispatch increments plain counters ([`StatsBuf`]); a connection gathers the counters
//! of acknowledged batches and writes them with the checkpoint that passes them, in one
//! transaction (every second or so, and at shutdown), then hands them to the run's
//! [`Recorder`] for the final report. No database write happens per event.
//!
//! Counters are kept per listener and *hour of the event*: a message counts in the hour
//! it was sent (its `timestamp`), so a replayed day or a backfill lands in the hours it
//! happened, not in the hour it was processed. Events without a time of their own count
//! in the hour they were processed.

use std::collections::HashMap;

use crate::event::RawEvent;

/// The most bytes of an event stored in the event log; a longer one is stored cut,
/// marked `truncated`, with its full size in `payload_bytes`.
pub const MAX_STORED_PAYLOAD: usize = 64 * 1024;

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
    /// Matched events whose posts to Zulip a rate limit held back.
    pub limited: u64,
    /// Time spent in actions, in microseconds.
    pub time_us: u64,
    /// What its ungrouped `count` actions counted (written as a `zlc_counts` row without
    /// channel or sender; kept here so that counting a match costs one addition).
    pub counted: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.counted += o.counted;
        self.seen += o.seen;
        self.matched += o.matched;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.limited += o.limited;
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
    /// The event JSON, cut after [`MAX_STORED_PAYLOAD`] bytes.
    pub payload: String,
    /// The event's full size in bytes.
    pub payload_bytes: usize,
    /// The key its side effects are de-duplicated by (`crate::dispatch::event_key`).
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
            at: crate::stats::now_secs(),
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

/// Counters of a batch or of a flush period, per hour.
#[derive(Debug, Clone)]
pub struct StatsBuf {
    listeners: usize,
    /// Counters per hour (Unix seconds / 3600); a handful of hours at most.
    hours: Vec<(i64, Vec<Counters>)>,
    /// Index in `hours` of the hour being counted.
    current: usize,
    counts: HashMap<CountKey, u64>,
    names: HashMap<(bool, i64), String>,
    /// Handlers' named counters: (listener, hour, name) → n.
    named: HashMap<(usize, i64, String), u64>,
    /// Malformed events skipped.
    pub malformed: u64,
    /// Events dispatched.
    pub events: u64,
}

impl StatsBuf {
    /// An empty buffer for `listeners` listeners, counting in hour `hour`.
    pub fn new(listeners: usize, hour: i64) -> Self {
        StatsBuf {
            listeners,
            hours: vec![(hour, vec![Counters::default(); listeners])],
            current: 0,
            counts: HashMap::new(),
            names: HashMap::new(),
            named: HashMap::new(),
            malformed: 0,
            events: 0,
        }
    }

    /// The hour being counted.
    #[inline]
    pub fn hour(&self) -> i64 {
        self.hours[self.current].0
    }

    /// The counters of listener `i` in the hour being counted.
    #[inline]
    pub fn listener(&mut self, i: usize) -> &mut Counters {
        let counters = &mut self.hours[self.current].1;
        if i >= counters.len() {
            counters.resize(i + 1, Counters::default());
        }
        &mut counters[i]
    }

    /// Counts from now on in `hour`.
    #[inline]
    pub fn set_hour(&mut self, hour: i64) {
        if self.hours[self.current].0 == hour {
            return;
        }
        self.current = match self.hours.iter().position(|(h, _)| *h == hour) {
            Some(i) => i,
            None => {
                self.hours
                    .push((hour, vec![Counters::default(); self.listeners]));
                self.hours.len() - 1
            }
        };
    }

    /// Adds one to a count, remembering the names behind the ids. An ungrouped one (no
    /// channel, no sender) is a plain counter of the listener in `key`'s hour.
    pub fn count(&mut self, key: CountKey, channel: Option<&str>, sender: Option<&str>) {
        if key.channel.is_none() && key.sender.is_none() {
            let back_to = self.hour();
            self.set_hour(key.hour);
            self.listener(key.listener).counted += 1;
            self.set_hour(back_to);
            return;
        }
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

    /// Adds `n` to listener `i`'s counter `name` in the hour being counted.
    pub fn named(&mut self, i: usize, name: String, n: u64) {
        *self.named.entry((i, self.hour(), name)).or_default() += n;
    }

    /// Moves everything of `other` into `self`, leaving `other` empty (and counting in
    /// the hour it counted in).
    pub fn merge(&mut self, other: &mut StatsBuf) {
        let back_to = self.hour();
        for (hour, counters) in &mut other.hours {
            self.set_hour(*hour);
            for (i, c) in counters.iter_mut().enumerate() {
                self.listener(i).add(c);
                *c = Counters::default();
            }
        }
        self.set_hour(back_to);
        other.reset_hours();
        for (k, n) in other.counts.drain() {
            *self.counts.entry(k).or_default() += n;
        }
        for (k, v) in other.names.drain() {
            self.names.entry(k).or_insert(v);
        }
        for (k, n) in other.named.drain() {
            *self.named.entry(k).or_default() += n;
        }
        self.malformed += std::mem::take(&mut other.malformed);
        self.events += std::mem::take(&mut other.events);
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.events == 0
            && self.malformed == 0
            && self.counts.is_empty()
            && self.named.is_empty()
            && self
                .hours
                .iter()
                .all(|(_, c)| c.iter().all(|c| *c == Counters::default()))
    }

    /// Keeps only the hour being counted, zeroed.
    fn reset_hours(&mut self) {
        let hour = self.hour();
        self.hours.clear();
        self.hours
            .push((hour, vec![Counters::default(); self.listeners]));
        self.current = 0;
    }

    /// Takes everything out, leaving the buffer empty: (listener, hour, counters) rows
    /// and grouped counts with their names.
    pub fn drain(&mut self) -> Drained {
        let mut rows = Vec::new();
        let mut ungrouped = Vec::new();
        for (hour, counters) in &self.hours {
            for (i, c) in counters.iter().enumerate() {
                if c.counted > 0 {
                    ungrouped.push(CountRow {
                        listener: i,
                        hour: *hour,
                        channel: String::new(),
                        sender: String::new(),
                        n: c.counted,
                    });
                }
                if *c != Counters::default() {
                    rows.push(StatsRow {
                        listener: i,
                        hour: *hour,
                        counters: *c,
                    });
                }
            }
        }
        self.reset_hours();
        let names = std::mem::take(&mut self.names);
        let name_of = |channel: bool, id: i64| {
            names
                .get(&(channel, id))
                .cloned()
                .unwrap_or_else(|| id.to_string())
        };
        let counts = self
            .counts
            .drain()
            .map(|(k, n)| CountRow {
                listener: k.listener,
                hour: k.hour,
                channel: k.channel.map(|id| name_of(true, id)).unwrap_or_default(),
                sender: k.sender.map(|id| name_of(false, id)).unwrap_or_default(),
                n,
            })
            .chain(ungrouped)
            .collect();
        let named = self
            .named
            .drain()
            .map(|((listener, hour, name), n)| NamedRow {
                listener,
                hour,
                name,
                n,
            })
            .collect();
        Drained {
            rows,
            counts,
            named,
        }
    }

    /// Totals per listener index (all hours in the buffer), for reports.
    pub fn totals(&self) -> Vec<Counters> {
        let mut t = vec![Counters::default(); self.listeners];
        for (_, counters) in &self.hours {
            for (i, c) in counters.iter().enumerate() {
                if i >= t.len() {
                    t.resize(i + 1, Counters::default());
                }
                t[i].add(c);
            }
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

/// Counters of one listener in one hour, ready to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsRow {
    /// Listener index.
    pub listener: usize,
    /// Hour (Unix seconds / 3600).
    pub hour: i64,
    /// The counters.
    pub counters: Counters,
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

/// The run's statistics, shared by its connections: what they wrote to the store (each
/// with its own checkpoint), kept for the final report.
#[derive(Debug, Default)]
pub struct Recorder {
    totals: std::sync::Mutex<RunTotals>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// Adds written counters to the run's totals.
    pub fn record(&self, buf: &StatsBuf) {
        lock(&self.totals).add(buf);
        if let Some(m) = crate::metrics::get() {
            m.record(buf);
        }
    }

    /// The run's totals so far.
    pub fn totals(&self) -> RunTotals {
        lock(&self.totals).clone()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Unix time now, in seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_land_in_the_hour_they_are_counted_in_and_merge_by_hour() {
        let mut batch = StatsBuf::new(2, 100);
        batch.listener(0).seen += 1;
        batch.set_hour(90); // an old message
        batch.listener(0).seen += 1;
        batch.listener(1).matched += 1;
        batch.set_hour(100);
        batch.listener(0).seen += 1;
        let mut shared = StatsBuf::new(2, 100);
        shared.merge(&mut batch);
        assert_eq!(batch.totals(), vec![Counters::default(); 2], "merged away");
        let mut rows = shared.drain().rows;
        rows.sort_by_key(|r| (r.hour, r.listener));
        let got: Vec<(i64, usize, u64, u64)> = rows
            .iter()
            .map(|r| (r.hour, r.listener, r.counters.seen, r.counters.matched))
            .collect();
        assert_eq!(got, [(90, 0, 1, 0), (90, 1, 0, 1), (100, 0, 2, 0)]);
        assert!(shared.drain().rows.is_empty());
    }

    #[test]
    fn ungrouped_counts_are_plain_counters_written_as_rows_without_groups() {
        let mut buf = StatsBuf::new(2, 100);
        buf.listener(1).counted += 2;
        buf.count(
            CountKey {
                listener: 1,
                hour: 90,
                channel: None,
                sender: None,
            },
            None,
            None,
        );
        buf.count(
            CountKey {
                listener: 0,
                hour: 100,
                channel: Some(7),
                sender: None,
            },
            Some("devel"),
            None,
        );
        assert_eq!(
            buf.hour(),
            100,
            "counting in another hour leaves the hour as it was"
        );
        let mut counts = buf.drain().counts;
        counts.sort_by_key(|c| (c.hour, c.listener));
        let got: Vec<(usize, i64, &str, u64)> = counts
            .iter()
            .map(|c| (c.listener, c.hour, c.channel.as_str(), c.n))
            .collect();
        assert_eq!(got, [(1, 90, "", 1), (0, 100, "devel", 1), (1, 100, "", 2)]);
        assert!(buf.drain().counts.is_empty());
    }

    #[test]
    fn stored_payloads_are_cut_visibly() {
        let big = format!("{{\"type\":\"message\",\"x\":\"{}\"}}", "é".repeat(40_000));
        let row = LogRow::new("l", 1, "message", (Some(1), None), &big, "dead", None);
        assert!(row.truncated);
        assert_eq!(row.payload_bytes, big.len());
        assert!(row.payload.len() <= MAX_STORED_PAYLOAD);
        let small = LogRow::new("l", 1, "message", (Some(1), None), "{}", "dead", None);
        assert!(!small.truncated && small.payload == "{}" && small.payload_bytes == 2);
    }
}
