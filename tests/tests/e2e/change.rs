//! Change without loss: a pipeline edited and rebuilt between two runs gets a queue that
//! fits it (the checkpointed one was registered for other events), the messages sent
//! while it was down are backfilled and answered once, and the old queue is deleted.

use zlc_runtime::store::{GapReason, Store};

use super::*;

/// Writes `body` (with its `[pipeline]`) as `NAME.toml` in `dir` and builds it.
fn build_text(dir: &Path, name: &str, body: &str) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, format!("[pipeline]\nname = \"{name}\"\n\n{body}")).unwrap();
    build_pipeline(&file)
}

/// The bot's answers, in the order they were sent.
fn answers(s: &Setup) -> Vec<String> {
    s.bot_messages().into_iter().map(|m| m.content).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_event_types_get_a_new_queue_and_the_missed_messages_once() {
    let s = setup().await;
    s.zulip.add_channel("ops");
    let dana = s.zulip.add_user("dana@zulip.example.com", "Dana");
    let send = |text: &str| {
        s.zulip
            .message()
            .channel("ops")
            .topic("change")
            .sender(&dana)
            .content(text)
            .send()
    };
    let answer = |version: &str| {
        format!(
            r#"[[realm]]
id = 1

[[listener]]
name = "answer"
events = "message"
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "reply"
template = "{version}: {{{{message.content}}}}"
"#
        )
    };

    // Build 1: messages only.
    let bin = build_text(s.dir.path(), "change_types_e2e", &answer("v1"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let first = send("one");
    wait_until(20, "the first answer", || answers(&s).len() == 1).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let old_queue = s.zulip.queue_ids();
    assert_eq!(old_queue.len(), 1);

    // While it is down: two messages, and a reaction the old queue does not take.
    send("two");
    send("three");
    assert_eq!(
        s.zulip.push_event(zlc_runtime::testkit::build::reaction(
            "add", &dana, first, "tada"
        )),
        0,
        "no queue takes reactions yet"
    );

    // Build 2 adds a reaction listener (and changes the answer).
    let body = format!(
        "{}\n[[listener]]\nname = \"reacted\"\nevents = \"reaction\"\n\n[[listener.action]]\ntype = \"count\"\n",
        answer("v2")
    );
    let bin = build_text(s.dir.path(), "change_types_e2e", &body);
    let p = s.run(&bin, &[], &[]);
    p.wait_for_log(30, "messages backfilled").await;
    let log = p.log_text();
    // Two messages, and the bot's own answer to the first when it was not yet
    // acknowledged at the stop (listeners skip it).
    assert!(
        log.contains("event types changed: message → message, reaction; new queue registered, 2 messages backfilled")
            || log.contains("event types changed: message → message, reaction; new queue registered, 3 messages backfilled"),
        "{log}"
    );
    assert_eq!(
        log.matches("event types changed").count(),
        1,
        "said once: {log}"
    );
    // The new queue takes reactions; the old one is gone.
    let queues = s.zulip.queue_registrations();
    assert_eq!(queues.len(), 1, "{queues:?}");
    assert!(!old_queue.contains(&queues[0].id), "{queues:?}");
    assert_eq!(
        queues[0].event_types.as_deref(),
        Some(&["message".to_owned(), "reaction".to_owned()][..])
    );
    assert_eq!(
        s.zulip.push_event(zlc_runtime::testkit::build::reaction(
            "add", &dana, first, "eyes"
        )),
        1
    );
    send("four");
    wait_until(20, "four answers", || answers(&s).len() == 4).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");

    // Each message answered once, by the build that processed it.
    assert_eq!(answers(&s), ["v1: one", "v2: two", "v2: three", "v2: four"]);
    let store = Store::open(&s.store_url).await.unwrap();
    let counted: i64 = store
        .counts("change_types_e2e", "reacted")
        .await
        .unwrap()
        .iter()
        .map(|r| r.n)
        .sum();
    assert_eq!(counted, 1, "the reaction after the change, once");
    let gaps = store.gaps("change_types_e2e/realm-1").await.unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].reason, GapReason::Changed);
    assert_eq!(gaps[0].old_queue_id.as_deref(), Some(old_queue[0].as_str()));
    let cp = store
        .load_checkpoint("change_types_e2e/realm-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cp.queue_id.as_deref(), Some(queues[0].id.as_str()));
    assert!(
        cp.registered_for
            .as_deref()
            .is_some_and(|r| r.contains(r#""event_types":["message","reaction"]"#)),
        "{cp:?}"
    );
    store.close().await;

    // Started again unchanged, it resumes that queue: no new registration.
    let p = s.run(&bin, &[], &[]);
    p.wait_for_log(20, "resuming from checkpoint").await;
    send("five");
    wait_until(20, "five answers", || answers(&s).len() == 5).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains("changed"), "{log}");
    assert_eq!(s.zulip.queue_ids(), [queues[0].id.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_narrow_gets_a_new_queue_and_backfills_what_it_would_have_had() {
    let s = setup().await;
    s.zulip.add_channel("ops");
    s.zulip.add_channel("db");
    let dana = s.zulip.add_user("dana@zulip.example.com", "Dana");
    let send = |channel: &str, text: &str| {
        s.zulip
            .message()
            .channel(channel)
            .topic("change")
            .sender(&dana)
            .content(text)
            .send()
    };
    let body = |narrow: &str| {
        format!(
            r#"[[realm]]
id = 1
narrow = ["{narrow}"]

[[listener]]
name = "answer"
events = "message"
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "reply"
template = "{{{{message.channel}}}}: {{{{message.content}}}}"
"#
        )
    };
    let bin = build_text(s.dir.path(), "change_narrow_e2e", &body("channel:ops"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    send("ops", "one");
    wait_until(20, "the first answer", || answers(&s).len() == 1).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");

    // While it is down: one message in each channel.
    send("db", "two");
    send("ops", "three");

    let bin = build_text(s.dir.path(), "change_narrow_e2e", &body("channel:db"));
    let p = s.run(&bin, &[], &[]);
    p.wait_for_log(30, "new queue registered").await;
    assert!(
        p.log_text().contains(
            "narrow changed: channel:ops → channel:db; new queue registered, 1 message backfilled"
        ),
        "{}",
        p.log_text()
    );
    send("db", "four");
    send("ops", "five");
    wait_until(20, "the answer to four", || answers(&s).len() == 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    // The new narrow's messages, the missed one included, once; the old narrow's not.
    assert_eq!(answers(&s), ["ops: one", "db: two", "db: four"]);
    let queues = s.zulip.queue_registrations();
    assert_eq!(queues.len(), 1, "{queues:?}");
    assert_eq!(queues[0].narrow, [("channel".to_owned(), "db".to_owned())]);
}
