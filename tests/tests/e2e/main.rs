//! End-to-end: build every example pipeline with `zlc build`'s code, run the binaries
//! as processes against the fake Zulip server, a local webhook receiver or a replay
//! file, and assert what happened.

#![allow(clippy::unwrap_used)]

mod bench;
mod hostile;
mod receiver;
mod replay;
mod scaffold;
mod services;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zlc::compile::{BuildArgs, Profile, build};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `pipelines/NAME.toml`.
pub fn pipeline(name: &str) -> PathBuf {
    root().join("pipelines").join(format!("{name}.toml"))
}

/// Builds a pipeline file and returns the binary.
pub fn build_pipeline(file: &Path) -> PathBuf {
    build(&BuildArgs {
        file: file.to_path_buf(),
        output: None,
        profile: Profile::Release,
    })
    .unwrap_or_else(|e| panic!("building {}: {e:#}", file.display()))
}

/// A copy of an example with text replaced and the pipeline renamed (so that tests
/// with different copies never share a generated crate).
pub fn variant(dir: &Path, name: &str, new_name: &str, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(pipeline(name)).unwrap();
    text = text.replace(
        &format!("name = \"{name}\""),
        &format!("name = \"{new_name}\""),
    );
    for (from, to) in replace {
        assert!(text.contains(from), "{name}.toml has no {from:?}");
        text = text.replace(from, to);
    }
    let path = dir.join(format!("{new_name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A running listener binary with its stderr in a file.
#[derive(Debug)]
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(bin: &Path, args: &[&str], log: PathBuf, env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Proc {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (within 20 s).
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `bin run --summary-json --store STORE [EXTRA] --replay EVENTS` and returns the
/// summary, failing the test with the binary's stderr if it fails.
pub fn replay_summary(bin: &Path, events: &Path, store: &str, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(bin)
        .args(["run", "--summary-json", "--store", store])
        .args(extra)
        .arg("--replay")
        .arg(events)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Fetches up to `tries` times, 100 ms apart, until `done` holds; returns the last value
/// (the caller asserts on it, so a timeout shows what was there).
pub async fn poll<T>(
    tries: usize,
    mut fetch: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let mut value = fetch().await;
    for _ in 1..tries {
        if done(&value) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        value = fetch().await;
    }
    value
}

pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
