//! `zlc_listener_stats`, `zlc_counts` and `zlc_named_counts`: statistics per listener
//! and hour of the event, written in batches.

use sqlx::Row;

use super::db::{Pool, Store};
use super::rows::Figures;
use crate::error::Result;

/// A listener's statistics over every hour in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerTotals {
    /// Listener name.
    pub listener: String,
    /// Its figures (`counted`: what its `count` actions counted, every group).
    pub figures: Figures,
    /// The newest hour with statistics (Unix seconds).
    pub last_hour: i64,
}

/// One listener's statistics in one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourRow {
    /// The hour (Unix seconds).
    pub hour: i64,
    /// Events that reached the listener's filters.
    pub seen: i64,
    /// Events that passed them.
    pub matched: i64,
}

/// A `count` action's group in one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// The hour (Unix seconds).
    pub hour: i64,
    /// The channel (empty when not grouped by channel).
    pub channel: String,
    /// The sender (empty when not grouped by sender).
    pub sender: String,
    /// How many.
    pub n: i64,
}

/// A handler's named counter, over every hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCount {
    /// Its name.
    pub name: String,
    /// Its total.
    pub n: i64,
}

/// Adds a listener's figures of one hour.
const STATS: &str = "INSERT INTO zlc_listener_stats (pipeline, listener, hour, seen, matched, succeeded, failed, limited, time_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (pipeline, listener, hour) DO UPDATE SET \
     seen = zlc_listener_stats.seen + excluded.seen, matched = zlc_listener_stats.matched + excluded.matched, \
     succeeded = zlc_listener_stats.succeeded + excluded.succeeded, failed = zlc_listener_stats.failed + excluded.failed, \
     limited = zlc_listener_stats.limited + excluded.limited, time_us = zlc_listener_stats.time_us + excluded.time_us";
/// Adds to a grouped count.
const COUNTS: &str = "INSERT INTO zlc_counts (pipeline, listener, hour, channel, sender, n) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (pipeline, listener, hour, channel, sender) DO UPDATE SET n = zlc_counts.n + excluded.n";
/// One event-log row.
const LOG: &str = "INSERT INTO zlc_event_log (pipeline, listener, realm_id, kind, event_id, message_id, status, error, payload, payload_bytes, truncated, at, event_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
/// Adds to a handler's named counter.
const NAMED: &str = "INSERT INTO zlc_named_counts (pipeline, listener, hour, name, n) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (pipeline, listener, hour, name) DO UPDATE SET n = zlc_named_counts.n + excluded.n";

impl Store {
    /// Writes statistics, grouped counts and event-log rows in one transaction.
    pub async fn flush(
        &self,
        pipeline: &str,
        names: &[&str],
        drained: &super::rows::Drained,
        log: &[super::rows::LogRow],
    ) -> Result<()> {
        self.commit(pipeline, names, drained, log, None, None).await
    }

    /// Writes acknowledged work in one transaction: its statistics, grouped counts and
    /// event-log rows (dead letters among them), and the checkpoint that passes it
    /// (`checkpoint`, of `connection`). Either all of it is written or none; and none
    /// when this process held `connection`'s lease and another process took it over
    /// (the fence is checked whether or not the checkpoint moves).
    pub async fn commit(
        &self,
        pipeline: &str,
        names: &[&str],
        drained: &super::rows::Drained,
        log: &[super::rows::LogRow],
        connection: Option<&str>,
        checkpoint: Option<&super::checkpoints::Checkpoint>,
    ) -> Result<()> {
        if drained.is_empty() && log.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        let name = |i: usize| names.get(i).copied().unwrap_or("?");
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // The lease first: a process that lost it writes nothing of this batch.
            if let Some(connection) = connection {
                super::leases::check_fence!(self, tx, connection);
            }
            for row in &drained.rows {
                let (c, hour, listener) = (&row.counters, row.hour * 3600, name(row.listener));
                execute!(tx, STATS; pipeline, listener, hour, c.seen as i64, c.matched as i64,
                    c.succeeded as i64, c.failed as i64, c.limited as i64, c.time_us as i64);
            }
            for row in &drained.counts {
                execute!(tx, COUNTS; pipeline, name(row.listener), row.hour * 3600, &row.channel,
                    &row.sender, row.n as i64);
            }
            for row in &drained.named {
                execute!(tx, NAMED; pipeline, name(row.listener), row.hour * 3600, &row.name,
                    row.n as i64);
            }
            for r in log {
                execute!(tx, LOG; pipeline, &r.listener, i64::from(r.realm_id), &r.kind,
                    r.event_id, r.message_id, &r.status, r.error.as_deref(), &r.payload,
                    r.payload_bytes as i64, r.truncated, r.at, r.event_key.as_deref());
            }
            if let (Some(connection), Some(cp)) =
                (connection, checkpoint.filter(|c| c.is_push_mark()))
            {
                execute!(tx, super::checkpoints::SAVE_PUSH_MARK; connection, cp.last_message_id,
                    crate::clock::now_secs());
            } else if let (Some(connection), Some(cp)) = (connection, checkpoint) {
                execute!(tx, super::checkpoints::SAVE_CHECKPOINT; connection, cp.queue_id.as_deref(),
                    cp.last_event_id, cp.last_message_id, crate::clock::now_secs(),
                    cp.registered_for.as_deref());
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Totals per listener over every hour, by listener name.
    pub async fn listener_totals(&self, pipeline: &str) -> Result<Vec<ListenerTotals>> {
        self.listener_totals_since(pipeline, 0).await
    }

    /// Totals per listener over the hours from `since` (Unix seconds) on.
    pub async fn listener_totals_since(
        &self,
        pipeline: &str,
        since: i64,
    ) -> Result<Vec<ListenerTotals>> {
        const SQL: &str = "SELECT listener, CAST(SUM(seen) AS BIGINT), CAST(SUM(matched) AS BIGINT), CAST(SUM(succeeded) AS BIGINT), \
             CAST(SUM(failed) AS BIGINT), CAST(SUM(limited) AS BIGINT), CAST(SUM(time_us) AS BIGINT), MAX(hour) \
             FROM zlc_listener_stats WHERE pipeline = $1 AND hour >= $2 GROUP BY listener ORDER BY listener";
        let since_hour = since - since.rem_euclid(3600);
        let mut rows = fetch_rows!(self, SQL, [pipeline, since_hour], |r| ListenerTotals {
            listener: r.try_get(0)?,
            figures: Figures {
                seen: unsigned(r.try_get(1)?),
                matched: unsigned(r.try_get(2)?),
                succeeded: unsigned(r.try_get(3)?),
                failed: unsigned(r.try_get(4)?),
                limited: unsigned(r.try_get(5)?),
                time_us: unsigned(r.try_get(6)?),
                counted: 0,
            },
            last_hour: r.try_get(7)?,
        });
        for (listener, n) in self.counted_since(pipeline, since).await? {
            if let Some(t) = rows.iter_mut().find(|t| t.listener == listener) {
                t.figures.counted = unsigned(n);
            }
        }
        Ok(rows)
    }

    /// Statistics rows of a listener, oldest hour first.
    pub async fn listener_hours(&self, pipeline: &str, listener: &str) -> Result<Vec<HourRow>> {
        const SQL: &str = "SELECT hour, seen, matched FROM zlc_listener_stats WHERE pipeline = $1 AND listener = $2 ORDER BY hour";
        let rows = fetch_rows!(self, SQL, [pipeline, listener], |r| HourRow {
            hour: r.try_get(0)?,
            seen: r.try_get(1)?,
            matched: r.try_get(2)?,
        });
        Ok(rows)
    }

    /// How much each listener's `count` actions counted, over the hours from `since` on
    /// (by listener; a match stopped by a failed action before its `count` is not
    /// counted, so this can be less than `matched`).
    pub async fn counted_since(&self, pipeline: &str, since: i64) -> Result<Vec<(String, i64)>> {
        const SQL: &str = "SELECT listener, CAST(SUM(n) AS BIGINT) FROM zlc_counts WHERE pipeline = $1 AND hour >= $2 \
             GROUP BY listener ORDER BY listener";
        let since_hour = since - since.rem_euclid(3600);
        let rows = fetch_rows!(self, SQL, [pipeline, since_hour], |r| (
            r.try_get(0)?,
            r.try_get(1)?
        ));
        Ok(rows)
    }

    /// What `listener`'s `count` actions counted by channel in the hours from `from` up
    /// to the hour of `to` (the hour `to` falls in is left out: it is not over), busiest
    /// first; and the total, channels or not.
    pub async fn channel_counts_between(
        &self,
        pipeline: &str,
        listener: &str,
        from: i64,
        to: i64,
    ) -> Result<(Vec<(String, i64)>, i64)> {
        const SQL: &str = "SELECT channel, CAST(SUM(n) AS BIGINT) FROM zlc_counts \
             WHERE pipeline = $1 AND listener = $2 AND hour >= $3 AND hour < $4 \
             GROUP BY channel ORDER BY 2 DESC, channel";
        let (from, to) = (from - from.rem_euclid(3600), to - to.rem_euclid(3600));
        let rows: Vec<(String, i64)> =
            fetch_rows!(self, SQL, [pipeline, listener, from, to], |r| (
                r.try_get(0)?,
                r.try_get(1)?
            ));
        let total = rows.iter().map(|(_, n)| n).sum();
        Ok((
            rows.into_iter().filter(|(c, _)| !c.is_empty()).collect(),
            total,
        ))
    }

    /// Grouped counts of a listener, newest hour first.
    pub async fn counts(&self, pipeline: &str, listener: &str) -> Result<Vec<CountRow>> {
        const SQL: &str = "SELECT hour, channel, sender, n FROM zlc_counts WHERE pipeline = $1 AND listener = $2 ORDER BY hour DESC, n DESC, channel, sender";
        let rows = fetch_rows!(self, SQL, [pipeline, listener], |r| CountRow {
            hour: r.try_get(0)?,
            channel: r.try_get(1)?,
            sender: r.try_get(2)?,
            n: r.try_get(3)?,
        });
        Ok(rows)
    }

    /// A handler's named counters, by name.
    pub async fn named_counts(&self, pipeline: &str, listener: &str) -> Result<Vec<NamedCount>> {
        self.named_counts_since(pipeline, listener, 0).await
    }

    /// A handler's named counters over the hours from `since` on, by name.
    pub async fn named_counts_since(
        &self,
        pipeline: &str,
        listener: &str,
        since: i64,
    ) -> Result<Vec<NamedCount>> {
        const SQL: &str = "SELECT name, CAST(SUM(n) AS BIGINT) FROM zlc_named_counts WHERE pipeline = $1 AND listener = $2 AND hour >= $3 GROUP BY name ORDER BY name";
        let since_hour = since - since.rem_euclid(3600);
        let rows = fetch_rows!(self, SQL, [pipeline, listener, since_hour], |r| {
            NamedCount {
                name: r.try_get(0)?,
                n: r.try_get(1)?,
            }
        });
        Ok(rows)
    }
}

/// A stored sum as a figure (the store's integers are signed; no sum is negative).
fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
