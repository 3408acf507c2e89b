//! Several processes of one pipeline sharing one PostgreSQL store: each realm
//! connection is polled by one process at a time, connections spread over the
//! processes, and when a holder is killed another takes over from the checkpoint,
//! resuming the same Zulip queue, without losing or repeating anything.

use std::collections::{BTreeMap, BTreeSet};

use zlc_runtime::store::Store;

use super::*;

const PIPELINE: &str = r#"[pipeline]
name = "fleet_e2e"

[[realm]]
id = 1
name = "one"

[[realm]]
id = 2
name = "two"

[[realm]]
id = 3
name = "three"

[[listener]]
name = "answer"
events = "message"
realms = [1]
channels = ["ops"]
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "reply"
template = "seen: {{message.content}}"

[[listener]]
name = "tally"
events = "message"
realms = [2, 3]
channels = ["ops"]

[[listener.action]]
type = "count"
by = ["sender"]
"#;

/// `fleet_e2e stats --json`: which process polls each connection.
fn polled_by(bin: &Path, url: &str) -> BTreeMap<String, Option<String>> {
    let out = Command::new(bin)
        .args(["stats", "--json", "--store", url])
        .output()
        .unwrap();
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return BTreeMap::new();
    };
    v["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["connection"].as_str().unwrap_or("").to_owned(),
                c["polled_by"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// The pid in an owner name (`host:pid:random`).
fn pid_of(owner: &str) -> u32 {
    owner.rsplit(':').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_the_connections_and_survive_a_kill() {
    let Ok(admin) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping three_processes_share_the_connections_and_survive_a_kill: ZLC_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let s = setup().await;
    let file = s.dir.path().join("fleet_e2e.toml");
    std::fs::write(&file, PIPELINE).unwrap();
    let bin = build_pipeline(&file);
    let db = Database::create(&admin).await;
    let args = [
        "run",
        "--config-file",
        &s.rc,
        "--store",
        &db.url,
        "--stats-interval",
        "1",
        "--lease-ttl",
        "6",
    ];
    let mut procs: Vec<Option<Proc>> = (0..3)
        .map(|i| {
            Some(Proc::spawn(
                &bin,
                &args,
                s.dir.path().join(format!("run-{i}.log")),
                &[],
            ))
        })
        .collect();
    let logs = |procs: &[Option<Proc>]| -> String {
        procs
            .iter()
            .flatten()
            .map(Proc::log_text)
            .collect::<Vec<_>>()
            .join("\n----\n")
    };

    // The three connections spread over the three processes.
    let started = Instant::now();
    let mut spread = BTreeMap::new();
    while started.elapsed() < Duration::from_secs(60) {
        spread = polled_by(&bin, &db.url);
        let owners: BTreeSet<_> = spread.values().flatten().collect();
        if spread.len() == 3 && owners.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let owners: BTreeSet<_> = spread.values().flatten().cloned().collect();
    assert_eq!(owners.len(), 3, "{spread:?}\n{}", logs(&procs));
    eprintln!(
        "fleet: connections spread over 3 processes in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // One queue per connection, ever: handing a connection over resumed its queue.
    assert_eq!(s.zulip.queue_ids().len(), 3, "{}", logs(&procs));

    let dana = s.zulip.add_user("dana@zulip.example.com", "Dana");
    s.zulip.add_channel("ops");
    let send = |n: u32| {
        s.zulip
            .message()
            .channel("ops")
            .topic("fleet")
            .sender(&dana)
            .content(&format!("note {n}"))
            .send();
    };
    let answers = || -> Vec<String> {
        s.bot_messages()
            .into_iter()
            .map(|m| m.content)
            .filter(|c| c.starts_with("seen: "))
            .collect()
    };
    for n in 0..20 {
        send(n);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while answers().len() < 20 {
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            answers(),
            logs(&procs)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Written (statistics and checkpoint) before the kill.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Kill the process polling realm 1; messages keep coming meanwhile.
    let holder = spread["fleet_e2e/realm-1"].clone().unwrap();
    let victim = procs
        .iter()
        .position(|p| p.as_ref().is_some_and(|p| p.pid() == pid_of(&holder)))
        .expect("the holder is one of ours");
    let killed_at = Instant::now();
    procs[victim].take().unwrap().kill_9();
    for n in 20..40 {
        send(n);
    }
    let mut took = None;
    while killed_at.elapsed() < Duration::from_secs(30) {
        let now = polled_by(&bin, &db.url);
        if let Some(Some(new)) = now.get("fleet_e2e/realm-1")
            && *new != holder
        {
            took = Some(killed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = took.unwrap_or_else(|| panic!("nobody took realm 1 over\n{}", logs(&procs)));
    wait_until(30, "40 answers", || answers().len() >= 40).await;
    let answered = killed_at.elapsed();
    eprintln!(
        "fleet: after kill -9 of the holder, realm 1 taken over in {:.1} s; the 20 messages sent meanwhile answered after {:.1} s",
        took.as_secs_f64(),
        answered.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Stall the new holder (SIGSTOP: its pid lives on, as a process on another host
    // would seem): its lease lapses and the last process takes over. When it wakes, its
    // writes are refused by the fence and it stops polling; nothing is repeated.
    let spread = polled_by(&bin, &db.url);
    let holder = spread["fleet_e2e/realm-1"].clone().unwrap();
    let stalled = procs
        .iter()
        .position(|p| p.as_ref().is_some_and(|p| p.pid() == pid_of(&holder)))
        .expect("the new holder is one of ours");
    let pid = procs[stalled].as_ref().unwrap().pid().to_string();
    let stopped_at = Instant::now();
    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    for n in 40..50 {
        send(n);
    }
    let mut took = None;
    while stopped_at.elapsed() < Duration::from_secs(40) {
        if let Some(Some(new)) = polled_by(&bin, &db.url).get("fleet_e2e/realm-1")
            && *new != holder
        {
            took = Some(stopped_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took =
        took.unwrap_or_else(|| panic!("nobody took over from a stalled holder\n{}", logs(&procs)));
    wait_until(30, "50 answers", || answers().len() >= 50).await;
    eprintln!(
        "fleet: a stalled holder (SIGSTOP) lost realm 1 after {:.1} s (lease time to live 6 s)",
        took.as_secs_f64()
    );
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    let woken = procs[stalled].as_ref().unwrap();
    wait_until(20, "the woken process to notice", || {
        woken.log_text().contains("lost the lease")
            || woken.log_text().contains("no longer holds the connection")
    })
    .await;
    for n in 50..60 {
        send(n);
    }
    wait_until(30, "60 answers", || answers().len() >= 60).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for p in procs.iter_mut() {
        if let Some(p) = p.take() {
            let (status, log) = p.stop();
            assert!(status.success(), "{log}");
        }
    }

    // Nothing lost, nothing answered twice, nothing counted twice.
    let got = answers();
    let distinct: BTreeSet<_> = got.iter().collect();
    assert_eq!(distinct.len(), 60, "{got:?}");
    assert_eq!(got.len(), 60, "answered twice: {got:?}");
    assert_eq!(
        s.zulip.queue_ids().len(),
        3,
        "the survivor resumed the dead holder's queue"
    );
    let store = Store::open(&db.url).await.unwrap();
    let tally: i64 = store
        .counts("fleet_e2e", "tally")
        .await
        .unwrap()
        .iter()
        .filter(|r| r.sender.contains("dana") || r.sender.contains("Dana"))
        .map(|r| r.n)
        .sum();
    assert_eq!(tally, 120, "60 messages on each of realms 2 and 3");
    store.close().await;
    db.drop_it().await;
}
