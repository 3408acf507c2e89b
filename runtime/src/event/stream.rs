//! Reading a `GET /events` response as it arrives: the events of its `events` array are
//! cut out one by one and handed on in bounded chunks, so that memory does not grow with
//! the backlog (a queue of 100,000 events answers with about 57 MB).
//!
//! The scanner is a small JSON state machine: it tracks strings (with escapes) and the
//! nesting depth, finds the top-level `"events"` key, and cuts each element of its
//! array at the bracket that closes it. It never interprets an event: each one is read
//! by [`crate::event::RawEvent`] afterwards, which rejects what is not an event. An
//! element larger than [`crate::event::MAX_EVENT_BYTES`] is not kept (only its last
//! bytes, for its id), and is reported as skipped.

use crate::event::MAX_EVENT_BYTES;
use crate::swar::{StringEnd, Structural, find};

/// How many bytes of events a chunk holds at most (one event may exceed it).
pub const CHUNK_BYTES: usize = 256 << 10;

/// Bytes kept from the end of an element too large to keep, to read its id.
const TAIL: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the envelope, before the `events` key.
    Envelope,
    /// After the `events` key: waiting for `:` and `[`.
    Key,
    /// Inside the events array.
    Array,
    /// After the array.
    Done,
}

/// Events cut out of a response, ready to hand on.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The events' JSON, one after another.
    pub text: Vec<u8>,
    /// Where each event is in `text`.
    pub spans: Vec<(u32, u32)>,
    /// Events that were too large to keep: their id when it could be read.
    pub oversize: Vec<Option<i64>>,
}

impl Chunk {
    /// Whether a chunk this full should be handed on.
    pub fn is_full(&self) -> bool {
        self.text.len() >= CHUNK_BYTES
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.oversize.is_empty()
    }
}

/// The scanner's state between two pieces of a response.
#[derive(Debug)]
pub struct Scanner {
    phase: Phase,
    depth: u32,
    in_string: bool,
    escape: bool,
    /// At depth 1: whether the next string is a key, and the key being read.
    expect_key: bool,
    key: Option<Vec<u8>>,
    /// The element being read (its bytes so far, unless too large).
    elem: Vec<u8>,
    in_elem: bool,
    oversize: bool,
    tail: Vec<u8>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            phase: Phase::Envelope,
            depth: 0,
            in_string: false,
            escape: false,
            expect_key: false,
            key: None,
            elem: Vec::new(),
            in_elem: false,
            oversize: false,
            tail: Vec::new(),
        }
    }
}

/// What one byte did to the element being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing to note.
    On,
    /// An element starts at this byte.
    Start,
    /// The element ends with this byte.
    EndWith,
    /// The element ended just before this byte (a scalar, ended by `,` or `]`).
    EndBefore,
}

impl Scanner {
    /// Reads `bytes` (the next piece of the body), adding the events completed in it to
    /// `out`, until `out` is full. Returns how many bytes it read: the rest is for the
    /// next chunk. An element's bytes are copied once, when it ends (or when the piece
    /// does).
    pub fn feed(&mut self, bytes: &[u8], out: &mut Chunk) -> usize {
        let mut seg = self.in_elem.then_some(0);
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string && !self.escape {
                // Most of an event is the text of its strings: jump to the next quote
                // or backslash.
                let end = find::<StringEnd>(bytes, i);
                if end > i {
                    if self.key.is_some() {
                        self.key_run(&bytes[i..end]);
                    }
                    i = end;
                    if i == bytes.len() {
                        break;
                    }
                }
            } else if !self.in_string && self.depth >= 3 {
                // Inside an event's object or array only quotes and brackets change
                // anything (keys, commas and the end of scalars matter at depths 1 and
                // 2): jump to the next one.
                i = find::<Structural>(bytes, i);
                if i == bytes.len() {
                    break;
                }
            }
            match self.byte(bytes[i]) {
                Step::On => {}
                Step::Start => seg = Some(i),
                Step::EndWith => {
                    let s = seg.take().unwrap_or(i);
                    self.finish_elem(&bytes[s..=i], out);
                }
                Step::EndBefore => {
                    let s = seg.take().unwrap_or(i);
                    self.finish_elem(&bytes[s..i], out);
                }
            }
            i += 1;
            if seg.is_none() && out.is_full() {
                return i;
            }
        }
        if let Some(s) = seg {
            self.stash(&bytes[s..i]);
        }
        i
    }

    /// Whether the whole `events` array was read.
    pub fn finished(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Plain bytes of a key being read.
    fn key_run(&mut self, run: &[u8]) {
        if let Some(k) = &mut self.key {
            let room = 16usize.saturating_sub(k.len());
            k.extend_from_slice(&run[..room.min(run.len())]);
        }
    }

    /// Keeps the part of an element that a piece ended in.
    fn stash(&mut self, seg: &[u8]) {
        if !self.oversize && self.elem.len() + seg.len() <= MAX_EVENT_BYTES {
            self.elem.extend_from_slice(seg);
            return;
        }
        if !self.oversize {
            self.oversize = true;
            self.tail = std::mem::take(&mut self.elem);
        }
        self.tail
            .extend_from_slice(&seg[seg.len().saturating_sub(TAIL)..]);
        let cut = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..cut);
    }

    /// An element ended: its last bytes are `seg`.
    fn finish_elem(&mut self, seg: &[u8], out: &mut Chunk) {
        self.in_elem = false;
        if self.oversize || self.elem.len() + seg.len() > MAX_EVENT_BYTES {
            self.stash(seg);
        }
        if self.oversize {
            let tail = String::from_utf8_lossy(&self.tail).into_owned();
            out.oversize.push(crate::event::trailing_id(&tail));
            self.oversize = false;
            self.tail.clear();
            self.elem.clear();
            return;
        }
        let start = out.text.len();
        out.text.extend_from_slice(&self.elem);
        out.text.extend_from_slice(seg);
        while out.text.len() > start && out.text.last().is_some_and(u8::is_ascii_whitespace) {
            out.text.pop();
        }
        out.spans.push((start as u32, out.text.len() as u32));
        self.elem.clear();
    }

    fn byte(&mut self, b: u8) -> Step {
        if self.in_string {
            return self.string_byte(b);
        }
        let mut step = Step::On;
        if self.phase == Phase::Array && self.depth == 2 && !self.in_elem {
            match b {
                b',' | b' ' | b'\t' | b'\n' | b'\r' => return Step::On,
                b']' => {
                    self.depth = 1;
                    self.phase = Phase::Done;
                    self.expect_key = false;
                    return Step::On;
                }
                _ => {
                    self.in_elem = true;
                    step = Step::Start;
                }
            }
        }
        if self.in_elem && self.depth == 2 && (b == b',' || b == b']') {
            // The end of a scalar element.
            if b == b']' {
                self.depth = 1;
                self.phase = Phase::Done;
            }
            return Step::EndBefore;
        }
        self.structural(b).unwrap_or(step)
    }

    /// A byte inside a string: the end of the `"events"` key or of a string element.
    #[inline]
    fn string_byte(&mut self, b: u8) -> Step {
        if let Some(k) = &mut self.key
            && !self.escape
            && b != b'"'
            && k.len() < 16
        {
            k.push(b);
        }
        if self.escape {
            self.escape = false;
        } else if b == b'\\' {
            self.escape = true;
        } else if b == b'"' {
            self.in_string = false;
            if let Some(k) = self.key.take()
                && self.phase == Phase::Envelope
                && k == b"events"
            {
                self.phase = Phase::Key;
            }
            if self.in_elem && self.depth == 2 {
                // A string element (not an event; RawEvent will say so).
                return Step::EndWith;
            }
        }
        Step::On
    }

    /// A byte outside strings: nesting, keys of the envelope. `Some` when it ends an
    /// element.
    #[inline]
    fn structural(&mut self, b: u8) -> Option<Step> {
        match b {
            b'"' => {
                self.in_string = true;
                if self.phase == Phase::Key && self.depth == 1 {
                    self.phase = Phase::Envelope;
                }
                if self.depth == 1 && self.expect_key && !self.in_elem {
                    self.key = Some(Vec::new());
                }
                self.expect_key = false;
            }
            b'{' | b'[' => {
                if self.phase == Phase::Key && self.depth == 1 {
                    self.phase = if b == b'[' {
                        Phase::Array
                    } else {
                        Phase::Envelope
                    };
                }
                self.depth += 1;
                self.expect_key = b == b'{' && self.depth == 1;
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.in_elem && self.depth == 2 {
                    return Some(Step::EndWith);
                }
            }
            b',' => self.expect_key = self.depth == 1,
            b':' => {}
            _ => {
                if self.phase == Phase::Key && self.depth == 1 && !b.is_ascii_whitespace() {
                    // `"events"` with something other than an array: not our key.
                    self.phase = Phase::Envelope;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_pieces(body: &str, piece: usize) -> (Vec<String>, Vec<Option<i64>>, bool) {
        let mut s = Scanner::default();
        let mut out = Chunk::default();
        for p in body.as_bytes().chunks(piece.max(1)) {
            let mut p = p;
            while !p.is_empty() {
                let n = s.feed(p, &mut out);
                p = &p[n..];
            }
        }
        let events = out
            .spans
            .iter()
            .map(|&(a, b)| String::from_utf8(out.text[a as usize..b as usize].to_vec()).unwrap())
            .collect();
        (events, out.oversize, s.finished())
    }

    #[test]
    fn events_are_cut_out_whatever_the_pieces() {
        let body = r#"{"result":"success","msg":"a \"events\": [1] ]}","events":[{"type":"message","message":{"content":"}{ ] [ \\\" \"events\":"},"id":0} , {"type":"heartbeat","id":1}
 ],"queue_id":"q{1}"}"#;
        let want = vec![
            r#"{"type":"message","message":{"content":"}{ ] [ \\\" \"events\":"},"id":0}"#
                .to_owned(),
            r#"{"type":"heartbeat","id":1}"#.to_owned(),
        ];
        for piece in 1..body.len() + 1 {
            let (events, oversize, done) = scan_in_pieces(body, piece);
            assert_eq!(events, want, "pieces of {piece}");
            assert!(oversize.is_empty() && done);
        }
    }

    #[test]
    fn the_key_may_come_anywhere_and_other_keys_are_not_taken_for_it() {
        let body = r#"{ "queue_id" : "events", "x": {"events": [{"no":1}]}, "events" : [ ] , "result":"success"}"#;
        let (events, _, done) = scan_in_pieces(body, 7);
        assert!(events.is_empty(), "{events:?}");
        assert!(done);
        let body = r#"{"events":[{"a":[1,{"b":"]"}]},2,"three",null],"result":"success"}"#;
        let (events, _, done) = scan_in_pieces(body, 3);
        assert_eq!(
            events,
            [r#"{"a":[1,{"b":"]"}]}"#, "2", r#""three""#, "null"]
        );
        assert!(done);
    }

    #[test]
    fn no_events_array_is_noticed() {
        for body in [
            r#"{"result":"success","msg":""}"#,
            r#"{"result":"success","events":{"a":1}}"#,
            r#"{"result":"success","events":{"a":1},"b":[{"c":2}]}"#,
            r#"{"result":"success","events":"x","b":[{"c":2}]}"#,
            r#"{"result":"success","events":[{"type":"message""#,
            "<html>502</html>",
        ] {
            let (_, _, done) = scan_in_pieces(body, 5);
            assert!(!done, "{body}");
        }
    }

    #[test]
    fn an_oversize_event_is_skipped_with_its_id() {
        let big = "x".repeat(MAX_EVENT_BYTES + 10);
        let body = format!(
            r#"{{"events":[{{"type":"message","c":"{big}","id":7}},{{"type":"heartbeat","id":8}}]}}"#
        );
        let (events, oversize, done) = scan_in_pieces(&body, 65536);
        assert_eq!(events, [r#"{"type":"heartbeat","id":8}"#]);
        assert_eq!(oversize, [Some(7)]);
        assert!(done);
    }

    #[test]
    fn the_same_events_as_serde_on_every_official_example() {
        let lines: Vec<&str> = include_str!("../../tests/fixtures/zulip/events.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let body = format!(
            "{{\"result\":\"success\", \"msg\":\"\",\n \"events\": [\n{}\n],\"queue_id\":\"q\"}}",
            lines.join(" ,\n")
        );
        #[derive(serde::Deserialize)]
        struct Events<'a> {
            #[serde(borrow)]
            events: Vec<&'a serde_json::value::RawValue>,
        }
        let e: Events<'_> = serde_json::from_str(&body).unwrap();
        let want: Vec<String> = e.events.iter().map(|r| r.get().to_owned()).collect();
        assert_eq!(want.len(), lines.len());
        for piece in [1, 2, 3, 17, 4096, body.len()] {
            assert_eq!(scan_in_pieces(&body, piece).0, want, "pieces of {piece}");
        }
    }

    #[test]
    fn random_answers_split_as_serde_splits_them() {
        #[derive(serde::Deserialize)]
        struct Events<'a> {
            #[serde(borrow)]
            events: Vec<&'a serde_json::value::RawValue>,
        }
        fastrand::seed(7);
        for _ in 0..2000 {
            let mut body = String::from("{");
            let mut before = String::new();
            crate::random_json::value(1, &mut before);
            body.push_str(&format!("\"x\":{before},\"events\":["));
            for i in 0..fastrand::usize(0..6) {
                if i > 0 {
                    body.push(',');
                }
                let mut ev = String::new();
                crate::random_json::value(1, &mut ev);
                body.push_str(&ev);
            }
            body.push_str("],\"y\":");
            let mut after = String::new();
            crate::random_json::value(1, &mut after);
            body.push_str(&after);
            body.push('}');
            let want: Vec<String> = serde_json::from_str::<Events<'_>>(&body)
                .unwrap_or_else(|e| panic!("{e}: {body}"))
                .events
                .iter()
                .map(|r| r.get().to_owned())
                .collect();
            let piece = fastrand::usize(1..64);
            let (got, _, done) = scan_in_pieces(&body, piece);
            assert!(done, "{body}");
            assert_eq!(got, want, "{body}");
        }
    }
}
