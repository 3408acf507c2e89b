//! Statistics in memory, flushed to the store in batches.
//!
//! Dispatch increments plain counters ([`StatsBuf`]); a connection gathers the counters
//! of acknowledged batches and writes them with the checkpoint that passes them, in one
//! transaction (every second or so, and at shutdown), then hands them to the run's
//! `Recorder` (`app`) for the final report. No database write happens per event.
//!
//! Counters are kept per listener and *hour of the event*: a message counts in the hour
//! it was sent (its `timestamp`), so a replayed day or a backfill lands in the hours it
//! happened, not in the hour it was processed. Events without a time of their own count
//! in the hour they were processed.

use std::collections::HashMap;

pub use crate::store::rows::{
    CountRow, Drained, Figures, LogRow, MAX_STORED_PAYLOAD, NamedRow, StatsRow,
};

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

/// Figures of a batch or of a flush period, per hour.
#[derive(Debug, Clone)]
pub struct StatsBuf {
    listeners: usize,
    /// Figures per hour (Unix seconds / 3600); a handful of hours at most.
    hours: Vec<(i64, Vec<Figures>)>,
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
            hours: vec![(hour, vec![Figures::default(); listeners])],
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
    pub fn listener(&mut self, i: usize) -> &mut Figures {
        let counters = &mut self.hours[self.current].1;
        if i >= counters.len() {
            counters.resize(i + 1, Figures::default());
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
                    .push((hour, vec![Figures::default(); self.listeners]));
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
                *c = Figures::default();
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
                .all(|(_, c)| c.iter().all(|c| *c == Figures::default()))
    }

    /// Keeps only the hour being counted, zeroed.
    fn reset_hours(&mut self) {
        let hour = self.hour();
        self.hours.clear();
        self.hours
            .push((hour, vec![Figures::default(); self.listeners]));
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
                if *c != Figures::default() {
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
    pub fn totals(&self) -> Vec<Figures> {
        let mut t = vec![Figures::default(); self.listeners];
        for (_, counters) in &self.hours {
            for (i, c) in counters.iter().enumerate() {
                if i >= t.len() {
                    t.resize(i + 1, Figures::default());
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
    /// Figures per listener index, over all hours.
    pub counters: Vec<Figures>,
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
                self.counters.resize(i + 1, Figures::default());
            }
            self.counters[i].add(c);
        }
        self.events += buf.events;
        self.malformed += buf.malformed;
    }
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
        assert_eq!(batch.totals(), vec![Figures::default(); 2], "merged away");
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
