//! The reader against serde_json: on every input it accepts, the same fields; whatever
//! serde rejects, it declines.

use super::message_view;
use crate::event::MessageViewEvent;

/// Holds the reader to serde's verdict on `json`; returns whether the reader accepted it.
fn agrees(json: &str) -> bool {
    let slow = serde_json::from_str::<MessageViewEvent<'_>>(json);
    match (message_view(json), slow) {
        (Some(fast), Ok(slow)) => {
            assert_eq!(fast, slow, "different fields from {json}");
            true
        }
        (Some(fast), Err(e)) => panic!("accepted what serde rejects ({e}): {json}\n{fast:?}"),
        (None, _) => false,
    }
}

fn message_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| l.starts_with(r#"{"type":"message""#))
}

#[test]
fn the_official_examples_are_read_as_serde_reads_them() {
    let examples = include_str!("../../../tests/fixtures/zulip/events.jsonl");
    let mut n = 0;
    for line in message_lines(examples) {
        assert!(agrees(line), "declined an official example: {line}");
        n += 1;
    }
    assert!(n >= 1);
    // Each message of the official `GET /messages` example, as an event.
    let page: serde_json::Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/zulip/messages-example.json"
    ))
    .unwrap();
    for m in page["messages"].as_array().unwrap() {
        let line = format!(r#"{{"type":"message","message":{m},"flags":["read"],"id":4}}"#);
        assert!(agrees(&line), "declined {line}");
    }
}

#[test]
fn the_benchmark_workload_is_read_without_serde() {
    use std::io::Read;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/events-50k.jsonl.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let (mut n, mut read) = (0, 0);
    for line in message_lines(&text) {
        n += 1;
        read += usize::from(agrees(line));
    }
    assert_eq!((n, read), (50_000, 50_000));
}

#[test]
fn whitespace_escapes_and_any_key_order_are_read() {
    let cases = [
        // Pretty-printed, keys in another order, escapes everywhere.
        "{ \"id\" : 7 ,\n\t\"flags\" : [ \"mentioned\" , \"re\\u0061d\" ] ,\r\n \"message\" : {\n  \"type\" : \"str\\u0065am\" , \"stream_id\" : null , \"display_recipient\" : \"d\\u00e9v \\ud83d\\ude00\" ,\n  \"content\" : \"say \\\"hi\\\"\\n\\\\ \\/ \\b\\f\\r\\t\" , \"sender_\\u0069d\" : -3 , \"id\" : 0 } , \"type\" : \"message\" } \n",
        // A direct message whose users carry fields nobody asked for.
        r#"{"type":"message","message":{"id":1,"sender_id":2,"content":"x","display_recipient":[{"id":2,"email":"a@x","extra":{"k":[1,2.5e-3,null,true]},"full_name":"A"},{"email":"b@x","id":3,"is_mirror_dummy":true}],"type":"private"},"id":1}"#,
        // Key-like text inside strings, and `"content"` as a key one level down.
        r#"{"type":"message","message":{"submessages":[{"content":"{\"id\":9}","id":5}],"id":1,"sender_id":2,"content":",\"id\":99,\"content\":\"no\"}","subject":"\"type\":\"private\"","display_recipient":"general","type":"stream","stream_id":4},"id":1}"#,
    ];
    for json in cases {
        assert!(agrees(json), "declined {json}");
    }
}

#[test]
fn what_serde_would_read_differently_or_reject_is_left_to_it() {
    let base = |message: &str| format!(r#"{{"type":"message","message":{message},"id":1}}"#);
    let ok = r#""id":1,"sender_id":2,"content":"c","display_recipient":"d","type":"stream""#;
    let cases = [
        base(&format!("{{{ok},\"id\":2}}")),       // duplicate field
        base(&format!("{{{ok},\"\\u0069d\":2}}")), // the same, escaped
        base(r#"{"id":-0,"sender_id":2,"content":"c","display_recipient":"d","type":"stream"}"#),
        base(r#"{"id":1.0,"sender_id":2,"content":"c","display_recipient":"d","type":"stream"}"#),
        base(
            r#"{"id":1,"sender_id":2,"content":"\ud800","display_recipient":"d","type":"stream"}"#,
        ),
        base(r#"{"id":1,"sender_id":2,"content":"c","display_recipient":"d"}"#), // no type
        base(r#"[1,2,"c",0,"s","e","d","stream",null]"#), // a struct as an array
        base(&format!(
            "{{{ok},\"deep\":{}1{}}}",
            "[".repeat(70),
            "]".repeat(70)
        )),
        format!("{} x", base(&format!("{{{ok}}}"))), // text after the event
        base(&format!("{{{ok},\"bad\":\"a\u{1}b\"}}")), // a raw control character
        base(&format!("{{{ok},\"bad\":01}}")),       // a leading zero, skipped
    ];
    for json in &cases {
        assert!(!agrees(json), "should have declined {json}");
    }
    // And what the reader accepts it reads exactly: the plain case itself.
    assert!(agrees(&base(&format!("{{{ok}}}"))));
}

/// Random message events built from valid and invalid parts, then random edits of them:
/// the reader must never accept what serde rejects or read a field differently.
#[test]
fn random_and_broken_events_get_serde_s_verdict() {
    let seed = std::env::var("ZLC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let rounds: usize = std::env::var("ZLC_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    fastrand::seed(seed);
    eprintln!("seed {seed} (ZLC_FUZZ_SEED={seed} repeats this run)");
    let (mut accepted, mut serde_ok) = (0, 0);
    for round in 0..rounds {
        let mut json = random_event();
        if round % 2 == 1 {
            for _ in 0..fastrand::usize(1..4) {
                mutate(&mut json);
            }
        }
        serde_ok += usize::from(serde_json::from_str::<MessageViewEvent<'_>>(&json).is_ok());
        accepted += usize::from(agrees(&json));
    }
    eprintln!("{rounds} events: serde read {serde_ok}, the reader {accepted}");
    // Not a vacuous test: most of what serde reads, the reader reads too.
    assert!(accepted * 10 >= serde_ok * 7, "{accepted} of {serde_ok}");
}

fn pick<'a>(options: &[&'a str]) -> &'a str {
    options[fastrand::usize(..options.len())]
}

fn ws() -> &'static str {
    if fastrand::u8(..8) == 0 {
        pick(&[" ", "\n", " \t ", "\r\n"])
    } else {
        ""
    }
}

fn random_text() -> String {
    const PIECES: [&str; 18] = [
        "a",
        "<p>",
        "\\\"",
        "\\\\",
        "\\u0041",
        "\\ud83d\\ude00",
        "é",
        "\\n",
        ",\\\"id\\\":1",
        "\"content\":",
        "\\ud800",
        "\\udc00",
        "\\x",
        "\u{1}",
        "\\u12",
        "}",
        "data-user-id=\\\"100\\\"",
        "\\/",
    ];
    let mut s = String::from("\"");
    for _ in 0..fastrand::usize(0..8) {
        let piece = PIECES[fastrand::usize(..PIECES.len())];
        // The pieces that break a string are rare, so most strings stay valid.
        if matches!(
            piece,
            "\"content\":" | "\\ud800" | "\\udc00" | "\\x" | "\u{1}" | "\\u12"
        ) && fastrand::u8(..16) != 0
        {
            continue;
        }
        s.push_str(piece);
    }
    s.push('"');
    s
}

fn random_int() -> String {
    if fastrand::u8(..16) != 0 {
        return fastrand::i64(-5..100_000).to_string();
    }
    pick(&[
        "0",
        "-0",
        "01",
        "1.0",
        "1e3",
        "-",
        "123456789012345678",
        "1234567890123456789",
        "9223372036854775807",
        "99999999999999999999",
        "\"1\"",
        "null",
        "true",
    ])
    .to_owned()
}

fn random_recipient() -> String {
    let mut fields = vec![
        format!("\"id\":{}", random_int()),
        format!("\"email\":{}", random_text()),
        format!("\"full_name\":{}", random_text()),
        format!(
            "\"is_mirror_dummy\":{}",
            pick(&["false", "true", "null", "0"])
        ),
    ];
    if fastrand::u8(..4) == 0 {
        fields.remove(fastrand::usize(..fields.len()));
    }
    object(fields)
}

/// A member list shuffled, with now and then an extra, a duplicate or a missing field.
fn object(mut fields: Vec<String>) -> String {
    if fastrand::u8(..3) == 0 {
        let mut extra = String::new();
        crate::random_json::string(&mut extra);
        extra.push(':');
        crate::random_json::value(1, &mut extra);
        fields.push(extra);
    }
    if fastrand::u8(..40) == 0 && !fields.is_empty() {
        let again = fields[fastrand::usize(..fields.len())].clone();
        fields.push(again);
    }
    if fastrand::u8(..40) == 0 && !fields.is_empty() {
        fields.remove(fastrand::usize(..fields.len()));
    }
    fastrand::shuffle(&mut fields);
    let sep = format!("{},{}", ws(), ws());
    format!("{{{}{}{}}}", ws(), fields.join(&sep), ws())
}

fn random_event() -> String {
    let recipient = match fastrand::u8(..16) {
        0..=7 => random_text(),
        8..=14 => {
            let users: Vec<String> = (0..fastrand::usize(0..3))
                .map(|_| random_recipient())
                .collect();
            format!("[{}]", users.join(","))
        }
        _ => pick(&["null", "7", "{}", "[[1,\"a\"]]"]).to_owned(),
    };
    let message = object(vec![
        format!("\"id\":{}", random_int()),
        format!("\"sender_id\":{}", random_int()),
        format!("\"content\":{}", random_text()),
        format!("\"timestamp\":{}", random_int()),
        format!("\"subject\":{}", random_text()),
        format!("\"sender_email\":{}", random_text()),
        format!("\"display_recipient\":{recipient}"),
        format!(
            "\"type\":{}",
            if fastrand::u8(..8) != 0 {
                pick(&["\"stream\"", "\"channel\"", "\"private\"", "\"direct\""])
            } else {
                pick(&["\"widget\"", "\"str\\u0065am\"", "0", "null"])
            }
        ),
        format!(
            "\"stream_id\":{}",
            if fastrand::bool() {
                "null".to_owned()
            } else {
                random_int()
            }
        ),
        "\"reactions\":[]".to_owned(),
        "\"avatar_url\":null".to_owned(),
        // Fields dispatch skips: their strings must be checked as closely.
        format!("\"client\":{}", random_text()),
        format!("\"sender_full_name\":{}", random_text()),
    ]);
    let flags = if fastrand::u8(..8) != 0 {
        pick(&["[]", "[\"read\",\"mentioned\"]", "[\"a\\u0062\"]"])
    } else {
        pick(&["null", "[1]", "{}"])
    };
    let event = object(vec![
        "\"type\":\"message\"".to_owned(),
        format!("\"message\":{message}"),
        format!("\"flags\":{flags}"),
        format!("\"id\":{}", fastrand::u32(..)),
    ]);
    format!("{}{event}{}", ws(), ws())
}

/// One random edit that keeps the text valid UTF-8.
fn mutate(json: &mut String) {
    const PIECES: [&str; 14] = [
        "\"", "\\", ",", "}", "{", "[", "]", ":", " ", "-0", "1e5", "null", "\u{1}", "é",
    ];
    let at = |s: &str| {
        let mut i = fastrand::usize(..=s.len());
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let i = at(json);
    match fastrand::u8(..3) {
        0 => json.insert_str(i, PIECES[fastrand::usize(..PIECES.len())]),
        1 => {
            let mut j = (i + fastrand::usize(1..4)).min(json.len());
            while !json.is_char_boundary(j) {
                j += 1;
            }
            json.replace_range(i..j, "");
        }
        _ => json.truncate(i),
    }
}
