//! `zlc new pipeline`, `check`, `expand`, `build` and `run`: the compiler's commands.
//! Generated crates are built in the build area ([`crate::area`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use zlc_codegen::expand::{GeneratedCrate, RuntimeDep};

use crate::area::{Profile, area, build_crate, claim, home, runtime_dep, seed_lockfile};

const SCAFFOLD: &str = include_str!("../../templates/pipeline.toml");

/// Options of `zlc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The pipeline file, or the folder of a project made with `zlc new project`.
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
    /// The pipeline file, or a project folder.
    pub file: PathBuf,
    /// Build profile.
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    pub profile: Profile,
    /// Rebuild on every save, run the test cases, and hand over from the running binary
    /// to the new one without losing or repeating an event; a build or test case that
    /// fails leaves the running binary as it is. Ctrl-C stops.
    #[arg(long)]
    pub watch: bool,
    /// Arguments for the binary (default: `run`), after `--`.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// The largest pipeline file read (a pipeline is a page of TOML, not megabytes).
pub const MAX_PIPELINE_BYTES: u64 = 1 << 20;

fn read(file: &Path) -> Result<String> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size > MAX_PIPELINE_BYTES {
        bail!(
            "{} is {size} bytes; a pipeline file may be at most {MAX_PIPELINE_BYTES} bytes",
            file.display()
        );
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Loads and checks, printing warnings; on errors, prints every diagnostic and fails
/// with a one-line summary (the caller reports it once).
pub fn load(file: &Path) -> Result<zlc_codegen::Pipeline> {
    let source = read(file)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    match zlc_codegen::load_with(&file.display().to_string(), &source, Some(base)) {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                eprintln!("{}", loaded.warnings);
            }
            Ok(loaded.pipeline)
        }
        Err(d) => {
            eprintln!("{d}");
            let mut summary = plural(d.errors(), "error");
            if d.warnings() > 0 {
                summary.push_str(&format!(" and {}", plural(d.warnings(), "warning")));
            }
            bail!("{} has {summary}", file.display())
        }
    }
}

/// `zlc check FILE...`: every problem of every file, then one summary line (the error
/// `main` prints).
pub fn check(files: &[PathBuf]) -> Result<()> {
    let mut failed = Vec::new();
    for f in files {
        match load(f) {
            Ok(p) => eprintln!(
                "{}: ok ({}, {})",
                f.display(),
                plural(p.listeners.len(), "listener"),
                plural(p.realms.len(), "realm")
            ),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    match failed.len() {
        0 => Ok(()),
        1 if files.len() == 1 => bail!("{}", failed[0]),
        n => bail!(
            "{n} of {} pipeline files failed the check ({})",
            files.len(),
            failed.join("; ")
        ),
    }
}

/// The crate `file` compiles to, and the runtime it is built with.
fn generate(file: &Path) -> Result<(GeneratedCrate, RuntimeDep)> {
    let p = load(file)?;
    let runtime = runtime_for(&p)?;
    if let RuntimeDep::Path(rt) = &runtime {
        for c in &p.crates {
            if let Some((_, dir)) = &c.found {
                same_runtime(&c.name.value, Path::new(dir), Path::new(rt))?;
            }
        }
    }
    let g = zlc_codegen::expand::expand(&p, &file.display().to_string(), &runtime);
    Ok((g, runtime))
}

/// The runtime a pipeline is built with: `$ZLC_RUNTIME_PATH` when set; else the one
/// its handler crates name by path (a crate in a zlc checkout names that checkout's;
/// [`same_runtime`] checks they agree), else the sources zlc carries
/// ([`runtime_dep`]).
fn runtime_for(p: &zlc_codegen::Pipeline) -> Result<RuntimeDep> {
    if std::env::var_os("ZLC_RUNTIME_PATH").is_some() {
        return runtime_dep();
    }
    let named = p
        .crates
        .iter()
        .filter_map(|c| c.found.as_ref())
        .find_map(|(_, dir)| runtime_named_by(Path::new(dir)));
    match named {
        Some(path) => Ok(RuntimeDep::Path(path.display().to_string())),
        None => runtime_dep(),
    }
}

/// The `zlc-runtime` folder the crate in `dir` depends on by path, if it does.
fn runtime_named_by(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let t = text.parse::<toml::Table>().ok()?;
    dir.join(runtime_path_in(&t)?).canonicalize().ok()
}

/// The `path` of `zlc-runtime` in the `[dependencies]` of manifest `t`, as written.
fn runtime_path_in(t: &toml::Table) -> Option<&str> {
    t.get("dependencies")?
        .get("zlc-runtime")?
        .get("path")?
        .as_str()
}

/// A handler crate must use the runtime the pipeline is built with: two copies of
/// `zlc-runtime` would be two sets of types, and cargo's errors would not say why.
fn same_runtime(name: &str, dir: &Path, runtime: &Path) -> Result<()> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let Ok(t) = text.parse::<toml::Table>() else {
        return Ok(()); // reported by the checks
    };
    let Some(dep) = runtime_path_in(&t) else {
        bail!(
            "crate `{name}` ({}) does not depend on zlc-runtime by path; its handlers need the runtime this pipeline is built with: zlc-runtime = {{ path = \"{}\", features = [\"macros\"] }}",
            dir.display(),
            runtime.display()
        );
    };
    let theirs = dir.join(dep).canonicalize().ok();
    let ours = runtime.canonicalize().ok();
    if theirs.is_none() || theirs != ours {
        bail!(
            "crate `{name}` depends on the zlc runtime at {}, but this pipeline is built with {}: point its zlc-runtime path there",
            dir.join(dep).display(),
            runtime.display()
        );
    }
    Ok(())
}

/// `zlc expand FILE`: prints the generated `main.rs` (and `Cargo.toml` on request).
pub fn expand(file: &Path, cargo_toml: bool) -> Result<()> {
    let (g, _) = generate(file)?;
    if cargo_toml {
        println!("{}", g.cargo_toml);
    }
    print!("{}", g.main_rs);
    Ok(())
}

/// `zlc build FILE`: returns the binary's path.
pub fn build(args: &BuildArgs) -> Result<PathBuf> {
    let started = Instant::now();
    let bin = match crate::project::manifest_of(&args.file) {
        Some(manifest) => crate::project::build_project(&manifest, args.profile, &home()?)?,
        None => {
            let (g, runtime) = generate(&args.file)?;
            let home = home()?;
            let source = args
                .file
                .canonicalize()
                .with_context(|| format!("reading {}", args.file.display()))?;
            let folder = source.parent().unwrap_or(Path::new("/"));
            let area = area(&home, &runtime, folder);
            claim(&area, &g.bin, &args.file)?;
            seed_lockfile(&area, &runtime)?;
            build_crate(&home, &area, &g, args.profile)?
        }
    };
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

/// The text `zlc new pipeline NAME` writes.
pub fn scaffold(name: &str) -> String {
    SCAFFOLD.replace("{{name}}", name)
}

/// `zlc new pipeline NAME`: writes a commented starting point, and the schema beside it.
pub fn new_pipeline(name: &str, dir: &Path, force: bool) -> Result<PathBuf> {
    if !zlc_codegen::check::is_ident(name) {
        bail!(
            "pipeline name {name:?} is not allowed: use 1 to 64 ASCII letters, digits, `_` or `-`, starting with a letter"
        );
    }
    if let Some(reason) = zlc_codegen::check::reserved_name(name) {
        bail!("pipeline name {name:?} is reserved: {reason}");
    }
    let path = dir.join(format!("{name}.toml"));
    if path.exists() && !force {
        bail!(
            "{} already exists (use --force to overwrite it)",
            path.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&path, scaffold(name)).with_context(|| format!("writing {}", path.display()))?;
    // The schema its first line names, for editors; refreshed to this zlc's.
    crate::area::write_if_changed(&dir.join(crate::schema::FILE_NAME), &crate::schema::text())?;
    Ok(path)
}
