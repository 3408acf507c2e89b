//! The end-of-run totals: a small table for people, log lines in JSON mode, and one
//! JSON object on stdout on request.

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
    totals: &[crate::stats::Counters],
    run: RunFigures,
    json: bool,
    log_format: crate::logging::LogFormat,
) {
    let rate = if run.seconds > 0.0 {
        run.events as f64 / run.seconds
    } else {
        0.0
    };
    match log_format {
        crate::logging::LogFormat::Text => eprint!("{}", totals_table(p, totals, &run, rate)),
        crate::logging::LogFormat::Json => {
            for (i, l) in p.listeners.iter().enumerate() {
                let c = totals.get(i).copied().unwrap_or_default();
                tracing::info!(
                    listener = l.name,
                    seen = c.seen,
                    matched = c.matched,
                    succeeded = c.succeeded,
                    failed = c.failed,
                    limited = c.limited,
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
        for (i, l) in p.listeners.iter().enumerate() {
            let c = totals.get(i).copied().unwrap_or_default();
            obj.insert(
                l.name.to_owned(),
                serde_json::json!({"seen": c.seen, "matched": c.matched, "succeeded": c.succeeded, "failed": c.failed, "limited": c.limited}),
            );
        }
        println!("{}", serde_json::Value::Object(obj));
    }
}

/// The end-of-run totals as a small table for people.
fn totals_table(
    p: &PipelineDesc,
    totals: &[crate::stats::Counters],
    run: &RunFigures,
    rate: f64,
) -> String {
    use std::fmt::Write;
    let width = p
        .listeners
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(0)
        .max("listener".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>9}  {:>9}  {:>7}  {:>7}",
        "listener", "seen", "matched", "succeeded", "failed", "limited"
    );
    for (i, l) in p.listeners.iter().enumerate() {
        let c = totals.get(i).copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>7}  {:>7}",
            l.name, c.seen, c.matched, c.succeeded, c.failed, c.limited
        );
    }
    let _ = writeln!(
        out,
        "{} events in {:.2} s ({:.0} events/s){}",
        run.events,
        run.seconds,
        rate,
        if run.malformed > 0 {
            format!("; {} unreadable, skipped", run.malformed)
        } else {
            String::new()
        }
    );
    out
}
