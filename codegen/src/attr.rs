//! The attribute front end: `#[listener(events = "message", realms = [1, 2], ...)]`
//! becomes a listener of the model.
//!
//! The attribute takes exactly the keys of a pipeline file's `[[listener]]` (and
//! `action(type = "react", emoji = "tada")` for each `[[listener.action]]`), so it is
//! read by the same code: its arguments are laid out as the text of a one-listener
//! pipeline file, which the TOML front end and the checks read as they read a file.
//! Every key, value and mistake therefore means and says exactly what it does in a
//! file. While the text is written, every piece of it remembers the token it came from
//! ([`SpanMap`]), so each diagnostic lands on the offending token.

use std::ops::Range;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, Lit, Token, braced, bracketed, parenthesized};

use crate::diag::{Diagnostics, Severity};
use crate::model::Listener;

/// One `key = value` (or `action(...)`) of the attribute.
#[derive(Clone)]
pub struct Entry {
    /// The key (keywords such as `type` allowed).
    pub key: Ident,
    /// Its value.
    pub value: Value,
}

/// A value: a literal, an array `[...]`, an inline table `{ k = v }`, or the entries of
/// `action(...)`.
#[derive(Clone)]
pub enum Value {
    /// A string, integer, float or boolean literal (an integer may be negative).
    Lit(Lit, bool),
    /// `[a, b]`.
    Array(Vec<Value>, Span),
    /// `{ k = v, ... }`.
    Table(Vec<Entry>, Span),
    /// `action(k = v, ...)`.
    Call(Vec<Entry>, Span),
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {:?}", self.key, self.value)
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Lit(lit, negative) => {
                let text = quote::ToTokens::to_token_stream(lit).to_string();
                write!(f, "{}{text}", if *negative { "-" } else { "" })
            }
            Value::Array(items, _) => f.debug_list().entries(items).finish(),
            Value::Table(entries, _) | Value::Call(entries, _) => {
                f.debug_set().entries(entries).finish()
            }
        }
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = input.call(Ident::parse_any)?;
        if input.peek(syn::token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            let entries = Punctuated::<Entry, Token![,]>::parse_terminated(&content)?;
            return Ok(Entry {
                key,
                value: Value::Call(entries.into_iter().collect(), paren.span.join()),
            });
        }
        input.parse::<Token![=]>()?;
        Ok(Entry {
            key,
            value: input.parse()?,
        })
    }
}

impl Parse for Value {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(syn::token::Bracket) {
            let content;
            let bracket = bracketed!(content in input);
            let items = Punctuated::<Value, Token![,]>::parse_terminated(&content)?;
            return Ok(Value::Array(
                items.into_iter().collect(),
                bracket.span.join(),
            ));
        }
        if input.peek(syn::token::Brace) {
            let content;
            let brace = braced!(content in input);
            let entries = Punctuated::<Entry, Token![,]>::parse_terminated(&content)?;
            return Ok(Value::Table(
                entries.into_iter().collect(),
                brace.span.join(),
            ));
        }
        let negative = input.peek(Token![-]);
        if negative {
            input.parse::<Token![-]>()?;
        }
        let lit: Lit = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a value: a string, a number, true or false, [an array] or {a table}",
            )
        })?;
        Ok(Value::Lit(lit, negative))
    }
}

/// Where each piece of the laid-out text came from.
#[derive(Debug, Default, Clone)]
pub struct SpanMap {
    pieces: Vec<(Range<usize>, Span)>,
}

impl SpanMap {
    /// The token a range of the text came from: the smallest piece holding its start,
    /// else the closest piece before it.
    pub fn span(&self, range: &Range<usize>) -> Span {
        let at = range.start;
        self.pieces
            .iter()
            .filter(|(r, _)| r.start <= at && at < r.end.max(r.start + 1))
            .min_by_key(|(r, _)| r.end - r.start)
            .or_else(|| {
                self.pieces
                    .iter()
                    .filter(|(r, _)| r.start <= at)
                    .max_by_key(|(r, _)| r.start)
            })
            .map_or_else(Span::call_site, |(_, s)| *s)
    }
}

/// Writes the text, remembering spans.
#[derive(Default)]
struct Text {
    text: String,
    map: SpanMap,
    errors: Vec<syn::Error>,
}

impl Text {
    fn raw(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn spanned(&mut self, s: &str, span: Span) {
        let start = self.text.len();
        self.text.push_str(s);
        self.map.pieces.push((start..self.text.len(), span));
    }

    fn key(&mut self, key: &Ident) {
        self.spanned(&key.unraw().to_string(), key.span());
        self.raw(" = ");
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Lit(lit, negative) => {
                let text = match lit {
                    Lit::Str(s) => crate::expand::toml_string(&s.value()),
                    Lit::Int(i) => {
                        format!("{}{}", if *negative { "-" } else { "" }, i.base10_digits())
                    }
                    Lit::Float(f) => {
                        format!("{}{}", if *negative { "-" } else { "" }, f.base10_digits())
                    }
                    Lit::Bool(b) => b.value.to_string(),
                    other => {
                        self.errors.push(syn::Error::new(
                            other.span(),
                            "expected a string, a number, true or false",
                        ));
                        "\"\"".to_owned()
                    }
                };
                self.spanned(&text, lit.span());
            }
            Value::Array(items, span) => {
                let start = self.text.len();
                self.raw("[");
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        self.raw(", ");
                    }
                    self.value(item);
                }
                self.raw("]");
                self.map.pieces.push((start..self.text.len(), *span));
            }
            Value::Table(entries, span) => {
                let start = self.text.len();
                self.raw("{ ");
                for (n, e) in entries.iter().enumerate() {
                    if n > 0 {
                        self.raw(", ");
                    }
                    let k = e.key.unraw().to_string();
                    self.spanned(&crate::expand::toml_key(&k), e.key.span());
                    self.raw(" = ");
                    self.value(&e.value);
                }
                self.raw(" }");
                self.map.pieces.push((start..self.text.len(), *span));
            }
            Value::Call(_, span) => {
                self.errors.push(syn::Error::new(
                    *span,
                    "only `action(...)` takes parentheses; write `key = value`",
                ));
                self.raw("\"\"");
            }
        }
    }
}

/// The attribute of function `function` read as a listener: the listener, when it has
/// no error, and every diagnostic (warnings included) as errors and warnings on tokens.
#[derive(Debug)]
pub struct Parsed {
    /// The checked listener (named after the function), when there was no error.
    pub listener: Option<Listener>,
    /// Errors, each on its token.
    pub errors: Vec<syn::Error>,
    /// Warnings (`message`, token).
    pub warnings: Vec<(String, Span)>,
}

/// Reads `#[listener(args)]` on `function`.
pub fn parse(function: &Ident, args: TokenStream) -> Parsed {
    parse_as(function, args, Kind::Listener)
}

/// Reads `#[command(...)]` on `function`: a listener's keys, the listener a command
/// named after the function (its arguments come from the function's parameters).
pub fn parse_command(function: &Ident, args: TokenStream) -> Parsed {
    parse_as(function, args, Kind::Command)
}

/// Reads `#[schedule(...)]` on `function`: a `[[schedule]]`'s keys, the function its
/// first action.
pub fn parse_schedule(function: &Ident, args: TokenStream) -> Parsed {
    parse_as(function, args, Kind::Schedule)
}

/// Which attribute: each is a table of a pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Listener,
    Command,
    Schedule,
}

fn parse_as(function: &Ident, args: TokenStream, kind: Kind) -> Parsed {
    let entries = match Punctuated::<Entry, Token![,]>::parse_terminated.parse2(args) {
        Ok(e) => e.into_iter().collect::<Vec<_>>(),
        Err(e) => {
            return Parsed {
                listener: None,
                errors: vec![e],
                warnings: Vec::new(),
            };
        }
    };
    let mut t = Text::default();
    let name = function.unraw().to_string();
    t.raw("[pipeline]\nname = \"attribute\"\n\n");
    for (id, span) in realms_named(&entries) {
        t.raw("[[realm]]\nid = ");
        t.spanned(&id, span);
        t.raw("\n\n");
    }
    let table = if kind == Kind::Schedule {
        "schedule"
    } else {
        "listener"
    };
    t.raw(&format!("[[{table}]]\nname = "));
    t.spanned(&crate::expand::toml_string(&name), function.span());
    t.raw("\n");
    for key in [
        Some("handler").filter(|_| kind != Kind::Schedule),
        Some("command").filter(|_| kind == Kind::Command),
    ]
    .into_iter()
    .flatten()
    {
        t.raw(&format!("{key} = "));
        t.spanned(&crate::expand::toml_string(&name), function.span());
        t.raw("\n");
    }
    let actions = t.listener_keys(&entries);
    for (entries, span) in actions {
        t.spanned(&format!("[[{table}.action]]"), span);
        t.raw("\n");
        t.keys(entries);
    }
    let what = match kind {
        Kind::Listener => "#[listener]",
        Kind::Command => "#[command]",
        Kind::Schedule => "#[schedule]",
    };
    // A schedule's function is its first action (a pipeline file's schedules take none).
    let handler = |p: &mut crate::model::Pipeline, _: &mut crate::diag::Diagnostics| {
        if let (Kind::Schedule, Some(l)) = (kind, p.listeners.first_mut()) {
            let function = name.clone();
            let action = crate::model::Action::Handler {
                function,
                allow_private: false,
            };
            l.actions
                .insert(0, crate::model::Sp::new(action, l.span.clone()));
        }
    };
    let loaded = crate::load::checked(&format!("{what} on {name}"), &t.text, handler);
    let mut errors = std::mem::take(&mut t.errors);
    let (listener, diagnostics) = match loaded {
        Ok(l) => (l.pipeline.listeners.into_iter().next(), l.warnings),
        Err(d) => (None, d),
    };
    let warnings = t.map.attach(diagnostics, &mut errors);
    Parsed {
        listener: listener.filter(|_| errors.is_empty()),
        errors,
        warnings,
    }
}

/// The realms a listener names. They are declared by the pipeline it joins (checked
/// when `pipeline!` puts it together), so here each one is taken as declared.
fn realms_named(entries: &[Entry]) -> Vec<(String, Span)> {
    let mut realms: Vec<(String, Span)> = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.key == "realms" || e.key == "realm")
    {
        let items = match &e.value {
            Value::Array(items, _) => items.clone(),
            single => vec![single.clone()],
        };
        for item in items {
            if let Value::Lit(Lit::Int(i), false) = &item
                && !realms.iter().any(|(r, _)| r == i.base10_digits())
            {
                realms.push((i.base10_digits().to_owned(), i.span()));
            }
        }
    }
    realms
}

impl Text {
    /// Writes the listener's keys (each once; `name` and `handler` are the function's)
    /// and returns its `action(...)` entries.
    fn listener_keys<'e>(&mut self, entries: &'e [Entry]) -> Vec<(&'e Vec<Entry>, Span)> {
        let mut actions = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for e in entries {
            let key = e.key.unraw().to_string();
            if key != "action" {
                if seen.contains(&key) {
                    self.duplicate(e, &key);
                    continue;
                }
                seen.push(key.clone());
            }
            let refuse = |span, msg: &str| syn::Error::new(span, msg);
            match (key.as_str(), &e.value) {
                ("action", Value::Call(entries, span)) => actions.push((entries, *span)),
                ("action", other) => self.errors.push(refuse(
                    value_span(other),
                    "an action is written `action(type = \"react\", emoji = \"tada\")`",
                )),
                ("name", _) => self.errors.push(refuse(
                    e.key.span(),
                    "a listener's name is its function's name: remove `name`",
                )),
                ("command", _) => self.errors.push(refuse(
                    e.key.span(),
                    "`command` is not a key of the attribute: write `#[command]` on the \
                     function (its parameters are the command's arguments), or declare the \
                     command in a pipeline file (`[[listener]] command = \"...\"`)",
                )),
                ("handler", _) => self.errors.push(refuse(
                    e.key.span(),
                    "the function itself is this listener's handler: remove `handler`",
                )),
                _ => self.entry(e),
            }
        }
        actions
    }

    /// Writes an action's keys, each once.
    fn keys(&mut self, entries: &[Entry]) {
        let mut seen: Vec<String> = Vec::new();
        for e in entries {
            let key = e.key.unraw().to_string();
            if seen.contains(&key) {
                self.duplicate(e, &key);
                continue;
            }
            seen.push(key);
            self.entry(e);
        }
    }

    fn entry(&mut self, e: &Entry) {
        self.key(&e.key);
        self.value(&e.value);
        self.raw("\n");
    }

    fn duplicate(&mut self, e: &Entry, key: &str) {
        self.errors.push(syn::Error::new(
            e.key.span(),
            format!("duplicate key `{key}`: each key is given once"),
        ));
    }
}

impl SpanMap {
    /// Puts each diagnostic on the attribute's tokens: errors into `errors`, warnings
    /// returned.
    fn attach(
        &self,
        diagnostics: Diagnostics,
        errors: &mut Vec<syn::Error>,
    ) -> Vec<(String, Span)> {
        let mut warnings = Vec::new();
        for d in into_items(diagnostics) {
            let span = self.span(&d.span);
            let mut message = d.message.clone();
            for (_, what) in &d.related {
                message.push_str(&format!(" ({what} earlier in this attribute)"));
            }
            if let Some(help) = &d.help {
                message.push_str(&format!("\n  = help: {help}"));
            }
            match d.severity {
                Severity::Error => errors.push(syn::Error::new(span, message)),
                Severity::Warning => warnings.push((message, span)),
            }
        }
        warnings
    }
}

fn into_items(d: Diagnostics) -> Vec<crate::diag::Diagnostic> {
    d.items
}

fn value_span(v: &Value) -> Span {
    match v {
        Value::Lit(l, _) => l.span(),
        Value::Array(_, s) | Value::Table(_, s) | Value::Call(_, s) => *s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_attr(args: TokenStream) -> Parsed {
        parse(&Ident::new("on_deploy", Span::call_site()), args)
    }

    #[test]
    fn the_attribute_reads_like_a_listener_table() {
        let p = parse_attr(quote!(
            events = "message", realms = [1, 2], channels = ["devel", 7],
            content = "(?i)deploy #(\\d+)", timeout = "5s",
            config = { greeting = "hi" },
            action(type = "react", emoji = "rocket")
        ));
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let l = p.listener.unwrap();
        assert_eq!(l.name.value, "on_deploy");
        assert_eq!(l.events[0].value.kind, "message");
        assert_eq!(l.realms.as_ref().unwrap().len(), 2);
        assert_eq!(l.filters.channels.len(), 2);
        assert_eq!(l.policy.timeout_ms, Some(5000));
        assert_eq!(l.config, [("greeting".to_owned(), "hi".to_owned())]);
        // The function first, then the actions it lists.
        assert!(
            matches!(&l.actions[0].value, crate::model::Action::Handler { function, .. } if function == "on_deploy")
        );
        assert!(
            matches!(&l.actions[1].value, crate::model::Action::React { emoji } if emoji == "rocket")
        );
    }

    #[test]
    fn mistakes_read_as_in_a_file_and_are_all_collected() {
        let p = parse_attr(quote!(
            events = "mesage", realm = [1], content = "(", timeout = 5.5,
            action(type = "reakt")
        ));
        let messages: Vec<String> = p.errors.iter().map(|e| e.to_string()).collect();
        let joined = messages.join("\n");
        assert!(
            joined.contains("unknown event type `mesage`; did you mean `message`?"),
            "{joined}"
        );
        assert!(
            joined.contains("unknown key `realm` in [[listener]]; did you mean `realms`?"),
            "{joined}"
        );
        assert!(joined.contains("invalid regex"), "{joined}");
        assert!(joined.contains("`timeout` must be a duration"), "{joined}");
        assert!(
            joined.contains("unknown action type `reakt`; did you mean `react`?"),
            "{joined}"
        );
        assert!(p.listener.is_none());
    }
}
