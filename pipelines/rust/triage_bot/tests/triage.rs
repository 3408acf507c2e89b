//! The triage bot without a server: typed commands, the conversation per topic, and
//! zlc's answers to mistakes.

#![allow(clippy::unwrap_used)]

use zlc_runtime::harness::{Harness, MessageSpec};

fn to_bot(topic: &str, text: &str) -> MessageSpec {
    MessageSpec::channel("ops", topic)
        .content(&format!("@**Listener Bot** {text}"))
        .mentioning_the_bot()
}

fn said(h: &Harness) -> Vec<String> {
    h.messages().into_iter().map(|(_, text)| text).collect()
}

#[tokio::test]
async fn a_topic_is_triaged_in_two_steps() {
    let mut h = Harness::of(&triage_bot::PIPELINE).await.unwrap();
    h.send(MessageSpec::channel("ops", "db").content("the db is slow"))
        .await
        .unwrap();
    h.send(to_bot("db", "triage HIGH --page")).await.unwrap();
    h.send(MessageSpec::channel("ops", "web").content("Othello"))
        .await
        .unwrap();
    h.send(MessageSpec::channel("ops", "db").content("Iago"))
        .await
        .unwrap();
    h.send(MessageSpec::channel("ops", "db").content("thanks"))
        .await
        .unwrap();
    assert_eq!(
        said(&h),
        [
            "Triaging at High severity (paging on-call). Who owns it?",
            "Filed: high severity, owned by Iago.",
        ]
    );
}

#[tokio::test]
async fn mistakes_get_the_usage_line_and_help_lists_the_commands() {
    let mut h = Harness::of(&triage_bot::PIPELINE).await.unwrap();
    h.send(to_bot("db", "triage hgih")).await.unwrap();
    h.send(to_bot("db", "trage low")).await.unwrap();
    h.send(to_bot("db", "help")).await.unwrap();
    let said = said(&h);
    assert!(
        said[0].contains("not `hgih` (did you mean `high`?)"),
        "{}",
        said[0]
    );
    assert!(
        said[0].contains("usage: `triage <severity: low|high|critical> [--page]`"),
        "{}",
        said[0]
    );
    assert_eq!(said[1], "unknown command `trage`; did you mean `triage`?");
    assert!(said[2].starts_with("Commands:\n* `triage <severity: low|high|critical> [--page]`: Start triaging this topic"), "{}", said[2]);
    assert_eq!(h.matched("triage"), 0);
}

#[tokio::test]
async fn the_review_reminder_comes_on_weekday_mornings() {
    let mut h = Harness::of(&triage_bot::PIPELINE).await.unwrap();
    h.set_clock(1796367600); // 2026-12-04T07:00:00Z: Friday, 08:00 in Berlin
    let ran = h.advance_to(1796634000).await.unwrap(); // 2026-12-07T09:00:00Z: Monday, 10:00
    assert_eq!(ran, 2, "Friday and Monday, not the weekend");
    assert_eq!(
        said(&h),
        [
            "Good morning! Friday's triage review is in 30 minutes.",
            "Good morning! Monday's triage review is in 30 minutes.",
        ]
    );
    assert_eq!(h.matched("review"), 2);
}
