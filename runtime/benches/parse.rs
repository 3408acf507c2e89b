//! Parse throughput over a replay file, one thread.
//!
//!     cargo bench -p zlc-runtime --bench parse -- FILE [--repeat N] [--json]
//!
//! Reads every event into memory first (as `seed_processor.py` does), then times, over
//! the same events: the head alone (what dispatch needs to decide), the full typed
//! parse, the dispatch view (the fields filters read), and a generic `serde_json::Value` parse (what Python's `json.loads` does).
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
    while let Some(a) = args.next() {
        match a.as_str() {
            "--repeat" => repeat = args.next().and_then(|n| n.parse().ok()).unwrap_or(4),
            "--json" => json = true,
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
    if json {
        println!(
            r#"{{"events": {n}, "head_per_s": {head:.0}, "typed_per_s": {typed:.0}, "view_per_s": {view:.0}, "value_per_s": {value:.0}}}"#
        );
    } else {
        println!("{} events x {repeat}", lines.len());
        println!("  head only        {head:>12.0} events/s");
        println!("  typed parse      {typed:>12.0} events/s");
        println!("  dispatch view    {view:>12.0} events/s");
        println!("  serde_json Value {value:>12.0} events/s");
    }
}
