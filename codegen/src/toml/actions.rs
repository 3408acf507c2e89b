//! `[[listener.action]]` tables: each action type's keys, read with their places.

use toml::de::{DeTable, DeValue};

use super::walker::{Walker, get, type_name};
use crate::diag::Span;
use crate::model::*;

impl Walker {
    pub(super) fn action(&mut self, t: &DeTable<'_>, span: Span) -> Option<Sp<Action>> {
        let Some(kind) = self.string(t, "type") else {
            if get(t, "type").is_none() {
                self.d
                    .error(span.clone(), "[[listener.action]] has no `type`")
                    .help = Some(format!("one of: {}", keys::ACTION_TYPES.join(", ")));
            }
            return None;
        };
        let Some(allowed) = keys::action(&kind.value) else {
            self.problem(kind.span, unknown_action_type(&kind.value));
            return None;
        };
        self.keys(t, allowed, &format!("a `{}` action", kind.value));
        let a = ActionTable {
            t,
            kind: &kind.value,
            span: &span,
        };
        let action = match kind.value.as_str() {
            "count" => self.count_action(t),
            "log" => Action::Log {
                template: self.string(t, "template").map(|s| self.template(s)),
            },
            "reply" => self.reply_action(&a)?,
            "react" => Action::React {
                emoji: emoji_name(&self.required(&a, "emoji")?.value),
            },
            "forward" => Action::Forward {
                channel: self.required(&a, "channel")?.value,
                topic: self.string(t, "topic").map(|s| self.template(s)),
            },
            "webhook" => self.webhook_action(&a)?,
            "handler" => Action::Handler {
                function: self.required(&a, "function")?.value,
                allow_private: self.boolean(t, "allow_private").is_some_and(|b| b.value),
            },
            _ => Action::Store,
        };
        Some(Sp::new(action, span))
    }

    /// The string `key` of action `a`, which it must have.
    fn required(&mut self, a: &ActionTable<'_, '_>, key: &str) -> Option<Sp<String>> {
        let v = self.string(a.t, key);
        if v.is_none() && get(a.t, key).is_none() {
            self.d.error(
                a.span.clone(),
                format!("a `{}` action needs `{key}`", a.kind),
            );
        }
        v
    }

    fn count_action(&mut self, t: &DeTable<'_>) -> Action {
        let by = self
            .strings(t, "by")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| match CountKey::parse(&k.value) {
                Ok(key) => Some(key),
                Err(p) => {
                    self.problem(k.span, p);
                    None
                }
            })
            .collect();
        Action::Count { by }
    }

    fn reply_action(&mut self, a: &ActionTable<'_, '_>) -> Option<Action> {
        let template = self.required(a, "template").map(|s| self.template(s));
        let to = match self.string(a.t, "to") {
            None => ReplyTo::Same,
            Some(s) => match ReplyTarget::parse(&s.value) {
                Ok(ReplyTarget::Same) => ReplyTo::Same,
                Ok(ReplyTarget::Sender) => ReplyTo::Sender,
                Ok(ReplyTarget::Channel) => {
                    let channel = self.required(a, "channel");
                    let topic = self.required(a, "topic").map(|s| self.template(s));
                    ReplyTo::Channel {
                        channel: channel?.value,
                        topic: topic?,
                    }
                }
                Err(p) => {
                    self.problem(s.span, p);
                    return None;
                }
            },
        };
        Some(Action::Reply {
            to,
            template: template?,
        })
    }

    fn webhook_action(&mut self, a: &ActionTable<'_, '_>) -> Option<Action> {
        let t = a.t;
        let url = self.required(a, "url");
        let body = match get(t, "body") {
            None => None,
            Some(v) => match v.get_ref() {
                DeValue::Table(b) => Some(self.webhook_body(b)),
                _ => {
                    self.wrong(v, "body", "a table of templated strings");
                    None
                }
            },
        };
        let url = url?;
        let allow_private = self.boolean(t, "allow_private").is_some_and(|b| b.value);
        if let Err((msg, help)) = crate::check::webhook_url(&url.value, allow_private) {
            self.d.error(url.span.clone(), msg).help = help;
        }
        Some(Action::Webhook {
            url: url.value,
            body,
            token_env: self.string(t, "token_env").map(|s| s.value),
            reply_field: self.string(t, "reply_field").map(|s| s.value),
            allow_private,
        })
    }

    /// A webhook's `body`: a table of templates.
    fn webhook_body(&mut self, b: &DeTable<'_>) -> Vec<(String, Template)> {
        b.iter()
            .filter_map(|(k, v)| match v.get_ref() {
                DeValue::String(s) => {
                    let tpl = self.template(Sp::new(s.to_string(), v.span()));
                    Some((k.get_ref().to_string(), tpl))
                }
                other => {
                    let what = type_name(other);
                    let msg =
                        format!("webhook body values must be strings (templates), not {what}");
                    self.d.error(v.span(), msg);
                    None
                }
            })
            .collect()
    }
}

/// An action's table, its `type` and where it is.
struct ActionTable<'a, 't> {
    t: &'a DeTable<'t>,
    kind: &'a str,
    span: &'a Span,
}
