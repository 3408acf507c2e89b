//! The walker that reads a spanned TOML table: typed values with their places, and a
//! diagnostic for every wrong one.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostics, Span};
use crate::model::*;

/// A value with its place in the file.
pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// The items of `v`, a value that may be written alone or as an array of them
/// (`realms = 1`, `realms = [1, 2]`).
pub(super) fn one_or_many<'a, 'i>(v: &'a Value<'i>) -> &'a [Value<'i>] {
    match v.get_ref() {
        DeValue::Array(items) => &items[..],
        _ => std::slice::from_ref(v),
    }
}

pub(super) struct Walker {
    pub(super) d: Diagnostics,
}

pub(super) fn get<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a Value<'i>> {
    t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
}

pub(super) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl Walker {
    /// Reports a problem the vocabulary found, at `span`.
    pub(super) fn problem(&mut self, span: Span, p: Problem) {
        self.d.error(span, p.message).help = p.help;
    }

    pub(super) fn keys(&mut self, t: &DeTable<'_>, allowed: &[&str], what: &str) {
        for (k, _) in t.iter() {
            let key: &str = k.get_ref();
            if !allowed.contains(&key) {
                self.problem(k.span(), unknown_key(key, allowed, what));
            }
        }
    }

    pub(super) fn wrong(&mut self, v: &Value<'_>, key: &str, expected: &str) {
        self.d.error(
            v.span(),
            format!("`{key}` must be {expected}, not {}", type_name(v.get_ref())),
        );
    }

    pub(super) fn string(&mut self, t: &DeTable<'_>, key: &str) -> Option<Sp<String>> {
        let v = get(t, key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
            _ => {
                self.wrong(v, key, "a string");
                None
            }
        }
    }

    /// A string that must be one of `choices`: the one it is, or `None` (absent, or
    /// wrong, which is said).
    pub(super) fn choice(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        choices: &[&'static str],
    ) -> Option<&'static str> {
        let s = self.string(t, key)?;
        let found = choices.iter().find(|c| **c == s.value).copied();
        if found.is_none() {
            let d = self.d.error(
                s.span,
                format!("`{key}` is {}, not `{}`", or_list(choices), s.value),
            );
            if let Some(close) = crate::diag::suggest(&s.value, choices.iter().copied()) {
                d.help = Some(format!("did you mean `{close}`?"));
            }
        }
        found
    }

    pub(super) fn boolean(&mut self, t: &DeTable<'_>, key: &str) -> Option<Sp<bool>> {
        let v = get(t, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
            _ => {
                self.wrong(v, key, "true or false");
                None
            }
        }
    }

    pub(super) fn int_of(&mut self, v: &Value<'_>, key: &str) -> Option<i64> {
        match v.get_ref() {
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.d.error(v.span(), format!("`{key}` is out of range"));
                        None
                    }
                }
            }
            _ => {
                self.wrong(v, key, "an integer");
                None
            }
        }
    }

    pub(super) fn uint(&mut self, t: &DeTable<'_>, key: &str, max: i64) -> Option<Sp<u64>> {
        let v = get(t, key)?;
        let n = self.int_of(v, key)?;
        if n < 0 || n > max {
            self.d.error(
                v.span(),
                format!("`{key}` must be between 0 and {max}, not {n}"),
            );
            return None;
        }
        Some(Sp::new(n as u64, v.span()))
    }

    /// `"500ms"`, `"10s"`, `"5m"`, `"2h"`, `"1d"` or an integer number of seconds.
    pub(super) fn duration_ms(&mut self, t: &DeTable<'_>, key: &str) -> Option<Sp<u64>> {
        let v = get(t, key)?;
        let ms = match v.get_ref() {
            DeValue::Integer(_) => self
                .int_of(v, key)
                .filter(|n| *n >= 0)
                .map(|n| n as u64 * 1000),
            DeValue::String(s) => parse_duration_ms(s),
            _ => None,
        };
        match ms {
            Some(ms) => Some(Sp::new(ms, v.span())),
            None => {
                self.problem(v.span(), not_a_duration(key));
                None
            }
        }
    }

    /// A table of strings (`config = { greeting = "hi" }`), in written order.
    pub(super) fn string_table(&mut self, t: &DeTable<'_>, key: &str) -> Vec<(String, String)> {
        let Some(v) = get(t, key) else {
            return Vec::new();
        };
        match v.get_ref() {
            DeValue::Table(entries) => entries
                .iter()
                .filter_map(|(k, v)| match v.get_ref() {
                    DeValue::String(s) => Some((k.get_ref().to_string(), s.to_string())),
                    other => {
                        self.d.error(
                            v.span(),
                            format!("`{key}` values must be strings, not {}", type_name(other)),
                        );
                        None
                    }
                })
                .collect(),
            _ => {
                self.wrong(v, key, "a table of strings");
                Vec::new()
            }
        }
    }

    /// A string or an array of strings.
    pub(super) fn strings(&mut self, t: &DeTable<'_>, key: &str) -> Option<Vec<Sp<String>>> {
        let v = get(t, key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(vec![Sp::new(s.to_string(), v.span())]),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push(Sp::new(s.to_string(), item.span())),
                        other => {
                            self.d.error(
                                item.span(),
                                format!(
                                    "`{key}` entries must be strings, not {}",
                                    type_name(other)
                                ),
                            );
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.wrong(v, key, "a string or an array of strings");
                None
            }
        }
    }

    /// An array (or single value) of strings or integers.
    pub(super) fn names_or_ids(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
    ) -> Vec<Sp<Result<String, i64>>> {
        let Some(v) = get(t, key) else {
            return Vec::new();
        };
        let items = one_or_many(v);
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => out.push(Sp::new(Ok(s.to_string()), item.span())),
                DeValue::Integer(_) => {
                    if let Some(n) = self.int_of(item, key) {
                        out.push(Sp::new(Err(n), item.span()));
                    }
                }
                other => {
                    self.d.error(
                        item.span(),
                        format!(
                            "`{key}` entries must be names or ids, not {}",
                            type_name(other)
                        ),
                    );
                }
            }
        }
        out
    }

    pub(super) fn tables<'a, 'i>(
        &mut self,
        v: &'a Value<'i>,
        key: &str,
    ) -> Vec<(&'a DeTable<'i>, Span)> {
        match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| match item.get_ref() {
                    DeValue::Table(t) => Some((t, item.span())),
                    _ => {
                        self.d.error(
                            item.span(),
                            format!("each `{key}` must be a table (write `[[{key}]]`)"),
                        );
                        None
                    }
                })
                .collect(),
            DeValue::Table(t) => {
                self.d.error(
                    v.span(),
                    format!("`{key}` must be an array of tables: write `[[{key}]]`, not `[{key}]`"),
                );
                vec![(t, v.span())]
            }
            _ => {
                self.wrong(v, key, "an array of tables");
                Vec::new()
            }
        }
    }

    pub(super) fn table<'a, 'i>(
        &mut self,
        root: &'a DeTable<'i>,
        key: &str,
    ) -> Option<(&'a DeTable<'i>, Span)> {
        let v = get(root, key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span())),
            _ => {
                self.wrong(v, key, "a table");
                None
            }
        }
    }
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn or_list(choices: &[&str]) -> String {
    let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
