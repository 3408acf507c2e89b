//! The runtime sources this zlc was built with, carried inside the binary
//! (`build.rs` embeds them) and unpacked once per content into `$ZLC_HOME/src/`.
//!
//! Generated crates and new projects depend on that copy, so an installed zlc needs
//! no clone, every way of running one zlc version (installed, `cargo run`, another
//! clone of the same commit) names the same runtime and shares one build of it, and
//! two versions side by side keep two copies.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The file written last into a complete copy.
const DONE: &str = ".zlc-unpacked";

/// The folder the sources unpack to, under `home`: named by zlc's version and the
/// sources' content hash.
pub fn folder(home: &Path) -> PathBuf {
    home.join("src").join(format!(
        "zlc-{}-{}",
        env!("CARGO_PKG_VERSION"),
        embedded::HASH
    ))
}

/// The runtime's folder in the unpacked copy under `home`, unpacking it first if
/// needed. Concurrent zlc processes each unpack to a folder of their own and rename it
/// into place; the first wins, the others find it there.
pub fn runtime(home: &Path) -> Result<PathBuf> {
    if embedded::FILES.is_empty() {
        bail!(
            "this zlc was built without the runtime sources (its build could not see the \
             workspace); set ZLC_RUNTIME_PATH to the runtime/ folder of a zlc checkout"
        );
    }
    let dir = folder(home);
    if !dir.join(DONE).is_file() {
        unpack(&dir)
            .with_context(|| format!("unpacking the runtime sources to {}", dir.display()))?;
    }
    Ok(dir.join("runtime"))
}

fn unpack(dir: &Path) -> Result<()> {
    let parent = dir.parent().context("the source folder has no parent")?;
    std::fs::create_dir_all(parent)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let staging = parent.join(format!(".unpacking-{}-{nanos}", std::process::id()));
    for (name, bytes) in embedded::FILES {
        let path = staging.join(name);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(staging.join(DONE), embedded::HASH)?;
    if dir.exists() && !dir.join(DONE).is_file() {
        // An earlier unpacking was cut off (or the copy was damaged): replace it.
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    match std::fs::rename(&staging, dir) {
        Ok(()) => Ok(()),
        Err(_) if dir.join(DONE).is_file() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e).with_context(|| format!("moving the sources to {}", dir.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_unpack_once_into_a_workspace_of_the_embedded_crates() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path()).unwrap();
        assert!(rt.join("Cargo.toml").is_file());
        assert!(rt.join("src/lib.rs").is_file());
        assert!(rt.join("migrations").is_dir());
        assert!(!rt.join("tests").exists(), "tests are not needed to build");
        let root = rt.parent().unwrap();
        for c in ["catalog", "macros", "codegen", "ssrf"] {
            assert!(root.join(c).join("Cargo.toml").is_file(), "{c}");
        }
        assert!(root.join("Cargo.lock").is_file());
        let ws = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(
            ws.contains(r#"members = ["catalog", "runtime", "macros", "codegen", "ssrf"]"#),
            "{ws}"
        );
        let name = root.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("zlc-{}-", env!("CARGO_PKG_VERSION"))),
            "{name}"
        );
        // A second call finds the copy; a damaged one is replaced.
        let lib = rt.join("src/lib.rs");
        std::fs::write(&lib, "edited").unwrap();
        assert_eq!(runtime(home.path()).unwrap(), rt);
        assert_eq!(std::fs::read_to_string(&lib).unwrap(), "edited");
        std::fs::remove_file(root.join(DONE)).unwrap();
        assert_eq!(runtime(home.path()).unwrap(), rt);
        assert_ne!(std::fs::read_to_string(&lib).unwrap(), "edited");
        let left: Vec<_> = std::fs::read_dir(home.path().join("src"))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "no staging folder is left behind");
    }
}
