//! `run --listen`: the push server of a run, and the connections of its push realms
//! (`[[realm]] source = "push"`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::connection::{Connected, Hello};
use super::realms::{ConfigFile, realm_config};
use super::settings::RunSettings;
use crate::config::Secret;
use crate::error::{Error, Result};
use crate::jobs::outbox::ZulipSink;
use crate::pipeline::{PipelineDesc, RealmDesc};
use crate::push::{Answers, Pushed, Route};
use crate::source::{PushOptions, PushSource, Source};
use crate::store::Store;

/// Where the token of a push realm comes from unless its `token_env` says.
pub const TOKEN_ENV: &str = "ZULIP_WEBHOOK_TOKEN";

/// Pushed messages waiting for their connection, at most (per realm).
const INBOX: usize = 1024;

/// The push server's side of a run: the answers in responses, and each push realm's
/// inbox until its connection takes it.
#[derive(Debug)]
pub(super) struct PushHub {
    pub(super) answers: Arc<Answers>,
    inboxes: Mutex<HashMap<u32, mpsc::Receiver<Pushed>>>,
}

impl PushHub {
    /// Realm `id`'s inbox (once).
    fn inbox(&self, id: u32) -> Option<mpsc::Receiver<Pushed>> {
        self.inboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
    }
}

/// Checks that `--listen` and the push realms go together (a replay plays every realm
/// from its file and serves nothing).
pub(super) fn check(realms: &[&RealmDesc], settings: &RunSettings) -> Result<()> {
    let push: Vec<String> = realms
        .iter()
        .filter(|r| r.push)
        .map(|r| r.id.to_string())
        .collect();
    match (&settings.push, push.is_empty(), settings.replay.is_some()) {
        (Some(_), _, true) => Err(Error::Config(
            "--listen takes pushes from Zulip; a --replay plays a file: give one of them".into(),
        )),
        (None, false, false) => Err(Error::Config(format!(
            "realm {} takes pushes (source = \"push\"): give --listen ADDR, the address Zulip's outgoing webhook posts to (behind your TLS proxy)",
            push.join(", ")
        ))),
        (Some(_), true, _) => Err(Error::Config(
            "--listen serves realms with source = \"push\"; the realms this run connects are polled".into(),
        )),
        _ => Ok(()),
    }
}

/// Starts the push server for the push realms among `realms` (none: no server).
pub(super) async fn start(
    realms: &[&RealmDesc],
    settings: &RunSettings,
    cancel: &CancellationToken,
) -> Result<Option<Arc<PushHub>>> {
    let Some(push) = settings.push.clone() else {
        return Ok(None);
    };
    let (mut routes, mut inboxes) = (Vec::new(), HashMap::new());
    for realm in realms.iter().filter(|r| r.push) {
        let file = ConfigFile::for_realm(&settings.config_file, realm.id);
        let token = token(realm, file.map(|p| p.as_path()))?;
        let (tx, rx) = mpsc::channel(INBOX);
        let route = Route::new(realm.id, &token, tx);
        if let Some(twin) = routes.iter().find(|r: &&Route| r.same_token(&route)) {
            return Err(Error::Config(format!(
                "realms {} and {} have the same outgoing-webhook token: each push realm needs its own bot (give each a `token_env`)",
                twin.realm, realm.id
            )));
        }
        routes.push(route);
        inboxes.insert(realm.id, rx);
    }
    let answers = Arc::new(Answers::default());
    crate::push::server::serve(push, routes, answers.clone(), cancel.clone()).await?;
    Ok(Some(Arc::new(PushHub {
        answers,
        inboxes: Mutex::new(inboxes),
    })))
}

/// Realm `realm`'s outgoing-webhook token: its `token_env` (`ZULIP_WEBHOOK_TOKEN`),
/// else the `token` of its zuliprc. Never compiled in, never logged.
fn token(realm: &RealmDesc, config_file: Option<&Path>) -> Result<Secret> {
    let var = realm.token_env.unwrap_or(TOKEN_ENV);
    if let Some(t) = std::env::var(var).ok().filter(|t| !t.trim().is_empty()) {
        return Ok(Secret::new(t.trim()));
    }
    let config = realm_config(realm, config_file.map(Path::to_path_buf).as_ref()).ok();
    match config.and_then(|c| c.webhook_token) {
        Some(t) if !t.expose().trim().is_empty() => Ok(Secret::new(t.expose().trim())),
        _ => Err(Error::Config(format!(
            "realm {} takes pushes, and needs its outgoing-webhook bot's token to check them: set ${var}, or `token=` in the bot's zuliprc (Zulip shows it with the bot, under Personal settings > Bots)",
            realm.id
        ))),
    }
}

/// The source of push realm `realm` that said hello `h`: the hub's inbox for it.
pub(super) fn connected(
    p: &'static PipelineDesc,
    realm: &RealmDesc,
    key: &str,
    (store, hub): (&Store, &PushHub),
    h: Hello,
    sweep_every: std::time::Duration,
) -> Result<Connected> {
    let inbox = hub
        .inbox(realm.id)
        .ok_or_else(|| Error::Config(format!("realm {}: its push inbox was taken", realm.id)))?;
    let opts = PushOptions {
        pipeline: p.name,
        realm: realm.id,
        connection: format!("{key}/push"),
        own_user_id: h.own_user_id,
        owner: crate::store::effects::this_process().to_owned(),
        sweep_every,
    };
    let source = PushSource::new(
        inbox,
        h.client.clone(),
        store.clone(),
        hub.answers.clone(),
        opts,
    );
    Ok(Connected {
        source: Source::Push(Box::new(source)),
        zulip: ZulipSink::Live(h.client),
        realm: h.realm,
        own_user_id: h.own_user_id,
        bots: h.bots,
    })
}
