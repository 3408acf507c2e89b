//! The dispatch view of a `message` event, read without serde.
//!
//! Dispatch needs nine fields of a message and its flags; serde's derived visitor walks
//! every field of the event through its generic machinery to find them. This reader is
//! written for the one shape: it walks the object once, compares keys as bytes, skips
//! unwanted values with a scan eight bytes at a time, and borrows every string that has
//! no escape.
//!
//! It is a fast path, not a second parser with its own opinions. It **validates
//! everything it accepts** (the whole text, skipped values included, and nothing after
//! the object), and it **declines** (`None`) whatever it is not certain serde would read
//! the same way: duplicate fields, numbers outside its plain integer form,
//! lone surrogates, structs written as arrays, nesting deeper than [`MAX_DEPTH`]. The
//! caller then asks serde_json, which decides. So for every input the result is serde's:
//! the same fields, or serde's own rejection. A test holds it to that on the official
//! examples, the benchmark workload and randomly broken events.

use std::borrow::Cow;

use crate::swar;

use super::message::{DisplayRecipient, MessageView, MessageViewEvent, Recipient};

/// Nesting this reader follows before it declines (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 64;

impl<'a> MessageViewEvent<'a> {
    /// Reads the dispatch view of a message event: with this module's reader, or with
    /// serde_json when the reader declines (so errors are serde's).
    pub fn read(json: &'a str) -> Result<Self, serde_json::Error> {
        match message_view(json) {
            Some(view) => Ok(view),
            None => serde_json::from_str(json),
        }
    }
}

/// Reads the dispatch view of a message event, or `None` to leave the event to serde.
pub(crate) fn message_view(json: &str) -> Option<MessageViewEvent<'_>> {
    let mut r = Reader {
        s: json,
        b: json.as_bytes(),
        i: 0,
    };
    r.ws();
    let ev = r.event()?;
    r.ws();
    (r.i == r.b.len()).then_some(ev)
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Stores the first value of a field; a second one declines (serde calls it an error).
fn first<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(v);
            Some(())
        }
    }
}

/// The index of the first byte at or after `i` that ends a run of plain string text (a
/// quote, a backslash or a control character), or `b.len()`.
#[inline(always)]
fn plain_end(b: &[u8], i: usize) -> usize {
    swar::find::<swar::PlainEnd>(b, i)
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// Consumes `c` after optional whitespace.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Consumes `word` exactly.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b
            .get(self.i..)?
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// Walks an object, calling `member(reader, field)` with the reader at each value.
    /// `layout` names the fields wanted, in the order Zulip writes its keys, with their
    /// tags; any other key is `other`. The key expected next is compared in place instead
    /// of scanned for its end; a key elsewhere is read (unescaped, as serde compares it)
    /// and looked up.
    fn object<F: Copy>(
        &mut self,
        layout: &[(Key, F)],
        other: F,
        mut member: impl FnMut(&mut Self, F) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        let mut next = 0;
        loop {
            self.ws();
            let field = match layout.get(next) {
                Some((key, field)) if self.at_key(key) => {
                    // The colon too.
                    self.i += key.len;
                    next += 1;
                    *field
                }
                _ => {
                    let key = self.string()?;
                    self.eat(b':')?;
                    match layout.iter().position(|(k, _)| k.name == key) {
                        Some(k) => {
                            next = k + 1;
                            layout[k].1
                        }
                        None => other,
                    }
                }
            };
            self.ws();
            member(self, field)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Whether the text here is `key` written as Zulip writes it (`"name":`): three
    /// masked 8-byte comparisons, without a branch per byte.
    #[inline(always)]
    fn at_key(&self, key: &Key) -> bool {
        let mut padded = [0u8; 24];
        let here = match self.b.get(self.i..self.i + 24) {
            Some(t) => t,
            None => {
                let rest = &self.b[self.i.min(self.b.len())..];
                padded[..rest.len()].copy_from_slice(rest);
                &padded
            }
        };
        let mut diff = 0;
        for w in 0..3 {
            let mut word = [0u8; 8];
            word.copy_from_slice(&here[w * 8..w * 8 + 8]);
            diff |= (u64::from_le_bytes(word) ^ key.words[w]) & key.masks[w];
        }
        diff == 0
    }

    /// Walks an array, calling `element(reader)` with the reader at each element.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            element(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string value, borrowed unless it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let end = plain_end(self.b, start);
        if *self.b.get(end)? == b'"' {
            self.i = end + 1;
            return Some(Cow::Borrowed(self.s.get(start..end)?));
        }
        // Escapes (or a broken string): find the end, checking every escape on the way,
        // then decode the text into one allocation of its escaped size.
        self.skip_string()?;
        let raw = self.s.get(start..self.i - 1)?;
        let mut out = String::with_capacity(raw.len());
        let mut r = Reader {
            s: raw,
            b: raw.as_bytes(),
            i: 0,
        };
        loop {
            let to = memchr::memchr(b'\\', &r.b[r.i..]).map_or(r.b.len(), |k| r.i + k);
            out.push_str(r.s.get(r.i..to)?);
            if to == r.b.len() {
                return Some(Cow::Owned(out));
            }
            r.i = to + 1;
            r.unescape(&mut out)?;
        }
    }

    /// One escape after its backslash, appended to `out`.
    fn unescape(&mut self, out: &mut String) -> Option<()> {
        let c = self.peek()?;
        self.i += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                match hi {
                    0xD800..=0xDBFF => {
                        // A surrogate pair, or a decline: serde rejects a lone half.
                        self.literal(b"\\u")?;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return None;
                        }
                        let code =
                            0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                        char::from_u32(code)?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(u32::from(hi))?,
                }
            }
            _ => return None,
        };
        out.push(ch);
        Some(())
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let mut v = 0u16;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16)? as u16;
        }
        self.i += 4;
        Some(v)
    }

    /// Skips a string, checking its escapes as serde does when it ignores one.
    fn skip_string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        loop {
            self.i = plain_end(self.b, self.i);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            self.i += 1;
                            self.hex4()?;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// An integer in its plain form (`-?(0|[1-9][0-9]{0,17})`, so it fits an `i64`).
    /// Fractions, exponents and longer numbers decline: serde would read them as
    /// floats or check their range.
    fn int(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        let start = self.i + usize::from(negative);
        let mut end = start;
        while let Some(b'0'..=b'9') = self.b.get(end) {
            end += 1;
        }
        let digits = self.b.get(start..end)?;
        if digits.is_empty() || digits.len() > 18 || (digits[0] == b'0' && digits.len() > 1) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = self.b.get(end) {
            return None;
        }
        let v = digits
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        if negative && v == 0 {
            // serde_json reads `-0` as a float.
            return None;
        }
        self.i = end;
        Some(if negative { -v } else { v })
    }

    /// Skips a number of any JSON form.
    fn skip_number(&mut self) -> Option<()> {
        let digits = |r: &mut Self| {
            let start = r.i;
            while let Some(b'0'..=b'9') = r.peek() {
                r.i += 1;
            }
            (r.i > start).then_some(r.i - start)
        };
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let lead = self.peek()?;
        let n = digits(self)?;
        if lead == b'0' && n > 1 {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            digits(self)?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            digits(self)?;
        }
        Some(())
    }

    /// Skips any value, checking it is well formed.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    self.skip_string()?;
                    self.eat(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => self.array(|r| r.skip_value(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    fn bool(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// The event: `message` and `flags`; anything else is skipped.
    fn event(&mut self) -> Option<MessageViewEvent<'a>> {
        let mut message = None;
        let mut flags = None;
        #[derive(Clone, Copy)]
        enum F {
            Message,
            Flags,
            Other,
        }
        const LAYOUT: &[(Key, F)] = &[
            (Key::new("type"), F::Other),
            (Key::new("message"), F::Message),
            (Key::new("flags"), F::Flags),
        ];
        self.object(LAYOUT, F::Other, |r, field| match field {
            F::Message => first(&mut message, r.message()?),
            F::Flags => first(&mut flags, r.strings()?),
            F::Other => r.skip_value(2),
        })?;
        Some(MessageViewEvent {
            message: message?,
            flags: flags.unwrap_or_default(),
        })
    }

    fn strings(&mut self) -> Option<Vec<Cow<'a, str>>> {
        let mut out = Vec::new();
        self.array(|r| {
            out.push(r.string()?);
            Some(())
        })?;
        Some(out)
    }

    fn message(&mut self) -> Option<MessageView<'a>> {
        let mut id = None;
        let mut sender_id = None;
        let mut content = None;
        let mut timestamp = None;
        let mut topic = None;
        let mut sender_email = None;
        let mut display_recipient = None;
        let mut kind = None;
        let mut stream_id = None;
        self.object(MESSAGE_LAYOUT, M::Other, |r, field| match field {
            M::Id => first(&mut id, r.int()?),
            M::SenderId => first(&mut sender_id, r.int()?),
            M::Content => first(&mut content, r.string()?),
            M::Timestamp => first(&mut timestamp, r.int()?),
            M::Subject => first(&mut topic, r.string()?),
            M::SenderEmail => first(&mut sender_email, r.string()?),
            M::DisplayRecipient => first(&mut display_recipient, r.display_recipient()?),
            M::Type => first(&mut kind, message_type(&r.string()?)),
            M::StreamId => {
                let v = if r.peek()? == b'n' {
                    r.literal(b"null")?;
                    None
                } else {
                    Some(r.int()?)
                };
                first(&mut stream_id, v)
            }
            M::Other => r.skip_value(3),
        })?;
        Some(MessageView {
            id: id?,
            sender_id: sender_id?,
            content: content?,
            timestamp: timestamp.unwrap_or_default(),
            topic: topic.unwrap_or_default(),
            sender_email: sender_email.unwrap_or_default(),
            display_recipient: display_recipient?,
            kind: kind?,
            stream_id: stream_id.flatten(),
        })
    }

    fn display_recipient(&mut self) -> Option<DisplayRecipient<'a>> {
        match self.peek()? {
            b'"' => Some(DisplayRecipient::Channel(self.string()?)),
            b'[' => {
                let mut users = Vec::with_capacity(2);
                self.array(|r| {
                    users.push(r.recipient()?);
                    Some(())
                })?;
                Some(DisplayRecipient::Users(users))
            }
            _ => None,
        }
    }

    fn recipient(&mut self) -> Option<Recipient<'a>> {
        let mut id = None;
        let mut email = None;
        let mut full_name = None;
        let mut is_mirror_dummy = None;
        #[derive(Clone, Copy)]
        enum F {
            Id,
            Email,
            FullName,
            IsMirrorDummy,
            Other,
        }
        const LAYOUT: &[(Key, F)] = &[
            (Key::new("id"), F::Id),
            (Key::new("email"), F::Email),
            (Key::new("full_name"), F::FullName),
            (Key::new("is_mirror_dummy"), F::IsMirrorDummy),
        ];
        self.object(LAYOUT, F::Other, |r, field| match field {
            F::Id => first(&mut id, r.int()?),
            F::Email => first(&mut email, r.string()?),
            F::FullName => first(&mut full_name, r.string()?),
            F::IsMirrorDummy => first(&mut is_mirror_dummy, r.bool()?),
            F::Other => r.skip_value(5),
        })?;
        Some(Recipient {
            id: id?,
            email: email?,
            full_name: full_name.unwrap_or_default(),
            is_mirror_dummy: is_mirror_dummy.unwrap_or_default(),
        })
    }
}

mod layout;

use layout::{Key, M, MESSAGE_LAYOUT, message_type};

#[cfg(test)]
mod tests;
