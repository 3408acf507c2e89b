use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zlc_runtime::Error;
use zlc_runtime::backoff::Backoff;
use zlc_runtime::source::Origin;
use zlc_runtime::testkit::{FakeOptions, FakeZulip, Fault, build};

use super::*;

/// Registers `src`'s queue, sends one message to it and acknowledges it (so that the
/// checkpoint has a message to backfill from); returns the message's id.
async fn first_message_acknowledged(
    zulip: &FakeZulip,
    src: &mut zlc_runtime::source::QueueSource,
) -> i64 {
    let (b, first) = tokio::join!(next(src, 10), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        zulip.message().channel("devel").content("first").send()
    });
    assert_eq!(message_ids(&b), [first]);
    src.ack(b.ack()).await.unwrap();
    first
}

#[tokio::test]
async fn delivers_acknowledges_and_checkpoints() {
    let zulip = FakeZulip::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mut src = source(&zulip, Some(store.clone()));
    // Register first, so the messages below reach the queue.
    let first = zulip.message().channel("devel").content("before").send();
    let batch_fut = next(&mut src, 10);
    let sent = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        (0..5)
            .map(|i| {
                zulip
                    .message()
                    .channel("devel")
                    .content(&format!("m{i}"))
                    .send()
            })
            .collect::<Vec<_>>()
    };
    let (batch, sent) = tokio::join!(batch_fut, sent);
    let mut got = message_ids(&batch);
    src.ack(batch.ack()).await.unwrap();
    while got.len() < 5 {
        let b = next(&mut src, 10).await;
        got.extend(message_ids(&b));
        src.ack(b.ack()).await.unwrap();
    }
    assert_eq!(got, sent);
    assert!(
        !got.contains(&first),
        "a message sent before registration is not delivered"
    );
    let cp = store.load_checkpoint("test").await.unwrap().unwrap();
    assert_eq!(cp.queue_id.as_deref(), src.queue_id());
    assert_eq!(cp.last_message_id, Some(*sent.last().unwrap()));
    assert!(cp.last_event_id >= 4, "{cp:?}");
    // The next poll tells the server what was acknowledged, so it can drop those events.
    let extra = zulip.message().channel("devel").content("one more").send();
    let b = next(&mut src, 10).await;
    assert_eq!(message_ids(&b), [extra]);
    let last_poll = zulip.requests_to("events").last().cloned().unwrap();
    assert_eq!(
        last_poll.params["last_event_id"],
        cp.last_event_id.to_string()
    );
}

#[tokio::test]
async fn restart_resumes_the_checkpointed_queue_and_redelivers_unacknowledged_events() {
    let dir = tempfile::tempdir().unwrap();
    restart_scenario(sqlite_store(&dir).await, "test").await;
}

#[tokio::test]
async fn restart_resumes_from_a_postgres_checkpoint() {
    let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping restart_resumes_from_a_postgres_checkpoint: ZLC_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let store = zlc_runtime::store::Store::open(&url).await.unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    restart_scenario(store, &format!("it-{}-{nanos}", std::process::id())).await;
}

async fn restart_scenario(store: zlc_runtime::store::Store, connection: &str) {
    let zulip = FakeZulip::start().await.unwrap();
    let mut src = source_named(&zulip, Some(store.clone()), connection);
    let (b, a) = tokio::join!(next(&mut src, 10), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        zulip.message().channel("devel").content("a").send()
    });
    assert_eq!(message_ids(&b), [a]);
    src.ack(b.ack()).await.unwrap();
    // A batch handed out but never acknowledged: the process "crashes" here.
    let bid = zulip.message().channel("devel").content("b").send();
    let b = next(&mut src, 10).await;
    assert_eq!(message_ids(&b), [bid]);
    drop(src);

    let cid = zulip.message().channel("devel").content("c").send();
    let mut src = source_named(&zulip, Some(store), connection);
    let got = collect_messages(&mut src, 2).await;
    assert_eq!(
        got,
        [bid, cid],
        "the unacknowledged message comes again, then the new one"
    );
    assert_eq!(
        zulip.requests_to("register").len(),
        1,
        "the queue was resumed, not re-registered"
    );
    assert_eq!(src.stats().registrations, 0);
}

#[tokio::test]
async fn a_checkpoint_that_does_not_say_what_its_queue_was_registered_for_is_replaced() {
    let zulip = FakeZulip::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mut src = source(&zulip, Some(store.clone()));
    first_message_acknowledged(&zulip, &mut src).await;
    let old_queue = src.queue_id().unwrap().to_owned();
    drop(src);
    // As an older zlc left it: the queue without what it was registered for.
    let mut cp = store.load_checkpoint("test").await.unwrap().unwrap();
    assert!(cp.registered_for.is_some());
    cp.registered_for = None;
    store.save_checkpoint("test", &cp).await.unwrap();
    let missed = zulip.message().channel("devel").content("missed").send();

    let mut src = source(&zulip, Some(store.clone()));
    let got = collect_messages(&mut src, 1).await;
    assert_eq!(got, [missed], "backfilled once");
    assert_ne!(src.queue_id(), Some(old_queue.as_str()));
    assert_eq!(
        zulip.queue_ids(),
        [src.queue_id().unwrap().to_owned()],
        "the old queue was deleted"
    );
    let gaps = store.gaps("test").await.unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].reason, zlc_runtime::store::GapReason::Changed);
    let cp = store.load_checkpoint("test").await.unwrap().unwrap();
    assert_eq!(cp.queue_id.as_deref(), src.queue_id());
    assert!(cp.registered_for.is_some(), "{cp:?}");
}

#[tokio::test]
async fn expired_queue_is_replaced_and_missed_messages_backfilled() {
    let zulip = FakeZulip::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mut src = source(&zulip, Some(store.clone()));
    let first = first_message_acknowledged(&zulip, &mut src).await;
    let old_queue = src.queue_id().unwrap().to_owned();

    assert_eq!(zulip.expire_all_queues(), 1);
    // Sent while no queue exists: only a backfill can recover these.
    let missed: Vec<i64> = (0..2500)
        .map(|i| {
            zulip
                .message()
                .channel("general")
                .content(&format!("gap {i}"))
                .send()
        })
        .collect();
    let r = zulip.add_user("r@x.com", "R");
    zulip.push_event(build::reaction("add", &r, first, "tada")); // lost: no queue had it
    // Slow the first backfill page so that a message arrives on the new queue meanwhile:
    // it must be delivered once, not twice.
    zulip.inject(Some("messages"), Fault::Delay(Duration::from_millis(400)));
    let during = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        zulip.message().channel("devel").content("during").send()
    };
    let (got, during) = tokio::join!(collect_messages(&mut src, missed.len() + 1), during);
    let mut expected = missed.clone();
    expected.push(during);
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "every missed message exactly once");
    let after = zulip.message().channel("devel").content("after").send();
    let more = collect_messages(&mut src, 1).await;
    assert_eq!(more, [after]);
    assert_eq!(src.stats().queues_lost, 1);
    assert!(src.stats().backfilled >= 2500);
    assert!(zulip.requests_to("messages").len() >= 3, "paged by 1000");
    let gaps = store.gaps("test").await.unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].old_queue_id.as_deref(), Some(old_queue.as_str()));
    assert_eq!(gaps[0].last_message_id, Some(first));
    assert_eq!(gaps[0].reason, zlc_runtime::store::GapReason::Expired);
    let cp = store.load_checkpoint("test").await.unwrap().unwrap();
    assert_eq!(cp.queue_id.as_deref(), src.queue_id());
    assert_ne!(cp.queue_id.as_deref(), Some(old_queue.as_str()));
    assert_eq!(cp.last_message_id, Some(after));
}

#[tokio::test]
async fn backfill_batches_are_marked() {
    let zulip = FakeZulip::start().await.unwrap();
    let mut src = source(&zulip, None);
    let (b, _) = tokio::join!(next(&mut src, 10), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        zulip.message().channel("devel").content("x").send()
    });
    src.ack(b.ack()).await.unwrap();
    zulip.expire_all_queues();
    let lost = zulip.message().channel("devel").content("lost").send();
    let b = next(&mut src, 10).await;
    assert_eq!(b.origin(), Origin::Backfill);
    assert_eq!(message_ids(&b), [lost]);
    assert_eq!(kinds(&b), ["message"]);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_wait_what_retry_after_says() {
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_secs(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut src = source(&zulip, None);
    zulip.inject(Some("events"), Fault::RateLimit { retry_after: 28.7 });
    let start = tokio::time::Instant::now();
    let (b, id) = tokio::join!(next(&mut src, 120), async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        zulip.message().channel("devel").content("x").send()
    });
    assert_eq!(message_ids(&b), [id]);
    let polls = zulip.requests_to("events");
    assert_eq!(polls[0].status, 429);
    let waited = polls[1].at - polls[0].at;
    assert!(
        waited >= Duration::from_secs_f64(28.7) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
    assert_eq!(src.stats().rate_limited, 1);
    assert!(start.elapsed() >= Duration::from_secs(28));
}

#[tokio::test(start_paused = true)]
async fn transient_failures_back_off_with_jitter_never_below_a_second() {
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_secs(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut src = source(&zulip, None).with_backoff(Backoff::new(
        Duration::from_secs(1),
        Duration::from_secs(2),
        Duration::from_secs(20),
    ));
    // Register succeeds, then the long poll meets five failures of every kind.
    zulip.inject(Some("events"), Fault::Html { status: 502 });
    zulip.inject(
        Some("events"),
        Fault::JsonError {
            status: 503,
            code: "BAD_REQUEST".into(),
            msg: "restarting".into(),
        },
    );
    zulip.inject(Some("events"), Fault::CutBody);
    zulip.inject(Some("events"), Fault::Garbage);
    zulip.inject(Some("events"), Fault::Html { status: 504 });
    let (b, id) = tokio::join!(next(&mut src, 600), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        zulip.message().channel("devel").content("x").send()
    });
    assert_eq!(message_ids(&b), [id], "nothing lost");
    assert_eq!(src.stats().retries, 5);
    let polls = zulip.requests_to("events");
    assert_eq!(polls.len(), 6);
    for (n, pair) in polls.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        let ceiling = Duration::from_secs(2 << n).min(Duration::from_secs(20));
        assert!(
            gap >= Duration::from_secs(1) && gap <= ceiling + Duration::from_millis(50),
            "retry {n}: {gap:?}"
        );
    }
}

#[tokio::test]
async fn wrong_credentials_stop_at_once_with_the_servers_message() {
    let zulip = FakeZulip::start().await.unwrap();
    let mut cfg = zulip.config_for(zulip.bot());
    cfg.api_key = zlc_runtime::config::Secret::new("wrong");
    let mut src = source_for(&cfg);
    let err = src.next_batch(&CancellationToken::new()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { code, .. } if code == "INVALID_API_KEY"),
        "{err}"
    );
    assert!(err.to_string().contains("Invalid API key"));
    assert_eq!(zulip.requests().len(), 1, "no retries of a fatal error");

    let alice = zulip.add_user("alice@x.com", "Alice");
    zulip.deactivate(&alice);
    let mut src = source_for(&zulip.config_for(&alice));
    let err = src.next_batch(&CancellationToken::new()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { code, .. } if code == "USER_DEACTIVATED"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_site_that_never_answers_fails_fast() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = zlc_runtime::config::ConfigOverrides {
        site: Some(format!("127.0.0.1:{port}")),
        email: Some("bot@x.com".into()),
        api_key: Some(zlc_runtime::config::Secret::new("k")),
        ..Default::default()
    }
    .resolve_with(|_| None, None)
    .unwrap();
    let mut src = source_for(&cfg);
    let err = src.next_batch(&CancellationToken::new()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("cannot reach") && msg.contains(&port.to_string()),
        "{msg}"
    );
}

#[tokio::test]
async fn heartbeats_advance_the_acknowledgement() {
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mut src = source(&zulip, Some(store.clone()));
    let (b, _) = tokio::join!(next(&mut src, 10), async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        zulip.message().channel("devel").content("x").send()
    });
    src.ack(b.ack()).await.unwrap();
    assert!(src.stats().heartbeats >= 2, "{:?}", src.stats());
    let cp = store.load_checkpoint("test").await.unwrap().unwrap();
    assert_eq!(Some(cp.last_event_id), b.ack().event_id());
    assert!(
        cp.last_event_id >= 2,
        "heartbeats before the message were acknowledged: {cp:?}"
    );
}

#[tokio::test]
async fn cancel_stops_a_long_poll() {
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_secs(60),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut src = source(&zulip, None);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.cancel();
    });
    let started = std::time::Instant::now();
    assert!(src.next_batch(&cancel).await.unwrap().is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// `An event newer than N has already been pruned!` (400 from `GET /events`): our place
/// in the queue is gone, so it is recovered exactly like an expired queue, and the
/// pruned queue is freed on the server.
#[tokio::test]
async fn pruned_events_are_recovered_like_an_expired_queue() {
    let zulip = FakeZulip::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mut src = source(&zulip, Some(store.clone()));
    let first = first_message_acknowledged(&zulip, &mut src).await;
    let old_queue = src.queue_id().unwrap().to_owned();
    zulip.inject(
        Some("events"),
        Fault::Body {
            status: 400,
            body: r#"{"result":"error","msg":"An event newer than 0 has already been pruned!","code":"BAD_REQUEST"}"#.into(),
        },
    );
    let lost = zulip.message().channel("devel").content("lost").send();
    let got = collect_messages(&mut src, 1).await;
    assert_eq!(got, [lost], "recovered by the backfill, exactly once");
    assert_eq!(src.stats().queues_lost, 1);
    assert_ne!(src.queue_id(), Some(old_queue.as_str()));
    assert!(
        zulip
            .requests_to("events")
            .iter()
            .any(|r| r.method == "DELETE" && r.params.get("queue_id") == Some(&old_queue)),
        "the pruned queue is deleted"
    );
    let gaps = store.gaps("test").await.unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].last_message_id, Some(first));
    assert_eq!(gaps[0].reason, zlc_runtime::store::GapReason::Pruned);
}

/// `Retry-After: 3600` would outlive the queue (Zulip drops it after ~10 idle minutes):
/// the wait is capped and the poll tried again well before that.
#[tokio::test(start_paused = true)]
async fn a_rate_limit_longer_than_the_queue_lives_is_capped() {
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_secs(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut src = source(&zulip, None);
    zulip.inject(
        Some("events"),
        Fault::RateLimit {
            retry_after: 3600.0,
        },
    );
    let (b, id) = tokio::join!(next(&mut src, 1200), async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        zulip.message().channel("devel").content("x").send()
    });
    assert_eq!(message_ids(&b), [id]);
    let polls = zulip.requests_to("events");
    let waited = polls[1].at - polls[0].at;
    assert_eq!(polls[0].status, 429);
    assert!(
        waited >= zlc_runtime::retry::MAX_RATE_LIMIT_WAIT
            && waited < zlc_runtime::retry::QUEUE_IDLE_LIFETIME,
        "{waited:?}"
    );
    assert_eq!(zulip.requests_to("register").len(), 1, "the queue survived");
}

/// An event over the size limit is skipped, counted and acknowledged (so the server
/// does not send it again); the events around it are delivered.
#[tokio::test]
async fn an_oversized_event_is_skipped_counted_and_acknowledged() {
    let zulip = FakeZulip::start().await.unwrap();
    let mut src = source(&zulip, None);
    let alice = zulip.add_user("alice@x.com", "Alice");
    let (b, _) = tokio::join!(next(&mut src, 10), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let huge = "x".repeat(zlc_runtime::event::MAX_EVENT_BYTES);
        zulip.message().channel("devel").content(&huge).send();
        zulip.push_event(build::reaction("add", &alice, 1, "tada"));
    });
    assert_eq!(kinds(&b), ["reaction"]);
    assert_eq!(src.stats().malformed, 1);
    src.ack(b.ack()).await.unwrap();
    let m = zulip.message().channel("devel").content("after").send();
    let b = next(&mut src, 10).await;
    assert_eq!(message_ids(&b), [m]);
    assert_eq!(src.stats().malformed, 1, "not delivered again");
}

/// A backlog of 50,000 events (31 MB of answer) comes in batches of bounded size,
/// acknowledged one by one, as the answer arrives; an answer cut half-way loses
/// nothing and repeats nothing.
#[tokio::test]
async fn a_large_backlog_comes_in_bounded_batches_and_survives_a_cut_answer() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/events-50k.jsonl.gz");
    let backlog = zlc_runtime::testkit::Backlog::read(std::path::Path::new(path), 1).unwrap();
    let zulip = FakeZulip::start_with(FakeOptions {
        backlog: Some(std::sync::Arc::new(backlog)),
        ..Default::default()
    })
    .await
    .unwrap();
    zulip.inject(Some("events"), Fault::CutAnswer);
    let mut src = source(&zulip, None);
    let (mut ids, mut batches, mut largest) = (Vec::new(), 0, 0);
    while ids.len() < 50_000 {
        let b = next(&mut src, 60).await;
        batches += 1;
        largest = largest.max(b.json().map(str::len).sum::<usize>());
        ids.extend(b.events().map(|e| e.unwrap().id.unwrap()));
        src.ack(b.ack()).await.unwrap();
    }
    assert_eq!(
        ids,
        (0..50_000).collect::<Vec<i64>>(),
        "every event once, in order"
    );
    assert!(batches > 50, "{batches} batches");
    assert!(largest < 512 << 10, "a batch of {largest} bytes");
    // The answer was cut after about 15 MB: what came before it was handed out and
    // acknowledged; the rest came with the next poll.
    let polls = zulip.requests_to("events");
    assert!(
        matches!(polls[0].fault, Some(Fault::CutAnswer)),
        "{:?}",
        polls[0]
    );
    assert!(polls.len() >= 2);
    assert!(src.stats().retries >= 1);
    assert_eq!(src.stats().registrations, 1);
}
