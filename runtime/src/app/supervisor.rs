//! `NAME run`: opens the store, announces this process as a live owner of side-effect
//! claims (a heartbeat), starts one task per realm connection, stops everything on a
//! signal or the first fatal error, and reports.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::RunArgs;
use super::connection::{self, Connection};
use super::live;
use super::manage::open_store;
use super::realms::pick_realms;
use super::report::{RunFigures, report};
use crate::dispatch::{DispatchFn, eligible_for};
use crate::error::{Error, Result};
use crate::pipeline::PipelineDesc;
use crate::stats::Recorder;

/// How often this process tells the store it lives.
const HEARTBEAT: Duration = Duration::from_secs(5);

pub(super) async fn run(
    p: &'static PipelineDesc,
    dispatch: DispatchFn,
    args: RunArgs,
    log_format: crate::logging::LogFormat,
) -> Result<()> {
    for name in &args.listeners {
        super::manage::listener(p, name)?;
    }
    let only = (!args.listeners.is_empty()).then_some(args.listeners.as_slice());
    let realms = pick_realms(p, args.realm)?;
    if args.replay.is_some() && realms.len() > 1 {
        return Err(Error::Config(
            "--replay plays one realm: choose it with --realm".into(),
        ));
    }
    let store = open_store(p, args.store.as_deref()).await?;
    let cancel = CancellationToken::new();
    crate::shutdown::cancel_on_signal(cancel.clone());
    let live = live::watch(
        store.clone(),
        p,
        live::load(&store, p).await?,
        cancel.clone(),
    );
    let recorder = Arc::new(Recorder::new());
    let owner = crate::store::effects::this_process();
    store.owner_heartbeat(owner, p.name).await?;
    let heartbeat = {
        let (store, stop) = (store.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                }
                if let Err(e) = store.owner_heartbeat(owner, p.name).await {
                    tracing::debug!(error = %e, "heartbeat not written");
                }
            }
        })
    };

    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for realm in realms {
        if !eligible_for(p, realm.id, only).iter().any(|e| *e) {
            tracing::warn!(
                realm = realm.id,
                "no listener runs on this realm; not connecting"
            );
            continue;
        }
        let conn = Connection {
            p,
            dispatch,
            realm_id: realm.id,
            only: only.map(<[String]>::to_vec),
            live: live.clone(),
            store: store.clone(),
            recorder: recorder.clone(),
            cancel: cancel.clone(),
            max_in_flight: args.max_in_flight as usize,
            drain_timeout: Duration::from_secs(args.drain_timeout),
            write_every: Duration::from_secs(args.stats_interval.max(1)),
        };
        let replay = args.replay.clone();
        let config_file = args.config_file.clone();
        let id = realm.id;
        tasks.spawn(async move {
            let connected = match &replay {
                Some(path) => Some(connection::replay(realm, path)),
                None => {
                    connection::connect(p, realm, &conn.store, config_file.as_deref(), &conn.cancel)
                        .await
                        .transpose()
                }
            };
            let result = match connected {
                Some(Ok(c)) => conn.run(c).await,
                Some(Err(e)) => Err(e),
                None => Ok(()),
            };
            result.map_err(|e| Error::Config(format!("realm {id}: {e}")))
        });
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
