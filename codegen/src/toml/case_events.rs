//! Test events that are not Zulip's own: an edit or deletion of one of the case's
//! messages (`{ edit = N, content = "..." }`, `{ delete = N }`), and the clock moved
//! forward (`{ clock = "..." }`, also a case's start time).

use serde_json::{Value as Json, json};
use toml::de::DeTable;

use super::walker::{Walker, get};

impl Walker {
    /// `clock`: a time with its offset (`2026-12-07T09:00:00+01:00`, or `Z`), as Unix
    /// seconds.
    pub(super) fn clock(&mut self, t: &DeTable<'_>) -> Option<i64> {
        let s = self.string(t, "clock")?;
        match s.value.parse::<jiff::Timestamp>() {
            Ok(ts) => Some(ts.as_second()),
            Err(_) => {
                self.d
                    .error(
                        s.span,
                        format!("`clock` is a time with its offset, not `{}`", s.value),
                    )
                    .help =
                    Some("e.g. \"2026-12-07T09:00:00+01:00\" or \"2026-12-07T08:00:00Z\"".into());
                None
            }
        }
    }

    /// `{ edit = N, content = "..." }` or `{ delete = N }`: the case's Nth message
    /// (counting from 1, among those before) edited or deleted by its sender.
    pub(super) fn change_event(&mut self, t: &DeTable<'_>, sent: usize) -> Option<Json> {
        let edit = get(t, "edit").is_some();
        let (key, allowed): (&str, &[&str]) = match edit {
            true => ("edit", &["edit", "content"]),
            false => ("delete", &["delete"]),
        };
        self.keys(t, allowed, &format!("a test `{key}`"));
        let n = self.uint(t, key, i64::MAX)?;
        if n.value == 0 || n.value as usize > sent {
            let msg = match n.value {
                0 => format!("`{key} = 0`: the case's messages are counted from 1"),
                k => {
                    format!("`{key} = {k}` names the case's message {k}, but {sent} came before it")
                }
            };
            self.d.error(n.span, msg);
            return None;
        }
        if !edit {
            return Some(json!({ "delete": { "message": n.value } }));
        }
        let Some(content) = self.string(t, "content") else {
            self.d.error(n.span, "an `edit` needs the new `content`");
            return None;
        };
        Some(json!({ "edit": { "message": n.value, "content": content.value } }))
    }
}
