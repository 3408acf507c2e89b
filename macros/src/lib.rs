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
