//! Checks of conversations across the pipeline: a state a listener requires is one
//! some listener moves a conversation to; `conversation.NAME` reads a value some
//! listener remembers (or `conversation.state`); only listeners of messages take part.

use crate::diag::{Diagnostics, suggest};
use crate::model::*;

/// The field prefix templates read a conversation with.
pub const FIELD: &str = "conversation.";

/// The `conversation.*` fields listener `l`'s templates read.
pub fn fields_read(l: &Listener) -> Vec<&Sp<String>> {
    (l.actions.iter())
        .flat_map(|a| super::templates(&a.value))
        .chain(l.step.remember.iter().map(|(_, t)| t))
        .flat_map(|t| &t.segments)
        .filter_map(|seg| match seg {
            Segment::Field(f) if f.value.starts_with(FIELD) => Some(f),
            _ => None,
        })
        .collect()
}

pub(super) fn check_conversations(p: &Pipeline, d: &mut Diagnostics) {
    let states: Vec<&str> = (p.listeners.iter())
        .filter_map(|l| l.step.next_state.as_ref().map(|s| s.value.as_str()))
        .filter(|s| *s != super::END_STATE)
        .collect();
    let remembered: Vec<&str> = (p.listeners.iter())
        .flat_map(|l| l.step.remember.iter().map(|(n, _)| n.value.as_str()))
        .collect();
    for l in &p.listeners {
        let reads = fields_read(l);
        let messages = l.command.is_some() || l.events.iter().any(|e| e.value.kind == "message");
        if (l.step.is_some() || !reads.is_empty()) && !messages {
            let span = reads
                .first()
                .map_or(l.name.span.clone(), |f| f.span.clone());
            d.error(
                span,
                format!("`{}` takes no messages: a conversation is a channel's topic or a direct message", l.name.value),
            );
            continue;
        }
        if let Some(want) = &l.step.in_state
            && want.value != super::END_STATE
            && !states.contains(&want.value.as_str())
        {
            let mut msg = format!(
                "no listener moves a conversation to `{}` (`next_state`)",
                want.value
            );
            if let Some(s) = suggest(&want.value, states.iter().copied()) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            d.error(want.span.clone(), msg);
        }
        for f in reads {
            let name = &f.value[FIELD.len()..];
            if name != "state" && !remembered.contains(&name) {
                let mut msg = format!("no listener remembers `{name}` (`remember`)");
                if let Some(s) = suggest(name, remembered.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{FIELD}{s}`?"));
                }
                d.error(f.span.clone(), msg);
            }
        }
    }
}
