//! The management commands: `list`, `check`, `config`, `enable`, `disable`, and the
//! hidden `test` that `zlc test` drives.

use std::collections::HashMap;

use super::cli::{CheckArgs, ConfigArgs, ListArgs, StatsArgs, TestArgs, ToggleArgs};
use super::realms::{ConfigFile, explain_refusal, pick_realms, realm_config};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::jobs::engine::Code;
use crate::pipeline::PipelineDesc;
use crate::store::Store;

/// Runs test cases; `Ok(false)` when one failed.
pub(super) async fn test(p: &'static PipelineDesc, code: Code, a: TestArgs) -> Result<bool> {
    let name = a.cases.display().to_string();
    let text = std::fs::read_to_string(&a.cases).map_err(|source| Error::Io {
        path: name.clone(),
        source,
    })?;
    let cases: Vec<crate::pipetest::Case> = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{name}: not a list of test cases: {e}")))?;
    let reports = crate::pipetest::run_cases(p, code, cases).await;
    let passed = reports.iter().all(|r| r.passed);
    let out = serde_json::json!({ "pipeline": p.name, "cases": reports });
    println!("{out}");
    Ok(passed)
}

/// `NAME stats`.
pub(super) async fn stats(p: &'static PipelineDesc, a: StatsArgs) -> Result<()> {
    let store = open_store(p, a.store.as_deref()).await?;
    let overview = crate::overview::Overview::load(&store, p.name, a.since).await?;
    if a.json {
        println!("{}", overview.json());
    } else {
        print!("{}", overview.text());
    }
    Ok(())
}

pub(super) async fn open_store(p: &PipelineDesc, flag: Option<&str>) -> Result<Store> {
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

pub(super) async fn list(p: &'static PipelineDesc, args: ListArgs) -> Result<()> {
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
    for (i, l) in p.listeners.iter().enumerate() {
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
        // A schedule takes no events: when it ticks instead.
        let when = match p.schedules.iter().find(|s| s.listener == i) {
            Some(s) => format!("{}=\"{}\" ({})", s.when.0, s.when.1, s.timezone),
            None => format!("events={}", l.events.join(",")),
        };
        println!(
            "{:<20} {:<9} {when} realms={} actions={}",
            l.name,
            status,
            realms,
            actions.join(",")
        );
        if args.config {
            print_config(l, settings.get(l.name));
        }
        if args.stats {
            let t = totals.get(l.name).cloned().unwrap_or_default();
            println!("    stats: {}", t.figures.line());
            if let Some(store) = &store {
                for c in store.named_counts(p.name, l.name).await? {
                    println!("    count {:?}: {}", c.name, c.n);
                }
            }
        }
    }
    Ok(())
}

/// `list --config`'s lines for one listener: description, filters, policy, config.
fn print_config(l: &crate::pipeline::ListenerDesc, settings: Option<&Vec<(String, String)>>) {
    if !l.description.is_empty() {
        println!("    description: {}", l.description);
    }
    let filters = if l.filters.is_empty() {
        "none"
    } else {
        l.filters
    };
    println!("    filters: {filters}");
    let pol = &l.policy;
    println!(
        "    policy: timeout={}ms retries={} backoff={}..{}ms breaker={} failures/{}ms concurrency={} max_in_flight={} {}",
        pol.timeout_ms,
        pol.retries,
        pol.backoff_ms,
        pol.backoff_max_ms,
        pol.breaker_threshold,
        pol.breaker_cooldown_ms,
        pol.concurrency,
        pol.max_in_flight,
        if pol.ordered { "ordered" } else { "unordered" }
    );
    for line in config_lines(l, settings, None) {
        println!("    config: {line}");
    }
}

pub(super) async fn check(p: &'static PipelineDesc, args: CheckArgs) -> Result<()> {
    ConfigFile::check(&args.config_file, p)?;
    let store = open_store(p, args.store.as_deref()).await?;
    println!("store {}: ok", store.url());
    let mut failures = 0;
    for realm in pick_realms(p, args.realm)? {
        let result = async {
            let cfg = realm_config(realm, ConfigFile::for_realm(&args.config_file, realm.id))?;
            let client = Client::new(&cfg)?;
            let settings = client.server_settings().await?;
            let me = (client.own_user().await).map_err(|e| explain_refusal(e, &cfg))?;
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

pub(super) fn listener<'p>(
    p: &'p PipelineDesc,
    name: &str,
) -> Result<&'p crate::pipeline::ListenerDesc> {
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

pub(super) async fn config(p: &'static PipelineDesc, args: ConfigArgs) -> Result<()> {
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
    if l.config.is_empty() {
        println!(
            "listener `{}` declares no config (a `config = {{ key = \"default\" }}` table in its pipeline file, or `config(...)` in its #[listener])",
            l.name
        );
        return Ok(());
    }
    let set = store.listener_settings(p.name).await?;
    for line in config_lines(l, set.get(l.name), args.key.as_deref()) {
        println!("{line}");
    }
    Ok(())
}

pub(super) async fn toggle(
    p: &'static PipelineDesc,
    args: ToggleArgs,
    enabled: bool,
) -> Result<()> {
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
