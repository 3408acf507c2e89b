//! Embeds the sources of the runtime (and of the crates it needs: catalog, macros,
//! codegen, ssrf), the workspace manifest they inherit from and the lockfile zlc is
//! tested with, so that an installed zlc builds pipelines without the clone it was
//! installed from (`src/sources.rs` unpacks them). The content hash names the copy.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/fnv.rs"]
mod fnv;

/// The crates generated code needs, as folders of the workspace.
const CRATES: &[&str] = &["catalog", "runtime", "macros", "codegen", "ssrf"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("..");
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let whole = CRATES
        .iter()
        .all(|c| root.join(c).join("Cargo.toml").is_file())
        && root.join("Cargo.lock").is_file();
    if whole {
        for c in CRATES {
            println!("cargo::rerun-if-changed={}", root.join(c).display());
            walk(&root, Path::new(c), &mut files)?;
        }
        for f in ["Cargo.toml", "Cargo.lock"] {
            println!("cargo::rerun-if-changed={}", root.join(f).display());
        }
        let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
        let rewritten = out.join("workspace-Cargo.toml");
        std::fs::write(&rewritten, only_members(&manifest)?)?;
        files.push(("Cargo.toml".into(), rewritten));
        files.push(("Cargo.lock".into(), root.join("Cargo.lock")));
    }
    files.sort();
    let mut hash = fnv::START;
    let mut code = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        let bytes = std::fs::read(path)?;
        hash = fnv::fnv1a(hash, name.as_bytes());
        hash = fnv::fnv1a(hash, &[0]);
        hash = fnv::fnv1a(hash, &bytes);
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display()
        )?;
    }
    code.push_str("];\n");
    writeln!(code, "pub const HASH: &str = \"{hash:016x}\";")?;
    std::fs::write(out.join("embedded.rs"), code)?;
    Ok(())
}

/// Adds the files under `root/dir` to `files` (as `dir/...` paths), leaving out
/// what building the crate as a dependency does not read: its `tests/`, `target/` and
/// hidden files.
fn walk(
    root: &Path,
    dir: &Path,
    files: &mut Vec<(String, PathBuf)>,
) -> Result<(), Box<dyn std::error::Error>> {
    for entry in std::fs::read_dir(root.join(dir))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = dir.join(&name);
        let top = dir.components().count() == 1;
        if name.starts_with('.') || (top && (name == "tests" || name == "target")) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(root, &rel, files)?;
        } else {
            let rel = rel.to_str().ok_or("a source path is not UTF-8")?.to_owned();
            files.push((rel, entry.path()));
        }
    }
    Ok(())
}

/// The workspace manifest with only the embedded crates as members.
fn only_members(manifest: &str) -> Result<String, Box<dyn std::error::Error>> {
    let members = format!(
        "members = [{}]",
        CRATES
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut found = false;
    let lines: Vec<String> = manifest
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("members = [") && l.trim_end().ends_with(']') {
                found = true;
                members.clone()
            } else {
                l.to_owned()
            }
        })
        .collect();
    if !found {
        return Err("the workspace Cargo.toml has no one-line `members = [...]`".into());
    }
    Ok(lines.join("\n") + "\n")
}
