//! One realm connection: connecting to Zulip (or opening a replay) gives a [`Connected`]
//! source; [`Connection::run`] then loops over its batches: dispatch, jobs,
//! acknowledgement, statistics.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ledger::AckLedger;
use super::live::LiveConfig;
use super::realms::{explain_refusal, realm_config};
use super::report::Recorder;
use super::settings::RunSettings;
use crate::client::{Client, RegisterRequest};
use crate::clock::now_secs;
use crate::error::Result;
use crate::jobs::actions::Effects;
use crate::jobs::dispatch::{eligible_for, enabled_for};
use crate::jobs::engine::{Code, Engine};
use crate::jobs::outbox::{HttpSink, ZulipSink};
use crate::jobs::{Executor, Finished};
use crate::metrics::Metrics;
use crate::pipeline::{PipelineDesc, RealmDesc};
use crate::retry::{Retry, retrying};
use crate::source::{Batch, QueueOptions, QueueSource, ReplaySource, Source, StateReport};
use crate::store::Store;
use crate::template::RealmInfo;

/// A source of events for one realm, and what performing its listeners' actions needs.
pub(super) struct Connected {
    /// Where the events come from.
    pub(super) source: Source,
    /// Where posts to Zulip go.
    pub(super) zulip: ZulipSink,
    /// The realm, for templates.
    pub(super) realm: RealmInfo,
    /// The bot's user id (-1 in a replay).
    pub(super) own_user_id: i64,
    /// The organization's bots.
    pub(super) bots: HashSet<i64>,
}

/// A replay of `path` as realm `realm`: Zulip posts are logged, not sent.
pub(super) fn replay(realm: &RealmDesc, path: &Path) -> Result<Connected> {
    tracing::info!(realm = realm.id, file = %path.display(), "replaying");
    Ok(Connected {
        source: Source::Replay(ReplaySource::open(path)?),
        zulip: ZulipSink::DryRun,
        realm: RealmInfo {
            id: realm.id,
            name: realm.name.unwrap_or("").to_owned(),
            ..RealmInfo::default()
        },
        own_user_id: -1,
        bots: HashSet::new(),
    })
}

/// A realm connection that answered: its client (and retry state), who the bot is.
pub(super) struct Hello {
    pub(super) client: Client,
    pub(super) retry: Retry,
    pub(super) realm: RealmInfo,
    pub(super) own_user_id: i64,
    pub(super) bots: HashSet<i64>,
}

/// Says hello to realm `realm` (waiting out a restarting server). `None` when cancelled
/// meanwhile.
pub(super) async fn hello(
    realm: &RealmDesc,
    config_file: Option<&Path>,
    cancel: &CancellationToken,
) -> Result<Option<Hello>> {
    let config = realm_config(realm, config_file.map(Path::to_path_buf).as_ref())?;
    let client = Client::new(&config)?;
    // The first requests wait out a restarting or overloaded server with the same
    // policy as the poller, which continues from this state.
    let mut retry = Retry::new(config.site_url());
    let hello = retrying(&mut retry, cancel, || client.hello()).await;
    let Some(info) = hello.map_err(|e| explain_refusal(e, &config))? else {
        return Ok(None);
    };
    tracing::info!(
        realm = realm.id,
        site = config.site_url(),
        bot = %info.me.email,
        zulip = %info.settings.zulip_version,
        feature_level = info.settings.zulip_feature_level,
        "connected"
    );
    let realm_info = RealmInfo {
        id: realm.id,
        name: match realm.name {
            Some(label) if !label.is_empty() => label.to_owned(),
            _ => info.settings.realm_name.clone().unwrap_or_default(),
        },
        site: info
            .settings
            .realm_url()
            .unwrap_or(config.site_url())
            .trim_end_matches('/')
            .to_owned(),
        bot_name: info.me.full_name.clone(),
        bot_id: u64::try_from(info.me.user_id).ok(),
        roles: crate::command::Roles::new(info.roles.iter().copied()),
        ..RealmInfo::default()
    };
    Ok(Some(Hello {
        client,
        retry,
        realm: realm_info,
        own_user_id: info.me.user_id,
        bots: info.bots,
    }))
}

/// The key of a realm connection in the store (checkpoint, lease): `PIPELINE/realm-ID`,
/// and the listeners when only some run (`--listeners`): a process running some of the
/// listeners has a queue of its own.
pub(super) fn connection_key(p: &PipelineDesc, realm_id: u32, only: Option<&[String]>) -> String {
    let mut key = format!("{}/realm-{realm_id}", p.name);
    if let Some(only) = only {
        let mut names: Vec<&str> = only.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        key.push_str("/listeners-");
        key.push_str(&names.join(","));
    }
    key
}

/// The event queue of connection `key` to realm `realm` that said hello `h` (resumed
/// from the store's checkpoint, or registered, at its first poll); it tells `report`
/// where it stands.
pub(super) fn queue(
    p: &'static PipelineDesc,
    realm: &RealmDesc,
    only: Option<&[String]>,
    key: String,
    store: &Store,
    h: Hello,
    report: StateReport,
) -> Connected {
    let register = RegisterRequest {
        event_types: Some(p.event_types_for(&eligible_for(p, realm.id, only))),
        narrow: realm
            .narrow
            .iter()
            .map(|(op, operand)| ((*op).to_owned(), (*operand).to_owned()))
            .collect(),
        all_public_streams: realm.all_public_streams,
        apply_markdown: false,
        client_capabilities: Some(RegisterRequest::capabilities()),
        queue_lifespan_secs: None,
    };
    let opts = QueueOptions {
        connection: key,
        register,
    };
    let q = QueueSource::new(h.client.clone(), Some(store.clone()), opts)
        .with_retry(h.retry)
        .with_state_report(report);
    Connected {
        source: Source::Queue(Box::new(q)),
        zulip: ZulipSink::Live(h.client),
        realm: h.realm,
        own_user_id: h.own_user_id,
        bots: h.bots,
    }
}

/// One realm connection's loop.
pub(super) struct Connection {
    pub(super) p: &'static PipelineDesc,
    pub(super) code: Code,
    /// The realm connection.
    pub(super) realm_id: u32,
    /// The run's settings.
    pub(super) settings: Arc<RunSettings>,
    /// Enable/disable and config values, as they change.
    pub(super) live: watch::Receiver<Arc<LiveConfig>>,
    pub(super) store: Store,
    pub(super) recorder: Arc<Recorder>,
    /// Stops the connection (drained and written): shutdown, or the lease handed over.
    pub(super) cancel: CancellationToken,
    /// Cancelled when another process took the connection over: stop at once, write
    /// nothing more (its events are the new holder's).
    pub(super) lost: CancellationToken,
    /// The whole process's shutdown.
    pub(super) shutdown: CancellationToken,
    /// The metrics, when served (`--metrics`).
    pub(super) metrics: Option<Arc<Metrics>>,
    /// A push realm's answers in HTTP responses.
    pub(super) answers: Option<Arc<crate::push::Answers>>,
}

const DISPATCH_CHUNK: usize = 256; // events dispatched at once, at most

/// How long polling may pause for jobs before one poll keeps the Zulip queue alive (it
/// expires after about ten idle minutes).
const KEEPALIVE: Duration = Duration::from_secs(240);

/// While jobs of events already received run, the next poll waits for one of them to
/// end, or this long (doubling up to [`POLL_WAIT_MAX`] while none ends) to see the
/// events that came meanwhile.
const POLL_WAIT_MIN: Duration = Duration::from_millis(25);
const POLL_WAIT_MAX: Duration = Duration::from_secs(1);

impl Connection {
    /// Runs the listeners over `connected`'s events until the source ends or the run is
    /// cancelled. Polling goes on while jobs run; a batch is acknowledged once all its
    /// jobs have ended (and every batch before it), so the acknowledgement is always
    /// the highest event whose work is done. Acknowledged work (statistics, dead
    /// letters) is written with the checkpoint that passes it, in one transaction, and
    /// only then acknowledged to Zulip. At the bound on jobs in flight, or while the
    /// store cannot be written, polling pauses.
    pub(super) async fn run(self, connected: Connected) -> Result<()> {
        let mut live = self.live.clone();
        let cfg = live.borrow_and_update().clone();
        let (mut source, mut engine) = self.start(connected, &cfg)?;
        let mut ledger = AckLedger::new(self.p.listeners.len(), this_hour(), Instant::now());
        let mut poll_wait = POLL_WAIT_MIN;
        loop {
            self.turn(&mut source, &mut engine, &mut ledger).await;
            if self.cancel.is_cancelled() {
                break;
            }
            if ledger.is_failing() {
                self.wait_for_store(&mut source, &mut engine, &mut ledger)
                    .await;
                continue;
            }
            if engine.is_full(self.settings.max_in_flight)
                && self.wait_for_room(&mut engine, &mut ledger).await
            {
                continue;
            }
            if source.will_poll() && ledger.is_waiting() {
                if self
                    .wait_before_poll(&mut engine, &mut ledger, &mut poll_wait)
                    .await
                {
                    poll_wait = POLL_WAIT_MIN;
                    continue;
                }
                if self.cancel.is_cancelled() {
                    continue;
                }
            }
            let batch = match &mut source {
                // Pushes come whenever they come: jobs that end meanwhile are settled
                // (and their work written) without waiting for the next one.
                Source::Push(push) => tokio::select! {
                    biased;
                    Some(f) = engine.next_finished() => {
                        self.settle(&engine, &mut ledger, f);
                        continue;
                    }
                    wake = push.wake(&self.cancel) => match push.take(wake).await? {
                        // A message handled already, or a sweep that found nothing.
                        None if !self.cancel.is_cancelled() => continue,
                        batch => batch,
                    },
                    _ = tokio::time::sleep(self.settings.write_every), if ledger.oldest().is_some() => continue,
                },
                _ => source.next_batch(&self.cancel).await?,
            };
            let Some(batch) = batch else {
                break;
            };
            // A change made while waiting for events applies to them.
            if live.has_changed().unwrap_or(false) {
                let cfg = live.borrow_and_update().clone();
                self.apply(&mut engine, &cfg);
            }
            self.receive(&batch, &mut source, &mut engine, &mut ledger)
                .await;
        }
        self.drain(&mut source, &mut engine, &mut ledger).await;
        Ok(())
    }

    /// The engine over `connected`'s source, with the listeners `cfg` enables.
    fn start(&self, connected: Connected, cfg: &LiveConfig) -> Result<(Source, Engine)> {
        let Connected {
            source,
            zulip,
            realm,
            own_user_id,
            bots,
        } = connected;
        let effects = Effects::new(
            self.p.name,
            zulip,
            HttpSink::Live,
            Some(self.store.clone()),
            realm,
            own_user_id,
        );
        let effects = match &self.answers {
            Some(a) => effects.with_answers(self.realm_id, a.clone()),
            None => effects,
        };
        let executor = Executor::new(self.p, self.code.handlers, effects, &cfg.settings)?
            .with_metrics(self.metrics.clone());
        let enabled = enabled_for(
            self.p,
            self.realm_id,
            self.settings.only.as_deref(),
            &cfg.enabled,
        );
        let engine = Engine::new(
            self.p,
            self.code.dispatch,
            enabled,
            own_user_id,
            bots,
            Arc::new(executor),
        );
        Ok((source, engine))
    }

    /// Takes in the jobs that ended, acknowledges what it can, and writes it when the
    /// next poll would tell Zulip: the write follows the work, not a timer.
    async fn turn(&self, source: &mut Source, engine: &mut Engine, ledger: &mut AckLedger) {
        while let Some(f) = engine.try_finished() {
            self.settle(engine, ledger, f);
        }
        ledger.acknowledge();
        let polling_next = source.will_poll() && !ledger.is_waiting();
        self.write(source, ledger, polling_next).await;
        gauges(self.metrics.as_deref(), source, engine, ledger);
    }

    /// The store cannot be written: acknowledge nothing more, poll nothing more; let jobs
    /// end meanwhile, and try the write again after a while.
    async fn wait_for_store(
        &self,
        source: &mut Source,
        engine: &mut Engine,
        ledger: &mut AckLedger,
    ) {
        let wait = ledger.retry_wait().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(f) = engine.next_finished() => self.settle(engine, ledger, f),
        }
        self.write(source, ledger, true).await;
    }

    /// At the bound on jobs in flight memory stays flat however slow an action is: wait
    /// for a job to end, not for events. Returns `false` when jobs took so long that one
    /// poll must keep the event queue alive.
    async fn wait_for_room(&self, engine: &mut Engine, ledger: &mut AckLedger) -> bool {
        match tokio::time::timeout(KEEPALIVE, engine.next_finished()).await {
            Ok(Some(f)) => {
                self.settle(engine, ledger, f);
                true
            }
            Ok(None) => true,
            Err(_) => {
                tracing::info!(
                    in_flight = engine.in_flight(),
                    "jobs are slow; polling once to keep the event queue alive"
                );
                false
            }
        }
    }

    /// A poll now would only get the events still being worked on again: wait for a job
    /// to end (returns `true`: write and poll at once), or a while (`poll_wait`, growing
    /// while nothing ends) to see the events that came meanwhile.
    async fn wait_before_poll(
        &self,
        engine: &mut Engine,
        ledger: &mut AckLedger,
        poll_wait: &mut Duration,
    ) -> bool {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => false,
            Some(f) = engine.next_finished() => {
                self.settle(engine, ledger, f);
                true
            }
            _ = tokio::time::sleep(*poll_wait) => {
                *poll_wait = (*poll_wait * 2).min(POLL_WAIT_MAX);
                false
            }
        }
    }

    /// Dispatches a batch in chunks that fit the bounds: the jobs in flight never exceed
    /// them, however large the batch. A batch cut short by shutdown is never
    /// acknowledged: it comes again.
    async fn receive(
        &self,
        batch: &Batch,
        source: &mut Source,
        engine: &mut Engine,
        ledger: &mut AckLedger,
    ) {
        let ticket = ledger.receive(batch.ack(), Instant::now(), this_hour());
        let mut events = batch.events();
        while events.len() > 0 {
            let room = engine.room(self.settings.max_in_flight);
            if room == 0 && engine.in_flight() > 0 {
                tokio::select! {
                    _ = self.cancel.cancelled() => break,
                    Some(f) = engine.next_finished() => self.settle(engine, ledger, f),
                    else => break,
                }
                continue;
            }
            let take = room.clamp(1, DISPATCH_CHUNK);
            let before = events.len();
            let Some(b) = ledger.receiving() else { break };
            b.remaining += engine.dispatch(
                events.by_ref().take(take),
                batch.queue(),
                ticket,
                now_secs(),
                &mut b.stats,
                &mut b.log,
            );
            self.count_toward_stop((before - events.len()) as u64);
            gauges(self.metrics.as_deref(), source, engine, ledger);
        }
        ledger.received(events.len() == 0);
        // A pushed message no job took gets no answer.
        if let (Some(answers), Some(b)) = (&self.answers, ledger.receiving())
            && b.remaining == 0
            && let Some(id) = batch.ack().message_id()
        {
            answers.close(self.realm_id, id);
        }
    }

    /// `--max-events`: the process stops after the batch in which that many events were
    /// dispatched.
    fn count_toward_stop(&self, n: u64) {
        if let Some((max, count)) = &self.settings.stop_after
            && count.fetch_add(n, Ordering::SeqCst) + n >= *max
        {
            self.shutdown.cancel();
        }
    }

    /// Stops polling; lets the jobs in flight end (up to the deadline) and writes what
    /// they finish. The events of jobs cut off come again at the next start.
    async fn drain(&self, source: &mut Source, engine: &mut Engine, ledger: &mut AckLedger) {
        let deadline = tokio::time::Instant::now() + self.settings.drain_timeout;
        while engine.in_flight() > 0 && !self.lost.is_cancelled() {
            match tokio::time::timeout_at(deadline, engine.next_finished()).await {
                Ok(Some(f)) => self.settle(engine, ledger, f),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        jobs = engine.in_flight(),
                        "jobs still running at the drain deadline are stopped; their events come again at the next start"
                    );
                    engine.abort();
                    break;
                }
            }
            ledger.acknowledge();
            self.write(source, ledger, false).await;
        }
        if self.lost.is_cancelled() {
            engine.abort();
            return;
        }
        ledger.acknowledge();
        self.write(source, ledger, true).await;
        if ledger.is_failing() {
            tracing::warn!(
                "stopping with acknowledged work the store could not take; its events come again at the next start"
            );
        }
    }

    /// Counts a job's end in its batch; when it ends a pushed message's jobs, that
    /// push gets no answer in its response (any more).
    fn settle(&self, engine: &Engine, ledger: &mut AckLedger, f: Finished) {
        let message = f.job.message_id;
        let last = ledger.job_ended(f, |f, stats, log| engine.account(f, stats, log));
        if let (true, Some(answers), Some(id)) = (last, &self.answers, message) {
            answers.close(self.realm_id, id);
        }
    }

    /// Applies a live configuration change between batches.
    fn apply(&self, engine: &mut Engine, cfg: &LiveConfig) {
        let enabled = enabled_for(
            self.p,
            self.realm_id,
            self.settings.only.as_deref(),
            &cfg.enabled,
        );
        for (l, on) in self.p.listeners.iter().zip(&enabled) {
            if engine.is_enabled(l.name) != *on {
                let now = if *on { "enabled" } else { "disabled" };
                tracing::info!(
                    realm = self.realm_id,
                    listener = l.name,
                    "listener {now} while running"
                );
            }
        }
        engine.set_enabled(enabled);
        engine.set_config(&cfg.settings);
    }

    /// Writes the acknowledged work with its checkpoint, in one transaction (when `force`,
    /// or when the last write is `write_every` old), then tells the source (and so
    /// Zulip). A failed write keeps everything for the next try.
    async fn write(&self, source: &mut Source, ledger: &mut AckLedger, force: bool) {
        if !ledger.is_due(force, Instant::now(), self.settings.write_every) {
            return;
        }
        let names: Vec<&str> = self.p.listeners.iter().map(|l| l.name).collect();
        let w = ledger.start_write(Instant::now());
        let prepared = w.ack.map(|ack| source.prepare_ack(ack));
        let checkpoint = prepared.as_ref().and_then(|p| p.checkpoint());
        let drained = if self.settings.write_stats {
            w.stats.clone().drain()
        } else {
            crate::stats::Drained::default()
        };
        let result = self
            .store
            .commit(
                self.p.name,
                &names,
                &drained,
                w.log,
                source.connection(),
                checkpoint,
            )
            .await;
        match result {
            Ok(()) => {
                let (written, recovered) = ledger.written(this_hour());
                if recovered {
                    tracing::info!("the store takes writes again; acknowledged work written");
                }
                if let Some(prepared) = prepared {
                    source.complete_ack(prepared);
                }
                self.recorder.record(&written);
            }
            Err(e @ crate::error::Error::LeaseLost { .. }) => {
                tracing::warn!(error = %e, "the checkpoint was not written: this process no longer holds the connection's lease; stopping it here");
                self.lost.cancel();
                self.cancel.cancel();
            }
            Err(e) => {
                if let (Some(m), Some(key)) = (&self.metrics, source.connection()) {
                    m.write_failed(key);
                }
                if ledger.write_failed() {
                    tracing::warn!(error = %e, "cannot write to the store; acknowledged work waits in memory, and nothing more is acknowledged to Zulip until it is written");
                }
            }
        }
    }
}

/// The hour statistics count in now (Unix seconds / 3600).
fn this_hour() -> i64 {
    now_secs() / 3600
}

/// Sets the connection's gauges (when metrics are served): jobs in flight, and the lag
/// (the oldest events whose work is not written and acknowledged).
fn gauges(metrics: Option<&Metrics>, source: &Source, engine: &Engine, ledger: &AckLedger) {
    let (Some(m), Some(key)) = (metrics, source.connection()) else {
        return;
    };
    m.turn(
        key,
        engine.in_flight(),
        ledger.oldest().map_or(Duration::ZERO, |t| t.elapsed()),
        Some(source.stats()),
    );
}
