//! `zlc test`: the examples' own cases pass; a changed expectation fails with a diff
//! and exit status 1; the JSON report says the same.

use std::process::Command;

const ZLC: &str = env!("CARGO_BIN_EXE_zlc");

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn zlc_test(args: &[&str]) -> (i32, String, String) {
    super::output(Command::new(ZLC).arg("test").args(args).current_dir(root()))
}

#[test]
fn every_example_pipeline_passes_its_own_cases() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| format!("pipelines/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let (code, out, err) = zlc_test(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    for f in &files {
        assert!(out.contains(&format!("{f}\n")), "{f} is reported: {out}");
    }
    assert!(!out.contains("FAIL"), "{out}");
    assert!(
        out.trim_end().ends_with(" failed") && out.contains(" passed, 0 failed"),
        "{out}"
    );
}

#[test]
fn a_changed_expectation_fails_with_a_readable_diff() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("pipelines/welcome.toml"))
        .unwrap()
        .replace("name = \"welcome\"", "name = \"welcome_changed\"")
        .replace(
            "text = \"Welcome, @**Dana Scully**! Say hi in #**general**.\"",
            "text = \"Welcome aboard, @**Dana Scully**!\"",
        );
    let file = dir.path().join("welcome_changed.toml");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();

    let (code, out, err) = zlc_test(&[path]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("  FAIL  a new member is announced in #general\n"),
        "{out}"
    );
    assert!(
        out.contains("  ok    messages do not welcome anyone\n"),
        "{out}"
    );
    assert!(out.contains("messages (- expected, + happened):"), "{out}");
    assert!(
        out.contains("- [*] #general > welcome: \"Welcome aboard, @**Dana Scully**!\""),
        "{out}"
    );
    assert!(
        out.contains(
            "+ [greet] #general > welcome: \"Welcome, @**Dana Scully**! Say hi in #**general**.\""
        ),
        "{out}"
    );
    assert!(out.contains("2 cases: 1 passed, 1 failed"), "{out}");

    let (code, out, _) = zlc_test(&["--format", "json", path]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 1);
    let case = &report["files"][0]["cases"][0];
    assert_eq!(case["passed"], false);
    assert_eq!(case["effects"][0]["kind"], "message");
    assert_eq!(case["effects"][0]["to"], "#general > welcome");
}

#[test]
fn a_file_without_cases_or_with_a_missing_recording_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.toml");
    std::fs::write(
        &bare,
        "[pipeline]\nname = \"bare_cases\"\n\n[[listener]]\nname = \"all\"\nevents = \"message\"\n",
    )
    .unwrap();
    let (code, out, _) = zlc_test(&[bare.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("has no test cases: add a [[test]] table"),
        "{out}"
    );

    let missing = dir.path().join("missing.toml");
    std::fs::write(
        &missing,
        "[pipeline]\nname = \"missing_recording\"\n\n[[listener]]\nname = \"all\"\nevents = \"message\"\n\n\
         [[test]]\nname = \"a day\"\nevent = [{ file = \"day.jsonl\" }]\nexpect.matched = [\"all\"]\n",
    )
    .unwrap();
    let (code, out, _) = zlc_test(&[missing.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("test `a day` reads events from \"day.jsonl\""),
        "{out}"
    );

    // A recording that is there, relative to the pipeline file.
    std::fs::write(
        dir.path().join("day.jsonl"),
        concat!(
            r#"{"type":"message","message":{"id":1,"sender_id":9,"sender_email":"a@example.com","sender_full_name":"A","content":"hi","timestamp":1700000000,"type":"stream","display_recipient":"general","stream_id":3,"subject":"t","recipient_id":1,"client":"x"},"flags":[],"id":1}"#,
            "\n"
        ),
    )
    .unwrap();
    let (code, out, err) = zlc_test(&[missing.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("  ok    a day"), "{out}");
}
