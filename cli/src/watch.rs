//! `zlc run FILE --watch`: rebuild on save and hand over from the running binary to the
//! new one without losing or repeating an event.
//!
//! The files a pipeline is made from are looked at every 200 ms; once they have been
//! quiet for 300 ms (an editor's save writes, renames and touches several times), the
//! pipeline is built, and its test cases run (`zlc test`; a project's `cargo test`). A
//! build or a test case that fails is printed and changes nothing: the running binary
//! goes on answering.
//!
//! **The handover** is the fleet's own (`NAME run` with leases, [`zlc_runtime`]'s
//! `app/fleet.rs`): the new binary starts beside the old one, says hello to Zulip and
//! stands by for the connections' leases; it tells zlc so through systemd's readiness
//! protocol (`NOTIFY_SOCKET`: `READY=1`). Then the old binary gets SIGTERM: it stops
//! polling, lets its jobs end, writes its checkpoint and gives its leases up; the new
//! one, a newer build, takes them at once and resumes the same queues (or registers new
//! ones, backfilled, when the pipeline now registers for other events), and says
//! `STATUS=polling N of N connections`. The time from the SIGTERM to that is the
//! handover's, printed on one line. Events that arrive meanwhile wait in Zulip's queue;
//! none is lost or handled twice.
//!
//! The binaries run in their own process group: a Ctrl-C (or SIGTERM, SIGHUP) reaches
//! zlc, which passes each one on to them as SIGTERM (a second one makes them stop at
//! once, without draining). If zlc itself is killed with SIGKILL, the binary it runs
//! goes on running; stop it with SIGTERM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use tokio::net::UnixDatagram;
use tokio::process::{Child, Command};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::area::Profile;
use crate::compile::{BuildArgs, RunArgs};

/// How often the files are looked at.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// How long the files must stay unchanged before a build starts.
const QUIET: Duration = Duration::from_millis(300);

/// How long a new binary may take to say it is ready (it may wait out a Zulip that is
/// restarting) before the handover is given up and the old binary kept.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// `zlc run FILE --watch [-- run ARGS]`: runs until a signal stops it; the exit code
/// is the last binary's.
pub async fn watch(args: &RunArgs) -> Result<ExitCode> {
    let run_args: Vec<String> = if args.args.is_empty() {
        vec!["run".into()]
    } else {
        args.args.clone()
    };
    if run_args.first().map(String::as_str) != Some("run") {
        bail!(
            "--watch runs the pipeline, so its arguments must start with `run` (not `{}`): zlc run {} --watch -- run ...",
            run_args.join(" "),
            args.file.display()
        );
    }
    let replay = run_args.iter().any(|a| a == "--replay");
    let mut w = Watcher {
        file: args.file.clone(),
        profile: args.profile,
        run_args,
        replay,
        sockets: SocketDir::new()?,
        signals: Signals::new()?,
        running: None,
        stopping: false,
        exit: ExitCode::SUCCESS,
    };
    w.main().await
}

/// A binary started by the watcher, with the socket it reports on.
#[derive(Debug)]
struct Running {
    child: Child,
    pid: u32,
    notify: UnixDatagram,
    ready: bool,
    /// `(polling, connections)` as last reported.
    polling: Option<(usize, usize)>,
}

impl Running {
    /// Takes in what the binary reported since the last look.
    fn read_reports(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.notify.try_recv(&mut buf) {
            for line in String::from_utf8_lossy(&buf[..n]).lines() {
                if line == "READY=1" {
                    self.ready = true;
                }
                if let Some(status) = line.strip_prefix("STATUS=polling ") {
                    self.polling = parse_polling(status);
                }
            }
        }
    }

    /// Whether every connection is polled.
    fn polls_all(&self) -> bool {
        self.polling.is_some_and(|(n, of)| n == of)
    }

    fn signal(&self, name: &str) {
        let _ = std::process::Command::new("kill")
            .args([format!("-{name}"), self.pid.to_string()])
            .status();
    }
}

/// `polling N of M connection(s)` → `(N, M)`.
fn parse_polling(status: &str) -> Option<(usize, usize)> {
    let mut words = status.split_whitespace();
    let n = words.next()?.parse().ok()?;
    (words.next()? == "of").then_some(())?;
    let of = words.next()?.parse().ok()?;
    Some((n, of))
}

/// SIGINT, SIGTERM and SIGHUP, as one stream.
#[derive(Debug)]
struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    fn new() -> Result<Self> {
        let on = |kind| signal(kind).context("installing a signal handler");
        Ok(Signals {
            int: on(SignalKind::interrupt())?,
            term: on(SignalKind::terminate())?,
            hup: on(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

/// A private folder for the binaries' readiness sockets, removed at the end.
#[derive(Debug)]
struct SocketDir {
    dir: PathBuf,
    next: u32,
}

impl SocketDir {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("zlc-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", dir.display()))?;
        }
        Ok(SocketDir { dir, next: 0 })
    }

    fn socket(&mut self) -> Result<(UnixDatagram, PathBuf)> {
        self.next += 1;
        let path = self.dir.join(format!("notify-{}.sock", self.next));
        let socket = UnixDatagram::bind(&path)
            .with_context(|| format!("creating the socket {}", path.display()))?;
        Ok((socket, path))
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug)]
struct Watcher {
    file: PathBuf,
    profile: Profile,
    run_args: Vec<String>,
    replay: bool,
    sockets: SocketDir,
    signals: Signals,
    running: Option<Running>,
    /// A signal arrived: stop.
    stopping: bool,
    exit: ExitCode,
}

/// Why waiting for something ended early.
enum Interrupted {
    /// A signal: stop everything.
    Signal,
    /// The binary waited on exited, with this status.
    Exited(std::process::ExitStatus),
}

impl Watcher {
    async fn main(&mut self) -> Result<ExitCode> {
        let mut files = watched_files(&self.file);
        let mut seen = snapshot(&files);
        eprintln!(
            "zlc: watching {}{}; Ctrl-C stops",
            self.file.display(),
            match files.len() {
                0 | 1 => String::new(),
                n => format!(" and {} more file{}", n - 1, if n == 2 { "" } else { "s" }),
            }
        );
        self.rebuild().await?;
        while !self.stopping {
            let changed = tokio::select! {
                _ = self.signals.recv() => {
                    self.stopping = true;
                    false
                }
                status = wait_running(&mut self.running) => {
                    if let Some(r) = self.running.take() {
                        eprintln!(
                            "zlc: pid {} exited ({status}); the next change starts it again",
                            r.pid
                        );
                        self.exit = exit_code(status);
                    }
                    false
                }
                _ = tokio::time::sleep(LOOK_EVERY) => snapshot(&files) != seen,
            };
            if self.stopping {
                break;
            }
            if !changed {
                continue;
            }
            // Quiet for a while first: one build for a burst of writes.
            let mut settled = snapshot(&files);
            let mut quiet_since = Instant::now();
            while quiet_since.elapsed() < QUIET {
                tokio::time::sleep(LOOK_EVERY.min(QUIET)).await;
                let now = snapshot(&files);
                if now != settled {
                    settled = now;
                    quiet_since = Instant::now();
                }
            }
            files = watched_files(&self.file);
            seen = snapshot(&files);
            eprintln!("zlc: {} changed", self.file.display());
            self.rebuild().await?;
        }
        self.stop_all().await;
        Ok(std::mem::replace(&mut self.exit, ExitCode::SUCCESS))
    }

    /// Builds and tests; on success, hands over to the new binary.
    async fn rebuild(&mut self) -> Result<()> {
        let keeps = || match &self.running {
            Some(r) => format!("pid {} keeps running the previous build", r.pid),
            None => "nothing runs until a change builds and passes".to_owned(),
        };
        let build = BuildArgs {
            file: self.file.clone(),
            output: None,
            profile: self.profile,
        };
        let started = Instant::now();
        let bin = match tokio::task::spawn_blocking(move || crate::compile::build(&build)).await? {
            Ok(bin) => bin,
            Err(e) => {
                eprintln!("error: {e:#}");
                eprintln!("zlc: the build failed; {}", keeps());
                return Ok(());
            }
        };
        let tested = match self.test().await {
            Ok(Some(true)) => " and tested",
            Ok(None) => "",
            Ok(Some(false)) => {
                eprintln!("zlc: a test case failed (above); {}", keeps());
                return Ok(());
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                eprintln!("zlc: the test cases could not run; {}", keeps());
                return Ok(());
            }
        };
        eprintln!(
            "zlc: built{tested} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        self.hand_over(&bin).await
    }

    /// The file's test cases (a project's `cargo test`): whether they pass (`None`:
    /// there are none).
    async fn test(&self) -> Result<Option<bool>> {
        if let Some(manifest) = crate::project::manifest_of(&self.file) {
            let status = Command::from(crate::area::cargo())
                .arg("test")
                .arg("--manifest-path")
                .arg(&manifest)
                .status()
                .await
                .context("running cargo test")?;
            return Ok(Some(status.success()));
        }
        let text = std::fs::read_to_string(&self.file)
            .with_context(|| format!("reading {}", self.file.display()))?;
        let has_cases = text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.get("test").is_some());
        if !has_cases {
            return Ok(None);
        }
        let args = crate::testing::TestArgs {
            files: vec![self.file.clone()],
            format: crate::testing::Format::Text,
            profile: self.profile,
        };
        tokio::task::spawn_blocking(move || crate::testing::test(&args))
            .await?
            .map(Some)
    }

    /// Starts `bin`; once it is ready, stops the running binary and waits until the new
    /// one polls every connection.
    async fn hand_over(&mut self, bin: &Path) -> Result<()> {
        if self.replay {
            // A replay has no connection to hand over: the old run ends, the new starts.
            if let Some(old) = self.running.take() {
                self.stop(old).await;
            }
            self.running = Some(self.start(bin)?);
            return Ok(());
        }
        let new = self.start(bin)?;
        let Some(new) = self.ready(new).await else {
            return Ok(());
        };
        match self.running.take() {
            None => self.first(new).await,
            Some(old) => self.replace(old, new).await,
        }
        Ok(())
    }

    /// Waits for `new` to say it is ready; says why not (and stops it) otherwise.
    async fn ready(&mut self, mut new: Running) -> Option<Running> {
        let pid = new.pid;
        let keeps = self
            .running
            .as_ref()
            .map_or(String::new(), |r| format!("; pid {} keeps running", r.pid));
        match self.until(&mut new, READY_WITHIN, |r| r.ready).await {
            Ok(true) => return Some(new),
            Ok(false) => eprintln!(
                "zlc: the new binary (pid {pid}) was not ready within {} s; stopping it{keeps}",
                READY_WITHIN.as_secs(),
            ),
            Err(Interrupted::Exited(status)) => {
                eprintln!(
                    "zlc: the new binary (pid {pid}) exited before it was ready ({status}){keeps}"
                );
                return None;
            }
            Err(Interrupted::Signal) => self.stopping = true,
        }
        // Not ready in time, or zlc was told to stop.
        self.stop(new).await;
        None
    }

    /// The first binary: ready, it should soon poll every connection.
    async fn first(&mut self, mut new: Running) {
        let pid = new.pid;
        match self.until(&mut new, READY_WITHIN, Running::polls_all).await {
            Ok(true) => eprintln!("zlc: pid {pid} runs"),
            Ok(false) => eprintln!(
                "zlc: pid {pid} runs but does not poll every connection after {} s: another process may hold their leases (see its log)",
                READY_WITHIN.as_secs()
            ),
            Err(Interrupted::Exited(status)) => {
                eprintln!("zlc: pid {pid} exited ({status})");
                return;
            }
            Err(Interrupted::Signal) => self.stopping = true,
        }
        self.running = Some(new);
    }

    /// The handover: `old` gives its connections up (SIGTERM), `new`, ready, takes
    /// them; `old` is killed if it has not exited a minute later.
    async fn replace(&mut self, mut old: Running, mut new: Running) {
        let (pid, old_pid) = (new.pid, old.pid);
        let began = Instant::now();
        old.signal("TERM");
        let polled = self.until(&mut new, READY_WITHIN, Running::polls_all).await;
        let took = began.elapsed();
        // The old binary has given its connections up; let it finish writing and exit.
        let old_status = tokio::select! {
            status = old.child.wait() => status.ok(),
            _ = tokio::time::sleep(Duration::from_secs(60)) => None,
        };
        match polled {
            Ok(true) => eprintln!(
                "zlc: handed over from pid {old_pid} to pid {pid} in {:.2} s{}",
                took.as_secs_f64(),
                match old_status {
                    Some(s) if !s.success() => format!(" (pid {old_pid} exited with {s})"),
                    _ => String::new(),
                }
            ),
            Ok(false) => eprintln!(
                "zlc: pid {old_pid} stopped, but pid {pid} does not poll every connection after {} s (see its log)",
                took.as_secs()
            ),
            Err(Interrupted::Exited(status)) => {
                eprintln!(
                    "zlc: the new binary (pid {pid}) exited during the handover ({status}); the next change starts one again"
                );
                self.exit = exit_code(status);
                return;
            }
            Err(Interrupted::Signal) => self.stopping = true,
        }
        if old_status.is_none() {
            eprintln!("zlc: pid {old_pid} is still running a minute after SIGTERM; stopping it");
            old.signal("KILL");
            let _ = old.child.wait().await;
        }
        self.running = Some(new);
    }

    /// Starts the binary with the run arguments and a readiness socket.
    fn start(&mut self, bin: &Path) -> Result<Running> {
        let (notify, path) = self.sockets.socket()?;
        let mut cmd = Command::new(bin);
        cmd.args(&self.run_args)
            .env("NOTIFY_SOCKET", &path)
            .process_group(0)
            .kill_on_drop(false);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().unwrap_or(0);
        Ok(Running {
            child,
            pid,
            notify,
            ready: false,
            polling: None,
        })
    }

    /// Waits (up to `limit`) until `done` holds for `r`'s reports: `Ok(false)` on
    /// timeout; a signal or `r`'s exit interrupts.
    async fn until(
        &mut self,
        r: &mut Running,
        limit: Duration,
        done: impl Fn(&Running) -> bool,
    ) -> std::result::Result<bool, Interrupted> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            r.read_reports();
            if done(r) {
                return Ok(true);
            }
            tokio::select! {
                _ = self.signals.recv() => return Err(Interrupted::Signal),
                status = r.child.wait() => {
                    return Err(Interrupted::Exited(status.unwrap_or_else(|_| failed_status())));
                }
                // A report is waiting: read it at the top of the loop.
                _ = r.notify.readable() => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(false),
            }
        }
    }

    /// SIGTERM, and waits for the exit; a second signal to zlc passes on at once.
    async fn stop(&mut self, mut r: Running) {
        r.signal("TERM");
        tokio::select! {
            status = r.child.wait() => {
                if let Ok(status) = status {
                    self.exit = exit_code(status);
                }
            }
            _ = self.signals.recv() => {
                r.signal("TERM");
                let _ = r.child.wait().await;
            }
        }
    }

    async fn stop_all(&mut self) {
        if let Some(r) = self.running.take() {
            eprintln!("zlc: stopping pid {}", r.pid);
            self.stop(r).await;
        }
    }
}

/// Waits for the running binary to exit (forever when there is none).
async fn wait_running(running: &mut Option<Running>) -> std::process::ExitStatus {
    match running {
        Some(r) => r.child.wait().await.unwrap_or_else(|_| failed_status()),
        None => std::future::pending().await,
    }
}

fn failed_status() -> std::process::ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    std::process::ExitStatus::from_raw(1 << 8)
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    ExitCode::from(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}

/// The files a pipeline is made from: the file itself and its Rust crates' sources
/// (`[crates]`), or a project's `Cargo.toml`, `src/` and `tests/`.
fn watched_files(target: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut roots = Vec::new();
    if crate::project::manifest_of(target).is_some() {
        files.push(target.join("Cargo.toml"));
        roots.extend([target.join("src"), target.join("tests")]);
    } else {
        files.push(target.to_path_buf());
        let base = target.parent().unwrap_or(Path::new("."));
        if let Ok(text) = std::fs::read_to_string(target)
            && let Ok(p) = zlc_codegen::load_with("", &text, Some(base))
        {
            for c in &p.pipeline.crates {
                if let Some((_, dir)) = &c.found {
                    files.push(Path::new(dir).join("Cargo.toml"));
                    roots.push(Path::new(dir).join("src"));
                }
            }
        }
    }
    for root in roots {
        walk(&root, &mut files);
    }
    files
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(_) => out.push(path),
            Err(_) => {}
        }
    }
}

/// Each file's modification time and size (`None`: missing), to notice a change.
fn snapshot(files: &[PathBuf]) -> BTreeMap<PathBuf, Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (f.clone(), meta)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_reports_read_as_the_runtime_writes_them() {
        assert_eq!(parse_polling("1 of 1 connection"), Some((1, 1)));
        assert_eq!(parse_polling("0 of 3 connections"), Some((0, 3)));
        assert_eq!(parse_polling("nonsense"), None);
    }
}
