//! Jobs that do not block each other: polling goes on while a slow action runs, one
//! conversation keeps its order while others run beside it, a job cut by `kill -9` runs
//! again without answering twice, and a 429 waits what it asks.

use std::collections::VecDeque;

use zlc_runtime::store::Store;

use super::receiver::{Receiver, Reply};
use super::*;

/// A slow webhook listener and a quick reply listener on the same messages.
fn slow_and_quick(port: u16, slow: &str) -> String {
    format!(
        r#"[[listener]]
name = "slow"
events = "message"
channels = ["alerts"]
{slow}
[[listener.action]]
type = "webhook"
url = "http://127.0.0.1:{port}/hook"
allow_private = true
body = {{ text = "{{{{message.content}}}}" }}

[[listener]]
name = "quick"
events = "message"
channels = ["alerts"]

[[listener.action]]
type = "reply"
template = "seen: {{{{message.content}}}}"
"#
    )
}

fn texts(hook: &Receiver) -> Vec<String> {
    hook.received()
        .iter()
        .map(|r| r.body["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_listener_holds_up_no_other_and_a_conversation_keeps_its_order() {
    let s = setup().await;
    let hook = Receiver::start_with(Vec::new(), Reply::ok_after(Duration::from_secs(3))).await;
    let bin = pipeline_in(
        s.dir.path(),
        "jobs_order_e2e",
        &slow_and_quick(hook.port, "timeout = \"20s\"\nretries = 0"),
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    for (topic, content) in [("a", "one"), ("a", "two"), ("b", "three")] {
        s.zulip
            .message()
            .channel("alerts")
            .topic(topic)
            .sender(&alice)
            .content(content)
            .send();
    }
    // The quick listener answers all three while the slow one still waits for its
    // first answers: polling and other listeners do not wait for a slow action.
    wait_until(10, "three quick replies", || s.bot_messages().len() >= 3).await;
    assert!(
        hook.received().iter().all(|r| r.answered.is_none()),
        "the quick replies came before any webhook answer"
    );
    wait_until(20, "three webhook calls answered", || {
        let r = hook.received();
        r.len() == 3 && r.iter().all(|r| r.answered.is_some())
    })
    .await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let r = hook.received();
    let at = |text: &str| r.iter().find(|x| x.body["text"] == text).unwrap();
    let (one, two, three) = (at("one"), at("two"), at("three"));
    // Topic a: "two" reaches the listener only after "one" is done; topic b does not
    // wait for topic a.
    assert!(two.arrived >= one.answered.unwrap(), "{:?}", texts(&hook));
    assert!(three.arrived < one.answered.unwrap(), "{:?}", texts(&hook));
    let store = Store::open(&s.store_url).await.unwrap();
    let totals = store.listener_totals("jobs_order_e2e").await.unwrap();
    let slow = totals.iter().find(|t| t.listener == "slow").unwrap();
    assert_eq!(
        (slow.figures.matched, slow.figures.succeeded),
        (3, 3),
        "{totals:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cut_by_kill_9_runs_again_and_nothing_is_answered_twice() {
    let s = setup().await;
    // The first call never gets an answer (the process is killed meanwhile).
    let hook = Receiver::start_with(
        vec![Reply {
            status: 0,
            body: String::new(),
            delay: Duration::ZERO,
            retry_after: None,
        }],
        Reply::ok_after(Duration::ZERO),
    )
    .await;
    let bin = pipeline_in(
        s.dir.path(),
        "jobs_kill_e2e",
        &slow_and_quick(hook.port, "timeout = \"60s\"\nretries = 0"),
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    s.zulip
        .message()
        .channel("alerts")
        .topic("a")
        .sender(&alice)
        .content("one")
        .send();
    wait_until(10, "the quick reply and the first webhook call", || {
        s.bot_messages().len() == 1 && hook.received().len() == 1
    })
    .await;
    let _ = p.kill_9();
    // Its batch was not acknowledged (a job was still running): the event comes again.
    let p = s.run(&bin, &[], &[]);
    wait_until(20, "the webhook call made again and answered", || {
        let r = hook.received();
        r.len() == 2 && r[1].answered.is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert_eq!(
        s.bot_messages().len(),
        1,
        "the reply done before the kill is not sent again"
    );
    assert_eq!(texts(&hook), ["one", "one"]);
    // The call made again carries the key of the first, so the receiver can drop it.
    let keys: Vec<Option<String>> = hook
        .received()
        .iter()
        .map(|r| r.idempotency_key.clone())
        .collect();
    assert!(keys[0].as_ref().is_some_and(|k| k.len() == 36), "{keys:?}");
    assert_eq!(keys[0], keys[1], "the same Idempotency-Key after a kill -9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_what_its_retry_after_asks() {
    let s = setup().await;
    let hook = Receiver::start_with(
        vec![Reply {
            status: 429,
            body: "{}".into(),
            delay: Duration::ZERO,
            retry_after: Some(2),
        }],
        Reply::ok_after(Duration::ZERO),
    )
    .await;
    let bin = pipeline_in(
        s.dir.path(),
        "jobs_429_e2e",
        &slow_and_quick(hook.port, "retries = 2\nbackoff = \"100ms\""),
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    s.zulip
        .message()
        .channel("alerts")
        .sender(&alice)
        .content("one")
        .send();
    wait_until(15, "the retried call", || hook.received().len() == 2).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let r = hook.received();
    let waited = r[1].arrived - r[0].arrived;
    // The backoff alone would have waited 100 ms to 1 s.
    assert!(waited >= Duration::from_millis(1900), "waited {waited:?}");
}

/// SIGTERM: polling stops, jobs in flight end (up to `--drain-timeout`), their work is
/// written, exit 0; nothing comes again at the next start. Jobs the deadline cuts off
/// are not acknowledged and run again at the next start. A second signal exits at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_jobs_up_to_the_deadline() {
    let s = setup().await;
    let hook = Receiver::start_with(Vec::new(), Reply::ok_after(Duration::ZERO)).await;
    *hook.script.lock().unwrap() = VecDeque::from(vec![
        Reply::ok_after(Duration::from_secs(2)),
        Reply::ok_after(Duration::from_secs(2)),
        Reply::ok_after(Duration::from_secs(30)),
        Reply::ok_after(Duration::from_secs(30)),
        Reply::ok_after(Duration::ZERO),
        Reply::ok_after(Duration::ZERO),
        Reply::ok_after(Duration::from_secs(30)),
    ]);
    let bin = pipeline_in(
        s.dir.path(),
        "jobs_drain_e2e",
        &slow_and_quick(hook.port, "timeout = \"60s\"\nretries = 0\nordered = false"),
    );
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    let send = |text: &str| {
        s.zulip
            .message()
            .channel("alerts")
            .topic(text)
            .sender(&alice)
            .content(text)
            .send();
    };
    let slow = async || {
        let store = Store::open(&s.store_url).await.unwrap();
        let totals = store.listener_totals("jobs_drain_e2e").await.unwrap();
        store.close().await;
        totals
            .iter()
            .find(|t| t.listener == "slow")
            .map_or((0, 0), |t| (t.figures.matched, t.figures.succeeded))
    };

    // Two calls of 2 s in flight at SIGTERM: they end, are written, exit 0.
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    send("one");
    send("two");
    wait_until(10, "two webhook calls in flight", || {
        hook.received().len() == 2
    })
    .await;
    let stopping = Instant::now();
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(
        stopping.elapsed() >= Duration::from_millis(1500),
        "it waited for the jobs"
    );
    assert!(
        hook.received().iter().all(|r| r.answered.is_some()),
        "both calls ended before the exit"
    );
    assert_eq!(slow().await, (2, 2), "{log}");

    // Two calls of 30 s with a drain deadline of 1 s: cut off, exit 0 with a warning;
    // they come again at the next start (and nothing drained before does).
    let p = s.run(&bin, &["--drain-timeout", "1"], &[]);
    s.connected(&p).await;
    send("three");
    send("four");
    wait_until(10, "two more calls in flight", || {
        hook.received().len() == 4
    })
    .await;
    let stopping = Instant::now();
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(stopping.elapsed() < Duration::from_secs(10), "{log}");
    assert!(log.contains("drain deadline"), "{log}");
    assert_eq!(
        slow().await,
        (2, 2),
        "the cut-off jobs were not written as done"
    );
    let p = s.run(&bin, &[], &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(hook.received().len() == 6 && hook.received()[4..].iter().all(|r| r.answered.is_some()))
    {
        assert!(
            Instant::now() < deadline,
            "the cut-off calls were not made again: {:?}\n{}",
            texts(&hook),
            p.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let mut again: Vec<String> = texts(&hook)[4..].to_vec();
    again.sort();
    assert_eq!(
        again,
        ["four", "three"],
        "only the cut-off events came again"
    );
    assert_eq!(slow().await, (4, 4));

    // A second signal exits at once, whatever is in flight.
    let p = s.run(&bin, &[], &[]);
    wait_until(20, "the process resuming its queue", || {
        p.log_text().contains("resuming from checkpoint")
    })
    .await;
    send("five");
    wait_until(10, "a call in flight", || hook.received().len() == 7).await;
    let pid = p.pid().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut p = p;
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = p.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "no exit after a second SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success() || status.code() == Some(130), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_run_in_order_and_stop_at_the_first_failure() {
    let s = setup().await;
    let down = Receiver::start_with(
        Vec::new(),
        Reply {
            status: 500,
            body: "{}".into(),
            delay: Duration::ZERO,
            retry_after: None,
        },
    )
    .await;
    let up = Receiver::start(Vec::new()).await;
    let body = format!(
        r#"[[listener]]
name = "after_a_failure"
events = "message"
channels = ["alerts"]
retries = 0

[[listener.action]]
type = "webhook"
url = "http://127.0.0.1:{down}/hook"
allow_private = true

[[listener.action]]
type = "count"
by = ["sender"]

[[listener.action]]
type = "store"

[[listener]]
name = "after_a_success"
events = "message"
channels = ["alerts"]

[[listener.action]]
type = "count"
by = ["sender"]

[[listener.action]]
type = "webhook"
url = "http://127.0.0.1:{up}/hook"
allow_private = true

[[listener.action]]
type = "count"

[[listener.action]]
type = "store"
"#,
        down = down.port,
        up = up.port
    );
    let bin = pipeline_in(s.dir.path(), "jobs_in_order_e2e", &body);
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    s.zulip
        .message()
        .channel("alerts")
        .topic("db")
        .sender(&alice)
        .content("the primary is down")
        .send();
    wait_until(20, "both webhooks called", || {
        down.received().len() == 1 && up.received().len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");

    let store = Store::open(&s.store_url).await.unwrap();
    let counted = async |listener: &str| -> (i64, i64) {
        let rows = store.counts("jobs_in_order_e2e", listener).await.unwrap();
        let grouped = rows
            .iter()
            .filter(|r| !r.sender.is_empty())
            .map(|r| r.n)
            .sum();
        let plain = rows
            .iter()
            .filter(|r| r.sender.is_empty())
            .map(|r| r.n)
            .sum();
        (grouped, plain)
    };
    // The failed webhook stops the count and the store after it: nothing counted or
    // stored, one dead letter.
    assert_eq!(counted("after_a_failure").await, (0, 0));
    // A count before the webhook runs at once; the one after it, once it succeeded.
    assert_eq!(counted("after_a_success").await, (1, 1));
    let pool = sqlx::SqlitePool::connect(&s.store_url).await.unwrap();
    let mut rows: Vec<(String, String)> =
        sqlx::query_as("SELECT listener, status FROM zlc_event_log ORDER BY listener, status")
            .fetch_all(&pool)
            .await
            .unwrap();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("after_a_failure".to_owned(), "dead".to_owned()),
            ("after_a_success".to_owned(), "stored".to_owned()),
        ],
        "{log}"
    );
    pool.close().await;
    store.close().await;

    // `stats` keeps matched apart from counted.
    let (code, out, err) = run_cmd(&bin, &["stats", "--json", "--store", &s.store_url]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let line = |name: &str| {
        v["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .cloned()
            .unwrap()
    };
    let failed = line("after_a_failure");
    assert_eq!(
        (&failed["matched"], &failed["counted"], &failed["failed"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!(1)
        )
    );
    let ok = line("after_a_success");
    assert_eq!(
        (&ok["matched"], &ok["counted"], &ok["succeeded"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(2),
            &serde_json::json!(1)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_their_checkpoint_never_wait_for_the_write_interval() {
    let s = setup().await;
    let bin = pipeline_in(
        s.dir.path(),
        "jobs_prompt_e2e",
        r#"[[listener]]
name = "answer"
events = "message"
channels = ["alerts"]
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "reply"
template = "seen: {{message.content}}"
"#,
    );
    // A write interval far longer than any wait below.
    let p = Proc::spawn(
        &bin,
        &[
            "run",
            "--config-file",
            &s.rc,
            "--store",
            &s.store_url,
            "--stats-interval",
            "30s",
        ],
        s.dir.path().join("run.log"),
        &[],
    );
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    let store = Store::open(&s.store_url).await.unwrap();
    for (n, text) in ["one", "two", "three"].into_iter().enumerate() {
        let id = s
            .zulip
            .message()
            .channel("alerts")
            .topic("a")
            .sender(&alice)
            .content(text)
            .send();
        let sent = Instant::now();
        wait_until(5, "the answer", || s.bot_messages().len() == n + 1).await;
        eprintln!("answered {text} in {:?}", sent.elapsed());
        // Written (and so told to Zulip) before the next poll, not at the interval.
        let written = poll(
            50,
            async || {
                store
                    .load_checkpoint("jobs_prompt_e2e/realm-1")
                    .await
                    .unwrap()
                    .and_then(|cp| cp.last_message_id)
            },
            |m| m.is_some_and(|m| m >= id),
        )
        .await;
        assert!(
            written.is_some_and(|m| m >= id),
            "checkpoint {written:?} does not pass message {id} after 5 s:\n{}",
            p.log_text()
        );
    }
    store.close().await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}
