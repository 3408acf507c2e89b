//! The command line of a generated binary, as clap reads it: the commands and their
//! options (what each does is in the modules beside this one).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(super) log: crate::logging::LogArgs,
    #[command(subcommand)]
    pub(super) command: Cmd,
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
    /// Print a completion script for a shell: `NAME completions bash > /etc/bash_completion.d/NAME`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `NAME man | man -l -`.
    Man,
}

/// `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    pub(super) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// The listener.
    pub(super) listener: String,
    /// A key the listener's `config` declares.
    pub(super) key: Option<String>,
    /// Its new value.
    pub(super) value: Option<String>,
    /// Remove the value set here: the pipeline's applies again.
    #[arg(long, requires = "key", conflicts_with = "value")]
    pub(super) unset: bool,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Only the hours this recent: `30m`, `2h`, `7d` (default: all time).
    #[arg(long, value_name = "DURATION", value_parser = crate::overview::parse_since)]
    pub(super) since: Option<i64>,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub(super) json: bool,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
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
    pub(super) listener: Option<String>,
    /// One JSON object per line (with the event), for scripts.
    #[arg(long)]
    pub(super) json: bool,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DeadPickArgs {
    /// The dead letters (ids from `dead-letters list`).
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub(super) ids: Vec<i64>,
    /// All of them (of `--listener`, if given).
    #[arg(long)]
    pub(super) all: bool,
    /// Only this listener's.
    #[arg(long, value_name = "NAME")]
    pub(super) listener: Option<String>,
    /// zuliprc to use for replaying, overriding the pipeline's credentials: `PATH` for
    /// every realm, `REALM=PATH` for one (repeat it for several).
    #[arg(long, value_name = "[REALM=]PATH", value_parser = super::realms::ConfigFile::parse)]
    pub(super) config_file: Vec<super::realms::ConfigFile>,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// A JSON array of cases.
    #[arg(long, value_name = "FILE")]
    pub(super) cases: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Run only these listeners (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub(super) listeners: Vec<String>,
    /// Run only this realm connection (its `id` in the pipeline).
    #[arg(long, value_name = "ID")]
    pub(super) realm: Option<u32>,
    /// Play a recorded JSONL file (optionally gzipped, `-` for stdin) instead of
    /// polling Zulip; Zulip actions are logged, not performed.
    #[arg(long, value_name = "FILE")]
    pub(super) replay: Option<PathBuf>,
    /// Database URL (default: the pipeline's [store] url, else sqlite://NAME.db).
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
    /// zuliprc to use, overriding the pipeline's credentials: `PATH` for every realm,
    /// `REALM=PATH` for one (repeat it for several).
    #[arg(long, value_name = "[REALM=]PATH", value_parser = super::realms::ConfigFile::parse)]
    pub(super) config_file: Vec<super::realms::ConfigFile>,
    /// The longest acknowledged work waits to be written (statistics, dead letters and
    /// the checkpoint that passes them, in one transaction) while events keep coming:
    /// `250ms`, `1s`, `2` (seconds). Work is written before every poll of the queue in
    /// any case, so that Zulip is told at once; this bounds the wait during a long
    /// backlog, a replay or slow jobs.
    #[arg(long, default_value = "250ms", value_name = "DURATION", value_parser = parse_interval)]
    pub(super) stats_interval: std::time::Duration,
    /// Jobs waiting or running at once, over all listeners (each listener also has its
    /// own `max_in_flight`); at the bound, polling pauses until jobs end.
    #[arg(long, default_value_t = 2000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(super) max_in_flight: u32,
    /// At shutdown, how long jobs in flight may take to end; the events of those that
    /// do not come again at the next start.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub(super) drain_timeout: u64,
    /// Seconds a realm connection's lease lives unless renewed (renewed every third of
    /// it): when its holder dies, another process of the pipeline takes over after this
    /// long at most (at once when the holder ran on the same host).
    #[arg(long, default_value_t = 15, value_name = "SECS", value_parser = clap::value_parser!(u64).range(6..=3600))]
    pub(super) lease_ttl: u64,
    /// Write no statistics to the store (checkpoints and the event log still are; the
    /// end-of-run table still counts): to measure what statistics cost.
    #[arg(long)]
    pub(super) no_stats: bool,
    /// Stop (as on SIGTERM) after the batch in which this many events were dispatched,
    /// over all realms (benchmarks, tests).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(super) max_events: Option<u64>,
    /// Serve Prometheus metrics (/metrics) and health (/healthz, /readyz) over HTTP:
    /// a port (on 127.0.0.1) or an address with a port (0.0.0.0:9898 to serve beyond
    /// this host).
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::parse_addr)]
    pub(super) metrics: Option<std::net::SocketAddr>,
    /// Print the per-listener totals as one JSON object on stdout when done.
    #[arg(long)]
    pub(super) summary_json: bool,
    /// Serve Zulip's outgoing webhooks for the realms with `source = "push"`: a port (on
    /// 127.0.0.1) or an address with a port (0.0.0.0:8080 to take pushes from beyond
    /// this host; put a TLS proxy in front).
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::parse_addr)]
    pub(super) listen: Option<std::net::SocketAddr>,
    /// The one path pushes are taken on (the path of the bot's endpoint URL).
    #[arg(long, default_value = "/", value_name = "PATH", value_parser = parse_path, requires = "listen")]
    pub(super) listen_path: String,
    /// How long a push waits for a listener's answer to go in the HTTP response (well
    /// under Zulip's 10 s); a later answer is posted through the API.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_answer_within)]
    pub(super) answer_within: std::time::Duration,
    /// Push connections served at once, at most (more wait to be accepted).
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(super) max_connections: u32,
    /// How often push realms look for messages that mention the bot or are sent to it
    /// but were not pushed (Zulip could not reach this process), besides at start.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_interval)]
    pub(super) push_sweep: std::time::Duration,
}

/// `--listen-path`: an absolute path.
fn parse_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.contains(['?', '#', ' ']) {
        return Err(format!(
            "{s:?} is not a path: give one like /zulip (starting with /, no query)"
        ));
    }
    Ok(s.to_owned())
}

/// `--answer-within`: under Zulip's 10 s timeout.
fn parse_answer_within(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_interval(s)?;
    if d >= std::time::Duration::from_secs(9) {
        return Err(format!(
            "{s} is too close to Zulip's 10 s timeout: give at most 8s"
        ));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Show statistics from the store.
    #[arg(long)]
    pub(super) stats: bool,
    /// Show filters and policies.
    #[arg(long)]
    pub(super) config: bool,
    /// Only listeners with this status.
    #[arg(long, value_parser = ["enabled", "disabled"])]
    pub(super) status: Option<String>,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Check only this realm.
    #[arg(long, value_name = "ID")]
    pub(super) realm: Option<u32>,
    /// zuliprc to use, overriding the pipeline's credentials: `PATH` for every realm,
    /// `REALM=PATH` for one (repeat it for several).
    #[arg(long, value_name = "[REALM=]PATH", value_parser = super::realms::ConfigFile::parse)]
    pub(super) config_file: Vec<super::realms::ConfigFile>,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ToggleArgs {
    /// The listener.
    pub(super) name: String,
    /// Database URL.
    #[arg(long, value_name = "URL")]
    pub(super) store: Option<String>,
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
