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

#[test]
fn a_regex_longer_than_the_limit_is_refused_with_its_length() {
    let words: Vec<String> = (0..2000).map(|i| format!("word{i}")).collect();
    let source = format!(
        "[pipeline]\nname = \"long\"\n\n[[listener]]\nname = \"l\"\nevents = \"message\"\ncontent = '{}'\n",
        words.join("|")
    );
    let d = zlc_codegen::load("long.toml", &source).unwrap_err();
    assert_eq!(d.len(), 1, "{d}");
    assert!(
        d.items[0]
            .message
            .starts_with("regex is 16889 bytes long; the limit is 8192 bytes"),
        "{d}"
    );
    // The 17 KB line is shown cut, not whole.
    assert!(d.to_string().len() < 1000, "{}", d.to_string().len());
}

#[test]
fn a_listener_that_sees_its_own_messages_and_replies_is_warned_about() {
    let source = "[pipeline]\nname = \"echo\"\n\n[[listener]]\nname = \"echo\"\nevents = \"message\"\ninclude_own = true\n\n[[listener.action]]\ntype = \"reply\"\ntemplate = \"{{message.content}}\"\n";
    let loaded = zlc_codegen::load("echo.toml", source).expect("a warning does not fail");
    assert_eq!(loaded.warnings.len(), 1);
    insta::assert_snapshot!("warning_include_own", loaded.warnings.to_string());
    // Without a reply, seeing its own messages is harmless.
    let quiet = source.replace(
        "type = \"reply\"\ntemplate = \"{{message.content}}\"",
        "type = \"count\"",
    );
    assert!(
        zlc_codegen::load("echo.toml", &quiet)
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn handlers_that_contradict_their_listeners_are_reported() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mixed");
    let file = dir.join("contradictions.toml");
    let source = std::fs::read_to_string(&file).unwrap();
    let d = zlc_codegen::load_with(&rel(&file), &source, Some(&dir)).unwrap_err();
    insta::assert_snapshot!("mixed_contradictions", d.to_string());
}

#[test]
fn handlers_join_their_listeners() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mixed");
    let file = dir.join("fine.toml");
    let source = std::fs::read_to_string(&file).unwrap();
    let loaded =
        zlc_codegen::load_with(&rel(&file), &source, Some(&dir)).unwrap_or_else(|d| panic!("{d}"));
    let warnings = loaded.warnings.to_string();
    assert!(
        warnings.contains("lists 1 action, which does not run here"),
        "{warnings}"
    );
    let p = loaded.pipeline;
    let answers = &p.listeners[0];
    assert_eq!(
        answers.events[0].value.kind, "message",
        "taken from the handler"
    );
    assert!(answers.filters.mentioned.as_ref().unwrap().value);
    assert_eq!(answers.handler_filters.channels.len(), 1);
    assert_eq!(answers.filters.topics.len(), 1);
    assert_eq!(
        answers.policy.timeout_ms,
        Some(9000),
        "the listener's policy wins"
    );
    assert_eq!(answers.config, [("tone".to_owned(), "dry".to_owned())]);
    assert_eq!(answers.realms.as_ref().unwrap()[0].value, 1);
    let tally = &p.listeners[1];
    assert_eq!(tally.events[0].value.kind, "reaction");
    let found = p.crates[0].found.as_ref().unwrap();
    assert_eq!(found.0, "mixed-handlers");
}
