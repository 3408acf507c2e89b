//! `zlc new project NAME` and `zlc build DIR`: listeners written in Rust, as a crate of
//! their own that depends on the runtime the way any user's crate would.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use zlc_codegen::expand::RuntimeDep;
use zlc_codegen::manifest::{Dependency, Manifest, Package, Workspace};

use crate::area::Profile;

/// The scaffold's files besides `Cargo.toml` ([`manifest`]): (path in the project,
/// template). A template names the project as `{{name}}` and its crate as `{{crate}}`
/// ([`fill`]).
const FILES: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        include_str!("../../templates/project/src/lib.rs"),
    ),
    (
        "src/main.rs",
        include_str!("../../templates/project/src/main.rs"),
    ),
    (
        "tests/listeners.rs",
        include_str!("../../templates/project/tests/listeners.rs"),
    ),
    (
        "README.md",
        include_str!("../../templates/project/README.md"),
    ),
    (
        "zuliprc.example",
        include_str!("../../templates/project/zuliprc.example"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/project/gitignore"),
    ),
];

/// `zlc new project NAME`: writes the crate into `parent/NAME`, which must not exist or
/// be empty (nothing is ever overwritten), set to build in `home` (the build area).
/// Returns the project's folder.
pub fn new_project(
    name: &str,
    parent: &Path,
    runtime: &RuntimeDep,
    home: &Path,
) -> Result<PathBuf> {
    if !zlc_codegen::check::is_ident(name) {
        bail!(
            "project name {name:?} is not allowed: use 1 to 64 ASCII letters, digits, `_` or `-`, starting with a letter"
        );
    }
    if let Some(reason) = zlc_codegen::check::reserved_name(name) {
        bail!("project name {name:?} is reserved: {reason}");
    }
    let dir = parent.join(name);
    if let Ok(mut entries) = std::fs::read_dir(&dir)
        && entries.next().is_some()
    {
        bail!(
            "{} exists and is not empty; nothing was written (choose another name, or --dir)",
            dir.display()
        );
    }
    if dir.exists() && !dir.is_dir() {
        bail!("{} exists and is not a folder", dir.display());
    }
    let krate = name.replace('-', "_");
    let files = FILES
        .iter()
        .map(|(path, template)| (*path, fill(template, name, &krate)))
        .chain([
            ("Cargo.toml", manifest(name, runtime)),
            (".cargo/config.toml", cargo_config(home)),
        ]);
    for (path, text) in files {
        let target = dir.join(path);
        if let Some(d) = target.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        // `create_new`: a file that appeared meanwhile is not overwritten either.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .with_context(|| format!("writing {}", target.display()))?;
    }
    crate::area::seed_lockfile(&dir, runtime)?;
    Ok(dir)
}

/// The project's `Cargo.toml`: its own workspace, the runtime with its macros, tokio
/// for its tests, incremental release builds.
fn manifest(name: &str, runtime: &RuntimeDep) -> String {
    let mut m = Manifest {
        notes: vec![
            "Zulip listeners written in Rust, compiled with zlc (`zlc build .`).".into(),
            "zlc-runtime comes by path from the sources zlc carries (unpacked into its build".into(),
            "area); once zlc is published: zlc-runtime = { version = \"0.1\", features = [\"macros\"] }".into(),
            "[workspace] makes the project a workspace of its own wherever it is put. The".into(),
            "profiles are zlc's build area's, so that the runtime compiled there is reused.".into(),
        ],
        package: Some(Package {
            description: Some("Zulip listeners written in Rust, compiled with zlc".into()),
            ..Package::new(name)
        }),
        workspace: Some(Workspace::default()),
        ..Manifest::default()
    };
    m.dependencies.insert(
        "zlc-runtime".into(),
        Dependency::runtime(runtime, crate::area::RUNTIME_FEATURES),
    );
    m.dev_dependencies.insert(
        "tokio".into(),
        Dependency::version("1", &["macros", "rt-multi-thread"]),
    );
    m.profile = crate::area::profiles();
    m.render()
}

/// The project's `.cargo/config.toml`: cargo builds in the build area's `target/`.
fn cargo_config(home: &Path) -> String {
    let dir = toml::Value::String(home.join("target").display().to_string());
    format!(
        "# Written by `zlc new project`: build in zlc's build area, where the runtime is\n\
         # compiled once per machine and zlc version (with the same profiles as in\n\
         # Cargo.toml). Remove this file to build in ./target instead.\n\
         [build]\n\
         target-dir = {dir}\n"
    )
}

/// `template` with `{{name}}` and `{{crate}}` filled in.
fn fill(template: &str, name: &str, krate: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{crate}}", krate)
}

/// Whether `path` names a Rust project (a folder with `Cargo.toml`, or that file).
pub fn manifest_of(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        let m = path.join("Cargo.toml");
        return m.is_file().then_some(m);
    }
    (path.file_name().is_some_and(|n| n == "Cargo.toml") && path.is_file()).then(|| path.to_owned())
}

/// `zlc build DIR`: `cargo build` in the project, in the build area `home`'s target;
/// returns the listener binary, delivered to `home/projects/NAME-HASH/bin/PROFILE/`
/// (a pipeline of the same name may overwrite cargo's copy later).
pub fn build_project(manifest: &Path, profile: Profile, home: &Path) -> Result<PathBuf> {
    let manifest = manifest
        .canonicalize()
        .with_context(|| format!("reading {}", manifest.display()))?;
    let name = package_name(&manifest);
    let _lock = crate::area::lock_name(home, &name)?;
    let built = cargo_build(&manifest, profile, &home.join("target"))?;
    let bin_dir = home
        .join("projects")
        .join(format!(
            "{name}-{:016x}",
            crate::fnv::fnv1a(crate::fnv::START, manifest.as_os_str().as_encoded_bytes())
        ))
        .join("bin")
        .join(profile.dir());
    crate::area::deliver(&built, &bin_dir)
}

/// The package's name in `manifest`, or `project` when it cannot be read (cargo will
/// say why).
fn package_name(manifest: &Path) -> String {
    std::fs::read_to_string(manifest)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_owned))
        .filter(|n| zlc_codegen::check::is_ident(n))
        .unwrap_or_else(|| "project".into())
}

/// Runs `cargo build` for `manifest` in `target`; returns the one binary it made.
fn cargo_build(manifest: &Path, profile: Profile, target: &Path) -> Result<PathBuf> {
    eprintln!("zlc: building {}", manifest.display());
    let mut cargo = crate::area::cargo();
    cargo
        .args(["build", "--profile", profile.cargo_name()])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(manifest)
        .stdout(Stdio::piped());
    cargo.env("CARGO_TARGET_DIR", target);
    let mut child = cargo
        .spawn()
        .context("running cargo (is it installed and on PATH?)")?;
    let mut bins = Vec::new();
    if let Some(out) = child.stdout.take() {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines() {
            let line = line.context("reading cargo's output")?;
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let ours = msg["manifest_path"].as_str().map(Path::new) == Some(manifest);
            if msg["reason"] == "compiler-artifact"
                && ours
                && msg["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
                && let Some(exe) = msg["executable"].as_str()
            {
                bins.push(PathBuf::from(exe));
            }
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!(
            "cargo could not build {} (its errors are above)",
            manifest.display()
        );
    }
    match bins.len() {
        1 => Ok(bins.remove(0)),
        0 => bail!("{} has no binary target (src/main.rs)", manifest.display()),
        _ => bail!(
            "{} has {} binaries; build the one you want with cargo",
            manifest.display(),
            bins.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_placeholder_is_filled() {
        for (path, template) in FILES {
            let text = fill(template, "my-bot", "my_bot");
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
    }

    #[test]
    fn the_manifest_names_the_project_and_the_runtime_with_its_macros() {
        let text = manifest("my-bot", &RuntimeDep::Path("/opt/zlc \"x\"/runtime".into()));
        let m: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(m["package"]["name"].as_str(), Some("my-bot"));
        let rt = &m["dependencies"]["zlc-runtime"];
        assert_eq!(rt["path"].as_str(), Some("/opt/zlc \"x\"/runtime"));
        assert_eq!(rt["features"][0].as_str(), Some("macros"));
        assert!(m["workspace"].as_table().unwrap().is_empty());
        assert_eq!(m["profile"]["release"]["incremental"].as_bool(), Some(true));
        assert_eq!(
            m["profile"]["dev"]["package"]["*"]["debug"].as_bool(),
            Some(false)
        );
    }

    #[test]
    fn the_cargo_config_points_at_the_build_areas_target() {
        let text = cargo_config(Path::new("/home/a \"b\"/.cache/zlc"));
        let c: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            c["build"]["target-dir"].as_str(),
            Some("/home/a \"b\"/.cache/zlc/target")
        );
    }
}
