//! End-to-end tests of the `zlc` binary, run as a process against the fake Zulip server.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod compile;
mod stats;
mod tail;
mod testing;
