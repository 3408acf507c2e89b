//! `zlc run FILE --watch` as a user runs it: a steady stream of messages while the
//! pipeline file is edited five times (one edit breaks the build, one a test case).
//! Every message is answered exactly once, by the version of the pipeline in force when
//! it was processed; a broken edit leaves the running binary answering.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use zlc_runtime::testkit::FakeZulip;

const ZLC: &str = env!("CARGO_BIN_EXE_zlc");

/// The pipeline answering `v{version} pong {content}`, with a test case that wants
/// `pong` in the answer.
fn pipeline(version: &str) -> String {
    format!(
        r#"[pipeline]
name = "watch_it"

[[realm]]
id = 1

[[listener]]
name = "answer"
events = "message"
channels = ["ops"]
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "reply"
template = "{version} {{{{message.content}}}}"

[[test]]
name = "an answer says pong"
event = [{{ channel = "ops", topic = "t", content = "ping" }}]
expect.messages = [{{ contains = "pong ping" }}]
"#
    )
}

/// Writes as editors do: a temporary file renamed over the old one.
fn save(file: &Path, text: &str) {
    let tmp = file.with_extension("toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

fn log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn wait_for(path: &Path, needle: &str, count: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while log(path).matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count}× {needle:?}:\n{}",
            log(path)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_hand_over_without_losing_or_repeating_a_message() {
    let zulip = FakeZulip::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("zuliprc");
    std::fs::write(&rc, zulip.zuliprc(zulip.bot())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let file = dir.path().join("watch_it.toml");
    save(&file, &pipeline("v1 pong"));
    let store = format!("sqlite://{}", dir.path().join("watch.db").display());
    let out = dir.path().join("watch.log");
    let mut zlc = Command::new(ZLC)
        .arg("run")
        .arg(&file)
        .arg("--watch")
        .args(["--", "run", "--stats-interval", "1", "--config-file"])
        .arg(&rc)
        .args(["--store", &store])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&out).unwrap()))
        .spawn()
        .unwrap();
    wait_for(&out, "zlc: pid ", 1, 600).await;
    wait_for(&out, " runs", 1, 60).await;

    zulip.add_channel("ops");
    let dana = zulip.add_user("dana@zulip.example.com", "Dana");
    let sent = AtomicU32::new(0);
    let done = AtomicBool::new(false);
    let stream = async {
        while !done.load(Ordering::SeqCst) {
            let n = sent.fetch_add(1, Ordering::SeqCst);
            zulip
                .message()
                .channel("ops")
                .topic("watch")
                .sender(&dana)
                .content(&format!("m{n}"))
                .send();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let edits = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        save(&file, &pipeline("v2 pong"));
        wait_for(&out, "zlc: handed over", 1, 120).await;
        // A build that fails: the running binary stays.
        save(
            &file,
            &pipeline("v9 pong").replace("[[listener]]", "[[listener]\n"),
        );
        wait_for(&out, "zlc: the build failed", 1, 120).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        // An editor's save storm: one build.
        for _ in 0..3 {
            save(&file, &pipeline("v3 pong"));
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        wait_for(&out, "zlc: handed over", 2, 120).await;
        // A test case that fails: the running binary stays.
        save(&file, &pipeline("v4 pang"));
        wait_for(&out, "zlc: a test case failed", 1, 120).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        save(&file, &pipeline("v5 pong"));
        wait_for(&out, "zlc: handed over", 3, 120).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        done.store(true, Ordering::SeqCst);
    };
    tokio::join!(stream, edits);
    let total = sent.load(Ordering::SeqCst);
    let answers = || -> Vec<String> {
        zulip
            .messages()
            .into_iter()
            .filter(|m| m.sender_id == zulip.bot().id)
            .map(|m| m.content)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while answers().len() < total as usize {
        assert!(Instant::now() < deadline, "{:?}\n{}", answers(), log(&out));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Ctrl-C: zlc passes it on, the binary drains, both exit.
    Command::new("kill")
        .args(["-INT", &zlc.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = zlc.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "zlc did not stop:\n{}",
            log(&out)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = log(&out);
    assert!(status.success(), "{status}:\n{text}");

    // Every message answered exactly once, by the version in force when it was
    // processed: versions never go back, and the broken ones never answered.
    let got = answers();
    let by_message: BTreeMap<u32, &str> = got
        .iter()
        .map(|a| {
            let (version, rest) = a.split_once(" pong m").expect(a);
            (rest.parse::<u32>().expect(a), version)
        })
        .collect();
    assert_eq!(by_message.len(), got.len(), "answered twice: {got:?}");
    assert_eq!(
        by_message.keys().copied().collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>(),
        "{got:?}"
    );
    let versions: Vec<&str> = by_message.values().copied().collect();
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(versions, sorted, "a version went back: {versions:?}");
    let mut used = versions.clone();
    used.dedup();
    assert_eq!(used, ["v1", "v2", "v3", "v5"], "{text}");

    // Three handovers (one per good edit, the save storm built once), each on one line.
    assert_eq!(text.matches("zlc: handed over").count(), 3, "{text}");
    assert_eq!(text.matches("changed\n").count(), 5, "{text}");
    for line in text.lines().filter(|l| l.starts_with("zlc: handed over")) {
        eprintln!("{line}");
    }
    // No binary is left running: its pid is gone.
    let last_pid = text
        .lines()
        .filter_map(|l| l.strip_prefix("zlc: handed over from pid "))
        .filter_map(|l| l.split(" to pid ").nth(1)?.split(' ').next())
        .next_back()
        .unwrap()
        .to_owned();
    assert!(
        !Path::new("/proc").join(&last_pid).exists(),
        "pid {last_pid} still runs"
    );
}
