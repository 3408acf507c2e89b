//! What every source hands out and takes back: batches of raw events, their
//! acknowledgements, the counters a source keeps, and where a queue stands.

use crate::error::EventError;
use crate::event::RawEvent;

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
    /// Pushed by Zulip (an outgoing webhook).
    Push,
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
