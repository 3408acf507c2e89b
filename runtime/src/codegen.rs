//! What generated code may touch, and nothing else. Generated crates use only
//! `::zlc_runtime::codegen::*`, so the runtime's internals can change freely.

#[doc(hidden)]
pub use crate::app::{DispatchFn, main};
#[doc(hidden)]
pub use crate::dispatch::Cx;
#[doc(hidden)]
pub use crate::event::{MessageViewEvent, RawEvent};
#[doc(hidden)]
pub use crate::pipeline::*;
#[doc(hidden)]
pub use crate::template::{Field, Seg};
#[doc(hidden)]
pub use regex::Regex;
#[doc(hidden)]
pub use std::sync::LazyLock;

/// Compiles a regex the compiler already checked.
#[doc(hidden)]
pub fn regex(pattern: &str) -> Regex {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .unwrap_or_else(|e| {
            // Unreachable for generated code: `zlc check` compiled the same pattern.
            eprintln!("error: regex {pattern:?} does not compile: {e}");
            std::process::exit(2)
        })
}
