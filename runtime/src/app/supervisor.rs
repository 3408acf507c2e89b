//! `NAME run`: opens the store, announces this process as a live owner of side-effect
//! claims (a heartbeat, with the build it runs), starts one task per realm connection,
//! tells a supervisor how it stands ([`super::notify`]), stops everything on a signal
//! or the first fatal error, and reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::cli::RunArgs;
use super::connection::{self, Connection, RunSettings, connection_key};
use super::fleet::{Fleet, HEARTBEAT, Held};
use super::live;
use super::manage::open_store;
use super::notify::Readiness;
use super::realms::pick_realms;
use super::report::Recorder;
use super::report::{RunFigures, report};
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
    for name in &args.listeners {
        super::manage::listener(p, name)?;
    }
    let only = (!args.listeners.is_empty()).then_some(args.listeners.as_slice());
    let realms = pick_realms(p, args.realm)?;
    // What every connection will need, checked before any of them starts.
    crate::jobs::webhook_tokens(p, false)?;
    if args.replay.is_some() && realms.len() > 1 {
        return Err(Error::Config(
            "--replay plays one realm: choose it with --realm".into(),
        ));
    }
    // The build id is read from the executable while the store opens.
    let build = args
        .replay
        .is_none()
        .then(|| tokio::spawn(super::build::this_build()));
    let store = open_store(p, args.store.as_deref()).await?;
    let build = match build {
        Some(task) => task
            .await
            .map_err(|e| Error::Config(format!("reading this executable failed: {e}")))??,
        None => String::new(),
    };
    let rank = if build.is_empty() {
        0
    } else {
        store.register_build(p.name, &build).await?
    };
    let cancel = CancellationToken::new();
    crate::shutdown::cancel_on_signal(cancel.clone());
    let live = live::watch(
        store.clone(),
        p,
        live::load(&store, p).await?,
        cancel.clone(),
    );
    let metrics = match args.metrics {
        Some(addr) => Some(
            crate::metrics::serve(p, addr, store.clone(), cancel.clone())
                .await?
                .1,
        ),
        None => None,
    };
    let recorder = Arc::new(Recorder::new(metrics.clone()));
    let owner = crate::store::effects::this_process();
    store.owner_heartbeat(owner, p.name, &build).await?;
    if !build.is_empty() {
        tracing::info!(build = %build, "starting");
    }
    let heartbeat = {
        let (store, stop, build) = (store.clone(), cancel.clone(), build.clone());
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
    };

    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let realms: Vec<_> = realms
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
        .collect();
    // A replay is this process's alone; a live connection is polled by one process of
    // the fleet at a time.
    let fleet = args.replay.is_none().then(|| {
        Fleet::new(
            store.clone(),
            p,
            owner,
            (build.clone(), rank),
            Duration::from_secs(args.lease_ttl),
            realms.len(),
        )
    });
    let readiness = Arc::new(Readiness::from_env(realms.len()));
    let stopping = {
        let (readiness, cancel) = (readiness.clone(), cancel.clone());
        tokio::spawn(async move {
            cancel.cancelled().await;
            readiness.stopping();
        })
    };
    let settings = Arc::new(RunSettings::of(&args));
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
        }
        .into_future();
        tasks.spawn(task);
    }
    let mut first_error = None;
    while let Some(done) = tasks.join_next().await {
        let result =
            done.unwrap_or_else(|e| Err(Error::Config(format!("a connection task failed: {e}"))));
        if let Err(e) = result {
            tracing::error!(error = %e, "connection stopped");
            first_error.get_or_insert(e);
            cancel.cancel();
        }
    }
    let elapsed = started.elapsed();
    cancel.cancel();
    let _ = heartbeat.await;
    let _ = stopping.await;
    if let Err(e) = store.owner_gone(owner).await {
        tracing::debug!(error = %e, "could not sign off");
    }
    store.close().await;

    let t = recorder.totals();
    let (totals, events, malformed) = (t.counters, t.events, t.malformed);
    report(
        p,
        &totals,
        RunFigures {
            events,
            malformed,
            seconds: elapsed.as_secs_f64(),
        },
        args.summary_json,
        log_format,
    );
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
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
}

impl RealmTask {
    /// The task, owning what it needs.
    fn into_future(self) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let RealmTask {
            p,
            code,
            realm,
            index,
            readiness,
            settings,
            metrics,
            live,
            store,
            recorder,
            cancel,
            fleet,
        } = self;
        async move {
            let (replay, config_file) =
                (settings.replay.as_deref(), settings.config_file.as_deref());
            let only = settings.only.as_deref();
            let id = realm.id;
            let key = connection_key(p, id, only);
            loop {
                // Hello first, so that a standby is ready to poll the moment the lease
                // is its (a handover's gap is only the lease's), then the lease.
                let mut hello = match &replay {
                    Some(_) => None,
                    None => match connection::hello(realm, config_file, &cancel).await? {
                        Some(h) => Some((h, Instant::now())),
                        None => return Ok(()),
                    },
                };
                readiness.prepared(index);
                let held: Option<Held> = match &fleet {
                    Some(fleet) => match fleet.acquire(&key, &cancel).await? {
                        Some(h) => Some(h),
                        None => return Ok(()),
                    },
                    None => None,
                };
                let (stop, lost) = match &held {
                    Some(h) => (h.stop.clone(), h.lost.clone()),
                    None => (cancel.clone(), CancellationToken::new()),
                };
                let conn = Connection {
                    p,
                    code,
                    realm_id: id,
                    settings: settings.clone(),
                    live: live.clone(),
                    store: store.clone(),
                    recorder: recorder.clone(),
                    cancel: stop.clone(),
                    lost: lost.clone(),
                    shutdown: cancel.clone(),
                    metrics: metrics.clone(),
                };
                if let (Some(m), None) = (&metrics, &replay) {
                    m.queue_state(&key, QueueState::Connecting);
                }
                // A hello older than a standby may wait learned a bot list that may
                // have changed: say it again.
                if hello
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() > STALE_HELLO)
                {
                    hello = connection::hello(realm, config_file, &stop)
                        .await?
                        .map(|h| (h, Instant::now()));
                }
                let connected = match (&replay, hello) {
                    (Some(path), _) => Some(connection::replay(realm, path)),
                    (None, Some((h, _))) => {
                        let (signal, mut polling) = tokio::sync::watch::channel(false);
                        let readiness = readiness.clone();
                        // Follows the queue's state until the source is dropped.
                        tokio::spawn(async move {
                            while polling.changed().await.is_ok() {
                                let on = *polling.borrow_and_update();
                                readiness.polling(index, on);
                            }
                            readiness.polling(index, false);
                        });
                        let report = state_report(key.clone(), signal, metrics.clone());
                        Some(Ok(connection::queue(
                            p,
                            realm,
                            only,
                            key.clone(),
                            &store,
                            h,
                            report,
                        )))
                    }
                    (None, None) => None,
                };
                let result = match connected {
                    Some(Ok(c)) => conn.run(c).await,
                    Some(Err(e)) => Err(e),
                    None => Ok(()),
                };
                if let Some(m) = &metrics {
                    m.connection_closed(&key);
                }
                let handed_over = held.as_ref().is_some_and(Held::handed_over);
                if let (Some(fleet), Some(h)) = (&fleet, held) {
                    fleet.finish(h).await;
                }
                match result {
                    _ if cancel.is_cancelled() => return Ok(()),
                    Err(Error::LeaseLost { .. }) => {}
                    Ok(()) if lost.is_cancelled() || handed_over => {}
                    Ok(()) => return Ok(()),
                    Err(e) if lost.is_cancelled() => {
                        tracing::debug!(error = %e, "after the lease was lost");
                    }
                    Err(e) => return Err(Error::Config(format!("realm {id}: {e}"))),
                }
                if handed_over {
                    // Leave it to the others for a while.
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                    }
                }
            }
        }
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
