//! Running the I/O actions of matched events: bounded concurrency per listener, a
//! timeout per attempt, retries with exponential backoff and full jitter, and a circuit
//! breaker per listener. A job that fails for good is a dead letter in the event log.
//!
//! Side effects are de-duplicated: each (realm, message or event id, action) is recorded
//! once done, so an event delivered again after a crash does not reply twice. Only what
//! was really done is recorded: a replay, which only logs its Zulip actions, records
//! none of them. What a listener posts to Zulip is rate limited ([`crate::limit`]).
//!
//! A handler (a Rust function, [`crate::handler`]) is one action: its function is
//! retried like any action, and its posts, performed after it returns `Ok`, are each
//! de-duplicated, rate limited and retried like a built-in post. Performing an action
//! once is [`crate::actions`]'s job; the retry policy and the breaker around each attempt are
//! `policy`'s (pure state machines); the executor (`executor`) does the waiting.

mod executor;
mod policy;
mod scheduler;

pub use executor::{Executor, webhook_tokens};
pub use scheduler::{Finished, Scheduler};
