//! `[[schedule]]` tables: actions at times of day. Each becomes a listener without
//! events that carries its [`ScheduleSpec`]; its actions are a listener's, minus those
//! that need a triggering message.

use toml::de::DeTable;

use super::walker::{Walker, get};
use crate::diag::Span;
use crate::model::*;
use zlc_catalog::schedule::{parse_cron, parse_every};

impl Walker {
    pub(super) fn schedule(&mut self, t: &DeTable<'_>, span: Span) -> Option<Listener> {
        let mut allowed: Vec<&str> = keys::SCHEDULE.to_vec();
        allowed.extend_from_slice(keys::POLICY);
        self.keys(t, &allowed, "[[schedule]]");
        let name = self.string(t, "name");
        if name.is_none() && get(t, "name").is_none() {
            self.d.error(span.clone(), "[[schedule]] has no `name`");
        }
        let spec = self.schedule_spec(t, &span);
        let realms = match get(t, "realm") {
            Some(_) => self
                .uint(t, "realm", i64::from(u32::MAX))
                .map(|r| vec![Sp::new(r.value as u32, r.span)]),
            None => None,
        };
        let actions = match get(t, "action") {
            Some(v) => self
                .tables(v, "schedule.action")
                .into_iter()
                .filter_map(|(a, span)| self.action(a, span))
                .collect(),
            // Refused by the checks unless a `#[schedule]` function is its action.
            None => Vec::new(),
        };
        let actions = self.schedule_actions(actions);
        Some(Listener {
            name: name?,
            description: self
                .string(t, "description")
                .map(|s| s.value)
                .unwrap_or_default(),
            events: Vec::new(),
            realms,
            filters: Filters::default(),
            handler_filters: Filters::default(),
            actions,
            policy: self.policy(t),
            enabled: self.boolean(t, "enabled").is_none_or(|b| b.value),
            config: self.string_table(t, "config"),
            command: None,
            allowed: Vec::new(),
            on_edit: false,
            on_delete: false,
            schedule: spec,
            step: ConversationStep::default(),
            answers_commands: false,
            span,
        })
    }

    /// `every` or `cron` (one of them), `timezone`, `catch_up`, `digest_of`.
    fn schedule_spec(&mut self, t: &DeTable<'_>, span: &Span) -> Option<ScheduleSpec> {
        // Read first: said even when `every` or `cron` is wrong.
        let timezone = self.time_zone(t);
        let catch_up = self.choice(t, "catch_up", &["once", "skip"]) == Some("once");
        let (every, cron) = (self.string(t, "every"), self.string(t, "cron"));
        let (key, written, parsed) = match (every, cron) {
            (Some(e), None) => ("every", e.clone(), parse_every(&e.value)),
            (None, Some(c)) => ("cron", c.clone(), parse_cron(&c.value)),
            (Some(_), Some(c)) => {
                self.d
                    .error(c.span, "a schedule has `every` or `cron`, not both");
                return None;
            }
            (None, None) => {
                self.d.error(span.clone(), "[[schedule]] says neither `every` nor `cron`").help =
                    Some("e.g. `every = \"weekday 09:00\"`, `every = \"10m\"` or `cron = \"0 9 * * 1-5\"`".into());
                return None;
            }
        };
        let when = match parsed {
            Ok(w) => w,
            Err(e) => {
                self.d.error(written.span.clone(), e);
                return None;
            }
        };
        Some(ScheduleSpec {
            written: (key, written),
            when,
            timezone,
            catch_up,
            digest_of: self.string(t, "digest_of"),
        })
    }

    /// `timezone`: an IANA name this machine knows (default `UTC`).
    fn time_zone(&mut self, t: &DeTable<'_>) -> String {
        let Some(tz) = self.string(t, "timezone") else {
            return "UTC".into();
        };
        if jiff::tz::TimeZone::get(&tz.value).is_err() {
            let names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
            let d = self
                .d
                .error(tz.span, format!("unknown time zone `{}`", tz.value));
            d.help = Some(
                match crate::diag::suggest(&tz.value, names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        "an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`".into()
                    }
                },
            );
        }
        tz.value
    }

    /// A schedule's actions: those that need a triggering message (a reaction, a
    /// forward, a reply to the conversation or the sender, a webhook's answer posted
    /// back, a Rust handler, which takes an event) are refused.
    fn schedule_actions(&mut self, actions: Vec<Sp<Action>>) -> Vec<Sp<Action>> {
        let mut kept = Vec::new();
        for a in actions {
            let refused = match &a.value {
                Action::React { .. } | Action::Forward { .. } => {
                    Some("a schedule has no message to react to or forward")
                }
                Action::Reply {
                    to: ReplyTo::Same | ReplyTo::Sender,
                    ..
                } => Some(
                    "a schedule's message goes to a channel: `to = \"channel\"` with `channel` and `topic`",
                ),
                Action::Webhook {
                    reply_field: Some(_),
                    ..
                } => Some(
                    "a schedule has no conversation to post a webhook's answer to (`reply_field`)",
                ),
                Action::Handler { .. } => Some(
                    "a Rust handler takes an event and a schedule has none: call a webhook, or post with `reply`",
                ),
                _ => None,
            };
            match refused {
                Some(msg) => {
                    self.d.error(a.span.clone(), msg);
                }
                None => kept.push(a),
            }
        }
        kept
    }
}
