//! Reading an answer: success text, or the one classified [`Error`] it stands for.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::excerpt;

/// Turns a status and body into success text or a classified error.
pub(crate) fn classify(
    endpoint: &str,
    status: u16,
    header_retry: Option<f64>,
    text: String,
) -> Result<String> {
    let envelope: Option<Envelope> = serde_json::from_str(&text).ok();
    let Some(env) = envelope else {
        if status == 429 {
            return Err(Error::RateLimited {
                retry_after: retry_duration(header_retry),
            });
        }
        return Err(Error::Transient {
            endpoint: endpoint.to_owned(),
            detail: format!("HTTP {status}, non-JSON body: {}", excerpt(&text)),
        });
    };
    if (200..300).contains(&status) && env.result.as_deref() != Some("error") {
        return Ok(text);
    }
    Err(classify_error(endpoint, status, header_retry, env))
}

/// A JSON error answer. Every field is optional and loosely typed: an error body must
/// be understood whatever else a server version puts in it (`retry-after` as a number
/// or a string, `msg` or `code` missing or null).
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "retry-after")]
    retry_after: Option<Value>,
    #[serde(default)]
    queue_id: Option<String>,
}

/// The error a JSON error answer (`env`, with HTTP `status`) stands for.
fn classify_error(endpoint: &str, status: u16, header_retry: Option<f64>, env: Envelope) -> Error {
    let code = env.code.clone().unwrap_or_else(|| "BAD_REQUEST".into());
    let msg = env.msg.unwrap_or_default();
    let lower = msg.to_ascii_lowercase();
    // "An event newer than N has already been pruned!": the queue lives, but the events
    // after our acknowledgement are gone from it. Our place in it is lost just as when
    // it expires, and the remedy is the same: a new queue and a backfill.
    let pruned = endpoint == "events" && lower.contains("has already been pruned");
    if code == "BAD_EVENT_QUEUE_ID" || lower.starts_with("bad event queue id") || pruned {
        let queue_id = env.queue_id.unwrap_or_default();
        return Error::QueueGone { queue_id, msg };
    }
    if status == 429 || code == "RATE_LIMIT_HIT" {
        let body_retry = env.retry_after.as_ref().and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        let retry_after = retry_duration(body_retry.or(header_retry));
        return Error::RateLimited { retry_after };
    }
    let auth_code = matches!(
        code.as_str(),
        "INVALID_API_KEY"
            | "USER_DEACTIVATED"
            | "REALM_DEACTIVATED"
            | "UNAUTHORIZED"
            | "UNAUTHENTICATED_USER"
    );
    if status == 401 || auth_code {
        return Error::Auth { code, msg };
    }
    let endpoint = endpoint.to_owned();
    if status >= 500 {
        let detail = format!("HTTP {status}: {msg}");
        return Error::Transient { endpoint, detail };
    }
    Error::BadRequest {
        endpoint,
        code,
        msg,
    }
}

fn retry_duration(secs: Option<f64>) -> Duration {
    match secs {
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s.min(3600.0)),
        _ => Duration::from_secs(1),
    }
}

pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection cut while reading"
    } else {
        "request failed"
    };
    let mut detail = format!("{kind}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(&format!(": {s}"));
        src = s.source();
    }
    detail
}
