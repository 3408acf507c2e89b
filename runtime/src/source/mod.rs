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

pub mod queue;
pub mod replay;
#[doc(hidden)]
pub mod stream;

use crate::error::{EventError, Result};
use crate::event::RawEvent;
use tokio_util::sync::CancellationToken;

pub use queue::{QueueOptions, QueueSource};
pub use replay::ReplaySource;

/// Where a connection's event queue stands (for `/readyz` and the service manager).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Connecting, or registering a queue.
    Connecting,
    /// A queue is registered (or resumed) and polled.
    Polling,
    /// Requests fail; waiting to try again.
    Failing,
}

/// What a queue source calls each time it tells where it stands (the metrics, the
/// service manager's status): a handle it is given, so that a source knows nothing of
/// who listens.
#[derive(Clone)]
pub struct StateReport(std::sync::Arc<dyn Fn(QueueState) + Send + Sync>);

impl StateReport {
    /// A report that calls `f`.
    pub fn new(f: impl Fn(QueueState) + Send + Sync + 'static) -> Self {
        StateReport(std::sync::Arc::new(f))
    }

    /// Says where the queue stands.
    pub fn say(&self, state: QueueState) {
        (self.0)(state);
    }
}

impl std::fmt::Debug for StateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateReport")
    }
}

/// Where a batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Delivered by the event queue.
    Queue,
    /// Recovered with `GET /messages` after the queue expired.
    Backfill,
    /// Read from a replay file.
    Replay,
}

/// The token that acknowledges a batch (and every batch before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub(crate) seq: u64,
    pub(crate) generation: u64,
    pub(crate) event_id: Option<i64>,
    pub(crate) message_id: Option<i64>,
}

impl Ack {
    /// The highest queue event id this acknowledges, if it came from a queue.
    pub fn event_id(&self) -> Option<i64> {
        self.event_id
    }

    /// The highest message id in the batch, if any.
    pub fn message_id(&self) -> Option<i64> {
        self.message_id
    }

    /// One acknowledgement for this batch and the `later` one (and all between).
    pub fn then(self, later: Ack) -> Ack {
        let event_id = if later.generation == self.generation {
            later.event_id.max(self.event_id)
        } else {
            later.event_id
        };
        Ack {
            event_id,
            message_id: self.message_id.max(later.message_id),
            ..later
        }
    }
}

/// A batch of raw events sharing one text buffer.
#[derive(Debug)]
pub struct Batch {
    text: String,
    spans: Vec<(u32, u32)>,
    ack: Ack,
    origin: Origin,
    /// The event queue its events came from (`None`: a backfill or a replay).
    queue: Option<std::sync::Arc<str>>,
}

impl Batch {
    pub(crate) fn new(text: String, spans: Vec<(u32, u32)>, ack: Ack, origin: Origin) -> Self {
        Batch {
            text,
            spans,
            ack,
            origin,
            queue: None,
        }
    }

    /// The same batch, from event queue `queue`.
    pub(crate) fn with_queue(mut self, queue: std::sync::Arc<str>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The event queue its events came from (`None`: a backfill or a replay); event
    /// ids are numbers within it.
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the batch has no events.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Where it came from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The token to pass to the source's `ack` once every event here is finished.
    pub fn ack(&self) -> Ack {
        self.ack
    }

    /// The JSON text of each event.
    pub fn json(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.spans
            .iter()
            .map(|&(a, b)| &self.text[a as usize..b as usize])
    }

    /// Each event with its head read; malformed ones as errors, in order.
    pub fn events(
        &self,
    ) -> impl ExactSizeIterator<Item = std::result::Result<RawEvent<'_>, EventError>> + '_ {
        self.json().map(RawEvent::new)
    }
}

/// Counters every source keeps; logged and reported, never on the database path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Batches handed out.
    pub batches: u64,
    /// Events handed out.
    pub events: u64,
    /// Heartbeats absorbed.
    pub heartbeats: u64,
    /// Events the server sent again because they were not yet acknowledged, dropped.
    pub resent: u64,
    /// Message events dropped because a backfill had delivered them.
    pub duplicates: u64,
    /// Messages recovered with `GET /messages`.
    pub backfilled: u64,
    /// Queues registered (the first one included).
    pub registrations: u64,
    /// Queues found expired.
    pub queues_lost: u64,
    /// Waits after transient failures.
    pub retries: u64,
    /// Waits after rate limits.
    pub rate_limited: u64,
    /// Events that could not be read, skipped.
    pub malformed: u64,
}

/// An acknowledgement worked out but not applied.
#[derive(Debug, Clone)]
pub enum PreparedAck {
    /// A queue's: a checkpoint to persist, maybe.
    Queue(queue::PreparedAck),
    /// A replay's.
    Replay(Ack),
}

impl PreparedAck {
    /// The checkpoint to persist with it, if it changes one.
    pub fn checkpoint(&self) -> Option<&crate::store::Checkpoint> {
        match self {
            PreparedAck::Queue(p) => p.checkpoint.as_ref(),
            PreparedAck::Replay(_) => None,
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
        }
    }

    /// Works out acknowledging `ack` (and every batch before it) without applying it:
    /// its checkpoint, if any, is to be persisted before [`Source::complete_ack`].
    pub fn prepare_ack(&self, ack: Ack) -> PreparedAck {
        match self {
            Source::Queue(q) => PreparedAck::Queue(q.prepare_ack(ack)),
            Source::Replay(_) => PreparedAck::Replay(ack),
        }
    }

    /// Applies a prepared acknowledgement.
    pub fn complete_ack(&mut self, prepared: PreparedAck) {
        match (self, prepared) {
            (Source::Queue(q), PreparedAck::Queue(p)) => q.complete_ack(p),
            (Source::Replay(r), PreparedAck::Replay(ack)) => r.ack(ack),
            _ => {}
        }
    }

    /// Whether the next batch comes from a new long poll of a queue, which carries the
    /// acknowledgement written so far ([`QueueSource::will_poll`]).
    pub fn will_poll(&self) -> bool {
        match self {
            Source::Queue(q) => q.will_poll(),
            Source::Replay(_) => false,
        }
    }

    /// The checkpoint key of this source, for sources that keep one.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Source::Queue(q) => Some(q.connection()),
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
        }
    }

    /// The source's counters.
    pub fn stats(&self) -> &SourceStats {
        match self {
            Source::Queue(q) => q.stats(),
            Source::Replay(r) => r.stats(),
        }
    }
}
