//! Micro-benchmarks of the per-event path, over the first 1,000 events of
//! `bench/events-50k.jsonl.gz`:
//!
//!     cargo bench -p zlc-runtime --bench micro
//!
//! the event head (what dispatch reads first), the dispatch view (the fields filters
//! read, by our reader and by serde) beside the full typed parse, each kind of filter `bench.toml` uses, recording
//! statistics, and cutting events out of a `GET /events` answer. The figures are per
//! event; compare runs on the same machine, or use `scripts/bench` for ratios.

use std::hint::black_box;
use std::sync::LazyLock;

use zlc_runtime::event::{Event, MessageViewEvent, RawEvent};
use zlc_runtime::source::ReplaySource;

fn main() {
    divan::main();
}

/// The first 1,000 events of the workload, as JSON lines.
static EVENTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/events-50k.jsonl.gz");
    let mut src = ReplaySource::open(std::path::Path::new(path)).expect("the workload");
    let mut lines = Vec::new();
    while lines.len() < 1000 {
        let Ok(Some(batch)) = src.next_batch() else {
            break;
        };
        lines.extend(batch.json().map(str::to_owned));
    }
    lines.truncate(1000);
    lines
});

/// Their contents and channels, for the filters alone.
static FIELDS: LazyLock<Vec<(String, Option<String>)>> = LazyLock::new(|| {
    EVENTS
        .iter()
        .filter_map(|l| serde_json::from_str::<MessageViewEvent<'_>>(l).ok())
        .map(|m| {
            let channel = m.message.channel_name().map(str::to_owned);
            (m.message.content.to_string(), channel)
        })
        .collect()
});

#[divan::bench]
fn head() -> usize {
    EVENTS
        .iter()
        .map(|l| RawEvent::new(black_box(l)).map_or(0, |r| r.kind.len()))
        .sum()
}

/// The dispatch view as dispatch reads it (the purpose-built reader).
#[divan::bench]
fn dispatch_view() -> usize {
    EVENTS
        .iter()
        .map(|l| MessageViewEvent::read(black_box(l)).map_or(0, |m| m.message.content.len()))
        .sum()
}

/// The same view read by serde_json's derived visitor, for comparison.
#[divan::bench]
fn dispatch_view_serde() -> usize {
    EVENTS
        .iter()
        .map(|l| {
            serde_json::from_str::<MessageViewEvent<'_>>(black_box(l))
                .map_or(0, |m| m.message.content.len())
        })
        .sum()
}

#[divan::bench]
fn typed_parse() -> usize {
    EVENTS
        .iter()
        .map(
            |l| match RawEvent::new(black_box(l)).and_then(|r| r.parse()) {
                Ok(Event::Message(m)) => m.message.content.len(),
                _ => 0,
            },
        )
        .sum()
}

#[divan::bench]
fn filter_channel_set() -> usize {
    let names = ["devel", "general", "rome"];
    FIELDS
        .iter()
        .filter(|(_, c)| {
            c.as_deref().is_some_and(|c| {
                names
                    .iter()
                    .any(|n| zlc_runtime::codegen::same_name(black_box(c), n))
            })
        })
        .count()
}

#[divan::bench(args = [
    r"(?i)\b(alert|error|incident)\b",
    r"deploy #\d+",
    r#"data-user-id="100"|@\*\*Listener Bot\*\*"#,
    r"https?://github\.com/\S+/pull/\d+",
    r"Traceback \(most recent call last\)",
])]
fn filter_content_regex(bencher: divan::Bencher<'_, '_>, pattern: &str) {
    let re = zlc_runtime::codegen::regex(pattern);
    bencher.bench(|| {
        FIELDS
            .iter()
            .filter(|(content, _)| re.is_match(black_box(content)))
            .count()
    });
}

#[divan::bench]
fn record_statistics() -> u64 {
    let mut buf = zlc_runtime::stats::StatsBuf::new(8, 0);
    for _ in 0..EVENTS.len() {
        buf.set_hour(black_box(0));
        for i in 0..8 {
            let c = buf.listener(i);
            c.seen += 1;
            c.matched += u64::from(i % 3 == 0);
        }
    }
    buf.totals().iter().map(|c| c.seen).sum()
}

#[divan::bench]
fn cut_events_out_of_an_answer(bencher: divan::Bencher<'_, '_>) {
    let body = format!(
        r#"{{"result":"success","msg":"","events":[{}],"queue_id":"q"}}"#,
        EVENTS.join(",")
    );
    bencher.bench(|| {
        let mut scanner = zlc_runtime::event::stream::Scanner::default();
        let mut rest = black_box(body.as_bytes());
        let mut events = 0;
        while !rest.is_empty() {
            let mut out = zlc_runtime::event::stream::Chunk::default();
            let n = scanner.feed(rest, &mut out);
            rest = &rest[n..];
            events += out.spans.len();
        }
        events
    });
}
