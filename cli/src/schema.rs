//! `zlc schema`: a JSON Schema (draft 7) of the pipeline file, for editors that read
//! one (taplo, Even Better TOML: a `#:schema PATH` comment on a file's first line).
//!
//! It cannot drift from the compiler: its tables and keys are the compiler's own lists
//! (`zlc_codegen::model::keys`), every table refuses other keys, and a test fails when
//! a key has no type here or no description in the README, where the descriptions
//! come from (its key tables, compiled in).

use serde_json::{Map, Value, json};
use zlc_codegen::model::keys;

const README: &str = include_str!("../../README.md");

/// The file name `zlc new pipeline` writes the schema to, beside the pipeline.
pub const FILE_NAME: &str = "pipeline.schema.json";

/// The schema, as pretty JSON text (what `zlc schema` prints).
pub fn text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// The schema of a pipeline file.
pub fn schema() -> Value {
    let mut policy_listener: Vec<&str> = keys::LISTENER.to_vec();
    policy_listener.extend_from_slice(keys::POLICY);
    let mut policy_schedule: Vec<&str> = keys::SCHEDULE.to_vec();
    policy_schedule.extend_from_slice(keys::POLICY);
    let props = json!({
        "pipeline": table(Table::Pipeline, keys::PIPELINE, &["name"]),
        "crates": {
            "description": "Rust crates whose functions the pipeline's listeners run: `name = \"folder\"` (relative to this file).",
            "type": "object",
            "additionalProperties": { "type": "string" },
        },
        "realm": array_of(table(Table::Realm, keys::REALM, &["id"])),
        "store": table(Table::Store, keys::STORE, &[]),
        "defaults": table(Table::Policy, keys::POLICY, &[]),
        "listener": array_of(table(Table::Listener, &policy_listener, &["name"])),
        "schedule": array_of(table(Table::Schedule, &policy_schedule, &["name", "action"])),
        "test": array_of(table(Table::Test, keys::TEST, &["name", "event"])),
    });
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "zlc pipeline file",
        "description": "Listeners of Zulip events, compiled by zlc (`zlc build FILE`).",
        "type": "object",
        "required": ["pipeline"],
        "additionalProperties": false,
        "properties": props,
    })
}

/// The parts of a pipeline file the README describes in a table of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Pipeline,
    Realm,
    Store,
    Policy,
    Listener,
    Action,
    Schedule,
    Test,
    Expect,
}

impl Table {
    /// The README's heading over the table.
    fn section(self) -> &'static str {
        match self {
            Table::Pipeline => "### `[pipeline]`",
            Table::Realm => "### `[[realm]]`",
            Table::Store => "### `[store]`",
            Table::Policy => "### `[defaults]`",
            Table::Listener => "### `[[listener]]`",
            Table::Action => "### `[[listener.action]]`",
            Table::Schedule => "### Schedules",
            Table::Test | Table::Expect => "## Testing pipelines",
        }
    }
}

/// An object with `keys` (each typed by [`key_schema`] and described by the README),
/// no others, and `required` ones.
fn table(t: Table, keys: &[&str], required: &[&str]) -> Value {
    let mut props = Map::new();
    for k in keys {
        let mut s = key_schema(t, k).unwrap_or_else(|| json!({}));
        let doc = describe(t, k).or_else(|| {
            matches!(t, Table::Listener | Table::Schedule)
                .then(|| describe(Table::Policy, k))
                .flatten()
        });
        if let (Some(doc), Some(obj)) = (doc, s.as_object_mut()) {
            obj.insert("description".into(), doc.into());
        }
        props.insert((*k).to_owned(), s);
    }
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": props,
    })
}

/// A table, or an array of them (`[[x]]` or `x = [{...}]`).
fn array_of(item: Value) -> Value {
    json!({ "type": "array", "items": item })
}

fn one_or_many(item: Value) -> Value {
    json!({ "anyOf": [item.clone(), { "type": "array", "items": item }] })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

fn count(max: u64) -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": max })
}

/// `"10s"`, `"1m"`, `"250ms"`, ...
fn duration() -> Value {
    json!({ "type": "string", "pattern": r"^\s*[0-9]+\s*[a-z]*\s*$" })
}

fn name_or_id() -> Value {
    json!({ "anyOf": [{ "type": "string" }, { "type": "integer", "minimum": 0 }] })
}

fn strings_table() -> Value {
    json!({ "type": "object", "additionalProperties": { "type": "string" } })
}

/// An object whose keys are among `keys`.
fn entry(keys: &[&str]) -> Value {
    json!({ "type": "object", "propertyNames": { "enum": keys } })
}

/// The type of key `k` of table `t`; `None` for a key the schema does not know, which
/// a test turns into a failure.
fn key_schema(t: Table, k: &str) -> Option<Value> {
    use Table::*;
    Some(match (t, k) {
        (_, "name" | "description" | "zuliprc" | "site" | "email" | "api_key_env") => string(),
        (Pipeline, "conversation_timeout") => duration(),
        (Pipeline, "command_prefix") => json!({ "type": "string", "pattern": r"^\S+$" }),
        (Listener, "command") => json!({ "type": "string", "pattern": r"^\s*[a-z]" }),
        (Listener, "allowed") => one_or_many(json!({ "anyOf": [
            { "type": "string", "pattern": r"^(role:(owner|admin|moderator|member|guest)|group:\S.*|[^\s@]+@\S+)$" },
            { "type": "integer" },
        ] })),
        (Store, "url" | "url_env" | "password_env" | "password_file") => string(),
        (Store, "event_log") => json!({ "enum": ["none", "failures", "all"] }),
        (Realm, "id") => count(u64::from(u32::MAX)),
        (Realm, "all_public_streams") => boolean(),
        (Realm, "narrow") => one_or_many(string()),
        (Realm, "source") => json!({ "enum": ["poll", "push"] }),
        (Realm, "token_env") => json!({ "type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$" }),
        (Policy | Listener, "timeout" | "backoff" | "backoff_max" | "breaker_cooldown") => {
            duration()
        }
        (Policy | Listener, "retries") => count(100),
        (Policy | Listener, "breaker_threshold" | "max_in_flight") => count(1_000_000),
        (Policy | Listener, "concurrency") => count(10_000),
        (Policy | Listener, "ordered") => boolean(),
        (Policy | Listener, "limit_per_conversation" | "limit_per_sender") => string(),
        (Listener, "events" | "topics") => one_or_many(string()),
        (Listener, "realms") => one_or_many(count(u64::from(u32::MAX))),
        (Listener, "channels" | "senders") => one_or_many(name_or_id()),
        (Listener, "message_type") => {
            json!({ "enum": ["channel", "direct", "stream", "private", "dm"] })
        }
        (Listener, "enabled" | "mentioned" | "exclude_bots" | "include_own" | "allow_private") => {
            boolean()
        }
        (Listener, "in_state" | "next_state") => {
            json!({ "type": "string", "pattern": "^[a-z][a-z0-9_]*$" })
        }
        (Listener, "remember") => json!({ "anyOf": [string(), strings_table()] }),
        (Listener, "on_edit") => json!({ "enum": ["update", "ignore"] }),
        (Listener, "on_delete") => json!({ "enum": ["delete", "keep"] }),
        (Listener, "content" | "handler") => string(),
        (Schedule, "every" | "cron" | "timezone" | "digest_of") => string(),
        (Schedule, "catch_up") => json!({ "enum": ["once", "skip"] }),
        (Schedule, "realm") => count(u64::from(u32::MAX)),
        (Schedule, "enabled") => boolean(),
        (Schedule, "config") => strings_table(),
        (Schedule, "action") => one_or_many(action()),
        (Schedule, k) if keys::POLICY.contains(&k) => return key_schema(Policy, k),
        (Listener, "max_age") => duration(),
        (Listener, "config") => strings_table(),
        (Listener, "action") => one_or_many(action()),
        (Test, "realm") => count(u64::from(u32::MAX)),
        (Test, "clock") => string(),
        (Test, "event") => one_or_many(test_event()),
        (Test, "http" | "config") => json!({ "type": "object" }),
        (Test, "expect") => table(Expect, keys::EXPECT, &[]),
        (Expect, "matched") => json!({ "anyOf": [
            { "type": "array", "items": { "type": "string" } },
            { "type": "object", "additionalProperties": { "type": "integer", "minimum": 0 } },
        ] }),
        (Expect, "not_matched" | "dead_letters") => {
            json!({ "type": "array", "items": { "type": "string" } })
        }
        (Expect, "messages" | "edits" | "deleted") => array_of(entry(keys::EXPECT_MESSAGE)),
        (Expect, "reactions") => array_of(json!({ "anyOf": [
            { "type": "string" },
            entry(keys::EXPECT_REACTION),
        ] })),
        (Expect, "webhooks") => array_of(entry(keys::EXPECT_WEBHOOK)),
        (Expect, "counts") => array_of(entry(keys::EXPECT_COUNT)),
        (Expect, "state") => array_of(entry(keys::EXPECT_STATE)),
        _ => return None,
    })
}

/// The type of key `k` of an action (any type).
fn action_key(k: &str) -> Option<Value> {
    Some(match k {
        "type" => json!({ "enum": keys::ACTION_TYPES }),
        "by" => one_or_many(json!({ "enum": ["channel", "sender", "hour"] })),
        "to" => json!({ "enum": ["same", "sender", "channel"] }),
        "template" | "channel" | "topic" | "emoji" | "url" | "token_env" | "reply_field"
        | "function" => string(),
        "body" => strings_table(),
        "allow_private" => boolean(),
        _ => return None,
    })
}

/// `[[listener.action]]`: a `type`, and only that type's keys.
fn action() -> Value {
    let mut all: Vec<&str> = Vec::new();
    let mut per_type = Vec::new();
    for kind in keys::ACTION_TYPES {
        let allowed = keys::action(kind).unwrap_or(&[]);
        for k in allowed {
            if !all.contains(k) {
                all.push(k);
            }
        }
        let mut then = json!({ "propertyNames": { "enum": allowed } });
        if let (Some(doc), Some(o)) = (describe(Table::Action, kind), then.as_object_mut()) {
            o.insert("description".into(), doc.into());
        }
        per_type.push(json!({
            "if": { "properties": { "type": { "const": kind } } },
            "then": then,
        }));
    }
    let props: Map<String, Value> = all
        .iter()
        .map(|k| ((*k).to_owned(), action_key(k).unwrap_or_else(|| json!({}))))
        .collect();
    json!({
        "type": "object",
        "required": ["type"],
        "additionalProperties": false,
        "properties": props,
        "allOf": per_type,
    })
}

/// A `[[test.event]]`: a message by its fields, an edit or deletion of one, or a Zulip
/// event (`type`), JSON text (`json`) or a recording (`file`), whose keys are Zulip's.
fn test_event() -> Value {
    let other = json!({ "anyOf": [
        { "required": ["type"] }, { "required": ["json"] }, { "required": ["file"] },
        { "required": ["edit"] }, { "required": ["delete"] }, { "required": ["clock"] },
    ] });
    let nth = json!({ "type": "integer", "minimum": 1 });
    json!({
        "type": "object",
        "if": { "not": other },
        "then": { "propertyNames": { "enum": keys::TEST_MESSAGE } },
        "else": { "anyOf": [
            { "not": { "anyOf": [{ "required": ["edit"] }, { "required": ["delete"] }, { "required": ["clock"] }] } },
            {
                "required": ["clock"],
                "properties": { "clock": { "type": "string" } },
                "additionalProperties": false,
            },
            {
                "required": ["edit", "content"],
                "properties": { "edit": nth, "content": { "type": "string" } },
                "additionalProperties": false,
            },
            {
                "required": ["delete"],
                "properties": { "delete": nth },
                "additionalProperties": false,
            },
        ] },
    })
}

/// The README's description of key `k` in the table of `t`: the last cell of the row
/// whose first cell names it (`` `k` ``), with a policy's built-in value added.
fn describe(t: Table, k: &str) -> Option<String> {
    let heading = t.section();
    let start = README.find(&format!("\n{heading}"))? + 1;
    let level = heading.split(' ').next().unwrap_or("##");
    let body = &README[start..];
    let end = body[1..]
        .match_indices("\n#")
        .find(|(i, _)| {
            let line = &body[i + 2..];
            let hashes = line.chars().take_while(|c| *c == '#').count();
            hashes <= level.len() && line[hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(i, _)| i + 1);
    let wanted = format!("`{k}`");
    let mut in_expect = false;
    for line in body[..end].lines() {
        if line.starts_with("| `expect.` key") {
            in_expect = true;
        } else if line.starts_with("| `[[test]]` key") {
            in_expect = false;
        }
        if matches!(t, Table::Test | Table::Expect) && in_expect != (t == Table::Expect) {
            continue;
        }
        let Some(row) = line.strip_prefix('|') else {
            continue;
        };
        let cells: Vec<&str> = row
            .trim_end()
            .trim_end_matches('|')
            .split(" | ")
            .map(str::trim)
            .collect();
        let Some(first) = cells.first() else { continue };
        let names = first.split(", ").any(|n| n == wanted);
        if !names || cells.len() < 2 {
            continue;
        }
        let meaning = cells[cells.len() - 1].to_owned();
        return Some(match (t, cells.len()) {
            (Table::Policy, 3) => format!("{meaning} (default: {})", cells[1]),
            (Table::Action, 3) => format!("{meaning}; keys: {}", cells[1]),
            _ => meaning,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (table, its keys) for every table whose keys the README describes one by one.
    fn described() -> Vec<(Table, Vec<&'static str>)> {
        vec![
            (Table::Pipeline, keys::PIPELINE.to_vec()),
            (Table::Schedule, keys::SCHEDULE.to_vec()),
            (Table::Realm, keys::REALM.to_vec()),
            (Table::Store, keys::STORE.to_vec()),
            (Table::Policy, keys::POLICY.to_vec()),
            (Table::Listener, keys::LISTENER.to_vec()),
            (Table::Action, keys::ACTION_TYPES.to_vec()),
            (Table::Test, keys::TEST.to_vec()),
            (Table::Expect, keys::EXPECT.to_vec()),
        ]
    }

    #[test]
    fn every_key_the_compiler_takes_has_a_type_and_a_description() {
        let mut missing = Vec::new();
        for (t, ks) in described() {
            for k in ks {
                let typed = t == Table::Action || key_schema(t, k).is_some();
                let doc = describe(t, k)
                    .or_else(|| (t == Table::Listener).then(|| describe(Table::Policy, k))?);
                if !typed || doc.is_none() {
                    missing.push(format!("{t:?}.{k} (type: {typed}, doc: {})", doc.is_some()));
                }
            }
        }
        for kind in keys::ACTION_TYPES {
            for k in keys::action(kind).unwrap_or(&[]) {
                if action_key(k).is_none() {
                    missing.push(format!("action {kind}.{k}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "no type or README description: {missing:?}"
        );
        assert_eq!(
            describe(Table::Policy, "retries")
                .unwrap()
                .split(" (default")
                .nth(1),
            Some(": `3`)")
        );
        assert!(
            describe(Table::Expect, "messages")
                .unwrap()
                .contains("in order")
        );
        assert!(describe(Table::Test, "name").unwrap().contains("unique"));
    }

    fn root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The problems boon finds in the TOML `text` against the schema.
    fn validate(text: &str) -> Result<(), String> {
        let doc: Value = toml::from_str::<toml::Table>(text)
            .map(|t| serde_json::to_value(t).unwrap())
            .map_err(|e| e.to_string())?;
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource("pipeline.schema.json", schema())
            .unwrap();
        let id = compiler
            .compile("pipeline.schema.json", &mut schemas)
            .map_err(|e| format!("the schema itself: {e:#}"))?;
        schemas.validate(&doc, id).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn the_committed_schema_is_what_zlc_schema_prints() {
        let path = root().join("pipelines").join(FILE_NAME);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text(),
            "{} is out of date: run `cargo run -p zlc -- schema > {}`",
            path.display(),
            path.display()
        );
    }

    #[test]
    fn every_example_pipeline_and_the_scaffold_name_the_schema_and_pass_it() {
        let mut files: Vec<_> = std::fs::read_dir(root().join("pipelines"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        assert!(files.len() >= 10, "{files:?}");
        let scaffold = crate::compile::scaffold("demo");
        let mut texts: Vec<(String, String)> = files
            .iter()
            .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
            .collect();
        texts.push(("the scaffold".into(), scaffold));
        for (name, text) in texts {
            assert!(
                text.starts_with("#:schema ./pipeline.schema.json\n"),
                "{name} does not name the schema on its first line"
            );
            if let Err(e) = validate(&text) {
                panic!("{name} fails the schema: {e}");
            }
        }
    }

    #[test]
    fn a_misspelt_key_or_a_wrong_type_fails_the_schema() {
        let base = "[pipeline]\nname = \"p\"\n\n[[listener]]\nname = \"l\"\nevents = \"message\"\n";
        assert_eq!(validate(base), Ok(()));
        let cases = [
            ("chanels = [\"general\"]\n", "'chanels' not allowed"),
            ("retries = \"3\"\n", "/retries"),
            ("message_type = \"public\"\n", "/message_type"),
            (
                "[[listener.action]]\ntype = \"count\"\nemoji = \"tada\"\n",
                "invalid property 'emoji'",
            ),
            ("[[listener.action]]\ntype = \"shout\"\n", "/action/0/type"),
        ];
        for (extra, word) in cases {
            let err = validate(&format!("{base}{extra}")).unwrap_err();
            assert!(err.contains(word), "{extra}: {err}");
        }
        assert!(validate("[pipelines]\nname = \"p\"\n").is_err());
        assert!(validate("[pipeline]\n").is_err(), "name is required");
    }
}
