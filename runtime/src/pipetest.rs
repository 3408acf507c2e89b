//! A pipeline's own test cases (`[[test]]` in its file), run by `zlc test` through the
//! binary's hidden `test` command.
//!
//! `zlc` reads and checks the cases with the pipeline (`zlc-codegen` turns each into
//! the JSON [`Case`] reads), the binary runs each on a fresh [`Harness`] — its own
//! dispatch and executor, Zulip posts and HTTP calls recorded, nothing on the network —
//! and reports every expectation as lines of what was expected and what happened
//! ([`CaseReport`]), which `zlc` prints with a diff.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::harness::{Harness, HarnessOptions, MessageSpec};
use crate::jobs::engine::Code;
use crate::jobs::outbox::Effect;
use crate::pipeline::PipelineDesc;

/// One test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Its name.
    pub name: String,
    /// The realm connection its events come from (default: the pipeline's first).
    #[serde(default)]
    pub realm: Option<u32>,
    /// The events, in order.
    pub events: Vec<Input>,
    /// What each listener's HTTP calls are answered with, in turn (the last from then
    /// on; default: `{}` with a 200).
    #[serde(default)]
    pub http: BTreeMap<String, Vec<crate::jobs::outbox::Answer>>,
    /// Config overrides per listener.
    #[serde(default)]
    pub config: BTreeMap<String, BTreeMap<String, String>>,
    /// What must follow.
    #[serde(default)]
    pub expect: Expect,
}

/// Events of a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// A message, built by the harness.
    Message(MessageSpec),
    /// One Zulip event as JSON text.
    Json(String),
    /// A JSONL file (as `zlc tail` writes, optionally gzipped): one event per line.
    File(PathBuf),
    /// One Zulip event.
    Event(Value),
    /// The case's `message`th message (from 1) edited by its sender.
    Edit {
        /// Which message.
        message: usize,
        /// Its new content.
        content: String,
    },
    /// The case's `message`th message (from 1) deleted.
    Delete {
        /// Which message.
        message: usize,
    },
}

/// What must follow. Absent parts are not checked; a list given is checked whole, in
/// order (`[]`: nothing at all).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Listener -> how many events it matched (`None`: at least one).
    #[serde(default)]
    pub matched: BTreeMap<String, Option<u64>>,
    /// The messages sent.
    #[serde(default)]
    pub messages: Option<Vec<MessageExpect>>,
    /// Earlier messages updated, in order (their new content).
    #[serde(default)]
    pub edits: Option<Vec<MessageExpect>>,
    /// Earlier messages deleted, in order (what they said).
    #[serde(default)]
    pub deleted: Option<Vec<MessageExpect>>,
    /// The reactions added.
    #[serde(default)]
    pub reactions: Option<Vec<ReactionExpect>>,
    /// The webhook (and handler HTTP) calls made.
    #[serde(default)]
    pub webhooks: Option<Vec<WebhookExpect>>,
    /// Counts kept by `count` actions and `Context::count`.
    #[serde(default)]
    pub counts: Vec<CountExpect>,
    /// Listeners' state.
    #[serde(default)]
    pub state: Vec<StateExpect>,
    /// The listeners whose events ended as dead letters, in order.
    #[serde(default)]
    pub dead_letters: Option<Vec<String>>,
}

/// A message that must be sent. Unset fields match anything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageExpect {
    /// Where: `#channel > topic`, or a direct message's recipients (emails).
    pub to: Option<String>,
    /// All of the content.
    pub text: Option<String>,
    /// A part of the content.
    pub contains: Option<String>,
    /// The listener that sent it.
    pub listener: Option<String>,
}

/// A reaction that must be added.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionExpect {
    /// The emoji's name.
    pub emoji: String,
    /// The message reacted to.
    pub message_id: Option<i64>,
    /// The listener.
    pub listener: Option<String>,
}

/// An HTTP call that must be made.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookExpect {
    /// The listener.
    pub listener: Option<String>,
    /// The URL.
    pub url: Option<String>,
    /// The method.
    pub method: Option<String>,
    /// What the body must contain (objects: these keys with these values).
    pub body: Option<Value>,
}

/// A count.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountExpect {
    /// The listener.
    pub listener: String,
    /// The number: the sum of the matching groups.
    pub n: i64,
    /// Only this channel's group (a `count` action with `by = ["channel"]`).
    pub channel: Option<String>,
    /// Only this sender's group.
    pub sender: Option<String>,
    /// A named counter (`Context::count`) instead of the `count` action's.
    pub name: Option<String>,
}

/// A state value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateExpect {
    /// The listener.
    pub listener: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// How one case went.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// Every check passed and nothing went wrong.
    pub passed: bool,
    /// Each expectation, checked.
    pub checks: Vec<Check>,
    /// What stopped the case (an unreadable events file, a bad event), if anything.
    pub error: Option<String>,
    /// Everything the listeners did, in order.
    pub effects: Vec<Effect>,
}

/// One expectation, checked: one line per expected item and per actual one. Where an
/// item matched, its expected line is the actual one, so a diff shows only what differs.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `matched`, `messages`, `reactions`, `webhooks`, `counts`, `state`, `dead_letters`.
    pub what: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// What was expected.
    pub expected: Vec<String>,
    /// What happened.
    pub actual: Vec<String>,
}

/// Runs `cases`, each on a fresh harness.
pub async fn run_cases(
    pipeline: &'static PipelineDesc,
    code: Code,
    cases: Vec<Case>,
) -> Vec<CaseReport> {
    let mut reports = Vec::with_capacity(cases.len());
    for case in cases {
        reports.push(run_case(pipeline, code, case).await);
    }
    reports
}

async fn run_case(pipeline: &'static PipelineDesc, code: Code, case: Case) -> CaseReport {
    let mut report = CaseReport {
        name: case.name.clone(),
        passed: false,
        checks: Vec::new(),
        error: None,
        effects: Vec::new(),
    };
    match run(pipeline, code, &case).await {
        Ok((checks, effects)) => {
            report.passed = checks.iter().all(|c| c.passed);
            report.checks = checks;
            report.effects = effects;
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report
}

async fn run(
    pipeline: &'static PipelineDesc,
    code: Code,
    case: &Case,
) -> Result<(Vec<Check>, Vec<Effect>)> {
    let mut opts = HarnessOptions::default().record_http();
    opts.realm = case
        .realm
        .or_else(|| pipeline.realms.first().map(|r| r.id))
        .unwrap_or(1);
    for (listener, settings) in &case.config {
        for (k, v) in settings {
            opts = opts.config(listener, k, v);
        }
    }
    let mut h = Harness::new(pipeline, code, opts).await?;
    for (listener, answer) in &case.http {
        h.recorder().answer_in_turn(listener, answer.clone());
    }
    let mut sent: Vec<i64> = Vec::new();
    let nth = |sent: &[i64], n: usize| {
        sent.get(n.wrapping_sub(1)).copied().ok_or_else(|| {
            Error::Config(format!(
                "the case has no message {n} (it sent {})",
                sent.len()
            ))
        })
    };
    for input in &case.events {
        match input {
            Input::Message(spec) => sent.push(h.send(spec.clone()).await?),
            Input::Edit { message, content } => h.edit(nth(&sent, *message)?, content).await?,
            Input::Delete { message } => h.delete(nth(&sent, *message)?).await?,
            Input::Json(text) => {
                let v: Value = serde_json::from_str(text)
                    .map_err(|e| Error::Config(format!("an event is not valid JSON: {e}")))?;
                h.feed([v]).await?;
            }
            Input::Event(v) => h.feed([v.clone()]).await?,
            Input::File(path) => feed_file(&mut h, path).await?,
        }
    }
    let effects = h.effects();
    let mut checks = Vec::new();
    let e = &case.expect;
    if !e.matched.is_empty() {
        checks.push(matched(&h, &e.matched));
    }
    if let Some(want) = &e.messages {
        checks.push(messages("messages", &effects, want));
    }
    if let Some(want) = &e.edits {
        checks.push(messages("edits", &effects, want));
    }
    if let Some(want) = &e.deleted {
        checks.push(messages("deleted", &effects, want));
    }
    if let Some(want) = &e.reactions {
        checks.push(reactions(&effects, want));
    }
    if let Some(want) = &e.webhooks {
        checks.push(webhooks(&effects, want));
    }
    if !e.counts.is_empty() {
        checks.push(counts(&h, pipeline.name, &e.counts).await?);
    }
    if !e.state.is_empty() {
        checks.push(state(&h, &e.state).await?);
    }
    if let Some(want) = &e.dead_letters {
        checks.push(dead_letters(&h, want).await?);
    }
    Ok((checks, effects))
}

/// Feeds a recording in slices, so a day's file is not one batch.
async fn feed_file(h: &mut Harness, path: &std::path::Path) -> Result<()> {
    use std::io::Read;
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut out)
            .map_err(|source| Error::Io {
                path: name.clone(),
                source,
            })?;
        out
    } else {
        String::from_utf8(bytes).map_err(|_| Error::Config(format!("{name} is not UTF-8 text")))?
    };
    let lines: Vec<&str> = text.lines().collect();
    for slice in lines.chunks(1000) {
        h.feed_json_lines(&slice.join("\n")).await?;
    }
    Ok(())
}

/// Compares lists item by item: `matches(expected, actual)` decides, `show` renders.
fn compare<E, A>(
    what: &'static str,
    expected: &[E],
    actual: &[A],
    matches: impl Fn(&E, &A) -> bool,
    show_expected: impl Fn(&E) -> String,
    show_actual: impl Fn(&A) -> String,
) -> Check {
    let mut passed = expected.len() == actual.len();
    let expected_lines = expected
        .iter()
        .enumerate()
        .map(|(i, e)| match actual.get(i) {
            Some(a) if matches(e, a) => show_actual(a),
            _ => {
                passed = false;
                show_expected(e)
            }
        })
        .collect();
    Check {
        what,
        passed,
        expected: expected_lines,
        actual: actual.iter().map(show_actual).collect(),
    }
}

fn or_any(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("*")
}

fn matched(h: &Harness, want: &BTreeMap<String, Option<u64>>) -> Check {
    let want: Vec<(&String, &Option<u64>)> = want.iter().collect();
    let actual: Vec<(&String, u64)> = want.iter().map(|(l, _)| (*l, h.matched(l))).collect();
    compare(
        "matched",
        &want,
        &actual,
        |(_, n), (_, got)| n.map_or(*got > 0, |n| n == *got),
        |(l, n)| match n {
            Some(n) => format!("{l}: {n}"),
            None => format!("{l}: at least 1"),
        },
        |(l, got)| format!("{l}: {got}"),
    )
}

/// Messages sent (`what`: "messages"), updated ("edits") or deleted ("deleted").
fn messages(what: &'static str, effects: &[Effect], want: &[MessageExpect]) -> Check {
    let sent: Vec<(&str, &str, &str)> = effects
        .iter()
        .filter_map(|e| match (what, e) {
            (
                "messages",
                Effect::Message {
                    listener,
                    to,
                    content,
                    ..
                },
            )
            | (
                "edits",
                Effect::Edit {
                    listener,
                    to,
                    content,
                    ..
                },
            )
            | (
                "deleted",
                Effect::Delete {
                    listener,
                    to,
                    content,
                    ..
                },
            ) => Some((listener.as_str(), to.as_str(), content.as_str())),
            _ => None,
        })
        .collect();
    compare(
        what,
        want,
        &sent,
        |w, (l, to, content)| {
            w.listener.as_deref().is_none_or(|x| x == *l)
                && w.to.as_deref().is_none_or(|x| x == *to)
                && w.text.as_deref().is_none_or(|x| x == *content)
                && w.contains.as_deref().is_none_or(|x| content.contains(x))
        },
        |w| {
            let content = match (&w.text, &w.contains) {
                (Some(t), _) => format!("{t:?}"),
                (None, Some(c)) => format!("…{c:?}…"),
                (None, None) => "*".into(),
            };
            format!("[{}] {}: {content}", or_any(&w.listener), or_any(&w.to))
        },
        |(l, to, content)| format!("[{l}] {to}: {content:?}"),
    )
}

fn reactions(effects: &[Effect], want: &[ReactionExpect]) -> Check {
    let added: Vec<(&str, i64, &str)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reaction {
                listener,
                message_id,
                emoji,
            } => Some((listener.as_str(), *message_id, emoji.as_str())),
            _ => None,
        })
        .collect();
    compare(
        "reactions",
        want,
        &added,
        |w, (l, id, emoji)| {
            w.emoji == *emoji
                && w.message_id.is_none_or(|x| x == *id)
                && w.listener.as_deref().is_none_or(|x| x == *l)
        },
        |w| {
            let on = w.message_id.map_or("*".into(), |id| id.to_string());
            format!("[{}] :{}: on message {on}", or_any(&w.listener), w.emoji)
        },
        |(l, id, emoji)| format!("[{l}] :{emoji}: on message {id}"),
    )
}

fn webhooks(effects: &[Effect], want: &[WebhookExpect]) -> Check {
    let calls: Vec<(&str, &str, &str, &Value)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Http {
                listener,
                method,
                url,
                body,
                ..
            } => Some((listener.as_str(), method.as_str(), url.as_str(), body)),
            _ => None,
        })
        .collect();
    compare(
        "webhooks",
        want,
        &calls,
        |w, (l, method, url, body)| {
            w.listener.as_deref().is_none_or(|x| x == *l)
                && w.method
                    .as_deref()
                    .is_none_or(|x| x.eq_ignore_ascii_case(method))
                && w.url.as_deref().is_none_or(|x| x == *url)
                && w.body.as_ref().is_none_or(|x| contains(body, x))
        },
        |w| {
            let body = w.body.as_ref().map_or("*".into(), Value::to_string);
            format!(
                "[{}] {} {} {body}",
                or_any(&w.listener),
                or_any(&w.method),
                or_any(&w.url)
            )
        },
        |(l, method, url, body)| format!("[{l}] {method} {url} {body}"),
    )
}

/// Whether `actual` has everything `want` has: objects by key (extra keys allowed),
/// arrays item by item, everything else equal.
fn contains(actual: &Value, want: &Value) -> bool {
    match (actual, want) {
        (Value::Object(a), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| a.get(k).is_some_and(|av| contains(av, wv))),
        (Value::Array(a), Value::Array(w)) => {
            a.len() == w.len() && a.iter().zip(w).all(|(av, wv)| contains(av, wv))
        }
        _ => actual == want,
    }
}

async fn counts(h: &Harness, pipeline: &str, want: &[CountExpect]) -> Result<Check> {
    let mut actual = Vec::with_capacity(want.len());
    for w in want {
        let n = match &w.name {
            Some(name) => h.counter(&w.listener, name).await?,
            None => h
                .store()
                .counts(pipeline, &w.listener)
                .await?
                .into_iter()
                .filter(|row| {
                    w.channel.as_deref().is_none_or(|c| c == row.channel)
                        && w.sender.as_deref().is_none_or(|s| s == row.sender)
                })
                .map(|row| row.n)
                .sum(),
        };
        actual.push((w, n));
    }
    let label = |w: &CountExpect| {
        let mut s = w.listener.clone();
        for (k, v) in [
            ("name", &w.name),
            ("channel", &w.channel),
            ("sender", &w.sender),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {k}={v:?}"));
            }
        }
        s
    };
    Ok(compare(
        "counts",
        want,
        &actual,
        |w, (_, n)| w.n == *n,
        |w| format!("{}: {}", label(w), w.n),
        |(w, n)| format!("{}: {n}", label(w)),
    ))
}

async fn state(h: &Harness, want: &[StateExpect]) -> Result<Check> {
    let mut actual = Vec::with_capacity(want.len());
    for w in want {
        actual.push((w, h.state(&w.listener, &w.key).await?));
    }
    Ok(compare(
        "state",
        want,
        &actual,
        |w, (_, v)| v.as_deref() == Some(w.value.as_str()),
        |w| format!("{} {} = {:?}", w.listener, w.key, w.value),
        |(w, v)| match v {
            Some(v) => format!("{} {} = {v:?}", w.listener, w.key),
            None => format!("{} {} is unset", w.listener, w.key),
        },
    ))
}

async fn dead_letters(h: &Harness, want: &[String]) -> Result<Check> {
    let dead = h.dead_letters().await?;
    Ok(compare(
        "dead_letters",
        want,
        &dead,
        |w, (l, _)| w == l,
        Clone::clone,
        |(l, e)| format!("{l}: {e}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_match_by_subset() {
        let actual = json!({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}});
        assert!(contains(&actual, &json!({"b": {"c": [1, {"d": 2}]}})));
        assert!(!contains(&actual, &json!({"b": {"c": [1]}})));
        assert!(!contains(&actual, &json!({"a": 2})));
        assert!(!contains(&actual, &json!({"z": null})));
    }

    #[test]
    fn matching_items_show_as_they_happened() {
        let c = compare(
            "x",
            &["a", "b?"],
            &["a", "c", "d"],
            |e, a| e.trim_end_matches('?') == *a,
            |e| (*e).to_owned(),
            |a| (*a).to_owned(),
        );
        assert!(!c.passed);
        assert_eq!(c.expected, ["a", "b?"]);
        assert_eq!(c.actual, ["a", "c", "d"]);
        let ok = compare(
            "x",
            &["a"],
            &["a"],
            |e, a| e == a,
            |e| (*e).to_owned(),
            |a| (*a).to_owned(),
        );
        assert!(ok.passed);
    }
}
