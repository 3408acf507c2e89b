//! Rust listeners tested without a server: events in, effects out (replies, reactions,
//! counters, state, HTTP calls to a local receiver, dead letters, de-duplication).

#![allow(clippy::unwrap_used)]

use serde_json::json;
use zlc_runtime::event::{Reaction, RealmUserAdd};
use zlc_runtime::harness::{
    Harness, HarnessOptions, MessageSpec, reaction_event, user_joined_event,
};
use zlc_runtime::{Context, Message, listener};

#[listener(events = "message", channels = ["devel"], content = "deploy #(\\d+)", action(type = "react", emoji = "rocket"))]
async fn on_deploy(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let n = msg.content().trim_start_matches("deploy #");
    let seen: u32 = cx
        .state_get("deploys")
        .await?
        .map_or(0, |s| s.parse().unwrap_or(0));
    cx.state_set("deploys", &(seen + 1).to_string()).await?;
    cx.reply(format!("Deploying #{n} (deploy {} today)", seen + 1));
    cx.count("deploys");
    Ok(())
}

#[listener(
    events = "message",
    mentioned = true,
    allow_private = true,
    retries = 0
)]
async fn ask(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let url = cx
        .config("url")
        .unwrap_or("http://127.0.0.1:1/none")
        .to_owned();
    let answer = cx
        .post_json(&url, &json!({"question": msg.content()}))
        .await?;
    cx.reply(answer["answer"].as_str().unwrap_or("?").to_owned());
    Ok(())
}

#[listener(events = "message", channels = ["broken"], retries = 0)]
fn always_fails(_msg: &Message<'_>, _cx: &Context<'_>) -> Result<(), zlc_runtime::Permanent> {
    Err(zlc_runtime::permanent("the database of answers is gone"))
}

#[listener(events = "reaction:add")]
async fn tally(r: &Reaction, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    cx.count(&r.emoji_name);
    Ok(())
}

#[listener(events = "realm_user:add")]
fn welcome(joined: &RealmUserAdd, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let name = joined.person.full_name.as_deref().unwrap_or("there");
    cx.send("general", "welcome", format!("Welcome, {name}!"));
    Ok(())
}

zlc_runtime::pipeline!(
    name = "harness_test",
    on_deploy,
    ask,
    always_fails,
    tally,
    welcome
);

/// A pipeline of realms with a zuliprc each (`--config-file REALM=PATH` overrides one).
mod two_realms {
    zlc_runtime::pipeline!(
        name = "two_realms",
        realms = [1],
        zuliprc = { 1 = "prod.zuliprc", 2 = "staging.zuliprc" },
        super::welcome
    );
}

#[test]
fn pipeline_takes_a_zuliprc_per_realm() {
    use zlc_runtime::codegen::CredentialsDesc;
    let realms: Vec<(u32, String)> = two_realms::PIPELINE
        .desc
        .realms
        .iter()
        .map(|r| {
            let creds = match r.credentials {
                CredentialsDesc::Zuliprc(path) => path.to_owned(),
                ref other => format!("{other:?}"),
            };
            (r.id, creds)
        })
        .collect();
    assert_eq!(
        realms,
        [
            (1, "prod.zuliprc".to_owned()),
            (2, "staging.zuliprc".to_owned())
        ]
    );
}

#[tokio::test]
async fn replies_reactions_counters_and_state_without_a_server() {
    let mut h = Harness::of(&PIPELINE).await.unwrap();
    let first = h
        .send(MessageSpec::channel("devel", "ci").content("deploy #12"))
        .await
        .unwrap();
    h.send(MessageSpec::channel("general", "ci").content("deploy #13"))
        .await
        .unwrap();
    h.send(MessageSpec::channel("devel", "ci").content("deploy #14"))
        .await
        .unwrap();
    assert_eq!(
        h.messages(),
        [
            (
                "#devel > ci".to_owned(),
                "Deploying #12 (deploy 1 today)".to_owned()
            ),
            (
                "#devel > ci".to_owned(),
                "Deploying #14 (deploy 2 today)".to_owned()
            ),
        ]
    );
    assert_eq!(h.reactions()[0], (first, "rocket".to_owned()));
    assert_eq!(h.matched("on_deploy"), 2);
    assert_eq!(h.counters("on_deploy").seen, 3);
    assert_eq!(h.counter("on_deploy", "deploys").await.unwrap(), 2);
    assert_eq!(
        h.state("on_deploy", "deploys").await.unwrap().as_deref(),
        Some("2")
    );

    // The same message delivered again is not answered again.
    let again = MessageSpec {
        id: Some(first),
        ..MessageSpec::channel("devel", "ci").content("deploy #12")
    };
    h.send(again).await.unwrap();
    assert_eq!(h.messages().len(), 2, "de-duplicated");

    // Twice in one batch (a server re-sending while the first is still being worked on):
    // answered once.
    let twice = MessageSpec::channel("devel", "ci")
        .content("deploy #15")
        .event(5000);
    h.feed([twice.clone(), twice]).await.unwrap();
    assert_eq!(
        h.messages().len(),
        3,
        "one answer for two deliveries in one batch"
    );
}

#[tokio::test]
async fn http_calls_reach_a_local_receiver_and_failures_become_dead_letters() {
    // A receiver on loopback, answering every request.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let got = received.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0; 8192];
            let n = s.read(&mut buf).await.unwrap_or(0);
            got.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = r#"{"answer":"Try `git bisect`."}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    // The listener reads its URL from its config, as `NAME config ask url ...` sets it.
    let opts =
        HarnessOptions::default().config("ask", "url", &format!("http://127.0.0.1:{port}/ask"));
    let mut h = Harness::with_options(&PIPELINE, opts).await.unwrap();
    h.send(
        MessageSpec::channel("general", "help")
            .content("@**Listener Bot** why?")
            .mentioning_the_bot(),
    )
    .await
    .unwrap();
    h.send(MessageSpec::channel("broken", "x").content("anything"))
        .await
        .unwrap();
    assert_eq!(
        h.messages(),
        [("#general > help".to_owned(), "Try `git bisect`.".to_owned())]
    );
    let requests = received.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].starts_with("POST /ask "), "{requests:?}");
    assert!(
        requests[0].contains(r#"{"question":"@**Listener Bot** why?"}"#),
        "{requests:?}"
    );
    let dead = h.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].0, "always_fails");
    assert!(
        dead[0].1.contains("the database of answers is gone"),
        "{dead:?}"
    );
    assert_eq!(h.counters("always_fails").failed, 1);
}

#[tokio::test]
async fn a_handlers_post_carries_the_same_idempotency_key_at_every_delivery() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Option<String>>::new()));
    let got = keys.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0; 8192];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            got.lock().unwrap().push(head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("idempotency-key")
                    .then(|| v.trim().to_owned())
            }));
            let body = r#"{"answer":"42"}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    let opts =
        HarnessOptions::default().config("ask", "url", &format!("http://127.0.0.1:{port}/ask"));
    let mut h = Harness::with_options(&PIPELINE, opts).await.unwrap();
    let question = |id| {
        MessageSpec::channel("general", "help")
            .content("@**Listener Bot** why?")
            .mentioning_the_bot()
            .event(id)
    };
    // One message delivered twice (as after a crash), and another message.
    h.feed([question(7)]).await.unwrap();
    h.feed([question(7)]).await.unwrap();
    h.feed([question(8)]).await.unwrap();
    let keys = keys.lock().unwrap().clone();
    assert_eq!(
        keys.len(),
        3,
        "the function runs at every delivery: {keys:?}"
    );
    assert!(keys.iter().all(Option::is_some), "{keys:?}");
    assert_eq!(keys[0], keys[1], "one message, one key");
    assert_ne!(keys[0], keys[2], "another message, another key");
    // Its reply is posted once per message.
    assert_eq!(h.messages().len(), 2, "{:?}", h.messages());
}

#[tokio::test]
async fn other_events_from_builders_and_from_a_recording() {
    let mut h = Harness::of(&PIPELINE).await.unwrap();
    h.feed([
        reaction_event("add", 7, "tada", "bob@example.com"),
        reaction_event("add", 8, "tada", "carol@example.com"),
        reaction_event("remove", 8, "tada", "carol@example.com"),
        user_joined_event("dana@example.com", "Dana"),
    ])
    .await
    .unwrap();
    // A recording as `zlc tail` writes it: one event per line, in Zulip's own shape
    // (here the deprecated `user` object only, as servers before feature level 2 sent).
    let recorded = concat!(
        r#"{"type":"reaction","op":"add","user":{"user_id":10,"email":"hamlet@example.com","full_name":"King Hamlet"},"message_id":32,"emoji_name":"octopus","emoji_code":"1f419","reaction_type":"unicode_emoji","id":40}"#,
        "\n\n",
        r#"{"type":"heartbeat","id":41}"#,
        "\n",
    );
    h.feed_json_lines(recorded).await.unwrap();
    assert_eq!(h.counter("tally", "tada").await.unwrap(), 2);
    assert_eq!(h.counter("tally", "octopus").await.unwrap(), 1);
    assert_eq!(
        h.matched("tally"),
        3,
        "the removal does not match reaction:add"
    );
    assert_eq!(
        h.messages(),
        [("#general > welcome".to_owned(), "Welcome, Dana!".to_owned())]
    );
}

/// A handler keeps state in the message's conversation (`cx.conversation()`): each
/// topic is a conversation of its own, and `end` forgets it.
mod intake {
    use zlc_runtime::harness::{Harness, MessageSpec};
    use zlc_runtime::{Context, Message, listener};

    #[listener(events = "message", channels = ["intake"])]
    fn intake(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
        let c = cx.conversation().unwrap();
        match c.state().as_deref() {
            None => {
                c.set_state("name");
                cx.reply("Your name?");
            }
            Some("name") => {
                c.set("name", msg.content());
                c.set_state("age");
                cx.reply("Your age?");
            }
            _ => {
                cx.reply(format!(
                    "{} is {}",
                    c.get("name").unwrap_or_default(),
                    msg.content()
                ));
                c.end();
            }
        }
        Ok(())
    }

    zlc_runtime::pipeline!(name = "intake", intake);

    #[tokio::test]
    async fn a_handler_keeps_state_per_conversation() {
        let mut h = Harness::of(&PIPELINE).await.unwrap();
        let say = |topic: &str, text: &str| MessageSpec::channel("intake", topic).content(text);
        for (topic, text) in [
            ("a", "hi"),
            ("b", "hello"),
            ("a", "Iago"),
            ("a", "41"),
            ("a", "again"),
        ] {
            h.send(say(topic, text)).await.unwrap();
        }
        let said: Vec<String> = h.messages().into_iter().map(|(_, text)| text).collect();
        assert_eq!(
            said,
            [
                "Your name?",
                "Your name?",
                "Your age?",
                "Iago is 41",
                "Your name?"
            ]
        );
    }
}

/// Commands in Rust: the arguments are the function's parameters, read as their types;
/// `help`, usage errors and suggestions come from zlc's own listener, as in a pipeline
/// file.
mod ops {
    use zlc_runtime::harness::{Harness, MessageSpec};
    use zlc_runtime::{Choice, Context, Rest, command};

    #[derive(Choice, Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Environment {
        Staging,
        Production,
        DryRun,
    }

    #[command(description = "Deploy the service", allowed = ["role:admin"])]
    async fn deploy(
        environment: Environment,
        force: bool,
        cx: &Context<'_>,
    ) -> Result<(), zlc_runtime::Error> {
        cx.reply(format!("Deploying to {environment:?} (forced: {force})"));
        Ok(())
    }

    #[command(description = "Scale the web tier")]
    fn scale(
        replicas: u16,
        reason: Option<Rest>,
        cx: &Context<'_>,
    ) -> Result<(), zlc_runtime::Error> {
        let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
        cx.reply(format!("Scaling to {replicas}{why}"));
        Ok(())
    }

    zlc_runtime::pipeline!(name = "ops_rust", deploy, scale);

    #[tokio::test]
    async fn typed_commands_run_and_mistakes_are_answered() {
        let mut h = Harness::of(&PIPELINE).await.unwrap();
        let say = |text: &str| {
            MessageSpec::channel("ops", "t")
                .content(&format!("@**Listener Bot** {text}"))
                .mentioning_the_bot()
        };
        h.send(say("deploy dry-run --force").with_role("admin"))
            .await
            .unwrap();
        h.send(say("scale 3 the launch is today")).await.unwrap();
        h.send(say("scale 2")).await.unwrap();
        h.send(say("scale many")).await.unwrap();
        h.send(say("deploy production").from("othello@example.com", "Othello"))
            .await
            .unwrap();
        h.send(say("help")).await.unwrap();
        let said: Vec<String> = h.messages().into_iter().map(|(_, text)| text).collect();
        assert_eq!(
            said[..3],
            [
                "Deploying to DryRun (forced: true)",
                "Scaling to 3: the launch is today",
                "Scaling to 2",
            ]
        );
        assert!(
            said[3].contains("usage: `scale <replicas: int> [reason...]`"),
            "{}",
            said[3]
        );
        assert_eq!(
            said[4],
            "you may not run `deploy`: it is for admins and above only"
        );
        assert_eq!(
            said[5],
            "Commands:\n* `deploy <environment: staging|production|dry-run> [--force]`: Deploy the service (for admins and above)\n* `scale <replicas: int> [reason...]`: Scale the web tier\n* `help [command]`: this list, or how to use one command"
        );
        assert_eq!(
            (h.matched("deploy"), h.matched("scale"), h.matched("help")),
            (1, 2, 3)
        );
    }
}
