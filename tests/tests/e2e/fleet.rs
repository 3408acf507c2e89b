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

/// `NAME stats --json`: which process polls each connection.
fn polled_by(bin: &Path, url: &str) -> BTreeMap<String, Option<String>> {
    holders(bin, url)
        .into_iter()
        .map(|(conn, (owner, _))| (conn, owner))
        .collect()
}

/// A process of the fleet: `bin run` on the store at `url`, with a 6 s lease, its log in
/// `log` (in the test's folder).
fn fleet_process(s: &Setup, bin: &Path, url: &str, log: &str) -> Proc {
    let args = [
        "run",
        "--config-file",
        &s.rc,
        "--store",
        url,
        "--stats-interval",
        "1",
        "--lease-ttl",
        "6",
    ];
    Proc::spawn(bin, &args, s.dir.path().join(log), &[])
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
    let mut procs: Vec<Option<Proc>> = (0..3)
        .map(|i| Some(fleet_process(&s, &bin, &db.url, &format!("run-{i}.log"))))
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

/// `NAME stats --json`: each connection's holder and the build it runs.
fn holders(bin: &Path, url: &str) -> BTreeMap<String, (Option<String>, Option<String>)> {
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
                (
                    c["polled_by"].as_str().map(str::to_owned),
                    c["build"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_moves_every_connection_to_the_new_build_exactly_once() {
    let Ok(admin) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping a_rolling_upgrade_moves_every_connection_to_the_new_build_exactly_once: ZLC_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let s = setup().await;
    let file = s.dir.path().join("fleet_e2e.toml");
    // Build A answers "A"; build B answers "B" and also counts reactions on realm 1
    // (so its queue there is registered for other events).
    let a_text = PIPELINE
        .replace("name = \"fleet_e2e\"", "name = \"upgrade_e2e\"")
        .replace("seen: {{message.content}}", "A {{message.content}}");
    std::fs::write(&file, &a_text).unwrap();
    let built = build_pipeline(&file);
    let bin_a = s.dir.path().join("upgrade_e2e-a");
    std::fs::copy(&built, &bin_a).unwrap();
    let b_text = format!(
        "{}\n[[listener]]\nname = \"reacted\"\nevents = \"reaction\"\nrealms = [1]\n\n[[listener.action]]\ntype = \"count\"\n",
        a_text.replace("A {{message.content}}", "B {{message.content}}")
    );
    std::fs::write(&file, &b_text).unwrap();
    let bin_b = build_pipeline(&file);
    let db = Database::create(&admin).await;
    let spawn = |bin: &Path, name: &str| fleet_process(&s, bin, &db.url, name);
    let mut a1 = Some(spawn(&bin_a, "a1.log"));
    let mut a2 = Some(spawn(&bin_a, "a2.log"));
    let logs = |procs: &[&Option<Proc>]| -> String {
        procs
            .iter()
            .filter_map(|p| p.as_ref())
            .map(Proc::log_text)
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    // The two A processes share the three connections.
    let started = Instant::now();
    loop {
        let h = holders(&bin_a, &db.url);
        let owners: BTreeSet<_> = h.values().filter_map(|(o, _)| o.clone()).collect();
        if h.len() == 3 && h.values().all(|(o, _)| o.is_some()) && owners.len() == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{h:?}\n{}",
            logs(&[&a1, &a2])
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let build_a = holders(&bin_a, &db.url)
        .values()
        .next()
        .and_then(|(_, b)| b.clone())
        .unwrap();

    let dana = s.zulip.add_user("dana@zulip.example.com", "Dana");
    s.zulip.add_channel("ops");
    let sent = std::sync::atomic::AtomicU32::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    // A steady stream (one message every 100 ms) for the whole upgrade.
    let stream = async {
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let n = sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            s.zulip
                .message()
                .channel("ops")
                .topic("upgrade")
                .sender(&dana)
                .content(&format!("m{n}"))
                .send();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let mut b = None;
    let upgrade = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        // B joins: it takes nothing while the A processes poll.
        b = Some(spawn(&bin_b, "b.log"));
        b.as_ref().unwrap().wait_for_log(30, "standing by").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let h = holders(&bin_b, &db.url);
        assert!(
            h.values()
                .all(|(_, build)| build.as_deref() == Some(build_a.as_str())),
            "B took a connection from a live A: {h:?}"
        );
        // A1, then A2, stopped: each one's connections go to B, never to the other A.
        for a in [&mut a1, &mut a2] {
            let (status, log) = a.take().unwrap().stop();
            assert!(status.success(), "{log}");
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let h = holders(&bin_b, &db.url);
            if h.len() == 3
                && h.values()
                    .all(|(o, build)| o.is_some() && build.as_deref() != Some(build_a.as_str()))
            {
                break;
            }
            assert!(Instant::now() < deadline, "{h:?}\n{}", logs(&[&b]));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    tokio::join!(stream, upgrade);
    let total = sent.load(std::sync::atomic::Ordering::SeqCst);
    let answers = || -> Vec<String> {
        s.bot_messages()
            .into_iter()
            .map(|m| m.content)
            .filter(|c| c.starts_with("A m") || c.starts_with("B m"))
            .collect()
    };
    wait_until(30, "every message answered", || {
        answers().len() >= total as usize
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let b = b.unwrap();
    let b_pid = b.pid();
    // Every connection ends on B.
    let h = holders(&bin_b, &db.url);
    assert_eq!(h.len(), 3, "{h:?}");
    for (conn, (owner, build)) in &h {
        assert_eq!(pid_of(owner.as_deref().unwrap()), b_pid, "{conn}: {h:?}");
        assert_ne!(build.as_deref(), Some(build_a.as_str()), "{conn}");
    }
    let (status, log) = b.stop();
    assert!(status.success(), "{log}");
    // B registers realm 1 for reactions too: it replaced A's queue there (once), and
    // resumed A's queues of realms 2 and 3.
    assert_eq!(
        log.matches("event types changed: message → message, reaction; new queue registered")
            .count(),
        1,
        "{log}"
    );

    // Exactly once: every message answered once, by A until the switch and by B after,
    // never back.
    let got = answers();
    let mut numbers: Vec<u32> = got.iter().map(|c| c[3..].parse().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..total).collect::<Vec<_>>(), "{got:?}");
    let by_number: BTreeMap<u32, char> = got
        .iter()
        .map(|c| (c[3..].parse().unwrap(), c.chars().next().unwrap()))
        .collect();
    let builds: String = by_number.values().collect();
    assert!(
        builds.trim_start_matches('A').chars().all(|c| c == 'B') && builds.contains('B'),
        "{builds}"
    );
    let store = Store::open(&db.url).await.unwrap();
    let tally: i64 = store
        .counts("upgrade_e2e", "tally")
        .await
        .unwrap()
        .iter()
        .map(|r| r.n)
        .sum();
    assert_eq!(
        tally,
        2 * i64::from(total),
        "each message once on realms 2 and 3"
    );
    store.close().await;
    db.drop_it().await;
}

/// A schedule in a fleet: three processes tick together, and each tick is posted once
/// (the store's claim decides who posts it), none missed while they run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_post_each_tick_of_a_schedule_once() {
    let Ok(admin) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping three_processes_post_each_tick_of_a_schedule_once: ZLC_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let s = setup().await;
    s.zulip.add_channel("team");
    let file = s.dir.path().join("ticks_e2e.toml");
    std::fs::write(
        &file,
        r#"[pipeline]
name = "ticks_e2e"

[[realm]]
id = 1

[[schedule]]
name = "every_two_seconds"
every = "2s"

[[schedule.action]]
type = "reply"
to = "channel"
channel = "team"
topic = "ticks"
template = "tick {{event.id}} at {{tick.time}}"
"#,
    )
    .unwrap();
    let bin = build_pipeline(&file);
    // `list` says when a schedule ticks (it takes no events).
    let list = std::process::Command::new(&bin)
        .arg("list")
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        list.contains("every_two_seconds    enabled   every=\"2s\" (UTC) realms=all actions=reply"),
        "{list}"
    );
    let db = Database::create(&admin).await;
    let procs: Vec<Proc> = (0..3)
        .map(|i| fleet_process(&s, &bin, &db.url, &format!("ticks-{i}.log")))
        .collect();
    let ticks = || -> Vec<i64> {
        s.bot_messages()
            .iter()
            .filter_map(|m| m.content.strip_prefix("tick "))
            .filter_map(|rest| rest.split(' ').next()?.parse().ok())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while ticks().len() < 6 {
        let logs: Vec<String> = procs.iter().map(Proc::log_text).collect();
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            ticks(),
            logs.join("\n----\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut logs = Vec::new();
    for p in procs {
        let (status, log) = p.stop();
        assert!(status.success(), "{log}");
        logs.push(log);
    }
    let posted = ticks();
    let distinct: BTreeSet<i64> = posted.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        posted.len(),
        "a tick posted twice: {posted:?}"
    );
    let (first, last) = (posted[0], *distinct.last().unwrap());
    let every: Vec<i64> = (first..=last).step_by(2).collect();
    assert_eq!(
        distinct.into_iter().collect::<Vec<_>>(),
        every,
        "a tick missed while three processes ran\n{}",
        logs.join("\n----\n")
    );
    // Each process ran some of them, or others did: all three took part in claiming.
    let ran: usize = logs.iter().map(|l| l.matches("ticked").count()).sum();
    assert_eq!(ran, posted.len(), "{}", logs.join("\n----\n"));
}
