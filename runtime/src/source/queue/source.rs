//! [`QueueSource`]: the queue's state and its steps (resume or register, backfill,
//! poll, acknowledge).

use std::collections::HashSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::client::{Client, DEFAULT_LONGPOLL, NarrowTerm, RegisterRequest};
use crate::error::{Error, Result};
use crate::retry::Retry;
use crate::source::batch::{Ack, Batch, Origin, QueueState, SourceStats, StateReport};
use crate::store::{Checkpoint, GapReason, Store};

/// How to follow a queue.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The checkpoint key of this realm connection.
    pub connection: String,
    /// Registration parameters.
    pub register: RegisterRequest,
}

#[derive(Debug)]
pub(super) struct ActiveQueue {
    pub(super) id: std::sync::Arc<str>,
    pub(super) poll_timeout: Duration,
}

/// Why the next registration replaces a queue, and what to say about it.
#[derive(Debug)]
pub(super) struct Replacing {
    pub(super) reason: GapReason,
    /// For a changed registration: what changed, in words.
    pub(super) change: Option<String>,
}

#[derive(Debug)]
pub(super) struct Backfill {
    pub(super) narrows: Vec<Vec<NarrowTerm>>,
    pub(super) index: usize,
    pub(super) start: i64,
    pub(super) anchor: i64,
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
    pub(super) client: Client,
    pub(super) store: Option<Store>,
    pub(super) opts: QueueOptions,
    /// What this source registers for ([`RegisterRequest::fingerprint`]).
    pub(super) fingerprint: String,
    /// Set when the queue is gone or does not fit: the next registration replaces it.
    pub(super) replacing: Option<Replacing>,
    /// A change of registration to report once its backfill is complete.
    pub(super) announce: Option<String>,
    pub(super) started: bool,
    pub(super) queue: Option<ActiveQueue>,
    pub(super) generation: u64,
    pub(super) seq: u64,
    pub(super) acked_event_id: i64,
    pub(super) delivered_event_id: i64,
    /// Events up to `.0` need no work once everything up to `.1` is acknowledged.
    pub(super) auto_finished: Option<(i64, i64)>,
    pub(super) acked_message_id: Option<i64>,
    pub(super) delivered_message_id: Option<i64>,
    pub(super) persisted: Checkpoint,
    /// Persist this queue once the ack with this sequence number arrives.
    pub(super) commit_at: Option<(u64, String, i64)>,
    pub(super) backfill: Option<Backfill>,
    pub(super) backfilled: HashSet<i64>,
    pub(super) retry: Retry,
    /// The answer of the last long poll, while its events are being taken out.
    pub(super) response: Option<Reading>,
    pub(super) stats: SourceStats,
    /// Told where the queue stands.
    pub(super) report: Option<StateReport>,
}

/// A `GET /events` answer being read, and what it gave so far.
#[derive(Debug)]
pub(super) struct Reading {
    pub(super) response: crate::client::EventsResponse,
    /// Whether a batch for dispatch came out of it.
    pub(super) handed_out: bool,
    /// Whether it moved the delivered event id (heartbeats count).
    pub(super) advanced: bool,
    /// Events it re-sent (their work still running).
    pub(super) resent: u64,
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
            // We were somewhere before: recover the messages missed since.
            Some(anchor) => {
                self.start_backfill(anchor, old_queue, queue_id, replacing)
                    .await?
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

    pub(super) async fn commit_queue(
        &mut self,
        queue_id: String,
        last_event_id: i64,
    ) -> Result<()> {
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

    pub(super) fn next_ack(&mut self, event_id: Option<i64>, message_id: Option<i64>) -> Ack {
        self.seq += 1;
        Ack {
            seq: self.seq,
            generation: self.generation,
            event_id,
            message_id,
        }
    }

    pub(super) fn hand_out(
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

    pub(super) async fn sync_persisted(&mut self) -> Result<()> {
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
