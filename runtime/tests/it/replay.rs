use std::io::Write;

use zlc_runtime::event::Event;
use zlc_runtime::source::ReplaySource;

const SPEC_EVENTS: &str = include_str!("../fixtures/zulip/events.jsonl");

#[test]
fn replays_plain_and_gzipped_files_alike() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("events.jsonl");
    std::fs::write(&plain, SPEC_EVENTS).unwrap();
    let gz = dir.path().join("events.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(SPEC_EVENTS.as_bytes()).unwrap();
    enc.finish().unwrap();
    // Gzip is told by content, not by name.
    let disguised = dir.path().join("events.txt");
    std::fs::copy(&gz, &disguised).unwrap();

    for path in [&plain, &gz, &disguised] {
        let mut src = ReplaySource::open(path).unwrap();
        let mut kinds = Vec::new();
        while let Some(batch) = src.next_batch().unwrap() {
            for e in batch.events() {
                let e = e.unwrap();
                assert!(!matches!(e.parse().unwrap(), Event::Unknown(_)));
                kinds.push(e.kind.to_owned());
            }
            src.ack(batch.ack());
        }
        assert_eq!(kinds.len(), 77, "{}", path.display());
        assert_eq!(src.acked_lines(), 77);
    }
}

#[test]
fn bad_lines_are_reported_and_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"{\"type\":\"heartbeat\",\"id\":1}\n\n   \n")
        .unwrap();
    f.write_all(b"{\"type\":\"message\",\"message\":{\"id\":1,\"con\n")
        .unwrap(); // truncated
    f.write_all(&[0xff, 0xfe, b'\n']).unwrap(); // not UTF-8
    f.write_all(b"<html>502</html>\r\n").unwrap();
    f.write_all(b"{\"type\":\"brand_new\",\"id\":9}").unwrap(); // no final newline
    drop(f);
    let mut src = ReplaySource::open(&path).unwrap();
    let batch = src.next_batch().unwrap().unwrap();
    let results: Vec<bool> = batch
        .events()
        .map(|e| e.and_then(|e| e.parse().map(drop)).is_ok())
        .collect();
    assert_eq!(results, [true, false, false, true]);
    assert_eq!(src.stats().malformed, 1, "the non-UTF-8 line");
    assert!(src.next_batch().unwrap().is_none());
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = ReplaySource::open(std::path::Path::new("/no/such/day.jsonl"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/no/such/day.jsonl: "), "{e}");
}

/// A line longer than any event may be is skipped whole and reported; it used to lose
/// its first 4 MiB silently and have the rest parsed as an event.
#[test]
fn an_overlong_line_is_skipped_whole_and_reported() {
    use zlc_runtime::event::{MAX_EVENT_BYTES, RawEvent};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"{\"type\":\"heartbeat\",\"id\":1}\n").unwrap();
    // 9 MiB of a line whose tail, read on its own, would be a valid event.
    let filler = "x".repeat(9 << 20);
    writeln!(
        f,
        "{{\"type\":\"message\",\"pad\":\"{filler}\"}}{{\"type\":\"heartbeat\",\"id\":666}}"
    )
    .unwrap();
    // Just over the event limit, but shorter than a batch: refused by the event reader.
    let over = "y".repeat(MAX_EVENT_BYTES - 20);
    writeln!(f, "{{\"type\":\"heartbeat\",\"pad\":\"{over}\",\"id\":3}}").unwrap();
    f.write_all(b"{\"type\":\"heartbeat\",\"id\":2}\n").unwrap();
    drop(f);
    let mut src = ReplaySource::open(&path).unwrap();
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    while let Some(batch) = src.next_batch().unwrap() {
        for e in batch.events() {
            match e {
                Ok(raw) => ids.push(raw.id),
                Err(err) => refused.push(err.to_string()),
            }
        }
    }
    assert_eq!(
        ids,
        [Some(1), Some(2)],
        "nothing of the long lines became an event"
    );
    assert_eq!(src.stats().malformed, 1, "the line over the batch size");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("over the 4194304 byte limit"),
        "{}",
        &refused[0][..120]
    );
    assert!(RawEvent::new(&"z".repeat(MAX_EVENT_BYTES + 1)).is_err());
}
