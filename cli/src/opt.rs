//! The `zlc` command line as clap reads it: the commands and their options. What each
//! does is in the module its arm in `main.rs` calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use zlc::{compile, testing};

use crate::tail;

/// The Zulip Listener Compiler: follow, record and react to Zulip events.
#[derive(Debug, Parser)]
#[command(name = "zlc", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub log: zlc_runtime::logging::LogArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create something new from a template.
    #[command(subcommand)]
    New(New),
    /// Check pipeline files; every mistake is reported with file:line:col.
    Check(CheckArgs),
    /// Print the Rust code a pipeline compiles to.
    Expand(ExpandArgs),
    /// Compile a pipeline (or build a project) into a listener binary.
    Build(compile::BuildArgs),
    /// Build a pipeline if needed and run its binary (`zlc run FILE -- run --replay day.jsonl`).
    Run(compile::RunArgs),
    /// Run the test cases (`[[test]]`) of pipeline files, without a server.
    ///
    /// Every case gets fresh listeners; Zulip posts and HTTP calls are recorded, not
    /// made. Exit status 1 when a case fails.
    Test(testing::TestArgs),
    /// Follow one realm and print every event as one JSON line on stdout.
    ///
    /// The output is what replay files contain: `zlc tail > day.jsonl` records a day
    /// that listeners can play back. With `--store`, the place in the event stream is
    /// saved after every batch, so a restart resumes where the last run stopped.
    Tail(tail::TailArgs),
    /// What a store says about its pipelines: per-listener statistics, dead letters,
    /// handlers' counters, and where each realm connection stands.
    Stats(StatsArgs),
    /// Run the built-in fake Zulip server, to try listeners without an organization.
    Sandbox(SandboxArgs),
    /// Print a completion script for a shell: `zlc completions bash > ~/.local/share/bash-completion/completions/zlc`.
    Completions(CompletionsArgs),
    /// Print zlc's manual page (roff): `zlc man | man -l -`.
    Man,
    /// Print the JSON Schema of pipeline files, for editors (`#:schema` comment).
    ///
    /// taplo and VS Code's Even Better TOML read it: keys completed and explained as
    /// you type, a misspelt key or a wrong type marked. `zlc new pipeline` writes it
    /// beside the new file, which names it on its first line.
    Schema,
}

/// `zlc completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum New {
    /// Write pipelines/NAME.toml, a commented pipeline to start from.
    Pipeline(NewPipelineArgs),
    /// Write NAME/, a crate of listeners written in Rust (`#[listener]`), with tests,
    /// a README and a zuliprc template. Nothing is overwritten.
    Project(NewProjectArgs),
}

/// `zlc new pipeline`.
#[derive(Debug, Args)]
pub struct NewPipelineArgs {
    /// The pipeline's name (letters, digits, `_`, `-`).
    pub name: String,
    /// Folder to write it in.
    #[arg(long, default_value = "pipelines")]
    pub dir: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `zlc new project`.
#[derive(Debug, Args)]
pub struct NewProjectArgs {
    /// The project's name: the crate's and the binary's (letters, digits, `_`, `-`).
    pub name: String,
    /// Folder to create it in.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// `zlc check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Pipeline files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `zlc expand`.
#[derive(Debug, Args)]
pub struct ExpandArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Print the generated Cargo.toml first.
    #[arg(long)]
    pub cargo_toml: bool,
}

/// `zlc stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Database URL (`sqlite://analytics.db`, `postgres://...`).
    #[arg(long, value_name = "URL", env = "ZLC_STORE_URL")]
    pub store: String,
    /// Only these pipelines (default: every one in the store).
    pub pipelines: Vec<String>,
    /// Only the hours this recent: `30m`, `2h`, `7d` (default: all time).
    #[arg(long, value_name = "DURATION", value_parser = zlc_runtime::overview::parse_since)]
    pub since: Option<i64>,
    /// One JSON object per pipeline instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `zlc sandbox`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    /// Post to a running sandbox as one of its people (without a subcommand: run it).
    #[command(subcommand)]
    pub action: Option<SandboxCmd>,
    /// Where to write the zuliprc of each of the sandbox's people (Iago, Othello,
    /// Desdemona), to post as them with `zlc sandbox send` or any Zulip client.
    #[arg(long, default_value = "sandbox-people", value_name = "DIR")]
    pub people: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9991")]
    pub addr: String,
    /// Where to write the bot's zuliprc.
    #[arg(long, default_value = "sandbox.zuliprc")]
    pub zuliprc: PathBuf,
    /// Also write the zuliprc of a person (Iago) here, to post as someone the bot's
    /// listeners answer (the bot's own messages are skipped).
    #[arg(long, value_name = "FILE")]
    pub person_zuliprc: Option<PathBuf>,
    /// Generate demo traffic.
    #[arg(long)]
    pub traffic: bool,
    /// Make the bot an outgoing-webhook bot: the messages that mention it, and the
    /// direct messages to it, are POSTed to URL as Zulip does (the token is written to
    /// the bot's zuliprc as `token=`).
    #[arg(long, value_name = "URL")]
    pub push: Option<String>,
    /// A JSONL file of `GET /events` events (gzipped or not) waiting in every queue
    /// that wants messages from the moment it is registered (benchmarks).
    #[arg(long, value_name = "FILE")]
    pub backlog: Option<PathBuf>,
    /// How many times over the backlog file is queued.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "backlog")]
    pub backlog_repeat: usize,
}

/// What `zlc sandbox` can do besides serving.
#[derive(Debug, Subcommand)]
pub enum SandboxCmd {
    /// Post a message as one of the sandbox's people: `"#channel > topic" TEXT`, or
    /// `--dm NAME TEXT` for a direct message (to the bot, or to a person).
    Send(SandboxSendArgs),
    /// React to a message as one of the sandbox's people.
    React(SandboxReactArgs),
    /// Edit a message as the person who sent it (listeners with `on_edit = "update"`
    /// run again and update their answers).
    Edit(SandboxEditArgs),
    /// Delete a message as the person who sent it (listeners with `on_delete =
    /// "delete"` delete their answers).
    Delete(SandboxDeleteArgs),
}

/// `zlc sandbox edit`.
#[derive(Debug, Args)]
pub struct SandboxEditArgs {
    /// Who edits: the person who sent the message (`iago`, `othello`, `desdemona`).
    #[arg(long = "as", default_value = "iago", value_name = "NAME")]
    pub who: String,
    /// Where the people's zuliprc files are.
    #[arg(long, default_value = "sandbox-people", value_name = "DIR")]
    pub people: PathBuf,
    /// The message (its id, as `send` prints it).
    pub message_id: i64,
    /// Its new text.
    pub text: String,
}

/// `zlc sandbox delete`.
#[derive(Debug, Args)]
pub struct SandboxDeleteArgs {
    /// Who deletes: the person who sent the message.
    #[arg(long = "as", default_value = "iago", value_name = "NAME")]
    pub who: String,
    /// Where the people's zuliprc files are.
    #[arg(long, default_value = "sandbox-people", value_name = "DIR")]
    pub people: PathBuf,
    /// The message (its id, as `send` prints it).
    pub message_id: i64,
}

/// `zlc sandbox send`.
#[derive(Debug, Args)]
pub struct SandboxSendArgs {
    /// Who posts: a person of the sandbox (`iago`, `othello`, `desdemona`).
    #[arg(long = "as", default_value = "iago", value_name = "NAME")]
    pub who: String,
    /// A direct message to NAME (a person's or the bot's name or email).
    #[arg(long, value_name = "NAME")]
    pub dm: Option<String>,
    /// Where the people's zuliprc files are (`zlc sandbox --people`).
    #[arg(long, default_value = "sandbox-people", value_name = "DIR")]
    pub people: PathBuf,
    /// `"#channel > topic"` and the text; with `--dm`, the text alone.
    #[arg(required = true, num_args = 1..=2, value_name = "[PLACE] TEXT")]
    pub words: Vec<String>,
}

/// `zlc sandbox react`.
#[derive(Debug, Args)]
pub struct SandboxReactArgs {
    /// Who reacts (`iago`, `othello`, `desdemona`).
    #[arg(long = "as", default_value = "iago", value_name = "NAME")]
    pub who: String,
    /// Where the people's zuliprc files are.
    #[arg(long, default_value = "sandbox-people", value_name = "DIR")]
    pub people: PathBuf,
    /// The message (its id, as `send` prints it).
    pub message_id: i64,
    /// The emoji's name (`tada`, `:tada:`).
    pub emoji: String,
}
