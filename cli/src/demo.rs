//! `--demo`: the built-in fake Zulip server with generated traffic, so that a newcomer
//! sees zlc work without a Zulip account. Traffic stops when the token is cancelled.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;
use zlc_runtime::config::ZulipConfig;
use zlc_runtime::testkit::{FakeZulip, build};

pub struct Demo {
    zulip: std::sync::Arc<FakeZulip>,
}

impl Demo {
    pub fn config(&self) -> ZulipConfig {
        self.zulip.config_for(self.zulip.bot())
    }
}

pub async fn start(cancel: CancellationToken) -> Result<Demo> {
    let zulip = std::sync::Arc::new(
        FakeZulip::start()
            .await
            .context("starting the demo server")?,
    );
    tracing::info!(url = %zulip.url(), "demo: built-in fake Zulip server started");
    spawn_traffic(zulip.clone(), cancel);
    Ok(Demo { zulip })
}

/// Generates demo traffic (messages, reactions, presence) until `cancel` fires.
pub fn spawn_traffic(traffic: std::sync::Arc<FakeZulip>, cancel: CancellationToken) {
    tokio::spawn(async move {
        let people = [
            traffic.add_user("othello@zulip.example.com", "Othello"),
            traffic.add_user("iago@zulip.example.com", "Iago"),
            traffic.add_user("desdemona@zulip.example.com", "Desdemona"),
        ];
        let lines = [
            ("devel", "ci", "deploy #{n} finished"),
            ("alerts", "disk", "ERROR: disk usage at 9{n}% on db-1"),
            ("general", "lunch", "anyone for lunch? @**Listener Bot**"),
            (
                "devel",
                "review",
                "please review https://github.com/zulip/zulip/pull/{n}",
            ),
        ];
        let mut n = 0u64;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(400)) => {}
            }
            let who = &people[(n % 3) as usize];
            let (channel, topic, text) = lines[(n % 4) as usize];
            let id = traffic
                .message()
                .channel(channel)
                .topic(topic)
                .sender(who)
                .content(&text.replace("{n}", &n.to_string()))
                .send();
            match n % 5 {
                1 => {
                    traffic.push_event(build::reaction(
                        "add",
                        &people[((n + 1) % 3) as usize],
                        id,
                        "tada",
                    ));
                }
                3 => {
                    traffic.push_event(build::presence(who, "active", 1_700_000_000 + n as i64));
                }
                _ => {}
            }
            n += 1;
        }
    });
}

/// Writes `text` (a zuliprc: it holds an API key) readable by its owner only, as every
/// zuliprc should be.
fn write_zuliprc(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// The fake server on a fixed address, with a zuliprc for its bot (and, when asked, for
/// a person, to post as someone listeners answer).
pub async fn sandbox(
    addr: &str,
    zuliprc: &std::path::Path,
    person_zuliprc: Option<&std::path::Path>,
    traffic: bool,
    backlog: Option<(std::path::PathBuf, usize)>,
    cancel: CancellationToken,
) -> Result<()> {
    let mut opts = zlc_runtime::testkit::FakeOptions::default();
    if let Some((path, repeat)) = backlog {
        let b = zlc_runtime::testkit::Backlog::read(&path, repeat)
            .with_context(|| format!("reading the backlog {}", path.display()))?;
        eprintln!(
            "{} events wait in every new queue that wants messages",
            b.len()
        );
        opts.backlog = Some(std::sync::Arc::new(b));
    }
    let zulip = std::sync::Arc::new(
        FakeZulip::bind(addr, opts)
            .await
            .with_context(|| format!("listening on {addr}"))?,
    );
    // Every organization has a #general to post to.
    zulip.add_channel("general");
    write_zuliprc(zuliprc, &zulip.zuliprc(zulip.bot()))?;
    eprintln!("fake Zulip at {} (Ctrl-C to stop)", zulip.url());
    eprintln!(
        "bot credentials in {}: e.g. `NAME run --config-file {}`",
        zuliprc.display(),
        zuliprc.display()
    );
    if let Some(path) = person_zuliprc {
        let iago = zulip.add_user("iago@zulip.example.com", "Iago");
        write_zuliprc(path, &zulip.zuliprc(&iago))?;
        eprintln!(
            "a person's credentials (Iago) in {}: post as someone listeners answer, e.g. with the official client: \
             zulip-send --config-file {} --stream general --subject test --message hello",
            path.display(),
            path.display()
        );
    }
    if traffic {
        spawn_traffic(zulip.clone(), cancel.clone());
        eprintln!("generating demo traffic in #general, #devel and #alerts");
    }
    cancel.cancelled().await;
    Ok(())
}
