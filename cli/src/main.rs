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
//! | `sandbox` | run the built-in fake Zulip server; `send`/`react` post to it as a person ([`sandbox`]) |
//! | `completions`, `man` | a shell's completion script, the manual page |
//!
//! Logs and progress go to stderr; data goes to stdout. Errors are reported once, by
//! `main`, with their context chain, and exit with status 1.

mod demo;
mod opt;
mod sandbox;
mod stats;
mod tail;

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Parser;
use zlc::{compile, testing};

use opt::{Cli, Command, New};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.log.init();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command: each arm calls the function that does it.
fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::New(New::Pipeline(a)) => new_pipeline(&a),
        Command::New(New::Project(a)) => new_project(&a),
        Command::Check(a) => compile::check(&a.files).map(|()| ExitCode::SUCCESS),
        Command::Expand(a) => compile::expand(&a.file, a.cargo_toml).map(|()| ExitCode::SUCCESS),
        Command::Build(a) => compile::build(&a).map(|bin| {
            println!("{}", bin.display());
            ExitCode::SUCCESS
        }),
        Command::Run(a) if a.watch => block_on(zlc::watch::watch(&a)),
        Command::Run(a) => compile::run(&a),
        Command::Test(a) => testing::test(&a).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::Tail(a) => block_on(tail::run(a)).map(|()| ExitCode::SUCCESS),
        Command::Stats(a) => block_on(stats::run(a)).map(|()| ExitCode::SUCCESS),
        Command::Sandbox(a) => block_on(sandbox(a)).map(|()| ExitCode::SUCCESS),
        Command::Completions(a) => Ok(zlc_runtime::app::print_completions(
            <Cli as clap::CommandFactory>::command(),
            a.shell,
        )),
        Command::Schema => {
            print!("{}", zlc::schema::text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => Ok(zlc_runtime::app::print_man(
            <Cli as clap::CommandFactory>::command(),
        )),
    }
}

/// Runs an async command on zlc's runtime.
fn block_on<T>(command: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let runtime = zlc_runtime::threads::runtime().context("cannot start the async runtime")?;
    runtime.block_on(command)
}

/// `zlc new pipeline`.
fn new_pipeline(a: &opt::NewPipelineArgs) -> Result<ExitCode> {
    let p = compile::new_pipeline(&a.name, &a.dir, a.force)?;
    eprintln!(
        "wrote {p}; next: zlc test {p} (its test cases), then zlc build {p}",
        p = p.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `zlc new project`.
fn new_project(a: &opt::NewProjectArgs) -> Result<ExitCode> {
    let runtime = zlc::area::runtime_dep()?;
    let p = zlc::project::new_project(&a.name, &a.dir, &runtime, &zlc::area::home()?)?;
    eprintln!(
        "wrote {d}/; next: cd {d} && cargo test, then zlc build {d}",
        d = p.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `zlc sandbox`, until interrupted; or `send`/`react` to a running one.
async fn sandbox(a: opt::SandboxArgs) -> Result<()> {
    if let Some(cmd) = a.action {
        return sandbox::run(cmd).await;
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    zlc_runtime::shutdown::cancel_on_signal(cancel.clone());
    let backlog = a.backlog.map(|path| (path, a.backlog_repeat));
    let files = demo::SandboxFiles {
        zuliprc: &a.zuliprc,
        people: &a.people,
        person_zuliprc: a.person_zuliprc.as_deref(),
    };
    demo::sandbox(
        &a.addr,
        files,
        (a.traffic, a.push.as_deref()),
        backlog,
        cancel,
    )
    .await
}
