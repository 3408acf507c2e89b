//! `--demo`: the built-in fake Zulip server with generated traffic, so that a newcomer
//! sees zlc work without a Zulip account. Traffic stops when the token is cancelled.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;
use zlc_runtime::config::ZulipConfig;
use zlc_runtime::testkit::{FakeUser, FakeZulip, build};

/// The sandbox's people: (the name `--as` takes, email, full name).
pub const PEOPLE: &[(&str, &str, &str)] = &[
    ("iago", "iago@zulip.example.com", "Iago"),
    ("othello", "othello@zulip.example.com", "Othello"),
    ("desdemona", "desdemona@zulip.example.com", "Desdemona"),
];

/// Where `name`'s zuliprc is kept in the people folder `dir`.
pub fn zuliprc_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.zuliprc"))
}

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
    let people = add_people(&zulip);
    spawn_traffic(zulip.clone(), people, cancel);
    Ok(Demo { zulip })
}

/// The sandbox's people ([`PEOPLE`]), added to `zulip`.
fn add_people(zulip: &FakeZulip) -> Vec<FakeUser> {
    PEOPLE
        .iter()
        .map(|(_, email, name)| zulip.add_user(email, name))
        .collect()
}

/// Generates demo traffic (messages, reactions, presence) by `people` until `cancel`
/// fires.
pub fn spawn_traffic(
    traffic: std::sync::Arc<FakeZulip>,
    people: Vec<FakeUser>,
    cancel: CancellationToken,
) {
    if people.is_empty() {
        return;
    }
    tokio::spawn(async move {
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
            let who = &people[n as usize % people.len()];
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
                        &people[(n as usize + 1) % people.len()],
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

/// A fresh outgoing-webhook token: 32 hexadecimal digits from the process's random
/// hash keys.
fn webhook_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

/// Where the sandbox writes its credentials: the bot's zuliprc, the folder of its
/// people's, and (when asked) one person's zuliprc besides.
pub struct SandboxFiles<'a> {
    pub zuliprc: &'a std::path::Path,
    pub people: &'a std::path::Path,
    pub person_zuliprc: Option<&'a std::path::Path>,
}

/// The fake server on a fixed address, with a zuliprc for its bot and one for each of
/// its people (to post as someone listeners answer).
pub async fn sandbox(
    addr: &str,
    files: SandboxFiles<'_>,
    (traffic, push): (bool, Option<&str>),
    backlog: Option<(std::path::PathBuf, usize)>,
    cancel: CancellationToken,
) -> Result<()> {
    let SandboxFiles {
        zuliprc,
        people: people_dir,
        person_zuliprc,
    } = files;
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
    let mut bot_rc = zulip.zuliprc(zulip.bot());
    if let Some(url) = push {
        let token = webhook_token();
        zulip.push_to(zulip.bot(), url, &token);
        bot_rc.push_str(&format!("token={token}\n"));
    }
    write_zuliprc(zuliprc, &bot_rc)?;
    eprintln!("fake Zulip at {} (Ctrl-C to stop)", zulip.url());
    if let Some(url) = push {
        eprintln!(
            "messages that mention Listener Bot, and direct messages to it, are pushed to {url} \
             (its outgoing-webhook token is `token=` in {})",
            zuliprc.display()
        );
    }
    eprintln!(
        "bot credentials in {}: e.g. `NAME run --config-file {}`",
        zuliprc.display(),
        zuliprc.display()
    );
    let people = add_people(&zulip);
    std::fs::create_dir_all(people_dir)
        .with_context(|| format!("creating {}", people_dir.display()))?;
    for ((name, _, _), person) in PEOPLE.iter().zip(&people) {
        let rc = zuliprc_of(people_dir, name);
        write_zuliprc(&rc, &zulip.zuliprc(person))?;
    }
    eprintln!(
        "people's credentials in {}/ (iago, othello, desdemona): post as them with e.g. \
         `zlc sandbox send --as iago \"#general > hello\" \"hi @**Listener Bot**\"` \
         or `zlc sandbox send --dm bot ping`",
        people_dir.display()
    );
    if let Some(path) = person_zuliprc {
        write_zuliprc(path, &zulip.zuliprc(&people[0]))?;
        eprintln!("Iago's credentials also in {}", path.display());
    }
    if traffic {
        spawn_traffic(zulip.clone(), people, cancel.clone());
        eprintln!("generating demo traffic in #general, #devel and #alerts");
    }
    cancel.cancelled().await;
    Ok(())
}
