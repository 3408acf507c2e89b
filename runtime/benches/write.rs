//! What one write of acknowledged work costs: the transaction a connection commits
//! (8 listeners' statistics and the checkpoint, fenced by nothing here), on a SQLite
//! file and, when `ZLC_TEST_POSTGRES_URL` is set, on PostgreSQL; and what writing every
//! 250 ms instead of every second costs a core. Also what a side effect's claim costs
//! (the write before a reply is posted, which a reply waits for) and its mark as done
//! (the write after it).
//!
//!     cargo bench -p zlc-runtime --bench write [-- N]

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use zlc_runtime::stats::{Drained, Figures, StatsRow};
use zlc_runtime::store::{Checkpoint, Store};

async fn per_write(url: &str, n: u32) -> Duration {
    let store = Store::open(url).await.unwrap();
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let conn = format!("write-bench-{}/realm-1", std::process::id());
    let start = Instant::now();
    for i in 0..i64::from(n) {
        let drained = Drained {
            rows: (0..8)
                .map(|listener| StatsRow {
                    listener,
                    hour: 490_000,
                    counters: Figures {
                        seen: 10,
                        matched: 3,
                        succeeded: 3,
                        ..Default::default()
                    },
                })
                .collect(),
            ..Default::default()
        };
        let cp = Checkpoint {
            queue_id: Some("q".into()),
            last_event_id: i,
            last_message_id: Some(i),
            registered_for: Some("{}".into()),
        };
        store
            .commit("write_bench", &names, &drained, &[], Some(&conn), Some(&cp))
            .await
            .unwrap();
    }
    let per = start.elapsed() / n;
    store.close().await;
    per
}

/// The time of one claim and of one mark as done, on average over `n` effects.
async fn per_claim(url: &str, n: u32) -> (Duration, Duration) {
    let store = Store::open(url).await.unwrap();
    let owner = format!("bench-{}", std::process::id());
    let run = format!("{}-{}", std::process::id(), fastrand::u64(..));
    let (mut claim, mut done) = (Duration::ZERO, Duration::ZERO);
    for i in 0..n {
        let effect = format!("{run}:m{i}:0");
        let start = Instant::now();
        store
            .claim_effect("write_bench", "reply", &effect, &owner)
            .await
            .unwrap();
        claim += start.elapsed();
        let start = Instant::now();
        store
            .effect_done("write_bench", "reply", &effect, &owner)
            .await
            .unwrap();
        done += start.elapsed();
    }
    store.close().await;
    (claim / n, done / n)
}

fn main() {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![(
        "SQLite".to_owned(),
        format!("sqlite://{}", dir.path().join("write.db").display()),
    )];
    match std::env::var("ZLC_TEST_POSTGRES_URL") {
        Ok(url) => stores.push(("PostgreSQL".to_owned(), url)),
        Err(_) => eprintln!("(PostgreSQL skipped: ZLC_TEST_POSTGRES_URL is not set)"),
    }
    for (name, url) in stores {
        let per = rt.block_on(per_write(&url, n));
        let extra = per.as_secs_f64() * 3.0 * 100.0;
        println!(
            "{name}: {:.0} µs per write ({n} writes); every 250 ms instead of every 1 s: 3 more a second, {extra:.2} % of a core",
            per.as_secs_f64() * 1e6
        );
        let (claim, done) = rt.block_on(per_claim(&url, n));
        println!(
            "{name}: a side effect's claim {:.0} µs (a reply waits for it), its mark as done {:.0} µs (after the post)",
            claim.as_secs_f64() * 1e6,
            done.as_secs_f64() * 1e6
        );
    }
}
