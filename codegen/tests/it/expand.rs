use std::path::Path;

use zlc_codegen::expand::{RuntimeDep, expand};

use super::{rel, toml_files};

#[test]
fn every_example_pipeline_expands_to_its_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines");
    let files = toml_files(&dir);
    assert!(!files.is_empty());
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let name = rel(&file);
        let p = zlc_codegen::load_with(&name, &source, Some(&dir))
            .unwrap_or_else(|d| panic!("{d}"))
            .pipeline;
        let g = expand(&p, &name, &RuntimeDep::Path("../runtime".into()));
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        // Handler crates are depended on by absolute path: show it from the root.
        let root = dir.parent().unwrap().canonicalize().unwrap();
        let cargo_toml = g.cargo_toml.replace(&root.display().to_string(), "<root>");
        insta::assert_snapshot!(
            format!("pipeline_{stem}"),
            format!("{cargo_toml}\n{}", g.main_rs)
        );
    }
}

#[test]
fn user_values_become_literals_that_cannot_inject_code() {
    let source = r#"
[pipeline]
name = "safe"
description = '"); std::process::exit(1); //'

[[listener]]
name = "l"
events = "message"
content = '"\); panic!\(\); //'
topics = ['}} fn evil() {{']

[[listener.action]]
type = "reply"
template = '"); std::process::abort(); //{{sender.name}}'
"#;
    let p = zlc_codegen::load("safe.toml", source).unwrap().pipeline;
    let g = expand(&p, "safe.toml", &RuntimeDep::Path("../runtime".into()));
    let file: syn::File = syn::parse_str(&g.main_rs).unwrap();
    // The hostile text appears only inside string literals: no item or call was added.
    let fns: Vec<String> = file
        .items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Fn(f) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(fns, ["dispatch", "main"]);
    assert!(
        g.main_rs.contains(r#""}} fn evil() {{""#),
        "the topic stays one string literal"
    );
    assert!(
        g.main_rs
            .contains(r#"description: "\"); std::process::exit(1); //""#),
        "{}",
        g.main_rs
    );
}

#[test]
fn output_is_deterministic() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/bench.toml"),
    )
    .unwrap();
    let a = expand(
        &zlc_codegen::load("b", &source).unwrap().pipeline,
        "b",
        &RuntimeDep::Path("r".into()),
    );
    let b = expand(
        &zlc_codegen::load("b", &source).unwrap().pipeline,
        "b",
        &RuntimeDep::Path("r".into()),
    );
    assert_eq!(a, b);
}
