//! The client against Zulip's own examples (vendored in `tests/fixtures/zulip/`) and
//! against responses shaped as servers of old, current and future feature levels send
//! them. Our fake server agrees with our client by construction; these tests pin both
//! to what Zulip documents, so that a mismatch with a real server shows up here first.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use zlc_runtime::Error;
use zlc_runtime::client::{Client, Registration, ServerSettings};
use zlc_runtime::event::{Event, RawEvent};
use zlc_runtime::retry::{Retry, retrying};
use zlc_runtime::testkit::{FakeOptions, FakeZulip, Fault};

use super::*;

const REGISTER_EXAMPLE: &str = include_str!("../fixtures/zulip/register-example.json");
const MESSAGES_EXAMPLE: &str = include_str!("../fixtures/zulip/messages-example.json");
const ERRORS: &str = include_str!("../fixtures/zulip/errors.json");
const SPEC_EVENTS: &str = include_str!("../fixtures/zulip/events.jsonl");
const OLDER_SERVERS: &str = include_str!("../fixtures/older-servers.json");

#[test]
fn the_realm_url_is_read_under_the_old_name_the_new_name_or_both() {
    let url = "https://chat.example.com";
    // (feature level, register response): before 257 only `realm_uri`; from 257 both
    // (what broke the first contact with a real 9.0+ server); a future server may drop
    // the old name and add fields we do not know.
    let cases = [
        (
            0,
            format!(
                r#"{{"queue_id":"q","last_event_id":-1,"realm_uri":"{url}","result":"success","msg":""}}"#
            ),
        ),
        (
            256,
            format!(
                r#"{{"queue_id":"q","last_event_id":-1,"zulip_feature_level":256,"zulip_version":"9.0-dev","realm_uri":"{url}","realm_name":"Example","result":"success","msg":""}}"#
            ),
        ),
        (
            257,
            format!(
                r#"{{"queue_id":"q","last_event_id":-1,"zulip_feature_level":257,"zulip_version":"9.0","realm_url":"{url}","realm_uri":"{url}","realm_name":"Example","result":"success","msg":""}}"#
            ),
        ),
        (
            999,
            format!(
                r#"{{"queue_id":"q","last_event_id":5,"zulip_feature_level":999,"zulip_version":"14.0","realm_url":"{url}","realm_name":"Example","realm_new_setting":{{"a":[1]}},"ignored_parameters_unsupported":["x"],"result":"success","msg":""}}"#
            ),
        ),
    ];
    for (level, text) in &cases {
        let reg: Registration =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{level}: {e}"));
        assert_eq!(reg.realm_url(), Some(url), "feature level {level}");
        assert_eq!(reg.zulip_feature_level, *level);
        let settings: ServerSettings =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{level}: {e}"));
        assert_eq!(settings.realm_url(), Some(url), "feature level {level}");
    }
    // The official example (feature level 2, fetched without `realm`): no realm fields.
    let reg: Registration = serde_json::from_str(REGISTER_EXAMPLE).unwrap();
    assert_eq!(reg.queue(), "fb67bf8a-c031-47cc-84cf-ed80accacda8");
    assert_eq!((reg.last_event_id, reg.zulip_feature_level), (-1, 2));
    assert_eq!(reg.realm_url(), None);
}

/// Servers of every generation, as the fake imitates them, accept our first contact and
/// registration and deliver a message.
#[tokio::test]
async fn every_feature_level_from_0_to_a_future_one_connects_and_delivers() {
    for level in [0, 2, 73, 256, 257, 334, 378, 999] {
        let zulip = FakeZulip::start_with(FakeOptions {
            feature_level: level,
            ..Default::default()
        })
        .await
        .unwrap();
        let client = Client::new(&zulip.config_for(zulip.bot())).unwrap();
        let info = client
            .hello()
            .await
            .unwrap_or_else(|e| panic!("level {level}: {e}"));
        assert_eq!(
            info.settings.zulip_feature_level,
            if level >= 3 { level } else { 0 }
        );
        assert_eq!(
            info.settings.realm_url(),
            Some(zulip.url().as_str()),
            "level {level}"
        );
        assert_eq!(info.me.user_id, zulip.bot().id);
        assert!(info.bots.contains(&zulip.bot().id));
        let mut src = source(&zulip, None);
        let (b, id) = tokio::join!(next(&mut src, 10), async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            zulip.message().channel("devel").content("hello").send()
        });
        assert_eq!(message_ids(&b), [id], "level {level}");
        let register = zulip.requests_to("register").pop().unwrap();
        assert_eq!(register.status, 200, "level {level}");
    }
}

#[tokio::test]
async fn the_official_register_and_messages_examples_are_understood() {
    let zulip = FakeZulip::start().await.unwrap();
    let client = Client::new(&zulip.config_for(zulip.bot())).unwrap();
    zulip.inject(
        Some("register"),
        Fault::Body {
            status: 200,
            body: REGISTER_EXAMPLE.into(),
        },
    );
    let reg = client.register(&Default::default()).await.unwrap();
    assert_eq!(reg.queue(), "fb67bf8a-c031-47cc-84cf-ed80accacda8");
    assert_eq!(
        reg.poll_timeout(),
        Duration::from_secs(100),
        "90 s when the server does not say, plus a margin"
    );

    zulip.inject(
        Some("messages"),
        Fault::Body {
            status: 200,
            body: MESSAGES_EXAMPLE.into(),
        },
    );
    let page = client
        .get_messages_after(0, 1000, &[], false)
        .await
        .unwrap();
    assert_eq!(page.ids, [16, 21]);
    assert!(page.found_newest);
    // Each message, wrapped as an event, parses: the direct one with its three users.
    for raw in &page.messages {
        let wrapped = format!(r#"{{"type":"message","message":{},"flags":[]}}"#, raw.get());
        let Event::Message(m) = RawEvent::new(&wrapped).unwrap().parse().unwrap() else {
            panic!("{wrapped}")
        };
        assert!(m.message.is_direct() != m.message.channel_name().is_some());
    }
}

#[tokio::test]
async fn every_official_error_example_is_classified() {
    let zulip = FakeZulip::start().await.unwrap();
    let client = Client::new(&zulip.config_for(zulip.bot())).unwrap();
    let examples: Vec<Value> = serde_json::from_str(ERRORS).unwrap();
    assert!(examples.len() >= 19);
    for ex in &examples {
        let status = ex["http_status"].as_u64().unwrap() as u16;
        let body = ex["example"].to_string();
        let code = ex["example"]["code"].as_str().unwrap_or("BAD_REQUEST");
        zulip.inject(
            Some("users/me"),
            Fault::Body {
                status,
                body: body.clone(),
            },
        );
        let err = client.own_user().await.unwrap_err();
        match code {
            "BAD_EVENT_QUEUE_ID" => assert!(
                matches!(&err, Error::QueueGone { queue_id, .. } if queue_id == "fb67bf8a-c031-47cc-84cf-ed80accacda8"),
                "{body}: {err}"
            ),
            "RATE_LIMIT_HIT" => assert_eq!(
                err.retry_after(),
                Some(Duration::from_secs_f64(28.706807374954224)),
                "{body}"
            ),
            "INVALID_API_KEY" | "USER_DEACTIVATED" | "REALM_DEACTIVATED" | "UNAUTHORIZED" => {
                assert!(err.is_fatal() && !err.is_retryable(), "{body}: {err}")
            }
            _ => {
                assert!(
                    matches!(&err, Error::BadRequest { code: c, .. } if c == code),
                    "{body}: {err}"
                );
                assert!(!err.is_retryable(), "{body}");
            }
        }
        // The server's words reach the user (a rate limit is told by its wait instead).
        let msg = ex["example"]["msg"].as_str().unwrap();
        assert!(
            code == "RATE_LIMIT_HIT" || err.to_string().contains(msg),
            "{err}"
        );
    }
}

#[tokio::test]
async fn error_bodies_of_any_shape_are_still_classified() {
    let zulip = FakeZulip::start().await.unwrap();
    let client = Client::new(&zulip.config_for(zulip.bot())).unwrap();
    // `retry-after` as a string, `msg` null: still a rate limit with its wait.
    zulip.inject(
        Some("users/me"),
        Fault::Body {
            status: 429,
            body: r#"{"result":"error","code":"RATE_LIMIT_HIT","msg":null,"retry-after":"2.5"}"#
                .into(),
        },
    );
    let err = client.own_user().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_millis(2500)));
    // A 429 from a server before feature level 36: no `code`.
    zulip.inject(
        Some("users/me"),
        Fault::Body {
            status: 429,
            body: r#"{"result":"error","msg":"API usage exceeded rate limit","retry-after":3}"#
                .into(),
        },
    );
    let err = client.own_user().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
}

/// All 77 official event examples, delivered through a real queue and long poll, reach
/// the source intact and parse into their own typed variants.
#[tokio::test]
async fn every_official_event_example_travels_through_a_queue() {
    let zulip = FakeZulip::start().await.unwrap();
    let mut src = source_for(&zulip.config_for(zulip.bot()));
    let events: Vec<Value> = SPEC_EVENTS
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: Vec<(String, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["op"].as_str().map(str::to_owned),
            )
        })
        .filter(|(k, _)| k != "heartbeat")
        .collect();
    let mut got = Vec::new();
    let (first, _) = tokio::join!(next(&mut src, 10), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for e in &events {
            zulip.push_event(e.clone());
        }
    });
    let mut batch = first;
    loop {
        for raw in batch.events() {
            let raw = raw.unwrap();
            let event = raw.parse().unwrap_or_else(|e| panic!("{e}"));
            assert!(!matches!(event, Event::Unknown(_)), "{}", raw.json);
            got.push((raw.kind.to_owned(), raw.op.map(str::to_owned)));
        }
        src.ack(batch.ack()).await.unwrap();
        if got.len() >= want.len() {
            break;
        }
        batch = next(&mut src, 10).await;
    }
    assert_eq!(got, want, "every example but the heartbeat, in order");
}

/// Events as servers before a rename sent them (our own examples, each from a change
/// recorded in Zulip's API changelog) parse into the same variants with the same meaning.
#[test]
fn events_of_older_servers_parse_into_their_variants() {
    let cases: Vec<Value> = serde_json::from_str(OLDER_SERVERS).unwrap();
    assert!(cases.len() >= 7);
    for case in &cases {
        let text = case["event"].to_string();
        let why = case["why"].as_str().unwrap();
        let expect = &case["expect"];
        let raw = RawEvent::new(&text).unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(raw.kind, expect["kind"], "{why}");
        if let Some(op) = expect["op"].as_str() {
            assert_eq!(raw.op, Some(op), "{why}");
        }
        let event = raw.parse().unwrap_or_else(|e| panic!("{why}: {e}"));
        match &event {
            Event::ReactionAdd(r) => assert_eq!(r.reactor(), expect["user"].as_i64(), "{why}"),
            Event::SubscriptionPeerAdd(p) => {
                assert_eq!(serde_json::json!(p.channels()), expect["channels"], "{why}");
                assert_eq!(serde_json::json!(p.users()), expect["users"], "{why}");
            }
            Event::SubscriptionPeerRemove(p) => {
                assert_eq!(serde_json::json!(p.channels()), expect["channels"], "{why}");
                assert_eq!(serde_json::json!(p.users()), expect["users"], "{why}");
            }
            Event::TypingStart(t) => assert_eq!(t.message_type, expect["message_type"], "{why}"),
            Event::Restart(r) => {
                assert_eq!(r.zulip_feature_level, expect["feature_level"], "{why}")
            }
            Event::UpdateMessageFlagsAdd(_) | Event::DeleteMessage(_) => {}
            other => panic!("{why}: parsed as {other:?}"),
        }
    }
}

/// A server that answers 502, then times out, on the first requests is waited for with
/// the poller's backoff (a process started during a Zulip restart must not exit).
#[tokio::test(start_paused = true)]
async fn the_first_contact_waits_out_502s_and_timeouts() {
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_secs(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = Client::new(&zulip.config_for(zulip.bot())).unwrap();
    zulip.inject(Some("server_settings"), Fault::Html { status: 502 });
    zulip.inject(
        Some("server_settings"),
        Fault::Delay(Duration::from_secs(40)),
    );
    zulip.inject(
        Some("users/me"),
        Fault::JsonError {
            status: 503,
            code: "BAD_REQUEST".into(),
            msg: "restarting".into(),
        },
    );
    zulip.inject(Some("register"), Fault::Html { status: 502 });
    let mut retry = Retry::new(zulip.url());
    let cancel = CancellationToken::new();
    let info = retrying(&mut retry, &cancel, || client.hello())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.me.user_id, zulip.bot().id);
    assert_eq!(retry.retries, 3, "a 502, a timeout and a 503");
    let mut src = source(&zulip, None).with_retry(retry);
    let (b, id) = tokio::join!(next(&mut src, 600), async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        zulip.message().channel("devel").content("x").send()
    });
    assert_eq!(message_ids(&b), [id]);
    assert_eq!(src.stats().retries, 4, "the 502 on /register too");
    let calls = zulip.requests_to("server_settings");
    assert!(
        calls[1].at - calls[0].at >= Duration::from_secs(1),
        "backed off"
    );
}

/// One message by id, as answers that follow their message use it: a message of the
/// official example read back whole, the official "Invalid message(s)" error read as
/// "gone" (a deletion of what is gone succeeds), and the fake's own answers to the
/// three endpoints in the same shapes.
#[tokio::test]
async fn one_message_by_id_reads_edits_and_deletes_as_zulip_answers() {
    let zulip = FakeZulip::start().await.unwrap();
    let client = Client::new(&zulip.config_for(zulip.bot())).unwrap();
    let page: Value = serde_json::from_str(MESSAGES_EXAMPLE).unwrap();
    let official = &page["messages"][1];
    let body = serde_json::json!({"result": "success", "msg": "", "message": official, "raw_content": "raw"});
    zulip.inject(
        Some("messages/21"),
        Fault::Body {
            status: 200,
            body: body.to_string(),
        },
    );
    assert_eq!(client.message(21).await.unwrap(), *official);
    let errors: Vec<Value> = serde_json::from_str(ERRORS).unwrap();
    let invalid = errors
        .iter()
        .find(|e| e["source"] == "components.schemas.InvalidMessageError")
        .unwrap();
    for _ in 0..2 {
        zulip.inject(
            Some("messages/21"),
            Fault::Body {
                status: 400,
                body: invalid["example"].to_string(),
            },
        );
    }
    let gone = client.message(21).await.unwrap_err();
    assert!(zlc_runtime::client::is_no_such_message(&gone), "{gone}");
    assert!(!client.delete_message(21).await.unwrap(), "already gone");

    // The fake: the bot's own message read, edited and deleted; another's refused.
    zulip.add_channel("devel");
    let iago = zulip.add_user("iago@zulip.example.com", "Iago");
    let mine = zulip
        .message()
        .channel("devel")
        .sender(zulip.bot())
        .content("**hi**")
        .send();
    let theirs = zulip
        .message()
        .channel("devel")
        .sender(&iago)
        .content("yo")
        .send();
    let read = client.message(mine).await.unwrap();
    assert_eq!(
        (read["content"].as_str(), read["flags"][0].as_str()),
        (Some("**hi**"), Some("read"))
    );
    client.edit_message(mine, "**hello**").await.unwrap();
    assert_eq!(zulip.messages()[0].content, "**hello**");
    let refused = client.edit_message(theirs, "x").await.unwrap_err();
    assert!(matches!(refused, Error::BadRequest { .. }), "{refused}");
    assert!(client.delete_message(mine).await.unwrap());
    assert!(!client.delete_message(mine).await.unwrap());
    assert_eq!(zulip.messages().len(), 1);
}
