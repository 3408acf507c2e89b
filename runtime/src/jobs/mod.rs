//! The jobs layer: everything between a batch of events and what the listeners do
//! about it. [`dispatch`] runs the generated dispatch functions and turns matches into
//! jobs; [`engine`] runs one batch (dispatch, then the jobs); the scheduler and executor
//! run each job (below); [`actions`] performs one action once; [`handler`] is the
//! `Context` a Rust listener gets; [`outbox`] says where effects go; [`limit`] holds the
//! rate limits on posts. It imports the store, sources' events and the static
//! descriptions below it, never `app/` above it.
//!
//! Running the I/O actions of matched events: bounded concurrency per listener, a
//! timeout per attempt, retries with exponential backoff and full jitter, and a circuit
//! breaker per listener. A job that fails for good is a dead letter in the event log.
//!
//! Side effects are de-duplicated: each (realm, message or event id, action) is recorded
//! once done, so an event delivered again after a crash does not reply twice. Only what
//! was really done is recorded: a replay, which only logs its Zulip actions, records
//! none of them. What a listener posts to Zulip is rate limited ([`crate::jobs::limit`]).
//!
//! A handler (a Rust function, [`crate::jobs::handler`]) is one action: its function is
//! retried like any action, and its posts, performed after it returns `Ok`, are each
//! de-duplicated, rate limited and retried like a built-in post. Performing an action
//! once is [`crate::jobs::actions`]'s job; the retry policy and the breaker around each attempt are
//! `policy`'s (pure state machines); the executor (`executor`) does the waiting.

pub mod actions;
pub mod dispatch;
pub mod engine;
mod executor;
mod fleet_limits;
mod follow;
pub mod handler;
pub mod limit;
mod messages;
pub mod outbox;
mod policy;
mod scheduler;
mod setup;
pub mod steps;
pub mod ticks;

pub use executor::Executor;
pub use scheduler::{Finished, Scheduler};
pub use setup::webhook_tokens;
