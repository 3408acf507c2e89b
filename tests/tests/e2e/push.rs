//! Push end to end: `push_bot.toml` built and run as a process with `--listen`, the fake
//! server pushing to it as Zulip's outgoing webhooks do. Answers in the HTTP response
//! or (slow) through the API; tokens refused; bodies and slow clients cut off; messages
//! sent while it was down answered once at the next start; a payload pushed twice
//! answered once; three processes behind one address each message once.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const TOKEN: &str = "xJ3kq9TokenOfTheBot";

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `push_bot run --listen PORT` (plus `extra`), its token in the environment.
fn run_push(s: &Setup, bin: &Path, port: u16, extra: &[&str]) -> Proc {
    let listen = port.to_string();
    let mut args = vec!["--listen", &listen];
    args.extend_from_slice(extra);
    s.run(bin, &args, &[("ZULIP_WEBHOOK_TOKEN", TOKEN)])
}

async fn serving(p: &Proc) {
    p.wait_for_log(30, "serving Zulip's outgoing webhooks")
        .await;
}

/// `push_bot` built and serving, the fake server's bot pushing to it, Iago in `#general`.
struct PushBot {
    s: Setup,
    iago: zlc_runtime::testkit::FakeUser,
    bin: PathBuf,
    port: u16,
    p: Proc,
}

async fn push_bot() -> PushBot {
    let s = setup().await;
    s.zulip.add_channel("general");
    let iago = s.zulip.add_user("iago@zulip.example.com", "Iago");
    let bin = build_pipeline(&pipeline("push_bot"));
    let port = free_port();
    let p = run_push(&s, &bin, port, &[]);
    serving(&p).await;
    s.zulip
        .push_to(s.zulip.bot(), &format!("http://127.0.0.1:{port}/"), TOKEN);
    PushBot {
        s,
        iago,
        bin,
        port,
        p,
    }
}

fn hello_from(s: &Setup, who: &zlc_runtime::testkit::FakeUser, topic: &str) -> i64 {
    s.zulip
        .message()
        .channel("general")
        .topic(topic)
        .sender(who)
        .content("@**Listener Bot** hello")
        .send()
}

fn answers_in(s: &Setup, topic: &str) -> Vec<String> {
    s.bot_messages()
        .into_iter()
        .filter(|m| m.topic == topic)
        .map(|m| m.content)
        .collect()
}

/// A payload as Zulip pushes it, for message `id` (not stored in the fake server).
fn payload(id: i64, token: &str) -> serde_json::Value {
    serde_json::json!({
        "bot_email": "listener-bot@zulip.example.com", "bot_full_name": "Listener Bot",
        "data": "@**Listener Bot** hello", "token": token, "trigger": "mention",
        "message": {
            "id": id, "type": "stream", "display_recipient": "general", "stream_id": 1,
            "subject": "by hand", "sender_id": 77, "sender_full_name": "Desdemona",
            "sender_email": "desdemona@zulip.example.com", "content": "@**Listener Bot** hello",
            "timestamp": 1765000000, "rendered_content": "<p>hello</p>", "recipient_id": 3,
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_mention_is_answered_in_the_http_response_and_a_slow_one_through_the_api() {
    let PushBot {
        s, iago, port, p, ..
    } = push_bot().await;
    let id = hello_from(&s, &iago, "fast");
    wait_until(20, "the answer", || !answers_in(&s, "fast").is_empty()).await;
    assert_eq!(answers_in(&s, "fast"), ["Hello, Iago!"]);
    let push = s
        .zulip
        .pushes()
        .into_iter()
        .find(|r| r.message_id == id)
        .unwrap();
    assert_eq!(push.status, Some(200));
    assert_eq!(push.answer["content"], "Hello, Iago!", "in the response");
    eprintln!("push → answer in the response: {:?}", push.took);
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");

    // A listener slower than the budget: Zulip gets `response_not_required` in time,
    // and the answer comes through the API.
    let slow_reply = receiver::Reply {
        status: 200,
        body: r#"{"text": "ok"}"#.into(),
        delay: Duration::from_millis(2500),
        retry_after: None,
    };
    let receiver = receiver::Receiver::start_with(vec![], slow_reply).await;
    let slow = s.dir.path().join("slow_push.toml");
    std::fs::write(
        &slow,
        format!(
            r#"[pipeline]
name = "slow_push"
[[realm]]
id = 1
source = "push"
[[listener]]
name = "ask"
events = "message"
content = 'hello'
timeout = "10s"
[[listener.action]]
type = "webhook"
url = "http://127.0.0.1:{}/hook"
allow_private = true
reply_field = "text"
"#,
            receiver.port
        ),
    )
    .unwrap();
    let bin = build_pipeline(&slow);
    let p = run_push(&s, &bin, port, &["--answer-within", "1s"]);
    serving(&p).await;
    let start = Instant::now();
    let id = hello_from(&s, &iago, "slow");
    wait_until(30, "the slow answer", || !answers_in(&s, "slow").is_empty()).await;
    let through_api = start.elapsed();
    let push = s
        .zulip
        .pushes()
        .into_iter()
        .find(|r| r.message_id == id)
        .unwrap();
    assert_eq!(
        push.answer,
        serde_json::json!({"response_not_required": true})
    );
    assert!(
        push.took < Duration::from_secs(3),
        "answered in time: {:?}",
        push.took
    );
    assert_eq!(push.attempts, 1);
    assert_eq!(answers_in(&s, "slow"), ["ok"]);
    eprintln!("push → answer through the API (a 2.5 s listener): {through_api:?}");
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}

async fn post(port: u16, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    zlc_runtime::client::install_crypto_provider();
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_methods_paths_huge_bodies_and_slow_clients_are_refused() {
    let s = setup().await;
    s.zulip.add_channel("general");
    let bin = build_pipeline(&pipeline("push_bot"));
    let port = free_port();
    // Without --listen, or without a token, it does not start.
    let base = ["run", "--config-file", &s.rc, "--store", &s.store_url];
    let (code, _, err) = run_cmd(&bin, &base);
    assert_eq!(code, 1);
    assert!(err.contains("give --listen ADDR"), "{err}");
    let listen = port.to_string();
    let (code, _, err) = run_cmd(&bin, &[&base[..], &["--listen", &listen]].concat());
    assert_eq!(code, 1);
    assert!(
        err.contains("set $ZULIP_WEBHOOK_TOKEN, or `token=`"),
        "{err}"
    );
    let p = run_push(&s, &bin, port, &[]);
    serving(&p).await;

    for token in [
        "wrong",
        "",
        &TOKEN.to_uppercase(),
        &TOKEN[..TOKEN.len() - 1],
    ] {
        let (status, _) = post(port, "/", &payload(5001, token)).await;
        assert_eq!(status, 401, "token {token:?}");
    }
    let mut no_token = payload(5001, "");
    no_token.as_object_mut().unwrap().remove("token");
    assert_eq!(post(port, "/", &no_token).await.0, 401);
    assert_eq!(post(port, "/other", &payload(5001, TOKEN)).await.0, 404);
    zlc_runtime::client::install_crypto_provider();
    let get = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);

    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap()
            .to_owned();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let before = rss();
    // 100 MB declared: refused before a byte of it is read.
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0u8; 64];
    let n = c.read(&mut head).await.unwrap();
    assert!(
        String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    // 100 MB undeclared (chunked): cut off at the limit.
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("100000\r\n{}\r\n", "a".repeat(0x100000));
    let mut sent = 0usize;
    while sent < 100 * 1024 * 1024 {
        match tokio::time::timeout(Duration::from_secs(5), c.write_all(chunk.as_bytes())).await {
            Ok(Ok(())) => sent += 0x100000,
            _ => break,
        }
    }
    assert!(sent < 100 * 1024 * 1024, "the server read all 100 MB");
    let grown = rss().saturating_sub(before);
    assert!(grown < 20 * 1024, "memory grew by {grown} KiB");

    // A slow drip of headers: the connection is closed.
    let started = Instant::now();
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut closed = false;
    for _ in 0..40 {
        if c.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(500), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {
                closed = true; // a 408 before the close
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "a slow client kept its connection");
    assert!(started.elapsed() < Duration::from_secs(15));

    assert!(s.bot_messages().is_empty(), "nothing was dispatched");
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_it_was_down_are_answered_once_and_a_push_twice_once() {
    let PushBot {
        s,
        iago,
        bin,
        port,
        p,
    } = push_bot().await;
    hello_from(&s, &iago, "before");
    wait_until(20, "the first answer", || {
        answers_in(&s, "before").len() == 1
    })
    .await;

    // The same payload twice: answered in the first response only.
    let (status, first) = post(port, "/", &payload(900_001, TOKEN)).await;
    assert_eq!(
        (status, &first["content"]),
        (200, &serde_json::json!("Hello, Desdemona!"))
    );
    let (status, second) = post(port, "/", &payload(900_001, TOKEN)).await;
    assert_eq!(
        (status, second),
        (200, serde_json::json!({"response_not_required": true}))
    );
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");

    // Down: three mentions, which Zulip cannot push.
    for topic in ["down 1", "down 2", "down 3"] {
        hello_from(&s, &iago, topic);
    }
    wait_until(20, "Zulip to give up pushing them", || {
        s.zulip
            .pushes()
            .iter()
            .filter(|r| r.status.is_none())
            .count()
            == 3
    })
    .await;
    let p = run_push(&s, &bin, port, &[]);
    serving(&p).await;
    wait_until(30, "the three answers", || {
        ["down 1", "down 2", "down 3"]
            .iter()
            .all(|t| !answers_in(&s, t).is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for t in ["before", "down 1", "down 2", "down 3"] {
        assert_eq!(answers_in(&s, t), ["Hello, Iago!"], "topic {t}");
    }
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}

/// A TCP proxy on one address that hands connections to `backends` in turn.
async fn round_robin(backends: Vec<u16>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next = 0;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let port = backends[next % backends.len()];
            next += 1;
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_behind_one_address_answer_each_pushed_message_once() {
    let Ok(admin) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
        eprintln!("skipped: ZLC_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = Database::create(&admin).await;
    let mut s = setup().await;
    s.store_url = db.url.clone();
    s.zulip.add_channel("general");
    let iago = s.zulip.add_user("iago@zulip.example.com", "Iago");
    let bin = build_pipeline(&pipeline("push_bot"));
    let ports = [free_port(), free_port(), free_port()];
    let mut procs = Vec::new();
    for port in ports {
        let p = run_push(&s, &bin, port, &[]);
        serving(&p).await;
        procs.push(p);
    }
    let front = round_robin(ports.to_vec()).await;
    s.zulip
        .push_to(s.zulip.bot(), &format!("http://{front}/"), TOKEN);
    // Three people, three messages each (a sender may have ten answers a minute).
    let people = [
        iago,
        s.zulip.add_user("othello@zulip.example.com", "Othello"),
        s.zulip.add_user("desdemona@zulip.example.com", "Desdemona"),
    ];
    let topics: Vec<String> = (0..9).map(|i| format!("fleet {i}")).collect();
    let ids: Vec<i64> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| hello_from(&s, &people[i % 3], t))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(40);
    while !topics.iter().all(|t| !answers_in(&s, t).is_empty()) {
        if Instant::now() > deadline {
            let logs: Vec<String> = procs.iter().map(Proc::log_text).collect();
            panic!(
                "not every message was answered: {:?}\n{}",
                s.bot_messages(),
                logs.join("\n----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (i, t) in topics.iter().enumerate() {
        let hello = format!("Hello, {}!", people[i % 3].full_name);
        assert_eq!(answers_in(&s, t), [hello], "topic {t}");
    }
    // Every message pushed again to every process (as Zulip's retries may land on any
    // of them): each one knows it handled, from the store, and answers nothing.
    for id in &ids {
        for port in ports {
            let (status, answer) = post(port, "/", &payload(*id, TOKEN)).await;
            assert_eq!(
                (status, answer),
                (200, serde_json::json!({"response_not_required": true})),
                "message {id} pushed again to port {port}"
            );
        }
    }
    for p in procs {
        let (status, log) = p.stop();
        assert!(status.success(), "{log}");
    }
    // Dispatched once each over the fleet, the pushes again included: 9 seen (27 if each
    // process kept its own claims).
    let (code, out, err) = run_cmd(&bin, &["stats", "--json", "--store", &db.url]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hello = v["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "hello")
        .cloned()
        .unwrap();
    assert_eq!(
        (&hello["seen"], &hello["matched"]),
        (&serde_json::json!(9), &serde_json::json!(9)),
        "{hello}"
    );
    db.drop_it().await;
}

/// Requests per second one process takes, each answered in its response, and the
/// memory it used: `cargo test -p zlc-e2e --test e2e push_throughput -- --ignored
/// --nocapture`. A measurement, not a test (a shared machine's timing says nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run it by name"]
async fn push_throughput() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("push_bot"));
    let port = free_port();
    let p = run_push(&s, &bin, port, &[]);
    serving(&p).await;
    zlc_runtime::client::install_crypto_provider();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/");
    let (n, concurrency) = (4000i64, 32i64);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let mut answered = 0;
            let mut id = 1_000_000 + w;
            while id < 1_000_000 + n {
                let mut body = payload(id, TOKEN);
                // Each from a sender and in a topic of its own: the flood limits are not measured.
                body["message"]["sender_id"] = serde_json::json!(10_000 + id);
                body["message"]["subject"] = serde_json::json!(format!("topic {id}"));
                let r = client.post(&url).json(&body).send().await.unwrap();
                let v: serde_json::Value = r.json().await.unwrap();
                if v["content"].is_string() {
                    answered += 1;
                }
                id += concurrency;
            }
            answered
        });
    }
    let mut answered = 0;
    while let Some(a) = tasks.join_next().await {
        answered += a.unwrap();
    }
    let took = started.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
    let mem: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .collect();
    eprintln!(
        "{n} pushes, {concurrency} at once: {:.0} requests/s, {answered} answered in the response; {mem:?}",
        n as f64 / took.as_secs_f64()
    );
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}
