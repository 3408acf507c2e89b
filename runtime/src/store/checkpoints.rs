//! `zlc_checkpoints` and `zlc_gaps`: where each realm connection's queue stands, and
//! the stretches of events lost when a queue expired.

use sqlx::Row;

use super::db::{Pool, Store};
use crate::clock::now_secs;
use crate::error::Result;

/// Where a realm connection's queue stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The queue to resume (none before the first registration).
    pub queue_id: Option<String>,
    /// Everything up to this event id is processed.
    pub last_event_id: i64,
    /// The highest processed message id: the anchor for a backfill.
    pub last_message_id: Option<i64>,
    /// What the queue was registered for
    /// ([`crate::client::RegisterRequest::fingerprint`]); `None`: not recorded (an
    /// older zlc).
    pub registered_for: Option<String>,
}

impl Checkpoint {
    /// Where a push realm stands: every message up to `message_id` that Zulip pushed
    /// (or would have) is handled. Only ever raised, by any process of a fleet.
    pub fn push_mark(message_id: i64) -> Self {
        Checkpoint {
            queue_id: None,
            last_event_id: -1,
            last_message_id: Some(message_id),
            registered_for: Some(PUSH_MARK.to_owned()),
        }
    }

    /// Whether it is a push realm's mark.
    pub fn is_push_mark(&self) -> bool {
        self.registered_for.as_deref() == Some(PUSH_MARK)
    }
}

/// What a push realm's checkpoint says it was registered for.
const PUSH_MARK: &str = "push";

/// Raises a push realm's mark: `$1` connection, `$2` message id, `$3` now. Processes
/// of a fleet write it in any order; it never goes down.
pub(super) const SAVE_PUSH_MARK: &str = "INSERT INTO zlc_checkpoints (connection, queue_id, last_event_id, last_message_id, updated_at, registered_for, registered_queue) \
     VALUES ($1, NULL, -1, $2, $3, 'push', NULL) \
     ON CONFLICT (connection) DO UPDATE SET updated_at = excluded.updated_at, \
     last_message_id = CASE WHEN zlc_checkpoints.last_message_id IS NULL \
     OR zlc_checkpoints.last_message_id < excluded.last_message_id \
     THEN excluded.last_message_id ELSE zlc_checkpoints.last_message_id END";

/// A stretch of events lost when a queue expired (only messages can be backfilled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The queue that expired.
    pub old_queue_id: Option<String>,
    /// The queue registered in its place.
    pub new_queue_id: String,
    /// Events after this id on the old queue are lost unless they were messages.
    pub last_event_id: i64,
    /// Messages after this id were backfilled.
    pub last_message_id: Option<i64>,
    /// Why the old queue was replaced.
    pub reason: GapReason,
}

/// Why a queue was replaced by a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapReason {
    /// Zulip forgot it (`BAD_EVENT_QUEUE_ID`).
    Expired,
    /// Events after our acknowledgement were pruned from it.
    Pruned,
    /// It was registered for other events than the pipeline now needs (edited, rebuilt,
    /// upgraded, or a checkpoint that does not say).
    Changed,
}

impl GapReason {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::Expired => "expired",
            GapReason::Pruned => "pruned",
            GapReason::Changed => "changed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "pruned" => GapReason::Pruned,
            "changed" => GapReason::Changed,
            _ => GapReason::Expired,
        }
    }
}

/// Upserts a checkpoint: `$1` connection, `$2` queue id, `$3` last event id, `$4` last
/// message id, `$5` now, `$6` what the queue was registered for (which describes queue
/// `$2`, kept as `registered_queue`).
pub(super) const SAVE_CHECKPOINT: &str = "INSERT INTO zlc_checkpoints (connection, queue_id, last_event_id, last_message_id, updated_at, registered_for, registered_queue) \
     VALUES ($1, $2, $3, $4, $5, $6, $2) \
     ON CONFLICT (connection) DO UPDATE SET queue_id = excluded.queue_id, \
     last_event_id = excluded.last_event_id, last_message_id = excluded.last_message_id, \
     updated_at = excluded.updated_at, registered_for = excluded.registered_for, \
     registered_queue = excluded.registered_queue";

/// A connection's checkpoint as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    /// The connection key (`PIPELINE/realm-ID`).
    pub connection: String,
    /// Where it stands.
    pub checkpoint: Checkpoint,
    /// When it was written (Unix seconds).
    pub updated_at: i64,
    /// Gaps recorded (expired queues).
    pub gaps: i64,
}

impl Store {
    /// The checkpoint of `connection`, if one was saved.
    pub async fn load_checkpoint(&self, connection: &str) -> Result<Option<Checkpoint>> {
        // The fingerprint counts only for the queue it was written for (an older zlc
        // may have moved the queue without knowing the column).
        const SQL: &str = "SELECT queue_id, last_event_id, last_message_id, \
             CASE WHEN registered_queue = queue_id THEN registered_for END \
             FROM zlc_checkpoints WHERE connection = $1";
        let row = on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(connection)
                .fetch_optional(pool)
                .await?
                .map(|r| {
                    Ok::<_, sqlx::Error>(Checkpoint {
                        queue_id: r.try_get(0)?,
                        last_event_id: r.try_get(1)?,
                        last_message_id: r.try_get(2)?,
                        registered_for: r.try_get(3)?,
                    })
                })
        });
        Ok(row.transpose()?)
    }

    /// Saves the checkpoint of `connection` (fenced by its lease when this process holds
    /// it: [`crate::error::Error::LeaseLost`] when another process took it over).
    pub async fn save_checkpoint(&self, connection: &str, cp: &Checkpoint) -> Result<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            super::leases::check_fence!(self, tx, connection);
            sqlx::query(SAVE_CHECKPOINT)
                .bind(connection)
                .bind(cp.queue_id.as_deref())
                .bind(cp.last_event_id)
                .bind(cp.last_message_id)
                .bind(now_secs())
                .bind(cp.registered_for.as_deref())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Raises push realm `connection`'s mark to `message_id` (never lowers it).
    pub async fn save_push_mark(&self, connection: &str, message_id: i64) -> Result<()> {
        on_pool!(self, |pool| {
            sqlx::query(SAVE_PUSH_MARK)
                .bind(connection)
                .bind(message_id)
                .bind(now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The checkpoints whose connection key starts with `prefix` (`PIPELINE/`), with
    /// when each was written and how many gaps each recorded.
    pub async fn checkpoints_under(&self, prefix: &str) -> Result<Vec<ConnectionState>> {
        const SQL: &str = "SELECT c.connection, c.queue_id, c.last_event_id, c.last_message_id, c.updated_at, \
             (SELECT COUNT(*) FROM zlc_gaps g WHERE g.connection = c.connection), \
             CASE WHEN c.registered_queue = c.queue_id THEN c.registered_for END \
             FROM zlc_checkpoints c WHERE substr(c.connection, 1, length($1)) = $1 ORDER BY c.connection";
        let rows = fetch_rows!(self, SQL, [prefix], |r| ConnectionState {
            connection: r.try_get(0)?,
            checkpoint: Checkpoint {
                queue_id: r.try_get(1)?,
                last_event_id: r.try_get(2)?,
                last_message_id: r.try_get(3)?,
                registered_for: r.try_get(6)?,
            },
            updated_at: r.try_get(4)?,
            gaps: r.try_get(5)?,
        });
        Ok(rows)
    }

    /// Records a gap of unrecoverable non-message events.
    pub async fn record_gap(&self, connection: &str, gap: &Gap) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_gaps (connection, old_queue_id, new_queue_id, last_event_id, last_message_id, detected_at, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(connection)
                .bind(gap.old_queue_id.as_deref())
                .bind(&gap.new_queue_id)
                .bind(gap.last_event_id)
                .bind(gap.last_message_id)
                .bind(now_secs())
                .bind(gap.reason.as_str())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The gaps recorded for `connection`, oldest first.
    pub async fn gaps(&self, connection: &str) -> Result<Vec<Gap>> {
        const SQL: &str = "SELECT old_queue_id, new_queue_id, last_event_id, last_message_id, reason FROM zlc_gaps \
             WHERE connection = $1 ORDER BY id";
        let rows = fetch_rows!(self, SQL, [connection], |r| Gap {
            old_queue_id: r.try_get(0)?,
            new_queue_id: r.try_get(1)?,
            last_event_id: r.try_get(2)?,
            last_message_id: r.try_get(3)?,
            reason: GapReason::parse(&r.try_get::<String, _>(4)?),
        });
        Ok(rows)
    }
}
