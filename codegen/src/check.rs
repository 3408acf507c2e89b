//! Checks that need the whole pipeline: names, realms, event types, filter and action
//! applicability, regexes and template fields. Every problem is collected.

pub mod conversations;
mod schedules;

use std::collections::HashMap;

use crate::diag::{Diagnostics, suggest};
use crate::events;
use crate::model::*;

/// The largest compiled size of one regex (the regex crate's own limit is 10 MiB).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The longest regex pattern, in bytes. The compiled-size limit alone does not bound
/// the pattern: a long literal alternation compiles small but costs time to parse.
pub const MAX_PATTERN_BYTES: usize = 8 * 1024;

/// Directory names of cargo's target folder: a binary named so breaks its manifest
/// (and with it every pipeline in the shared build area).
const CARGO_DIRS: &[&str] = &["deps", "examples", "build", "incremental"];
/// Device names Windows reserves, whatever the extension.
const WINDOWS_DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Checks `p`, adding problems to `d`. Declares realm 1 (default credentials) when the
/// file declares none.
pub fn check(p: &mut Pipeline, d: &mut Diagnostics) {
    check_ident(&p.name, "pipeline name", d);
    if let Some(reserved) = reserved_name(&p.name.value) {
        d.error(
            p.name.span.clone(),
            format!("pipeline name `{}` is reserved: {reserved}", p.name.value),
        )
        .help = Some("choose another name; it becomes the binary's name".into());
    }
    check_store(&p.store, d);
    if p.realms.is_empty() {
        p.realms.push(Realm {
            id: Sp::new(1, p.name.span.clone()),
            name: None,
            credentials: Credentials::Default,
            all_public_streams: false,
            narrow: Vec::new(),
            push: false,
            token_env: None,
            span: p.name.span.clone(),
        });
    }
    let mut ids = HashMap::new();
    for r in &p.realms {
        if let Some(first) = ids.insert(r.id.value, r.id.span.clone()) {
            d.error(
                r.id.span.clone(),
                format!("realm id {} is declared twice", r.id.value),
            )
            .related(first, "first");
        }
        if let Credentials::Explicit { api_key_env, .. } = &r.credentials
            && !is_env_name(api_key_env)
        {
            d.error(
                r.span.clone(),
                format!("`api_key_env` must name an environment variable, not {api_key_env:?}"),
            );
        }
    }
    let mut declared: Vec<u32> = p.realms.iter().map(|r| r.id.value).collect();
    declared.sort_unstable();
    declared.dedup();
    let declared: Vec<String> = declared.iter().map(u32::to_string).collect();
    let mut names: HashMap<&str, crate::diag::Span> = HashMap::new();
    if p.listeners.is_empty() {
        d.error(p.name.span.clone(), "the pipeline has no listeners")
            .help = Some("add a [[listener]] table with `name` and `events`".into());
    }
    for l in &p.listeners {
        check_ident(&l.name, "listener name", d);
        if let Some(first) = names.insert(&l.name.value, l.name.span.clone()) {
            d.error(
                l.name.span.clone(),
                format!("listener `{}` is declared twice", l.name.value),
            )
            .related(first, "first");
        }
        for r in l.realms.iter().flatten() {
            if !ids.contains_key(&r.value) {
                d.error(r.span.clone(), format!("realm {} is not declared", r.value))
                    .help = Some(format!(
                    "declared realms: {} (add a [[realm]] with `id = {}`)",
                    declared.join(", "),
                    r.value
                ));
            }
        }
        // A typo'd event type says nothing about what the listener meant to receive:
        // checks that depend on the event types would only add confusing errors.
        let known = check_events(l, d);
        check_filters(l, d, known);
        check_actions(l, d, known);
        check_loops(l, d);
        schedules::check_schedule(p, l, d);
    }
    conversations::check_conversations(p, d);
}

/// A listener that sees the bot's own messages and also posts can answer itself.
fn check_loops(l: &Listener, d: &mut Diagnostics) {
    let Some(own) = l.filters.include_own.as_ref().filter(|o| o.value) else {
        return;
    };
    let posts = l.actions.iter().any(|a| {
        matches!(
            a.value,
            Action::Reply { .. }
                | Action::Forward { .. }
                | Action::Webhook {
                    reply_field: Some(_),
                    ..
                }
        )
    });
    if posts {
        d.warning(
            own.span.clone(),
            format!(
                "`{}` sees the bot's own messages and also posts messages: it can answer itself in a loop",
                l.name.value
            ),
        )
        .help = Some(
            "remove `include_own` unless the listener must see the bot's own messages; \
             `limit_per_conversation` and `limit_per_sender` cap a loop meanwhile"
                .into(),
        );
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Why `name` cannot name a binary, if it cannot.
pub fn reserved_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if CARGO_DIRS.contains(&lower.as_str()) {
        Some("cargo uses it for a build directory")
    } else if WINDOWS_DEVICES.contains(&lower.as_str()) {
        Some("Windows reserves it as a device name")
    } else {
        None
    }
}

fn check_store(s: &Store, d: &mut Diagnostics) {
    if let (Some(_), Some(env)) = (&s.url, &s.url_env) {
        d.error(env.span.clone(), "give either `url` or `url_env`, not both");
    }
    let sqlite = s.url.as_ref().is_some_and(|url| check_store_url(url, d));
    for env in [&s.url_env, &s.password_env].into_iter().flatten() {
        if !is_env_name(&env.value) {
            d.error(
                env.span.clone(),
                format!("{:?} is not an environment variable name", env.value),
            );
        }
    }
    if let (Some(_), Some(file)) = (&s.password_env, &s.password_file) {
        d.error(
            file.span.clone(),
            "give either `password_env` or `password_file`, not both",
        );
    }
    if sqlite && let Some(pw) = s.password_env.as_ref().or(s.password_file.as_ref()) {
        d.error(pw.span.clone(), "a SQLite store has no password");
    }
}

/// Checks a `[store] url`; returns whether it names SQLite.
fn check_store_url(url: &Sp<String>, d: &mut Diagnostics) -> bool {
    let text = url.value.trim();
    let Ok(parsed) = url::Url::parse(text) else {
        // A bare path (`zlc.db`, `/var/lib/zlc/x.db`) is a SQLite file.
        if text.contains("://") || text.is_empty() {
            d.error(
                url.span.clone(),
                format!("store url {text:?} is not a valid URL"),
            )
            .help = Some(
                "e.g. \"sqlite://analytics.db\" or \"postgres://zlc@db.example.com/zlc\"".into(),
            );
        }
        return true;
    };
    let has_password = parsed.password().is_some()
        || parsed
            .query_pairs()
            .any(|(k, _)| k.eq_ignore_ascii_case("password"));
    if has_password {
        d.error(
            url.span.clone(),
            "the store url contains a password, and a pipeline file is compiled into the binary",
        )
        .help = Some(
            "remove the password and read it at run time: `password_env = \"ZLC_DB_PASSWORD\"` \
             or `password_file = \"/etc/zlc/db-password\"`; or give the whole URL at run time \
             with `url_env = \"DATABASE_URL\"` (or `--store`)"
                .into(),
        );
    }
    match parsed.scheme() {
        "sqlite" => true,
        "postgres" | "postgresql" => false,
        other => {
            d.error(
                url.span.clone(),
                format!("store url scheme `{other}` is not supported"),
            )
            .help = Some("use sqlite://FILE or postgres://USER@HOST/DATABASE".into());
            false
        }
    }
}

/// Names become identifiers and file names: ASCII letters, digits, `_` and `-`.
/// Whether `n` is a valid pipeline or listener name (it becomes a file and crate name).
pub fn is_ident(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_ident(name: &Sp<String>, what: &str, d: &mut Diagnostics) {
    let n = &name.value;
    if !is_ident(n) {
        d.error(name.span.clone(), format!("{what} {n:?} is not allowed"))
            .help =
            Some("use 1 to 64 ASCII letters, digits, `_` or `-`, starting with a letter".into());
    }
}

/// Checks the event selectors; returns whether every one names a known type.
fn check_events(l: &Listener, d: &mut Diagnostics) -> bool {
    let mut known = true;
    for e in &l.events {
        let Some(ops) = events::ops_of(&e.value.kind) else {
            let types = events::types();
            let mut msg = format!("unknown event type `{}`", e.value.kind);
            let candidates = types
                .iter()
                .copied()
                .chain(events::GROUPS.iter().map(|(g, _)| *g));
            if let Some(s) = suggest(&e.value.kind, candidates) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            let groups: Vec<&str> = events::GROUPS.iter().map(|(g, _)| *g).collect();
            d.error(e.span.clone(), msg).help = Some(format!(
                "valid types: {}; groups: {}",
                types.join(", "),
                groups.join(", ")
            ));
            known = false;
            continue;
        };
        if let Some(op) = &e.value.op {
            if ops.is_empty() {
                d.error(
                    e.span.clone(),
                    format!(
                        "event type `{}` has no ops; write `{}`",
                        e.value.kind, e.value.kind
                    ),
                );
            } else if !ops.contains(&op.as_str()) {
                d.error(
                    e.span.clone(),
                    format!("`{}` has no op `{op}`", e.value.kind),
                )
                .help = Some(format!("ops of `{}`: {}", e.value.kind, ops.join(", ")));
            }
        }
    }
    known
}

fn only_messages(l: &Listener) -> Option<&Sp<EventSel>> {
    l.events.iter().find(|e| e.value.kind != "message")
}

fn check_filters(l: &Listener, d: &mut Diagnostics, known: bool) {
    if let Some(other) = only_messages(l).filter(|_| known) {
        for (name, span) in l.filters.set() {
            d.error(
                span,
                format!(
                    "filter `{name}` applies only to message events, but `{}` also listens to `{}`",
                    l.name.value, other.value.kind
                ),
            )
            .help = Some("move the other event types to a listener of their own".into());
        }
    }
    for t in &l.filters.topics {
        if let TextMatch::Regex(re) = &t.value {
            check_regex(re, t.span.clone(), d);
        }
    }
    if let Some(c) = &l.filters.content {
        check_regex(&c.value, c.span.clone(), d);
    }
    if l.filters
        .message_type
        .as_ref()
        .is_some_and(|m| m.value == MessageKind::Direct)
        && let Some(c) = l.filters.channels.first()
    {
        d.error(
            c.span.clone(),
            "`channels` can never match direct messages (message_type = \"direct\")",
        );
    }
}

/// The state that ends a conversation (`next_state = "end"`).
pub const END_STATE: &str = "end";

/// The kind of event a schedule's tick is, for the fields its templates may use.
pub const SCHEDULE_KIND: &str = "schedule";

fn check_regex(re: &str, span: crate::diag::Span, d: &mut Diagnostics) {
    if re.len() > MAX_PATTERN_BYTES {
        d.error(
            span,
            format!(
                "regex is {} bytes long; the limit is {MAX_PATTERN_BYTES} bytes",
                re.len()
            ),
        )
        .help = Some("split it over several listeners, or match less literally".into());
        return;
    }
    if let Err(e) = regex::RegexBuilder::new(re)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        let msg = match &e {
            regex::Error::CompiledTooBig(limit) => {
                format!("regex is too large (compiled size over {limit} bytes)")
            }
            other => format!(
                "invalid regex: {}",
                other.to_string().lines().last().unwrap_or("").trim()
            ),
        };
        d.error(span, msg);
    }
}

fn check_actions(l: &Listener, d: &mut Diagnostics, known: bool) {
    let mut kinds: Vec<&str> = l.events.iter().map(|e| e.value.kind.as_str()).collect();
    if l.schedule.is_some() {
        // A schedule's ticks are its events: `tick.*`, `schedule.name`, `digest.*`.
        kinds.push(SCHEDULE_KIND);
    }
    let non_message = only_messages(l).filter(|_| known);
    for a in &l.actions {
        let needs_message = match &a.value {
            Action::Reply {
                to: ReplyTo::Same | ReplyTo::Sender,
                ..
            } => Some("reply to the conversation or the sender"),
            Action::React { .. } => Some("react"),
            Action::Forward { .. } => Some("forward"),
            Action::Count { by } if by.iter().any(|k| *k != CountKey::Hour) => {
                Some("count by channel or sender")
            }
            Action::Webhook {
                reply_field: Some(_),
                ..
            } => Some("reply with a webhook's answer"),
            _ => None,
        };
        if let (Some(what), Some(other)) = (needs_message, non_message) {
            d.error(
                a.span.clone(),
                format!(
                    "actions that {what} need message events, but `{}` also listens to `{}`",
                    l.name.value, other.value.kind
                ),
            );
        }
        for t in templates(&a.value) {
            check_template(t, if known { &kinds } else { &[] }, l, d);
        }
        if let Action::Webhook {
            token_env: Some(env),
            ..
        } = &a.value
            && !is_env_name(env)
        {
            d.error(
                a.span.clone(),
                format!("`token_env` must name an environment variable, not {env:?}"),
            );
        }
        if let Action::Handler { function, .. } = &a.value
            && let Err(p) = handler_path(function)
        {
            d.error(a.span.clone(), p.message).help = p.help;
        }
        if let Action::React { emoji } = &a.value
            && (emoji.is_empty()
                || !emoji
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+' || c == '-'))
        {
            d.error(
                a.span.clone(),
                format!("emoji name {emoji:?} is not valid (e.g. \"tada\", \"+1\")"),
            );
        }
    }
}

/// A handler's path: Rust identifiers separated by `::` (`my_bot::on_deploy`).
pub fn handler_path(path: &str) -> Result<(), crate::model::Problem> {
    let ok = !path.is_empty()
        && path.split("::").all(|seg| {
            !seg.is_empty()
                && seg.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && syn::parse_str::<syn::Ident>(seg).is_ok()
        });
    if ok {
        Ok(())
    } else {
        Err(crate::model::Problem::new(format!(
            "handler {path:?} is not a path to a Rust function"
        ))
        .help("write `crate_name::module::function`, e.g. \"my_bot::on_deploy\""))
    }
}

/// Webhook URLs: a valid `https://` URL without credentials, to a public host unless
/// the action opts in with `allow_private`; `http://` only to this machine (loopback),
/// which needs the opt-in too. The error comes with what would be right.
pub fn webhook_url(raw: &str, allow_private: bool) -> Result<(), (String, Option<String>)> {
    let url = url::Url::parse(raw.trim()).map_err(|e| {
        (
            format!("webhook url {raw:?} is not a valid URL ({e})"),
            Some("write a whole URL, e.g. \"https://hooks.example.com/zulip\"".to_owned()),
        )
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err((
            "webhook urls must not carry credentials".into(),
            Some(
                "put a bearer token in an environment variable and name it with `token_env`".into(),
            ),
        ));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err((format!("webhook url {raw:?} has no host"), None));
    };
    let internal = zlc_ssrf::internal_host(host);
    let loopback = internal.is_some_and(|r| r.starts_with("loopback"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err((
                format!("webhook url {raw:?} uses http:// to a host that is not this machine"),
                Some("use https:// (plain http is allowed only to loopback, with `allow_private = true`)".into()),
            ));
        }
        other => {
            return Err((
                format!("webhook url scheme `{other}` is not supported"),
                Some("use https://".into()),
            ));
        }
    }
    match internal {
        Some(range) if !allow_private => Err((
            format!("webhook url {raw:?} points to a {range} address"),
            Some(
                "webhooks reach only public addresses unless the action opts in: add \
                 `allow_private = true` to this action if it is meant to reach a service on \
                 this machine or network"
                    .into(),
            ),
        )),
        _ => Ok(()),
    }
}

/// The templates an action carries.
pub fn templates(a: &Action) -> Vec<&Template> {
    match a {
        Action::Log { template } => template.iter().collect(),
        Action::Reply { to, template } => {
            let mut v = vec![template];
            if let ReplyTo::Channel { topic, .. } = to {
                v.push(topic);
            }
            v
        }
        Action::Forward { topic, .. } => topic.iter().collect(),
        Action::Webhook { body, .. } => body.iter().flatten().map(|(_, t)| t).collect(),
        Action::Count { .. } | Action::React { .. } | Action::Store | Action::Handler { .. } => {
            Vec::new()
        }
    }
}

/// The field of zlc's own answer to a message that runs no command.
pub const COMMAND_ANSWER: &str = "command.answer";
/// The name of zlc's own listener that gives those answers.
pub const COMMAND_HELP: &str = "help";

/// `args.NAME` in a template of listener `l`: an argument or flag of its command.
fn check_arg(arg: &str, span: &crate::diag::Span, l: &Listener, d: &mut Diagnostics) {
    let Some(c) = &l.command else {
        d.error(
            span.clone(),
            format!("`args.{arg}`: listener `{}` is not a command", l.name.value),
        )
        .help = Some("`args.*` are the arguments of a `command = \"...\"` listener".into());
        return;
    };
    let names: Vec<&str> = (c.value.args.iter().map(|a| a.name.as_str()))
        .chain(c.value.flags.iter().map(String::as_str))
        .collect();
    if !names.contains(&arg) {
        let mut msg = format!("command `{}` has no argument `{arg}`", c.value.name);
        if let Some(s) = suggest(arg, names.iter().copied()) {
            msg.push_str(&format!("; did you mean `args.{s}`?"));
        }
        d.error(span.clone(), msg).help = Some(if names.is_empty() {
            "it takes no arguments".into()
        } else {
            format!("its arguments: {}", names.join(", "))
        });
    }
}

fn check_template(t: &Template, kinds: &[&str], l: &Listener, d: &mut Diagnostics) {
    for seg in &t.segments {
        let Segment::Field(f) = seg else { continue };
        if let Some(arg) = f.value.strip_prefix("args.") {
            check_arg(arg, &f.span, l, d);
            continue;
        }
        if f.value == COMMAND_ANSWER && l.answers_commands
            || f.value.starts_with(conversations::FIELD)
        {
            continue;
        }
        match events::field(&f.value) {
            None => {
                let names: Vec<&str> = events::FIELDS.iter().map(|f| f.name).collect();
                let mut msg = format!("unknown template field `{}`", f.value);
                if let Some(s) = suggest(&f.value, names.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                d.error(f.span.clone(), msg).help = Some(format!("fields: {}", names.join(", ")));
            }
            Some(info) => {
                if let Some(types) = info.types
                    && let Some(missing) = kinds.iter().find(|k| !types.contains(k))
                {
                    let what = match *missing {
                        SCHEDULE_KIND => "a schedule's ticks have".to_owned(),
                        kind => format!("`{kind}` events have"),
                    };
                    d.error(f.span.clone(), format!("{what} no field `{}`", f.value))
                        .help = Some(format!("`{}` exists for: {}", f.value, types.join(", ")));
                }
            }
        }
    }
}
