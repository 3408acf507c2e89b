//! `zlc new pipeline`, `check`, `expand`, `build` and `run`: the compiler's commands.
//!
//! Generated crates live in one build area (`$ZLC_HOME`, default `~/.cache/zlc`) that
//! shares one `target/`, so that the runtime is compiled once and a pipeline edit
//! rebuilds only its small `main.rs` (about a second). Pipelines are members of a cargo
//! workspace with one `Cargo.lock` — one workspace per runtime source (`ws-<hash>`),
//! because crates made by two zlc checkouts name two different `zlc-runtime`s, which
//! one lockfile cannot hold. Files are rewritten only when their content changes, so an
//! unchanged pipeline does not rebuild at all.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use zlc_codegen::expand::{GeneratedCrate, RuntimeDep};

const SCAFFOLD: &str = include_str!("../../templates/pipeline.toml");

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
    fn cargo_name(self) -> &'static str {
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

/// Options of `zlc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Copy the binary here (default: print where it is).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Build profile.
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    pub profile: Profile,
}

/// Options of `zlc run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Build profile.
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    pub profile: Profile,
    /// Arguments for the binary (default: `run`), after `--`.
    #[arg(last = true)]
    pub args: Vec<String>,
}

fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// Loads and checks; on errors, prints every diagnostic and fails.
fn load(file: &Path) -> Result<zlc_codegen::Pipeline> {
    let source = read(file)?;
    match zlc_codegen::load(&file.display().to_string(), &source) {
        Ok(p) => Ok(p),
        Err(d) => {
            eprint!("{d}");
            bail!(
                "{} has {} error{}",
                file.display(),
                d.len(),
                if d.len() == 1 { "" } else { "s" }
            )
        }
    }
}

/// `zlc check FILE...`
pub fn check(files: &[PathBuf]) -> Result<()> {
    let mut bad = 0;
    for f in files {
        match load(f) {
            Ok(p) => eprintln!(
                "{}: ok ({} listener{}, {} realm{})",
                f.display(),
                p.listeners.len(),
                if p.listeners.len() == 1 { "" } else { "s" },
                p.realms.len(),
                if p.realms.len() == 1 { "" } else { "s" }
            ),
            Err(e) => {
                bad += 1;
                eprintln!("{e:#}");
            }
        }
    }
    if bad > 0 {
        bail!("{bad} of {} pipeline file(s) failed the check", files.len());
    }
    Ok(())
}

fn runtime_dep() -> Result<RuntimeDep> {
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

fn generate(file: &Path, runtime: &RuntimeDep) -> Result<GeneratedCrate> {
    let p = load(file)?;
    Ok(zlc_codegen::expand::expand(
        &p,
        &file.display().to_string(),
        runtime,
    ))
}

/// A stable 64-bit FNV-1a hash, for naming workspaces (std's hasher may change).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `zlc expand FILE`: prints the generated `main.rs` (and `Cargo.toml` on request).
pub fn expand(file: &Path, cargo_toml: bool) -> Result<()> {
    let g = generate(file, &runtime_dep()?)?;
    if cargo_toml {
        println!("{}", g.cargo_toml);
    }
    print!("{}", g.main_rs);
    Ok(())
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

fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

const AREA_MANIFEST: &str = "# A zlc build-area workspace: the pipelines made with one zlc runtime, one lockfile.\n\
[workspace]\nresolver = \"3\"\nmembers = [\"pipelines/*\"]\n\n\
[profile.release]\ndebug = false\nincremental = true\n\n\
[profile.dist]\ninherits = \"release\"\nlto = \"thin\"\ncodegen-units = 1\nstrip = true\nincremental = false\n";

/// `zlc build FILE`: returns the binary's path.
pub fn build(args: &BuildArgs) -> Result<PathBuf> {
    let started = Instant::now();
    let runtime = runtime_dep()?;
    let g = generate(&args.file, &runtime)?;
    let home = home()?;
    let key = match &runtime {
        RuntimeDep::Path(p) => format!("path:{p}"),
        RuntimeDep::Version(v) => format!("version:{v}"),
    };
    let area = home.join(format!("ws-{:016x}", fnv1a(&key)));
    write_if_changed(&area.join("Cargo.toml"), AREA_MANIFEST)?;
    let dir = area.join("pipelines").join(&g.bin);
    write_if_changed(&dir.join("Cargo.toml"), &g.cargo_toml)?;
    write_if_changed(&dir.join("src/main.rs"), &g.main_rs)?;
    eprintln!("zlc: building {} in {}", g.bin, area.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--profile",
            args.profile.cargo_name(),
            "-p",
            &g.package,
        ])
        .arg("--manifest-path")
        .arg(area.join("Cargo.toml"))
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TARGET_DIR", home.join("target"))
        .status()
        .context("running cargo (is it installed and on PATH?)")?;
    if !status.success() {
        bail!("cargo could not build {} (its errors are above)", g.bin);
    }
    let bin = home.join("target").join(args.profile.dir()).join(&g.bin);
    if !bin.exists() {
        bail!("cargo finished but {} is missing", bin.display());
    }
    let out = match &args.output {
        Some(o) => {
            std::fs::copy(&bin, o)
                .with_context(|| format!("copying the binary to {}", o.display()))?;
            o.clone()
        }
        None => bin,
    };
    eprintln!(
        "zlc: built {} in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// `zlc run FILE [-- ARGS]`: builds if needed, then runs the binary (exit code passed on).
pub fn run(args: &RunArgs) -> Result<std::process::ExitCode> {
    let bin = build(&BuildArgs {
        file: args.file.clone(),
        output: None,
        profile: args.profile,
    })?;
    let run_args: Vec<String> = if args.args.is_empty() {
        vec!["run".into()]
    } else {
        args.args.clone()
    };
    let status = Command::new(&bin)
        .args(&run_args)
        .status()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(std::process::ExitCode::from(
        status.code().map_or(1, |c| c.clamp(0, 255) as u8),
    ))
}

/// `zlc new pipeline NAME`: writes a commented starting point.
pub fn new_pipeline(name: &str, dir: &Path, force: bool) -> Result<PathBuf> {
    if !zlc_codegen::check::is_ident(name) {
        bail!(
            "pipeline name {name:?} is not allowed: use 1 to 64 ASCII letters, digits, `_` or `-`, starting with a letter"
        );
    }
    let path = dir.join(format!("{name}.toml"));
    if path.exists() && !force {
        bail!(
            "{} already exists (use --force to overwrite it)",
            path.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&path, SCAFFOLD.replace("{{name}}", name))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
