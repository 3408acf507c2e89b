//! Nothing the checkpoint passed lives only in memory: dead letters are listed,
//! replayed and dropped; a store that goes away stops acknowledgement (not the process),
//! and everything is written when it returns.

use zlc_runtime::store::Store;

use super::receiver::{Receiver, Reply};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_replayed_and_dropped() {
    let s = setup().await;
    let fail = |_| Reply {
        status: 500,
        body: "{\"error\":\"down\"}".into(),
        delay: Duration::ZERO,
        retry_after: None,
    };
    let hook =
        Receiver::start_with((0..3).map(fail).collect(), Reply::ok_after(Duration::ZERO)).await;
    let bin = pipeline_in(
        s.dir.path(),
        "dead_e2e",
        &format!(
            r#"[[listener]]
name = "forward"
events = "message"
channels = ["alerts"]
retries = 0
ordered = false

[[listener.action]]
type = "webhook"
url = "http://127.0.0.1:{}/hook"
allow_private = true
body = {{ text = "{{{{message.content}}}}" }}
"#,
            hook.port
        ),
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    for text in ["one", "two", "three"] {
        s.zulip
            .message()
            .channel("alerts")
            .sender(&alice)
            .content(text)
            .send();
    }
    let store = Store::open(&s.store_url).await.unwrap();
    poll(
        100,
        async || store.dead_letters("dead_e2e").await.unwrap(),
        |d| d.len() == 3,
    )
    .await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");

    let store_flag = ["--store", s.store_url.as_str()];
    let (code, out, _) = run_cmd(&bin, &[&["dead-letters", "list"][..], &store_flag].concat());
    assert_eq!(code, 0);
    assert!(
        out.contains("3 dead letters") && out.contains("HTTP 500"),
        "{out}"
    );
    let ids: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{out}");
    let (_, json, _) = run_cmd(
        &bin,
        &[&["dead-letters", "list", "--json"][..], &store_flag].concat(),
    );
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["listener"], "forward");
    assert_eq!(first["event"]["type"], "message");

    let (code, _, err) = run_cmd(
        &bin,
        &[&["dead-letters", "drop", "999999"][..], &store_flag].concat(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("no dead letter #999999"), "{err}");
    let (code, out, _) = run_cmd(
        &bin,
        &[&["dead-letters", "drop", ids[2].as_str()][..], &store_flag].concat(),
    );
    assert_eq!((code, out.trim()), (0, "dropped 1 dead letter"));

    // The receiver answers now: a replay delivers the two that are left.
    let (code, out, err) = run_cmd(
        &bin,
        &[
            &[
                "dead-letters",
                "replay",
                "--all",
                "--config-file",
                s.rc.as_str(),
            ][..],
            &store_flag,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 replayed, 0 still dead"), "{out}");
    assert_eq!(hook.received().len(), 5, "three failures, two replays");
    let (_, out, _) = run_cmd(&bin, &[&["dead-letters", "list"][..], &store_flag].concat());
    assert_eq!(out.trim(), "no dead letters");
}

/// Holds SQLite's write lock from another connection, as another process could.
async fn lock_sqlite(url: &str) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut c)
        .await
        .unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_goes_away_stops_acknowledgement_and_loses_nothing() {
    let s = setup().await;
    let bin = pipeline_in(
        s.dir.path(),
        "outage_e2e",
        r#"[[listener]]
name = "echo"
events = "message"
channels = ["alerts"]

[[listener.action]]
type = "reply"
template = "seen: {{message.content}}"
"#,
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    let send = |text: &str| {
        s.zulip
            .message()
            .channel("alerts")
            .sender(&alice)
            .content(text)
            .send()
    };
    send("one");
    let store = Store::open(&s.store_url).await.unwrap();
    let matched = async || {
        store
            .listener_totals("outage_e2e")
            .await
            .unwrap()
            .first()
            .map_or(0, |t| t.figures.matched)
    };
    poll(100, matched, |n| *n == 1).await;

    // The store goes away (another process holds its write lock) and comes back: the
    // process waits, warns, and writes everything when it returns.
    let lock = lock_sqlite(&s.store_url).await;
    send("two");
    wait_until(30, "a warning that the store cannot be written", || {
        p.log_text().contains("in the store; waiting for it")
            || p.log_text().contains("cannot write to the store")
    })
    .await;
    assert_eq!(
        s.bot_messages().len(),
        1,
        "no reply before its claim is written"
    );
    drop(lock);
    wait_until(30, "the second reply", || s.bot_messages().len() >= 2).await;
    poll(100, matched, |n| *n == 2).await;

    // It goes away again, and the process is killed meanwhile: what it could not write
    // was not acknowledged, so it comes again at the next start.
    let lock = lock_sqlite(&s.store_url).await;
    send("three");
    // One SQLite connection: while the store is locked every queued operation (the
    // owner heartbeat, a write, the claim) holds it for the 10 s busy timeout in turn,
    // so the claim's warning may come 20 s or more after the lock.
    wait_until(60, "the process waiting for the store", || {
        p.log_text().matches("waiting for it").count() >= 2
            || p.log_text().matches("cannot write to the store").count() >= 2
    })
    .await;
    let log = p.kill_9();
    assert!(!log.contains("panicked"), "{log}");
    drop(lock);
    let p = s.run(&bin, &[], &[]);
    wait_until(30, "the third reply", || s.bot_messages().len() >= 3).await;
    poll(100, matched, |n| *n == 3).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let replies: Vec<String> = s.bot_messages().into_iter().map(|m| m.content).collect();
    assert_eq!(replies, ["seen: one", "seen: two", "seen: three"]);
    assert_eq!(matched().await, 3, "each event counted once");
}

/// PostgreSQL goes away for 30 s (every connection dropped, new ones refused): the
/// process keeps running, warns, acknowledges nothing it could not write, performs no
/// side effect it could not claim, and when the database returns writes everything;
/// every message is answered once and counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_for_30_s_pauses_and_loses_nothing() {
    let Ok(admin) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping postgres_going_away_for_30_s_pauses_and_loses_nothing: ZLC_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let s = setup().await;
    let db = Database::create(&admin).await;
    let proxy = PgProxy::start().await;
    let url = proxy.url(&db);
    let bin = pipeline_in(
        s.dir.path(),
        "pg_outage_e2e",
        r#"[[listener]]
name = "echo"
events = "message"
channels = ["alerts"]
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "reply"
template = "seen: {{message.content}}"

[[listener.action]]
type = "count"
by = ["channel"]
"#,
    );
    let mut p = Proc::spawn(
        &bin,
        &[
            "run",
            "--config-file",
            &s.rc,
            "--store",
            &url,
            "--stats-interval",
            "1",
        ],
        s.dir.path().join("run.log"),
        &[],
    );
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    let send = |n: u32| {
        s.zulip
            .message()
            .channel("alerts")
            .topic(&format!("t{n}"))
            .sender(&alice)
            .content(&format!("n{n}"))
            .send()
    };
    for n in 0..5 {
        send(n);
    }
    wait_until(30, "5 answers", || s.bot_messages().len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let outage = Instant::now();
    proxy.cut();
    for n in 5..10 {
        send(n);
    }
    wait_until(40, "a warning about the store", || {
        let log = p.log_text();
        log.contains("cannot write to the store") || log.contains("in the store; waiting for it")
    })
    .await;
    while outage.elapsed() < Duration::from_secs(30) {
        assert!(p.child.try_wait().unwrap().is_none(), "{}", p.log_text());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        s.bot_messages().len(),
        5,
        "no answer without a claim in the store"
    );
    proxy.restore();
    wait_until(60, "10 answers", || s.bot_messages().len() >= 10).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");

    let answers: Vec<String> = s.bot_messages().into_iter().map(|m| m.content).collect();
    let distinct: std::collections::BTreeSet<_> = answers.iter().collect();
    assert_eq!((answers.len(), distinct.len()), (10, 10), "{answers:?}");
    let store = Store::open(&db.url).await.unwrap();
    let counted: i64 = store
        .counts("pg_outage_e2e", "echo")
        .await
        .unwrap()
        .iter()
        .map(|r| r.n)
        .sum();
    assert_eq!(counted, 10, "each message counted once");
    let matched = store.listener_totals("pg_outage_e2e").await.unwrap()[0]
        .figures
        .matched;
    assert_eq!(matched, 10);
    store.close().await;
    db.drop_it().await;
}
