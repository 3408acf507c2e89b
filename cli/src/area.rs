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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use zlc_codegen::expand::{GeneratedCrate, RuntimeDep};
use zlc_codegen::manifest::{Manifest, Profile as Cargo, Workspace};

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

    /// The folder of `target/` cargo builds this profile in.
    pub fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dist => "dist",
            Profile::Dev => "debug",
        }
    }
}

/// The runtime generated crates depend on: `$ZLC_RUNTIME_PATH` (a checkout's
/// `runtime/`, for working on the runtime), else the sources this zlc carries,
/// unpacked into the build area ([`crate::sources`]).
pub fn runtime_dep() -> Result<RuntimeDep> {
    if let Ok(p) = std::env::var("ZLC_RUNTIME_PATH") {
        return Ok(RuntimeDep::Path(p));
    }
    let runtime = crate::sources::runtime(&home()?)?;
    Ok(RuntimeDep::Path(runtime.display().to_string()))
}

pub use zlc_codegen::expand::RUNTIME_FEATURES;

/// `cargo` (the one that ran zlc, when cargo did) with a clean environment: what
/// `cargo run` or `cargo test` set for zlc itself (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`,
/// `OUT_DIR`, ...) does not reach the nested build, where build scripts would see a change and run
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
        // `OUT_DIR` too: `cargo run` sets it for a package with a build script (zlc
        // has one), and ring's build script reruns when it changes.
        let cargo_set = k == "CARGO"
            || k == "OUT_DIR"
            || (k.starts_with("CARGO_") && !KEEP.iter().any(|p| k.starts_with(p)));
        let flags = matches!(k.as_str(), "RUSTFLAGS" | "RUSTDOCFLAGS");
        if cargo_set || flags {
            remove.push(k);
        } else if k == "ZLC_RUSTFLAGS" {
            set.push(("RUSTFLAGS".to_owned(), v));
        }
    }
    (remove, set)
}

/// A stable hash of `text`, for naming folders.
fn fnv1a(text: &str) -> u64 {
    crate::fnv::fnv1a(crate::fnv::START, text.as_bytes())
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

/// The profiles of the build area's workspace, which new projects copy: cargo reuses
/// a compiled runtime only for a profile with the same settings, so a project's
/// `cargo test` and `zlc build DIR` find the runtime the area compiled.
pub fn profiles() -> BTreeMap<String, Cargo> {
    // Dependencies without debug information in dev builds: a quarter less time to
    // build, and backtraces still name the listener's own lines.
    let dev = Cargo {
        package: [(
            "*".to_owned(),
            Cargo {
                debug: Some(false),
                ..Cargo::default()
            },
        )]
        .into(),
        ..Cargo::default()
    };
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
    [
        ("dev".to_owned(), dev),
        ("release".to_owned(), release),
        ("dist".to_owned(), dist),
    ]
    .into()
}

/// The build area's workspace manifest: the pipelines made with one zlc runtime, one
/// lockfile, and the profiles they are built with.
fn area_manifest() -> String {
    Manifest {
        notes: vec![
            "A zlc build-area workspace: the pipelines made with one zlc runtime, one lockfile."
                .into(),
            "Dependencies carry no debug information in dev builds; libsqlite3-sys is built".into(),
            "at opt-level 1 in release: a third of the time of 3, and one transaction a".into(),
            "batch does not notice.".into(),
        ],
        workspace: Some(Workspace {
            resolver: Some("3".into()),
            members: vec!["pipelines/*".into()],
        }),
        profile: profiles(),
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

/// The workspace of the build area for the pipelines of `folder` made against
/// `runtime`. One per runtime, since two runtimes are two sets of types; and one per
/// pipeline folder, so that two clones (or projects) with pipelines of the same name
/// never take each other's crate. The runtime is compiled once all the same: every
/// workspace names it by the same path, with the same lockfile, features and profiles,
/// so cargo finds it in the shared `target/`.
pub fn area(home: &Path, runtime: &RuntimeDep, folder: &Path) -> PathBuf {
    let runtime = match runtime {
        RuntimeDep::Path(p) => format!("path:{p}"),
        RuntimeDep::Version(v) => format!("version:{v}"),
    };
    let key = format!("{runtime}\nfolder:{}", folder.display());
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
pub fn build_crate(
    home: &Path,
    area: &Path,
    g: &GeneratedCrate,
    profile: Profile,
) -> Result<PathBuf> {
    let lock = lock_name(home, &g.bin)?;
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
        set_aside(area, &dir, &g.bin)?;
    }
    let built = home.join("target").join(profile.dir()).join(&g.bin);
    let bin = deliver(&built, &area.join("bin").join(profile.dir()))?;
    drop(lock);
    Ok(bin)
}

/// Every workspace (and every project) shares `home/target`, where cargo puts a binary
/// under its bare name: one name built from two places would land on one path. So a
/// build and its copy to its own `bin/` ([`deliver`]) happen under a lock on the name,
/// held until the returned file is dropped.
pub fn lock_name(home: &Path, name: &str) -> Result<std::fs::File> {
    let locks = home.join("locks");
    std::fs::create_dir_all(&locks).with_context(|| format!("creating {}", locks.display()))?;
    let lock_path = locks.join(format!("{name}.lock"));
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    Ok(lock)
}

/// Copies the binary cargo `built` into `bin_dir` (not a link: cargo may rewrite the
/// shared file in place later) and returns the copy.
pub fn deliver(built: &Path, bin_dir: &Path) -> Result<PathBuf> {
    if !built.exists() {
        bail!("cargo finished but {} is missing", built.display());
    }
    let name = built.file_name().context("a binary without a name")?;
    std::fs::create_dir_all(bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    let bin = bin_dir.join(name);
    let staged = bin_dir.join(format!(".{}.new", name.to_string_lossy()));
    std::fs::copy(built, &staged)
        .and_then(|_| std::fs::rename(&staged, &bin))
        .with_context(|| format!("copying the binary to {}", bin.display()))?;
    Ok(bin)
}

/// After a failed build: moves the crate in `dir` to `area/failed/`, and says so.
fn set_aside(area: &Path, dir: &Path, bin: &str) -> Result<()> {
    let kept = area.join("failed").join(bin);
    let _ = std::fs::remove_dir_all(&kept);
    let moved =
        std::fs::create_dir_all(area.join("failed")).and_then(|()| std::fs::rename(dir, &kept));
    match moved {
        Ok(()) => bail!(
            "cargo could not build {bin} (its errors are above); the generated crate was moved \
             out of the build area to {}",
            kept.display()
        ),
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir);
            bail!(
                "cargo could not build {bin} (its errors are above); its crate was removed from \
                 the build area ({e} when keeping it)"
            )
        }
    }
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
            ("OUT_DIR", "/src/zlc/target/debug/build/zlc-1/out"),
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
                "OUT_DIR",
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
