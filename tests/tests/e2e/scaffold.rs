use zlc::compile::new_pipeline;
use zlc_runtime::testkit::FakeZulip;

use super::*;

/// `zlc new pipeline` writes a file that checks, builds, and runs against a server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_pipeline_builds_and_answers_mentions() {
    let dir = tempfile::tempdir().unwrap();
    let file = new_pipeline("scaffold_demo", &dir.path().join("pipelines"), false).unwrap();
    assert!(
        new_pipeline("scaffold_demo", &dir.path().join("pipelines"), false).is_err(),
        "no silent overwrite"
    );
    let bin = build_pipeline(&file);

    let zulip = FakeZulip::start().await.unwrap();
    let rc = dir.path().join("zuliprc");
    std::fs::write(&rc, zulip.zuliprc(zulip.bot())).unwrap();
    let store = format!("sqlite://{}", dir.path().join("demo.db").display());
    let p = Proc::spawn(
        &bin,
        &[
            "run",
            "--config-file",
            rc.to_str().unwrap(),
            "--store",
            &store,
        ],
        dir.path().join("log"),
        &[],
    );
    wait_until(30, "registration", || !zulip.queue_ids().is_empty()).await;
    let alice = zulip.add_user("alice@zulip.example.com", "Alice");
    zulip
        .message()
        .channel("general")
        .topic("hi")
        .sender(&alice)
        .content("@**Listener Bot** ping @**all**")
        .send();
    wait_until(20, "the hello reply", || {
        zulip
            .messages()
            .iter()
            .any(|m| m.sender_id == zulip.bot().id)
    })
    .await;
    let reply = zulip
        .messages()
        .into_iter()
        .find(|m| m.sender_id == zulip.bot().id)
        .unwrap();
    assert_eq!(
        reply.content, "Hello @**Alice**! You said: @_**Listener Bot** ping @_**all**",
        "the template's own mention notifies; the echoed ones do not"
    );
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}
