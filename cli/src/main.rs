//! `zlc`, the Zulip Listener Compiler's command line.
//!
//! | command | what it does |
//! | --- | --- |
//! | `new pipeline` | write a commented pipeline file to start from |
//! | `new project` | write a crate of listeners in Rust, with tests ([`zlc::project`]) |
//! | `check` | check pipeline files, reporting every mistake with its place |
//! | `expand` | print the Rust code a pipeline compiles to |
//! | `build` | compile a pipeline into a listener binary |
//! | `run` | build if needed, then run the binary; `--watch` rebuilds on save and hands over ([`zlc::watch`]) |
//! | `test` | run the test cases pipeline files carry ([`zlc::testing`]) |
//! | `tail` | follow one realm and print each event as a JSON line ([`tail`]) |
//! | `stats` | what a store says about its pipelines |
//! | `sandbox` | run the built-in fake Zulip server |
//!
//! Logs and progress go to stderr; data goes to stdout. Errors are reported once, by
//! `main`, with their context chain, and exit with status 1.

mod demo;

use zlc::compile;
mod tail;

use clap::{Parser, Subcommand};

/// The Zulip Listener Compiler: follow, record and react to Zulip events.
#[derive(Debug, Parser)]
#[command(name = "zlc", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    log: zlc_runtime::logging::LogArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create something new from a template.
    #[command(subcommand)]
    New(New),
    /// Check pipeline files; every mistake is reported with file:line:col.
    Check {
        /// Pipeline files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Print the Rust code a pipeline compiles to.
    Expand {
        /// The pipeline file.
        file: std::path::PathBuf,
        /// Print the generated Cargo.toml first.
        #[arg(long)]
        cargo_toml: bool,
    },
    /// Compile a pipeline (or build a project) into a listener binary.
    Build(compile::BuildArgs),
    /// Build a pipeline if needed and run its binary (`zlc run FILE -- run --replay day.jsonl`).
    Run(compile::RunArgs),
    /// Run the test cases (`[[test]]`) of pipeline files, without a server.
    ///
    /// Every case gets fresh listeners; Zulip posts and HTTP calls are recorded, not
    /// made. Exit status 1 when a case fails.
    Test(zlc::testing::TestArgs),
    /// Follow one realm and print every event as one JSON line on stdout.
    ///
    /// The output is what replay files contain: `zlc tail > day.jsonl` records a day
    /// that listeners can play back. With `--store`, the place in the event stream is
    /// saved after every batch, so a restart resumes where the last run stopped.
    Tail(tail::TailArgs),
    /// What a store says about its pipelines: per-listener statistics, dead letters,
    /// handlers' counters, and where each realm connection stands.
    Stats {
        /// Database URL (`sqlite://analytics.db`, `postgres://...`).
        #[arg(long, value_name = "URL", env = "ZLC_STORE_URL")]
        store: String,
        /// Only these pipelines (default: every one in the store).
        pipelines: Vec<String>,
        /// Only the hours this recent: `30m`, `2h`, `7d` (default: all time).
        #[arg(long, value_name = "DURATION", value_parser = zlc_runtime::overview::parse_since)]
        since: Option<i64>,
        /// One JSON object per pipeline instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Run the built-in fake Zulip server, to try listeners without an organization.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9991")]
        addr: String,
        /// Where to write the bot's zuliprc.
        #[arg(long, default_value = "sandbox.zuliprc")]
        zuliprc: std::path::PathBuf,
        /// Also write the zuliprc of a person (Iago) here, to post as someone the bot's
        /// listeners answer (the bot's own messages are skipped).
        #[arg(long, value_name = "FILE")]
        person_zuliprc: Option<std::path::PathBuf>,
        /// Generate demo traffic.
        #[arg(long)]
        traffic: bool,
        /// A JSONL file of `GET /events` events (gzipped or not) waiting in every queue
        /// that wants messages from the moment it is registered (benchmarks).
        #[arg(long, value_name = "FILE")]
        backlog: Option<std::path::PathBuf>,
        /// How many times over the backlog file is queued.
        #[arg(long, default_value_t = 1, value_name = "N", requires = "backlog")]
        backlog_repeat: usize,
    },
}

#[derive(Debug, Subcommand)]
enum New {
    /// Write pipelines/NAME.toml, a commented pipeline to start from.
    Pipeline {
        /// The pipeline's name (letters, digits, `_`, `-`).
        name: String,
        /// Folder to write it in.
        #[arg(long, default_value = "pipelines")]
        dir: std::path::PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Write NAME/, a crate of listeners written in Rust (`#[listener]`), with tests,
    /// a README and a zuliprc template. Nothing is overwritten.
    Project {
        /// The project's name: the crate's and the binary's (letters, digits, `_`, `-`).
        name: String,
        /// Folder to create it in.
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli.log.init();
    let sync = match &cli.command {
        Command::New(New::Pipeline { name, dir, force }) => {
            Some(compile::new_pipeline(name, dir, *force).map(|p| {
                eprintln!(
                    "wrote {}; next: zlc test {} (its test cases), then zlc build {}",
                    p.display(),
                    p.display(),
                    p.display()
                );
                std::process::ExitCode::SUCCESS
            }))
        }
        Command::New(New::Project { name, dir }) => Some(
            zlc::area::runtime_dep()
                .and_then(|rt| zlc::project::new_project(name, dir, &rt))
                .map(|p| {
                    eprintln!(
                        "wrote {d}/; next: cd {d} && cargo test, then zlc build {d}",
                        d = p.display()
                    );
                    std::process::ExitCode::SUCCESS
                }),
        ),
        Command::Check { files } => {
            Some(compile::check(files).map(|()| std::process::ExitCode::SUCCESS))
        }
        Command::Expand { file, cargo_toml } => {
            Some(compile::expand(file, *cargo_toml).map(|()| std::process::ExitCode::SUCCESS))
        }
        Command::Build(args) => Some(compile::build(args).map(|p| {
            println!("{}", p.display());
            std::process::ExitCode::SUCCESS
        })),
        Command::Run(args) if !args.watch => Some(compile::run(args)),
        Command::Run(_) => None,
        Command::Test(args) => Some(zlc::testing::test(args).map(|ok| {
            if ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        })),
        Command::Tail(_) | Command::Sandbox { .. } | Command::Stats { .. } => None,
    };
    if let Some(result) = sync {
        return match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
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
    if let Command::Run(args) = &cli.command {
        return match runtime.block_on(zlc::watch::watch(args)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let result = runtime.block_on(async {
        match cli.command {
            Command::Tail(args) => tail::run(args).await,
            Command::Stats {
                store,
                pipelines,
                since,
                json,
            } => stats(&store, pipelines, since, json).await,
            Command::Sandbox {
                addr,
                zuliprc,
                person_zuliprc,
                traffic,
                backlog,
                backlog_repeat,
            } => {
                let cancel = tokio_util::sync::CancellationToken::new();
                zlc_runtime::shutdown::cancel_on_signal(cancel.clone());
                let backlog = backlog.map(|path| (path, backlog_repeat));
                demo::sandbox(
                    &addr,
                    &zuliprc,
                    person_zuliprc.as_deref(),
                    traffic,
                    backlog,
                    cancel,
                )
                .await
            }
            _ => Ok(()),
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

/// `zlc stats`: every pipeline in the store (or those named), as tables or JSON.
async fn stats(url: &str, only: Vec<String>, since: Option<i64>, json: bool) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if !url.starts_with("postgres") {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(path).exists() {
            anyhow::bail!(
                "there is no store at {path} (a pipeline's binary creates it when it runs)"
            );
        }
    }
    let store = zlc_runtime::store::Store::open(url)
        .await
        .with_context(|| format!("opening {}", zlc_runtime::store::redact_url(url)))?;
    let pipelines = if only.is_empty() {
        store.pipelines().await?
    } else {
        only
    };
    if pipelines.is_empty() {
        anyhow::bail!(
            "{} holds no pipeline yet (a pipeline's binary writes there when it runs)",
            store.url()
        );
    }
    for (i, name) in pipelines.iter().enumerate() {
        let overview = zlc_runtime::overview::Overview::load(&store, name, since).await?;
        if json {
            println!("{}", overview.json());
        } else {
            if i > 0 {
                println!();
            }
            print!("{}", overview.text());
        }
    }
    store.close().await;
    Ok(())
}
