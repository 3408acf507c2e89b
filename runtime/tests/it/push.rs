//! The fake server's outgoing-webhook bots: what Zulip POSTs for a mention and for a
//! direct message (the payload's fields, the trigger's name by feature level), the
//! answer posted back as the bot, `response_not_required`, and a request that gets no
//! answer tried again.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zlc_runtime::testkit::{FakeOptions, FakeZulip};

/// A receiver on a free port: each request's JSON body is kept, and answered with the
/// next of `answers` (`None`: the connection is closed without an answer).
async fn receiver(answers: Vec<Option<&'static str>>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/zulip", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = (text.lines())
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break Some(
                            String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string(),
                        );
                    }
                }
            };
            if let Some(body) = body {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap_or(Value::Null));
            }
            match answers.next().flatten() {
                Some(answer) => {
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                }
                None => drop(sock),
            }
        }
    });
    (url, seen)
}

async fn wait_for(zulip: &FakeZulip, pushes: usize) {
    for _ in 0..200 {
        if zulip.pushes().len() >= pushes {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{} pushes, not {pushes}", zulip.pushes().len());
}

#[tokio::test]
async fn mentions_and_direct_messages_are_pushed_and_answered_as_zulip_does() {
    let zulip = FakeZulip::start().await.unwrap();
    let iago = zulip.add_user("iago@zulip.example.com", "Iago");
    let (url, seen) = receiver(vec![
        Some(r#"{"content": "Hello, Iago!"}"#),
        Some(r#"{"response_not_required": true}"#),
        None,
        Some(r#"{"response_string": "late, but here"}"#),
    ])
    .await;
    zulip.push_to(zulip.bot(), &url, "s3cret");
    let bot = zulip.bot().clone();
    zulip
        .message()
        .channel("general")
        .topic("hi")
        .sender(&iago)
        .content("hello @**Listener Bot**")
        .send();
    wait_for(&zulip, 1).await;
    zulip
        .message()
        .direct_to(&[&bot])
        .sender(&iago)
        .content("quiet please")
        .send();
    wait_for(&zulip, 2).await;
    zulip
        .message()
        .channel("general")
        .topic("hi")
        .sender(&iago)
        .content("no mention here")
        .send();
    zulip
        .message()
        .channel("general")
        .topic("again")
        .sender(&iago)
        .content("@**Listener Bot** again")
        .send();
    wait_for(&zulip, 3).await;

    let seen = seen.lock().unwrap().clone();
    let first = &seen[0];
    assert_eq!(first["token"], "s3cret");
    assert_eq!(first["trigger"], "mention");
    assert_eq!(
        (first["bot_email"].as_str(), first["bot_full_name"].as_str()),
        (Some(bot.email.as_str()), Some("Listener Bot"))
    );
    assert_eq!(first["data"], "hello @**Listener Bot**");
    assert_eq!(first["message"]["content"], "hello @**Listener Bot**");
    assert!(
        first["message"]["rendered_content"]
            .as_str()
            .unwrap()
            .starts_with("<p>")
    );
    assert_eq!(seen[1]["trigger"], "direct_message");
    // The third mention's first request got no answer: it came again.
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert_eq!(seen[2]["message"]["id"], seen[3]["message"]["id"]);
    let pushes = zulip.pushes();
    assert_eq!(
        pushes.iter().map(|p| p.attempts).collect::<Vec<_>>(),
        [1, 1, 2]
    );

    let answers: Vec<(String, String)> = (zulip.messages().into_iter())
        .filter(|m| m.sender_id == bot.id)
        .map(|m| (m.topic, m.content))
        .collect();
    assert_eq!(
        answers,
        [
            ("hi".to_owned(), "Hello, Iago!".to_owned()),
            ("again".to_owned(), "late, but here".to_owned())
        ]
    );
}

#[tokio::test]
async fn servers_before_feature_level_201_name_a_direct_message_private() {
    let opts = FakeOptions {
        feature_level: 185,
        ..FakeOptions::default()
    };
    let zulip = FakeZulip::start_with(opts).await.unwrap();
    let iago = zulip.add_user("iago@zulip.example.com", "Iago");
    let (url, seen) = receiver(vec![Some("{}")]).await;
    zulip.push_to(zulip.bot(), &url, "t");
    let bot = zulip.bot().clone();
    zulip
        .message()
        .direct_to(&[&bot])
        .sender(&iago)
        .content("ping")
        .send();
    wait_for(&zulip, 1).await;
    assert_eq!(seen.lock().unwrap()[0]["trigger"], "private_message");
}
