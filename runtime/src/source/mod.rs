//! Event sources: where batches of raw events come from.
//!
//! A source hands out [`Batch`]es — JSON text plus the span of each event in it, so that
//! parsing can borrow from the text — and takes back [`Ack`]s. Acknowledging a batch
//! says "every event up to and including this batch is finished"; acks are cumulative
//! and given in order. The queue source sends only acknowledged event ids to Zulip and
//! persists them as the checkpoint, so a crash re-delivers unfinished events instead of
//! losing them (at-least-once).
//!
//! * [`queue`]: Zulip's event queue (`POST /register`, long-poll `GET /events`), with
//!   recovery from expiry, rate limits and outages.
//! * [`replay`]: a JSONL file (optionally gzipped) of recorded events.
//! * [`push`]: the messages Zulip pushes to an outgoing-webhook bot, and the ones it
//!   missed, fetched by sweeps.

mod batch;
pub mod push;
pub mod queue;
pub mod replay;

use crate::error::Result;
use tokio_util::sync::CancellationToken;

pub use batch::{Ack, Batch, Origin, QueueState, SourceStats, StateReport};
pub use push::{PushOptions, PushSource};
pub use queue::{QueueOptions, QueueSource};
pub use replay::ReplaySource;

/// An acknowledgement worked out but not applied.
#[derive(Debug, Clone)]
pub enum PreparedAck {
    /// A queue's: a checkpoint to persist, maybe.
    Queue(queue::PreparedAck),
    /// A replay's.
    Replay(Ack),
    /// A push realm's: its mark, maybe.
    Push(Ack, Option<crate::store::Checkpoint>),
}

impl PreparedAck {
    /// The checkpoint to persist with it, if it changes one.
    pub fn checkpoint(&self) -> Option<&crate::store::Checkpoint> {
        match self {
            PreparedAck::Queue(p) => p.checkpoint.as_ref(),
            PreparedAck::Replay(_) => None,
            PreparedAck::Push(_, mark) => mark.as_ref(),
        }
    }
}

/// Any source, behind one non-generic type (generated binaries call this, not generics).
#[derive(Debug)]
pub enum Source {
    /// A Zulip event queue.
    Queue(Box<QueueSource>),
    /// A replay file.
    Replay(ReplaySource),
    /// Zulip's pushes (outgoing webhooks).
    Push(Box<PushSource>),
}

impl Source {
    /// The next batch, or `None` at the end of a replay or when `cancel` fires.
    pub async fn next_batch(&mut self, cancel: &CancellationToken) -> Result<Option<Batch>> {
        match self {
            Source::Queue(q) => q.next_batch(cancel).await,
            Source::Replay(r) => {
                if cancel.is_cancelled() {
                    return Ok(None);
                }
                r.next_batch()
            }
            Source::Push(p) => loop {
                match p.wake(cancel).await {
                    push::Wake::Cancelled => return Ok(None),
                    wake => {
                        if let Some(b) = p.take(wake).await? {
                            return Ok(Some(b));
                        }
                    }
                }
            },
        }
    }

    /// Works out acknowledging `ack` (and every batch before it) without applying it:
    /// its checkpoint, if any, is to be persisted before [`Source::complete_ack`].
    pub fn prepare_ack(&self, ack: Ack) -> PreparedAck {
        match self {
            Source::Queue(q) => PreparedAck::Queue(q.prepare_ack(ack)),
            Source::Replay(_) => PreparedAck::Replay(ack),
            Source::Push(p) => PreparedAck::Push(ack, p.prepare_ack(ack)),
        }
    }

    /// Applies a prepared acknowledgement.
    pub fn complete_ack(&mut self, prepared: PreparedAck) {
        match (self, prepared) {
            (Source::Queue(q), PreparedAck::Queue(p)) => q.complete_ack(p),
            (Source::Replay(r), PreparedAck::Replay(ack)) => r.ack(ack),
            (Source::Push(p), PreparedAck::Push(ack, _)) => p.complete_ack(ack),
            _ => {}
        }
    }

    /// Whether the next batch comes from a new long poll of a queue, which carries the
    /// acknowledgement written so far ([`QueueSource::will_poll`]).
    pub fn will_poll(&self) -> bool {
        match self {
            Source::Queue(q) => q.will_poll(),
            Source::Replay(_) | Source::Push(_) => false,
        }
    }

    /// The checkpoint key of this source, for sources that keep one.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Source::Queue(q) => Some(q.connection()),
            Source::Push(p) => Some(p.connection()),
            Source::Replay(_) => None,
        }
    }

    /// Acknowledges a batch and every batch before it.
    pub async fn ack(&mut self, ack: Ack) -> Result<()> {
        match self {
            Source::Queue(q) => q.ack(ack).await,
            Source::Replay(r) => {
                r.ack(ack);
                Ok(())
            }
            Source::Push(p) => {
                p.complete_ack(ack);
                Ok(())
            }
        }
    }

    /// The source's counters.
    pub fn stats(&self) -> &SourceStats {
        match self {
            Source::Queue(q) => q.stats(),
            Source::Replay(r) => r.stats(),
            Source::Push(p) => p.stats(),
        }
    }
}
