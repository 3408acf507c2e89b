//! The event-queue source for one realm connection.
//!
//! Contract:
//! * Only acknowledged event ids are sent as `last_event_id` and persisted, so Zulip
//!   keeps, and re-sends, whatever is not finished; re-sent events already handed out in
//!   this process are dropped here. Heartbeats (and events dropped here) need no work:
//!   they advance the acknowledgement as soon as everything before them is finished.
//! * The checkpoint (queue id, last event id, last message id) is saved after each
//!   acknowledged batch; a restart resumes the checkpointed queue.
//! * `BAD_EVENT_QUEUE_ID`: register a new queue *first*, then backfill the messages after
//!   the last delivered message id with `GET /messages` (paged, same narrow), drop from
//!   the new queue the messages the backfill delivered, and record the gap of
//!   non-message events. The new queue is persisted only once the backfill is
//!   acknowledged, so a crash during backfill restarts the backfill.
//! * `An event newer than N has already been pruned!`: our place in the queue is gone
//!   just as if it had expired; the same recovery applies (and the old queue is freed).
//! * The checkpoint keeps what its queue was registered for (the request's
//!   [`RegisterRequest::fingerprint`]: event types, narrow, flags). A queue registered
//!   otherwise than this source would register it (the pipeline was edited, rebuilt or
//!   upgraded, or a process of another build wrote the checkpoint) is not resumed: it
//!   is replaced as an expired one is (a new queue first, the messages backfilled, the
//!   gap of other events recorded), the old queue is deleted, and the change is logged
//!   once: `event types changed: message → message, reaction; new queue registered, 3
//!   messages backfilled`.
//! * Failed requests are retried as [`crate::retry`] decides: 429 waits `retry-after`
//!   (capped below the queue's idle lifetime), transient failures back off with full
//!   jitter (≥ 1 s), authentication failures and bad requests return the error.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use super::batch::{Ack, Batch, Origin, QueueState, SourceStats, StateReport};
use crate::backoff::Backoff;
use crate::client::{Client, DEFAULT_LONGPOLL, NarrowTerm, RegisterRequest};
use crate::error::{Error, Result};
use crate::event::RawEvent;
use crate::event::stream;
use crate::retry::Retry;
use crate::store::{Checkpoint, Gap, GapReason, Store};

/// Messages per `GET /messages` page during a backfill (the server allows 5000).
const BACKFILL_PAGE: u32 = 1000;

/// How to follow a queue.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The checkpoint key of this realm connection.
    pub connection: String,
    /// Registration parameters.
    pub register: RegisterRequest,
}

#[derive(Debug)]
struct ActiveQueue {
    id: std::sync::Arc<str>,
    poll_timeout: Duration,
}

/// Why the next registration replaces a queue, and what to say about it.
#[derive(Debug)]
struct Replacing {
    reason: GapReason,
    /// For a changed registration: what changed, in words.
    change: Option<String>,
}

#[derive(Debug)]
struct Backfill {
    narrows: Vec<Vec<NarrowTerm>>,
    index: usize,
    start: i64,
    anchor: i64,
}

/// An acknowledgement worked out by [`QueueSource::prepare_ack`], not yet applied.
#[derive(Debug, Clone)]
pub struct PreparedAck {
    acked_event_id: i64,
    acked_message_id: Option<i64>,
    auto_finished: Option<(i64, i64)>,
    commit_at: Option<(u64, String, i64)>,
    persisted: Checkpoint,
    /// The checkpoint to persist with it, when it changes.
    pub checkpoint: Option<Checkpoint>,
}

/// Follows one Zulip event queue; see the module docs for the contract.
#[derive(Debug)]
pub struct QueueSource {
    client: Client,
    store: Option<Store>,
    opts: QueueOptions,
    /// What this source registers for ([`RegisterRequest::fingerprint`]).
    fingerprint: String,
    /// Set when the queue is gone or does not fit: the next registration replaces it.
    replacing: Option<Replacing>,
    /// A change of registration to report once its backfill is complete.
    announce: Option<String>,
    started: bool,
    queue: Option<ActiveQueue>,
    generation: u64,
    seq: u64,
    acked_event_id: i64,
    delivered_event_id: i64,
    /// Events up to `.0` need no work once everything up to `.1` is acknowledged.
    auto_finished: Option<(i64, i64)>,
    acked_message_id: Option<i64>,
    delivered_message_id: Option<i64>,
    persisted: Checkpoint,
    /// Persist this queue once the ack with this sequence number arrives.
    commit_at: Option<(u64, String, i64)>,
    backfill: Option<Backfill>,
    backfilled: HashSet<i64>,
    retry: Retry,
    /// The answer of the last long poll, while its events are being taken out.
    response: Option<Reading>,
    stats: SourceStats,
    /// Told where the queue stands.
    report: Option<StateReport>,
}

/// A `GET /events` answer being read, and what it gave so far.
#[derive(Debug)]
struct Reading {
    response: crate::client::EventsResponse,
    /// Whether a batch for dispatch came out of it.
    handed_out: bool,
    /// Whether it moved the delivered event id (heartbeats count).
    advanced: bool,
    /// Events it re-sent (their work still running).
    resent: u64,
}

impl QueueSource {
    /// A source that will register (or resume from `store`'s checkpoint) on first use.
    pub fn new(client: Client, store: Option<Store>, opts: QueueOptions) -> Self {
        let retry = Retry::new(client.base_url().trim_end_matches("/api/v1"));
        let fingerprint = opts.register.fingerprint();
        QueueSource {
            client,
            store,
            opts,
            fingerprint,
            replacing: None,
            announce: None,
            started: false,
            queue: None,
            generation: 0,
            seq: 0,
            acked_event_id: -1,
            delivered_event_id: -1,
            auto_finished: None,
            acked_message_id: None,
            delivered_message_id: None,
            persisted: Checkpoint {
                queue_id: None,
                last_event_id: -1,
                last_message_id: None,
                registered_for: None,
            },
            commit_at: None,
            backfill: None,
            backfilled: HashSet::new(),
            retry,
            response: None,
            stats: SourceStats::default(),
            report: None,
        }
    }

    /// Tells `report` where the queue stands each time it says so (as it changes, and
    /// again on every answer of a poll).
    pub fn with_state_report(mut self, report: StateReport) -> Self {
        self.report = Some(report);
        self
    }

    /// Replaces the backoff policy (tests use a deterministic one).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.retry = self.retry.with_backoff(backoff);
        self
    }

    /// Continues with the retry state of a first contact made before this source
    /// existed (so that a site that already answered is not given up on).
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Counters.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// The checkpoint as last persisted.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.persisted
    }

    /// Whether the next batch comes from a new long poll (not from an answer being read
    /// or a backfill): a poll made while events already handed out are unacknowledged
    /// only gets them again, at once.
    pub fn will_poll(&self) -> bool {
        self.started && self.queue.is_some() && self.response.is_none() && self.backfill.is_none()
    }

    /// The active queue id, if registered.
    pub fn queue_id(&self) -> Option<&str> {
        self.queue.as_ref().map(|q| &*q.id)
    }

    /// The next batch of events; `None` when `cancel` fires. Errors only for what
    /// waiting cannot fix (authentication, bad requests, the store). A batch may be
    /// empty: the server only re-sent events whose work is not acknowledged yet.
    pub async fn next_batch(&mut self, cancel: &CancellationToken) -> Result<Option<Batch>> {
        loop {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let step = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(None),
                step = self.step() => step,
            };
            let wait = match step {
                Ok(Some(batch)) => return Ok(Some(batch)),
                Ok(None) => continue,
                Err(Error::QueueGone { queue_id, msg }) => {
                    self.stats.queues_lost += 1;
                    self.state(QueueState::Connecting);
                    let lost = self.queue.take();
                    let pruned = msg.contains("pruned");
                    self.replacing = Some(Replacing {
                        reason: if pruned {
                            GapReason::Pruned
                        } else {
                            GapReason::Expired
                        },
                        change: None,
                    });
                    if pruned {
                        tracing::warn!(%msg, "events after our acknowledgement were pruned from the event queue; registering a new one and backfilling");
                        // The old queue still lives on the server: free it.
                        if let Some(q) = lost
                            && let Err(e) = self.client.delete_queue(&q.id).await
                        {
                            tracing::debug!(error = %e, "could not delete the pruned queue");
                        }
                    } else {
                        tracing::warn!(%queue_id, %msg, "event queue expired; registering a new one and backfilling");
                    }
                    continue;
                }
                Err(e) => {
                    self.state(QueueState::Failing);
                    let wait = self.retry.after(e);
                    self.stats.retries = self.retry.retries;
                    self.stats.rate_limited = self.retry.rate_limited;
                    wait?
                }
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(None),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Tells whoever was given where the queue stands.
    fn state(&self, state: QueueState) {
        if let Some(report) = &self.report {
            report.say(state);
        }
    }

    /// One request: resume or register, a backfill page, or a poll.
    async fn step(&mut self) -> Result<Option<Batch>> {
        if !self.started {
            self.resume().await?;
        }
        if self.queue.is_none() {
            self.register().await?;
        }
        if self.backfill.is_some() {
            return self.backfill_page().await;
        }
        self.poll().await
    }

    async fn resume(&mut self) -> Result<()> {
        if let Some(store) = &self.store
            && let Some(cp) = store.load_checkpoint(&self.opts.connection).await?
        {
            let last_message_id = cp
                .last_message_id
                .map_or_else(|| "none".to_owned(), |i| i.to_string());
            self.acked_message_id = cp.last_message_id;
            self.delivered_message_id = cp.last_message_id;
            if let Some(id) = cp.queue_id.as_deref()
                && cp.registered_for.as_deref() != Some(self.fingerprint.as_str())
            {
                // Registered for other events: replaced (and deleted) once a new queue
                // is registered, the messages missed backfilled.
                tracing::info!(
                    queue_id = id,
                    %last_message_id,
                    "the checkpointed queue was registered for other events than this pipeline needs; replacing it"
                );
                self.replacing = Some(Replacing {
                    reason: GapReason::Changed,
                    change: Some(
                        self.opts
                            .register
                            .describe_change(cp.registered_for.as_deref()),
                    ),
                });
            } else if let Some(id) = &cp.queue_id {
                tracing::info!(queue_id = %id, last_event_id = cp.last_event_id, %last_message_id, "resuming from checkpoint");
                self.state(QueueState::Polling);
                self.generation += 1;
                self.queue = Some(ActiveQueue {
                    id: id.as_str().into(),
                    poll_timeout: DEFAULT_LONGPOLL + Duration::from_secs(10),
                });
                self.acked_event_id = cp.last_event_id;
                self.delivered_event_id = cp.last_event_id;
            }
            self.persisted = cp;
        }
        self.started = true;
        Ok(())
    }

    async fn register(&mut self) -> Result<()> {
        let reg = self.client.register(&self.opts.register).await?;
        self.retry.succeeded();
        self.state(QueueState::Polling);
        self.stats.registrations += 1;
        self.generation += 1;
        let queue_id = reg.queue().to_owned();
        tracing::info!(%queue_id, last_event_id = reg.last_event_id,
            feature_level = reg.zulip_feature_level, "registered event queue");
        let old_queue = self.persisted.queue_id.clone();
        self.queue = Some(ActiveQueue {
            id: queue_id.as_str().into(),
            poll_timeout: reg.poll_timeout(),
        });
        self.acked_event_id = reg.last_event_id;
        self.delivered_event_id = reg.last_event_id;
        self.auto_finished = None;
        self.backfilled.clear();
        let replacing = self.replacing.take();
        if let Some(Replacing {
            reason: GapReason::Changed,
            ..
        }) = &replacing
            && let Some(old) = &old_queue
        {
            // It will never be polled again: free it on the server (it may be gone
            // already, expired while nothing polled it).
            if let Err(e) = self.client.delete_queue(old).await {
                tracing::debug!(error = %e, queue_id = %old, "could not delete the replaced queue");
            }
        }
        match self.delivered_message_id {
            Some(anchor) => {
                // We were somewhere before: recover the messages missed since.
                let reason = replacing.as_ref().map_or(GapReason::Expired, |r| r.reason);
                let gap = Gap {
                    old_queue_id: old_queue,
                    new_queue_id: queue_id.clone(),
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
            }
            None => {
                if let Some(change) = replacing.and_then(|r| r.change) {
                    tracing::warn!("{change}; new queue registered");
                }
                // First start: nothing to recover, but note where messages stand now so
                // that a later expiry knows where to backfill from.
                let mut newest = None;
                for narrow in self.opts.register.backfill_narrows() {
                    newest = newest.max(self.client.newest_message_id(&narrow).await?);
                }
                let baseline = newest.unwrap_or(0);
                self.delivered_message_id = Some(baseline);
                self.acked_message_id = Some(baseline);
                self.commit_queue(queue_id, reg.last_event_id).await?;
            }
        }
        Ok(())
    }

    async fn commit_queue(&mut self, queue_id: String, last_event_id: i64) -> Result<()> {
        self.persisted.queue_id = Some(queue_id);
        self.persisted.last_event_id = last_event_id;
        self.persisted.last_message_id = self.acked_message_id;
        self.persisted.registered_for = Some(self.fingerprint.clone());
        self.save().await
    }

    async fn save(&self) -> Result<()> {
        match &self.store {
            Some(store) => {
                store
                    .save_checkpoint(&self.opts.connection, &self.persisted)
                    .await
            }
            None => Ok(()),
        }
    }

    async fn backfill_page(&mut self) -> Result<Option<Batch>> {
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
            push_message_event(&mut text, raw);
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

    /// The next batch from the queue: the next chunk of the answer being read, or of a
    /// new long poll. Events come in chunks of about a megabyte, so that memory does
    /// not grow with the backlog; each chunk is a batch acknowledged on its own.
    async fn poll(&mut self) -> Result<Option<Batch>> {
        if self.response.is_none() {
            let Some(queue) = &self.queue else {
                return Ok(None);
            };
            let response = self
                .client
                .get_events_stream(&queue.id, self.acked_event_id, queue.poll_timeout)
                .await?;
            self.retry.succeeded();
            self.state(QueueState::Polling);
            self.response = Some(Reading {
                response,
                handed_out: false,
                advanced: false,
                resent: 0,
            });
        }
        loop {
            let Some(reading) = self.response.as_mut() else {
                return Ok(None);
            };
            let chunk = match reading.response.next_chunk().await {
                Ok(c) => c,
                Err(e) => {
                    // Whatever it gave before comes again with the next poll.
                    self.response = None;
                    return Err(e);
                }
            };
            let Some(chunk) = chunk else {
                let done = self.response.take();
                return self.end_of_response(done).await;
            };
            if let Some(batch) = self.take_chunk(chunk).await? {
                if let Some(r) = self.response.as_mut() {
                    r.handed_out = true;
                }
                return Ok(Some(batch));
            }
        }
    }

    /// An answer read to its end without a batch for dispatch: when the server only
    /// re-sent events whose work is still running, hand control back with an empty
    /// batch, so that the caller waits for that work (or a while) before the next poll,
    /// which would only get them again.
    async fn end_of_response(&mut self, done: Option<Reading>) -> Result<Option<Batch>> {
        let Some(r) = done else {
            return Ok(None);
        };
        self.stats.resent += r.resent;
        if r.handed_out || r.advanced || r.resent == 0 {
            return Ok(None);
        }
        let ack = self.next_ack(None, None);
        Ok(Some(Batch::new(
            String::new(),
            Vec::new(),
            ack,
            Origin::Queue,
        )))
    }

    /// The events of one chunk that need work, as a batch (`None` when none do).
    async fn take_chunk(&mut self, chunk: stream::Chunk) -> Result<Option<Batch>> {
        let delivered_before = self.delivered_event_id;
        let mut max_event = delivered_before;
        let mut max_message = None;
        let mut resent = 0u64;
        for id in &chunk.oversize {
            self.stats.malformed += 1;
            tracing::warn!(
                limit = crate::event::MAX_EVENT_BYTES,
                "skipping an event larger than the limit"
            );
            if let Some(id) = id.filter(|id| *id > delivered_before) {
                max_event = max_event.max(id);
            }
        }
        let (text, all) = match String::from_utf8(chunk.text) {
            Ok(t) => (t, chunk.spans),
            Err(e) => {
                // Keep the events that are UTF-8; the others become empty (unreadable).
                let bytes = e.into_bytes();
                let mut text = String::with_capacity(bytes.len());
                let mut spans = Vec::with_capacity(chunk.spans.len());
                for &(a, b) in &chunk.spans {
                    let start = text.len() as u32;
                    if let Ok(s) = std::str::from_utf8(&bytes[a as usize..b as usize]) {
                        text.push_str(s);
                    }
                    spans.push((start, text.len() as u32));
                }
                (text, spans)
            }
        };
        let mut spans = Vec::with_capacity(all.len());
        for &(a, b) in &all {
            let Some(json) = text
                .get(a as usize..b as usize)
                .filter(|j| !j.trim().is_empty())
            else {
                self.stats.malformed += 1;
                tracing::warn!("skipping an event that is not UTF-8");
                continue;
            };
            let head = match RawEvent::new(json) {
                Ok(h) => h,
                Err(e) => {
                    self.stats.malformed += 1;
                    tracing::warn!(error = %e, "skipping an unreadable event");
                    // Step past it when its id can be read, so it is not sent again.
                    if let Some(id) =
                        crate::event::trailing_id(json).filter(|id| *id > delivered_before)
                    {
                        max_event = max_event.max(id);
                    }
                    continue;
                }
            };
            let Some(id) = head.id else {
                self.stats.malformed += 1;
                tracing::warn!(kind = head.kind, "skipping a queue event without an id");
                continue;
            };
            if id <= delivered_before {
                resent += 1;
                continue;
            }
            max_event = max_event.max(id);
            if head.kind == "heartbeat" {
                self.stats.heartbeats += 1;
                continue;
            }
            if head.kind == "message"
                && let Some(mid) = message_id_of(&head)
            {
                if self.backfilled.contains(&mid) {
                    self.stats.duplicates += 1;
                    continue;
                }
                max_message = max_message.max(Some(mid));
            }
            spans.push((a, b));
        }
        if let Some(r) = self.response.as_mut() {
            r.resent += resent;
            r.advanced |= max_event > delivered_before;
        }
        self.delivered_event_id = max_event;
        if let Some(mid) = max_message {
            self.delivered_message_id = self.delivered_message_id.max(Some(mid));
        }
        if spans.is_empty() {
            if max_event > delivered_before {
                // Only heartbeats or dropped events: finished as soon as what came
                // before them is.
                if self.acked_event_id >= delivered_before {
                    self.acked_event_id = max_event;
                    self.sync_persisted().await?;
                } else {
                    self.auto_finished = Some((max_event, delivered_before));
                }
            }
            return Ok(None);
        }
        let ack = self.next_ack(Some(max_event), max_message);
        let batch = self.hand_out(text, spans, ack, Origin::Queue);
        Ok(Some(match &self.queue {
            Some(q) => batch.with_queue(q.id.clone()),
            None => batch,
        }))
    }

    fn next_ack(&mut self, event_id: Option<i64>, message_id: Option<i64>) -> Ack {
        self.seq += 1;
        Ack {
            seq: self.seq,
            generation: self.generation,
            event_id,
            message_id,
        }
    }

    fn hand_out(
        &mut self,
        text: String,
        spans: Vec<(u32, u32)>,
        ack: Ack,
        origin: Origin,
    ) -> Batch {
        self.stats.batches += 1;
        self.stats.events += spans.len() as u64;
        Batch::new(text, spans, ack, origin)
    }

    /// Acknowledges `ack`'s batch and all before it, and persists the checkpoint.
    pub async fn ack(&mut self, ack: Ack) -> Result<()> {
        let prepared = self.prepare_ack(ack);
        if let (Some(store), Some(cp)) = (&self.store, &prepared.checkpoint) {
            store.save_checkpoint(&self.opts.connection, cp).await?;
        }
        self.complete_ack(prepared);
        Ok(())
    }

    /// Works out what acknowledging `ack` (and all before it) leads to, changing
    /// nothing: the caller persists its checkpoint (with whatever must be written with
    /// it), then applies it with [`QueueSource::complete_ack`]. Until then, Zulip is not
    /// told either.
    pub fn prepare_ack(&self, ack: Ack) -> PreparedAck {
        let mut next = PreparedAck {
            acked_event_id: self.acked_event_id,
            acked_message_id: self.acked_message_id,
            auto_finished: self.auto_finished,
            commit_at: self.commit_at.clone(),
            persisted: self.persisted.clone(),
            checkpoint: None,
        };
        if let Some(mid) = ack.message_id {
            next.acked_message_id = next.acked_message_id.max(Some(mid));
        }
        if let Some((seq, queue_id, event_id)) = next.commit_at.take() {
            if ack.seq >= seq {
                next.persisted.queue_id = Some(queue_id);
                next.persisted.last_event_id = event_id;
                next.persisted.registered_for = Some(self.fingerprint.clone());
            } else {
                next.commit_at = Some((seq, queue_id, event_id));
            }
        }
        if ack.generation == self.generation
            && let Some(id) = ack.event_id
        {
            next.acked_event_id = next.acked_event_id.max(id);
            if let Some((upto, after)) = next.auto_finished
                && next.acked_event_id >= after
            {
                next.acked_event_id = next.acked_event_id.max(upto);
                next.auto_finished = None;
            }
        }
        let cp = self.checkpoint_of(&next);
        if cp != self.persisted {
            next.checkpoint = Some(cp);
        }
        next
    }

    /// Applies an acknowledgement whose checkpoint was persisted.
    pub fn complete_ack(&mut self, p: PreparedAck) {
        self.acked_event_id = p.acked_event_id;
        self.acked_message_id = p.acked_message_id;
        self.auto_finished = p.auto_finished;
        self.commit_at = p.commit_at;
        self.persisted = p.checkpoint.unwrap_or(p.persisted);
    }

    /// The checkpoint key of this connection.
    pub fn connection(&self) -> &str {
        &self.opts.connection
    }

    /// The checkpoint for an acknowledgement state.
    fn checkpoint_of(&self, state: &PreparedAck) -> Checkpoint {
        let mut next = state.persisted.clone();
        next.last_message_id = state.acked_message_id;
        if state.commit_at.is_none()
            && self.backfill.is_none()
            && let Some(q) = &self.queue
            && next.queue_id.as_deref() == Some(&*q.id)
        {
            next.last_event_id = state.acked_event_id;
        }
        next
    }

    async fn sync_persisted(&mut self) -> Result<()> {
        let mut next = self.persisted.clone();
        next.last_message_id = self.acked_message_id;
        if self.commit_at.is_none()
            && self.backfill.is_none()
            && let Some(q) = &self.queue
            && next.queue_id.as_deref() == Some(&*q.id)
        {
            next.last_event_id = self.acked_event_id;
        }
        if next != self.persisted {
            self.persisted = next;
            self.save().await?;
        }
        Ok(())
    }
}

/// Wraps a `GET /messages` message as a `message` event (without an event id).
fn push_message_event(text: &mut String, raw: &RawValue) {
    #[derive(Deserialize)]
    struct Flags<'a> {
        #[serde(default, borrow)]
        flags: Option<&'a RawValue>,
    }
    let flags = serde_json::from_str::<Flags<'_>>(raw.get())
        .ok()
        .and_then(|f| f.flags)
        .map_or("[]", |f| f.get());
    text.push_str(r#"{"type":"message","message":"#);
    text.push_str(raw.get());
    text.push_str(r#","flags":"#);
    text.push_str(flags);
    text.push('}');
}

/// The message id of a `message` event: read directly when the message object starts
/// with its id (as Zulip writes it), else by serde.
pub(crate) fn message_id_of(head: &RawEvent<'_>) -> Option<i64> {
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
