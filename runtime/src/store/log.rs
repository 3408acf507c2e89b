//! `zlc_event_log`: failures, dead letters and stored events.

use sqlx::Row;

use super::{Pool, Store};
use crate::error::Result;

/// A row of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The listener.
    pub listener: String,
    /// `failed`, `dead`, `stored` or `matched`.
    pub status: String,
    /// What went wrong, for failures.
    pub error: Option<String>,
    /// The message, for message events.
    pub message_id: Option<i64>,
}

/// An event whose actions failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The listener.
    pub listener: String,
    /// What went wrong.
    pub error: String,
    /// The message, for message events.
    pub message_id: Option<i64>,
}

impl Store {
    /// Event-log rows of a pipeline, oldest first.
    pub async fn event_log(&self, pipeline: &str) -> Result<Vec<LogEntry>> {
        const SQL: &str = "SELECT listener, status, error, message_id FROM zlc_event_log WHERE pipeline = $1 ORDER BY id";
        let rows = fetch_rows!(self, SQL, [pipeline], |r| LogEntry {
            listener: r.try_get(0)?,
            status: r.try_get(1)?,
            error: r.try_get(2)?,
            message_id: r.try_get(3)?,
        });
        Ok(rows)
    }

    /// Dead letters of a pipeline, oldest first.
    pub async fn dead_letters(&self, pipeline: &str) -> Result<Vec<DeadLetter>> {
        const SQL: &str = "SELECT listener, COALESCE(error, ''), message_id FROM zlc_event_log WHERE pipeline = $1 AND status = 'dead' ORDER BY id";
        let rows = fetch_rows!(self, SQL, [pipeline], |r| DeadLetter {
            listener: r.try_get(0)?,
            error: r.try_get(1)?,
            message_id: r.try_get(2)?,
        });
        Ok(rows)
    }
}
