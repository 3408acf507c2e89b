//! `[[schedule]]`: actions that run at times of day instead of on events. A schedule
//! is a listener without events (its actions, policies and statistics are a
//! listener's) that carries when it ticks.

use zlc_catalog::schedule::When;

use super::Sp;

/// When a schedule ticks and what its ticks know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// `every` or `cron`, as written: (`"every"` or `"cron"`, the text).
    pub written: (&'static str, Sp<String>),
    /// What it says.
    pub when: When,
    /// IANA time zone name (default `UTC`).
    pub timezone: String,
    /// After downtime, the last missed tick runs once, late (`catch_up = "once"`);
    /// otherwise it is skipped.
    pub catch_up: bool,
    /// The listener whose `count` statistics `digest.*` fields read.
    pub digest_of: Option<Sp<String>>,
}
