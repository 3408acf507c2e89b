//! The command line of every generated listener binary.
//!
//! ```text
//! NAME run   [--listeners a,b] [--realm ID] [--replay FILE] [--store URL] [--config-file PATH]
//! NAME list  [--stats] [--config] [--status enabled|disabled] [--store URL]
//! NAME check [--realm ID] [--config-file PATH]
//! NAME enable|disable LISTENER [--store URL]
//! NAME config LISTENER [KEY [VALUE | --unset]] [--store URL]
//! NAME dead-letters list|replay|drop ...
//! NAME stats [--since DURATION] [--json] [--store URL]
//! ```
//!
//! It mirrors the original design's management commands (`run_event_listeners`,
//! `list_event_listeners`). Everything here is non-generic: a generated crate passes a
//! static [`PipelineDesc`] and a plain `fn` pointer, so rebuilding it takes about a
//! second.

//!
//! | module | role |
//! | --- | --- |
//! | [`supervisor`] | `run`: the store, one task per realm connection, shutdown, the report |
//! | [`connection`] | one realm connection: connecting, then its loop over a source |
//! | [`realms`] | which realms run, and their credentials |
//! | [`manage`] | `list`, `check`, `config`, `enable`, `disable`, `test` |
//! | [`live`] | enable/disable and config changes reaching running processes |
//! | [`dead`] | `dead-letters list`, `replay`, `drop` |
//! | [`report`] | the end-of-run totals |

mod build;
mod connection;
mod dead;
mod fleet;
mod live;
mod manage;
mod notify;
mod realms;
mod report;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::pipeline::PipelineDesc;

pub use crate::dispatch::DispatchFn;
pub use crate::engine::Code;
pub use crate::handler::HandlerTable;
pub use realms::realm_config;

#[derive(Debug, Parser)]
pub(crate) struct Cli {
    #[command(flatten)]
    log: crate::logging::LogArgs,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Follow the realms (or replay a file) and run the listeners.
    Run(RunArgs),
    /// List the listeners, their configuration and statistics.
    List(ListArgs),
    /// Check the configuration and each realm's credentials.
    Check(CheckArgs),
    /// Enable a listener; running processes apply it within seconds.
    Enable(ToggleArgs),
    /// Disable a listener; running processes apply it within seconds.
    Disable(ToggleArgs),
    /// Per-listener statistics from the store, dead letters, handlers' counters, and
    /// where each realm connection stands.
    Stats(StatsArgs),
    /// Show, replay or drop dead letters: events whose actions failed for good.
    #[command(name = "dead-letters", subcommand)]
    DeadLetters(DeadCmd),
    /// Show or change a listener's config without a rebuild (running processes apply it
    /// within seconds): `config LISTENER` shows all of it, `config LISTENER KEY VALUE`
    /// sets a value, `config LISTENER KEY --unset` goes back to the pipeline's.
    Config(ConfigArgs),
    /// Run test cases (`zlc test` writes them from the pipeline's `[[test]]` tables)
    /// and print a JSON report; exit status 1 when one fails.
    #[command(hide = true)]
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
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
pub(crate) struct StatsArgs {
    /// Only the hours this recent: `30m`, `2h`, `7d` (default: all time).
    #[arg(long, value_name = "DURATION", value_parser = crate::overview::parse_since)]
    since: Option<i64>,
    /// One JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DeadCmd {
    /// List them, oldest first.
    List(DeadListArgs),
    /// Run their listeners' actions again (not the filters); side effects already done
    /// are not repeated. Those that succeed leave the list.
    Replay(DeadPickArgs),
    /// Remove them.
    Drop(DeadPickArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DeadListArgs {
    /// Only this listener's.
    #[arg(long, value_name = "NAME")]
    listener: Option<String>,
    /// One JSON object per line (with the event), for scripts.
    #[arg(long)]
    json: bool,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DeadPickArgs {
    /// The dead letters (ids from `dead-letters list`).
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    ids: Vec<i64>,
    /// All of them (of `--listener`, if given).
    #[arg(long)]
    all: bool,
    /// Only this listener's.
    #[arg(long, value_name = "NAME")]
    listener: Option<String>,
    /// zuliprc to use for replaying, overriding the pipeline's credentials.
    #[arg(long, value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// A JSON array of cases.
    #[arg(long, value_name = "FILE")]
    cases: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
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
    /// The longest acknowledged work waits to be written (statistics, dead letters and
    /// the checkpoint that passes them, in one transaction) while events keep coming:
    /// `250ms`, `1s`, `2` (seconds). Work is written before every poll of the queue in
    /// any case, so that Zulip is told at once; this bounds the wait during a long
    /// backlog, a replay or slow jobs.
    #[arg(long, default_value = "250ms", value_name = "DURATION", value_parser = parse_interval)]
    stats_interval: std::time::Duration,
    /// Jobs waiting or running at once, over all listeners (each listener also has its
    /// own `max_in_flight`); at the bound, polling pauses until jobs end.
    #[arg(long, default_value_t = 2000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_in_flight: u32,
    /// At shutdown, how long jobs in flight may take to end; the events of those that
    /// do not come again at the next start.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    drain_timeout: u64,
    /// Seconds a realm connection's lease lives unless renewed (renewed every third of
    /// it): when its holder dies, another process of the pipeline takes over after this
    /// long at most (at once when the holder ran on the same host).
    #[arg(long, default_value_t = 15, value_name = "SECS", value_parser = clap::value_parser!(u64).range(6..=3600))]
    lease_ttl: u64,
    /// Write no statistics to the store (checkpoints and the event log still are; the
    /// end-of-run table still counts): to measure what statistics cost.
    #[arg(long)]
    no_stats: bool,
    /// Stop (as on SIGTERM) after the batch in which this many events were dispatched,
    /// over all realms (benchmarks, tests).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_events: Option<u64>,
    /// Serve Prometheus metrics (/metrics) and health (/healthz, /readyz) over HTTP:
    /// a port (on 127.0.0.1) or an address with a port (0.0.0.0:9898 to serve beyond
    /// this host).
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::parse_addr)]
    metrics: Option<std::net::SocketAddr>,
    /// Print the per-listener totals as one JSON object on stdout when done.
    #[arg(long)]
    summary_json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
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
pub(crate) struct CheckArgs {
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
pub(crate) struct ToggleArgs {
    /// The listener.
    name: String,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

/// The `main` of a generated binary: its description, its dispatch and its handlers.
pub fn main(p: &'static PipelineDesc, dispatch: DispatchFn, handlers: HandlerTable) -> ExitCode {
    let code = Code { dispatch, handlers };
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
            Cmd::Run(a) => supervisor::run(p, code, a, cli.log.log_format)
                .await
                .map(|()| true),
            Cmd::List(a) => manage::list(p, a).await.map(|()| true),
            Cmd::Check(a) => manage::check(p, a).await.map(|()| true),
            Cmd::Enable(a) => manage::toggle(p, a, true).await.map(|()| true),
            Cmd::Disable(a) => manage::toggle(p, a, false).await.map(|()| true),
            Cmd::Stats(a) => manage::stats(p, a).await.map(|()| true),
            Cmd::DeadLetters(c) => dead::run(p, code, c).await.map(|()| true),
            Cmd::Config(a) => manage::config(p, a).await.map(|()| true),
            Cmd::Test(a) => manage::test(p, code, a).await,
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

/// `--stats-interval`: `250ms`, `1.5s`, `2m` or a number of seconds, from 10 ms to an
/// hour.
fn parse_interval(s: &str) -> std::result::Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 250ms, 1s or 2"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("{s:?} is not a duration such as 250ms, 1s or 2")),
    };
    if !(0.01..=3600.0).contains(&secs) {
        return Err(format!("{s:?} is out of range: from 10ms to 1h"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod interval_tests {
    use super::parse_interval;
    use std::time::Duration;

    #[test]
    fn intervals_read_as_people_write_them() {
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_interval("5ms").unwrap_err().contains("out of range"));
        assert!(parse_interval("2h").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
