//! zlc-codegen's integration tests: generated code for every example pipeline, and the
//! rendered diagnostics for every bad pipeline (insta snapshots; CI never writes them).

#![allow(clippy::unwrap_used)]

mod diagnostics;
mod expand;

use std::path::{Path, PathBuf};

/// The `.toml` files of a folder, sorted.
pub fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// A path relative to the workspace root, for stable messages.
pub fn rel(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
