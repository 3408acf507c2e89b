//! A push realm's source: the messages Zulip pushes (through [`crate::push::server`]),
//! and the ones it would have pushed while nobody listened, fetched by sweeps.
//!
//! Nothing is lost while the listener is down, and nothing is handled twice:
//!
//! * every message is claimed in the store before it is dispatched (`zlc_effects`,
//!   as side effects are), so a message pushed twice, pushed to two processes of a
//!   fleet, or both pushed and swept, is handled once; the claim of a process that
//!   died before finishing is taken over;
//! * the store keeps the realm's mark, the highest message id handled (any process
//!   raises it, none lowers it);
//! * at start, and every `--push-sweep` after, the messages that mention the bot or are
//!   direct messages to it are fetched with `GET /messages` from a little before the
//!   mark on, and every one not claimed yet is handled (a periodic sweep leaves the last
//!   few seconds to the pushes that are on their way).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::batch::{Ack, Batch, Origin, SourceStats};
use crate::client::{Client, NarrowTerm};
use crate::error::Result;
use crate::push::{Answers, Pushed};
use crate::store::{Checkpoint, Claim, Store};

/// The listener name push claims are kept under in `zlc_effects`.
const CLAIMS: &str = "(push)";

/// Messages before the mark a sweep looks at again (handled by a process that died,
/// while another one raised the mark past them).
const LOOK_BACK: u32 = 50;

/// Messages per `GET /messages` page.
const PAGE: u32 = 500;

/// A periodic sweep leaves messages this young to their pushes.
const GRACE_SECS: i64 = 15;

/// Message ids remembered as handled by this process, at most.
const RECENT: usize = 10_000;

/// Who a push source is, and how often it sweeps.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The pipeline (claims are per pipeline).
    pub pipeline: &'static str,
    /// The realm.
    pub realm: u32,
    /// The mark's key in `zlc_checkpoints`.
    pub connection: String,
    /// The bot (its own messages are never handled).
    pub own_user_id: i64,
    /// This process, as the owner of claims.
    pub owner: String,
    /// How often it sweeps.
    pub sweep_every: Duration,
}

/// What woke a push source up ([`PushSource::wake`]).
#[derive(Debug)]
pub enum Wake {
    /// A message was pushed.
    Pushed(Pushed),
    /// Time for a sweep.
    Sweep,
    /// The connection stops.
    Cancelled,
}

/// A push realm's source.
#[derive(Debug)]
pub struct PushSource {
    inbox: mpsc::Receiver<Pushed>,
    client: Client,
    store: Store,
    answers: Arc<Answers>,
    opts: PushOptions,
    /// The highest message id known handled (`None` until read or set).
    mark: Option<i64>,
    /// Whether a sweep read the store's mark (the first one does, and sweeps back to
    /// it without waiting for pushes in flight).
    swept: bool,
    next_sweep: tokio::time::Instant,
    seq: u64,
    /// The messages of each batch handed out, until it is acknowledged.
    handed: VecDeque<(u64, Vec<i64>)>,
    /// Claims to mark done (their batches are acknowledged).
    done: Vec<i64>,
    recent: Recent,
    stats: SourceStats,
}

impl PushSource {
    /// A source over `inbox`, sweeping through `client`, claiming in `store`; answers
    /// for duplicates are closed in `answers`.
    pub fn new(
        inbox: mpsc::Receiver<Pushed>,
        client: Client,
        store: Store,
        answers: Arc<Answers>,
        opts: PushOptions,
    ) -> Self {
        PushSource {
            inbox,
            client,
            store,
            answers,
            opts,
            mark: None,
            swept: false,
            next_sweep: tokio::time::Instant::now(),
            seq: 0,
            handed: VecDeque::new(),
            done: Vec::new(),
            recent: Recent::default(),
            stats: SourceStats::default(),
        }
    }

    /// The mark's key.
    pub fn connection(&self) -> &str {
        &self.opts.connection
    }

    /// The counters.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Waits for something to do; safe to drop at any point (nothing is taken before
    /// it returns).
    pub async fn wake(&mut self, cancel: &CancellationToken) -> Wake {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Wake::Cancelled,
            Some(p) = self.inbox.recv() => Wake::Pushed(p),
            _ = tokio::time::sleep_until(self.next_sweep) => Wake::Sweep,
        }
    }

    /// Does what `wake` asked: the batch to dispatch, if any.
    pub async fn take(&mut self, wake: Wake) -> Result<Option<Batch>> {
        self.mark_done().await;
        match wake {
            Wake::Pushed(p) => Ok(self.pushed(p).await),
            Wake::Sweep => Ok(self.sweep().await),
            Wake::Cancelled => Ok(None),
        }
    }

    /// The mark to write with `ack`'s work.
    pub fn prepare_ack(&self, ack: Ack) -> Option<Checkpoint> {
        ack.message_id.map(Checkpoint::push_mark)
    }

    /// `ack`'s work is written: its messages' claims are done.
    pub fn complete_ack(&mut self, ack: Ack) {
        while self.handed.front().is_some_and(|(seq, _)| *seq <= ack.seq) {
            if let Some((_, ids)) = self.handed.pop_front() {
                self.done.extend(ids);
            }
        }
        self.mark = self.mark.max(ack.message_id);
    }

    /// A pushed message, unless it is handled (or being handled) already.
    async fn pushed(&mut self, p: Pushed) -> Option<Batch> {
        if !self.claim(p.message_id).await {
            self.answers.close(self.opts.realm, p.message_id);
            return None;
        }
        let len = p.event.len() as u32;
        Some(self.batch(p.event, vec![(0, len)], vec![p.message_id], Origin::Push))
    }

    /// Claims message `id` for this process: `false` when it was handled, or another
    /// live process (or this one) is handling it.
    async fn claim(&mut self, id: i64) -> bool {
        if self.recent.contains(id) {
            self.stats.duplicates += 1;
            return false;
        }
        let key = claim_key(&self.opts.connection, id);
        let claim = self
            .store
            .claim_effect(self.opts.pipeline, CLAIMS, &key, &self.opts.owner)
            .await;
        match claim {
            Ok(Claim::Ours) => {}
            Ok(Claim::Done | Claim::Busy) => {
                self.stats.duplicates += 1;
                return false;
            }
            // At least once: the side effects' own claims still hold.
            Err(e) => {
                tracing::warn!(error = %e, message_id = id, "cannot claim a pushed message in the store; handling it")
            }
        }
        self.recent.insert(id);
        true
    }

    fn batch(
        &mut self,
        text: String,
        spans: Vec<(u32, u32)>,
        ids: Vec<i64>,
        origin: Origin,
    ) -> Batch {
        self.seq += 1;
        let ack = Ack {
            seq: self.seq,
            generation: 0,
            event_id: None,
            message_id: ids.iter().copied().max(),
        };
        self.stats.batches += 1;
        self.stats.events += spans.len() as u64;
        self.handed.push_back((self.seq, ids));
        Batch::new(text, spans, ack, origin)
    }

    /// Marks the claims of acknowledged batches done (one transaction for all of them).
    async fn mark_done(&mut self) {
        if self.done.is_empty() {
            return;
        }
        let keys: Vec<String> = std::mem::take(&mut self.done)
            .into_iter()
            .map(|id| claim_key(&self.opts.connection, id))
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let o = &self.opts;
        if let Err(e) = self
            .store
            .effects_done(o.pipeline, CLAIMS, &keys, &o.owner)
            .await
        {
            tracing::debug!(error = %e, messages = keys.len(), "cannot mark pushed messages handled (their claims are taken over if this process dies)");
        }
    }

    /// Fetches the messages that would have been pushed since the mark (a little
    /// before it too): the batch of the ones nobody handled, if any.
    async fn sweep(&mut self) -> Option<Batch> {
        self.next_sweep = tokio::time::Instant::now() + self.opts.sweep_every;
        let first = !self.swept;
        let mark = self.read_mark().await?;
        let found = match self.missed(mark, first).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(realm = self.opts.realm, error = %e, "cannot look for messages that were not pushed; trying again at the next sweep");
                return None;
            }
        };
        let (mut text, mut spans, mut ids) = (String::new(), Vec::new(), Vec::new());
        for (id, message) in found {
            if !self.claim(id).await {
                continue;
            }
            let start = text.len() as u32;
            crate::event::push_message_event(&mut text, message.get(), "[]");
            spans.push((start, text.len() as u32));
            text.push('\n');
            ids.push(id);
        }
        if ids.is_empty() {
            return None;
        }
        tracing::info!(
            realm = self.opts.realm,
            messages = ids.len(),
            "handling messages that were not pushed (the listener was down, or Zulip could not reach it)"
        );
        self.stats.backfilled += ids.len() as u64;
        Some(self.batch(text, spans, ids, Origin::Backfill))
    }

    /// The mark: read from the store by the first sweep; on the very first start of
    /// the realm, the newest message that would be pushed now (history before the
    /// listener existed is not handled), written at once, and nothing to sweep yet.
    /// `None` also when the store or Zulip cannot say (the next sweep tries again).
    async fn read_mark(&mut self) -> Option<i64> {
        if self.swept {
            return self.mark;
        }
        let stored = match self.store.load_checkpoint(&self.opts.connection).await {
            Ok(cp) => cp.and_then(|cp| cp.last_message_id),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the push realm's mark; sweeping at the next sweep");
                return None;
            }
        };
        if stored.is_some() {
            self.swept = true;
            self.mark = self.mark.max(stored);
            return self.mark;
        }
        let mut newest = 0;
        for narrow in narrows() {
            match self.client.newest_message_id(&narrow).await {
                Ok(id) => newest = newest.max(id.unwrap_or(0)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the newest message; sweeping at the next sweep");
                    return None;
                }
            }
        }
        if let Err(e) = self
            .store
            .save_push_mark(&self.opts.connection, newest)
            .await
        {
            tracing::warn!(error = %e, "cannot write the push realm's first mark");
        }
        self.swept = true;
        self.mark = Some(newest);
        None
    }

    /// The messages after `mark` (and the last few before it) that Zulip pushes: the
    /// bot mentioned by name (not a wildcard), or a direct message to it, not its own;
    /// oldest first. The `first` sweep takes the youngest too.
    async fn missed(&mut self, mark: i64, first: bool) -> Result<Vec<(i64, Box<RawValue>)>> {
        let young = if first {
            i64::MAX
        } else {
            crate::clock::now_secs() - GRACE_SECS
        };
        let mut found = Vec::new();
        for (i, narrow) in narrows().iter().enumerate() {
            let (mut anchor, mut before) = (mark, LOOK_BACK);
            loop {
                let page = self
                    .client
                    .get_messages_around(anchor, (before, PAGE), narrow)
                    .await?;
                let last = page.ids.iter().copied().max().unwrap_or(anchor);
                let found_newest = page.found_newest;
                for (raw, id) in page.messages.into_iter().zip(page.ids) {
                    let m: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                    if m["sender_id"].as_i64() == Some(self.opts.own_user_id)
                        || m["timestamp"].as_i64().unwrap_or(0) > young
                        || (i == 0 && !has_flag(&m, "mentioned"))
                        || self.recent.contains(id)
                    {
                        continue;
                    }
                    found.push((id, raw));
                }
                if found_newest || last <= anchor {
                    break;
                }
                (anchor, before) = (last, 0);
            }
        }
        found.sort_by_key(|(id, _)| *id);
        found.dedup_by_key(|(id, _)| *id);
        Ok(found)
    }
}

/// The narrows of what Zulip pushes: mentions, and direct messages.
fn narrows() -> [Vec<NarrowTerm>; 2] {
    let is = |what: &str| {
        vec![NarrowTerm {
            operator: "is".into(),
            operand: Value::String(what.into()),
        }]
    };
    // `is:private` is the name every server knows (`is:dm` since feature level 177).
    [is("mentioned"), is("private")]
}

fn has_flag(m: &Value, flag: &str) -> bool {
    m["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == flag))
}

/// A message's claim: per connection (a process running only some listeners handles
/// messages for those).
fn claim_key(connection: &str, id: i64) -> String {
    format!("{connection}/m{id}")
}

/// The message ids this process handled last (a bounded set).
#[derive(Debug, Default)]
struct Recent {
    set: HashSet<i64>,
    order: VecDeque<i64>,
}

impl Recent {
    fn contains(&self, id: i64) -> bool {
        self.set.contains(&id)
    }

    fn insert(&mut self, id: i64) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > RECENT
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}
