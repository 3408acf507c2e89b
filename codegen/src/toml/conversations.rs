//! A listener's step in a conversation (`in_state`, `next_state`, `remember`) and the
//! pipeline's `conversation_timeout`.

use toml::de::{DeTable, DeValue};

use super::walker::{Walker, get, type_name};
use crate::model::*;

impl Walker {
    /// `in_state`, `next_state` and `remember` of a listener.
    pub(super) fn conversation_step(&mut self, t: &DeTable<'_>) -> ConversationStep {
        let state = |w: &mut Walker, key: &str| {
            let s = w.string(t, key)?;
            let ok = s
                .value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                && s.value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                w.d.error(
                    s.span.clone(),
                    format!("a conversation's state is a lowercase word (`severity`, `asked_owner`), not {:?}", s.value),
                );
            }
            Some(s)
        };
        let in_state = state(self, "in_state");
        let next_state = state(self, "next_state");
        if let Some(s) = in_state
            .as_ref()
            .filter(|s| s.value == crate::check::END_STATE)
        {
            self.d.error(
                s.span.clone(),
                "`end` is no state to be in: a conversation that ends is over",
            );
        }
        ConversationStep {
            in_state,
            next_state,
            remember: self.remember(t),
        }
    }

    /// `remember = "name"` (the message's text) or `remember = { name = "template" }`.
    fn remember(&mut self, t: &DeTable<'_>) -> Vec<(Sp<String>, Template)> {
        let Some(v) = get(t, "remember") else {
            return Vec::new();
        };
        let pairs: Vec<(Sp<String>, Sp<String>)> = match v.get_ref() {
            DeValue::String(name) => {
                let text = Sp::new("{{message.content}}".to_owned(), v.span());
                vec![(Sp::new(name.to_string(), v.span()), text)]
            }
            DeValue::Table(m) => m
                .iter()
                .filter_map(|(k, tv)| match tv.get_ref() {
                    DeValue::String(s) => Some((
                        Sp::new(k.get_ref().to_string(), k.span()),
                        Sp::new(s.to_string(), tv.span()),
                    )),
                    other => {
                        let msg = format!(
                            "a remembered value is a template (a string), not {}",
                            type_name(other)
                        );
                        self.d.error(tv.span(), msg);
                        None
                    }
                })
                .collect(),
            other => {
                let msg = format!(
                    "`remember` is a name (the message's text is kept under it) or a table of name = template, not {}",
                    type_name(other)
                );
                self.d.error(v.span(), msg);
                Vec::new()
            }
        };
        pairs
            .into_iter()
            .map(|(name, text)| {
                let ok = name.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.value.is_empty();
                if !ok || name.value == "state" {
                    self.d.error(
                        name.span.clone(),
                        format!("`{}` cannot be remembered: a name of letters, digits and `_`, not `state`", name.value),
                    );
                }
                let template = self.template(text);
                (name, template)
            })
            .collect()
    }
}
