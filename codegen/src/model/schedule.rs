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

/// A listener's step in a conversation (a channel's topic, or a direct message's
/// people): the state it requires, the state it leaves, what it remembers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationStep {
    /// `in_state`: it runs only in a conversation in this state.
    pub in_state: Option<Sp<String>>,
    /// `next_state`: the state it leaves the conversation in (`"end"`: over).
    pub next_state: Option<Sp<String>>,
    /// `remember`: name and template of each value it keeps in the conversation.
    pub remember: Vec<(Sp<String>, super::Template)>,
}

impl ConversationStep {
    /// Whether it takes any part in a conversation (besides reading one).
    pub fn is_some(&self) -> bool {
        self.in_state.is_some() || self.next_state.is_some() || !self.remember.is_empty()
    }
}
