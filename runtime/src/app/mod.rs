//! The command line of every generated listener binary.
//!
//! ```text
//! NAME run   [--listeners a,b] [--realm ID] [--replay FILE] [--store URL] [--config-file [REALM=]PATH]
//! NAME list  [--stats] [--config] [--status enabled|disabled] [--store URL]
//! NAME check [--realm ID] [--config-file [REALM=]PATH]
//! NAME enable|disable LISTENER [--store URL]
//! NAME config LISTENER [KEY [VALUE | --unset]] [--store URL]
//! NAME dead-letters list|replay|drop ...
//! NAME stats [--since DURATION] [--json] [--store URL]
//! NAME completions SHELL | NAME man
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
//! | [`ledger`] | what a connection may acknowledge and write (a pure state machine) |
//! | [`realms`] | which realms run, and their credentials |
//! | [`manage`] | `list`, `check`, `config`, `enable`, `disable`, `test` |
//! | [`live`] | enable/disable and config changes reaching running processes |
//! | [`dead`] | `dead-letters list`, `replay`, `drop` |
//! | [`report`] | the end-of-run totals |
//! | [`cli`] | the commands and their options |

mod build;
mod cli;
mod connection;
mod dead;
mod fleet;
mod ledger;
mod live;
mod manage;
mod notify;
mod push;
mod realms;
mod report;
mod schedules;
mod settings;
mod supervisor;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Cmd};

use crate::pipeline::PipelineDesc;

pub use crate::jobs::dispatch::DispatchFn;
pub use crate::jobs::engine::Code;
pub use crate::jobs::handler::HandlerTable;
pub use realms::realm_config;

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
    let cli = match Cli::from_arg_matches(&cmd.clone().get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match &cli.command {
        Cmd::Completions(a) => return print_completions(cmd, a.shell),
        Cmd::Man => return print_man(cmd),
        _ => {}
    }
    cli.log.init();
    let rt = match crate::threads::runtime() {
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
            // Answered above, before the runtime starts.
            Cmd::Completions(_) | Cmd::Man => Ok(true),
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

/// `completions SHELL`: `cmd`'s completion script on stdout.
pub fn print_completions(mut cmd: clap::Command, shell: clap_complete::Shell) -> ExitCode {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// `man`: `cmd`'s manual page (roff) on stdout.
pub fn print_man(cmd: clap::Command) -> ExitCode {
    match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the manual page: {e}");
            ExitCode::FAILURE
        }
    }
}
