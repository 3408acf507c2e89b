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
    for c in &p.crates {
        if syn::parse_str::<syn::Ident>(&c.name.value).is_err() || c.name.value.contains('-') {
            d.error(
                c.name.span.clone(),
                format!("crate name `{}` is not a Rust name", c.name.value),
            )
            .help = Some(format!(
                "declare the crate by its name in Rust code (`{}`)",
                c.name.value.replace('-', "_")
            ));
        }
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
            let segments: Vec<&str> = function.split("::").collect();
            if segments.len() < 2 {
                let help = match names.first() {
                    Some(c) => format!("e.g. \"{c}::{function}\""),
                    None => format!(
                        "declare the crate it is in: [crates] my_bot = \"path/to/my_bot\", then \"my_bot::{function}\""
                    ),
                };
                d.error(
                    a.span.clone(),
                    format!(
                        "handler `{function}` needs the crate it is in: `crate_name::{function}`"
                    ),
                )
                .help = Some(help);
                continue;
            }
            match names.iter().position(|n| *n == segments[0]) {
                Some(i) => used[i] = true,
                None => {
                    let mut msg = format!(
                        "handler `{function}` is in crate `{}`, which the pipeline does not declare",
                        segments[0]
                    );
                    if let Some(s) = suggest(segments[0], names.iter().copied()) {
                        msg.push_str(&format!("; did you mean `{s}`?"));
                    }
                    d.error(a.span.clone(), msg).help = Some(format!(
                        "declare it with its folder, relative to this file: [crates] {} = \"path/to/{}\"",
                        segments[0], segments[0]
                    ));
                }
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

/// Finds each declared crate under `base` (the pipeline file's folder), then reads the
/// `#[listener]` of each handler and joins it to its listener (see the module docs).
pub fn resolve(p: &mut Pipeline, base: &Path, d: &mut Diagnostics) {
    let mut libs: Vec<Option<PathBuf>> = Vec::new();
    for c in &mut p.crates {
        match find_crate(base, &base.join(&c.path.value)) {
            Ok(found) => {
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
                    libs.push(None);
                    continue;
                }
                c.found = Some((found.package, found.dir.display().to_string()));
                libs.push(Some(found.lib));
            }
            Err(e) => {
                d.error(c.path.span.clone(), e);
                libs.push(None);
            }
        }
    }
    let crates: Vec<(String, Option<PathBuf>)> = p
        .crates
        .iter()
        .map(|c| c.name.value.clone())
        .zip(libs)
        .collect();
    for l in &mut p.listeners {
        let handlers: Vec<(String, Span, bool)> = l
            .actions
            .iter()
            .filter_map(|a| match &a.value {
                Action::Handler {
                    function,
                    allow_private,
                } => Some((function.clone(), a.span.clone(), *allow_private)),
                _ => None,
            })
            .collect();
        if handlers.len() > 1 {
            d.error(
                handlers[1].1.clone(),
                format!(
                    "listener `{}` names a second handler; give each its own listener",
                    l.name.value
                ),
            );
            continue;
        }
        let Some((function, span, _)) = handlers.into_iter().next() else {
            continue;
        };
        let mut segments = function.split("::");
        let Some(krate) = segments.next() else {
            continue;
        };
        let Some((_, Some(lib))) = crates.iter().find(|(n, _)| n == krate) else {
            continue; // undeclared (reported by `check_declared`) or not found (above)
        };
        let path: Vec<&str> = segments.collect();
        if path.is_empty() {
            continue;
        }
        let (ident, tokens, file) = match find_listener(base, lib, &path) {
            Ok(found) => found,
            Err(e) => {
                d.error(span, format!("handler `{function}`: {e}"));
                continue;
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
            continue;
        };
        join(l, &attr, &function, &span, d);
    }
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

/// Joins the handler's listener `attr` to the file's listener `l`.
fn join(l: &mut Listener, attr: &Listener, function: &str, at: &Span, d: &mut Diagnostics) {
    let name = l.name.value.clone();
    let contradiction = |d: &mut Diagnostics, what: String| {
        d.error(
            at.clone(),
            format!("listener `{name}` and its handler `{function}` contradict each other: {what}"),
        )
        .help = Some(
            "no event could pass both: change the listener's filters, or the handler's #[listener]"
                .into(),
        );
    };
    // Events.
    if l.events.is_empty() {
        l.events = attr
            .events
            .iter()
            .map(|e| sp(at, e.value.clone()))
            .collect();
    } else {
        let covered = |e: &Sp<EventSel>| {
            attr.events.iter().any(|a| {
                a.value.kind == e.value.kind && (a.value.op.is_none() || a.value.op == e.value.op)
            })
        };
        for e in &l.events {
            if !covered(e) {
                let accepts: Vec<String> =
                    attr.events.iter().map(|a| a.value.to_string()).collect();
                d.error(
                    e.span.clone(),
                    format!(
                        "listener `{name}` listens to `{}`, which its handler `{function}` does not accept (its #[listener] says events = [{}])",
                        e.value,
                        accepts.join(", ")
                    ),
                )
                .help = Some("the handler's argument is typed by its events: list only those here, or leave `events` out".into());
            }
        }
        // Reported once: the checks go on with the events the handler takes.
        l.events.retain(covered);
    }
    // Realms.
    match (&mut l.realms, &attr.realms) {
        (Some(mine), Some(theirs)) => {
            mine.retain(|r| theirs.iter().any(|t| t.value == r.value));
            if mine.is_empty() {
                contradiction(d, "their `realms` have none in common".into());
            }
        }
        (None, Some(theirs)) => {
            l.realms = Some(theirs.iter().map(|r| sp(at, r.value)).collect());
        }
        _ => {}
    }
    // Flags: both set must agree.
    let f = &mut l.filters;
    let a = &attr.filters;
    macro_rules! flag {
        ($field:ident, $key:literal) => {
            match (&f.$field, &a.$field) {
                (Some(mine), Some(theirs)) if mine.value != theirs.value => {
                    contradiction(
                        d,
                        format!(
                            "`{}` is {:?} here and {:?} in the handler's #[listener]",
                            $key, mine.value, theirs.value
                        ),
                    );
                }
                (None, Some(theirs)) => f.$field = Some(sp(at, theirs.value.clone())),
                _ => {}
            }
        };
    }
    flag!(message_type, "message_type");
    flag!(mentioned, "mentioned");
    flag!(exclude_bots, "exclude_bots");
    flag!(include_own, "include_own");
    f.max_age_secs = match (&f.max_age_secs, &a.max_age_secs) {
        (Some(mine), Some(theirs)) => Some(sp(at, mine.value.min(theirs.value))),
        (None, Some(theirs)) => Some(sp(at, theirs.value)),
        (mine, None) => mine.clone(),
    };
    // Lists: the handler's apply on top of the listener's; some common ground needed.
    if !f.channels.is_empty() && !a.channels.is_empty() {
        let names = |v: &[Sp<ChannelRef>]| -> Option<Vec<String>> {
            v.iter()
                .map(|c| match &c.value {
                    ChannelRef::Name(n) => Some(n.to_lowercase()),
                    ChannelRef::Id(_) => None,
                })
                .collect()
        };
        if let (Some(mine), Some(theirs)) = (names(&f.channels), names(&a.channels))
            && !mine.iter().any(|c| theirs.contains(c))
        {
            contradiction(
                d,
                format!(
                    "`channels` share none (here {}; the handler's {})",
                    mine.join(", "),
                    theirs.join(", ")
                ),
            );
        }
    }
    if !f.senders.is_empty() && !a.senders.is_empty() {
        let emails = |v: &[Sp<SenderRef>]| -> Option<Vec<String>> {
            v.iter()
                .map(|s| match &s.value {
                    SenderRef::Email(e) => Some(e.to_lowercase()),
                    SenderRef::Id(_) => None,
                })
                .collect()
        };
        if let (Some(mine), Some(theirs)) = (emails(&f.senders), emails(&a.senders))
            && !mine.iter().any(|s| theirs.contains(s))
        {
            contradiction(d, "`senders` share none".into());
        }
    }
    if !f.topics.is_empty() && !a.topics.is_empty() {
        let exact = |v: &[Sp<TextMatch>]| -> Option<Vec<String>> {
            v.iter()
                .map(|t| match &t.value {
                    TextMatch::Exact(s) => Some(s.to_lowercase()),
                    TextMatch::Regex(_) => None,
                })
                .collect()
        };
        if let (Some(mine), Some(theirs)) = (exact(&f.topics), exact(&a.topics))
            && !mine.iter().any(|t| theirs.contains(t))
        {
            contradiction(d, "`topics` share none".into());
        }
    }
    let kind = |k: &Sp<MessageKind>| k.value;
    if f.message_type.as_ref().map(kind) == Some(MessageKind::Direct)
        && (!a.channels.is_empty() || !a.topics.is_empty())
    {
        contradiction(
            d,
            "direct messages only, but the handler filters on channels or topics".into(),
        );
    }
    l.handler_filters = Filters {
        channels: a.channels.iter().map(|c| sp(at, c.value.clone())).collect(),
        topics: a.topics.iter().map(|t| sp(at, t.value.clone())).collect(),
        senders: a.senders.iter().map(|s| sp(at, s.value.clone())).collect(),
        content: a.content.as_ref().map(|c| sp(at, c.value.clone())),
        ..Filters::default()
    };
    // Policies and config: the listener's, else the handler's.
    l.policy = l.policy.or(&attr.policy);
    for (k, v) in &attr.config {
        if !l.config.iter().any(|(key, _)| key == k) {
            l.config.push((k.clone(), v.clone()));
        }
    }
    // The handler may reach private addresses if either says so.
    let attr_private = attr.actions.iter().any(|a| {
        matches!(
            a.value,
            Action::Handler {
                allow_private: true,
                ..
            }
        )
    });
    for a in &mut l.actions {
        if let Action::Handler { allow_private, .. } = &mut a.value {
            *allow_private |= attr_private;
        }
    }
    let extra = attr
        .actions
        .iter()
        .filter(|a| !matches!(a.value, Action::Handler { .. }))
        .count();
    if extra > 0 {
        d.warning(
            at.clone(),
            format!(
                "the #[listener] of `{function}` lists {extra} {} not run here: in a pipeline file, the listener's own actions run",
                if extra == 1 { "action, which does" } else { "actions, which do" }
            ),
        )
        .help = Some("add them to the listener as [[listener.action]] tables, where they should run".into());
    }
}

fn sp<T>(at: &Span, value: T) -> Sp<T> {
    Sp::new(value, at.clone())
}
