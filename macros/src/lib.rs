//! # zlc-macros
//!
//! The procedural macros of zlc's Rust front end. Each is a shim over
//! `zlc_codegen::macros`, which reads the attribute with the same code, checks and
//! messages as a pipeline file's `[[listener]]`. Use them through `zlc-runtime`'s
//! `macros` feature (`zlc_runtime::listener`, `zlc_runtime::pipeline!`,
//! `zlc_runtime::main!`), so that one dependency is enough.

use proc_macro::TokenStream;

/// Makes a function a listener: `#[listener(events = "message", channels = ["devel"])]`
/// on `async fn on_deploy(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), E>`. Takes
/// exactly the keys of a pipeline file's `[[listener]]` (and `action(type = ..., ...)`
/// for actions run after the function).
#[proc_macro_attribute]
pub fn listener(args: TokenStream, item: TokenStream) -> TokenStream {
    zlc_codegen::macros::listener(args.into(), item.into()).into()
}

/// Makes a function a command people give the bot: `#[command(description = "Deploy
/// the service", allowed = ["role:admin"])]` on `async fn deploy(environment:
/// Environment, force: bool, cx: &Context<'_>) -> Result<(), E>`. The parameters before
/// the context are the command's arguments, read from the message as their types:
/// `bool` a flag (`--force`), integers, `String` a word, `zlc_runtime::Rest` the rest of
/// the message (last), `Option<...>` an optional one, an enum that derives `Choice` one
/// of its variants. Takes the keys of a `[[listener]]` besides.
#[proc_macro_attribute]
pub fn command(args: TokenStream, item: TokenStream) -> TokenStream {
    zlc_codegen::macros::command(args.into(), item.into()).into()
}

/// Makes a function run on the clock: `#[schedule(every = "weekday 09:00", timezone =
/// "Europe/Berlin")]` on `async fn standup(cx: &Context<'_>) -> Result<(), E>`. Takes
/// the keys of a `[[schedule]]` (`every` or `cron`, `timezone`, `catch_up`, ...); each
/// tick runs once however many processes run the pipeline.
#[proc_macro_attribute]
pub fn schedule(args: TokenStream, item: TokenStream) -> TokenStream {
    zlc_codegen::macros::schedule(args.into(), item.into()).into()
}

/// `#[derive(Choice)]` on an enum of unit variants: a command's argument that is one of
/// them, written in lowercase with `-` between words (`DryRun`: `dry-run`).
#[proc_macro_derive(Choice)]
pub fn choice(item: TokenStream) -> TokenStream {
    zlc_codegen::macros::choice(item.into()).into()
}

/// Puts listeners together: `pipeline!(on_deploy, bot::on_join)` defines
/// `pub static PIPELINE`, with optional `name = "...", realms = [1, 2], store = "..."`
/// first.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    zlc_codegen::macros::pipeline(input.into()).into()
}

/// `pipeline!` and the binary's `main`, whose command line is every zlc binary's
/// (`run`, `list`, `check`, `enable`, `disable`, ...).
#[proc_macro]
pub fn main(input: TokenStream) -> TokenStream {
    zlc_codegen::macros::main(input.into()).into()
}
