use super::*;

/// `bench.toml` replayed over `events-50k.jsonl.gz` reports exactly the counts of
/// `bench/README.md`, on stdout and in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_replay_reports_the_reference_counts() {
    let bin = build_pipeline(&pipeline("bench"));
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("bench.db").display());
    let events = root().join("bench/events-50k.jsonl.gz");
    let summary = replay_summary(&bin, &events, &store, &["--realm", "1"]);
    let expected = [
        ("alerts", 3070),
        ("deploys", 183),
        ("mentions", 512),
        ("pr_links", 769),
        ("tracebacks", 862),
        ("all_realm_1", 50000),
        ("realm_2_only", 0),
        ("reactions", 0),
    ];
    for (name, n) in expected {
        assert_eq!(summary[name]["matched"], n, "{name}: {summary}");
    }
    let store = zlc_runtime::store::Store::open(&store).await.unwrap();
    let totals = store.listener_totals("bench").await.unwrap();
    for (name, n) in expected.iter().filter(|(_, n)| *n > 0) {
        let row = totals
            .iter()
            .find(|t| t.listener == *name)
            .unwrap_or_else(|| panic!("no stats row for {name}"));
        assert_eq!(
            row.figures.matched, *n as u64,
            "matched of {name} in zlc_listener_stats"
        );
        assert_eq!(row.figures.seen, 50000, "seen of {name}");
    }
}

/// The benchmark's end-to-end set-up, as `scripts/bench` runs it (smaller): a sandbox
/// with a backlog waiting in every new queue, the bench binary stopping after
/// `--max-events`, with the reference counts; `--no-stats` writes no statistics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_in_the_queue_is_read_until_max_events() {
    let bin = build_pipeline(&pipeline("bench"));
    let backlog =
        zlc_runtime::testkit::Backlog::read(&root().join("bench/events-50k.jsonl.gz"), 2).unwrap();
    assert_eq!(backlog.len(), 100_000);
    let s = setup_with(zlc_runtime::testkit::FakeOptions {
        backlog: Some(std::sync::Arc::new(backlog)),
        ..Default::default()
    })
    .await;
    let run = |store: &str, extra: &[&str]| {
        summary_of(
            Command::new(&bin)
                .args(["run", "--config-file", &s.rc])
                .args(["--realm", "1", "--summary-json", "--store", store])
                .args(extra),
        )
    };
    // The whole backlog (twice the file): twice the reference counts.
    let summary = run(&s.store_url, &["--max-events", "100000"]);
    assert_eq!(summary["_run"]["events"], 100_000, "{summary}");
    for (name, n) in [("alerts", 3070), ("deploys", 183), ("all_realm_1", 50000)] {
        assert_eq!(summary[name]["matched"], 2 * n, "{name}: {summary}");
    }
    // A second queue gets the same backlog; the run stops after the batch that reached
    // the number (the answer comes in chunks of 256 KiB, about 450 events) and, with
    // --no-stats, writes no statistics, only its checkpoint: just past what it did.
    let quiet = format!("sqlite://{}", s.dir.path().join("q.db").display());
    let summary = run(&quiet, &["--max-events", "1234", "--no-stats"]);
    let events = summary["_run"]["events"].as_i64().unwrap();
    assert!((1234..2000).contains(&events), "{summary}");
    let s = zlc_runtime::store::Store::open(&quiet).await.unwrap();
    assert!(s.listener_totals("bench").await.unwrap().is_empty());
    let cp = s.load_checkpoint("bench/realm-1").await.unwrap().unwrap();
    assert_eq!(cp.last_event_id, events - 1, "{cp:?}");
}
