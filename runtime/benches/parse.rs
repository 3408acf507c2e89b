//! Parse throughput over a replay file, one thread.
//!
//!     cargo bench -p zlc-runtime --bench parse -- FILE [--repeat N] [--json] [--reader-only]
//!
//! Reads every event into memory first (as `seed_processor.py` does), then times, over
//! the same events: the head alone (what dispatch needs to decide), the full typed
//! parse, the dispatch view (the fields filters read; by serde and by our reader), and a generic `serde_json::Value` parse (what Python's `json.loads` does).
//! `scripts/bench-parse.sh` runs it beside the Python reference and prints ratios.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use zlc_runtime::event::{Event, MessageViewEvent, RawEvent};
use zlc_runtime::source::ReplaySource;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut path = None;
    let mut repeat = 4u32;
    let mut json = false;
    let mut reader_only = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--repeat" => repeat = args.next().and_then(|n| n.parse().ok()).unwrap_or(4),
            "--json" => json = true,
            // For a profiler: time the dispatch view by our reader alone.
            "--reader-only" => reader_only = true,
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let path = path.unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../bench/events-50k.jsonl.gz"
        ))
    });
    let mut src = match ReplaySource::open(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let mut lines: Vec<String> = Vec::new();
    while let Ok(Some(batch)) = src.next_batch() {
        lines.extend(batch.json().map(str::to_owned));
    }
    let n = lines.len() as f64 * f64::from(repeat);

    let time = |f: &dyn Fn(&str) -> usize| {
        let start = Instant::now();
        let mut acc = 0usize;
        for _ in 0..repeat {
            for l in &lines {
                acc = acc.wrapping_add(f(l));
            }
        }
        black_box(acc);
        n / start.elapsed().as_secs_f64()
    };
    let reader = time(
        &|l| match RawEvent::new(l).map(|r| MessageViewEvent::read(r.json)) {
            Ok(Ok(m)) => m.message.content.len(),
            _ => 0,
        },
    );
    if reader_only {
        println!("dispatch view by our reader: {reader:.0} events/s");
        return;
    }
    let head = time(&|l| RawEvent::new(l).map(|r| r.kind.len()).unwrap_or(0));
    let typed = time(&|l| match RawEvent::new(l).and_then(|r| r.parse()) {
        Ok(Event::Message(m)) => m.message.content.len(),
        _ => 0,
    });
    let view = time(&|l| match RawEvent::new(l)
        .map(|r| serde_json::from_str::<MessageViewEvent<'_>>(r.json))
    {
        Ok(Ok(m)) => m.message.content.len(),
        _ => 0,
    });
    let value = time(&|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .map(|v| v.as_object().map_or(0, |o| o.len()))
            .unwrap_or(0)
    });
    let filters = Filters::new();
    let counts = std::cell::RefCell::new([0u64; 8]);
    let serde_filters = time(&|l| filters.apply(l, &mut counts.borrow_mut()));
    let counts = counts.into_inner().map(|c| c / u64::from(repeat));
    if json {
        println!(
            r#"{{"events": {n}, "head_per_s": {head:.0}, "typed_per_s": {typed:.0}, "view_per_s": {view:.0}, "reader_per_s": {reader:.0}, "value_per_s": {value:.0}, "serde_filters_per_s": {serde_filters:.0}, "serde_filters_counts": {{"alerts": {}, "deploys": {}, "mentions": {}, "pr_links": {}, "tracebacks": {}, "all_realm_1": {}, "realm_2_only": {}, "reactions": {}}}}}"#,
            counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], counts[7]
        );
    } else {
        println!("{} events x {repeat}", lines.len());
        println!("  head only        {head:>12.0} events/s");
        println!("  typed parse      {typed:>12.0} events/s");
        println!("  dispatch view    {view:>12.0} events/s (serde), {reader:.0} (our reader)");
        println!("  serde_json Value {value:>12.0} events/s");
        println!("  serde borrowed + the 8 filters {serde_filters:>12.0} events/s ({counts:?})");
    }
}

/// The fields the eight filters read, parsed by serde_json's borrowed deserializer
/// (what a hand-written Rust listener would do without zlc).
#[derive(serde::Deserialize)]
struct Ev<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    message: Option<Msg<'a>>,
}

#[derive(serde::Deserialize)]
struct Msg<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    display_recipient: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    content: std::borrow::Cow<'a, str>,
}

/// `pipelines/bench.toml`'s eight listeners written by hand, replayed as realm 1.
struct Filters {
    alerts: regex::Regex,
    deploys: regex::Regex,
    mentions: regex::Regex,
    pr_links: regex::Regex,
    tracebacks: regex::Regex,
}

impl Filters {
    fn new() -> Filters {
        let re = |p: &str| regex::Regex::new(p).expect("a valid pattern");
        Filters {
            alerts: re(r"(?i)\b(alert|error|incident)\b"),
            deploys: re(r"deploy #\d+"),
            mentions: re(r#"data-user-id="100"|@\*\*Listener Bot\*\*"#),
            pr_links: re(r"https?://github\.com/\S+/pull/\d+"),
            tracebacks: re(r"Traceback \(most recent call last\)"),
        }
    }

    /// Counts `line`'s matches into `counts` (in the listeners' order).
    fn apply(&self, line: &str, counts: &mut [u64; 8]) -> usize {
        let Ok(ev) = serde_json::from_str::<Ev<'_>>(line) else {
            return 0;
        };
        if ev.kind == "reaction" {
            counts[7] += 1;
        }
        let Some(m) = ev.message.filter(|_| ev.kind == "message") else {
            return 0;
        };
        let channel: Option<std::borrow::Cow<'_, str>> = if m.kind == "stream" {
            serde_json::from_str(m.display_recipient.get()).ok()
        } else {
            None
        };
        let in_ = |names: &[&str]| channel.as_deref().is_some_and(|c| names.contains(&c));
        let c = &m.content;
        if in_(&["alerts", "devel"]) && self.alerts.is_match(c) {
            counts[0] += 1;
        }
        if in_(&["devel", "general"]) && self.deploys.is_match(c) {
            counts[1] += 1;
        }
        if self.mentions.is_match(c) {
            counts[2] += 1;
        }
        if in_(&["Denmark", "Verona"]) && self.pr_links.is_match(c) {
            counts[3] += 1;
        }
        if in_(&["devel", "general", "Rome"]) && self.tracebacks.is_match(c) {
            counts[4] += 1;
        }
        counts[5] += 1; // all_realm_1; realm_2_only never matches realm 1
        c.len()
    }
}
