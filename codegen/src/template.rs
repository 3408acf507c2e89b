//! Templates: text with `{{field}}` placeholders, parsed when the pipeline is compiled so
//! that a misspelt field is an error at `zlc check`, not when an event arrives.

use crate::diag::Diagnostics;
use crate::model::{Segment, Sp};

/// Parses `text`, whose first character is at byte `offset` of the file. Unclosed `{{`
/// is reported; field names are checked later, against the listener's event types.
pub fn parse(text: &str, offset: usize, d: &mut Diagnostics) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut pos = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Segment::Lit(rest[..open].to_owned()));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            let at = offset + pos + open;
            d.error(at..at + 2, "unclosed `{{` in template").help =
                Some("write `{{field}}`, e.g. `{{message.content}}`".into());
            return out;
        };
        let raw = &after[..close];
        let name = raw.trim();
        let start = offset + pos + open + 2 + (raw.len() - raw.trim_start().len());
        out.push(Segment::Field(Sp::new(
            name.to_owned(),
            start..start + name.len(),
        )));
        let consumed = open + 2 + close + 2;
        rest = &rest[consumed..];
        pos += consumed;
    }
    if !rest.is_empty() {
        out.push(Segment::Lit(rest.to_owned()));
    }
    out
}
