//! `zlc_event_log`: failures, dead letters and stored events.

use sqlx::Row;

use super::db::{Pool, Store};
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

/// A dead letter with what replaying it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRow {
    /// Its id.
    pub id: i64,
    /// The listener.
    pub listener: String,
    /// The realm connection the event came from.
    pub realm_id: i64,
    /// The event type.
    pub kind: String,
    /// The queue event id.
    pub event_id: Option<i64>,
    /// The message, for message events.
    pub message_id: Option<i64>,
    /// The key its side effects go by (`None` in rows written before it was kept).
    pub event_key: Option<String>,
    /// What went wrong (the last time).
    pub error: String,
    /// The event as received (cut if `truncated`).
    pub payload: String,
    /// Whether the payload was stored cut (such a letter cannot be replayed).
    pub truncated: bool,
    /// When it failed (Unix seconds).
    pub at: i64,
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

    /// Dead letters of a pipeline with their events, oldest first: of `listener` if
    /// given, and only `ids` unless empty.
    pub async fn dead_letter_rows(
        &self,
        pipeline: &str,
        listener: Option<&str>,
        ids: &[i64],
    ) -> Result<Vec<DeadLetterRow>> {
        const SQL: &str = "SELECT id, listener, realm_id, kind, event_id, message_id, COALESCE(error, ''), payload, truncated, at, event_key \
             FROM zlc_event_log WHERE pipeline = $1 AND status = 'dead' AND ($2 = '' OR listener = $2) ORDER BY id";
        let rows = fetch_rows!(self, SQL, [pipeline, listener.unwrap_or("")], |r| {
            DeadLetterRow {
                id: r.try_get(0)?,
                listener: r.try_get(1)?,
                realm_id: r.try_get(2)?,
                kind: r.try_get(3)?,
                event_id: r.try_get(4)?,
                message_id: r.try_get(5)?,
                error: r.try_get(6)?,
                payload: r.try_get(7)?,
                truncated: r.try_get(8)?,
                at: r.try_get(9)?,
                event_key: r.try_get(10)?,
            }
        });
        Ok(rows
            .into_iter()
            .filter(|r| ids.is_empty() || ids.contains(&r.id))
            .collect())
    }

    /// Removes dead letter `id` (dropped, or replayed with success).
    pub async fn remove_dead_letter(&self, pipeline: &str, id: i64) -> Result<()> {
        const SQL: &str =
            "DELETE FROM zlc_event_log WHERE pipeline = $1 AND id = $2 AND status = 'dead'";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records that replaying dead letter `id` failed again, with `error`.
    pub async fn dead_letter_failed_again(
        &self,
        pipeline: &str,
        id: i64,
        error: &str,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE zlc_event_log SET error = $3, at = $4 WHERE pipeline = $1 AND id = $2";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(id)
                .bind(error)
                .bind(crate::clock::now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// How many dead letters each listener of a pipeline has.
    pub async fn dead_letter_counts(&self, pipeline: &str) -> Result<Vec<(String, i64)>> {
        const SQL: &str = "SELECT listener, COUNT(*) FROM zlc_event_log WHERE pipeline = $1 AND status = 'dead' GROUP BY listener ORDER BY listener";
        let rows = fetch_rows!(self, SQL, [pipeline], |r| (r.try_get(0)?, r.try_get(1)?));
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
