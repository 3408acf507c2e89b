//! End-to-end: build every example pipeline with `zlc build`'s code, run the binaries
//! as processes against the fake Zulip server, a local webhook receiver or a replay
//! file, and assert what happened.

#![allow(clippy::unwrap_used)]

mod bench;
mod change;
mod commands;
mod durable;
mod fleet;
mod hostile;
mod jobs;
mod live;
mod metrics;
mod project;
mod push;
mod receiver;
mod replay;
mod scaffold;
mod services;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zlc::area::Profile;
use zlc::compile::{BuildArgs, build};

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

/// Writes a pipeline file named after `name` into `dir` (with realm 1) and builds it.
pub fn pipeline_in(dir: &Path, name: &str, body: &str) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!("[pipeline]\nname = \"{name}\"\n\n[[realm]]\nid = 1\nname = \"main\"\n\n{body}"),
    )
    .unwrap();
    build_pipeline(&file)
}

/// Runs `bin` with `args` to its end: exit code, stdout, stderr.
pub fn run_cmd(bin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains `needle` (fails with the log after `secs`).
    pub async fn wait_for_log(&self, secs: u64, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.log_text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} in the log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no drain, no last write.
    pub fn kill_9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log_text()
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
    summary_of(
        Command::new(bin)
            .args(["run", "--summary-json", "--store", store])
            .args(extra)
            .arg("--replay")
            .arg(events),
    )
}

/// Runs `cmd` (a `run --summary-json`) to its end and returns the summary it printed,
/// failing the test with the binary's stderr if it fails.
pub fn summary_of(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
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

/// A fake Zulip server, a zuliprc for its bot (mode 600, as it should be) and a SQLite
/// store in a temporary folder: what a listener binary needs to run for real.
#[derive(Debug)]
pub struct Setup {
    pub zulip: zlc_runtime::testkit::FakeZulip,
    pub dir: tempfile::TempDir,
    pub rc: String,
    pub store_url: String,
}

pub async fn setup() -> Setup {
    setup_with(zlc_runtime::testkit::FakeOptions::default()).await
}

/// [`setup`] with a fake server started with `options`.
pub async fn setup_with(options: zlc_runtime::testkit::FakeOptions) -> Setup {
    let zulip = zlc_runtime::testkit::FakeZulip::start_with(options)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("zuliprc");
    std::fs::write(&rc, zulip.zuliprc(zulip.bot())).unwrap();
    set_mode(&rc, 0o600);
    let store_url = format!("sqlite://{}", dir.path().join("zlc.db").display());
    Setup {
        rc: rc.display().to_string(),
        store_url,
        zulip,
        dir,
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Setup {
    /// `bin run` against the fake server and the store, statistics written every second.
    pub fn run(&self, bin: &Path, extra: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut args = vec![
            "run",
            "--config-file",
            &self.rc,
            "--store",
            &self.store_url,
            "--stats-interval",
            "1",
        ];
        args.extend_from_slice(extra);
        Proc::spawn(bin, &args, self.dir.path().join("run.log"), env)
    }

    /// Waits until the binary registered its queue (fails with its log if it did not).
    pub async fn connected(&self, p: &Proc) {
        wait_until(30, "the binary to register a queue", || {
            !self.zulip.queue_ids().is_empty() || p.log_text().contains("error")
        })
        .await;
        assert!(!self.zulip.queue_ids().is_empty(), "{}", p.log_text());
    }

    /// The messages the bot sent.
    pub fn bot_messages(&self) -> Vec<zlc_runtime::testkit::StoredMessage> {
        let bot = self.zulip.bot().id;
        self.zulip
            .messages()
            .into_iter()
            .filter(|m| m.sender_id == bot)
            .collect()
    }
}

/// A database of its own, dropped at the end.
#[derive(Debug)]
pub struct Database {
    admin: String,
    pub name: String,
    pub url: String,
}

impl Database {
    pub async fn create(admin: &str) -> Database {
        let name = format!("zlc_fleet_{:08x}", unique_suffix());
        let pool = sqlx::PgPool::connect(admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        Database {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop_it(self) {
        let pool = sqlx::PgPool::connect(&self.admin).await.unwrap();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&pool)
        .await;
        pool.close().await;
    }
}

fn unique_suffix() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() ^ std::process::id().rotate_left(16)
}

/// A TCP proxy to PostgreSQL (127.0.0.1:5432) that can be cut: every connection
/// through it is dropped and new ones are refused until it is restored, as when the
/// database goes away.
#[derive(Debug)]
pub struct PgProxy {
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: std::sync::Arc<std::sync::Mutex<tokio_util_like::Token>>,
}

/// A minimal cancellation token (the tests do not depend on tokio-util).
pub mod tokio_util_like {
    use std::sync::Arc;

    #[derive(Clone, Debug, Default)]
    pub struct Token(Arc<tokio::sync::Notify>, Arc<std::sync::atomic::AtomicBool>);

    impl Token {
        pub fn cancel(&self) {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
            self.0.notify_waiters();
        }

        pub async fn cancelled(&self) {
            loop {
                let notified = self.0.notified();
                if self.1.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        }
    }
}

impl PgProxy {
    pub async fn start() -> PgProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let cut = std::sync::Arc::new(std::sync::Mutex::new(tokio_util_like::Token::default()));
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let token = cut2.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        PgProxy { port, up, cut }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        let mut token = self.cut.lock().unwrap();
        token.cancel();
        *token = tokio_util_like::Token::default();
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `db`'s URL through this proxy.
    pub fn url(&self, db: &Database) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, db.name)
    }
}
