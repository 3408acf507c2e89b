//! How every connection of a `run` works, read once from its options.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::cli::RunArgs;

/// How every connection of a `run` works, read once from its options: one struct from
/// the command line to the loop, so that a new option is added in one place.
#[derive(Debug)]
pub(super) struct RunSettings {
    /// `--listen` and its options: the push server, when the pipeline has push realms.
    pub(super) push: Option<crate::push::PushSettings>,
    /// `--push-sweep`: how often push realms look for messages that were not pushed.
    pub(super) push_sweep: Duration,
    /// `--listeners`, if given.
    pub(super) only: Option<Vec<String>>,
    /// `--replay`: the file played instead of Zulip.
    pub(super) replay: Option<PathBuf>,
    /// `--config-file`: the zuliprc overriding the pipeline's credentials.
    pub(super) config_file: Vec<super::realms::ConfigFile>,
    /// Jobs in flight at most, over all listeners.
    pub(super) max_in_flight: usize,
    /// How long jobs may take to end at shutdown.
    pub(super) drain_timeout: Duration,
    /// Whether statistics are written (`--no-stats`: only checkpoints and the event log).
    pub(super) write_stats: bool,
    /// How often acknowledged work is written at the latest.
    pub(super) write_every: Duration,
    /// `--max-events`: the process stops (`shutdown`) after the batch in which this many
    /// events were dispatched, counted over all its connections (the batch is
    /// finished, so that it is acknowledged and counted whole).
    pub(super) stop_after: Option<(u64, AtomicU64)>,
}

impl RunSettings {
    /// The settings `args` give.
    pub(super) fn of(args: &RunArgs) -> Self {
        RunSettings {
            push: args.listen.map(|listen| crate::push::PushSettings {
                listen,
                path: args.listen_path.clone(),
                answer_within: args.answer_within,
                max_connections: args.max_connections as usize,
            }),
            push_sweep: args.push_sweep,
            only: (!args.listeners.is_empty()).then(|| args.listeners.clone()),
            replay: args.replay.clone(),
            config_file: args.config_file.clone(),
            max_in_flight: args.max_in_flight as usize,
            drain_timeout: Duration::from_secs(args.drain_timeout),
            write_stats: !args.no_stats,
            write_every: args.stats_interval,
            stop_after: args.max_events.map(|n| (n, AtomicU64::new(0))),
        }
    }
}
