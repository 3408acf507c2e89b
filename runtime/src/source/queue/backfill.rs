//! The backfill after a queue is lost or replaced: the messages after the last one
//! delivered, fetched with `GET /messages` page by page (each narrow of the
//! registration), handed out as batches, the gap of other events recorded.

use super::source::{Backfill, QueueSource, Replacing};
use crate::error::Result;
use crate::event::push_message_event;
use crate::source::batch::{Batch, Origin};
use crate::store::{Gap, GapReason};

impl QueueSource {
    /// After a new queue (`queue_id`, replacing `old_queue`): records the gap and
    /// starts the backfill of the messages after `anchor`.
    pub(super) async fn start_backfill(
        &mut self,
        anchor: i64,
        old_queue: Option<String>,
        queue_id: String,
        replacing: Option<Replacing>,
    ) -> Result<()> {
        let reason = replacing.as_ref().map_or(GapReason::Expired, |r| r.reason);
        let gap = Gap {
            old_queue_id: old_queue,
            new_queue_id: queue_id,
            last_event_id: self.persisted.last_event_id,
            last_message_id: Some(anchor),
            reason,
        };
        match replacing.and_then(|r| r.change) {
            // Said once, when the backfill is complete.
            Some(change) => self.announce = Some(change),
            None => tracing::warn!(
                old_queue = gap.old_queue_id.as_deref().unwrap_or("none"),
                after_message_id = anchor,
                "non-message events between the old queue and the new one cannot be recovered; backfilling messages"
            ),
        }
        if let Some(store) = &self.store {
            store.record_gap(&self.opts.connection, &gap).await?;
        }
        let narrows = self.opts.register.backfill_narrows();
        self.backfill = Some(Backfill {
            narrows,
            index: 0,
            start: anchor,
            anchor,
        });
        self.commit_at = None;
        Ok(())
    }

    pub(super) async fn backfill_page(&mut self) -> Result<Option<Batch>> {
        let Some(bf) = self.backfill.as_mut() else {
            return Ok(None);
        };
        let page = self
            .client
            .get_messages_after(
                bf.anchor,
                BACKFILL_PAGE,
                &bf.narrows[bf.index],
                self.opts.register.apply_markdown,
            )
            .await?;
        self.retry.succeeded();
        let mut text = String::new();
        let mut spans = Vec::new();
        let mut max_id = None;
        for (raw, &id) in page.messages.iter().zip(&page.ids) {
            bf.anchor = bf.anchor.max(id);
            if id <= bf.start || !self.backfilled.insert(id) {
                continue;
            }
            let start = text.len();
            push_message_event(&mut text, raw.get(), "[]");
            spans.push((start as u32, text.len() as u32));
            text.push('\n');
            max_id = max_id.max(Some(id));
        }
        if page.found_newest || page.ids.is_empty() {
            bf.index += 1;
            bf.anchor = bf.start;
        }
        let finished = bf.index >= bf.narrows.len();
        if let Some(id) = max_id {
            self.delivered_message_id = self.delivered_message_id.max(Some(id));
        }
        self.stats.backfilled += spans.len() as u64;
        let (queue_id, base_event) = match &self.queue {
            Some(q) => (q.id.to_string(), self.delivered_event_id),
            None => return Ok(None),
        };
        if finished {
            self.backfill = None;
            match self.announce.take() {
                Some(change) => tracing::warn!(
                    "{change}; new queue registered, {} message{} backfilled",
                    self.backfilled.len(),
                    if self.backfilled.len() == 1 { "" } else { "s" }
                ),
                None => tracing::info!(messages = self.backfilled.len(), "backfill complete"),
            }
        }
        if spans.is_empty() {
            if finished {
                self.commit_queue(queue_id, base_event).await?;
            }
            return Ok(None);
        }
        let ack = self.next_ack(None, max_id);
        if finished {
            self.commit_at = Some((ack.seq, queue_id, base_event));
        }
        Ok(Some(self.hand_out(text, spans, ack, Origin::Backfill)))
    }
}

/// Messages per `GET /messages` page during a backfill (the server allows 5000).
const BACKFILL_PAGE: u32 = 1000;
