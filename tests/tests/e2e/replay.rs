use super::*;

fn replay_spec(name: &str) -> serde_json::Value {
    let bin = build_pipeline(&pipeline(name));
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("r.db").display());
    let events = root().join("runtime/tests/fixtures/zulip/events.jsonl");
    replay_summary(&bin, &events, &store, &[])
}

/// The `@user` group is presence, user_status and realm_user (3 ops).
#[test]
fn user_status_tracker_sees_the_user_family() {
    let s = replay_spec("user_status_tracker");
    assert_eq!(s["user_events"]["matched"], 5, "{s}");
    assert_eq!(s["status_changes"]["matched"], 1);
    assert_eq!(s["presence"]["matched"], 1);
}

/// The `@channel` group is stream (3 ops) and subscription (5 ops).
#[test]
fn stream_activity_sees_the_channel_family() {
    let s = replay_spec("stream_activity");
    assert_eq!(s["channel_events"]["matched"], 8, "{s}");
    assert_eq!(s["new_channels"]["matched"], 1);
    assert_eq!(
        s["new_channels"]["succeeded"], 1,
        "replays log Zulip actions instead of sending them"
    );
    assert_eq!(s["activity"]["matched"], 1);
}

#[test]
fn message_logger_filters_channels_and_topics() {
    let s = replay_spec("message_logger");
    assert_eq!(s["log_channels"]["seen"], 1, "{s}");
    assert_eq!(
        s["log_channels"]["matched"], 0,
        "the spec's message is in #Denmark"
    );
    assert_eq!(s["keep_incidents"]["matched"], 0);
}
