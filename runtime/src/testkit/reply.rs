//! What a fake endpoint answers: JSON with Zulip's envelope, or text as it is.

use std::collections::HashMap;

use serde_json::{Value, json};

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) content_type: &'static str,
    pub(super) retry_after: Option<f64>,
    pub(super) cut: bool,
}

impl Reply {
    pub(super) fn json(status: u16, v: Value) -> Self {
        Reply {
            status,
            body: v.to_string(),
            content_type: "application/json",
            retry_after: None,
            cut: false,
        }
    }

    /// A 200 with a JSON body already written out.
    pub(super) fn raw(body: String) -> Self {
        Reply {
            status: 200,
            body,
            content_type: "application/json",
            retry_after: None,
            cut: false,
        }
    }

    pub(super) fn ok(mut v: Value) -> Self {
        if let Some(o) = v.as_object_mut() {
            o.insert("result".into(), json!("success"));
            o.insert("msg".into(), json!(""));
        }
        Reply::json(200, v)
    }

    pub(super) fn error(status: u16, code: &str, msg: &str) -> Self {
        Reply::json(status, json!({"result": "error", "code": code, "msg": msg}))
    }
}

pub(super) fn json_param<T: serde::de::DeserializeOwned>(
    p: &HashMap<String, String>,
    key: &str,
) -> Result<Option<T>, Reply> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => serde_json::from_str(v).map(Some).map_err(|_| {
            Reply::error(
                400,
                "BAD_REQUEST",
                &format!("Argument \"{key}\" is not valid JSON."),
            )
        }),
    }
}
