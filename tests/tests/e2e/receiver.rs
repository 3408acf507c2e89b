//! A minimal HTTP receiver for webhook tests: records each request (with when it came
//! and when it was answered) and answers from a script, then with a default reply
//! (200 `{}` unless told otherwise). A status of 0 means "never answer"; a reply may
//! wait before answering and carry a `Retry-After`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub body: serde_json::Value,
    pub arrived: Instant,
    /// When the answer went out (`None`: not yet, or never).
    pub answered: Option<Instant>,
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    pub retry_after: Option<u32>,
}

impl Reply {
    pub fn ok_after(delay: Duration) -> Reply {
        Reply {
            status: 200,
            body: "{}".into(),
            delay,
            retry_after: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Receiver {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub script: Arc<Mutex<VecDeque<Reply>>>,
    default: Reply,
}

impl Receiver {
    pub async fn start(script: Vec<(u16, &str)>) -> Receiver {
        let script = script
            .into_iter()
            .map(|(status, body)| Reply {
                status,
                body: body.to_owned(),
                delay: Duration::ZERO,
                retry_after: None,
            })
            .collect();
        Self::start_with(script, Reply::ok_after(Duration::ZERO)).await
    }

    /// Answers from `script`, then with `default`.
    pub async fn start_with(script: Vec<Reply>, default: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Receiver {
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            script: Arc::new(Mutex::new(script.into_iter().collect())),
            default,
        };
        let me = r.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, content_length) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_string();
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                    };
                    while buf.len() < head_end + content_length {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let header = |name: &str| {
                        head.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                    };
                    let (authorization, idempotency_key) =
                        (header("authorization"), header("idempotency-key"));
                    let body =
                        serde_json::from_slice(&buf[head_end..]).unwrap_or(serde_json::Value::Null);
                    let index = {
                        let mut received = me.received.lock().unwrap();
                        received.push(Received {
                            path,
                            authorization,
                            idempotency_key,
                            body,
                            arrived: Instant::now(),
                            answered: None,
                        });
                        received.len() - 1
                    };
                    let reply = me
                        .script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or_else(|| me.default.clone());
                    if reply.status == 0 {
                        // Never answer (the connection stays open until the test ends).
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    tokio::time::sleep(reply.delay).await;
                    let retry_after = reply
                        .retry_after
                        .map_or_else(String::new, |s| format!("retry-after: {s}\r\n"));
                    let resp = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\n{retry_after}content-length: {}\r\nconnection: close\r\n\r\n{}",
                        reply.status,
                        reply.body.len(),
                        reply.body
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    me.received.lock().unwrap()[index].answered = Some(Instant::now());
                });
            }
        });
        r
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
