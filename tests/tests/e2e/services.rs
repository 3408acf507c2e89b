use std::process::Command;
use std::time::Duration;

use zlc_runtime::store::Store;
use zlc_runtime::testkit::build as events;

use super::receiver::Receiver;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_counts_per_channel_and_sender_into_the_store() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("analytics"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    let bob = s.zulip.add_user("bob@zulip.example.com", "Bob");
    let ci = s.zulip.add_bot("ci-bot@zulip.example.com", "CI");
    for i in 0..3 {
        s.zulip
            .message()
            .channel("devel")
            .sender(&alice)
            .content(&format!("a{i}"))
            .send();
    }
    for i in 0..2 {
        s.zulip
            .message()
            .channel("general")
            .sender(&bob)
            .content(&format!("b{i}"))
            .send();
    }
    s.zulip
        .message()
        .channel("devel")
        .sender(&ci)
        .content("build ok")
        .send();
    s.zulip
        .message()
        .direct_to(&[s.zulip.bot()])
        .sender(&alice)
        .content("psst")
        .send();
    // The bot's own messages are ignored unless a listener says otherwise.
    s.zulip
        .message()
        .channel("devel")
        .sender(s.zulip.bot())
        .content("mine")
        .send();

    let store = Store::open(&s.store_url).await.unwrap();
    let last = poll(
        100,
        async || store.counts("analytics", "per_channel").await.unwrap(),
        |last| last.iter().map(|r| r.n).sum::<i64>() >= 6,
    )
    .await;
    let (status, log) = p.stop();
    assert!(status.success(), "SIGTERM exits 0\n{log}");

    let per_channel: Vec<(String, i64)> = store
        .counts("analytics", "per_channel")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.channel, r.n))
        .collect();
    assert_eq!(
        per_channel,
        [("devel".to_owned(), 4), ("general".to_owned(), 2)],
        "{last:?}"
    );
    let per_sender: Vec<(String, i64)> = store
        .counts("analytics", "per_sender")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.sender, r.n))
        .collect();
    assert_eq!(
        per_sender,
        [
            ("alice@zulip.example.com".to_owned(), 4),
            ("bob@zulip.example.com".to_owned(), 2)
        ],
        "bots left out"
    );
    let totals = store.listener_totals("analytics").await.unwrap();
    let dms = totals
        .iter()
        .find(|t| t.listener == "direct_messages")
        .unwrap();
    assert_eq!(dms.figures.matched, 1, "one direct message matched");
    // The end of the run prints a table for people, not log lines.
    assert!(log.contains("listener "), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("direct_messages ") && l.split_whitespace().nth(2) == Some("1")),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_greets_new_members_in_general() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("welcome"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let newbie = s.zulip.add_user("newbie@zulip.example.com", "Newbie");
    s.zulip.push_event(events::realm_user_add(&newbie));
    wait_until(20, "the welcome message", || {
        s.zulip.messages().iter().any(|m| m.topic == "welcome")
    })
    .await;
    let m = s
        .zulip
        .messages()
        .into_iter()
        .find(|m| m.topic == "welcome")
        .unwrap();
    assert_eq!(m.content, "Welcome, @**Newbie**! Say hi in #**general**.");
    assert_eq!(m.sender_id, s.zulip.bot().id);
    let (status, _) = p.stop();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_webhook_retries_posts_reacts_forwards_and_dead_letters() {
    let s = setup().await;
    // First call fails (retried), second succeeds, third is rejected for good.
    let hook = Receiver::start(vec![(500, "oops"), (200, "{}"), (400, "bad payload")]).await;
    let file = variant(
        s.dir.path(),
        "incident_webhook",
        "incident_webhook_e2e",
        &[(
            "http://127.0.0.1:8089/incident",
            &format!("http://127.0.0.1:{}/incident", hook.port),
        )],
    );
    let bin = build_pipeline(&file);
    s.zulip.add_channel("incidents");
    let p = s.run(&bin, &[], &[("INCIDENT_WEBHOOK_TOKEN", "s3cret-token")]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    let ci = s.zulip.add_bot("ci-bot@zulip.example.com", "CI");
    s.zulip
        .message()
        .channel("alerts")
        .topic("db")
        .sender(&ci)
        .content("incident drill (bot)")
        .send();
    s.zulip
        .message()
        .channel("general")
        .topic("db")
        .sender(&alice)
        .content("incident elsewhere")
        .send();
    let id = s
        .zulip
        .message()
        .channel("alerts")
        .topic("db")
        .sender(&alice)
        .content("INCIDENT: primary db is down")
        .send();
    for _ in 0..300 {
        if s.zulip
            .messages()
            .iter()
            .any(|m| m.topic == "db" && m.content.contains("```quote"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        s.zulip
            .messages()
            .iter()
            .any(|m| m.topic == "db" && m.content.contains("```quote")),
        "no forwarded copy; log:\n{}",
        p.log_text()
    );

    let got = hook.received();
    assert_eq!(got.len(), 2, "one failure, one retry: {got:?}");
    assert!(got.iter().all(
        |r| r.path == "/incident" && r.authorization.as_deref() == Some("Bearer s3cret-token")
    ));
    assert_eq!(
        got[1].body["text"],
        "Alice in #alerts > db: INCIDENT: primary db is down"
    );
    assert_eq!(got[1].body["source"], "zulip");
    assert!(
        got[1].body["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/near/{id}"))
    );
    assert_eq!(s.zulip.reactions().len(), 1);
    assert_eq!(
        (
            s.zulip.reactions()[0].message_id,
            s.zulip.reactions()[0].emoji_name.as_str()
        ),
        (id, "rotating_light")
    );
    let incidents = s.zulip.add_channel("incidents");
    let fwd = s
        .zulip
        .messages()
        .into_iter()
        .find(|m| m.channel_id == Some(incidents))
        .unwrap();
    assert!(
        fwd.content.contains("INCIDENT: primary db is down")
            && fwd.content.starts_with("@_**Alice** in #**alerts>db**"),
        "{}",
        fwd.content
    );

    // A permanent failure: no retry, later actions skipped, a dead letter in the store.
    let id2 = s
        .zulip
        .message()
        .channel("alerts")
        .topic("db")
        .sender(&alice)
        .content("sev2 again")
        .send();
    let store = Store::open(&s.store_url).await.unwrap();
    let dead = poll(
        100,
        async || store.event_log("incident_webhook_e2e").await.unwrap(),
        |dead| !dead.is_empty(),
    )
    .await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert_eq!(hook.received().len(), 3);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0].status.as_str(), dead[0].message_id),
        ("dead", Some(id2))
    );
    assert!(
        dead[0].error.as_deref().unwrap().contains("HTTP 400"),
        "{dead:?}"
    );
    assert_eq!(
        s.zulip.reactions().len(),
        1,
        "no reaction after the failed webhook"
    );
    assert!(
        !log.contains("s3cret-token"),
        "the token never reaches the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentor_replies_with_the_endpoints_answer_without_wildcards() {
    let s = setup().await;
    let svc = Receiver::start(vec![(200, r#"{"answer":"Try `git bisect`, @**all**"}"#)]).await;
    let file = variant(
        s.dir.path(),
        "mentor",
        "mentor_e2e",
        &[(
            "http://127.0.0.1:8090/ask",
            &format!("http://127.0.0.1:{}/ask", svc.port),
        )],
    );
    let bin = build_pipeline(&file);
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    s.zulip
        .message()
        .channel("devel")
        .topic("help")
        .sender(&alice)
        .content("no mention here")
        .send();
    s.zulip
        .message()
        .channel("devel")
        .topic("help")
        .sender(&alice)
        .content("@**Listener Bot** how do I find a regression?")
        .send();
    wait_until(20, "the mentor's reply", || {
        s.zulip
            .messages()
            .iter()
            .any(|m| m.sender_id == s.zulip.bot().id)
    })
    .await;
    let reply = s
        .zulip
        .messages()
        .into_iter()
        .find(|m| m.sender_id == s.zulip.bot().id)
        .unwrap();
    assert_eq!(
        (reply.topic.as_str(), reply.content.as_str()),
        ("help", "Try `git bisect`, @_**all**")
    );
    let asked = svc.received();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].body["question"],
        "@**Listener Bot** how do I find a regression?"
    );
    assert_eq!(asked[0].body["asker"], "alice@zulip.example.com");
    let (status, _) = p.stop();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_has_list_check_version_and_dynamic_config() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("analytics"));
    let run = |args: &[&str]| {
        let out = Command::new(&bin).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!(
            "analytics (zlc pipeline, built with zlc {})",
            env!("CARGO_PKG_VERSION")
        )
    );

    let (code, out, _) = run(&["list", "--config", "--store", &s.store_url]);
    assert_eq!(code, 0);
    assert!(
        out.contains("per_sender")
            && out.contains("filters: not from bots")
            && out.contains("timeout=10000ms"),
        "{out}"
    );

    let (code, out, err) = run(&["check", "--config-file", &s.rc, "--store", &s.store_url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("realm 1: ok") && out.contains("listener-bot@zulip.example.com"),
        "{out}"
    );
    let bad_rc = s.dir.path().join("bad");
    std::fs::write(
        &bad_rc,
        s.zulip.zuliprc(s.zulip.bot()).replace("key=", "key=nope"),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "check",
        "--config-file",
        bad_rc.to_str().unwrap(),
        "--store",
        &s.store_url,
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("realm 1: error: authentication failed (INVALID_API_KEY): Invalid API key"),
        "{out}{err}"
    );
    assert_eq!(
        out.matches("realm 1").count(),
        1,
        "no repeated prefix: {out}"
    );
    assert_eq!(
        err.trim_end().lines().last(),
        Some("error: 1 of 1 realm failed the check"),
        "one summary: {err}"
    );

    let (code, _, err) = run(&["run", "--listeners", "per_chanel", "--store", &s.store_url]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no listener named `per_chanel`") && err.contains("per_channel"),
        "{err}"
    );

    let (code, out, _) = run(&["disable", "per_sender", "--store", &s.store_url]);
    assert_eq!((code, out.trim()), (0, "per_sender disabled"));
    let (_, out, _) = run(&["list", "--status", "disabled", "--store", &s.store_url]);
    assert!(
        out.contains("per_sender") && !out.contains("per_channel"),
        "{out}"
    );
    // Disabled in the store: a run does not use it.
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    s.zulip
        .message()
        .channel("devel")
        .sender(&alice)
        .content("x")
        .send();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = p.stop();
    assert!(status.success());
    let store = Store::open(&s.store_url).await.unwrap();
    assert!(
        store
            .counts("analytics", "per_sender")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .counts("analytics", "per_channel")
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A webhook that never answers: each attempt times out, the retry too; after two such
/// jobs the breaker opens and the next event fails at once. All become dead letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_retries_and_the_circuit_breaker() {
    let s = setup().await;
    let hook = Receiver::start(vec![(0, ""), (0, ""), (0, ""), (0, "")]).await;
    let url = format!("http://127.0.0.1:{}/incident", hook.port);
    let file = variant(
        s.dir.path(),
        "incident_webhook",
        "incident_breaker_e2e",
        &[
            ("http://127.0.0.1:8089/incident", url.as_str()),
            ("timeout = \"5s\"", "timeout = \"300ms\""),
            ("retries = 4", "retries = 1\nbackoff = \"100ms\""),
            ("breaker_threshold = 3", "breaker_threshold = 2"),
        ],
    );
    let bin = build_pipeline(&file);
    s.zulip.add_channel("incidents");
    let p = s.run(&bin, &[], &[("INCIDENT_WEBHOOK_TOKEN", "t")]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    let ids: Vec<i64> = (0..3)
        .map(|i| {
            s.zulip
                .message()
                .channel("alerts")
                .topic("db")
                .sender(&alice)
                .content(&format!("incident {i}"))
                .send()
        })
        .collect();
    let store = Store::open(&s.store_url).await.unwrap();
    let dead = poll(
        150,
        async || store.event_log("incident_breaker_e2e").await.unwrap(),
        |dead| dead.len() >= 3,
    )
    .await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    // One conversation: its events reach the listener in order, one job at a time.
    let dead_ids: Vec<i64> = dead.iter().filter_map(|d| d.message_id).collect();
    assert_eq!(dead_ids, ids, "{dead:?}");
    assert!(dead.iter().all(|d| d.status == "dead"));
    let errors: Vec<&str> = dead
        .iter()
        .map(|d| d.error.as_deref().unwrap_or(""))
        .collect();
    // The breaker counts jobs, not attempts: the first two jobs each time out twice
    // (an attempt and its retry), which opens it; the third is refused without a
    // request.
    assert!(
        errors[..2]
            .iter()
            .all(|e| e.contains("failed after 2 attempt(s): timed out after 300 ms")),
        "{errors:?}"
    );
    assert!(errors[2].contains("circuit breaker open"), "{errors:?}");
    assert_eq!(
        hook.received().len(),
        4,
        "the open breaker spares the dead endpoint"
    );
    assert!(s.zulip.reactions().is_empty(), "later actions are skipped");
}

/// Side effects are recorded once done: replaying the same events again with the same
/// store does not call the webhook a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_deliveries_do_not_repeat_side_effects() {
    let s = setup().await;
    let hook = Receiver::start(vec![]).await;
    let url = format!("http://127.0.0.1:{}/incident", hook.port);
    let file = variant(
        s.dir.path(),
        "incident_webhook",
        "incident_dedupe_e2e",
        &[("http://127.0.0.1:8089/incident", url.as_str())],
    );
    let bin = build_pipeline(&file);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let day = s.dir.path().join("day.jsonl");
    let line = |id: i64, event: i64| {
        format!(
            r#"{{"type":"message","message":{{"id":{id},"sender_id":7,"content":"incident {id}","recipient_id":3,"timestamp":{now},"subject":"db","sender_full_name":"Alice","sender_email":"alice@zulip.example.com","display_recipient":"alerts","type":"stream","stream_id":3}},"flags":[],"id":{event}}}"#
        )
    };
    std::fs::write(&day, format!("{}\n{}\n", line(501, 1), line(502, 2))).unwrap();
    for run in 0..2 {
        let out = Command::new(&bin)
            .args(["run", "--summary-json", "--store", &s.store_url, "--replay"])
            .arg(&day)
            .env("INCIDENT_WEBHOOK_TOKEN", "t")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["incidents"]["succeeded"], 2, "run {run}: {summary}");
    }
    let got = hook.received();
    assert_eq!(
        got.len(),
        2,
        "one call per message over two replays: {got:?}"
    );
}

/// The example that mixes Rust handlers with built-in actions, run as a process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_runs_rust_handlers_between_built_in_actions() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("deploys"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let dana = s.zulip.add_user("dana@zulip.example.com", "Dana");
    // Copies go to #deploy-log, which must exist (Zulip refuses to post elsewhere).
    let (ops, log_channel) = (
        s.zulip.add_channel("ops"),
        s.zulip.add_channel("deploy-log"),
    );
    for (channel, topic, content) in [
        ("ops", "release 4.2", "deploy #41"),
        ("ops", "lunch", "deploy #42"),
        ("random", "release 4.2", "deploy #43"),
    ] {
        s.zulip
            .message()
            .channel(channel)
            .topic(topic)
            .sender(&dana)
            .content(content)
            .send();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while (s.bot_messages().len() < 2 || s.zulip.reactions().is_empty())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!s.zulip.reactions().is_empty(), "{}", p.log_text());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let name = |id: Option<i64>| match id {
        Some(i) if i == ops => "ops",
        Some(i) if i == log_channel => "deploy-log",
        _ => "elsewhere",
    };
    let sent: Vec<(String, String, String)> = s
        .bot_messages()
        .into_iter()
        .map(|m| (name(m.channel_id).to_owned(), m.topic, m.content))
        .collect();
    assert_eq!(sent.len(), 2, "only the release topic in #ops: {sent:?}");
    assert_eq!(
        sent[0],
        (
            "ops".to_owned(),
            "release 4.2".to_owned(),
            "Deploying #41 to production (deploy 1 so far)".to_owned()
        )
    );
    assert_eq!(sent[1].0, "deploy-log");
    assert!(sent[1].2.contains("deploy #41"), "{sent:?}");
    let store = Store::open(&s.store_url).await.unwrap();
    assert_eq!(
        store
            .named_counts("deploys", "deploy_announcements")
            .await
            .unwrap(),
        [zlc_runtime::store::NamedCount {
            name: "deploys".to_owned(),
            n: 1
        }]
    );
}

/// A fatal start is said once, with the next step: no table of zeros, no log line
/// repeating it; hints name flags the binary has; an unreachable server suggests the
/// sandbox; a refused key names the email and the zuliprc; `config` on a listener
/// without config says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors_are_said_once_with_the_next_step() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("analytics"));
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .args(args)
            .env("HOME", home.path())
            .env_remove("ZULIP_CONFIG")
            .env_remove("ZULIP_SITE")
            .env_remove("ZULIP_EMAIL")
            .env_remove("ZULIP_API_KEY")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let once = |err: &str| {
        let errors = err.lines().filter(|l| l.contains("error")).count();
        assert_eq!(errors, 1, "said once: {err}");
        assert!(!err.contains("succeeded"), "no table of zeros: {err}");
    };

    let (code, err, _) = run(&["run", "--store", &s.store_url]);
    assert_eq!(code, 1);
    once(&err);
    let home_rc = home.path().join(".zuliprc");
    assert_eq!(
        err.trim().lines().last().unwrap_or(""),
        format!(
            "error: missing Zulip credentials: site (`site` in a zuliprc, or ZULIP_SITE), email (`email` in a zuliprc, or ZULIP_EMAIL), API key (`key` in a zuliprc, or ZULIP_API_KEY) (no zuliprc at {}); name a zuliprc with --config-file, or put one at ~/.zuliprc",
            home_rc.display()
        )
    );

    let nowhere = s.dir.path().join("nowhere.zuliprc");
    std::fs::write(
        &nowhere,
        "[api]\nemail=bot@x.example\nkey=k\nsite=http://127.0.0.1:9\n",
    )
    .unwrap();
    set_mode(&nowhere, 0o600);
    let (code, err, _) = run(&[
        "run",
        "--config-file",
        nowhere.to_str().unwrap(),
        "--store",
        &s.store_url,
    ]);
    assert_eq!(code, 1);
    once(
        &err.lines()
            .filter(|l| !l.contains("WARN"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert!(
        err.contains("cannot reach http://127.0.0.1:9 after 3 tries")
            && err
                .trim_end()
                .ends_with("is the server running? (`zlc sandbox` starts a local one)"),
        "{err}"
    );

    let bad = s.dir.path().join("bad.zuliprc");
    std::fs::write(
        &bad,
        s.zulip.zuliprc(s.zulip.bot()).replace("key=", "key=nope"),
    )
    .unwrap();
    set_mode(&bad, 0o600);
    let (code, err, _) = run(&[
        "run",
        "--config-file",
        bad.to_str().unwrap(),
        "--store",
        &s.store_url,
    ]);
    assert_eq!(code, 1);
    once(&err);
    assert!(
        err.contains("authentication failed (INVALID_API_KEY)")
            && err.contains(&format!(
                "the key of {} from {}",
                s.zulip.bot().email,
                bad.display()
            )),
        "{err}"
    );

    let (code, _, out) = run(&["config", "per_sender", "--store", &s.store_url]);
    assert_eq!(code, 0);
    assert!(
        out.contains("listener `per_sender` declares no config"),
        "{out}"
    );

    // A zuliprc for one realm, by its id; a realm the pipeline does not have is refused.
    let for_one = format!("1={}", s.rc);
    let (code, err, out) = run(&["check", "--config-file", &for_one, "--store", &s.store_url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("realm 1: ok"), "{out}");
    let (code, err, _) = run(&[
        "run",
        "--config-file",
        "7=x.zuliprc",
        "--store",
        &s.store_url,
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "--config-file names realm 7, which pipeline `analytics` does not have (its realms: 1)"
        ),
        "{err}"
    );
}

/// Every generated binary prints its completion scripts and its manual page, under its
/// own name, with its commands.
#[test]
fn the_binary_prints_completions_and_its_manual() {
    let bin = build_pipeline(&pipeline("analytics"));
    let run = |args: &[&str]| {
        let out = Command::new(&bin).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bash = run(&["completions", "bash"]);
    assert!(
        bash.contains("_analytics()") && bash.contains("dead-letters"),
        "{bash}"
    );
    let zsh = run(&["completions", "zsh"]);
    assert!(zsh.contains("#compdef analytics"), "{zsh}");
    let man = run(&["man"]);
    assert!(
        man.contains(".TH analytics") && man.contains("dead\\-letters"),
        "{man}"
    );
}
