//! `NAME run`: opens the store, announces this process as a live owner of side-effect
//! claims (a heartbeat, with the build it runs), starts one task per realm connection,
//! tells a supervisor how it stands ([`super::notify`]), stops everything on a signal
//! or the first fatal error, and reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::cli::RunArgs;
use super::connection::{self, Connection, connection_key};
use super::fleet::{Fleet, HEARTBEAT, Held};
use super::live;
use super::manage::open_store;
use super::notify::Readiness;
use super::realms::pick_realms;
use super::report::Recorder;
use super::report::{RunFigures, report};
use super::settings::RunSettings;
use crate::error::{Error, Result};
use crate::jobs::dispatch::eligible_for;
use crate::jobs::engine::Code;
use crate::metrics::Metrics;
use crate::pipeline::{PipelineDesc, RealmDesc};
use crate::source::{QueueState, StateReport};

/// How old a standby's hello may be when it takes a connection over.
const STALE_HELLO: Duration = Duration::from_secs(600);

pub(super) async fn run(
    p: &'static PipelineDesc,
    code: Code,
    args: RunArgs,
    log_format: crate::logging::LogFormat,
) -> Result<()> {
    let realms = check_start(p, &args)?;
    let owner = crate::store::effects::this_process();
    let (store, build, rank) = open(p, &args, owner).await?;
    let cancel = CancellationToken::new();
    crate::shutdown::cancel_on_signal(cancel.clone());
    let live = live::watch(
        store.clone(),
        p,
        live::load(&store, p).await?,
        cancel.clone(),
    );
    let metrics = serve_metrics(p, &args, &store, &cancel).await?;
    let recorder = Arc::new(Recorder::new(metrics.clone()));
    let heartbeat = heartbeat(&store, &cancel, p, owner, build.clone());
    let started = std::time::Instant::now();
    let settings = Arc::new(RunSettings::of(&args));
    let realms = connected_realms(p, realms, settings.only.as_deref());
    super::push::check(&realms, &settings)?;
    let push = super::push::start(&realms, &settings, &cancel).await?;
    let polled = realms.iter().filter(|r| !r.push).count();
    // A replay is this process's alone; a live connection is polled by one process of
    // the fleet at a time (every process takes the pushes it is sent).
    let fleet = (args.replay.is_none() && polled > 0).then(|| {
        Fleet::new(
            store.clone(),
            p,
            owner,
            (build, rank),
            Duration::from_secs(args.lease_ttl),
            polled,
        )
    });
    let readiness = Arc::new(Readiness::from_env(realms.len()));
    let stopping = tokio::spawn({
        let (readiness, cancel) = (readiness.clone(), cancel.clone());
        async move {
            cancel.cancelled().await;
            readiness.stopping();
        }
    });
    let mut tasks = tokio::task::JoinSet::new();
    spawn_schedules(p, code, &args, &store, &cancel, &mut tasks);
    for (index, realm) in realms.into_iter().enumerate() {
        let task = RealmTask {
            p,
            code,
            realm,
            index,
            readiness: readiness.clone(),
            settings: settings.clone(),
            metrics: metrics.clone(),
            live: live.clone(),
            store: store.clone(),
            recorder: recorder.clone(),
            cancel: cancel.clone(),
            fleet: fleet.clone(),
            push: push.clone(),
        };
        tasks.spawn(task.run());
    }
    let first_error = first_error(tasks, &cancel).await;
    let elapsed = started.elapsed();
    cancel.cancel();
    let _ = (heartbeat.await, stopping.await);
    sign_off(store, owner).await;

    end_report(
        p,
        &recorder,
        elapsed,
        first_error.is_some(),
        &args,
        log_format,
    );
    first_error.map_or(Ok(()), Err)
}

/// A task per realm that the pipeline's schedules post to (none in a replay: a replay
/// plays recorded events, and the clock is not recorded).
fn spawn_schedules(
    p: &'static PipelineDesc,
    code: Code,
    args: &RunArgs,
    store: &crate::store::Store,
    cancel: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<Result<()>>,
) {
    if p.schedules.is_empty() {
        return;
    }
    if args.replay.is_some() {
        tracing::info!("schedules do not tick in a replay");
        return;
    }
    let only = (!args.listeners.is_empty()).then(|| args.listeners.clone());
    for realm in p.realms {
        let on = super::schedules::schedules_on(p, realm.id, only.as_deref());
        if args.realm.is_some_and(|r| r != realm.id) || !on.contains(&true) {
            continue;
        }
        let (store, files) = (store.clone(), args.config_file.clone());
        let (only, cancel) = (only.clone(), cancel.clone());
        tasks.spawn(async move {
            super::schedules::run(p, code, realm, (store, &files), only, cancel).await
        });
    }
}

/// The end-of-run report. A run that failed before any event has no totals worth a
/// table: its error, printed once by `main`, says all (JSON on request still comes).
fn end_report(
    p: &PipelineDesc,
    recorder: &Recorder,
    elapsed: Duration,
    failed: bool,
    args: &RunArgs,
    log_format: crate::logging::LogFormat,
) {
    let t = recorder.totals();
    if failed && t.events == 0 && !args.summary_json {
        return;
    }
    let figures = RunFigures {
        events: t.events,
        malformed: t.malformed,
        seconds: elapsed.as_secs_f64(),
    };
    report(p, &t.counters, figures, args.summary_json, log_format);
}

/// What every connection will need, checked before any of them starts: the listeners
/// named, the realms, the webhook tokens. Returns the realms.
fn check_start(p: &'static PipelineDesc, args: &RunArgs) -> Result<Vec<&'static RealmDesc>> {
    for name in &args.listeners {
        super::manage::listener(p, name)?;
    }
    let realms = pick_realms(p, args.realm)?;
    super::realms::ConfigFile::check(&args.config_file, p)?;
    crate::jobs::webhook_tokens(p, false)?;
    if args.replay.is_some() && realms.len() > 1 {
        return Err(Error::Config(
            "--replay plays one realm: choose it with --realm".into(),
        ));
    }
    Ok(realms)
}

/// Opens the store and says who this process (`owner`) is: its build (read from the
/// executable while the store opens; none for a replay), that build's rank, and a first
/// heartbeat.
async fn open(
    p: &'static PipelineDesc,
    args: &RunArgs,
    owner: &str,
) -> Result<(crate::store::Store, String, i64)> {
    let build = args
        .replay
        .is_none()
        .then(|| tokio::spawn(super::build::this_build()));
    let store = open_store(p, args.store.as_deref()).await?;
    let (build, rank) = register_build(p, &store, build).await?;
    store.owner_heartbeat(owner, p.name, &build).await?;
    if !build.is_empty() {
        tracing::info!(build = %build, "starting");
    }
    Ok((store, build, rank))
}

/// The metrics, served when `--metrics` asks.
async fn serve_metrics(
    p: &'static PipelineDesc,
    args: &RunArgs,
    store: &crate::store::Store,
    cancel: &CancellationToken,
) -> Result<Option<Arc<Metrics>>> {
    Ok(match args.metrics {
        Some(addr) => Some(
            crate::metrics::serve(p, addr, store.clone(), cancel.clone())
                .await?
                .1,
        ),
        None => None,
    })
}

/// This process's build (read by `task`, none for a replay) and its rank among the
/// pipeline's builds in the store.
async fn register_build(
    p: &PipelineDesc,
    store: &crate::store::Store,
    task: Option<tokio::task::JoinHandle<Result<String>>>,
) -> Result<(String, i64)> {
    let build = match task {
        Some(task) => task
            .await
            .map_err(|e| Error::Config(format!("reading this executable failed: {e}")))??,
        None => return Ok((String::new(), 0)),
    };
    let rank = if build.is_empty() {
        0
    } else {
        store.register_build(p.name, &build).await?
    };
    Ok((build, rank))
}

/// Says every [`HEARTBEAT`] that this process lives, until `stop`.
fn heartbeat(
    store: &crate::store::Store,
    stop: &CancellationToken,
    p: &'static PipelineDesc,
    owner: &'static str,
    build: String,
) -> tokio::task::JoinHandle<()> {
    let (store, stop) = (store.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(HEARTBEAT) => {}
            }
            if let Err(e) = store.owner_heartbeat(owner, p.name, &build).await {
                tracing::debug!(error = %e, "heartbeat not written");
            }
        }
    })
}

/// Says this process is gone (its claims are free at once) and closes the store.
async fn sign_off(store: crate::store::Store, owner: &str) {
    if let Err(e) = store.owner_gone(owner).await {
        tracing::debug!(error = %e, "could not sign off");
    }
    store.close().await;
}

/// The realms some listener runs on (with a warning for each other one).
fn connected_realms(
    p: &'static PipelineDesc,
    realms: Vec<&'static RealmDesc>,
    only: Option<&[String]>,
) -> Vec<&'static RealmDesc> {
    realms
        .into_iter()
        .filter(|realm| {
            let any = eligible_for(p, realm.id, only).iter().any(|e| *e);
            if !any {
                tracing::warn!(
                    realm = realm.id,
                    "no listener runs on this realm; not connecting"
                );
            }
            any
        })
        .collect()
}

/// Waits for every connection; the first to fail stops the others, and its error is
/// the run's.
async fn first_error(
    mut tasks: tokio::task::JoinSet<Result<()>>,
    cancel: &CancellationToken,
) -> Option<Error> {
    let mut first = None;
    while let Some(done) = tasks.join_next().await {
        let result =
            done.unwrap_or_else(|e| Err(Error::Config(format!("a connection task failed: {e}"))));
        if let Err(e) = result {
            // The first error is the run's, which `main` prints; later ones only here.
            match &first {
                None => first = Some(e),
                Some(_) => tracing::error!(error = %e, "connection stopped"),
            }
            cancel.cancel();
        }
    }
    first
}

/// One realm connection of `NAME run`: (with a fleet) wait for its lease, connect, run
/// until shutdown, the lease lost or handed over, and then (unless shutting down) wait
/// for the lease again.
struct RealmTask {
    p: &'static PipelineDesc,
    code: Code,
    realm: &'static RealmDesc,
    /// Its number among this process's connections.
    index: usize,
    readiness: Arc<Readiness>,
    settings: Arc<RunSettings>,
    metrics: Option<Arc<Metrics>>,
    live: tokio::sync::watch::Receiver<Arc<live::LiveConfig>>,
    store: crate::store::Store,
    recorder: Arc<Recorder>,
    cancel: CancellationToken,
    fleet: Option<Arc<Fleet>>,
    /// The push server's side, when this run serves one.
    push: Option<Arc<super::push::PushHub>>,
}

/// What a connection's turn ended with.
enum After {
    /// Stop this connection.
    Stop,
    /// Wait for the lease again (lost, or handed over: then after a pause).
    Again { handed_over: bool },
}

impl RealmTask {
    /// Runs the connection, turn after turn, until it stops.
    async fn run(self) -> Result<()> {
        let key = connection_key(self.p, self.realm.id, self.settings.only.as_deref());
        loop {
            match self.turn(&key).await? {
                After::Stop => return Ok(()),
                After::Again { handed_over: false } => {}
                After::Again { handed_over: true } => {
                    // Leave it to the others for a while.
                    tokio::select! {
                        _ = self.cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                    }
                }
            }
        }
    }

    /// One turn: hello, the lease (with a fleet), the connection until it ends.
    async fn turn(&self, key: &str) -> Result<After> {
        let replay = self.settings.replay.as_deref();
        let config_file =
            super::realms::ConfigFile::for_realm(&self.settings.config_file, self.realm.id)
                .map(PathBuf::as_path);
        // Hello first, so that a standby is ready to poll the moment the lease is its
        // (a handover's gap is only the lease's), then the lease.
        let mut hello = match replay {
            Some(_) => None,
            None => match connection::hello(self.realm, config_file, &self.cancel).await? {
                Some(h) => Some((h, Instant::now())),
                None => return Ok(After::Stop),
            },
        };
        self.readiness.prepared(self.index);
        let held: Option<Held> = match self.fleet.as_ref().filter(|_| !self.realm.push) {
            Some(fleet) => match fleet.acquire(key, &self.cancel).await? {
                Some(h) => Some(h),
                None => return Ok(After::Stop),
            },
            None => None,
        };
        let (stop, lost) = match &held {
            Some(h) => (h.stop.clone(), h.lost.clone()),
            None => (self.cancel.clone(), CancellationToken::new()),
        };
        if let (Some(m), None) = (&self.metrics, replay) {
            m.queue_state(key, QueueState::Connecting);
        }
        // A hello older than a standby may wait learned a bot list that may have
        // changed: say it again.
        if hello
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() > STALE_HELLO)
        {
            hello = connection::hello(self.realm, config_file, &stop)
                .await?
                .map(|h| (h, Instant::now()));
        }
        let result = self
            .connect(key, hello.map(|(h, _)| h), stop, lost.clone())
            .await;
        if let Some(m) = &self.metrics {
            m.connection_closed(key);
        }
        let handed_over = held.as_ref().is_some_and(Held::handed_over);
        if let (Some(fleet), Some(h)) = (&self.fleet, held) {
            fleet.finish(h).await;
        }
        let again = After::Again { handed_over };
        match result {
            _ if self.cancel.is_cancelled() => Ok(After::Stop),
            Err(Error::LeaseLost { .. }) => Ok(again),
            Ok(()) if lost.is_cancelled() || handed_over => Ok(again),
            Ok(()) => Ok(After::Stop),
            Err(e) if lost.is_cancelled() => {
                tracing::debug!(error = %e, "after the lease was lost");
                Ok(again)
            }
            Err(e) => Err(Error::Config(format!("realm {}: {e}", self.realm.id))),
        }
    }

    /// Connects (the replay file, or the queue `hello` opened) and runs the connection
    /// until `stop`, or until the lease is `lost`.
    async fn connect(
        &self,
        key: &str,
        hello: Option<connection::Hello>,
        stop: CancellationToken,
        lost: CancellationToken,
    ) -> Result<()> {
        let conn = Connection {
            p: self.p,
            code: self.code,
            realm_id: self.realm.id,
            settings: self.settings.clone(),
            live: self.live.clone(),
            store: self.store.clone(),
            recorder: self.recorder.clone(),
            cancel: stop,
            lost,
            shutdown: self.cancel.clone(),
            metrics: self.metrics.clone(),
            answers: self
                .push
                .as_ref()
                .filter(|_| self.realm.push && self.settings.replay.is_none())
                .map(|hub| hub.answers.clone()),
        };
        let connected = match (self.settings.replay.as_deref(), hello, &self.push) {
            (Some(path), ..) => connection::replay(self.realm, path)?,
            (None, Some(h), Some(hub)) if self.realm.push => {
                self.readiness.polling(self.index, true);
                let sweep = self.settings.push_sweep;
                super::push::connected(self.p, self.realm, key, (&self.store, hub), h, sweep)?
            }
            (None, Some(h), _) => {
                let (signal, mut polling) = tokio::sync::watch::channel(false);
                let (readiness, index) = (self.readiness.clone(), self.index);
                // Follows the queue's state until the source is dropped.
                tokio::spawn(async move {
                    while polling.changed().await.is_ok() {
                        let on = *polling.borrow_and_update();
                        readiness.polling(index, on);
                    }
                    readiness.polling(index, false);
                });
                let report = state_report(key.to_owned(), signal, self.metrics.clone());
                let only = self.settings.only.as_deref();
                let store = &self.store;
                connection::queue(self.p, self.realm, only, key.to_owned(), store, h, report)
            }
            (None, None, _) => return Ok(()),
        };
        let mut connected = connected;
        connected.realm.conversations = self.conversations().await?;
        if let crate::jobs::outbox::ZulipSink::Live(client) = &connected.zulip {
            self.groups(client.clone(), connected.realm.groups.clone())
                .await;
        }
        conn.run(connected).await
    }
}

impl RealmTask {
    /// The organization's user groups, when a command is for some groups only (a bot
    /// that may not list them knows none: such a command then refuses everyone).
    async fn groups(&self, client: crate::client::Client, groups: crate::people::Groups) {
        if !self.p.commands.by_group {
            return;
        }
        match client.user_groups().await {
            Ok(list) => groups.set_all(&list),
            Err(e) => {
                tracing::warn!(realm = self.realm.id, error = %e, "cannot list the organization's user groups; commands for some groups refuse everyone")
            }
        }
    }

    /// The realm's conversations: from the store for a live connection (of a pipeline
    /// with conversations), in memory for a replay.
    async fn conversations(&self) -> Result<crate::conversation::Conversations> {
        let (p, timeout) = (self.p, self.p.conversation_timeout);
        let converses = p.listeners.iter().any(|l| l.conversation.takes_part());
        if !converses || self.settings.replay.is_some() {
            return Ok(crate::conversation::Conversations::in_memory(timeout));
        }
        crate::store::conversations::load(&self.store, p.name, self.realm.id, timeout).await
    }
}

/// Where connection `key`'s queue stands goes to the metrics (when served) and, as
/// "polling or not", to `polling` (for the service manager's readiness).
fn state_report(
    key: String,
    polling: tokio::sync::watch::Sender<bool>,
    metrics: Option<Arc<Metrics>>,
) -> StateReport {
    StateReport::new(move |state| {
        if let Some(m) = &metrics {
            m.queue_state(&key, state);
        }
        polling.send_if_modified(|polling| {
            let now = state == QueueState::Polling;
            std::mem::replace(polling, now) != now
        });
    })
}
