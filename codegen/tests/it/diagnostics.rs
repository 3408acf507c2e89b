use std::path::Path;

use super::{rel, toml_files};

#[test]
fn every_bad_pipeline_gets_its_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let files = toml_files(&dir);
    assert!(files.len() >= 10);
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let name = rel(&file);
        let d = zlc_codegen::load(&name, &source).expect_err(&name);
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        insta::assert_snapshot!(format!("bad_{stem}"), d.to_string());
    }
}

#[test]
fn all_errors_are_collected_not_just_the_first() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad/values.toml"),
    )
    .unwrap();
    let d = zlc_codegen::load("values.toml", &source).unwrap_err();
    assert!(d.len() >= 7, "{d}");
}

#[test]
fn a_name_that_tries_to_inject_code_is_rejected() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad/injection.toml"),
    )
    .unwrap();
    let d = zlc_codegen::load("injection.toml", &source).unwrap_err();
    assert_eq!(d.len(), 1);
    assert!(
        d.items[0]
            .message
            .starts_with("listener name \"x\\\"); std::process::exit(1); //\" is not allowed"),
        "{d}"
    );
}
