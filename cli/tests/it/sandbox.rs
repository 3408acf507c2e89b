//! `zlc sandbox` with its people: `send` and `react` post as a person, through the API,
//! to a sandbox running as a process; what they post is what the bot reads.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zlc_runtime::client::Client;
use zlc_runtime::config::ConfigOverrides;

const ZLC: &str = env!("CARGO_BIN_EXE_zlc");

/// A running `zlc sandbox` in a folder of its own, stopped when dropped.
struct Sandbox {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    fn start() -> Sandbox {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(ZLC)
            .args(["sandbox", "--addr", &format!("127.0.0.1:{port}")])
            .args(extra)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Sandbox { child, dir };
        let ready = Instant::now() + Duration::from_secs(20);
        while !s
            .dir
            .path()
            .join("sandbox-people/desdemona.zuliprc")
            .exists()
        {
            assert!(Instant::now() < ready, "the sandbox did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn zlc(&self, args: &[&str]) -> (i32, String, String) {
        super::output(Command::new(ZLC).args(args).current_dir(self.dir.path()))
    }

    fn bot(&self) -> Client {
        let config = ConfigOverrides {
            config_file: Some(self.dir.path().join("sandbox.zuliprc")),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        Client::new(&config).unwrap()
    }
}

/// The id in `message N sent by ...`.
fn sent_id(out: &str) -> i64 {
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn people_post_to_channels_and_to_the_bot_and_react() {
    let s = Sandbox::start();
    let (code, out, err) = s.zlc(&[
        "sandbox",
        "send",
        "#general > greetings",
        "hello @**Listener Bot**",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("message ") && out.contains("sent by Iago to #general > greetings"),
        "{out}"
    );
    let in_channel = sent_id(&out);

    let (code, out, err) = s.zlc(&["sandbox", "send", "--as", "othello", "--dm", "bot", "ping"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sent by Othello"), "{out}");
    let direct = sent_id(&out);

    let (code, out, err) = s.zlc(&[
        "sandbox",
        "react",
        "--as",
        "desdemona",
        &in_channel.to_string(),
        ":tada:",
    ]);
    assert_eq!(
        (code, out.trim()),
        (
            0,
            format!("Desdemona reacted :tada: to message {in_channel}").as_str()
        ),
        "{err}"
    );

    // The bot sees both messages, from the people who sent them.
    let page = s
        .bot()
        .get_messages_after(0, 100, &[], false)
        .await
        .unwrap();
    let seen: Vec<(i64, String)> = page
        .messages
        .iter()
        .zip(&page.ids)
        .map(|(raw, id)| (*id, raw.get().to_owned()))
        .collect();
    let find = |id: i64| {
        seen.iter()
            .find(|(i, _)| *i == id)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    let m = find(in_channel);
    assert!(
        m.contains("\"sender_full_name\":\"Iago\"") && m.contains("hello @**Listener Bot**"),
        "{m}"
    );
    let m = find(direct);
    assert!(
        m.contains("\"sender_full_name\":\"Othello\"") && m.contains("\"type\":\"private\""),
        "{m}"
    );
}

#[test]
fn sending_says_what_is_wrong_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let zlc = |args: &[&str]| super::output(Command::new(ZLC).args(args).current_dir(dir.path()));
    let (code, _, err) = zlc(&["sandbox", "send", "#general > x", "hi"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("sandbox-people/iago.zuliprc") && err.contains("is it running in this folder"),
        "{err}"
    );
    let (code, _, err) = zlc(&["sandbox", "send", "--as", "cassio", "#general > x", "hi"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no person `cassio`") && err.contains("iago, othello, desdemona"),
        "{err}"
    );
    let (code, _, err) = zlc(&["sandbox", "send", "general", "hi"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("#channel > topic") || err.contains("sandbox-people"),
        "{err}"
    );
}

/// `edit` and `delete` change a person's own message as Zulip does (the bot reads the
/// new text); someone else's is refused, and a message deleted is gone.
#[tokio::test]
async fn people_edit_and_delete_their_messages() {
    let s = Sandbox::start();
    let (code, out, err) = s.zlc(&["sandbox", "send", "#general > t", "helo"]);
    assert_eq!(code, 0, "{err}");
    let id = sent_id(&out).to_string();
    let (code, out, err) = s.zlc(&["sandbox", "edit", &id, "hello"]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("Iago edited message {id}").as_str()),
        "{err}"
    );
    let read = s.bot().message(id.parse().unwrap()).await.unwrap();
    assert_eq!(read["content"], "hello");
    let (code, _, err) = s.zlc(&["sandbox", "edit", "--as", "othello", &id, "mine now"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Othello editing message") && err.contains("permission"),
        "{err}"
    );
    let (code, out, err) = s.zlc(&["sandbox", "delete", &id]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("Iago deleted message {id}").as_str()),
        "{err}"
    );
    let (code, _, err) = s.zlc(&["sandbox", "delete", &id]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("no message {id} to delete")), "{err}");
}

/// `zlc sandbox --push URL`: a mention of the bot is POSTed to URL as Zulip does, with
/// the token the sandbox wrote into the bot's zuliprc.
#[tokio::test]
async fn the_sandbox_pushes_mentions_to_an_outgoing_webhook() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let got = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&buf).contains("\"trigger\"") {
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the push ended early");
            buf.extend_from_slice(&chunk[..n]);
        }
        let answer = r#"{"response_not_required": true}"#;
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        sock.write_all(resp.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&buf).to_string()
    });
    let s = Sandbox::start_with(&["--push", &url]);
    let (code, _, err) = s.zlc(&["sandbox", "send", "#general > t", "hi @**Listener Bot**"]);
    assert_eq!(code, 0, "{err}");
    let request = tokio::time::timeout(Duration::from_secs(20), got)
        .await
        .unwrap()
        .unwrap();
    let rc = std::fs::read_to_string(s.dir.path().join("sandbox.zuliprc")).unwrap();
    let token = rc.lines().find_map(|l| l.strip_prefix("token=")).unwrap();
    assert_eq!(token.len(), 32, "{rc}");
    assert!(request.starts_with("POST / HTTP/1.1"), "{request}");
    assert!(
        request.contains(&format!("\"token\":\"{token}\"")),
        "{request}"
    );
    assert!(request.contains("\"trigger\":\"mention\""), "{request}");
}
