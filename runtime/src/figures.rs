//! The one way a listener's figures ([`Figures`]: seen, matched, counted, succeeded,
//! failed, limited, time) are shown: the table people read at the end of a run and in
//! `NAME stats` / `zlc stats`, the `key=value` line of `NAME list --stats`, and the JSON
//! object scripts read from `--json`. The metrics take the same type
//! (`Metrics::record`).

use std::fmt::Write as _;

use serde_json::{Value, json};

pub use crate::store::rows::Figures;

/// One listener's row in a table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The listener.
    pub name: String,
    /// Its figures.
    pub figures: Figures,
    /// Dead letters now in the store, when the table is read from one.
    pub dead_letters: Option<u64>,
    /// Handlers' named counters, each on a line of its own under the row.
    pub counters: Vec<(String, i64)>,
}

impl Figures {
    /// Jobs ended: succeeded, failed or held back.
    pub fn jobs(&self) -> u64 {
        self.succeeded + self.failed + self.limited
    }

    /// Whether nothing was seen, matched or done.
    pub fn is_zero(&self) -> bool {
        self.seen == 0 && self.matched == 0 && self.jobs() == 0 && self.counted == 0
    }

    /// Milliseconds in actions per ended job, `-` without jobs.
    fn ms_per_job(&self) -> String {
        match self.jobs() {
            0 => "-".into(),
            jobs => format!("{:.1}", self.time_us as f64 / 1000.0 / jobs as f64),
        }
    }

    /// As `seen=… matched=… counted=… succeeded=… failed=… limited=… time=…ms`.
    pub fn line(&self) -> String {
        format!(
            "seen={} matched={} counted={} succeeded={} failed={} limited={} time={}ms",
            self.seen,
            self.matched,
            self.counted,
            self.succeeded,
            self.failed,
            self.limited,
            self.time_us / 1000
        )
    }

    /// As one JSON object.
    pub fn json(&self) -> serde_json::Map<String, Value> {
        let Value::Object(map) = json!({
            "seen": self.seen, "matched": self.matched, "counted": self.counted,
            "succeeded": self.succeeded, "failed": self.failed, "limited": self.limited,
            "time_us": self.time_us,
        }) else {
            unreachable!("a json! object is an object")
        };
        map
    }
}

/// The rows as a table for people, each line after `indent`. The dead-letter column is
/// there when some row read it from a store.
pub fn table(rows: &[Row], indent: &str) -> String {
    let dead = rows.iter().any(|r| r.dead_letters.is_some());
    let width = rows
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("listener".len());
    let mut out = String::new();
    let line = |out: &mut String, cells: [String; 9]| {
        let [
            name,
            seen,
            matched,
            counted,
            succeeded,
            failed,
            limited,
            ms,
            dl,
        ] = cells;
        let _ = write!(
            out,
            "{indent}{name:<width$}  {seen:>9}  {matched:>9}  {counted:>9}  {succeeded:>9}  {failed:>7}  {limited:>7}  {ms:>8}"
        );
        if dead {
            let _ = write!(out, "  {dl:>5}");
        }
        out.push('\n');
    };
    let headers = [
        "listener",
        "seen",
        "matched",
        "counted",
        "succeeded",
        "failed",
        "limited",
        "ms/job",
        "dead",
    ];
    line(&mut out, headers.map(String::from));
    for r in rows {
        let f = &r.figures;
        line(
            &mut out,
            [
                r.name.clone(),
                f.seen.to_string(),
                f.matched.to_string(),
                f.counted.to_string(),
                f.succeeded.to_string(),
                f.failed.to_string(),
                f.limited.to_string(),
                f.ms_per_job(),
                r.dead_letters.unwrap_or(0).to_string(),
            ],
        );
        for (name, n) in &r.counters {
            let _ = writeln!(out, "{indent}{:<width$}    count {name:?}: {n}", "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, seen: u64, dead: Option<u64>) -> Row {
        Row {
            name: name.into(),
            figures: Figures {
                seen,
                matched: 2,
                succeeded: 1,
                limited: 1,
                time_us: 3000,
                ..Figures::default()
            },
            dead_letters: dead,
            counters: vec![("deploys".into(), 4)],
        }
    }

    #[test]
    fn one_table_with_the_dead_letter_column_only_when_read_from_a_store() {
        let run = table(&[row("a_long_listener", 10, None)], "");
        assert_eq!(
            run,
            "listener              seen    matched    counted  succeeded   failed  limited    ms/job\n\
             a_long_listener         10          2          0          1        0        1       1.5\n\
             \x20                  count \"deploys\": 4\n"
        );
        let stored = table(&[row("a", 10, Some(3))], "  ");
        assert!(
            stored.lines().next().unwrap().ends_with("ms/job   dead"),
            "{stored}"
        );
        assert!(
            stored.lines().nth(1).unwrap().ends_with("1.5      3"),
            "{stored}"
        );
    }

    #[test]
    fn line_and_json_carry_every_figure() {
        let f = row("a", 10, None).figures;
        assert_eq!(
            f.line(),
            "seen=10 matched=2 counted=0 succeeded=1 failed=0 limited=1 time=3ms"
        );
        let j = f.json();
        assert_eq!(j["seen"], 10);
        assert_eq!(j["time_us"], 3000);
        assert_eq!(j.len(), 7);
        assert!(!f.is_zero() && Figures::default().is_zero());
    }
}
