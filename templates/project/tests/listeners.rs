//! The listeners, tested without a server: events in (built here, or lines of a
//! recording made with `zlc tail`), then what they did: replies, reactions, counters,
//! state, HTTP calls, dead letters.

use zlc_runtime::harness::{Harness, HarnessOptions, MessageSpec, user_joined_event};

#[tokio::test]
async fn deploys_in_devel_are_answered_counted_and_remembered() -> zlc_runtime::Result<()> {
    let mut h = Harness::of(&{{crate}}::PIPELINE).await?;
    let first = h
        .send(MessageSpec::channel("devel", "ci").content("deploy #12"))
        .await?;
    h.send(MessageSpec::channel("devel", "ci").content("Deploy #13"))
        .await?;
    h.send(MessageSpec::channel("general", "ci").content("deploy #14"))
        .await?;

    assert_eq!(
        h.messages(),
        [
            ("#devel > ci".to_owned(), "Deploying #12 (deploy 1 so far)".to_owned()),
            ("#devel > ci".to_owned(), "Deploying #13 (deploy 2 so far)".to_owned()),
        ]
    );
    assert_eq!(h.reactions()[0], (first, "rocket".to_owned()));
    assert_eq!(h.matched("on_deploy"), 2);
    assert_eq!(h.counter("on_deploy", "deploys").await?, 2);
    assert_eq!(h.state("on_deploy", "deploys").await?.as_deref(), Some("2"));
    Ok(())
}

#[tokio::test]
async fn new_members_get_the_configured_greeting() -> zlc_runtime::Result<()> {
    let opts = HarnessOptions::default().config("welcome", "greeting", "Hello");
    let mut h = Harness::with_options(&{{crate}}::PIPELINE, opts).await?;
    h.feed([user_joined_event("dana@example.com", "Dana @**all**")])
        .await?;
    assert_eq!(
        h.messages(),
        [("#general > welcome".to_owned(), "Hello, Dana @_**all**!".to_owned())]
    );
    Ok(())
}
