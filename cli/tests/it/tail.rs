use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zlc_runtime::testkit::{FakeOptions, FakeZulip, Fault};

const ZLC: &str = env!("CARGO_BIN_EXE_zlc");

fn spawn_tail(rc: &Path, store: &str, out: &Path) -> Child {
    Command::new(ZLC)
        .args([
            "tail",
            "--event-types",
            "message",
            "--store",
            store,
            "--config-file",
        ])
        .arg(rc)
        .stdout(Stdio::from(std::fs::File::create(out).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::create(out.with_extension("log")).unwrap(),
        ))
        .spawn()
        .unwrap()
}

/// Message ids printed in `out`, in order.
fn printed_ids(out: &Path) -> Vec<i64> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "message")
        .map(|v| v["message"]["id"].as_i64().unwrap())
        .collect()
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "zlc did not exit in {secs} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not met in {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The issue's acceptance test: 10,000 messages while the queue expires once, with one
/// 429, one 502, one cut connection and one `kill -9` + restart of `zlc tail`. Every
/// message id must be printed, and duplicates may occur only around the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_survive_expiry_faults_and_kill_9() {
    const TOTAL: usize = 10_000;
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_secs(1),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("zuliprc");
    std::fs::write(&rc, zulip.zuliprc(zulip.bot())).unwrap();
    let store = format!("sqlite://{}", dir.path().join("zlc.db").display());
    let (out1, out2) = (dir.path().join("run1.jsonl"), dir.path().join("run2.jsonl"));

    let mut run1 = spawn_tail(&rc, &store, &out1);
    wait_until(20, || !zulip.queue_ids().is_empty()).await;

    let alice = zulip.add_user("alice@zulip.example.com", "Alice");
    let mut sent = Vec::with_capacity(TOTAL);
    let mut run2 = None;
    for chunk in 0..(TOTAL - 1000) / 50 {
        for i in 0..50 {
            let channel = ["general", "devel", "alerts"][(chunk + i) % 3];
            sent.push(
                zulip
                    .message()
                    .channel(channel)
                    .topic("load")
                    .sender(&alice)
                    .content(&format!("message {chunk}-{i}"))
                    .send(),
            );
        }
        match sent.len() {
            1500 => zulip.inject(Some("events"), Fault::RateLimit { retry_after: 1.0 }),
            3000 => zulip.inject(Some("events"), Fault::Html { status: 502 }),
            4500 => zulip.inject(Some("events"), Fault::CutBody),
            6000 => {
                assert_eq!(zulip.expire_all_queues(), 1);
            }
            7000 => {
                // Once run 1 has printed past the expiry, send a burst and kill it
                // while it is still printing the burst: mid-batch, mid-acknowledgement.
                wait_until(60, || printed_ids(&out1).len() >= 6100).await;
                for i in 0..1000 {
                    sent.push(
                        zulip
                            .message()
                            .channel("devel")
                            .topic("burst")
                            .sender(&alice)
                            .content(&format!("burst {i}"))
                            .send(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                run1.kill().unwrap(); // SIGKILL
                run1.wait().unwrap();
            }
            8500 => run2 = Some(spawn_tail(&rc, &store, &out2)),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let mut run2 = run2.unwrap();
    wait_until(90, || {
        let mut all: Vec<i64> = printed_ids(&out1);
        all.extend(printed_ids(&out2));
        let set: std::collections::HashSet<i64> = all.into_iter().collect();
        sent.iter().all(|id| set.contains(id))
    })
    .await;
    sigterm(&run2);
    let status = wait_exit(&mut run2, 20);
    assert!(status.success(), "SIGTERM exits 0: {status:?}");

    let (ids1, ids2) = (printed_ids(&out1), printed_ids(&out2));
    let mut counts: HashMap<i64, u32> = HashMap::new();
    for id in ids1.iter().chain(&ids2) {
        *counts.entry(*id).or_default() += 1;
    }
    assert!(
        sent.iter().all(|id| counts.contains_key(id)),
        "every message id printed at least once"
    );
    assert_eq!(counts.len(), TOTAL, "nothing printed that was not sent");
    // Within one run nothing repeats (the backfill after the expiry is de-duplicated).
    for (name, ids) in [("run 1", &ids1), ("run 2", &ids2)] {
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{name} printed a message twice");
    }
    // Across the kill, the repeats are exactly the tail of run 1 (printed, not yet
    // acknowledged) and they open run 2.
    let dups: Vec<i64> = ids1.iter().copied().filter(|id| counts[id] > 1).collect();
    assert_eq!(
        dups,
        ids1[ids1.len() - dups.len()..],
        "duplicates only at the end of run 1"
    );
    assert_eq!(dups, ids2[..dups.len()], "and at the start of run 2");
    let faults: Vec<_> = zulip
        .requests()
        .into_iter()
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(
        faults.len(),
        3,
        "429, 502 and the cut connection were all served: {faults:?}"
    );
    let log1 = std::fs::read_to_string(out1.with_extension("log")).unwrap();
    assert!(log1.contains("event queue expired"), "{log1}");
    let log2 = std::fs::read_to_string(out2.with_extension("log")).unwrap();
    assert!(log2.contains("resuming from checkpoint"), "{log2}");
    eprintln!(
        "printed {} + {} lines for {TOTAL} messages; {} duplicates, all around the kill",
        ids1.len(),
        ids2.len(),
        dups.len()
    );
}

fn run_zlc(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(ZLC);
    cmd.args(args)
        .env_remove("ZULIP_CONFIG")
        .env_remove("ZULIP_API_KEY")
        .env_remove("ZULIP_EMAIL")
        .env_remove("ZULIP_SITE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_clear_errors_and_nonzero_exits() {
    let zulip = FakeZulip::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap().to_owned();

    // Wrong key: exit 1 with the server's message.
    let rc = dir.path().join("wrong");
    std::fs::write(&rc, zulip.zuliprc(zulip.bot()).replace("key=", "key=x")).unwrap();
    let (code, out, err) = run_zlc(
        &["tail", "--config-file", rc.to_str().unwrap()],
        &[("HOME", &home)],
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("authentication failed (INVALID_API_KEY): Invalid API key"),
        "{err}"
    );

    // No configuration at all.
    let (code, _, err) = run_zlc(&["tail"], &[("HOME", &home)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("missing Zulip credentials") && err.contains(".zuliprc"),
        "{err}"
    );

    // A zuliprc that is named but missing.
    let (code, _, err) = run_zlc(
        &["tail", "--config-file", "/nonexistent/zuliprc"],
        &[("HOME", &home)],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read zuliprc /nonexistent/zuliprc"),
        "{err}"
    );

    // Site typos.
    for (site, expect) in [
        ("htps://chat.example.com", "scheme \"htps\""),
        ("http://chat.example.com", "non-loopback"),
    ] {
        let (code, _, err) = run_zlc(
            &["tail", "--site", site, "--email", "a@b.c"],
            &[("HOME", &home), ("ZULIP_API_KEY", "k")],
        );
        assert_eq!(code, 1);
        assert!(err.contains(expect), "{site}: {err}");
    }

    // A store that cannot be created.
    let rc = dir.path().join("good");
    std::fs::write(&rc, zulip.zuliprc(zulip.bot())).unwrap();
    let (code, _, err) = run_zlc(
        &[
            "tail",
            "--config-file",
            rc.to_str().unwrap(),
            "--store",
            "sqlite:///no/such/dir/zlc.db",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("opening the store") && err.contains("/no/such/dir/zlc.db"),
        "{err}"
    );

    // A malformed narrow.
    let (code, _, err) = run_zlc(
        &[
            "tail",
            "--config-file",
            rc.to_str().unwrap(),
            "--narrow",
            "devel",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("OPERATOR:OPERAND"), "{err}");

    // The API key never reaches the logs, even at trace level.
    let (_, _, err) = run_zlc(
        &[
            "tail",
            "--config-file",
            rc.to_str().unwrap(),
            "--max-events",
            "0",
            "--log-level",
            "trace",
        ],
        &[],
    );
    assert!(
        !err.contains(&zulip.bot().api_key),
        "the key leaked into the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_and_max_events_and_output_format() {
    let zulip = FakeZulip::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("rc");
    std::fs::write(&rc, zulip.zuliprc(zulip.bot())).unwrap();
    let out = dir.path().join("out.jsonl");
    let mut child = Command::new(ZLC)
        .args([
            "tail",
            "--narrow",
            "channel:devel",
            "--max-events",
            "3",
            "--config-file",
        ])
        .arg(&rc)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(20, || !zulip.queue_ids().is_empty()).await;
    let mut devel = Vec::new();
    for i in 0..5 {
        zulip
            .message()
            .channel("general")
            .content(&format!("g{i}"))
            .send();
        devel.push(
            zulip
                .message()
                .channel("devel")
                .content(&format!("d{i}"))
                .send(),
        );
    }
    let status = tokio::task::spawn_blocking(move || wait_exit(&mut child, 20))
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(printed_ids(&out), devel[..3], "only devel, and only three");
    // Each line is one event object, as the replay source reads it.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.lines()
            .all(|l| l.starts_with(r#"{"type":"message","message":{"id":"#)),
        "{text}"
    );
}
