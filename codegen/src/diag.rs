//! Diagnostics: every mistake with its place, collected and rendered like a compiler.
//!
//! A [`Diagnostic`] holds a span and a message; [`Diagnostics`] collects them all
//! (loading and checking never stop at the first). A span is a byte range in the front
//! end's source text: the pipeline file, or (for `#[listener]`) the attribute's tokens
//! laid out as text, which the macro maps back to token spans. Checks never speak of
//! lines: a second place (where a name was first declared) is a *related* span, which
//! each front end shows its own way. The TOML front end renders:
//!
//! ```text
//! error: unknown key `realm`; did you mean `realms`?
//!   --> pipelines/alerts.toml:7:1
//!    |
//!  7 | realm = [1]
//!    | ^^^^^
//!    = help: valid keys: name, description, events, realms, ...
//! ```

use std::fmt;
use std::ops::Range;

/// A byte range in the source file.
pub type Span = Range<usize>;

/// Source lines longer than this many characters are shown cut.
const MAX_SHOWN_LINE: usize = 120;
/// How much of a long line is shown past the start of the problem.
const MAX_SHOWN_AFTER: usize = 60;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Severity {
    /// The pipeline cannot be built.
    #[default]
    Error,
    /// The pipeline builds, but probably does not do what was meant.
    Warning,
}

/// One problem, with where it is and what would be right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where, as bytes of the source (empty for whole-file problems).
    pub span: Span,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// What would be right, if we can say.
    pub help: Option<String>,
    /// Other places that explain this one (`first`: where a name was first declared).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Adds what would be right.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a related place, e.g. `(first_span, "first")`.
    pub fn related(&mut self, span: Span, label: impl Into<String>) -> &mut Self {
        self.related.push((span, label.into()));
        self
    }
}

/// All the errors of one file, with the source to render them against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file name as the user gave it.
    pub file: String,
    /// The file's text.
    pub source: String,
    /// The errors, in source order once sorted.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection for `file`.
    pub fn new(file: impl Into<String>, source: impl Into<String>) -> Self {
        Diagnostics {
            file: file.into(),
            source: source.into(),
            items: Vec::new(),
        }
    }

    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Adds an error at `span`.
    pub fn error(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.items.push(Diagnostic::new(span, message));
        let last = self.items.len() - 1;
        &mut self.items[last]
    }

    /// Adds a warning at `span`: the pipeline still builds.
    pub fn warning(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        let d = self.error(span, message);
        d.severity = Severity::Warning;
        d
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of diagnostics, warnings included.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Number of errors (warnings not counted).
    pub fn errors(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.len() - self.errors()
    }

    /// Only the warnings (for a pipeline that loads).
    pub fn into_warnings(mut self) -> Self {
        self.items.retain(|d| d.severity == Severity::Warning);
        self
    }

    /// Sorts by position and drops exact repeats.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (a.span.start, a.span.end, &a.message).cmp(&(b.span.start, b.span.end, &b.message))
        });
        self.items.dedup();
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let before = &self.source[..floor_char_boundary(&self.source, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// The first line of the first error as `file:line:col: message` (for one-line use).
    pub fn first_line(&self) -> Option<String> {
        let first = self
            .items
            .iter()
            .find(|d| d.severity == Severity::Error)
            .or(self.items.first());
        first.map(|d| {
            let (l, c) = self.line_col(d.span.start);
            format!("{}:{l}:{c}: {}", self.file, d.message)
        })
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, d) in self.items.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            let (line, col) = self.line_col(d.span.start);
            let label = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            write!(f, "{label}: {}", d.message)?;
            for (span, what) in &d.related {
                write!(f, " ({what} on line {})", self.line_col(span.start).0)?;
            }
            writeln!(f)?;
            writeln!(f, "  --> {}:{line}:{col}", self.file)?;
            let full = self.source.lines().nth(line - 1).unwrap_or("");
            // A very long line is shown up to a little past the problem, not whole.
            let shown_chars = (col + MAX_SHOWN_AFTER).max(MAX_SHOWN_LINE);
            let (text, cut) = match full.char_indices().nth(shown_chars) {
                Some((i, _)) => (&full[..i], "…"),
                None => (full, ""),
            };
            let width = line.to_string().len();
            writeln!(f, "{:width$} |", "")?;
            writeln!(f, "{line:>width$} | {text}{cut}")?;
            // Underline to the end of the span, or of the line if the span runs on.
            let line_start = self.source[..floor_char_boundary(&self.source, d.span.start)]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let line_end = line_start + text.len();
            let end = d.span.end.clamp(d.span.start, line_end);
            let carets = self
                .source
                .get(d.span.start..end)
                .map_or(1, |s| s.chars().count())
                .max(1);
            writeln!(
                f,
                "{:width$} | {}{}",
                "",
                " ".repeat(col - 1),
                "^".repeat(carets)
            )?;
            if let Some(help) = &d.help {
                writeln!(f, "{:width$} = help: {help}", "")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

pub use zlc_catalog::suggest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_and_caret() {
        let src = "[pipeline]\nname = \"x\"\n[[listener]]\nrealm = [1]\n";
        let mut d = Diagnostics::new("p.toml", src);
        let start = src.find("realm").unwrap();
        d.error(
            start..start + 5,
            "unknown key `realm`; did you mean `realms`?",
        );
        let out = d.to_string();
        assert_eq!(
            out,
            "error: unknown key `realm`; did you mean `realms`?\n  --> p.toml:4:1\n  |\n4 | realm = [1]\n  | ^^^^^\n"
        );
    }

    #[test]
    fn suggestions_are_close_only() {
        assert_eq!(
            suggest("realm", ["realms", "name", "events"]),
            Some("realms")
        );
        assert_eq!(suggest("chanels", ["channels", "topics"]), Some("channels"));
        assert_eq!(suggest("zzzz", ["channels", "topics"]), None);
    }
}
