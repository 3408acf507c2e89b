//! Rust handlers in pipeline files: the crates a pipeline declares (`[crates]`) and the
//! `#[listener]` of each handler a listener names.
//!
//! ```toml
//! [crates]
//! deploy_tools = "rust/deploy_tools"     # relative to the pipeline file
//!
//! [[listener]]
//! name = "deploys"
//! topics = ["/^release/"]
//! handler = "deploy_tools::announce"
//! ```
//!
//! The handler's attribute is read from the crate's source (the module path is
//! followed from `src/lib.rs` through `mod` items and their files) and read by the same
//! code that expands it ([`crate::attr`]). What it says joins the listener:
//!
//! * events: a listener without `events` takes the handler's; with `events`, each must
//!   be one the handler accepts (its argument's type depends on them);
//! * filters: a message must pass both the listener's and the handler's. Flags that
//!   both set must agree; channels, senders and exact topics must leave something in
//!   common; `max_age` takes the shorter;
//! * realms: both lists must share one (the listener runs on those they share);
//! * policies and config: the listener's, else the handler's;
//! * the attribute's own actions do not run: in a file, the listener's actions do.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use syn::Item;

use crate::diag::{Diagnostics, Span, suggest};
use crate::model::*;

/// Checks what needs no files: handlers are `crate::function` paths into declared
/// crates, and crate names are Rust names. `resolved`: whether [`resolve`] ran (else a
/// listener that leaves `events` to its handler cannot be checked).
pub fn check_declared(p: &Pipeline, d: &mut Diagnostics, resolved: bool) {
    let names: Vec<&str> = p.crates.iter().map(|c| c.name.value.as_str()).collect();
    for c in p.crates.iter().filter(|c| !is_rust_name(&c.name.value)) {
        d.error(
            c.name.span.clone(),
            format!("crate name `{}` is not a Rust name", c.name.value),
        )
        .help = Some(format!(
            "declare the crate by its name in Rust code (`{}`)",
            c.name.value.replace('-', "_")
        ));
    }
    let mut used = vec![false; p.crates.len()];
    for l in &p.listeners {
        for a in &l.actions {
            let Action::Handler { function, .. } = &a.value else {
                continue;
            };
            if crate::check::handler_path(function).is_err() {
                continue; // reported by the checks
            }
            if let Some(i) = handler_crate(function, &a.span, &names, d) {
                used[i] = true;
            }
        }
        if l.events.is_empty()
            && !resolved
            && l.actions
                .iter()
                .any(|a| matches!(a.value, Action::Handler { .. }))
        {
            d.error(
                l.span.clone(),
                format!(
                    "listener `{}` leaves `events` to its handler, whose #[listener] was not read",
                    l.name.value
                ),
            )
            .help = Some("give `events`, or check the file with `zlc check`, which reads the handler's crate".into());
        }
    }
    for (c, used) in p.crates.iter().zip(used) {
        if !used {
            d.warning(
                c.name.span.clone(),
                format!(
                    "crate `{}` is declared, but no listener names a handler in it",
                    c.name.value
                ),
            );
        }
    }
}

fn is_rust_name(name: &str) -> bool {
    syn::parse_str::<syn::Ident>(name).is_ok() && !name.contains('-')
}

/// The index among the declared crate `names` of the crate handler `function` is in;
/// `None` (with an error) when it names none or one not declared.
fn handler_crate(
    function: &str,
    span: &Span,
    names: &[&str],
    d: &mut Diagnostics,
) -> Option<usize> {
    let segments: Vec<&str> = function.split("::").collect();
    if segments.len() < 2 {
        let help = match names.first() {
            Some(c) => format!("e.g. \"{c}::{function}\""),
            None => format!(
                "declare the crate it is in: [crates] my_bot = \"path/to/my_bot\", then \"my_bot::{function}\""
            ),
        };
        let msg =
            format!("handler `{function}` needs the crate it is in: `crate_name::{function}`");
        d.error(span.clone(), msg).help = Some(help);
        return None;
    }
    let krate = segments[0];
    let found = names.iter().position(|n| *n == krate);
    if found.is_none() {
        let mut msg = format!(
            "handler `{function}` is in crate `{krate}`, which the pipeline does not declare"
        );
        if let Some(s) = suggest(krate, names.iter().copied()) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        d.error(span.clone(), msg).help = Some(format!(
            "declare it with its folder, relative to this file: [crates] {krate} = \"path/to/{krate}\""
        ));
    }
    found
}

/// Finds each declared crate under `base` (the pipeline file's folder), then reads the
/// `#[listener]` of each handler and joins it to its listener (see the module docs).
pub fn resolve(p: &mut Pipeline, base: &Path, d: &mut Diagnostics) {
    let libs: Vec<Option<PathBuf>> = p
        .crates
        .iter_mut()
        .map(|c| find_declared(c, base, d))
        .collect();
    let crates: Vec<(String, Option<PathBuf>)> = p
        .crates
        .iter()
        .map(|c| c.name.value.clone())
        .zip(libs)
        .collect();
    for l in &mut p.listeners {
        join_listener(l, &crates, base, d);
    }
}

/// Finds declared crate `c` under `base`: its `lib.rs` (and `c.found`), or `None` with
/// an error.
fn find_declared(c: &mut CrateDecl, base: &Path, d: &mut Diagnostics) -> Option<PathBuf> {
    let found = match find_crate(base, &base.join(&c.path.value)) {
        Ok(found) => found,
        Err(e) => {
            d.error(c.path.span.clone(), e);
            return None;
        }
    };
    if found.lib_name != c.name.value {
        d.error(
            c.name.span.clone(),
            format!(
                "the crate in {:?} is `{}` in Rust code, not `{}`",
                c.path.value, found.lib_name, c.name.value
            ),
        )
        .help = Some(format!(
            "declare it as `{} = {:?}`",
            found.lib_name, c.path.value
        ));
        return None;
    }
    c.found = Some((found.package, found.dir.display().to_string()));
    Some(found.lib)
}

/// Reads the `#[listener]` of `l`'s handler (in one of `crates`: name, `lib.rs`) and
/// joins it to `l`.
fn join_listener(
    l: &mut Listener,
    crates: &[(String, Option<PathBuf>)],
    base: &Path,
    d: &mut Diagnostics,
) {
    let mut handlers = l.actions.iter().filter_map(|a| match &a.value {
        Action::Handler { function, .. } => Some((function.clone(), a.span.clone())),
        _ => None,
    });
    let Some((function, span)) = handlers.next() else {
        return;
    };
    if let Some((_, second)) = handlers.next() {
        d.error(
            second,
            format!(
                "listener `{}` names a second handler; give each its own listener",
                l.name.value
            ),
        );
        return;
    }
    let mut segments = function.split("::");
    let Some(krate) = segments.next() else {
        return;
    };
    let Some((_, Some(lib))) = crates.iter().find(|(n, _)| n == krate) else {
        return; // undeclared (reported by `check_declared`) or not found (above)
    };
    let path: Vec<&str> = segments.collect();
    if path.is_empty() {
        return;
    }
    let (ident, tokens, file) = match find_listener(base, lib, &path) {
        Ok(found) => found,
        Err(e) => {
            d.error(span, format!("handler `{function}`: {e}"));
            return;
        }
    };
    let parsed = crate::attr::parse(&ident, tokens);
    let Some(attr) = parsed.listener else {
        let first = parsed
            .errors
            .first()
            .map_or_else(String::new, |e| format!(": {e}"));
        d.error(
            span,
            format!(
                "the #[listener] of `{function}` (in {}) has errors{first}",
                shown(base, &file)
            ),
        )
        .help = Some("cargo shows each on its token: build the crate".into());
        return;
    };
    l.join_handler(&attr, &function, &span, d);
}

/// A crate found on disk.
struct FoundCrate {
    package: String,
    lib_name: String,
    lib: PathBuf,
    dir: PathBuf,
}

/// `path` as messages show it: relative to the pipeline file's folder.
fn shown(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn find_crate(base: &Path, dir: &Path) -> Result<FoundCrate, String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("no crate at {}: {e}", shown(base, &manifest)))?;
    let t: toml::Table = toml::from_str(&text)
        .map_err(|e| format!("{} cannot be read: {e}", shown(base, &manifest)))?;
    let package = t
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| format!("{} has no [package] name", shown(base, &manifest)))?
        .to_owned();
    let lib = t.get("lib");
    let lib_name = lib
        .and_then(|l| l.get("name"))
        .and_then(toml::Value::as_str)
        .map_or_else(|| package.replace('-', "_"), str::to_owned);
    let lib_path = lib
        .and_then(|l| l.get("path"))
        .and_then(toml::Value::as_str)
        .unwrap_or("src/lib.rs");
    let lib = dir.join(lib_path);
    if !lib.is_file() {
        return Err(format!(
            "the crate at {} has no library ({} is missing): handlers live in a library crate",
            shown(base, dir),
            shown(base, &lib)
        ));
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(FoundCrate {
        package,
        lib_name,
        lib,
        dir,
    })
}

/// The largest source file read while looking for a handler.
const MAX_SOURCE_BYTES: u64 = 4 << 20;

fn parse_file(base: &Path, path: &Path) -> Result<Vec<Item>, String> {
    let name = shown(base, path);
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    if size > MAX_SOURCE_BYTES {
        return Err(format!("{name} is larger than {MAX_SOURCE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    syn::parse_file(&text)
        .map(|f| f.items)
        .map_err(|e| format!("{name} does not parse as Rust: {e}"))
}

/// Follows `path` (modules, then the function) from the library file `lib`; returns the
/// function's name, its `#[listener]` arguments and the file it is in.
fn find_listener(
    base: &Path,
    lib: &Path,
    path: &[&str],
) -> Result<(syn::Ident, TokenStream, PathBuf), String> {
    let Some((function, modules)) = path.split_last() else {
        return Err("no function named".into());
    };
    let mut file = lib.to_path_buf();
    let mut dir = lib.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut items = parse_file(base, &file)?;
    for m in modules {
        let found = items.iter().find_map(|i| match i {
            Item::Mod(item) if item.ident == m => Some(item.clone()),
            _ => None,
        });
        let Some(item) = found else {
            return Err(format!("no module `{m}` in {}", shown(base, &file)));
        };
        items = match item.content {
            Some((_, inner)) => inner,
            None => {
                let candidates = [dir.join(format!("{m}.rs")), dir.join(m).join("mod.rs")];
                let Some(next) = candidates.iter().find(|c| c.is_file()) else {
                    return Err(format!(
                        "module `{m}` is in neither {} nor {}",
                        shown(base, &candidates[0]),
                        shown(base, &candidates[1])
                    ));
                };
                file = next.clone();
                parse_file(base, &file)?
            }
        };
        dir = dir.join(m);
    }
    let f = items.iter().find_map(|i| match i {
        Item::Fn(f) if f.sig.ident == function => Some(f),
        _ => None,
    });
    let Some(f) = f else {
        return Err(format!(
            "no function `{function}` in {} (functions made by macros or re-exported with `use` are not followed: name the module the function is written in)",
            shown(base, &file)
        ));
    };
    let attr = f.attrs.iter().find(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "listener")
    });
    let Some(attr) = attr else {
        return Err(format!(
            "`{function}` in {} has no #[listener] attribute; add one: it says which events the function accepts",
            shown(base, &file)
        ));
    };
    let tokens = match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    };
    Ok((f.sig.ident.clone(), tokens, file))
}
