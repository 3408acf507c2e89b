//! `zlc new project`: the scaffold's own tests pass, `zlc build DIR` makes the binary,
//! and the binary answers a server, with its config changed without a rebuild.

use zlc::area::runtime_dep;
use zlc::project::{build_project, new_project};

use super::*;

/// Runs cargo in the project as a user would: no target folder set, so the project's
/// `.cargo/config.toml` sends it to the build area, where the runtime compiled for the
/// example pipelines is reused.
fn cargo(project: &Path, args: &[&str]) -> (bool, String) {
    let out = zlc::area::cargo()
        .args(args)
        .current_dir(project)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_project_tests_builds_runs_and_takes_config_without_a_rebuild() {
    let s = setup().await;
    let parent = s.dir.path();
    let runtime = runtime_dep().unwrap();
    let home = zlc::area::home().unwrap();
    let dir = new_project("e2e-deploy-bot", parent, &runtime, &home).unwrap();
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "src/main.rs",
        "tests/listeners.rs",
        "README.md",
        "zuliprc.example",
        ".gitignore",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let err = new_project("e2e-deploy-bot", parent, &runtime, &home).unwrap_err();
    assert!(
        format!("{err:#}").contains("exists and is not empty"),
        "{err:#}"
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("$BIN run --config-file"), "{readme}");

    // Its own tests pass out of the box.
    let (ok, out) = cargo(&dir, &["test", "--release"]);
    assert!(ok, "{out}");
    assert!(out.contains("test result: ok. 2 passed"), "{out}");

    // `zlc build DIR` (cargo underneath) gives the binary.
    let manifest = dir.join("Cargo.toml");
    let bin = build_project(&manifest, Profile::Release, &home).unwrap();
    assert!(bin.ends_with("e2e-deploy-bot"), "{}", bin.display());

    let run_cmd = |args: &[&str]| {
        let out = Command::new(&bin).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run_cmd(&["config", "welcome", "--store", &s.store_url]);
    assert_eq!((code, out.trim()), (0, "greeting = \"Welcome\""));
    let (code, out, _) = run_cmd(&[
        "config",
        "welcome",
        "greeting",
        "Hello",
        "--store",
        &s.store_url,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        "greeting = \"Hello\" (set here; the pipeline says \"Welcome\")"
    );
    let (code, _, err) = run_cmd(&["config", "welcome", "greting", "x", "--store", &s.store_url]);
    assert_eq!(code, 1);
    assert!(
        err.contains("has no config key `greting` (keys: greeting)"),
        "{err}"
    );
    let (code, _, err) = run_cmd(&["config", "on_deploy", "x", "y", "--store", &s.store_url]);
    assert_eq!(code, 1);
    assert!(err.contains("declares no config"), "{err}");

    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let alice = s.zulip.add_user("alice@zulip.example.com", "Alice");
    s.zulip
        .message()
        .channel("devel")
        .topic("ci")
        .sender(&alice)
        .content("deploy #7")
        .send();
    let dana = s.zulip.add_user("dana@zulip.example.com", "Dana");
    s.zulip
        .push_event(zlc_runtime::testkit::build::realm_user_add(&dana));
    wait_until(20, "the deploy reply and the welcome", || {
        s.bot_messages().len() >= 2
    })
    .await;
    let mut texts: Vec<String> = s.bot_messages().into_iter().map(|m| m.content).collect();
    texts.sort();
    assert_eq!(
        texts,
        ["Deploying #7 (deploy 1 so far)", "Hello, Dana!"],
        "{}",
        p.log_text()
    );
    wait_until(10, "the rocket", || !s.zulip.reactions().is_empty()).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
    let (_, out, _) = run_cmd(&["list", "--stats", "--store", &s.store_url]);
    assert!(out.contains("count \"deploys\": 1"), "{out}");

    // Editing a listener rebuilds only the project's own crates.
    let lib = dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text.replace("so far)", "today)")).unwrap();
    let started = Instant::now();
    build_project(&manifest, Profile::Release, &home).unwrap();
    eprintln!(
        "rebuild after editing an annotated function: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
