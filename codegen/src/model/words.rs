//! The vocabulary's small words: narrow terms, durations, emoji names, and the
//! [`Problem`] every parser of a value reports.

use super::{RateLimit, keys};

/// Operators an event queue's narrow takes (Zulip refuses the others for queues).
pub const NARROW_OPERATORS: &[&str] = &["channel", "stream", "topic", "sender", "is"];

/// Operands of `is:` an event queue's narrow takes.
pub const NARROW_IS: &[&str] = &[
    "dm",
    "private",
    "mentioned",
    "alerted",
    "starred",
    "unread",
    "resolved",
];

/// Reads one term of a realm's `narrow`, written `operator:operand` as in Zulip's search
/// box (`channel:alerts`, `is:dm`, `sender:ops@example.com`), into its parts; or says
/// what is wrong with it.
pub fn parse_narrow_term(term: &str) -> Result<(String, String), String> {
    let term = term.trim();
    let Some((op, operand)) = term.split_once(':') else {
        return Err(format!(
            "narrow term {term:?} must be written OPERATOR:OPERAND, e.g. \"channel:alerts\" or \"is:dm\""
        ));
    };
    let (op, operand) = (op.trim(), operand.trim());
    if op.starts_with('-') {
        return Err(format!(
            "an event queue's narrow cannot exclude (`{op}:`): Zulip refuses negated terms there; \
             leave the messages out with the listeners' filters instead"
        ));
    }
    if !NARROW_OPERATORS.contains(&op) {
        return Err(format!(
            "unknown narrow operator `{op}`; an event queue's narrow takes {}",
            NARROW_OPERATORS.join(", ")
        ));
    }
    if operand.is_empty() {
        return Err(format!("narrow term {term:?} has no operand after `{op}:`"));
    }
    if op == "is" && !NARROW_IS.contains(&operand) {
        return Err(format!(
            "`is:{operand}` cannot narrow an event queue; `is:` takes {}",
            NARROW_IS.join(", ")
        ));
    }
    Ok((op.to_owned(), operand.to_owned()))
}

/// A wrong value, as the vocabulary's parsers report it; the front end says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong (lowercase, no trailing period).
    pub message: String,
    /// What would be right, if it can be said.
    pub help: Option<String>,
}

impl Problem {
    /// A problem without help.
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            help: None,
        }
    }

    /// Adds what would be right.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// `unknown key `realm` in [[listener]]; did you mean `realms`?`, with the valid keys.
pub fn unknown_key(key: &str, allowed: &[&str], what: &str) -> Problem {
    let message = match crate::diag::suggest(key, allowed.iter().copied()) {
        Some(s) => format!("unknown key `{key}` in {what}; did you mean `{s}`?"),
        None => format!("unknown key `{key}` in {what}"),
    };
    Problem::new(message).help(format!("valid keys: {}", allowed.join(", ")))
}

/// An unknown action type, with a suggestion and the valid ones.
pub fn unknown_action_type(kind: &str) -> Problem {
    let message = match crate::diag::suggest(kind, keys::ACTION_TYPES.iter().copied()) {
        Some(s) => format!("unknown action type `{kind}`; did you mean `{s}`?"),
        None => format!("unknown action type `{kind}`"),
    };
    Problem::new(message).help(format!("one of: {}", keys::ACTION_TYPES.join(", ")))
}

/// Parses `"500ms"`, `"10s"`, `"5m"`, `"2h"`, `"1d"` into milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1,
        "s" | "sec" | "secs" => 1_000,
        "m" | "min" | "mins" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// What a duration must look like.
pub fn not_a_duration(key: &str) -> Problem {
    Problem::new(format!(
        "`{key}` must be a duration such as \"500ms\", \"10s\", \"5m\" or \"1h\""
    ))
}

/// An emoji name as Zulip wants it (`:tada:` → `tada`).
pub fn emoji_name(text: &str) -> String {
    text.trim_matches(':').to_owned()
}

/// What a rate limit must look like.
pub fn not_a_rate_limit(key: &str, value: &str) -> Problem {
    Problem::new(format!(
        "`{key}` must be COUNT/DURATION or \"off\", not {value:?}"
    ))
    .help("e.g. \"20/1m\" (at most 20 a minute), \"5/10s\" or \"off\"")
}

impl RateLimit {
    /// No limit.
    pub const OFF: RateLimit = RateLimit { max: 0, per_ms: 0 };

    /// Parses `"20/1m"`, `"5/10s"`, `"100/h"` or `"off"`.
    pub fn parse(s: &str) -> Option<RateLimit> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Some(RateLimit::OFF);
        }
        let (n, per) = s.split_once('/')?;
        let max: u32 = n.trim().parse().ok()?;
        let per = per.trim();
        let per_ms = if per.starts_with(|c: char| c.is_ascii_digit()) {
            parse_duration_ms(per)?
        } else {
            parse_duration_ms(&format!("1{per}"))?
        };
        (max > 0 && per_ms > 0).then_some(RateLimit { max, per_ms })
    }
}
