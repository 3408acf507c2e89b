//! Checks that need the whole pipeline: names, realms, event types, filter and action
//! applicability, regexes and template fields. Every problem is collected.

use std::collections::HashMap;

use crate::diag::{Diagnostics, suggest};
use crate::events;
use crate::model::*;

/// The largest compiled size of one regex (the regex crate's own limit is 10 MiB).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Checks `p`, adding problems to `d`. Declares realm 1 (default credentials) when the
/// file declares none.
pub fn check(p: &mut Pipeline, d: &mut Diagnostics) {
    check_ident(&p.name, "pipeline name", d);
    if p.realms.is_empty() {
        p.realms.push(Realm {
            id: Sp::new(1, p.name.span.clone()),
            name: None,
            credentials: Credentials::Default,
            all_public_streams: false,
            span: p.name.span.clone(),
        });
    }
    let mut ids = HashMap::new();
    for r in &p.realms {
        if let Some(first) = ids.insert(r.id.value, r.id.span.clone()) {
            let (line, _) = d.line_col(first.start);
            d.error(
                r.id.span.clone(),
                format!(
                    "realm id {} is declared twice (first on line {line})",
                    r.id.value
                ),
            );
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
    let mut names: HashMap<&str, usize> = HashMap::new();
    if p.listeners.is_empty() {
        d.error(p.name.span.clone(), "the pipeline has no listeners")
            .help = Some("add a [[listener]] table with `name` and `events`".into());
    }
    for l in &p.listeners {
        check_ident(&l.name, "listener name", d);
        if let Some(first) = names.insert(&l.name.value, l.name.span.start) {
            let (line, _) = d.line_col(first);
            d.error(
                l.name.span.clone(),
                format!(
                    "listener `{}` is declared twice (first on line {line})",
                    l.name.value
                ),
            );
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
        check_events(l, d);
        check_filters(l, d);
        check_actions(l, d);
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
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

fn check_events(l: &Listener, d: &mut Diagnostics) {
    if l.events.is_empty() && !l.span.is_empty() {
        return;
    }
    for e in &l.events {
        let Some(ops) = events::ops_of(&e.value.kind) else {
            let types = events::types();
            let mut msg = format!("unknown event type `{}`", e.value.kind);
            if let Some(s) = suggest(&e.value.kind, types.iter().copied()) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            let groups: Vec<&str> = events::GROUPS.iter().map(|(g, _)| *g).collect();
            d.error(e.span.clone(), msg).help = Some(format!(
                "valid types: {}; groups: {}",
                types.join(", "),
                groups.join(", ")
            ));
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
}

fn only_messages(l: &Listener) -> Option<&Sp<EventSel>> {
    l.events.iter().find(|e| e.value.kind != "message")
}

fn check_filters(l: &Listener, d: &mut Diagnostics) {
    if let Some(other) = only_messages(l) {
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

fn check_regex(re: &str, span: crate::diag::Span, d: &mut Diagnostics) {
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

fn check_actions(l: &Listener, d: &mut Diagnostics) {
    let kinds: Vec<&str> = l.events.iter().map(|e| e.value.kind.as_str()).collect();
    let non_message = only_messages(l);
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
            check_template(t, &kinds, d);
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

/// Webhook URLs: https, or http to a loopback host only.
pub fn webhook_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("webhook url {url:?} has no scheme (https://...)"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_only = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let hostname = if host_only.starts_with('[') {
        host_only
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host_only.split(':').next().unwrap_or("").to_owned()
    };
    if hostname.is_empty() {
        return Err(format!("webhook url {url:?} has no host"));
    }
    if host.contains('@') {
        return Err("webhook urls must not carry credentials; use `token_env`".into());
    }
    match scheme {
        "https" => Ok(()),
        "http" if matches!(hostname.as_str(), "localhost" | "127.0.0.1" | "[::1]") => Ok(()),
        "http" => Err(format!(
            "webhook url {url:?} uses http:// to a non-loopback host; use https://"
        )),
        other => Err(format!(
            "webhook url scheme `{other}` is not supported; use https://"
        )),
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
        Action::Count { .. } | Action::React { .. } | Action::Store => Vec::new(),
    }
}

fn check_template(t: &Template, kinds: &[&str], d: &mut Diagnostics) {
    for seg in &t.segments {
        let Segment::Field(f) = seg else { continue };
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
                    d.error(
                        f.span.clone(),
                        format!("`{}` events have no field `{}`", missing, f.value),
                    )
                    .help = Some(format!("`{}` exists for: {}", f.value, types.join(", ")));
                }
            }
        }
    }
}
