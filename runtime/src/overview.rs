//! What the store says about a pipeline, for people and scripts: per-listener statistics
//! (over all time, or since some time ago), dead letters, handlers' counters, and where
//! each realm connection stands. `NAME stats` shows its own pipeline; `zlc stats
//! --store URL` any pipeline in a store.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::clock::now_secs;
use crate::error::{Error, Result};
use crate::figures::{Row, table};
use crate::store::Store;

/// One pipeline's overview.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The pipeline.
    pub pipeline: String,
    /// From when (Unix seconds), or `None` for all time.
    pub since: Option<i64>,
    /// A row per listener, by name.
    pub listeners: Vec<Row>,
    /// The realm connections' checkpoints.
    pub connections: Vec<crate::store::ConnectionState>,
    /// Which process polls each connection.
    pub leases: Vec<crate::store::leases::LeaseRow>,
}

/// Parses `30s`, `15m`, `2h`, `7d` (or a number of seconds) into seconds.
pub fn parse_since(s: &str) -> std::result::Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30m, 2h or 7d"))?;
    let factor = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{s:?} is not a duration such as 30m, 2h or 7d")),
    };
    Ok(n * factor)
}

impl Overview {
    /// Reads `pipeline`'s overview from `store`; `since_secs`: only the hours that
    /// recent.
    pub async fn load(store: &Store, pipeline: &str, since_secs: Option<i64>) -> Result<Self> {
        let since = since_secs.map(|s| now_secs() - s);
        let registered = store.listeners_of(pipeline).await?;
        let totals = store
            .listener_totals_since(pipeline, since.unwrap_or(0))
            .await?;
        let dead = store.dead_letter_counts(pipeline).await?;
        if registered.is_empty() && totals.is_empty() {
            return Err(Error::Config(format!(
                "the store has nothing about pipeline `{pipeline}`"
            )));
        }
        let mut names: Vec<String> = registered.into_iter().map(|l| l.name).collect();
        for t in &totals {
            if !names.contains(&t.listener) {
                names.push(t.listener.clone());
            }
        }
        let mut listeners = Vec::with_capacity(names.len());
        for name in names {
            let counters = store
                .named_counts_since(pipeline, &name, since.unwrap_or(0))
                .await?
                .into_iter()
                .map(|c| (c.name, c.n))
                .collect();
            listeners.push(Row {
                figures: totals
                    .iter()
                    .find(|t| t.listener == name)
                    .map_or_else(Default::default, |t| t.figures),
                dead_letters: Some(
                    dead.iter()
                        .find(|(l, _)| *l == name)
                        .map_or(0, |d| u64::try_from(d.1).unwrap_or(0)),
                ),
                counters,
                name,
            });
        }
        Ok(Overview {
            pipeline: pipeline.to_owned(),
            since,
            listeners,
            connections: store.checkpoints_under(&format!("{pipeline}/")).await?,
            leases: store.leases_of(pipeline).await?,
        })
    }

    /// As a table for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let period = match self.since {
            Some(t) => format!("since {}", crate::logging::utc(t - t.rem_euclid(3600))),
            None => "all time".into(),
        };
        let _ = writeln!(out, "pipeline {} ({period})", self.pipeline);
        out.push_str(&table(&self.listeners, "  "));
        for c in &self.connections {
            let cp = &c.checkpoint;
            let _ = writeln!(
                out,
                "  {}: queue {}, event {}, message {}, written {} ago{}{}",
                c.connection,
                cp.queue_id.as_deref().unwrap_or("none"),
                cp.last_event_id,
                cp.last_message_id
                    .map_or_else(|| "none".into(), |m| m.to_string()),
                crate::retry::human(std::time::Duration::from_secs(
                    (now_secs() - c.updated_at).max(0) as u64
                )),
                match self.leases.iter().find(|l| l.connection == c.connection) {
                    Some(l) if !l.is_free(now_secs()) && !l.build.is_empty() => {
                        format!(", polled by {} (build {})", l.owner, l.build)
                    }
                    Some(l) if !l.is_free(now_secs()) => format!(", polled by {}", l.owner),
                    _ => ", not polled now".into(),
                },
                if c.gaps > 0 {
                    format!(
                        ", {} gap{} (expired queues)",
                        c.gaps,
                        if c.gaps == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            );
        }
        out
    }

    /// As one JSON object.
    pub fn json(&self) -> Value {
        json!({
            "pipeline": self.pipeline,
            "since": self.since,
            "listeners": self.listeners.iter().map(|l| {
                let mut o = l.figures.json();
                o.insert("name".into(), json!(l.name));
                o.insert("dead_letters".into(), json!(l.dead_letters.unwrap_or(0)));
                o.insert("counters".into(), l.counters.iter().map(|(n, v)| (n.clone(), json!(v))).collect::<serde_json::Map<_, _>>().into());
                Value::Object(o)
            }).collect::<Vec<_>>(),
            "connections": self.connections.iter().map(|c| json!({
                "connection": c.connection, "queue_id": c.checkpoint.queue_id,
                "last_event_id": c.checkpoint.last_event_id,
                "last_message_id": c.checkpoint.last_message_id,
                "updated_at": c.updated_at, "gaps": c.gaps,
                "polled_by": self.leases.iter()
                    .find(|l| l.connection == c.connection && !l.is_free(now_secs()))
                    .map(|l| l.owner.clone()),
                "build": self.leases.iter()
                    .find(|l| l.connection == c.connection && !l.is_free(now_secs()))
                    .map(|l| l.build.clone()),
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_people_write_them() {
        assert_eq!(parse_since("90"), Ok(90));
        assert_eq!(parse_since("30m"), Ok(1800));
        assert_eq!(parse_since("2h"), Ok(7200));
        assert_eq!(parse_since("7d"), Ok(604_800));
        assert!(parse_since("soon").is_err());
        assert!(parse_since("5y").is_err());
    }
}
