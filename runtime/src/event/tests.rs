use super::*;

const SPEC_EVENTS: &str = include_str!("../../tests/fixtures/zulip/events.jsonl");

#[test]
fn every_spec_example_parses_into_its_own_variant() {
    let mut seen = std::collections::BTreeSet::new();
    let mut count = 0;
    for (n, line) in SPEC_EVENTS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let raw = RawEvent::new(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let event = raw
            .parse()
            .unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        assert!(
            !matches!(event, Event::Unknown(_)),
            "line {}: {} fell back to Unknown",
            n + 1,
            raw.kind
        );
        assert_eq!(
            (event.type_name(), event.op()),
            (raw.kind, raw.op),
            "line {}",
            n + 1
        );
        assert!(
            seen.insert((raw.kind.to_owned(), raw.op.map(str::to_owned))),
            "line {} repeats a kind",
            n + 1
        );
        count += 1;
    }
    assert_eq!(count, 77);
    assert_eq!(Event::KNOWN.len(), 77);
}

#[test]
fn the_fast_head_agrees_with_serde() {
    for line in SPEC_EVENTS.lines() {
        let fast = RawEvent::new(line).unwrap();
        let slow: Head<'_> = serde_json::from_str(line).unwrap();
        assert_eq!(
            (fast.kind, fast.op, fast.id),
            (slow.kind, slow.op, slow.id),
            "{line}"
        );
    }
}

#[test]
fn kind_has_op_matches_the_table() {
    for (kind, op) in Event::KNOWN {
        assert_eq!(kind_has_op(kind), op.is_some(), "{kind}");
    }
}

#[test]
fn message_accessors() {
    let line = SPEC_EVENTS
        .lines()
        .find(|l| l.starts_with(r#"{"type":"message""#))
        .unwrap();
    let Event::Message(ev) = RawEvent::new(line).unwrap().parse().unwrap() else {
        panic!()
    };
    let m = &ev.message;
    assert_eq!(m.id, 31);
    assert!(m.is_channel() && !m.is_direct());
    assert_eq!(m.channel_name(), Some("Denmark"));
    assert_eq!(m.channel_id(), Some(1));
    assert_eq!(m.topic(), "test");
    assert_eq!(
        (m.sender_id, m.sender_email(), m.sender_name()),
        (10, "user10@zulip.testserver", "King Hamlet")
    );
    assert!(m.content().starts_with("<p>First message"));
    assert!(m.recipients().is_empty());
    assert!(!ev.mentioned());

    let dm = r#"{"type":"message","message":{"id":7,"sender_id":4,"content":"hi @**bot**","subject":"","display_recipient":[{"id":4,"email":"a@x","full_name":"A"},{"id":9,"email":"bot@x","full_name":"Bot"}],"type":"private"},"flags":["mentioned","read"],"id":3}"#;
    let Event::Message(ev) = RawEvent::new(dm).unwrap().parse().unwrap() else {
        panic!()
    };
    assert!(
        ev.message.is_direct() && ev.mentioned() && ev.has_flag("read") && !ev.wildcard_mentioned()
    );
    assert_eq!(ev.message.channel_name(), None);
    assert_eq!(
        ev.message
            .recipients()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [4, 9]
    );
}

#[test]
fn strings_without_escapes_are_borrowed() {
    let line = r#"{"type":"message","message":{"id":1,"sender_id":2,"content":"plain","subject":"t","display_recipient":"devel","type":"stream","stream_id":3},"flags":[],"id":5}"#;
    let Event::Message(ev) = RawEvent::new(line).unwrap().parse().unwrap() else {
        panic!()
    };
    assert!(matches!(ev.message.content, std::borrow::Cow::Borrowed(_)));
    assert!(matches!(
        ev.message.display_recipient,
        DisplayRecipient::Channel(std::borrow::Cow::Borrowed(_))
    ));
    let escaped = line.replace("plain", r#"a \"quoted\" word"#);
    let Event::Message(ev) = RawEvent::new(&escaped).unwrap().parse().unwrap() else {
        panic!()
    };
    assert_eq!(ev.message.content(), r#"a "quoted" word"#);
}

#[test]
fn unknown_types_and_ops_are_kept_raw() {
    let line = r#"{"type":"navigation_view","op":"add","navigation_view":{"fragment":"x"},"id":4}"#;
    let raw = RawEvent::new(line).unwrap();
    let Event::Unknown(u) = raw.parse().unwrap() else {
        panic!()
    };
    assert_eq!(
        (u.kind, u.op, u.json),
        ("navigation_view", Some("add"), line)
    );
    assert_eq!(raw.id, Some(4));

    let new_op = r#"{"type":"reaction","op":"bulk_add","id":9}"#;
    assert!(matches!(
        RawEvent::new(new_op).unwrap().parse().unwrap(),
        Event::Unknown(_)
    ));
}

#[test]
fn unknown_fields_are_ignored() {
    let line = r#"{"type":"heartbeat","future_field":{"a":[1,2]},"id":12}"#;
    assert!(matches!(
        RawEvent::new(line).unwrap().parse().unwrap(),
        Event::Heartbeat(_)
    ));
}

#[test]
fn broken_events_are_errors_not_panics() {
    for bad in [
        "",
        "not json",
        "[1,2]",
        r#"{"id":3}"#,
        r#"{"type":5,"id":3}"#,
        r#"{"type":"message","message":{"id":1},"id":2}"#,
        r#"{"type":"message","message":{"id":1,"sender_id":2,"content":"x","display_recipient":"a","type":"stream"},"id":2"#,
        r#"{"type":"mystery","x":[1,2,"id":3}"#,
        "{\"type\":\"message\",\"message\":{\"id\":1,\"content\":\"\u{1F600}",
    ] {
        let r = RawEvent::new(bad).and_then(|raw| raw.parse().map(|_| ()));
        let e = r.expect_err(bad);
        assert!(e.to_string().starts_with("malformed event"), "{e}");
    }
}

#[test]
fn head_reads_type_not_first_and_op_later() {
    let line = r#"{"op":"update","type":"stream","property":"name","value":"x","stream_id":1,"name":"y","id":7}"#;
    let raw = RawEvent::new(line).unwrap();
    assert_eq!(
        (raw.kind, raw.op, raw.id),
        ("stream", Some("update"), Some(7))
    );
    // An op after other fields is still found (the fast path defers to serde).
    let line = r#"{"type":"reaction","user_id":1,"op":"add","message_id":2,"emoji_name":"a","emoji_code":"b","reaction_type":"unicode_emoji","id":8}"#;
    let raw = RawEvent::new(line).unwrap();
    assert_eq!((raw.op, raw.id), (Some("add"), Some(8)));
    assert!(matches!(raw.parse().unwrap(), Event::ReactionAdd(_)));
}

/// Adds a field no server sends today to every object of `v`, at every depth.
fn with_unknown_fields(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.values_mut().for_each(with_unknown_fields);
            map.insert(
                "zz_added_by_a_newer_server".into(),
                serde_json::json!({"nested": [1, "two", null], "flag": true}),
            );
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(with_unknown_fields),
        _ => {}
    }
}

#[test]
fn unknown_fields_never_fail_at_any_depth() {
    for line in SPEC_EVENTS.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        with_unknown_fields(&mut v);
        let text = v.to_string();
        let raw = RawEvent::new(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let event = raw.parse().unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(!matches!(event, Event::Unknown(_)), "{text}");
        let original = RawEvent::new(line).unwrap();
        assert_eq!((raw.kind, raw.op), (original.kind, original.op), "{text}");
    }
}

#[test]
fn unknown_types_ops_and_message_kinds_are_kept_not_failed() {
    let raw =
        RawEvent::new(r#"{"type":"channel_folder","op":"add","folder":{"id":1},"id":9}"#).unwrap();
    assert!(matches!(raw.parse().unwrap(), Event::Unknown(u) if u.kind == "channel_folder"));
    let raw =
        RawEvent::new(r#"{"type":"reaction","op":"bulk_add","message_id":1,"id":9}"#).unwrap();
    assert!(matches!(raw.parse().unwrap(), Event::Unknown(u) if u.op == Some("bulk_add")));
    let line = SPEC_EVENTS
        .lines()
        .find(|l| l.starts_with(r#"{"type":"message""#))
        .unwrap()
        .replace(r#""type":"stream""#, r#""type":"broadcast""#);
    let Event::Message(m) = RawEvent::new(&line).unwrap().parse().unwrap() else {
        panic!("{line}")
    };
    assert_eq!(m.message.kind, MessageType::Other);
    assert!(!m.message.is_channel() && !m.message.is_direct());
}

#[test]
fn a_message_reads_as_a_message_event_with_its_own_flags_or_the_ones_given() {
    let mut pushed = String::new();
    super::push_message_event(&mut pushed, r#"{"id":5}"#, r#"["mentioned"]"#);
    let v: serde_json::Value = serde_json::from_str(&pushed).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["message"]["id"], 5);
    assert_eq!(v["flags"][0], "mentioned");
    let mut fetched = String::new();
    super::push_message_event(&mut fetched, r#"{"id":6,"flags":["read"]}"#, "[]");
    let v: serde_json::Value = serde_json::from_str(&fetched).unwrap();
    assert_eq!(v["flags"], serde_json::json!(["read"]));
}
