//! # zlc-codegen
//!
//! The zlc compiler as a plain library, shared by the `zlc` command and the
//! `#[listener]` macro: one model, one set of checks, one generator.
//!
//! ```text
//! pipeline.toml ─> toml::parse ─> model::Pipeline ─> check ─> expand ─> main.rs + Cargo.toml
//! ```
//!
//! | module | role |
//! | --- | --- |
//! | [`model`] | the pipeline: realms, store, policies, listeners, filters, actions |
//! | [`toml`] | the TOML front end, with a span for every value |
//! | [`attr`] | the `#[listener]` front end (read by the same code as a file) |
//! | [`check`] | whole-pipeline checks |
//! | [`crates`] | Rust handlers in files: declared crates, their `#[listener]` found |
//! | `join` | the rules joining a listener with its handler's `#[listener]` |
//! | `load` | text to checked model: the front end, then the checks |
//! | [`events`] | the catalog of Zulip event types, groups and template fields |
//! | [`template`] | `{{field}}` templates |
//! | [`macros`] | the expansions of `#[listener]`, `pipeline!` and `main!` |
//! | [`expand`] | Rust code generation (`quote!` + prettyplease) |
//! | [`manifest`] | the one typed `Cargo.toml` every crate zlc writes is made from |
//! | [`diag`] | diagnostics rendered as `file:line:col` with the line and a caret |

pub mod attr;
pub mod check;
pub mod crates;
pub mod diag;
pub mod events;
pub mod expand;
mod join;
mod load;
pub mod macros;
pub mod manifest;
pub mod model;
pub mod template;
pub mod toml;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use load::Loaded;
pub use model::Pipeline;

/// Parses and checks a pipeline file's text. All problems come back together: `Err`
/// holds every error and warning when there is at least one error. Handlers' crates
/// are not read: see [`load_with`].
pub fn load(file: &str, source: &str) -> Result<Loaded, Diagnostics> {
    load_with(file, source, None)
}

/// [`load`], reading the crates the pipeline declares (`[crates]`, relative to `base`,
/// the file's folder) to join each handler's `#[listener]` to its listener.
pub fn load_with(
    file: &str,
    source: &str,
    base: Option<&std::path::Path>,
) -> Result<Loaded, Diagnostics> {
    load::checked(file, source, |p, d| {
        if let Some(base) = base {
            crates::resolve(p, base, d);
        }
        crates::check_declared(p, d, base.is_some());
    })
}
