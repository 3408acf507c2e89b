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
            row.matched, *n as i64,
            "matched of {name} in zlc_listener_stats"
        );
        assert_eq!(row.seen, 50000, "seen of {name}");
    }
}
