//! What generated code may touch, and nothing else. Generated crates use only
//! `::zlc_runtime::codegen::*`, so the runtime's internals can change freely.

#[doc(hidden)]
pub use crate::app::{DispatchFn, main};
/// Commands, as `const COMMANDS` declares them.
pub use crate::command::{
    Allowed, ArgKind, ArgSpec, CommandSpec, Commands, answers_command, runs_command,
};
#[doc(hidden)]
pub use crate::event::Event;
#[doc(hidden)]
pub use crate::event::{MessageViewEvent, RawEvent};
#[doc(hidden)]
pub use crate::jobs::dispatch::Cx;
#[doc(hidden)]
pub use crate::jobs::engine::{Code, Pipeline};
#[doc(hidden)]
pub use crate::jobs::handler::{
    Context, HandlerError, HandlerFn, HandlerFuture, HandlerResult, HandlerTable,
};
#[doc(hidden)]
pub use crate::pipeline::*;
#[doc(hidden)]
pub use crate::template::{Field, Seg};
#[doc(hidden)]
pub use crate::typed::{
    ArgShape, CommandArg, collect_commands, collect_schedules, command_index, commands, count_some,
    help_listener, kind_of, names_distinct,
};
#[doc(hidden)]
pub use regex::Regex;
#[doc(hidden)]
pub use std::sync::LazyLock;

/// Whether `actual` is the name `lower` (already lowercased) as Zulip compares channel
/// names, topics and emails: without regard to case.
#[doc(hidden)]
#[inline]
pub fn same_name(actual: &str, lower: &str) -> bool {
    if lower.is_ascii() {
        actual.eq_ignore_ascii_case(lower)
    } else {
        actual
            .chars()
            .flat_map(char::to_lowercase)
            .eq(lower.chars())
    }
}

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

impl Pipeline {
    /// The binary's `main`: its command line (`run`, `list`, `check`, `config`, ...).
    /// `fn main() -> std::process::ExitCode { my_bot::PIPELINE.main() }`
    pub fn main(&self) -> std::process::ExitCode {
        main(self.desc, self.dispatch, self.handlers)
    }
}

/// The `main` of a binary made with `main!`.
#[doc(hidden)]
pub fn run(p: &Pipeline) -> std::process::ExitCode {
    main(p.desc, p.dispatch, p.handlers)
}

/// The event a handler was called for, parsed (generated thunks call this).
#[doc(hidden)]
pub fn event_of<'a>(cx: &'a Context<'a>) -> Result<(RawEvent<'a>, Event<'a>), HandlerError> {
    let permanent = |e: crate::error::EventError| HandlerError {
        message: e.to_string(),
        retryable: false,
    };
    let raw = RawEvent::new(cx.event_json()).map_err(permanent)?;
    let ev = raw.parse().map_err(permanent)?;
    Ok((raw, ev))
}

/// Whether every realm of `wanted` is in `declared` (`pipeline!` asserts it at compile
/// time for each listener).
#[doc(hidden)]
pub const fn realms_declared(declared: &[u32], wanted: Option<&[u32]>) -> bool {
    let Some(wanted) = wanted else {
        return true;
    };
    let mut i = 0;
    while i < wanted.len() {
        let mut found = false;
        let mut j = 0;
        while j < declared.len() {
            if declared[j] == wanted[i] {
                found = true;
            }
            j += 1;
        }
        if !found {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::same_name;

    #[test]
    fn names_compare_as_zulip_compares_them() {
        assert!(same_name("Outage", "outage"));
        assert!(same_name("DEVEL", "devel"));
        assert!(!same_name("devel2", "devel"));
        assert!(same_name("Ärger", "ärger"));
        assert!(same_name("ÄRGER", "ärger"));
        assert!(!same_name("Ärgern", "ärger"));
    }
}
