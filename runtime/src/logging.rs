//! Logging for every zlc binary: the `zlc` command and every generated listener.
//!
//! Logs go to stderr, as text for people or as JSON lines for machines
//! (`--log-format json`). Text logs print values as a person reads them and are safe
//! to print whatever the events contain: control characters (a newline that would
//! forge a second log line, terminal escape sequences) and bidirectional-text controls
//! are escaped (`\n`, `\u{202e}`), and an event's fields are cut after
//! [`MAX_LOGGED_BYTES`] with a note of how much was left out. Colour is used only when
//! stderr is a terminal and `NO_COLOR` is not set.

use std::fmt;
use std::io::IsTerminal;

use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// The most bytes of one log line's fields that text logs print.
pub const MAX_LOGGED_BYTES: usize = 4096;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people, control characters escaped.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The logging flags every zlc binary takes (flattened into its command line).
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log level for stderr: error, warn, info, debug or trace (RUST_LOG overrides).
    #[arg(long, global = true, default_value = "info", value_name = "LEVEL")]
    pub log_level: String,
    /// Log format on stderr: text (for people; control characters escaped) or json
    /// (one object per line, for log collectors).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// Starts logging as the flags say.
    pub fn init(&self) {
        init(&self.log_level, self.log_format);
    }
}

/// Logs to stderr at `level` for zlc's crates (`warn` for the others); `RUST_LOG`
/// overrides the filter.
pub fn init(level: &str, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("warn,zlc={level},zlc_runtime={level}")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .fmt_fields(EscapedFields)
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Whether to colour output: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
pub fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Formats an event's fields like tracing's default, through [`Escaper`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut esc = Escaper {
            inner: &mut writer,
            written: 0,
            cut: 0,
        };
        let mut visitor = DefaultVisitor::new(Writer::new(&mut esc), true);
        fields.record(&mut visitor);
        tracing_subscriber::field::VisitOutput::finish(visitor)?;
        if esc.cut > 0 {
            write!(esc.inner, " … [{} more bytes not logged]", esc.cut)?;
        }
        Ok(())
    }
}

/// A writer that escapes what must not reach a terminal or a log file raw, and stops
/// after [`MAX_LOGGED_BYTES`], counting what it leaves out.
struct Escaper<'a, 'w> {
    inner: &'a mut Writer<'w>,
    written: usize,
    cut: usize,
}

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.written >= MAX_LOGGED_BYTES {
                self.cut += c.len_utf8();
                continue;
            }
            self.written += c.len_utf8();
            match c {
                '\n' => self.inner.write_str("\\n")?,
                '\r' => self.inner.write_str("\\r")?,
                '\t' => self.inner.write_str("\\t")?,
                c if needs_escape(c) => write!(self.inner, "\\u{{{:x}}}", c as u32)?,
                c => self.inner.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Control characters, and the invisible marks that reorder text on screen (bidi
/// overrides and isolates): printed raw, they make a log say what it does not.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with line breaks, control characters and reordering marks escaped as the
/// text logs escape them: for user text printed to a terminal outside the logs.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

/// Unix time `secs` as people read it in a list: `2026-11-30 07:12:05Z`.
pub fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // The civil date of a day count (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `text` cut to at most `max` bytes (at a character boundary), saying how much was
/// left out: for values logged whole, such as a `log` action's rendered line.
pub fn cap(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} … [{} more bytes not logged]",
        &text[..end],
        text.len() - end
    )
    .into()
}

/// A job's event as a person names it: `message 1101`, `event 42`, or `an event`.
#[derive(Debug, Clone, Copy)]
pub struct EventRef {
    message_id: Option<i64>,
    event_id: Option<i64>,
}

impl EventRef {
    /// The event with these ids (the message's, when it is one; the queue's).
    pub fn new(message_id: Option<i64>, event_id: Option<i64>) -> Self {
        EventRef {
            message_id,
            event_id,
        }
    }
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.message_id, self.event_id) {
            (Some(m), _) => write!(f, "message {m}"),
            (None, Some(e)) => write!(f, "event {e}"),
            (None, None) => f.write_str("an event without an id"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(f: impl FnOnce()) -> String {
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || buf.clone())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .fmt_fields(EscapedFields)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn user_text_cannot_forge_a_line_or_reorder_the_terminal() {
        let content = "hi\nERROR forged line\x1b[31m red \u{202e}txet desrever";
        let out = capture(|| tracing::info!(listener = "l", "{content}"));
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("hi\\nERROR forged line"), "{out}");
        assert!(out.contains("red \\u{202e}txet"), "{out}");
        assert!(!out.contains('\u{202e}') && !out.contains('\x1b'), "{out}");
        let out = capture(|| tracing::warn!(topic = %content, "x"));
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(!out.contains('\u{202e}') && !out.contains('\x1b'), "{out}");
    }

    #[test]
    fn huge_values_are_cut_with_a_note() {
        let big = "x".repeat(50_000);
        let out = capture(|| tracing::info!(value = %big, "big"));
        assert!(out.len() < MAX_LOGGED_BYTES + 200, "{}", out.len());
        assert!(out.contains("more bytes not logged]"), "{out}");
        assert_eq!(cap("short", 10), "short");
        let c = cap("ééééé", 5);
        assert_eq!(c, "éé … [6 more bytes not logged]");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some("1".into())));
        assert!(colour(true, Some("".into())));
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(1_795_723_200), "2026-11-26 20:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00Z");
    }

    #[test]
    fn events_are_named_as_people_name_them() {
        assert_eq!(
            EventRef::new(Some(1101), Some(4)).to_string(),
            "message 1101"
        );
        assert_eq!(EventRef::new(None, Some(4)).to_string(), "event 4");
    }
}
