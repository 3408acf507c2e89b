//! The events of one chunk of a `GET /events` answer: which need work (not unreadable,
//! not sent before, not heartbeats, not messages the backfill delivered), handed out
//! as a batch.

use serde::Deserialize;

use super::source::QueueSource;
use crate::error::Result;
use crate::event::RawEvent;
use crate::event::stream;
use crate::source::batch::{Batch, Origin};

impl QueueSource {
    /// The events of one chunk that need work, as a batch (`None` when none do).
    pub(super) async fn take_chunk(&mut self, chunk: stream::Chunk) -> Result<Option<Batch>> {
        let before = self.delivered_event_id;
        let mut r = ChunkIds {
            before,
            max_event: before,
            max_message: None,
            resent: 0,
        };
        for id in &chunk.oversize {
            self.stats.malformed += 1;
            tracing::warn!(
                limit = crate::event::MAX_EVENT_BYTES,
                "skipping an event larger than the limit"
            );
            if let Some(id) = id.filter(|id| *id > before) {
                r.max_event = r.max_event.max(id);
            }
        }
        let (text, all) = utf8_events(chunk.text, chunk.spans);
        let mut spans = Vec::with_capacity(all.len());
        for &(a, b) in &all {
            if self.wanted(text.get(a as usize..b as usize), &mut r) {
                spans.push((a, b));
            }
        }
        if let Some(resp) = self.response.as_mut() {
            resp.resent += r.resent;
            resp.advanced |= r.max_event > before;
        }
        self.delivered_event_id = r.max_event;
        if let Some(mid) = r.max_message {
            self.delivered_message_id = self.delivered_message_id.max(Some(mid));
        }
        if spans.is_empty() {
            if r.max_event > before {
                // Only heartbeats or dropped events: finished as soon as what came
                // before them is.
                if self.acked_event_id >= before {
                    self.acked_event_id = r.max_event;
                    self.sync_persisted().await?;
                } else {
                    self.auto_finished = Some((r.max_event, before));
                }
            }
            return Ok(None);
        }
        let ack = self.next_ack(Some(r.max_event), r.max_message);
        let batch = self.hand_out(text, spans, ack, Origin::Queue);
        Ok(Some(match &self.queue {
            Some(q) => batch.with_queue(q.id.clone()),
            None => batch,
        }))
    }

    /// Whether one event of a chunk (`json`: `None` when it was not UTF-8) needs work:
    /// not unreadable, not sent before, not a heartbeat, not a message the backfill
    /// delivered. Counts what it skips; `r` learns the ids it passes.
    #[inline]
    fn wanted(&mut self, json: Option<&str>, r: &mut ChunkIds) -> bool {
        let Some(json) = json.filter(|j| !j.trim().is_empty()) else {
            self.stats.malformed += 1;
            tracing::warn!("skipping an event that is not UTF-8");
            return false;
        };
        let head = match RawEvent::new(json) {
            Ok(h) => h,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::warn!(error = %e, "skipping an unreadable event");
                // Step past it when its id can be read, so it is not sent again.
                if let Some(id) = crate::event::trailing_id(json).filter(|id| *id > r.before) {
                    r.max_event = r.max_event.max(id);
                }
                return false;
            }
        };
        let Some(id) = head.id else {
            self.stats.malformed += 1;
            tracing::warn!(kind = head.kind, "skipping a queue event without an id");
            return false;
        };
        if id <= r.before {
            r.resent += 1;
            return false;
        }
        r.max_event = r.max_event.max(id);
        if head.kind == "heartbeat" {
            self.stats.heartbeats += 1;
            return false;
        }
        if head.kind == "message"
            && let Some(mid) = message_id_of(&head)
        {
            if self.backfilled.contains(&mid) {
                self.stats.duplicates += 1;
                return false;
            }
            r.max_message = r.max_message.max(Some(mid));
        }
        true
    }
}

/// What one chunk's events move while they are read.
struct ChunkIds {
    /// The last event delivered before the chunk.
    before: i64,
    /// The newest event id seen.
    max_event: i64,
    /// The newest message id handed out.
    max_message: Option<i64>,
    /// Events sent again.
    resent: u64,
}

/// A chunk's text as a string and its events' spans in it: events that are not UTF-8
/// become empty (and so unreadable), the others are kept.
fn utf8_events(text: Vec<u8>, spans: Vec<(u32, u32)>) -> (String, Vec<(u32, u32)>) {
    match String::from_utf8(text) {
        Ok(t) => (t, spans),
        Err(e) => {
            let bytes = e.into_bytes();
            let mut text = String::with_capacity(bytes.len());
            let mut kept = Vec::with_capacity(spans.len());
            for &(a, b) in &spans {
                let start = text.len() as u32;
                if let Ok(s) = std::str::from_utf8(&bytes[a as usize..b as usize]) {
                    text.push_str(s);
                }
                kept.push((start, text.len() as u32));
            }
            (text, kept)
        }
    }
}

/// The message id of a `message` event: read directly when the message object starts
/// with its id (as Zulip writes it), else by serde.
fn message_id_of(head: &RawEvent<'_>) -> Option<i64> {
    if let Some(rest) = head
        .json
        .strip_prefix(r#"{"type":"message","message":{"id":"#)
    {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if let Ok(id) = rest[..end].parse() {
            return Some(id);
        }
    }
    #[derive(Deserialize)]
    struct Outer {
        message: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        id: i64,
    }
    serde_json::from_str::<Outer>(head.json)
        .ok()
        .map(|o| o.message.id)
}
