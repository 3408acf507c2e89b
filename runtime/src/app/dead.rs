//! `NAME dead-letters list|replay|drop`: the events whose actions failed for good.
//!
//! A replay runs the listener's actions again on the stored event (not its filters),
//! connected to the realm it came from. Side effects the first attempt did are not done
//! twice (they are claimed like any other); a letter that succeeds leaves the list, one
//! that fails again keeps its place with the new error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::cli::{DeadCmd, DeadListArgs, DeadPickArgs};
use super::connection::hello;
use super::manage::{listener, open_store};
use super::realms::ConfigFile;
use crate::error::{Error, Result};
use crate::jobs::Executor;
use crate::jobs::actions::Effects;
use crate::jobs::dispatch::Job;
use crate::jobs::engine::Code;
use crate::jobs::outbox::{HttpSink, ZulipSink};
use crate::pipeline::PipelineDesc;
use crate::store::Store;
use crate::store::log::DeadLetterRow;

pub(super) async fn run(p: &'static PipelineDesc, code: Code, cmd: DeadCmd) -> Result<()> {
    match cmd {
        DeadCmd::List(a) => list(p, a).await,
        DeadCmd::Replay(a) => replay(p, code, a).await,
        DeadCmd::Drop(a) => drop(p, a).await,
    }
}

async fn list(p: &'static PipelineDesc, a: DeadListArgs) -> Result<()> {
    if let Some(l) = &a.listener {
        listener(p, l)?;
    }
    let store = open_store(p, a.store.as_deref()).await?;
    let letters = store
        .dead_letter_rows(p.name, a.listener.as_deref(), &[])
        .await?;
    if a.json {
        for d in &letters {
            let event: serde_json::Value =
                serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null);
            println!(
                "{}",
                serde_json::json!({
                    "id": d.id, "listener": d.listener, "realm": d.realm_id, "kind": d.kind,
                    "event_id": d.event_id, "message_id": d.message_id, "error": d.error,
                    "at": d.at, "truncated": d.truncated, "event": event,
                })
            );
        }
        return Ok(());
    }
    if letters.is_empty() {
        println!("no dead letters");
        return Ok(());
    }
    for d in &letters {
        let what = match (d.message_id, d.event_id) {
            (Some(m), _) => format!("message {m}"),
            (None, Some(e)) => format!("{} event {e}", d.kind),
            (None, None) => format!("{} event", d.kind),
        };
        let error = crate::logging::escape(d.error.lines().next().unwrap_or(""));
        println!(
            "#{}  {}  realm {}  {}  {what}: {error}",
            d.id,
            crate::logging::utc(d.at),
            d.realm_id,
            d.listener
        );
    }
    println!(
        "{} dead letter{}",
        letters.len(),
        if letters.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

async fn picked(
    p: &'static PipelineDesc,
    a: &DeadPickArgs,
    store: &crate::store::Store,
) -> Result<Vec<DeadLetterRow>> {
    if let Some(l) = &a.listener {
        listener(p, l)?;
    }
    let letters = store
        .dead_letter_rows(p.name, a.listener.as_deref(), &a.ids)
        .await?;
    let missing: Vec<String> = a
        .ids
        .iter()
        .filter(|id| !letters.iter().any(|d| d.id == **id))
        .map(|id| format!("#{id}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "no dead letter {} (see `{} dead-letters list`)",
            missing.join(", "),
            p.name
        )));
    }
    Ok(letters)
}

async fn drop(p: &'static PipelineDesc, a: DeadPickArgs) -> Result<()> {
    let store = open_store(p, a.store.as_deref()).await?;
    let letters = picked(p, &a, &store).await?;
    for d in &letters {
        store.remove_dead_letter(p.name, d.id).await?;
    }
    println!(
        "dropped {} dead letter{}",
        letters.len(),
        if letters.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

async fn replay(p: &'static PipelineDesc, code: Code, a: DeadPickArgs) -> Result<()> {
    let store = open_store(p, a.store.as_deref()).await?;
    let letters = picked(p, &a, &store).await?;
    let settings = store.listener_settings(p.name).await?;
    let cancel = CancellationToken::new();
    crate::shutdown::cancel_on_signal(cancel.clone());
    let mut by_realm: BTreeMap<i64, Vec<DeadLetterRow>> = BTreeMap::new();
    for d in letters {
        by_realm.entry(d.realm_id).or_default().push(d);
    }
    let (mut replayed, mut failed) = (0usize, 0usize);
    for (realm_id, letters) in by_realm {
        let Some(realm) = p.realms.iter().find(|r| i64::from(r.id) == realm_id) else {
            println!(
                "realm {realm_id} is no longer in this pipeline: {} dead letters left as they are",
                letters.len()
            );
            failed += letters.len();
            continue;
        };
        let config_file = ConfigFile::for_realm(&a.config_file, realm.id);
        let Some(h) = hello(realm, config_file.map(PathBuf::as_path), &cancel).await? else {
            return Ok(());
        };
        let executor = Arc::new(live_executor(p, code, h, &store, &settings)?);
        for d in letters {
            if replay_one(p, &store, &executor, &d).await? {
                replayed += 1;
            } else {
                failed += 1;
            }
        }
    }
    println!("{replayed} replayed, {failed} still dead");
    if failed > 0 {
        return Err(Error::Config(format!(
            "{failed} dead letter{} still dead",
            if failed == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

/// An executor that posts through the connection `h` said hello on, outside a
/// connection's loop: dead-letter replays, schedules' ticks.
pub(super) fn live_executor(
    p: &'static PipelineDesc,
    code: Code,
    h: super::connection::Hello,
    store: &Store,
    settings: &std::collections::HashMap<String, Vec<(String, String)>>,
) -> Result<Executor> {
    let effects = Effects::new(
        p.name,
        ZulipSink::Live(h.client),
        HttpSink::Live,
        Some(store.clone()),
        h.realm,
        h.own_user_id,
    );
    Executor::new(p, code.handlers, effects, settings)
}

/// Runs dead letter `d` again with `executor`: `Ok(true)` when it succeeded (and is
/// gone from the store), `Ok(false)` when it failed again or cannot run.
async fn replay_one(
    p: &'static PipelineDesc,
    store: &Store,
    executor: &Executor,
    d: &DeadLetterRow,
) -> Result<bool> {
    let Some(i) = p.listeners.iter().position(|l| l.name == d.listener) else {
        println!(
            "#{}: listener `{}` is no longer in this pipeline; left as it is",
            d.id, d.listener
        );
        return Ok(false);
    };
    if d.truncated {
        println!(
            "#{}: its event was stored cut (too large); it cannot be replayed",
            d.id
        );
        return Ok(false);
    }
    let job = Job {
        listener: i,
        json: d.payload.clone(),
        event_id: d.event_id,
        message_id: d.message_id,
        key: d
            .event_key
            .clone()
            .unwrap_or_else(|| crate::jobs::dispatch::event_key(d.message_id, None, d.event_id)),
        conversation: None,
    };
    match executor.run_job(&job).await {
        Ok(_) => {
            store.remove_dead_letter(p.name, d.id).await?;
            println!("#{}: replayed", d.id);
            Ok(true)
        }
        Err(e) => {
            store.dead_letter_failed_again(p.name, d.id, &e).await?;
            println!("#{}: failed again: {}", d.id, crate::logging::escape(&e));
            Ok(false)
        }
    }
}
