//! The `zlc` command's library half: the compiler commands, shared with the
//! end-to-end tests (`tests/`, package `zlc-e2e`), which build pipelines the way
//! `zlc build` does.

pub mod area;
pub mod compile;
mod fnv;
pub mod project;
pub mod schema;
pub mod sources;
pub mod testing;
pub mod watch;
