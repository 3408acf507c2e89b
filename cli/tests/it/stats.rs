//! `zlc stats --store URL`: every pipeline a store holds, as tables or JSON; a store
//! that does not exist is reported, never created.

use std::process::Command;

use zlc_runtime::stats::{Drained, Figures, StatsRow};
use zlc_runtime::store::{Checkpoint, ListenerRow, Store};

const ZLC: &str = env!("CARGO_BIN_EXE_zlc");

fn zlc(args: &[&str]) -> (i32, String, String) {
    super::output(Command::new(ZLC).args(args))
}

fn listener(name: &str) -> ListenerRow {
    ListenerRow {
        name: name.to_owned(),
        description: String::new(),
        events: "message".into(),
        actions: "count".into(),
    }
}

#[tokio::test]
async fn stats_prints_every_pipeline_of_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.unwrap();
    for (pipeline, names) in [("alpha", vec!["one", "two"]), ("beta", vec!["three"])] {
        let rows: Vec<ListenerRow> = names.iter().map(|n| listener(n)).collect();
        store.register_listeners(pipeline, &rows).await.unwrap();
    }
    let hour = zlc_runtime::clock::now_secs() / 3600;
    let seen = |listener, n| StatsRow {
        listener,
        hour,
        counters: Figures {
            seen: n,
            matched: n / 2,
            succeeded: n / 2,
            ..Default::default()
        },
    };
    let drained = Drained {
        rows: vec![seen(0, 10), seen(1, 4)],
        ..Default::default()
    };
    store
        .flush("alpha", &["one", "two"], &drained, &[])
        .await
        .unwrap();
    store
        .save_checkpoint(
            "alpha/realm-1",
            &Checkpoint {
                queue_id: Some("q-7".into()),
                last_event_id: 41,
                last_message_id: Some(900),
                registered_for: None,
            },
        )
        .await
        .unwrap();
    store.close().await;

    let (code, out, err) = zlc(&["stats", "--store", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pipeline alpha (all time)"), "{out}");
    assert!(out.contains("pipeline beta (all time)"), "{out}");
    assert!(
        out.contains("alpha/realm-1: queue q-7, event 41, message 900"),
        "{out}"
    );
    let one = out
        .lines()
        .find(|l| l.trim_start().starts_with("one "))
        .unwrap();
    // seen, matched, counted (no count action), succeeded.
    assert_eq!(
        one.split_whitespace().take(5).collect::<Vec<_>>(),
        ["one", "10", "5", "0", "5"],
        "{out}"
    );

    let (code, out, _) = zlc(&["stats", "--store", &url, "alpha", "--since", "2h", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["pipeline"], "alpha");
    assert_eq!(v["listeners"][1]["seen"], 4);
    assert_eq!(v["connections"][0]["last_event_id"], 41);

    let (code, _, err) = zlc(&["stats", "--store", &url, "gamma"]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing about pipeline `gamma`"), "{err}");

    let missing = dir.path().join("missing.db");
    let (code, _, err) = zlc(&["stats", "--store", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("there is no store at"), "{err}");
    assert!(!missing.exists(), "reading never creates a store");
}
