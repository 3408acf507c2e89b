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

mod checks;
use checks::{counts, dead_letters, matched, messages, reactions, state, webhooks};

/// One test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Its name.
    pub name: String,
    /// The realm connection its events come from (default: the pipeline's first).
    #[serde(default)]
    pub realm: Option<u32>,
    /// The time the case starts at (Unix seconds; default: now).
    #[serde(default)]
    pub clock: Option<i64>,
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
    /// The clock moved forward to this time (Unix seconds): the schedules' ticks on the
    /// way run.
    Clock(i64),
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
    if let Some(t) = case.clock {
        h.set_clock(t);
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
            Input::Clock(t) => {
                h.advance_to(*t).await?;
            }
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
