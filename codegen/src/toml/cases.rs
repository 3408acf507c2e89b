//! `[[test]]` tables: a pipeline's test cases, read with the same care as its listeners
//! (every mistake, with its place) and turned into the JSON the binary's `test` command
//! runs (`zlc_runtime::pipetest`).
//!
//! ```toml
//! [[test]]
//! name = "a deploy gets a rocket"
//! event = [{ channel = "devel", topic = "ci", content = "deploy #12" }]
//! expect.matched = ["deploys"]
//! expect.reactions = ["rocket"]
//! ```

use serde_json::{Map, Value as Json, json};
use toml::de::{DeTable, DeValue};

use super::walker::{Value, Walker, get, type_name};
use crate::diag::Span;
use crate::model::{Sp, TestCase, keys};

/// What a test case refers to, collected while walking it.
#[derive(Default)]
struct Refs {
    listeners: Vec<Sp<String>>,
    files: Vec<Sp<String>>,
}

impl Walker {
    pub(super) fn test_case(&mut self, t: &DeTable<'_>, span: Span) -> Option<TestCase> {
        self.keys(t, keys::TEST, "[[test]]");
        let mut refs = Refs::default();
        let name = self.string(t, "name");
        if name.is_none() && get(t, "name").is_none() {
            self.d.error(span.clone(), "[[test]] has no `name`").help =
                Some("name what the case shows, e.g. `name = \"a deploy gets a rocket\"`".into());
        }
        let realm = self
            .uint(t, "realm", u32::MAX as i64)
            .map(|r| Sp::new(r.value as u32, r.span));
        let clock = self.clock(t);
        let events = self.test_events(t, &span, &mut refs);
        let http = self.listener_table(t, "http", &mut refs, |w, v| w.http_answers(v));
        let config = self.listener_table(t, "config", &mut refs, Self::test_config);
        let expect = match get(t, "expect") {
            Some(v) => match v.get_ref() {
                DeValue::Table(e) => self.expect(e, &mut refs),
                _ => {
                    self.wrong(v, "expect", "a table (`[test.expect]`)");
                    Json::Object(Map::new())
                }
            },
            None => {
                self.d.error(span.clone(), "[[test]] has no `expect`").help = Some(format!(
                    "say what must follow in `[test.expect]`: {}",
                    keys::EXPECT.join(", ")
                ));
                Json::Object(Map::new())
            }
        };
        let name = name?;
        let case = json!({
            "name": name.value,
            "realm": realm.as_ref().map(|r| r.value),
            "clock": clock,
            "events": events,
            "http": http,
            "config": config,
            "expect": expect,
        });
        Some(TestCase {
            name,
            json: case.to_string(),
            listeners: refs.listeners,
            realm,
            files: refs.files,
            span,
        })
    }

    /// A case's `[[test.event]]`s (one at least).
    fn test_events(&mut self, t: &DeTable<'_>, span: &Span, refs: &mut Refs) -> Vec<Json> {
        let Some(v) = get(t, "event") else {
            self.d.error(span.clone(), "[[test]] has no `event`").help = Some(
                "add `[[test.event]]` tables: a message (`channel`, `topic`, `content`, ...), `json = '{...}'`, `file = \"day.jsonl\"` or a Zulip event with its `type`".into(),
            );
            return Vec::new();
        };
        let mut events: Vec<Json> = Vec::new();
        for (e, espan) in self.entries(v, "test.event") {
            let event = if get(e, "clock").is_some() {
                self.keys(e, &["clock"], "a test `clock`");
                self.clock(e).map(|t| json!({ "clock": t }))
            } else if get(e, "edit").is_some() || get(e, "delete").is_some() {
                let sent = events.iter().filter(|e| e.get("message").is_some()).count();
                self.change_event(e, sent)
            } else {
                self.test_event(e, espan, refs)
            };
            events.extend(event);
        }
        events
    }

    /// One listener's `config` in a case: a table of strings.
    fn test_config(&mut self, v: &Value<'_>) -> Option<Json> {
        let DeValue::Table(c) = v.get_ref() else {
            let what = type_name(v.get_ref());
            let msg = format!("a listener's test `config` must be a table of strings, not {what}");
            self.d.error(v.span(), msg);
            return None;
        };
        let values = c.iter().filter_map(|(k, v)| match v.get_ref() {
            DeValue::String(s) => Some((k.get_ref().to_string(), json!(s.as_ref()))),
            other => {
                let msg = format!("config values must be strings, not {}", type_name(other));
                self.d.error(v.span(), msg);
                None
            }
        });
        Some(Json::Object(values.collect()))
    }

    /// An array of tables, or one table.
    fn entries<'a, 'i>(&mut self, v: &'a Value<'i>, key: &str) -> Vec<(&'a DeTable<'i>, Span)> {
        match v.get_ref() {
            DeValue::Table(t) => vec![(t, v.span())],
            _ => self.tables(v, key),
        }
    }

    fn test_event(&mut self, t: &DeTable<'_>, span: Span, refs: &mut Refs) -> Option<Json> {
        let has = |k: &str| get(t, k).is_some();
        let forms = ["json", "file", "type"].iter().filter(|k| has(k)).count();
        if forms > 1 || (forms == 1 && !has("type") && t.len() > 1) {
            self.d.error(
                span,
                "a test event is one of: a message (its fields), `json = '{...}'`, `file = \"...\"`, or a Zulip event with its `type`",
            );
            return None;
        }
        if let Some(s) = self.string(t, "json") {
            return match serde_json::from_str::<Json>(&s.value) {
                Ok(Json::Object(o)) if o.get("type").is_some_and(Json::is_string) => {
                    Some(json!({ "json": s.value }))
                }
                Ok(_) => {
                    self.d.error(
                        s.span,
                        "`json` must hold a Zulip event: an object with a `type`",
                    );
                    None
                }
                Err(e) => {
                    self.d
                        .error(s.span, format!("`json` is not valid JSON: {e}"));
                    None
                }
            };
        }
        if let Some(s) = self.string(t, "file") {
            refs.files.push(s.clone());
            return Some(json!({ "file": s.value }));
        }
        if has("type") {
            let event = self.json_of(t)?;
            if !event.get("type").is_some_and(Json::is_string) {
                self.d.error(span, "an event's `type` must be a string");
                return None;
            }
            return Some(json!({ "event": event }));
        }
        // A message, as the harness builds it.
        self.keys(t, keys::TEST_MESSAGE, "a test message");
        let mut m = Map::new();
        self.sender_role(t, &mut m);
        for key in ["channel", "topic", "sender", "sender_name", "content"] {
            if let Some(s) = self.string(t, key) {
                m.insert(key.into(), json!(s.value));
            }
        }
        for key in ["id", "channel_id", "sender_id", "timestamp"] {
            if let Some(v) = get(t, key)
                && let Some(n) = self.int_of(v, key)
            {
                m.insert(key.into(), json!(n));
            }
        }
        if let Some(b) = self.boolean(t, "mentioned") {
            m.insert("mentioned".into(), json!(b.value));
        }
        if let Some(groups) = self.strings(t, "sender_groups") {
            let names: Vec<String> = groups.into_iter().map(|g| g.value).collect();
            m.insert("sender_groups".into(), json!(names));
        }
        if let Some(to) = self.strings(t, "direct_to") {
            if m.contains_key("channel") || m.contains_key("topic") {
                self.d.error(
                    to[0].span.clone(),
                    "a message goes to a channel (`channel`, `topic`) or to people (`direct_to`), not both",
                );
            }
            m.insert(
                "direct_to".into(),
                json!(to.into_iter().map(|s| s.value).collect::<Vec<_>>()),
            );
        }
        Some(json!({ "message": m }))
    }

    /// A test message's `sender_role`, one of Zulip's roles.
    fn sender_role(&mut self, t: &DeTable<'_>, m: &mut Map<String, Json>) {
        let Some(r) = self.string(t, "sender_role") else {
            return;
        };
        if zlc_catalog::role_number(&r.value).is_some() {
            m.insert("sender_role".into(), json!(r.value));
        } else {
            self.d
                .error(r.span, format!("unknown role `{}`", r.value))
                .help = Some(format!("one of: {}", zlc_catalog::role_names()));
        }
    }

    /// A table keyed by listener name (`http`, `config`), each value read by `each`.
    fn listener_table(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        refs: &mut Refs,
        mut each: impl FnMut(&mut Self, &Value<'_>) -> Option<Json>,
    ) -> Json {
        let mut out = Map::new();
        let Some(v) = get(t, key) else {
            return Json::Object(out);
        };
        let DeValue::Table(entries) = v.get_ref() else {
            self.wrong(v, key, "a table keyed by listener name");
            return Json::Object(out);
        };
        for (k, v) in entries.iter() {
            refs.listeners
                .push(Sp::new(k.get_ref().to_string(), k.span()));
            if let Some(j) = each(self, v) {
                out.insert(k.get_ref().to_string(), j);
            }
        }
        Json::Object(out)
    }

    /// What a listener's HTTP calls are answered with, in turn: one answer, or an array
    /// of them (the last from then on). An answer is a body (a table, or JSON text), or
    /// `{ status = 503 }`, `{ delay = "10s" }`, `{ cut = true }` with an optional
    /// `body`.
    fn http_answers(&mut self, v: &Value<'_>) -> Option<Json> {
        let answers: Vec<Json> = match v.get_ref() {
            DeValue::Array(items) if items.is_empty() => {
                self.d
                    .error(v.span(), "an empty list of answers: give at least one");
                return None;
            }
            DeValue::Array(items) => items.iter().filter_map(|i| self.http_answer(i)).collect(),
            _ => vec![self.http_answer(v)?],
        };
        Some(Json::Array(answers))
    }

    /// One answer, as `{ "status", "body", "delay_ms", "cut" }`.
    fn http_answer(&mut self, v: &Value<'_>) -> Option<Json> {
        const SHAPE: &[&str] = &["status", "body", "delay", "cut"];
        let table = match v.get_ref() {
            DeValue::Table(t)
                if t.iter()
                    .any(|(k, _)| matches!(k.get_ref().as_ref(), "status" | "delay" | "cut")) =>
            {
                t
            }
            _ => return Some(json!({ "status": 200, "body": self.json_body(v)? })),
        };
        // A table with `status`, `delay` or `cut` says how the call is answered: its
        // body, if any, is under `body`.
        if let Some((k, _)) = table
            .iter()
            .find(|(k, _)| !SHAPE.contains(&k.get_ref().as_ref()))
        {
            self.d
                .error(
                    k.span(),
                    format!("`{}` beside `status`, `delay` or `cut`: an answer's body goes under `body`", k.get_ref()),
                )
                .help = Some(
                "e.g. `{ status = 503, body = { error = \"busy\" } }`; a body that has a `status` field of its own is written as JSON text".into(),
            );
            return None;
        }
        let status = match get(table, "status") {
            None => 200,
            Some(s) => match self.int_of(s, "status") {
                Some(n @ 100..=599) => n,
                Some(n) => {
                    self.d.error(
                        s.span(),
                        format!("`status` is an HTTP status code (100 to 599), not {n}"),
                    );
                    return None;
                }
                None => return None,
            },
        };
        let body = match get(table, "body") {
            Some(b) => self.json_body(b)?,
            None => json!({}),
        };
        let delay_ms = self.duration_ms(table, "delay").map_or(0, |d| d.value);
        let cut = self.boolean(table, "cut").is_some_and(|b| b.value);
        Some(json!({ "status": status, "body": body, "delay_ms": delay_ms, "cut": cut }))
    }

    /// An answer's body: a TOML value, or JSON text in a string.
    fn json_body(&mut self, v: &Value<'_>) -> Option<Json> {
        match v.get_ref() {
            DeValue::String(s) => match serde_json::from_str(s) {
                Ok(j) => Some(j),
                Err(e) => {
                    self.d
                        .error(v.span(), format!("the answer is not valid JSON: {e}"))
                        .help =
                        Some("write the answer as a TOML table, or JSON text in a string".into());
                    None
                }
            },
            _ => self.value_json(v),
        }
    }

    fn expect(&mut self, t: &DeTable<'_>, refs: &mut Refs) -> Json {
        self.keys(t, keys::EXPECT, "[test.expect]");
        let mut out = Map::new();
        let matched = self.expect_matched(t, refs);
        if !matched.is_empty() {
            out.insert("matched".into(), Json::Object(matched));
        }
        // Lists: (key, its entries' keys, the key a plain string stands for, the keys
        // each entry needs).
        let lists: [(&str, &[&str], &str, &[&str]); 7] = [
            ("messages", keys::EXPECT_MESSAGE, "text", &[]),
            ("edits", keys::EXPECT_MESSAGE, "text", &[]),
            ("deleted", keys::EXPECT_MESSAGE, "text", &[]),
            ("reactions", keys::EXPECT_REACTION, "emoji", &[]),
            ("webhooks", keys::EXPECT_WEBHOOK, "url", &[]),
            ("counts", keys::EXPECT_COUNT, "listener", &["listener", "n"]),
            (
                "state",
                keys::EXPECT_STATE,
                "listener",
                &["listener", "key", "value"],
            ),
        ];
        for (key, allowed, shorthand, required) in lists {
            let Some(v) = get(t, key) else { continue };
            let list = self.expect_list(v, key, allowed, shorthand, refs);
            for (entry, span) in &list {
                if keys::EXPECT_MESSAGE == allowed
                    && entry.get("text").is_some()
                    && entry.get("contains").is_some()
                {
                    self.d.error(
                        span.clone(),
                        "give `text` (all of it) or `contains` (a part), not both",
                    );
                }
                for r in required.iter().filter(|r| entry.get(**r).is_none()) {
                    let msg = format!("an `expect.{key}` entry needs `{r}`");
                    self.d.error(span.clone(), msg);
                }
            }
            let list = list.into_iter().map(|(m, _)| m).collect();
            out.insert(key.into(), Json::Array(list));
        }
        if get(t, "dead_letters").is_some() {
            let names = self.strings(t, "dead_letters").unwrap_or_default();
            out.insert(
                "dead_letters".into(),
                json!(names.iter().map(|n| &n.value).collect::<Vec<_>>()),
            );
            refs.listeners.extend(names);
        }
        Json::Object(out)
    }

    /// `matched`: names (at least once) or a table of exact numbers; `not_matched`:
    /// names (never). Both become one table: listener -> number or null.
    fn expect_matched(&mut self, t: &DeTable<'_>, refs: &mut Refs) -> Map<String, Json> {
        let mut matched = Map::new();
        match get(t, "matched").map(|v| v.get_ref()) {
            Some(DeValue::Table(counts)) => {
                for (k, n) in counts.iter() {
                    refs.listeners
                        .push(Sp::new(k.get_ref().to_string(), k.span()));
                    if let Some(n) = self.int_of(n, "matched")
                        && n >= 0
                    {
                        matched.insert(k.get_ref().to_string(), json!(n));
                    }
                }
            }
            Some(_) => {
                for name in self.strings(t, "matched").unwrap_or_default() {
                    matched.insert(name.value.clone(), Json::Null);
                    refs.listeners.push(name);
                }
            }
            None => {}
        }
        for name in self.strings(t, "not_matched").unwrap_or_default() {
            if matched.insert(name.value.clone(), json!(0)).is_some() {
                let msg = format!(
                    "`{}` is expected both to match and not to match",
                    name.value
                );
                self.d.error(name.span.clone(), msg);
            }
            refs.listeners.push(name);
        }
        matched
    }

    /// An array of expectations: tables with `allowed` keys, or plain strings that
    /// stand for `shorthand`.
    fn expect_list(
        &mut self,
        v: &Value<'_>,
        key: &str,
        allowed: &[&str],
        shorthand: &str,
        refs: &mut Refs,
    ) -> Vec<(Json, Span)> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong(v, key, "an array (`[]` for none)");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => {
                    let s = if shorthand == "emoji" {
                        crate::model::emoji_name(s)
                    } else {
                        s.to_string()
                    };
                    out.push((json!({ shorthand: s }), item.span()));
                }
                DeValue::Table(e) => {
                    self.keys(e, allowed, &format!("an `expect.{key}` entry"));
                    let Some(Json::Object(mut m)) = self.json_of(e) else {
                        continue;
                    };
                    m.retain(|k, _| allowed.contains(&k.as_str()));
                    for (k, v) in e.iter() {
                        let k = k.get_ref();
                        let expected = match k.as_ref() {
                            "n" | "message_id" => "an integer",
                            "body" => "",
                            _ => "a string",
                        };
                        let ok = matches!(
                            (expected, v.get_ref()),
                            ("", _)
                                | ("an integer", DeValue::Integer(_))
                                | ("a string", DeValue::String(_))
                        );
                        if !ok && allowed.contains(&k.as_ref()) {
                            self.wrong(v, k, expected);
                            m.remove(k.as_ref());
                        }
                        if k == "listener"
                            && let DeValue::String(s) = v.get_ref()
                        {
                            refs.listeners.push(Sp::new(s.to_string(), v.span()));
                        }
                        if k == "emoji"
                            && let Some(Json::String(e)) = m.get_mut("emoji")
                        {
                            *e = crate::model::emoji_name(e);
                        }
                    }
                    out.push((Json::Object(m), item.span()));
                }
                other => {
                    self.d.error(
                        item.span(),
                        format!(
                            "`expect.{key}` entries must be tables or strings, not {}",
                            type_name(other)
                        ),
                    );
                }
            }
        }
        out
    }

    /// A TOML table as JSON.
    fn json_of(&mut self, t: &DeTable<'_>) -> Option<Json> {
        let mut m = Map::new();
        for (k, v) in t.iter() {
            m.insert(k.get_ref().to_string(), self.value_json(v)?);
        }
        Some(Json::Object(m))
    }

    /// A TOML value as JSON (datetimes become strings).
    fn value_json(&mut self, v: &Value<'_>) -> Option<Json> {
        Some(match v.get_ref() {
            DeValue::String(s) => json!(s.as_ref()),
            DeValue::Integer(_) => json!(self.int_of(v, "value")?),
            DeValue::Float(f) => {
                match f
                    .as_str()
                    .replace('_', "")
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(n) => Json::Number(n),
                    None => {
                        self.d.error(v.span(), "JSON has no infinities or NaN");
                        return None;
                    }
                }
            }
            DeValue::Boolean(b) => json!(b),
            DeValue::Datetime(d) => json!(d.to_string()),
            DeValue::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|i| self.value_json(i))
                    .collect::<Option<_>>()?,
            ),
            DeValue::Table(t) => self.json_of(t)?,
        })
    }
}

/// Checks what a pipeline's test cases refer to: names unique, listeners and realms
/// declared.
pub fn check(p: &crate::model::Pipeline, d: &mut crate::diag::Diagnostics) {
    let names: Vec<&str> = p.listeners.iter().map(|l| l.name.value.as_str()).collect();
    let mut seen = std::collections::HashMap::new();
    for case in &p.tests {
        if let Some(first) = seen.insert(case.name.value.as_str(), case.name.span.clone()) {
            d.error(
                case.name.span.clone(),
                format!("test `{}` is declared twice", case.name.value),
            )
            .related(first, "first");
        }
        for l in &case.listeners {
            if !names.contains(&l.value.as_str()) {
                let message = match crate::diag::suggest(&l.value, names.iter().copied()) {
                    Some(s) => format!(
                        "test `{}` names listener `{}`, which the pipeline does not have; did you mean `{s}`?",
                        case.name.value, l.value
                    ),
                    None => format!(
                        "test `{}` names listener `{}`, which the pipeline does not have",
                        case.name.value, l.value
                    ),
                };
                d.error(l.span.clone(), message).help =
                    Some(format!("listeners: {}", names.join(", ")));
            }
        }
        if let Some(r) = &case.realm
            && !p.realms.iter().any(|realm| realm.id.value == r.value)
        {
            d.error(r.span.clone(), format!("realm {} is not declared", r.value));
        }
    }
}
