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

mod backfill;
mod chunk;
mod source;

pub use source::{PreparedAck, QueueOptions, QueueSource};
