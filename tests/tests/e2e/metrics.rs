//! `--metrics`: Prometheus text on /metrics, /healthz and /readyz, bound to loopback;
//! the in-flight gauge stays under the bound while a webhook is slow; labels carry
//! only names from the pipeline, never message content.

use std::io::{Read, Write};

use super::receiver::{Receiver, Reply};
use super::*;

/// `GET path` (or another method) on `port`: the status and the body.
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The value of one sample line (`name{labels} value`).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_are_served_and_in_flight_stays_bounded() {
    let s = setup().await;
    let hook = Receiver::start_with(Vec::new(), Reply::ok_after(Duration::from_millis(400))).await;
    let bin = pipeline_in(
        s.dir.path(),
        "metrics_e2e",
        &format!(
            r#"[[listener]]
name = "forward"
events = "message"
channels = ["alerts"]
ordered = false
max_in_flight = 3

[[listener.action]]
type = "webhook"
url = "http://127.0.0.1:{}/hook"
allow_private = true
body = {{ text = "{{{{message.content}}}}" }}

[[listener]]
name = "tally"
events = "message"

[[listener.action]]
type = "count"
by = ["channel"]
"#,
            hook.port
        ),
    );
    // A bad address is refused before anything starts.
    let out = Command::new(&bin)
        .args(["run", "--metrics", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a port"));

    let p = s.run(
        &bin,
        &["--metrics", "127.0.0.1:0", "--max-in-flight", "4"],
        &[],
    );
    let mut port = 0u16;
    wait_until(30, "the metrics address in the log", || {
        let log = p.log_text();
        port = log
            .split("metrics on http://127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        port != 0
    })
    .await;
    assert_eq!(http(port, "GET", "/healthz"), (200, "ok\n".to_owned()));
    // A process is ready as soon as it stands by for its realm's lease; wait until it
    // has taken it and polls.
    wait_until(30, "ready and polling", || {
        let (code, body) = http(port, "GET", "/readyz");
        code == 200 && body.contains("polling")
    })
    .await;
    let (_, ready) = http(port, "GET", "/readyz");
    assert!(
        ready.contains("metrics_e2e/realm-1: polling") && ready.contains("store: ok"),
        "{ready}"
    );

    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    for n in 0..12 {
        s.zulip
            .message()
            .channel("alerts")
            .topic(&format!("t{n}"))
            .sender(&alice)
            .content(&format!("evil\"}} zlc_fake{{x=\"1\"}} 99 #{n}"))
            .send();
    }
    let in_flight = "zlc_jobs_in_flight{connection=\"metrics_e2e/realm-1\"}";
    let mut most = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(40);
    while hook.received().len() < 12 {
        assert!(Instant::now() < deadline, "{}", p.log_text());
        let (_, text) = http(port, "GET", "/metrics");
        if let Some(v) = sample(&text, in_flight) {
            most = most.max(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(most > 0.0, "jobs were seen in flight");
    assert!(most <= 3.0, "the listener's bound of 3 held: {most}");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let (status, text) = http(port, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(text.ends_with("# EOF\n"), "{text}");
    for (series, want) in [
        ("zlc_listener_matched_total{listener=\"forward\"}", 12.0),
        ("zlc_listener_matched_total{listener=\"tally\"}", 12.0),
        (
            "zlc_jobs_total{listener=\"forward\",outcome=\"succeeded\"}",
            12.0,
        ),
        (
            "zlc_queue_registrations_total{connection=\"metrics_e2e/realm-1\"}",
            1.0,
        ),
        ("zlc_polling{connection=\"metrics_e2e/realm-1\"}", 1.0),
        (in_flight, 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in\n{text}");
    }
    assert!(sample(&text, "zlc_events_total").unwrap() >= 12.0, "{text}");
    assert!(
        !text.contains("evil") && !text.contains("zlc_fake"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "zlc_breaker_open{listener=\"forward\"}"),
        Some(0.0),
        "{text}"
    );

    assert_eq!(http(port, "GET", "/nothing").0, 404);
    assert_eq!(http(port, "POST", "/metrics").0, 405);
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    eprintln!("metrics after the run:\n{text}");
}
