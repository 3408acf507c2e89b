//! # zlc-runtime
//!
//! What every zlc listener binary links. It sits at the start of the data path: it
//! talks to Zulip, turns its event stream into batches of typed events, keeps the place
//! in that stream across crashes and expiries, and records it in SQL.
//!
//! | module | role |
//! | --- | --- |
//! | [`event`] | typed Zulip events, parsed lazily and without copying where it pays |
//! | [`config`] | credentials from flags, `ZULIP_*` variables and zuliprc; [`config::Secret`] |
//! | [`client`] | the REST client and the one place errors are classified |
//! | [`source`] | event sources: the Zulip event queue (with recovery) and replay files |
//! | [`backoff`] | exponential backoff with full jitter; the circuit breaker |
//! | [`retry`] | what a connection does after a failed request (one policy for every request) |
//! | [`store`] | the SQL store (SQLite or PostgreSQL): checkpoints, gaps |
//! | [`pipeline`] | static descriptions of a compiled pipeline |
//! | [`jobs`] | from a batch to what listeners do: dispatch, the engine, the scheduler and executor (concurrency, de-duplication, retries, breakers), actions, the handler `Context`, the outbox, rate limits |
//! | [`harness`] | running listeners without a server (tests, `zlc test`) |
//! | [`pipetest`] | a pipeline file's `[[test]]` cases, run for `zlc test` |
//! | [`figures`] | a listener's figures and the one way they are shown (tables, lines, JSON) |
//! | [`overview`] | what the store says about a pipeline (`stats`) |
//! | [`markup`] | the one way user text goes into a Zulip message |
//! | [`logging`] | text (escaped) or JSON logs, colour only on a terminal |
//! | [`net`] | outbound HTTP to pipeline URLs: the SSRF guard at connect time |
//! | [`stats`] | statistics in memory, flushed in batches |
//! | [`template`] | rendering `{{field}}` templates |
//! | [`app`] | the command line of generated binaries: the supervisor, each connection's loop, the management commands |
//! | [`shutdown`] | SIGINT/SIGTERM handling |
//! | [`codegen`] | the one module generated code uses |
//! | [`testkit`] | (feature `testkit`) a fake Zulip server with fault injection |
//!
//! Errors are one enum, [`Error`], which knows whether a failure is retryable.

pub mod app;
pub mod backoff;
pub mod client;
pub mod clock;
#[doc(hidden)]
pub mod codegen;
pub mod command;
pub mod config;
pub mod conversation;
pub mod error;
pub mod event;
pub mod figures;
pub mod harness;
pub mod jobs;
pub mod logging;
pub mod markup;
pub mod metrics;
pub mod net;
pub mod overview;
pub mod people;
pub mod pipeline;
pub mod pipetest;
pub mod push;
#[cfg(test)]
mod random_json;
pub mod retry;
pub mod schedule;
pub mod shutdown;
pub mod source;
pub mod stats;
pub mod store;
mod swar;
pub mod template;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod threads;
pub mod typed;

pub use codegen::Pipeline;
pub use error::{Error, EventError, Result};
pub use event::{Event, Message, MessageEvent};
pub use jobs::handler::{Context, Permanent, permanent};
pub use typed::{CommandArg, Rest};

/// `#[listener]`, `#[command]`, `#[schedule]`, `#[derive(Choice)]`, `pipeline!` and `main!` (feature
/// `macros`): see the README's "Listeners in Rust".
#[cfg(feature = "macros")]
pub use zlc_macros::{Choice, command, listener, main, pipeline, schedule};
