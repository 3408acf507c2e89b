//! Random JSON for tests that hold a hand-written reader to serde_json's verdict: valid
//! text with the features that trip readers up (escaped quotes and backslashes,
//! brackets and key-like words inside strings, non-ASCII text raw and escaped,
//! whitespace between tokens, nested containers).

/// Appends a random JSON value; containers nest up to about four levels below `depth`.
pub(crate) fn value(depth: u32, out: &mut String) {
    let pick = if depth > 3 {
        fastrand::u8(3..7)
    } else {
        fastrand::u8(0..7)
    };
    match pick {
        0 | 1 => {
            out.push('{');
            for i in 0..fastrand::usize(0..4) {
                if i > 0 {
                    out.push(',');
                }
                string(out);
                out.push_str(if fastrand::bool() { ":" } else { " : " });
                value(depth + 1, out);
            }
            out.push('}');
        }
        2 => {
            out.push('[');
            for i in 0..fastrand::usize(0..4) {
                if i > 0 {
                    out.push_str(if fastrand::bool() { "," } else { " ,\n" });
                }
                value(depth + 1, out);
            }
            out.push(']');
        }
        3 | 4 => string(out),
        5 => out.push_str(&fastrand::i64(-1000..100_000).to_string()),
        _ => out.push_str(["true", "false", "null", "1.5e3"][fastrand::usize(0..4)]),
    }
}

/// Appends a random JSON string.
pub(crate) fn string(out: &mut String) {
    const PIECES: [&str; 14] = [
        "a",
        "events",
        "\\\"",
        "\\\\",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "é",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\\n\\t\\/",
    ];
    out.push('"');
    for _ in 0..fastrand::usize(0..6) {
        out.push_str(PIECES[fastrand::usize(0..PIECES.len())]);
    }
    out.push('"');
}
