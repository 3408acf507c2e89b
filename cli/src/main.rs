//! `zlc`, the Zulip Listener Compiler's command line.
//!
//! | command | what it does |
//! | --- | --- |
//! | `tail` | follow one realm and print each event as a JSON line ([`tail`]) |
//!
//! Logs and progress go to stderr; data goes to stdout. Errors are reported once, by
//! `main`, with their context chain, and exit with status 1.

mod demo;
mod tail;

use clap::{Parser, Subcommand};

/// The Zulip Listener Compiler: follow, record and react to Zulip events.
#[derive(Debug, Parser)]
#[command(name = "zlc", version, about, propagate_version = true)]
struct Cli {
    /// Log level for stderr: error, warn, info, debug or trace (RUST_LOG overrides).
    #[arg(long, global = true, default_value = "info", value_name = "LEVEL")]
    log_level: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow one realm and print every event as one JSON line on stdout.
    ///
    /// The output is what replay files contain: `zlc tail > day.jsonl` records a day
    /// that listeners can play back. With `--store`, the place in the event stream is
    /// saved after every batch, so a restart resumes where the last run stopped.
    Tail(tail::TailArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Tail(args) => tail::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("warn,zlc={level},zlc_runtime={level}")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
