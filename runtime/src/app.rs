//! The command line of every generated listener binary, and its run loop.
//!
//! ```text
//! NAME run   [--listeners a,b] [--realm ID] [--replay FILE] [--store URL] [--config-file PATH]
//! NAME list  [--stats] [--config] [--status enabled|disabled] [--store URL]
//! NAME check [--realm ID] [--config-file PATH]
//! NAME enable|disable LISTENER [--store URL]
//! NAME config LISTENER [KEY [VALUE | --unset]] [--store URL]
//! ```
//!
//! It mirrors the original design's management commands (`run_event_listeners`,
//! `list_event_listeners`). Everything here is non-generic: a generated crate passes a
//! static [`PipelineDesc`] and a plain `fn` pointer, so rebuilding it takes about a
//! second.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::actions::Effects;
use crate::client::{Client, RegisterRequest};
use crate::config::{ConfigOverrides, Secret, ZulipConfig};
use crate::dispatch::enabled_for;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::outbox::{HttpSink, ZulipSink};
use crate::pipeline::{CredentialsDesc, PipelineDesc, RealmDesc};
use crate::retry::{Retry, retrying};
use crate::source::{QueueOptions, QueueSource, ReplaySource, Source};
use crate::stats::{LogRow, RunTotals, StatsBuf, now_secs};
use crate::store::Store;
use crate::template::RealmInfo;

pub use crate::dispatch::DispatchFn;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    log: crate::logging::LogArgs,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Follow the realms (or replay a file) and run the listeners.
    Run(RunArgs),
    /// List the listeners, their configuration and statistics.
    List(ListArgs),
    /// Check the configuration and each realm's credentials.
    Check(CheckArgs),
    /// Enable a listener (takes effect when a connection starts).
    Enable(ToggleArgs),
    /// Disable a listener (takes effect when a connection starts).
    Disable(ToggleArgs),
    /// Show or change a listener's config without a rebuild (takes effect when a
    /// connection starts): `config LISTENER` shows all of it, `config LISTENER KEY VALUE`
    /// sets a value, `config LISTENER KEY --unset` goes back to the pipeline's.
    Config(ConfigArgs),
    /// Run test cases (`zlc test` writes them from the pipeline's `[[test]]` tables)
    /// and print a JSON report; exit status 1 when one fails.
    #[command(hide = true)]
    Test(TestArgs),
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// The listener.
    listener: String,
    /// A key the listener's `config` declares.
    key: Option<String>,
    /// Its new value.
    value: Option<String>,
    /// Remove the value set here: the pipeline's applies again.
    #[arg(long, requires = "key", conflicts_with = "value")]
    unset: bool,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// A JSON array of cases.
    #[arg(long, value_name = "FILE")]
    cases: PathBuf,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Run only these listeners (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    listeners: Vec<String>,
    /// Run only this realm connection (its `id` in the pipeline).
    #[arg(long, value_name = "ID")]
    realm: Option<u32>,
    /// Play a recorded JSONL file (optionally gzipped, `-` for stdin) instead of
    /// polling Zulip; Zulip actions are logged, not performed.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Database URL (default: the pipeline's [store] url, else sqlite://NAME.db).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// zuliprc to use for the realm(s), overriding the pipeline's credentials.
    #[arg(long, value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// Seconds between statistics flushes.
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    stats_interval: u64,
    /// Print the per-listener totals as one JSON object on stdout when done.
    #[arg(long)]
    summary_json: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Show statistics from the store.
    #[arg(long)]
    stats: bool,
    /// Show filters and policies.
    #[arg(long)]
    config: bool,
    /// Only listeners with this status.
    #[arg(long, value_parser = ["enabled", "disabled"])]
    status: Option<String>,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Check only this realm.
    #[arg(long, value_name = "ID")]
    realm: Option<u32>,
    /// zuliprc to use, overriding the pipeline's credentials.
    #[arg(long, value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(Debug, Args)]
struct ToggleArgs {
    /// The listener.
    name: String,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

/// The `main` of a generated binary.
pub fn main(p: &'static PipelineDesc, dispatch: DispatchFn) -> ExitCode {
    let version = format!("(zlc pipeline, built with zlc {})", p.zlc_version);
    let about = if p.description.is_empty() {
        format!("zlc pipeline {}", p.name)
    } else {
        p.description.to_owned()
    };
    let cmd = Cli::command()
        .name(p.name)
        .bin_name(p.name)
        .version(version)
        .about(about);
    let cli = match Cli::from_arg_matches(&cmd.get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    cli.log.init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Cmd::Run(a) => run(p, dispatch, a, cli.log.log_format).await.map(|()| true),
            Cmd::List(a) => list(p, a).await.map(|()| true),
            Cmd::Check(a) => check(p, a).await.map(|()| true),
            Cmd::Enable(a) => toggle(p, a, true).await.map(|()| true),
            Cmd::Disable(a) => toggle(p, a, false).await.map(|()| true),
            Cmd::Config(a) => config(p, a).await.map(|()| true),
            Cmd::Test(a) => test(p, dispatch, a).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            match cli.log.log_format {
                crate::logging::LogFormat::Text => eprintln!("error: {e}"),
                // Log collectors read stderr as JSON lines: keep it so.
                crate::logging::LogFormat::Json => tracing::error!(error = %e, "exiting"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs test cases; `Ok(false)` when one failed.
async fn test(p: &'static PipelineDesc, dispatch: DispatchFn, a: TestArgs) -> Result<bool> {
    let name = a.cases.display().to_string();
    let text = std::fs::read_to_string(&a.cases).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    let cases: Vec<crate::pipetest::Case> = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{name}: not a list of test cases: {e}")))?;
    let reports = crate::pipetest::run_cases(p, dispatch, cases).await;
    let passed = reports.iter().all(|r| r.passed);
    let out = serde_json::json!({ "pipeline": p.name, "cases": reports });
    println!("{out}");
    Ok(passed)
}

async fn open_store(p: &PipelineDesc, flag: Option<&str>) -> Result<Store> {
    let url = crate::store::resolve_url(p.name, &p.store, flag, |k| std::env::var(k).ok())?;
    let store = Store::open(&url).await?;
    let rows: Vec<crate::store::ListenerRow> = p
        .listeners
        .iter()
        .map(|l| {
            let actions: Vec<&str> = l.actions.iter().map(|a| a.kind()).collect();
            crate::store::ListenerRow {
                name: l.name.to_owned(),
                description: l.description.to_owned(),
                events: l.events.join(","),
                actions: actions.join(","),
            }
        })
        .collect();
    store.register_listeners(p.name, &rows).await?;
    Ok(store)
}

/// Resolves a realm's credentials (the key only ever from a file or the environment).
pub fn realm_config(realm: &RealmDesc, config_file: Option<&PathBuf>) -> Result<ZulipConfig> {
    let overrides = match (config_file, &realm.credentials) {
        (Some(path), _) => ConfigOverrides {
            config_file: Some(path.clone()),
            ..Default::default()
        },
        (None, CredentialsDesc::Default) => ConfigOverrides::default(),
        (None, CredentialsDesc::Zuliprc(path)) => ConfigOverrides {
            config_file: Some(PathBuf::from(path)),
            ..Default::default()
        },
        (
            None,
            CredentialsDesc::Explicit {
                site,
                email,
                api_key_env,
            },
        ) => {
            let key = std::env::var(api_key_env)
                .ok()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    Error::Config(format!(
                        "realm {} needs its API key in ${api_key_env}, which is not set",
                        realm.id
                    ))
                })?;
            ConfigOverrides {
                site: Some((*site).to_owned()),
                email: Some((*email).to_owned()),
                api_key: Some(Secret::new(key)),
                ..Default::default()
            }
        }
    };
    overrides.resolve()
}

fn pick_realms(p: &PipelineDesc, only: Option<u32>) -> Result<Vec<&RealmDesc>> {
    match only {
        None => Ok(p.realms.iter().collect()),
        Some(id) => match p.realms.iter().find(|r| r.id == id) {
            Some(r) => Ok(vec![r]),
            None => {
                let ids: Vec<String> = p.realms.iter().map(|r| r.id.to_string()).collect();
                Err(Error::Config(format!(
                    "realm {id} is not in this pipeline (realms: {})",
                    ids.join(", ")
                )))
            }
        },
    }
}

struct Shared {
    stats: Mutex<StatsBuf>,
    log: Mutex<Vec<LogRow>>,
}

async fn flush(p: &PipelineDesc, store: &Store, shared: &Shared) -> Result<()> {
    let (drained, log) = {
        let mut s = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
        let drained = s.drain();
        let log = std::mem::take(&mut *shared.log.lock().unwrap_or_else(|e| e.into_inner()));
        (drained, log)
    };
    let names: Vec<&str> = p.listeners.iter().map(|l| l.name).collect();
    store.flush(p.name, &names, &drained, &log).await
}

async fn run(
    p: &'static PipelineDesc,
    dispatch: DispatchFn,
    args: RunArgs,
    log_format: crate::logging::LogFormat,
) -> Result<()> {
    for name in &args.listeners {
        if !p.listeners.iter().any(|l| l.name == name) {
            let names: Vec<&str> = p.listeners.iter().map(|l| l.name).collect();
            return Err(Error::Config(format!(
                "no listener named `{name}` (listeners: {})",
                names.join(", ")
            )));
        }
    }
    let only = (!args.listeners.is_empty()).then_some(args.listeners.as_slice());
    let realms = pick_realms(p, args.realm)?;
    if args.replay.is_some() && realms.len() > 1 {
        return Err(Error::Config(
            "--replay plays one realm: choose it with --realm".into(),
        ));
    }
    let store = open_store(p, args.store.as_deref()).await?;
    let overrides = store.listener_overrides(p.name).await?;
    let cancel = CancellationToken::new();
    crate::shutdown::cancel_on_signal(cancel.clone());
    let shared = Arc::new(Shared {
        stats: Mutex::new(StatsBuf::new(p.listeners.len(), now_secs() / 3600)),
        log: Mutex::new(Vec::new()),
    });
    let totals = Arc::new(Mutex::new(RunTotals::default()));

    let flusher = {
        let (store, shared, stop) = (store.clone(), shared.clone(), cancel.clone());
        let every = Duration::from_secs(args.stats_interval.max(1));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                if let Err(e) = flush(p, &store, &shared).await {
                    tracing::warn!(error = %e, "statistics flush failed; will retry");
                }
            }
        })
    };

    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for realm in realms {
        let enabled = enabled_for(p, realm.id, only, &overrides);
        if !enabled.iter().any(|e| *e) {
            tracing::warn!(
                realm = realm.id,
                "no listener runs on this realm; not connecting"
            );
            continue;
        }
        let conn = Connection {
            p,
            dispatch,
            realm,
            enabled,
            store: store.clone(),
            shared: shared.clone(),
            totals: totals.clone(),
            cancel: cancel.clone(),
        };
        let replay = args.replay.clone();
        let config_file = args.config_file.clone();
        let id = realm.id;
        tasks.spawn(async move {
            conn.run(replay, config_file.as_ref())
                .await
                .map_err(|e| Error::Config(format!("realm {id}: {e}")))
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
    let _ = flusher.await;
    flush(p, &store, &shared).await?;
    store.close().await;

    let (totals, events, malformed) = {
        let t = totals.lock().unwrap_or_else(|e| e.into_inner());
        (t.counters.clone(), t.events, t.malformed)
    };
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

struct RunFigures {
    events: u64,
    malformed: u64,
    seconds: f64,
}

fn report(
    p: &PipelineDesc,
    totals: &[crate::stats::Counters],
    run: RunFigures,
    json: bool,
    log_format: crate::logging::LogFormat,
) {
    let rate = if run.seconds > 0.0 {
        run.events as f64 / run.seconds
    } else {
        0.0
    };
    match log_format {
        crate::logging::LogFormat::Text => eprint!("{}", totals_table(p, totals, &run, rate)),
        crate::logging::LogFormat::Json => {
            for (i, l) in p.listeners.iter().enumerate() {
                let c = totals.get(i).copied().unwrap_or_default();
                tracing::info!(
                    listener = l.name,
                    seen = c.seen,
                    matched = c.matched,
                    succeeded = c.succeeded,
                    failed = c.failed,
                    limited = c.limited,
                    "totals"
                );
            }
            tracing::info!(
                events = run.events,
                malformed = run.malformed,
                seconds = run.seconds,
                events_per_s = rate,
                "run finished"
            );
        }
    }
    if json {
        let mut obj = serde_json::Map::new();
        // Listener names start with a letter, so `_run` cannot collide with one.
        obj.insert("_run".into(), serde_json::json!({"events": run.events, "malformed": run.malformed, "seconds": run.seconds, "events_per_s": rate}));
        for (i, l) in p.listeners.iter().enumerate() {
            let c = totals.get(i).copied().unwrap_or_default();
            obj.insert(
                l.name.to_owned(),
                serde_json::json!({"seen": c.seen, "matched": c.matched, "succeeded": c.succeeded, "failed": c.failed, "limited": c.limited}),
            );
        }
        println!("{}", serde_json::Value::Object(obj));
    }
}

/// The end-of-run totals as a small table for people.
fn totals_table(
    p: &PipelineDesc,
    totals: &[crate::stats::Counters],
    run: &RunFigures,
    rate: f64,
) -> String {
    use std::fmt::Write;
    let width = p
        .listeners
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(0)
        .max("listener".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>9}  {:>9}  {:>7}  {:>7}",
        "listener", "seen", "matched", "succeeded", "failed", "limited"
    );
    for (i, l) in p.listeners.iter().enumerate() {
        let c = totals.get(i).copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>7}  {:>7}",
            l.name, c.seen, c.matched, c.succeeded, c.failed, c.limited
        );
    }
    let _ = writeln!(
        out,
        "{} events in {:.2} s ({:.0} events/s){}",
        run.events,
        run.seconds,
        rate,
        if run.malformed > 0 {
            format!("; {} unreadable, skipped", run.malformed)
        } else {
            String::new()
        }
    );
    out
}

struct Connection {
    p: &'static PipelineDesc,
    dispatch: DispatchFn,
    realm: &'static RealmDesc,
    enabled: Vec<bool>,
    store: Store,
    shared: Arc<Shared>,
    totals: Arc<Mutex<RunTotals>>,
    cancel: CancellationToken,
}

impl Connection {
    async fn run(self, replay: Option<PathBuf>, config_file: Option<&PathBuf>) -> Result<()> {
        let p = self.p;
        let dispatch_fn = self.dispatch;
        let label = self.realm.name.unwrap_or("").to_owned();
        let (mut source, client, realm, own_user_id, bots) = match replay {
            Some(path) => {
                tracing::info!(realm = self.realm.id, file = %path.display(), "replaying");
                let realm = RealmInfo {
                    id: self.realm.id,
                    name: label,
                    site: String::new(),
                };
                let source = Source::Replay(ReplaySource::open(&path)?);
                (source, None, realm, -1, Default::default())
            }
            None => {
                let config = realm_config(self.realm, config_file)?;
                let client = Client::new(&config)?;
                // The first requests wait out a restarting or overloaded server with the
                // same policy as the poller, which continues from this state.
                let mut retry = Retry::new(config.site_url());
                let Some(info) = retrying(&mut retry, &self.cancel, || client.hello()).await?
                else {
                    return Ok(());
                };
                tracing::info!(
                    realm = self.realm.id,
                    site = config.site_url(),
                    bot = %info.me.email,
                    zulip = %info.settings.zulip_version,
                    feature_level = info.settings.zulip_feature_level,
                    "connected"
                );
                let realm = RealmInfo {
                    id: self.realm.id,
                    name: if label.is_empty() {
                        info.settings.realm_name.clone().unwrap_or_default()
                    } else {
                        label
                    },
                    site: info
                        .settings
                        .realm_url()
                        .unwrap_or(config.site_url())
                        .trim_end_matches('/')
                        .to_owned(),
                };
                let register = RegisterRequest {
                    event_types: Some(p.event_types()),
                    narrow: Vec::new(),
                    all_public_streams: self.realm.all_public_streams,
                    apply_markdown: false,
                    client_capabilities: Some(RegisterRequest::capabilities()),
                    queue_lifespan_secs: None,
                };
                let opts = QueueOptions {
                    connection: format!("{}/realm-{}", p.name, self.realm.id),
                    register,
                };
                let q = QueueSource::new(client.clone(), Some(self.store.clone()), opts)
                    .with_retry(retry);
                let source = Source::Queue(Box::new(q));
                (source, Some(client), realm, info.me.user_id, info.bots)
            }
        };
        let settings = self.store.listener_settings(p.name).await?;
        let zulip = match client {
            Some(c) => ZulipSink::Live(c),
            None => ZulipSink::DryRun,
        };
        let effects = Effects::new(
            p.name,
            zulip,
            HttpSink::Live,
            Some(self.store.clone()),
            realm,
            own_user_id,
        )?;
        let executor = Arc::new(Executor::new(p, effects, &settings)?);
        let mut engine = Engine::new(
            p,
            dispatch_fn,
            self.enabled.clone(),
            own_user_id,
            bots,
            executor,
        );
        let mut buf = StatsBuf::new(p.listeners.len(), now_secs() / 3600);
        let mut log_rows: Vec<LogRow> = Vec::new();
        while let Some(batch) = source.next_batch(&self.cancel).await? {
            engine
                .process(batch.events(), now_secs(), &mut buf, &mut log_rows)
                .await;
            source.ack(batch.ack()).await?;
            self.totals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(&buf);
            self.shared
                .stats
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .merge(&mut buf);
            if !log_rows.is_empty() {
                self.shared
                    .log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .append(&mut log_rows);
            }
        }
        Ok(())
    }
}

async fn list(p: &'static PipelineDesc, args: ListArgs) -> Result<()> {
    // Read the store when the pipeline declares one or the default SQLite file exists:
    // enable/disable lives there. (A declared SQLite file is created if missing, as by
    // `run`; without a declaration, listing creates nothing.)
    let store = if args.stats
        || args.store.is_some()
        || p.store.url.is_some()
        || p.store.url_env.is_some()
        || std::path::Path::new(&format!("{}.db", p.name)).exists()
    {
        Some(open_store(p, args.store.as_deref()).await?)
    } else {
        None
    };
    let overrides = match &store {
        Some(s) => s.listener_overrides(p.name).await?,
        None => HashMap::new(),
    };
    let totals: HashMap<String, crate::store::ListenerTotals> = match (&store, args.stats) {
        (Some(s), true) => s
            .listener_totals(p.name)
            .await?
            .into_iter()
            .map(|t| (t.listener.clone(), t))
            .collect(),
        _ => HashMap::new(),
    };
    let settings = match &store {
        Some(s) if args.config => s.listener_settings(p.name).await?,
        _ => HashMap::new(),
    };
    println!("pipeline {} — {}", p.name, p.description);
    for l in p.listeners {
        let enabled = overrides.get(l.name).copied().unwrap_or(l.enabled);
        let status = if enabled { "enabled" } else { "disabled" };
        if args.status.as_deref().is_some_and(|s| s != status) {
            continue;
        }
        let realms = l.realms.map_or_else(
            || "all".to_owned(),
            |r| r.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
        );
        let actions: Vec<&str> = l.actions.iter().map(|a| a.kind()).collect();
        println!(
            "{:<20} {:<9} events={} realms={} actions={}",
            l.name,
            status,
            l.events.join(","),
            realms,
            actions.join(",")
        );
        if args.config {
            if !l.description.is_empty() {
                println!("    description: {}", l.description);
            }
            println!(
                "    filters: {}",
                if l.filters.is_empty() {
                    "none"
                } else {
                    l.filters
                }
            );
            let pol = &l.policy;
            println!(
                "    policy: timeout={}ms retries={} backoff={}..{}ms breaker={} failures/{}ms concurrency={}",
                pol.timeout_ms,
                pol.retries,
                pol.backoff_ms,
                pol.backoff_max_ms,
                pol.breaker_threshold,
                pol.breaker_cooldown_ms,
                pol.concurrency
            );
            for line in config_lines(l, settings.get(l.name), None) {
                println!("    config: {line}");
            }
        }
        if args.stats {
            let t = totals.get(l.name).cloned().unwrap_or_default();
            println!(
                "    stats: seen={} matched={} succeeded={} failed={} limited={} time={}ms",
                t.seen,
                t.matched,
                t.succeeded,
                t.failed,
                t.limited,
                t.time_us / 1000
            );
            if let Some(store) = &store {
                for c in store.named_counts(p.name, l.name).await? {
                    println!("    count {:?}: {}", c.name, c.n);
                }
            }
        }
    }
    Ok(())
}

async fn check(p: &'static PipelineDesc, args: CheckArgs) -> Result<()> {
    let store = open_store(p, args.store.as_deref()).await?;
    println!("store {}: ok", store.url());
    let mut failures = 0;
    for realm in pick_realms(p, args.realm)? {
        let result = async {
            let cfg = realm_config(realm, args.config_file.as_ref())?;
            let client = Client::new(&cfg)?;
            let settings = client.server_settings().await?;
            let me = client.own_user().await?;
            Ok::<_, Error>(format!(
                "{} as {} (user {}), Zulip {} (feature level {})",
                cfg.site_url(),
                me.email,
                me.user_id,
                settings.zulip_version,
                settings.zulip_feature_level
            ))
        }
        .await;
        match result {
            Ok(line) => println!("realm {}: ok: {line}", realm.id),
            Err(e) => {
                failures += 1;
                println!("realm {}: error: {e}", realm.id);
            }
        }
    }
    if failures > 0 {
        let total = pick_realms(p, args.realm)?.len();
        Err(Error::Config(format!(
            "{failures} of {total} realm{} failed the check",
            if total == 1 { "" } else { "s" }
        )))
    } else {
        Ok(())
    }
}

fn listener<'p>(p: &'p PipelineDesc, name: &str) -> Result<&'p crate::pipeline::ListenerDesc> {
    p.listeners.iter().find(|l| l.name == name).ok_or_else(|| {
        let names: Vec<&str> = p.listeners.iter().map(|l| l.name).collect();
        Error::Config(format!(
            "no listener named `{name}` (listeners: {})",
            names.join(", ")
        ))
    })
}

/// `key = "value"` for each config key of `l` (or only `only`), saying where values
/// set in the store differ from the pipeline's.
fn config_lines(
    l: &crate::pipeline::ListenerDesc,
    set: Option<&Vec<(String, String)>>,
    only: Option<&str>,
) -> Vec<String> {
    l.config
        .iter()
        .filter(|(k, _)| only.is_none_or(|o| o == *k))
        .map(
            |(k, default)| match set.and_then(|s| s.iter().find(|(sk, _)| sk == k)) {
                Some((_, v)) => format!("{k} = {v:?} (set here; the pipeline says {default:?})"),
                None => format!("{k} = {default:?}"),
            },
        )
        .collect()
}

async fn config(p: &'static PipelineDesc, args: ConfigArgs) -> Result<()> {
    let l = listener(p, &args.listener)?;
    if let Some(key) = &args.key
        && !l.config.iter().any(|(k, _)| k == key)
    {
        let declared: Vec<&str> = l.config.iter().map(|(k, _)| *k).collect();
        return Err(Error::Config(if declared.is_empty() {
            format!(
                "listener `{}` declares no config (add `config = {{ {key} = \"...\" }}` to it)",
                l.name
            )
        } else {
            format!(
                "listener `{}` has no config key `{key}` (keys: {})",
                l.name,
                declared.join(", ")
            )
        }));
    }
    let store = open_store(p, args.store.as_deref()).await?;
    match (&args.key, &args.value, args.unset) {
        (Some(key), Some(value), _) => {
            store
                .set_listener_setting(p.name, l.name, key, Some(value))
                .await?;
        }
        (Some(key), None, true) => {
            store
                .set_listener_setting(p.name, l.name, key, None)
                .await?;
        }
        _ => {}
    }
    let set = store.listener_settings(p.name).await?;
    for line in config_lines(l, set.get(l.name), args.key.as_deref()) {
        println!("{line}");
    }
    Ok(())
}

async fn toggle(p: &'static PipelineDesc, args: ToggleArgs, enabled: bool) -> Result<()> {
    listener(p, &args.name)?;
    let store = open_store(p, args.store.as_deref()).await?;
    store
        .set_listener_enabled(p.name, &args.name, enabled)
        .await?;
    println!(
        "{} {}",
        args.name,
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(())
}
