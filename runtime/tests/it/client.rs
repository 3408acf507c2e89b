//! The client's calls against the fake server, which also tests the fake's semantics.

use std::time::Duration;

use zlc_runtime::Error;
use zlc_runtime::client::{Client, Destination, NarrowTerm, RegisterRequest};
use zlc_runtime::testkit::{FakeOptions, FakeZulip, Fault};

fn client(zulip: &FakeZulip) -> Client {
    Client::new(&zulip.config_for(zulip.bot())).unwrap()
}

fn narrow(op: &str, operand: &str) -> Vec<NarrowTerm> {
    vec![NarrowTerm {
        operator: op.into(),
        operand: operand.into(),
    }]
}

#[tokio::test]
async fn server_settings_and_own_user() {
    let zulip = FakeZulip::start().await.unwrap();
    let c = client(&zulip);
    let s = c.server_settings().await.unwrap();
    assert_eq!(s.zulip_feature_level, zlc_runtime::testkit::FEATURE_LEVEL);
    // Like Zulip 9.0+, the fake sends the new name and the deprecated one.
    assert_eq!(s.realm_url.as_deref(), Some(zulip.url().as_str()));
    assert_eq!(s.realm_uri.as_deref(), Some(zulip.url().as_str()));
    let me = c.own_user().await.unwrap();
    assert_eq!(
        (me.user_id, me.email.as_str(), me.is_bot),
        (zulip.bot().id, zulip.bot().email.as_str(), true)
    );
}

#[tokio::test]
async fn send_messages_and_read_them_back_through_narrows() {
    let zulip = FakeZulip::start().await.unwrap();
    let c = client(&zulip);
    let alice = zulip.add_user("alice@x.com", "Alice");
    let to_devel = Destination::Channel {
        channel: "devel".into(),
        topic: "ci".into(),
    };
    let a = c.send_message(&to_devel, "build **green**").await.unwrap();
    let b = c
        .send_message(
            &Destination::Direct {
                user_ids: vec![alice.id],
            },
            "hi Alice",
        )
        .await
        .unwrap();
    let other = zulip
        .message()
        .channel("general")
        .content("elsewhere")
        .send();
    assert!(a < b && b < other);

    let devel = c
        .get_messages_after(0, 100, &narrow("channel", "devel"), false)
        .await
        .unwrap();
    assert_eq!(devel.ids, [a]);
    assert!(devel.found_newest);
    let text = devel.messages[0].get();
    assert!(text.contains(r#""content":"build **green**""#), "{text}");
    let html = c
        .get_messages_after(0, 100, &narrow("channel", "devel"), true)
        .await
        .unwrap();
    assert!(html.messages[0].get().contains("<p>build **green**</p>"));

    let dms = c
        .get_messages_after(0, 100, &narrow("is", "dm"), false)
        .await
        .unwrap();
    assert_eq!(dms.ids, [b]);
    let all = c.get_messages_after(a, 100, &[], false).await.unwrap();
    assert_eq!(all.ids, [b, other], "anchor excluded");
    let page = c.get_messages_after(0, 2, &[], false).await.unwrap();
    assert_eq!((page.ids.len(), page.found_newest), (2, false));
    assert_eq!(
        c.newest_message_id(&narrow("channel", "devel"))
            .await
            .unwrap(),
        Some(a)
    );
    assert_eq!(
        c.newest_message_id(&narrow("channel", "alerts"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn sending_to_a_missing_channel_is_a_bad_request() {
    let zulip = FakeZulip::start().await.unwrap();
    let err = client(&zulip)
        .send_message(
            &Destination::Channel {
                channel: "nope".into(),
                topic: "t".into(),
            },
            "x",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest { code, .. } if code == "STREAM_DOES_NOT_EXIST"),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn reactions_round_trip_with_zulips_errors() {
    let zulip = FakeZulip::start().await.unwrap();
    let c = client(&zulip);
    let id = zulip.message().channel("devel").content("ship it").send();
    c.add_reaction(id, "tada").await.unwrap();
    assert_eq!(zulip.reactions().len(), 1);
    let again = c.add_reaction(id, "tada").await.unwrap_err();
    assert!(
        matches!(&again, Error::BadRequest { code, .. } if code == "REACTION_ALREADY_EXISTS"),
        "{again}"
    );
    c.remove_reaction(id, "tada").await.unwrap();
    assert!(zulip.reactions().is_empty());
    let gone = c.remove_reaction(id, "tada").await.unwrap_err();
    assert!(
        matches!(&gone, Error::BadRequest { code, .. } if code == "REACTION_DOES_NOT_EXIST"),
        "{gone}"
    );
    assert!(c.add_reaction(999_999, "tada").await.is_err());
}

#[tokio::test]
async fn queues_expire_when_idle_and_can_be_deleted() {
    let zulip = FakeZulip::start_with(FakeOptions {
        queue_idle_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client(&zulip);
    let reg = c.register(&RegisterRequest::default()).await.unwrap();
    assert_eq!(reg.last_event_id, -1);
    assert_eq!(reg.poll_timeout(), Duration::from_secs(100));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = c
        .get_events(reg.queue(), -1, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::QueueGone { queue_id, .. } if queue_id == reg.queue()),
        "{err}"
    );

    let reg = c.register(&RegisterRequest::default()).await.unwrap();
    c.delete_queue(reg.queue()).await.unwrap();
    assert!(matches!(
        c.delete_queue(reg.queue()).await.unwrap_err(),
        Error::QueueGone { .. }
    ));
}

#[tokio::test]
async fn long_polls_answer_with_a_heartbeat_and_respect_event_types() {
    let zulip = FakeZulip::start_with(FakeOptions {
        heartbeat: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client(&zulip);
    let reg = c
        .register(&RegisterRequest {
            event_types: Some(vec!["reaction".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    zulip
        .message()
        .channel("devel")
        .content("not wanted")
        .send();
    let body = c
        .get_events(reg.queue(), -1, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(body.contains(r#"{"type":"heartbeat","id":0}"#), "{body}");
    assert!(!body.contains("not wanted"));
}

#[tokio::test]
async fn large_responses_are_read_whole() {
    let zulip = FakeZulip::start().await.unwrap();
    let c = client(&zulip);
    let reg = c.register(&RegisterRequest::default()).await.unwrap();
    let big = "x".repeat(9_000);
    for _ in 0..2_000 {
        zulip.message().channel("devel").content(&big).send();
    }
    let body = c
        .get_events(reg.queue(), -1, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(body.len() > 18_000_000, "{}", body.len());
}

#[tokio::test]
async fn slow_responses_time_out_as_transient() {
    let zulip = FakeZulip::start().await.unwrap();
    let c = client(&zulip);
    let reg = c.register(&RegisterRequest::default()).await.unwrap();
    zulip.inject(Some("events"), Fault::Delay(Duration::from_secs(3)));
    let err = c
        .get_events(reg.queue(), -1, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        err.is_retryable() && err.to_string().contains("timed out"),
        "{err}"
    );
}

#[tokio::test]
async fn unauthenticated_requests_get_zulips_401() {
    let zulip = FakeZulip::start().await.unwrap();
    zlc_runtime::client::install_crypto_provider();
    let resp = reqwest::get(format!("{}/api/v1/users/me", zulip.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "UNAUTHORIZED");
}
