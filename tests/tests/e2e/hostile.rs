//! Careless and hostile input, tried on the real binary as a user (or an attacker in
//! the organization) would: markup that notifies or breaks out, floods and bot loops,
//! forged log lines, unsafe credential files, a restarting server, replays.

use std::process::Command;
use std::time::Duration;

use zlc_runtime::store::Store;
use zlc_runtime::testkit::Fault;

use super::*;

/// No mention that came from user text is live: wildcards, users and groups written in
/// the message, the sender's name or the topic all arrive silenced (`@_**`, `@_*`).
fn assert_nothing_notifies(content: &str) {
    for live in [
        "@**all",
        "@**everyone",
        "@**channel",
        "@**topic",
        "@*support",
        "@**Iago",
    ] {
        assert!(!content.contains(live), "{live} is live in: {content}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_and_forwarded_text_cannot_notify_or_break_out() {
    let s = setup().await;
    s.zulip.add_channel("copies");
    let bin = pipeline_in(
        s.dir.path(),
        "hostile_echo",
        r#"
[[listener]]
name = "echo"
events = "message"
channels = ["devel"]

[[listener.action]]
type = "reply"
template = "You said: {{message.content}} (in {{message.topic}}, by @**{{sender.name}}**)"

[[listener.action]]
type = "forward"
channel = "copies"
"#,
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let mallory = s.zulip.add_user("mallory@zulip.example.com", "x** @**all");
    let content = "/poll Who is here?\n@**all** @**everyone** @**channel** @**topic** @*support* @**Iago|12**\n```\nclosing the quote\n```\n````\nstill inside?";
    s.zulip
        .message()
        .channel("devel")
        .topic("x** @**all")
        .sender(&mallory)
        .content(content)
        .send();
    wait_until(20, "the reply and the forward", || {
        s.bot_messages().len() >= 2
    })
    .await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let copies = s.zulip.add_channel("copies");
    let sent = s.bot_messages();
    let reply = sent.iter().find(|m| m.channel_id != Some(copies)).unwrap();
    let fwd = sent.iter().find(|m| m.channel_id == Some(copies)).unwrap();
    for m in [reply, fwd] {
        assert_nothing_notifies(&m.content);
    }
    assert!(
        reply.content.starts_with("You said: \u{200B}/poll"),
        "{}",
        reply.content
    );
    // The forward: a plain header (the topic would break the link syntax), and a quote
    // whose fence no line of the content can close.
    assert!(
        fwd.content
            .starts_with("x** @_**all in #devel > x** @_**all:\n`````quote\n"),
        "{}",
        fwd.content
    );
    assert!(fwd.content.ends_with("\n`````"), "{}", fwd.content);
    assert_eq!(
        fwd.content
            .lines()
            .filter(|l| l.trim_end() == "`````")
            .count(),
        1,
        "only the closing fence: {}",
        fwd.content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_and_two_bots_answering_each_other_are_held_to_the_limits() {
    let s = setup().await;
    let bin = pipeline_in(
        s.dir.path(),
        "hostile_flood",
        r#"
[[listener]]
name = "answer"
events = "message"
limit_per_sender = "3/1m"
limit_per_conversation = "5/1m"

[[listener.action]]
type = "reply"
template = "ack {{message.id}}"
"#,
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    // One person floods a topic: three answers, the rest held back.
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    for i in 0..10 {
        s.zulip
            .message()
            .channel("devel")
            .topic("flood")
            .sender(&alice)
            .content(&format!("trigger {i}"))
            .send();
    }
    wait_until(20, "three answers", || s.bot_messages().len() >= 3).await;
    // Another bot answers every message of ours in its own topic, as a loop would.
    let other = s.zulip.add_bot("other-bot@zulip.example.com", "Other Bot");
    s.zulip
        .message()
        .channel("devel")
        .topic("loop")
        .sender(&other)
        .content("hello bot")
        .send();
    let loop_topic = |s: &Setup| {
        s.bot_messages()
            .into_iter()
            .filter(|m| m.topic == "loop")
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    let mut answered = 0;
    while std::time::Instant::now() < deadline {
        let ours = loop_topic(&s);
        while answered < ours {
            answered += 1;
            s.zulip
                .message()
                .channel("devel")
                .topic("loop")
                .sender(&other)
                .content(&format!("reply {answered}"))
                .send();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert_eq!(
        s.bot_messages()
            .iter()
            .filter(|m| m.topic == "flood")
            .count(),
        3,
        "three answers to one sender a minute"
    );
    assert_eq!(loop_topic(&s), 3, "the loop stopped at the sender limit");
    // Held-back posts are counted, and said once per episode, not once per event.
    let store = Store::open(&s.store_url).await.unwrap();
    let totals = store.listener_totals("hostile_flood").await.unwrap();
    assert_eq!(totals[0].figures.succeeded, 6, "{totals:?}");
    assert_eq!(totals[0].figures.limited, 8, "{totals:?}");
    assert_eq!(
        log.matches("faster than its limit allows").count(),
        2,
        "one warning per flooding sender:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_records_no_side_effect_it_did_not_perform() {
    let dir = tempfile::tempdir().unwrap();
    let bin = pipeline_in(
        dir.path(),
        "hostile_replay",
        "[[listener]]\nname = \"answer\"\nevents = \"message\"\n\n[[listener.action]]\ntype = \"reply\"\ntemplate = \"ack\"\n\n[[listener.action]]\ntype = \"react\"\nemoji = \"eyes\"\n",
    );
    let store = format!("sqlite://{}", dir.path().join("live.db").display());
    let summary = replay_summary(
        &bin,
        &root().join("pipelines/samples/demo-day.jsonl"),
        &store,
        &[],
    );
    assert!(
        summary["answer"]["matched"].as_u64().unwrap() > 100,
        "{summary}"
    );
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let (effects,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM zlc_effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        effects, 0,
        "a replay only logs its Zulip actions, so a later live delivery must still answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_day_is_counted_in_the_hours_it_happened() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_pipeline(&pipeline("analytics"));
    let store = format!("sqlite://{}", dir.path().join("a.db").display());
    replay_summary(
        &bin,
        &root().join("pipelines/samples/demo-day.jsonl"),
        &store,
        &[],
    );
    let store = Store::open(&store).await.unwrap();
    let hours = store
        .listener_hours("analytics", "per_channel")
        .await
        .unwrap();
    // Every message of the sample was sent in the hour starting at 1795723200.
    assert_eq!(
        hours.iter().map(|h| h.hour).collect::<Vec<_>>(),
        [1795723200],
        "{hours:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_escape_user_text_fill_realm_fields_and_speak_json_on_request() {
    let s = setup().await;
    let bin = pipeline_in(
        s.dir.path(),
        "hostile_logs",
        "[[listener]]\nname = \"logger\"\nevents = \"message\"\n\n[[listener.action]]\ntype = \"log\"\ntemplate = \"[{{realm.name}}] {{message.link}} {{message.content}}\"\n",
    );
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let id = s
        .zulip
        .message()
        .channel("devel")
        .content("innocent\nERROR forged: database wiped\u{202e}kcatta")
        .send();
    wait_until(20, "the log line", || p.log_text().contains("innocent")).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains("\u{1b}["), "no colour into a file:\n{log}");
    let line = log.lines().find(|l| l.contains("innocent")).unwrap();
    assert!(
        line.contains(&format!(
            "[main] {}/#narrow/channel/2/near/{id} innocent\\nERROR forged",
            s.zulip.url()
        )),
        "{line}"
    );
    assert!(!log.lines().any(|l| l.starts_with("ERROR forged")), "{log}");
    assert!(!log.contains('\u{202e}'), "{log}");

    // The same run as JSON lines, for log collectors.
    let p = s.run(&bin, &["--log-format", "json"], &[]);
    s.connected(&p).await;
    s.zulip
        .message()
        .channel("devel")
        .content("second\nline")
        .send();
    wait_until(20, "the JSON log line", || p.log_text().contains("second")).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let logged: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        logged.iter().any(|v| v["message"] == "run finished"),
        "{log}"
    );
    assert!(
        logged.iter().any(|v| v["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("second\nline"))),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_files_others_can_read_are_warned_about_and_writable_ones_refused() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("analytics"));
    let rc = Path::new(&s.rc);
    set_mode(rc, 0o644);
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(
        log.contains(&format!("{} holds a Zulip API key and other users may read it (mode 0644); fix it with `chmod 600 {}`", s.rc, s.rc)),
        "{log}"
    );
    set_mode(rc, 0o666);
    let out = Command::new(&bin)
        .args(["run", "--config-file", &s.rc, "--store", &s.store_url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("every user on this machine may change it") && err.contains("chmod 600"),
        "{err}"
    );
}

/// Started while Zulip restarts (502s, a 503, a slow answer), the binary waits with
/// backoff instead of exiting, and then works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_waits_for_a_restarting_server() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("analytics"));
    s.zulip
        .inject(Some("server_settings"), Fault::Html { status: 502 });
    s.zulip
        .inject(Some("server_settings"), Fault::Html { status: 502 });
    s.zulip.inject(
        Some("users/me"),
        Fault::JsonError {
            status: 503,
            code: "BAD_REQUEST".into(),
            msg: "Service unavailable".into(),
        },
    );
    s.zulip
        .inject(Some("register"), Fault::Html { status: 502 });
    let p = s.run(&bin, &[], &[]);
    wait_until(60, "the queue after the restart", || {
        !s.zulip.queue_ids().is_empty() || p.log_text().contains("error:")
    })
    .await;
    s.zulip.message().channel("devel").content("back").send();
    let store = Store::open(&s.store_url).await.unwrap();
    let totals = poll(
        100,
        async || store.listener_totals("analytics").await.unwrap(),
        |t| {
            t.iter()
                .any(|t| t.listener == "per_channel" && t.figures.matched == 1)
        },
    )
    .await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(
        totals
            .iter()
            .any(|t| t.listener == "per_channel" && t.figures.matched == 1),
        "{totals:?}\n{log}"
    );
    assert_eq!(
        log.matches("request failed; backing off").count(),
        4,
        "{log}"
    );
}

/// The store's password comes at run time (here from the environment), never from the
/// pipeline file, and reaches PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_password_is_read_at_run_time() {
    let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping the_store_password_is_read_at_run_time: ZLC_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin = pipeline_in(
        dir.path(),
        "hostile_pg",
        &format!(
            "[store]\nurl = \"{url}\"\npassword_env = \"ZLC_E2E_DB_PASSWORD\"\n\n[[listener]]\nname = \"all\"\nevents = \"message\"\n"
        ),
    );
    let secret = "run-time-only-7f3a";
    let out = Command::new(&bin)
        .args(["run", "--summary-json", "--replay"])
        .arg(root().join("pipelines/samples/demo-day.jsonl"))
        .env("ZLC_E2E_DB_PASSWORD", secret)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains(secret), "the password is never logged");
    let binary = std::fs::read(&bin).unwrap();
    assert!(!binary.windows(secret.len()).any(|w| w == secret.as_bytes()));
    // Without the variable, a clear error names it.
    let out = Command::new(&bin)
        .args(["run", "--replay"])
        .arg(root().join("pipelines/samples/demo-day.jsonl"))
        .env_remove("ZLC_E2E_DB_PASSWORD")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("$ZLC_E2E_DB_PASSWORD") && err.contains("not set"),
        "{err}"
    );
}
