//! The checks of a case's expectations: each compares what was expected with what
//! happened, item by item, in order.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Check, CountExpect, MessageExpect, ReactionExpect, StateExpect, WebhookExpect};
use crate::error::Result;
use crate::harness::Harness;
use crate::jobs::outbox::Effect;

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

pub(super) fn matched(h: &Harness, want: &BTreeMap<String, Option<u64>>) -> Check {
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
pub(super) fn messages(what: &'static str, effects: &[Effect], want: &[MessageExpect]) -> Check {
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

pub(super) fn reactions(effects: &[Effect], want: &[ReactionExpect]) -> Check {
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

pub(super) fn webhooks(effects: &[Effect], want: &[WebhookExpect]) -> Check {
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

pub(super) async fn counts(h: &Harness, pipeline: &str, want: &[CountExpect]) -> Result<Check> {
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

pub(super) async fn state(h: &Harness, want: &[StateExpect]) -> Result<Check> {
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

pub(super) async fn dead_letters(h: &Harness, want: &[String]) -> Result<Check> {
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
