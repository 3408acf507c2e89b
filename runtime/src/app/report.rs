//! The end-of-run totals: a small table for people, log lines in JSON mode, and one
//! JSON object on stdout on request.

use crate::figures::{Figures, Row, table};
use crate::pipeline::PipelineDesc;
use crate::stats::{RunTotals, StatsBuf};

/// The run's statistics, shared by its connections: what they wrote to the store (each
/// with its own checkpoint), kept for the final report and added to the metrics.
#[derive(Debug)]
pub(crate) struct Recorder {
    totals: std::sync::Mutex<RunTotals>,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl Recorder {
    /// An empty recorder, telling `metrics` (when served) too.
    pub(crate) fn new(metrics: Option<std::sync::Arc<crate::metrics::Metrics>>) -> Self {
        Recorder {
            totals: Default::default(),
            metrics,
        }
    }

    /// Adds written counters to the run's totals.
    pub(crate) fn record(&self, buf: &StatsBuf) {
        lock(&self.totals).add(buf);
        if let Some(m) = &self.metrics {
            m.record(buf);
        }
    }

    /// The run's totals so far.
    pub(crate) fn totals(&self) -> RunTotals {
        lock(&self.totals).clone()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) struct RunFigures {
    pub(super) events: u64,
    pub(super) malformed: u64,
    pub(super) seconds: f64,
}

pub(super) fn report(
    p: &PipelineDesc,
    totals: &[Figures],
    run: RunFigures,
    json: bool,
    log_format: crate::logging::LogFormat,
) {
    let rate = if run.seconds > 0.0 {
        run.events as f64 / run.seconds
    } else {
        0.0
    };
    let rows: Vec<Row> = p
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| Row {
            name: l.name.to_owned(),
            figures: totals.get(i).copied().unwrap_or_default(),
            ..Row::default()
        })
        .collect();
    match log_format {
        crate::logging::LogFormat::Text => {
            eprint!("{}{}", table(&rows, ""), run_line(&run, rate));
        }
        crate::logging::LogFormat::Json => {
            for r in &rows {
                let f = &r.figures;
                tracing::info!(
                    listener = r.name,
                    seen = f.seen,
                    matched = f.matched,
                    counted = f.counted,
                    succeeded = f.succeeded,
                    failed = f.failed,
                    limited = f.limited,
                    time_us = f.time_us,
                    "totals"
                );
            }
            tracing::info!(
                events = run.events,
                malformed = run.malformed,
                seconds = run.seconds,
                events_per_s = rate,
                "run finished"
            );
        }
    }
    if json {
        let mut obj = serde_json::Map::new();
        // Listener names start with a letter, so `_run` cannot collide with one.
        obj.insert("_run".into(), serde_json::json!({"events": run.events, "malformed": run.malformed, "seconds": run.seconds, "events_per_s": rate}));
        for r in rows {
            obj.insert(r.name, r.figures.json().into());
        }
        println!("{}", serde_json::Value::Object(obj));
    }
}

/// The line under the end-of-run table.
fn run_line(run: &RunFigures, rate: f64) -> String {
    format!(
        "{} events in {:.2} s ({:.0} events/s){}\n",
        run.events,
        run.seconds,
        rate,
        if run.malformed > 0 {
            format!("; {} unreadable, skipped", run.malformed)
        } else {
            String::new()
        }
    )
}
