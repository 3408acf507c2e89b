//! The handlers on their own, without a server (the pipeline that mixes them with
//! built-in actions has its own cases: `zlc test pipelines/deploys.toml`).

#![allow(clippy::unwrap_used)]

use zlc_runtime::harness::{Harness, HarnessOptions, MessageSpec};

#[tokio::test]
async fn a_deploy_is_announced_with_the_configured_environment() {
    let opts = HarnessOptions::default().config("announce", "environment", "staging");
    let mut h = Harness::with_options(&deploy_tools::PIPELINE, opts)
        .await
        .unwrap();
    h.send(MessageSpec::channel("ops", "web").content("Deploy #41 please"))
        .await
        .unwrap();
    h.send(MessageSpec::channel("random", "web").content("deploy #42"))
        .await
        .unwrap();
    assert_eq!(
        h.messages(),
        [(
            "#ops > web".to_owned(),
            "Deploying #41 to staging (deploy 1 so far)".to_owned()
        )]
    );
    assert_eq!(h.counter("announce", "deploys").await.unwrap(), 1);
}

#[tokio::test]
async fn a_rollback_without_a_number_is_a_dead_letter_not_a_retry() {
    let mut h = Harness::of(&deploy_tools::PIPELINE).await.unwrap();
    h.send(
        MessageSpec::channel("ops", "web")
            .content("rollback please")
            .from("bob@example.com", "Bob"),
    )
    .await
    .unwrap();
    h.send(
        MessageSpec::channel("ops", "web")
            .content("rollback #7")
            .from("bob@example.com", "Bob"),
    )
    .await
    .unwrap();
    assert_eq!(
        h.messages(),
        [(
            "bob@example.com".to_owned(),
            "Rolling back deploy #7, as Bob asked.".to_owned()
        )]
    );
    let dead = h.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].1.contains("needs a deploy number"), "{dead:?}");
    assert_eq!(h.counters("rollback").failed, 1);
}
