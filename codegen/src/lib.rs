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
//! | [`check`] | whole-pipeline checks |
//! | [`events`] | the catalog of Zulip event types, groups and template fields |
//! | [`template`] | `{{field}}` templates |
//! | [`expand`] | Rust code generation (`quote!` + prettyplease) |
//! | [`diag`] | diagnostics rendered as `file:line:col` with the line and a caret |

pub mod check;
pub mod diag;
pub mod events;
pub mod expand;
pub mod model;
pub mod template;
pub mod toml;

pub use diag::{Diagnostic, Diagnostics};
pub use model::Pipeline;

/// Parses and checks a pipeline file's text. All problems come back together.
pub fn load(file: &str, source: &str) -> Result<Pipeline, Diagnostics> {
    let (pipeline, mut d) = toml::parse(file, source);
    let Some(mut pipeline) = pipeline else {
        d.sort();
        return Err(d);
    };
    check::check(&mut pipeline, &mut d);
    d.sort();
    if d.is_empty() { Ok(pipeline) } else { Err(d) }
}
