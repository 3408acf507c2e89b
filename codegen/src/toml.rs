//! The TOML front end: a pipeline file becomes a [`Pipeline`], or every mistake in it
//! becomes a [`Diagnostic`] with its place.
//!
//! The file is parsed into a spanned table (`toml::de::DeTable`, recovering from syntax
//! errors) and walked by hand rather than with `#[serde(deny_unknown_fields)]`: serde
//! stops at the first error, and users deserve all of them, with "did you mean".

use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostics, Span};
use crate::model::*;

mod actions;
mod case_events;
mod cases;
mod commands;
mod conversations;
mod schedules;
mod walker;

pub use cases::check as check_tests;

use walker::{Value, Walker, get, one_or_many, type_name};

use keys::{LISTENER as LISTENER_KEYS, PIPELINE as PIPELINE_KEYS, POLICY as POLICY_KEYS};
use keys::{REALM as REALM_KEYS, STORE as STORE_KEYS, TOP as TOP_KEYS};

/// Parses pipeline `source` (named `file` in messages). The pipeline comes back even
/// when some values were wrong (they are left out), so that later checks can report
/// their own findings beside these.
pub fn parse(file: &str, source: &str) -> (Option<Pipeline>, Diagnostics) {
    let mut w = Walker {
        d: Diagnostics::new(file, source),
    };
    let (root, errors) = DeTable::parse_recoverable(source);
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().trim_end_matches('.').to_string();
        w.d.error(span, format!("invalid TOML: {}", first_lower(&msg)));
    }
    let pipeline = w.pipeline(root.get_ref(), source.len());
    if pipeline.is_none() && w.d.is_empty() {
        w.d.error(0..0, "the pipeline could not be read");
    }
    (pipeline, w.d)
}

fn first_lower(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Walker {
    fn pipeline(&mut self, root: &DeTable<'_>, len: usize) -> Option<Pipeline> {
        self.keys(root, TOP_KEYS, "the pipeline file");
        let (name, description) = self.pipeline_table(root, len);
        let realms = self.each(root, "realm", Self::realm);
        let store = match self.table(root, "store") {
            Some((t, _)) => self.store(t),
            None => Store::default(),
        };
        let defaults = match self.table(root, "defaults") {
            Some((t, _)) => {
                self.keys(t, POLICY_KEYS, "[defaults]");
                self.policy(t)
            }
            None => Policy::default(),
        };
        let mut listeners = self.each(root, "listener", Self::listener);
        listeners.extend(self.each(root, "schedule", Self::schedule));
        let crates = match self.table(root, "crates") {
            Some((t, _)) => self.crate_decls(t),
            None => Vec::new(),
        };
        let tests = self.each(root, "test", Self::test_case);
        let command_prefix = self
            .table(root, "pipeline")
            .and_then(|(t, _)| self.string(t, "command_prefix"));
        if let Some(p) = &command_prefix
            && (p.value.is_empty() || p.value.chars().any(char::is_whitespace))
        {
            self.d.error(
                p.span.clone(),
                "`command_prefix` is one or more characters without spaces, e.g. \"!\"",
            );
        }
        self.command_answers(&mut listeners);
        let conversation_timeout = self
            .table(root, "pipeline")
            .and_then(|(t, _)| self.duration_ms(t, "conversation_timeout"))
            .map(|d| Sp::new(d.value / 1000, d.span));
        Some(Pipeline {
            name: name?,
            description,
            realms,
            store,
            defaults,
            listeners,
            tests,
            crates,
            command_prefix,
            conversation_timeout,
        })
    }

    /// Every `[[key]]` table of `root`, each read by `read` (those it refuses left out).
    fn each<T>(
        &mut self,
        root: &DeTable<'_>,
        key: &str,
        read: impl Fn(&mut Self, &DeTable<'_>, Span) -> Option<T>,
    ) -> Vec<T> {
        match get(root, key) {
            Some(v) => self
                .tables(v, key)
                .into_iter()
                .filter_map(|(t, span)| read(self, t, span))
                .collect(),
            None => Vec::new(),
        }
    }

    /// `[pipeline]`: its name (required) and description.
    fn pipeline_table(&mut self, root: &DeTable<'_>, len: usize) -> (Option<Sp<String>>, String) {
        let Some((t, span)) = self.table(root, "pipeline") else {
            if get(root, "pipeline").is_none() {
                self.d
                    .error(0..len.min(1), "the file has no [pipeline] table")
                    .help =
                    Some("start the file with `[pipeline]` and `name = \"my_pipeline\"`".into());
            }
            return (None, String::new());
        };
        self.keys(t, PIPELINE_KEYS, "[pipeline]");
        let name = self.string(t, "name");
        if name.is_none() && get(t, "name").is_none() {
            self.d.error(span, "[pipeline] has no `name`").help =
                Some("add `name = \"my_pipeline\"`".into());
        }
        let description = self.string(t, "description").map(|s| s.value);
        (name, description.unwrap_or_default())
    }

    /// `[crates]`: each crate's folder, relative to the file.
    fn crate_decls(&mut self, t: &DeTable<'_>) -> Vec<CrateDecl> {
        t.iter()
            .filter_map(|(k, v)| match v.get_ref() {
                DeValue::String(s) => Some(CrateDecl {
                    name: Sp::new(k.get_ref().to_string(), k.span()),
                    path: Sp::new(s.to_string(), v.span()),
                    found: None,
                }),
                other => {
                    self.d.error(
                        v.span(),
                        format!(
                            "a crate is declared with its folder, relative to this file (`my_bot = \"rust/my_bot\"`), not {}",
                            type_name(other)
                        ),
                    );
                    None
                }
            })
            .collect()
    }

    fn realm(&mut self, t: &DeTable<'_>, span: Span) -> Option<Realm> {
        self.keys(t, REALM_KEYS, "[[realm]]");
        let id = match get(t, "id") {
            Some(v) => {
                let n = self.int_of(v, "id")?;
                if !(0..=u32::MAX as i64).contains(&n) {
                    self.d.error(
                        v.span(),
                        format!("realm `id` must be a non-negative integer, not {n}"),
                    );
                    return None;
                }
                Sp::new(n as u32, v.span())
            }
            None => {
                self.d.error(span.clone(), "[[realm]] has no `id`").help =
                    Some("give each realm a number, e.g. `id = 1`, that listeners' `realms = [1]` refer to".into());
                return None;
            }
        };
        let zuliprc = self.string(t, "zuliprc");
        let site = self.string(t, "site");
        let email = self.string(t, "email");
        let key_env = self.string(t, "api_key_env");
        let credentials = match (zuliprc, site, email) {
            (Some(rc), None, None) => {
                if let Some(k) = key_env {
                    self.d.error(
                        k.span,
                        "`api_key_env` goes with `site` and `email`, not with `zuliprc`",
                    );
                }
                Credentials::Zuliprc(rc.value)
            }
            (None, Some(site), Some(email)) => Credentials::Explicit {
                site: site.value,
                email: email.value,
                api_key_env: key_env.map_or_else(|| "ZULIP_API_KEY".to_owned(), |k| k.value),
            },
            (None, None, None) => Credentials::Default,
            (Some(rc), _, _) => {
                self.d.error(
                    rc.span,
                    "give either `zuliprc` or `site` and `email`, not both",
                );
                Credentials::Default
            }
            (None, site, email) => {
                let at = site
                    .as_ref()
                    .or(email.as_ref())
                    .map_or(span.clone(), |s| s.span.clone());
                self.d.error(
                    at,
                    "`site` and `email` go together: give both (the key comes from `api_key_env`)",
                );
                Credentials::Default
            }
        };
        Some(Realm {
            id,
            name: self.string(t, "name").map(|s| s.value),
            credentials,
            all_public_streams: self
                .boolean(t, "all_public_streams")
                .is_some_and(|b| b.value),
            narrow: self.narrow(t),
            push: self.realm_source(t),
            token_env: self.string(t, "token_env").map(|s| s.value),
            span,
        })
    }

    /// A realm's `source`: `"poll"` (the default) or `"push"`; a push realm has no
    /// event queue, so no `narrow` or `all_public_streams`.
    fn realm_source(&mut self, t: &DeTable<'_>) -> bool {
        let push = match self.string(t, "source") {
            None => false,
            Some(s) if s.value == "poll" => false,
            Some(s) if s.value == "push" => true,
            Some(s) => {
                self.d
                    .error(s.span, format!("`source` is \"poll\" or \"push\", not {:?}", s.value))
                    .help = Some("\"push\": Zulip's outgoing webhooks POST this realm's mentions and direct messages to `run --listen`".into());
                false
            }
        };
        if push {
            for key in ["narrow", "all_public_streams"] {
                if let Some(v) = get(t, key) {
                    self.d.error(
                        v.span(),
                        format!("`{key}` shapes an event queue; a realm with `source = \"push\"` has none (Zulip pushes the messages that mention the bot or are sent to it)"),
                    );
                }
            }
        } else if let Some(v) = get(t, "token_env") {
            self.d.warning(
                v.span(),
                "`token_env` is for realms with `source = \"push\"`; this realm is polled",
            );
        }
        push
    }

    /// A realm's `narrow`: a term or a list of them, each checked.
    fn narrow(&mut self, t: &DeTable<'_>) -> Vec<(String, String)> {
        let mut terms = Vec::new();
        for term in self.strings(t, "narrow").unwrap_or_default() {
            match crate::model::parse_narrow_term(&term.value) {
                Ok(parsed) => terms.push(parsed),
                Err(e) => {
                    self.d.error(term.span, e);
                }
            }
        }
        terms
    }

    fn store(&mut self, t: &DeTable<'_>) -> Store {
        self.keys(t, STORE_KEYS, "[store]");
        let event_log = match self.string(t, "event_log") {
            None => EventLog::Failures,
            Some(s) => EventLog::parse(&s.value).unwrap_or_else(|p| {
                self.problem(s.span, p);
                EventLog::Failures
            }),
        };
        Store {
            url: self.string(t, "url"),
            url_env: self.string(t, "url_env"),
            password_env: self.string(t, "password_env"),
            password_file: self.string(t, "password_file"),
            event_log,
        }
    }

    fn policy(&mut self, t: &DeTable<'_>) -> Policy {
        let ms = |w: &mut Self, k| w.duration_ms(t, k).map(|v| v.value);
        Policy {
            timeout_ms: ms(self, "timeout"),
            retries: self.uint(t, "retries", 100).map(|v| v.value as u32),
            backoff_ms: ms(self, "backoff"),
            backoff_max_ms: ms(self, "backoff_max"),
            breaker_threshold: self
                .uint(t, "breaker_threshold", 1_000_000)
                .map(|v| v.value as u32),
            breaker_cooldown_ms: ms(self, "breaker_cooldown"),
            concurrency: match self.uint(t, "concurrency", 10_000) {
                Some(v) if v.value == 0 => {
                    self.d.error(v.span, "`concurrency` must be at least 1");
                    None
                }
                v => v.map(|v| v.value as u32),
            },
            max_in_flight: match self.uint(t, "max_in_flight", 1_000_000) {
                Some(v) if v.value == 0 => {
                    self.d.error(v.span, "`max_in_flight` must be at least 1");
                    None
                }
                v => v.map(|v| v.value as u32),
            },
            ordered: self.boolean(t, "ordered").map(|b| b.value),
            limit_per_conversation: self.rate_limit(t, "limit_per_conversation"),
            limit_per_sender: self.rate_limit(t, "limit_per_sender"),
        }
    }

    fn rate_limit(&mut self, t: &DeTable<'_>, key: &str) -> Option<RateLimit> {
        let s = self.string(t, key)?;
        let parsed = RateLimit::parse(&s.value);
        if parsed.is_none() {
            self.problem(s.span, not_a_rate_limit(key, &s.value));
        }
        parsed
    }

    fn listener(&mut self, t: &DeTable<'_>, span: Span) -> Option<Listener> {
        let mut allowed: Vec<&str> = LISTENER_KEYS.to_vec();
        allowed.extend_from_slice(POLICY_KEYS);
        self.keys(t, &allowed, "[[listener]]");
        let name = self.string(t, "name");
        if name.is_none() && get(t, "name").is_none() {
            self.d.error(span.clone(), "[[listener]] has no `name`");
        }
        let events = self.listener_events(t, &span);
        let realms = get(t, "realms").map(|v| self.realm_ids(v));
        let filters = self.filters(t);
        let actions = self.listener_actions(t, &span);
        let config = self.string_table(t, "config");
        let command = self
            .string(t, "command")
            .and_then(|s| match CommandDecl::parse(&s.value) {
                Ok(c) => Some(Sp::new(c, s.span)),
                Err(p) => {
                    self.problem(s.span, p);
                    None
                }
            });
        let on_edit = self.follows(t, "on_edit", ["update", "ignore"], &events);
        let on_delete = self.follows(t, "on_delete", ["delete", "keep"], &events);
        Some(Listener {
            name: name?,
            description: self
                .string(t, "description")
                .map(|s| s.value)
                .unwrap_or_default(),
            events,
            realms,
            filters,
            handler_filters: Filters::default(),
            actions,
            policy: self.policy(t),
            enabled: self.boolean(t, "enabled").is_none_or(|b| b.value),
            config,
            allowed: self.allowed_rules(t, command.is_some()),
            command,
            on_edit,
            on_delete,
            schedule: None,
            step: self.conversation_step(t),
            answers_commands: false,
            span,
        })
    }

    /// `on_edit` or `on_delete`: whether its first choice is set. Only messages are
    /// edited and deleted: a listener of other events only is refused the key.
    fn follows(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        choices: [&'static str; 2],
        events: &[Sp<EventSel>],
    ) -> bool {
        let chosen = self.choice(t, key, &choices);
        if chosen.is_some()
            && !events.is_empty()
            && !events.iter().any(|e| e.value.kind == "message")
        {
            let span = get(t, key).map(|v| v.span()).unwrap_or_default();
            self.d.error(
                span,
                format!("`{key}` is for listeners of messages; this one takes none"),
            );
        }
        chosen == Some(choices[0])
    }

    /// A listener's `events`. One with a handler may leave them out: its `#[listener]`
    /// says which it accepts ([`crate::crates`]).
    fn listener_events(&mut self, t: &DeTable<'_>, span: &Span) -> Vec<Sp<EventSel>> {
        let has_handler = get(t, "handler").is_some()
            || get(t, "action").is_some_and(|a| match a.get_ref() {
                DeValue::Array(items) => items.iter().any(|i| match i.get_ref() {
                    DeValue::Table(a) => get(a, "type").is_some_and(
                        |k| matches!(k.get_ref(), DeValue::String(s) if s.as_ref() == "handler"),
                    ),
                    _ => false,
                }),
                _ => false,
            });
        let command = get(t, "command").map(|c| c.span());
        match self.strings(t, "events") {
            Some(list) => {
                let sels: Vec<Sp<EventSel>> =
                    list.into_iter().flat_map(|s| self.event_sel(s)).collect();
                if let (Some(_), Some(other)) =
                    (&command, sels.iter().find(|e| e.value.kind != "message"))
                {
                    self.d.error(
                        other.span.clone(),
                        "a command runs on messages: leave `events` out, or make it \"message\"",
                    );
                }
                sels
            }
            None if command.is_some() => {
                let span = command.unwrap_or_else(|| span.clone());
                vec![Sp::new(EventSel::parse("message").remove(0), span)]
            }
            None => {
                if get(t, "events").is_none() && !has_handler {
                    self.d
                        .error(span.clone(), "[[listener]] has no `events`")
                        .help = Some(
                        "e.g. `events = \"message\"` or `events = [\"reaction:add\", \"@user\"]`"
                            .into(),
                    );
                }
                Vec::new()
            }
        }
    }

    /// `realms`: one id or a list of them.
    fn realm_ids(&mut self, v: &Value<'_>) -> Vec<Sp<u32>> {
        let items = one_or_many(v);
        items
            .iter()
            .filter_map(|i| {
                let n = self.int_of(i, "realms")?;
                if !(0..=u32::MAX as i64).contains(&n) {
                    self.d.error(
                        i.span(),
                        format!("realm ids are non-negative integers, not {n}"),
                    );
                    return None;
                }
                Some(Sp::new(n as u32, i.span()))
            })
            .collect()
    }

    /// A listener's actions: its `handler` first, then its `[[listener.action]]`s; a
    /// listener without either counts its matches.
    fn listener_actions(&mut self, t: &DeTable<'_>, span: &Span) -> Vec<Sp<Action>> {
        let mut actions: Vec<Sp<Action>> = match get(t, "action") {
            Some(v) => self
                .tables(v, "listener.action")
                .into_iter()
                .filter_map(|(a, span)| self.action(a, span))
                .collect(),
            None => Vec::new(),
        };
        let allow_private = self.boolean(t, "allow_private");
        match self.string(t, "handler") {
            Some(h) => {
                let allow_private = allow_private.is_some_and(|b| b.value);
                let function = h.value;
                let handler = Action::Handler {
                    function,
                    allow_private,
                };
                actions.insert(0, Sp::new(handler, h.span));
            }
            None => {
                if let Some(a) = allow_private {
                    self.d.error(
                        a.span,
                        "`allow_private` on a listener applies to its `handler`, and it has none",
                    );
                }
            }
        }
        if actions.is_empty() && get(t, "action").is_none() {
            actions.push(Sp::new(Action::Count { by: Vec::new() }, span.clone()));
        }
        actions
    }

    fn event_sel(&mut self, s: Sp<String>) -> Vec<Sp<EventSel>> {
        EventSel::parse(&s.value)
            .into_iter()
            .map(|e| Sp::new(e, s.span.clone()))
            .collect()
    }

    fn filters(&mut self, t: &DeTable<'_>) -> Filters {
        let channels = self
            .names_or_ids(t, "channels")
            .into_iter()
            .map(|s| {
                Sp::new(
                    s.value.map_or_else(ChannelRef::Id, ChannelRef::Name),
                    s.span,
                )
            })
            .collect();
        let senders = self
            .names_or_ids(t, "senders")
            .into_iter()
            .map(|s| Sp::new(s.value.map_or_else(SenderRef::Id, SenderRef::Email), s.span))
            .collect();
        let topics = self
            .strings(t, "topics")
            .unwrap_or_default()
            .into_iter()
            .map(|s| Sp::new(TextMatch::parse(&s.value), s.span))
            .collect();
        let message_type =
            self.string(t, "message_type")
                .and_then(|s| match MessageKind::parse(&s.value) {
                    Ok(k) => Some(Sp::new(k, s.span)),
                    Err(p) => {
                        self.problem(s.span, p);
                        None
                    }
                });
        Filters {
            channels,
            topics,
            senders,
            message_type,
            mentioned: self.boolean(t, "mentioned"),
            content: self.string(t, "content"),
            exclude_bots: self.boolean(t, "exclude_bots"),
            include_own: self.boolean(t, "include_own"),
            max_age_secs: self
                .duration_ms(t, "max_age")
                .map(|d| Sp::new(d.value / 1000, d.span)),
        }
    }

    pub(super) fn template(&mut self, s: Sp<String>) -> Template {
        let segments = crate::template::parse(&s.value, s.span.start + 1, &mut self.d);
        Template {
            source: s.value,
            segments,
            span: s.span,
        }
    }
}
