//! The rules for joining a pipeline file's listener with the `#[listener]` attribute of
//! the Rust function it names as its handler: one function per rule, beside the model
//! they belong to ([`Policy::or`] is the rule for policies).
//!
//! The handler's attribute says what its function can take; the listener narrows it.
//! Where the two cannot both hold (no event, realm, channel, sender or topic in
//! common, or two flags that disagree) the join is a contradiction, reported on the
//! handler's name.

use crate::diag::{Diagnostics, Span};
use crate::model::*;

/// Where a join happens: the listener, its handler's path, and the span problems of
/// the attribute are reported on.
struct Join<'a> {
    listener: String,
    function: &'a str,
    at: &'a Span,
}

impl Join<'_> {
    fn sp<T>(&self, value: T) -> Sp<T> {
        Sp::new(value, self.at.clone())
    }

    /// Reports that no event could pass both.
    fn contradiction(&self, d: &mut Diagnostics, what: String) {
        d.error(
            self.at.clone(),
            format!(
                "listener `{}` and its handler `{}` contradict each other: {what}",
                self.listener, self.function
            ),
        )
        .help = Some(
            "no event could pass both: change the listener's filters, or the handler's #[listener]"
                .into(),
        );
    }
}

impl Listener {
    /// Joins this listener with `attr`, the `#[listener]` of its handler `function`
    /// (whose name is at `at`): events, realms, filters, policy, config and the
    /// handler's reach, each by its rule below.
    pub fn join_handler(
        &mut self,
        attr: &Listener,
        function: &str,
        at: &Span,
        d: &mut Diagnostics,
    ) {
        let j = Join {
            listener: self.name.value.clone(),
            function,
            at,
        };
        self.join_events(attr, &j, d);
        self.join_realms(attr, &j, d);
        self.filters.join(&attr.filters, &j, d);
        self.handler_filters = attr.filters.handler_part(&j);
        self.policy = self.policy.or(&attr.policy);
        self.join_config(attr);
        self.join_reach(attr);
        warn_unrun_actions(attr, &j, d);
    }

    /// Events: the handler's when the listener names none; else the listener's, each of
    /// which the handler must accept (an error for each it does not, then dropped).
    fn join_events(&mut self, attr: &Listener, j: &Join<'_>, d: &mut Diagnostics) {
        if self.events.is_empty() {
            self.events = attr.events.iter().map(|e| j.sp(e.value.clone())).collect();
            return;
        }
        let covered = |e: &Sp<EventSel>| {
            attr.events.iter().any(|a| {
                a.value.kind == e.value.kind && (a.value.op.is_none() || a.value.op == e.value.op)
            })
        };
        for e in self.events.iter().filter(|e| !covered(e)) {
            let accepts: Vec<String> = attr.events.iter().map(|a| a.value.to_string()).collect();
            d.error(
                e.span.clone(),
                format!(
                    "listener `{}` listens to `{}`, which its handler `{}` does not accept (its #[listener] says events = [{}])",
                    j.listener,
                    e.value,
                    j.function,
                    accepts.join(", ")
                ),
            )
            .help = Some("the handler's argument is typed by its events: list only those here, or leave `events` out".into());
        }
        // Reported once: the checks go on with the events the handler takes.
        self.events.retain(covered);
    }

    /// Realms: those in both; the handler's when the listener names none.
    fn join_realms(&mut self, attr: &Listener, j: &Join<'_>, d: &mut Diagnostics) {
        match (&mut self.realms, &attr.realms) {
            (Some(mine), Some(theirs)) => {
                mine.retain(|r| theirs.iter().any(|t| t.value == r.value));
                if mine.is_empty() {
                    j.contradiction(d, "their `realms` have none in common".into());
                }
            }
            (None, Some(theirs)) => {
                self.realms = Some(theirs.iter().map(|r| j.sp(r.value)).collect());
            }
            _ => {}
        }
    }

    /// Config: the listener's values, and the handler's for keys the listener leaves out.
    fn join_config(&mut self, attr: &Listener) {
        for (k, v) in &attr.config {
            if !self.config.iter().any(|(key, _)| key == k) {
                self.config.push((k.clone(), v.clone()));
            }
        }
    }

    /// The handler may reach private addresses if either side says so.
    fn join_reach(&mut self, attr: &Listener) {
        let attr_private = attr.actions.iter().any(|a| {
            matches!(
                a.value,
                Action::Handler {
                    allow_private: true,
                    ..
                }
            )
        });
        for a in &mut self.actions {
            if let Action::Handler { allow_private, .. } = &mut a.value {
                *allow_private |= attr_private;
            }
        }
    }
}

impl Filters {
    /// Joins the listener's filters (`self`) with the handler's: flags set on both must
    /// agree (unset ones are taken), the shorter `max_age` wins, lists need common
    /// ground, and direct messages exclude channel and topic filters.
    fn join(&mut self, attr: &Filters, j: &Join<'_>, d: &mut Diagnostics) {
        self.join_flags(attr, j, d);
        self.max_age_secs = match (&self.max_age_secs, &attr.max_age_secs) {
            (Some(mine), Some(theirs)) => Some(j.sp(mine.value.min(theirs.value))),
            (None, Some(theirs)) => Some(j.sp(theirs.value)),
            (mine, None) => mine.clone(),
        };
        self.join_lists(attr, j, d);
        let direct = self.message_type.as_ref().map(|k| k.value) == Some(MessageKind::Direct);
        if direct && (!attr.channels.is_empty() || !attr.topics.is_empty()) {
            j.contradiction(
                d,
                "direct messages only, but the handler filters on channels or topics".into(),
            );
        }
    }

    /// Flags: both set must agree; one set is taken.
    fn join_flags(&mut self, attr: &Filters, j: &Join<'_>, d: &mut Diagnostics) {
        fn flag<T: Clone + PartialEq + std::fmt::Debug>(
            mine: &mut Option<Sp<T>>,
            theirs: &Option<Sp<T>>,
            key: &str,
            j: &Join<'_>,
            d: &mut Diagnostics,
        ) {
            match (&*mine, theirs) {
                (Some(m), Some(t)) if m.value != t.value => j.contradiction(
                    d,
                    format!(
                        "`{key}` is {:?} here and {:?} in the handler's #[listener]",
                        m.value, t.value
                    ),
                ),
                (None, Some(t)) => *mine = Some(j.sp(t.value.clone())),
                _ => {}
            }
        }
        flag(
            &mut self.message_type,
            &attr.message_type,
            "message_type",
            j,
            d,
        );
        flag(&mut self.mentioned, &attr.mentioned, "mentioned", j, d);
        flag(
            &mut self.exclude_bots,
            &attr.exclude_bots,
            "exclude_bots",
            j,
            d,
        );
        flag(
            &mut self.include_own,
            &attr.include_own,
            "include_own",
            j,
            d,
        );
    }

    /// Lists set on both sides must share a value, where both are plain names (an id or a
    /// regex cannot be compared before run time).
    fn join_lists(&self, attr: &Filters, j: &Join<'_>, d: &mut Diagnostics) {
        let channel = |c: &ChannelRef| match c {
            ChannelRef::Name(n) => Some(n.to_lowercase()),
            ChannelRef::Id(_) => None,
        };
        let sender = |s: &SenderRef| match s {
            SenderRef::Email(e) => Some(e.to_lowercase()),
            SenderRef::Id(_) => None,
        };
        let topic = |t: &TextMatch| match t {
            TextMatch::Exact(s) => Some(s.to_lowercase()),
            TextMatch::Regex(_) => None,
        };
        if let Some((mine, theirs)) = disjoint(&self.channels, &attr.channels, channel) {
            j.contradiction(
                d,
                format!(
                    "`channels` share none (here {}; the handler's {})",
                    mine.join(", "),
                    theirs.join(", ")
                ),
            );
        }
        if disjoint(&self.senders, &attr.senders, sender).is_some() {
            j.contradiction(d, "`senders` share none".into());
        }
        if disjoint(&self.topics, &attr.topics, topic).is_some() {
            j.contradiction(d, "`topics` share none".into());
        }
    }

    /// The filters the handler adds on top of the listener's (lists and content), run
    /// after the listener's own.
    fn handler_part(&self, j: &Join<'_>) -> Filters {
        Filters {
            channels: self
                .channels
                .iter()
                .map(|c| j.sp(c.value.clone()))
                .collect(),
            topics: self.topics.iter().map(|t| j.sp(t.value.clone())).collect(),
            senders: self.senders.iter().map(|s| j.sp(s.value.clone())).collect(),
            content: self.content.as_ref().map(|c| j.sp(c.value.clone())),
            ..Filters::default()
        }
    }
}

/// Both lists' comparable values, when both are set, all comparable, and share none.
fn disjoint<T>(
    mine: &[Sp<T>],
    theirs: &[Sp<T>],
    key: impl Fn(&T) -> Option<String>,
) -> Option<(Vec<String>, Vec<String>)> {
    if mine.is_empty() || theirs.is_empty() {
        return None;
    }
    let keys = |v: &[Sp<T>]| v.iter().map(|x| key(&x.value)).collect::<Option<Vec<_>>>();
    let (m, t) = (keys(mine)?, keys(theirs)?);
    (!m.iter().any(|x| t.contains(x))).then_some((m, t))
}

/// The attribute's own actions do not run when a file names the function: a warning.
fn warn_unrun_actions(attr: &Listener, j: &Join<'_>, d: &mut Diagnostics) {
    let extra = attr
        .actions
        .iter()
        .filter(|a| !matches!(a.value, Action::Handler { .. }))
        .count();
    if extra > 0 {
        d.warning(
            j.at.clone(),
            format!(
                "the #[listener] of `{}` lists {extra} {} not run here: in a pipeline file, the listener's own actions run",
                j.function,
                if extra == 1 { "action, which does" } else { "actions, which do" }
            ),
        )
        .help = Some("add them to the listener as [[listener.action]] tables, where they should run".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listener a `[[listener]]` table's keys make (parsed, not checked; without
    /// `events` when the keys name none, which a file may do for a handler).
    fn listener(keys: &str) -> Listener {
        let text = format!("[pipeline]\nname = \"t\"\n\n[[listener]]\nname = \"l\"\n{keys}\n");
        let (p, d) = crate::toml::parse("t.toml", &text);
        let unexpected = d
            .items
            .iter()
            .filter(|p| !p.message.contains("has no `events`"))
            .count();
        assert_eq!(unexpected, 0, "{keys}\n{d}");
        p.expect("a pipeline").listeners.remove(0)
    }

    /// Joins the listener of `mine` with a handler whose attribute says `theirs`; the
    /// joined listener and the messages of the errors and warnings.
    fn joined(mine: &str, theirs: &str) -> (Listener, Vec<String>) {
        let mut l = listener(&format!("handler = \"c::f\"\n{mine}"));
        // The attribute front end makes the function the listener's handler.
        let attr = if theirs.contains("handler =") {
            listener(theirs)
        } else {
            listener(&format!("handler = \"f\"\n{theirs}"))
        };
        let mut d = Diagnostics::new("t.toml", "");
        let at = l.name.span.clone();
        l.join_handler(&attr, "c::f", &at, &mut d);
        let messages = d.items.iter().map(|p| p.message.clone()).collect();
        (l, messages)
    }

    fn events(l: &Listener) -> Vec<String> {
        l.events.iter().map(|e| e.value.to_string()).collect()
    }

    #[test]
    fn events_are_the_handlers_unless_the_listener_narrows_them() {
        let (l, said) = joined("", "events = [\"message\", \"reaction\"]");
        assert_eq!(events(&l), ["message", "reaction"]);
        assert!(said.is_empty(), "{said:?}");
        let (l, said) = joined(
            "events = \"reaction\"",
            "events = [\"message\", \"reaction\"]",
        );
        assert_eq!(events(&l), ["reaction"]);
        assert!(said.is_empty(), "{said:?}");
        let (l, said) = joined("events = [\"message\", \"typing\"]", "events = \"message\"");
        assert_eq!(events(&l), ["message"], "the one it cannot take is dropped");
        assert_eq!(said.len(), 1);
        assert!(said[0].contains("listens to `typing`, which its handler `c::f` does not accept"));
    }

    #[test]
    fn realms_are_those_in_common() {
        let realms = |l: &Listener| {
            l.realms
                .as_ref()
                .map(|r| r.iter().map(|x| x.value).collect::<Vec<_>>())
        };
        let (l, said) = joined("realms = [1, 2]", "realms = [2, 3]");
        assert_eq!((realms(&l), said.len()), (Some(vec![2]), 0));
        let (l, _) = joined("", "realms = [3]");
        assert_eq!(realms(&l), Some(vec![3]));
        let (l, _) = joined("realms = [1]", "");
        assert_eq!(realms(&l), Some(vec![1]));
        let (_, said) = joined("realms = [1]", "realms = [2]");
        assert!(
            said[0].contains("their `realms` have none in common"),
            "{said:?}"
        );
    }

    #[test]
    fn flags_must_agree_and_are_taken_when_unset() {
        let (l, said) = joined("", "mentioned = true\nexclude_bots = true");
        assert!(said.is_empty());
        assert_eq!(l.filters.mentioned.map(|m| m.value), Some(true));
        assert_eq!(l.filters.exclude_bots.map(|m| m.value), Some(true));
        let (_, said) = joined("mentioned = false", "mentioned = true");
        assert!(
            said[0].contains("`mentioned` is false here and true in the handler's #[listener]"),
            "{said:?}"
        );
        let (_, said) = joined("include_own = true", "include_own = true");
        assert!(said.is_empty(), "the same value twice is fine");
    }

    #[test]
    fn the_shorter_max_age_wins() {
        let age =
            |mine: &str, theirs: &str| joined(mine, theirs).0.filters.max_age_secs.map(|a| a.value);
        assert_eq!(age("max_age = \"10m\"", "max_age = \"1h\""), Some(600));
        assert_eq!(age("max_age = \"1h\"", "max_age = \"10m\""), Some(600));
        assert_eq!(age("", "max_age = \"5m\""), Some(300));
        assert_eq!(age("max_age = \"5m\"", ""), Some(300));
        assert_eq!(age("", ""), None);
    }

    #[test]
    fn lists_need_a_name_in_common_unless_they_cannot_be_compared() {
        let (_, said) = joined("channels = [\"ops\"]", "channels = [\"Alerts\", \"Devel\"]");
        assert!(
            said[0].contains("`channels` share none (here ops; the handler's alerts, devel)"),
            "{said:?}"
        );
        let (_, said) = joined("channels = [\"OPS\", \"db\"]", "channels = [\"ops\"]");
        assert!(said.is_empty(), "names compare without case: {said:?}");
        let (_, said) = joined("channels = [12]", "channels = [\"ops\"]");
        assert!(said.is_empty(), "an id is only known at run time: {said:?}");
        let (_, said) = joined("senders = [\"a@x.org\"]", "senders = [\"b@x.org\"]");
        assert!(said[0].contains("`senders` share none"), "{said:?}");
        let (_, said) = joined("topics = [\"deploys\"]", "topics = [\"alerts\"]");
        assert!(said[0].contains("`topics` share none"), "{said:?}");
    }

    #[test]
    fn direct_messages_exclude_a_handler_filtering_on_channels() {
        let (_, said) = joined("message_type = \"direct\"", "channels = [\"ops\"]");
        assert!(
            said[0].contains("direct messages only, but the handler filters on channels or topics"),
            "{said:?}"
        );
        let (_, said) = joined("message_type = \"channel\"", "channels = [\"ops\"]");
        assert!(said.is_empty(), "{said:?}");
    }

    #[test]
    fn the_handlers_lists_and_content_run_after_the_listeners_own() {
        let (l, _) = joined(
            "channels = [\"ops\"]",
            "channels = [\"ops\", \"db\"]\ncontent = \"deploy\"",
        );
        let names: Vec<String> = l
            .handler_filters
            .channels
            .iter()
            .map(|c| format!("{:?}", c.value))
            .collect();
        assert_eq!(names.len(), 2);
        assert_eq!(
            l.handler_filters.content.map(|c| c.value),
            Some("deploy".into())
        );
        assert_eq!(
            l.filters.channels.len(),
            1,
            "the listener's own stay as they were"
        );
    }

    #[test]
    fn config_is_the_listeners_then_the_handlers_for_the_rest() {
        let (l, _) = joined(
            "[listener.config]\ngreeting = \"hi\"",
            "[listener.config]\ngreeting = \"hello\"\nfarewell = \"bye\"",
        );
        let config: Vec<(String, String)> = l
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            config,
            [
                ("greeting".into(), "hi".into()),
                ("farewell".into(), "bye".into())
            ]
        );
    }

    #[test]
    fn the_handler_reaches_private_addresses_if_either_side_allows_it() {
        let private = |l: &Listener| {
            l.actions.iter().any(|a| {
                matches!(
                    a.value,
                    Action::Handler {
                        allow_private: true,
                        ..
                    }
                )
            })
        };
        let (l, _) = joined("", "handler = \"f\"\nallow_private = true");
        assert!(private(&l));
        let (l, _) = joined("allow_private = true", "");
        assert!(private(&l));
        let (l, _) = joined("", "");
        assert!(!private(&l));
    }

    #[test]
    fn actions_of_the_attribute_are_not_run_and_say_so() {
        let (_, said) = joined("", "[[listener.action]]\ntype = \"store\"");
        assert!(
            said[0].contains("the #[listener] of `c::f` lists 1 action, which does not run here"),
            "{said:?}"
        );
    }
}
