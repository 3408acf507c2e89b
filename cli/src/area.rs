//! The build area (`$ZLC_HOME`, default `~/.cache/zlc`): where generated crates are
//! written and built.
//!
//! It shares one `target/`, so that the runtime is compiled once and a pipeline edit
//! rebuilds only its small `main.rs` (about a second). Pipelines are members of a cargo
//! workspace with one `Cargo.lock` — one workspace per runtime source (`ws-<hash>`),
//! because crates made by two zlc checkouts name two different `zlc-runtime`s, which
//! one lockfile cannot hold. Files are rewritten only when their content changes, so an
//! unchanged pipeline does not rebuild at all.
//!
//! The area stays healthy whatever users build in it: a pipeline's crate belongs to the
//! file it was made from (a second file with the same name is refused instead of
//! silently sharing the crate and the binary), each workspace's binaries are delivered
//! to its own `bin/` (two checkouts never hand out each other's binary), and a crate
//! cargo cannot build is moved out of the workspace (to `failed/`), so one broken
//! pipeline never breaks the others.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use zlc_codegen::expand::{GeneratedCrate, RuntimeDep};

/// Build profiles of generated binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Optimized, quick to rebuild (the default).
    Release,
    /// Optimized with thin LTO and stripped: smaller and a little faster, slow to build.
    Dist,
    /// Unoptimized, for debugging.
    Dev,
}

impl Profile {
    pub(crate) fn cargo_name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dist => "dist",
            Profile::Dev => "dev",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dist => "dist",
            Profile::Dev => "debug",
        }
    }
}

/// The runtime generated crates depend on: `$ZLC_RUNTIME_PATH`, else this checkout's.
pub fn runtime_dep() -> Result<RuntimeDep> {
    if let Ok(p) = std::env::var("ZLC_RUNTIME_PATH") {
        return Ok(RuntimeDep::Path(p));
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    match built_in.canonicalize() {
        Ok(p) => Ok(RuntimeDep::Path(p.display().to_string())),
        Err(_) => bail!(
            "cannot find the zlc runtime sources (looked in {}); set ZLC_RUNTIME_PATH to the runtime/ folder of a zlc checkout",
            built_in.display()
        ),
    }
}

/// `cargo` (the one that ran zlc, when cargo did) with a clean environment: what
/// `cargo run` or `cargo test` set for zlc itself (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`,
/// ...) does not reach the nested build, where build scripts would see a change and run
/// again; `RUSTFLAGS` comes only from `ZLC_RUSTFLAGS`, set for zlc on purpose.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let (remove, set) = nested_env(std::env::vars());
    for k in remove {
        cmd.env_remove(k);
    }
    cmd.envs(set);
    cmd
}

/// Of the environment `vars`, what a nested cargo must not inherit, and what it gets.
fn nested_env(
    vars: impl Iterator<Item = (String, String)>,
) -> (Vec<String>, Vec<(String, String)>) {
    // The user's cargo configuration, which applies to every build alike.
    const KEEP: &[&str] = &[
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_JOBS",
        "CARGO_TERM_",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
    ];
    let mut remove = Vec::new();
    let mut set = Vec::new();
    for (k, v) in vars {
        let cargo_set =
            k == "CARGO" || (k.starts_with("CARGO_") && !KEEP.iter().any(|p| k.starts_with(p)));
        let flags = matches!(k.as_str(), "RUSTFLAGS" | "RUSTDOCFLAGS");
        if cargo_set || flags {
            remove.push(k);
        } else if k == "ZLC_RUSTFLAGS" {
            set.push(("RUSTFLAGS".to_owned(), v));
        }
    }
    (remove, set)
}

/// A stable 64-bit FNV-1a hash, for naming workspaces (std's hasher may change).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The build area.
pub fn home() -> Result<PathBuf> {
    if let Ok(h) = std::env::var("ZLC_HOME") {
        return Ok(PathBuf::from(h));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither ZLC_HOME, XDG_CACHE_HOME nor HOME is set: cannot choose a build area")?;
    Ok(cache.join("zlc"))
}

pub fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

/// The build area's workspace manifest: the pipelines made with one zlc runtime, one
/// lockfile, and the profiles they are built with.
fn area_manifest() -> String {
    use zlc_codegen::manifest::{Manifest, Profile as Cargo, Workspace};
    let release = Cargo {
        debug: Some(false),
        incremental: Some(true),
        // SQLite's C source is one 9 MB file, compiled on one core: at -O1 it takes a
        // third of the time of -O3, and zlc's statistics writes (one transaction a
        // batch) do not notice.
        package: [(
            "libsqlite3-sys".to_owned(),
            Cargo {
                opt_level: Some(1),
                ..Cargo::default()
            },
        )]
        .into(),
        ..Cargo::default()
    };
    let dist = Cargo {
        inherits: Some("release".into()),
        lto: Some("thin".into()),
        codegen_units: Some(1),
        strip: Some(true),
        incremental: Some(false),
        ..Cargo::default()
    };
    Manifest {
        notes: vec![
            "A zlc build-area workspace: the pipelines made with one zlc runtime, one lockfile."
                .into(),
            "libsqlite3-sys is built at opt-level 1: a third of the time of 3, and one".into(),
            "transaction a batch does not notice.".into(),
        ],
        workspace: Some(Workspace {
            resolver: Some("3".into()),
            members: vec!["pipelines/*".into()],
        }),
        profile: [("release".to_owned(), release), ("dist".to_owned(), dist)].into(),
        ..Manifest::default()
    }
    .render()
}

/// Gives a new workspace (`dir` without a `Cargo.lock`) the lockfile zlc itself is
/// tested with, when the runtime is a checkout: the same dependency versions, and a
/// first build that needs no registry update. Cargo adds the new crates to it.
pub fn seed_lockfile(dir: &Path, runtime: &RuntimeDep) -> Result<()> {
    let target = dir.join("Cargo.lock");
    if target.exists() {
        return Ok(());
    }
    if let RuntimeDep::Path(p) = runtime {
        let lock = Path::new(p).join("../Cargo.lock");
        if lock.is_file() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::copy(&lock, &target).with_context(|| format!("copying {}", lock.display()))?;
        }
    }
    Ok(())
}

/// The workspace of the build area for crates made against `runtime`.
pub fn area(home: &Path, runtime: &RuntimeDep) -> PathBuf {
    let key = match runtime {
        RuntimeDep::Path(p) => format!("path:{p}"),
        RuntimeDep::Version(v) => format!("version:{v}"),
    };
    home.join(format!("ws-{:016x}", fnv1a(&key)))
}

/// The file in a pipeline's crate folder that names the pipeline file it was made from.
const SOURCE_CLAIM: &str = "zlc-source.txt";

/// Makes the crate folder of pipeline `name` in workspace `area` belong to `file`.
/// Another file that still exists and has the same pipeline name keeps it: two files
/// sharing one crate would overwrite each other's code and binary without a word.
pub fn claim(area: &Path, name: &str, file: &Path) -> Result<()> {
    let source = file
        .canonicalize()
        .with_context(|| format!("reading {}", file.display()))?;
    let source = source.display().to_string();
    let claim = area.join("pipelines").join(name).join(SOURCE_CLAIM);
    if let Ok(owner) = std::fs::read_to_string(&claim) {
        let owner = owner.trim();
        if owner != source && Path::new(owner).exists() {
            bail!(
                "the pipeline name `{name}` is already built from {owner}: two pipeline files with \
                 one name would share one crate and one binary. Rename one of them (`name` in \
                 [pipeline]), or build this one in another build area (ZLC_HOME=...)"
            );
        }
        if owner != source {
            eprintln!("zlc: {owner} no longer exists; `{name}` is now built from {source}");
        }
    }
    write_if_changed(&claim, &format!("{source}\n"))
}

/// Writes `g` into `area` and builds it with cargo (target in `home`); returns the
/// binary, delivered to `area/bin/PROFILE/`. A crate cargo cannot build is moved to
/// `area/failed/` so that the workspace stays buildable for every other pipeline.
///
/// Every workspace shares `home/target`, where cargo puts a binary under its bare name:
/// the same pipeline name built by two zlc checkouts would land on one path. So the
/// build and the copy to the workspace's own `bin/` happen under a lock on the name.
pub fn build_crate(
    home: &Path,
    area: &Path,
    g: &GeneratedCrate,
    profile: Profile,
) -> Result<PathBuf> {
    let locks = home.join("locks");
    std::fs::create_dir_all(&locks).with_context(|| format!("creating {}", locks.display()))?;
    let lock_path = locks.join(format!("{}.lock", g.bin));
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    write_if_changed(&area.join("Cargo.toml"), &area_manifest())?;
    let dir = area.join("pipelines").join(&g.bin);
    write_if_changed(&dir.join("Cargo.toml"), &g.cargo_toml)?;
    write_if_changed(&dir.join("src/main.rs"), &g.main_rs)?;
    eprintln!("zlc: building {} in {}", g.bin, area.display());
    let status = cargo()
        .args(["build", "--profile", profile.cargo_name(), "-p", &g.package])
        .arg("--manifest-path")
        .arg(area.join("Cargo.toml"))
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TARGET_DIR", home.join("target"))
        .status()
        .context("running cargo (is it installed and on PATH?)")?;
    if !status.success() {
        let kept = area.join("failed").join(&g.bin);
        let _ = std::fs::remove_dir_all(&kept);
        let moved = std::fs::create_dir_all(area.join("failed"))
            .and_then(|()| std::fs::rename(&dir, &kept));
        match moved {
            Ok(()) => bail!(
                "cargo could not build {} (its errors are above); the generated crate was moved \
                 out of the build area to {}",
                g.bin,
                kept.display()
            ),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                bail!(
                    "cargo could not build {} (its errors are above); its crate was removed from \
                     the build area ({e} when keeping it)",
                    g.bin
                )
            }
        }
    }
    let built = home.join("target").join(profile.dir()).join(&g.bin);
    if !built.exists() {
        bail!("cargo finished but {} is missing", built.display());
    }
    let bin_dir = area.join("bin").join(profile.dir());
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    let bin = bin_dir.join(&g.bin);
    // Copied, not linked: cargo may rewrite the shared file in place later.
    let staged = bin_dir.join(format!(".{}.new", g.bin));
    std::fs::copy(&built, &staged)
        .and_then(|_| std::fs::rename(&staged, &bin))
        .with_context(|| format!("copying the binary to {}", bin.display()))?;
    drop(lock);
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_cargo_gets_the_users_cargo_settings_but_not_zlcs_own_build() {
        let vars = [
            ("CARGO", "/usr/bin/cargo"),
            ("CARGO_PKG_NAME", "zlc"),
            ("CARGO_MANIFEST_DIR", "/src/zlc/cli"),
            ("CARGO_ENCODED_RUSTFLAGS", "-Cdebuginfo=2"),
            ("RUSTFLAGS", "-Ctarget-cpu=native"),
            ("CARGO_HOME", "/home/u/.cargo"),
            ("CARGO_TERM_COLOR", "never"),
            ("CARGO_TARGET_DIR", "/t"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (remove, set) = nested_env(vars.clone().into_iter());
        assert_eq!(
            remove,
            [
                "CARGO",
                "CARGO_PKG_NAME",
                "CARGO_MANIFEST_DIR",
                "CARGO_ENCODED_RUSTFLAGS",
                "RUSTFLAGS"
            ]
        );
        assert!(set.is_empty());
        let on_purpose = vars
            .into_iter()
            .chain([("ZLC_RUSTFLAGS".into(), "-Copt-level=2".into())]);
        let (_, set) = nested_env(on_purpose);
        assert_eq!(set, [("RUSTFLAGS".to_owned(), "-Copt-level=2".to_owned())]);
    }
}
