//! The SQL store: SQLite by default, PostgreSQL when the URL says so.
//!
//! One [`Store`] wraps a pool of either kind; queries are written once in the SQL both
//! understand (`$1` placeholders, `ON CONFLICT … DO UPDATE`) and always bind their
//! parameters. Migrations are embedded in the binary, one set per backend (they differ
//! only in how ids are generated), and run when the store opens.
//!
//! Nothing on the per-event path waits on the store: sources persist a checkpoint per
//! acknowledged *batch*.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr};

use crate::error::{Error, Result};
use crate::stats::now_secs;

/// The default store: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://zlc.db";

macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        vec![$(Migration::new(
            $version,
            Cow::Borrowed($name),
            MigrationType::Simple,
            include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")).into_sql_str(),
            false,
        )),*]
    };
}

fn sqlite_migrations() -> Migrator {
    Migrator::with_migrations(
        migrations!("sqlite": 1 "0001_checkpoints", 2 "0002_listeners", 3 "0003_limits", 4 "0004_handlers"),
    )
}

fn postgres_migrations() -> Migrator {
    Migrator::with_migrations(
        migrations!("postgres": 1 "0001_checkpoints", 2 "0002_listeners", 3 "0003_limits", 4 "0004_handlers"),
    )
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection pool to the zlc database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    url: String,
}

/// Where a realm connection's queue stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The queue to resume (none before the first registration).
    pub queue_id: Option<String>,
    /// Everything up to this event id is processed.
    pub last_event_id: i64,
    /// The highest processed message id: the anchor for a backfill.
    pub last_message_id: Option<i64>,
}

/// A listener's statistics over every hour in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerTotals {
    /// Listener name.
    pub listener: String,
    /// Events that reached its filters.
    pub seen: i64,
    /// Events that passed them.
    pub matched: i64,
    /// Matched events whose actions all succeeded.
    pub succeeded: i64,
    /// Matched events whose actions failed for good.
    pub failed: i64,
    /// Matched events whose posts a rate limit held back.
    pub limited: i64,
    /// Time spent in actions, in microseconds.
    pub time_us: i64,
    /// The newest hour with statistics (Unix seconds).
    pub last_hour: i64,
}

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
}

// Runs one query text on whichever pool this is; the binds are the same for both.
macro_rules! on_pool {
    ($self:expr, |$q:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite(pool) => {
                let $q = pool;
                $body
            }
            Pool::Postgres(pool) => {
                let $q = pool;
                $body
            }
        }
    };
}

// Fetches every row of a query (same text and binds on either pool) and maps each
// with `$map`, a closure over the row that may use `?` on `try_get`.
macro_rules! fetch_rows {
    ($self:expr, $sql:expr, [$($bind:expr),*], |$r:ident| $map:expr) => {
        on_pool!($self, |pool| {
            sqlx::query($sql)
                $(.bind($bind))*
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|$r| Ok::<_, sqlx::Error>($map))
                .collect::<std::result::Result<Vec<_>, _>>()?
        })
    };
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    ///
    /// `sqlite://path`, `sqlite:path` or a bare path ending in `.db` open SQLite (the file
    /// is created); `postgres://` and `postgresql://` open PostgreSQL.
    pub async fn open(url: &str) -> Result<Self> {
        let redacted = redact_url(url);
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| Error::Store(format!("cannot connect to {redacted}: {e}")))?;
            postgres_migrations().run(&pool).await?;
            Pool::Postgres(pool)
        } else {
            let path_url = if url.starts_with("sqlite:") {
                url.to_owned()
            } else {
                format!("sqlite://{url}")
            };
            let opts = SqliteConnectOptions::from_str(&path_url)
                .map_err(|e| Error::Store(format!("bad SQLite URL {redacted}: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(opts)
                .await
                .map_err(|e| Error::Store(format!("cannot open {redacted}: {e}")))?;
            sqlite_migrations().run(&pool).await?;
            Pool::Sqlite(pool)
        };
        Ok(Store {
            pool,
            url: redacted,
        })
    }

    /// A private in-memory SQLite store, gone when dropped (tests, `zlc test`).
    pub async fn memory() -> Result<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| Error::Store(format!("in-memory SQLite: {e}")))?;
        // One connection that never closes: every connection to `:memory:` is its own
        // database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await
            .map_err(|e| Error::Store(format!("in-memory SQLite: {e}")))?;
        sqlite_migrations().run(&pool).await?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            url: "sqlite::memory:".into(),
        })
    }

    /// Dead letters of a pipeline: (listener, error, message id), oldest first.
    pub async fn dead_letters(&self, pipeline: &str) -> Result<Vec<(String, String, Option<i64>)>> {
        const SQL: &str = "SELECT listener, COALESCE(error, ''), message_id FROM zlc_event_log WHERE pipeline = $1 AND status = 'dead' ORDER BY id";
        let rows = fetch_rows!(self, SQL, [pipeline], |r| (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?
        ));
        Ok(rows)
    }

    /// The URL, with any password removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// The checkpoint of `connection`, if one was saved.
    pub async fn load_checkpoint(&self, connection: &str) -> Result<Option<Checkpoint>> {
        const SQL: &str = "SELECT queue_id, last_event_id, last_message_id FROM zlc_checkpoints WHERE connection = $1";
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
                    })
                })
        });
        Ok(row.transpose()?)
    }

    /// Saves the checkpoint of `connection`.
    pub async fn save_checkpoint(&self, connection: &str, cp: &Checkpoint) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_checkpoints (connection, queue_id, last_event_id, last_message_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (connection) DO UPDATE SET queue_id = excluded.queue_id, \
             last_event_id = excluded.last_event_id, last_message_id = excluded.last_message_id, \
             updated_at = excluded.updated_at";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(connection)
                .bind(cp.queue_id.as_deref())
                .bind(cp.last_event_id)
                .bind(cp.last_message_id)
                .bind(now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records a gap of unrecoverable non-message events.
    pub async fn record_gap(&self, connection: &str, gap: &Gap) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_gaps (connection, old_queue_id, new_queue_id, last_event_id, last_message_id, detected_at) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(connection)
                .bind(gap.old_queue_id.as_deref())
                .bind(&gap.new_queue_id)
                .bind(gap.last_event_id)
                .bind(gap.last_message_id)
                .bind(now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The gaps recorded for `connection`, oldest first.
    pub async fn gaps(&self, connection: &str) -> Result<Vec<Gap>> {
        const SQL: &str = "SELECT old_queue_id, new_queue_id, last_event_id, last_message_id FROM zlc_gaps \
             WHERE connection = $1 ORDER BY id";
        let rows = fetch_rows!(self, SQL, [connection], |r| Gap {
            old_queue_id: r.try_get(0)?,
            new_queue_id: r.try_get(1)?,
            last_event_id: r.try_get(2)?,
            last_message_id: r.try_get(3)?,
        });
        Ok(rows)
    }

    /// Records the pipeline's listeners (name, description, events, actions).
    pub async fn register_listeners(
        &self,
        pipeline: &str,
        listeners: &[(String, String, String, String)],
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_listeners (pipeline, name, description, events, actions, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (pipeline, name) DO UPDATE SET \
             description = excluded.description, events = excluded.events, actions = excluded.actions, last_seen = excluded.last_seen";
        let now = now_secs();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (name, description, events, actions) in listeners {
                sqlx::query(SQL)
                    .bind(pipeline)
                    .bind(name)
                    .bind(description)
                    .bind(events)
                    .bind(actions)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Writes statistics, grouped counts and event-log rows in one transaction.
    pub async fn flush(
        &self,
        pipeline: &str,
        names: &[&str],
        drained: &crate::stats::Drained,
        log: &[crate::stats::LogRow],
    ) -> Result<()> {
        const STATS: &str = "INSERT INTO zlc_listener_stats (pipeline, listener, hour, seen, matched, succeeded, failed, limited, time_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (pipeline, listener, hour) DO UPDATE SET \
             seen = zlc_listener_stats.seen + excluded.seen, matched = zlc_listener_stats.matched + excluded.matched, \
             succeeded = zlc_listener_stats.succeeded + excluded.succeeded, failed = zlc_listener_stats.failed + excluded.failed, \
             limited = zlc_listener_stats.limited + excluded.limited, time_us = zlc_listener_stats.time_us + excluded.time_us";
        const COUNTS: &str = "INSERT INTO zlc_counts (pipeline, listener, hour, channel, sender, n) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (pipeline, listener, hour, channel, sender) DO UPDATE SET n = zlc_counts.n + excluded.n";
        const LOG: &str = "INSERT INTO zlc_event_log (pipeline, listener, realm_id, kind, event_id, message_id, status, error, payload, payload_bytes, truncated, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        const NAMED: &str = "INSERT INTO zlc_named_counts (pipeline, listener, hour, name, n) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (pipeline, listener, hour, name) DO UPDATE SET n = zlc_named_counts.n + excluded.n";
        if drained.rows.is_empty()
            && drained.counts.is_empty()
            && drained.named.is_empty()
            && log.is_empty()
        {
            return Ok(());
        }
        let name = |i: usize| names.get(i).copied().unwrap_or("?");
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for row in &drained.rows {
                let c = &row.counters;
                sqlx::query(STATS)
                    .bind(pipeline)
                    .bind(name(row.listener))
                    .bind(row.hour * 3600)
                    .bind(c.seen as i64)
                    .bind(c.matched as i64)
                    .bind(c.succeeded as i64)
                    .bind(c.failed as i64)
                    .bind(c.limited as i64)
                    .bind(c.time_us as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            for row in &drained.counts {
                sqlx::query(COUNTS)
                    .bind(pipeline)
                    .bind(name(row.listener))
                    .bind(row.hour * 3600)
                    .bind(&row.channel)
                    .bind(&row.sender)
                    .bind(row.n as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            for row in &drained.named {
                sqlx::query(NAMED)
                    .bind(pipeline)
                    .bind(name(row.listener))
                    .bind(row.hour * 3600)
                    .bind(&row.name)
                    .bind(row.n as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            for r in log {
                sqlx::query(LOG)
                    .bind(pipeline)
                    .bind(&r.listener)
                    .bind(i64::from(r.realm_id))
                    .bind(&r.kind)
                    .bind(r.event_id)
                    .bind(r.message_id)
                    .bind(&r.status)
                    .bind(r.error.as_deref())
                    .bind(&r.payload)
                    .bind(r.payload_bytes as i64)
                    .bind(r.truncated)
                    .bind(r.at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Totals per listener over every hour, by listener name.
    pub async fn listener_totals(&self, pipeline: &str) -> Result<Vec<ListenerTotals>> {
        const SQL: &str = "SELECT listener, CAST(SUM(seen) AS BIGINT), CAST(SUM(matched) AS BIGINT), CAST(SUM(succeeded) AS BIGINT), \
             CAST(SUM(failed) AS BIGINT), CAST(SUM(limited) AS BIGINT), CAST(SUM(time_us) AS BIGINT), MAX(hour) \
             FROM zlc_listener_stats WHERE pipeline = $1 GROUP BY listener ORDER BY listener";
        let rows = fetch_rows!(self, SQL, [pipeline], |r| ListenerTotals {
            listener: r.try_get(0)?,
            seen: r.try_get(1)?,
            matched: r.try_get(2)?,
            succeeded: r.try_get(3)?,
            failed: r.try_get(4)?,
            limited: r.try_get(5)?,
            time_us: r.try_get(6)?,
            last_hour: r.try_get(7)?,
        });
        Ok(rows)
    }

    /// Statistics rows of a listener: (hour in Unix seconds, seen, matched), oldest first.
    pub async fn listener_hours(
        &self,
        pipeline: &str,
        listener: &str,
    ) -> Result<Vec<(i64, i64, i64)>> {
        const SQL: &str = "SELECT hour, seen, matched FROM zlc_listener_stats WHERE pipeline = $1 AND listener = $2 ORDER BY hour";
        let rows = fetch_rows!(self, SQL, [pipeline, listener], |r| (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
        ));
        Ok(rows)
    }

    /// Grouped counts of a listener: (hour, channel, sender, n), newest hour first.
    pub async fn counts(
        &self,
        pipeline: &str,
        listener: &str,
    ) -> Result<Vec<(i64, String, String, i64)>> {
        const SQL: &str = "SELECT hour, channel, sender, n FROM zlc_counts WHERE pipeline = $1 AND listener = $2 ORDER BY hour DESC, n DESC, channel, sender";
        let rows = fetch_rows!(self, SQL, [pipeline, listener], |r| (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
        ));
        Ok(rows)
    }

    /// Event-log rows of a pipeline: (listener, status, error, message_id), oldest first.
    pub async fn event_log(
        &self,
        pipeline: &str,
    ) -> Result<Vec<(String, String, Option<String>, Option<i64>)>> {
        const SQL: &str = "SELECT listener, status, error, message_id FROM zlc_event_log WHERE pipeline = $1 ORDER BY id";
        let rows = fetch_rows!(self, SQL, [pipeline], |r| (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
        ));
        Ok(rows)
    }

    /// Dynamic enable/disable overrides of a pipeline's listeners.
    pub async fn listener_overrides(
        &self,
        pipeline: &str,
    ) -> Result<std::collections::HashMap<String, bool>> {
        const SQL: &str = "SELECT listener, enabled FROM zlc_listener_config WHERE pipeline = $1";
        let rows: Vec<(String, bool)> =
            fetch_rows!(self, SQL, [pipeline], |r| (r.try_get(0)?, r.try_get(1)?));
        Ok(rows.into_iter().collect())
    }

    /// Enables or disables a listener without a rebuild (read when a connection starts).
    pub async fn set_listener_enabled(
        &self,
        pipeline: &str,
        listener: &str,
        enabled: bool,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_listener_config (pipeline, listener, enabled, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (pipeline, listener) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(enabled)
                .bind(now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A handler's named counters: (name, total), by name.
    pub async fn named_counts(&self, pipeline: &str, listener: &str) -> Result<Vec<(String, i64)>> {
        const SQL: &str = "SELECT name, CAST(SUM(n) AS BIGINT) FROM zlc_named_counts WHERE pipeline = $1 AND listener = $2 GROUP BY name ORDER BY name";
        let rows = fetch_rows!(self, SQL, [pipeline, listener], |r| (
            r.try_get(0)?,
            r.try_get(1)?
        ));
        Ok(rows)
    }

    /// The state value of a listener under `key`.
    pub async fn state_get(
        &self,
        pipeline: &str,
        listener: &str,
        key: &str,
    ) -> Result<Option<String>> {
        const SQL: &str =
            "SELECT value FROM zlc_state WHERE pipeline = $1 AND listener = $2 AND key = $3";
        let rows: Vec<String> =
            fetch_rows!(self, SQL, [pipeline, listener, key], |r| r.try_get(0)?);
        Ok(rows.into_iter().next())
    }

    /// Sets a listener's state value under `key`.
    pub async fn state_set(
        &self,
        pipeline: &str,
        listener: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_state (pipeline, listener, key, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (pipeline, listener, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(key)
                .bind(value)
                .bind(now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forgets a listener's state value under `key`.
    pub async fn state_delete(&self, pipeline: &str, listener: &str, key: &str) -> Result<()> {
        const SQL: &str =
            "DELETE FROM zlc_state WHERE pipeline = $1 AND listener = $2 AND key = $3";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Config values set without a rebuild, by listener name.
    pub async fn listener_settings(
        &self,
        pipeline: &str,
    ) -> Result<std::collections::HashMap<String, Vec<(String, String)>>> {
        const SQL: &str = "SELECT listener, key, value FROM zlc_listener_settings WHERE pipeline = $1 ORDER BY listener, key";
        let rows: Vec<(String, String, String)> = fetch_rows!(self, SQL, [pipeline], |r| (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?
        ));
        let mut out: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
        for (listener, k, v) in rows {
            out.entry(listener).or_default().push((k, v));
        }
        Ok(out)
    }

    /// Sets (or, with `None`, removes) a listener's config value without a rebuild.
    pub async fn set_listener_setting(
        &self,
        pipeline: &str,
        listener: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        const SET: &str = "INSERT INTO zlc_listener_settings (pipeline, listener, key, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (pipeline, listener, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
        const UNSET: &str =
            "DELETE FROM zlc_listener_settings WHERE pipeline = $1 AND listener = $2 AND key = $3";
        on_pool!(self, |pool| {
            match value {
                Some(v) => {
                    sqlx::query(SET)
                        .bind(pipeline)
                        .bind(listener)
                        .bind(key)
                        .bind(v)
                        .bind(now_secs())
                        .execute(pool)
                        .await?;
                }
                None => {
                    sqlx::query(UNSET)
                        .bind(pipeline)
                        .bind(listener)
                        .bind(key)
                        .execute(pool)
                        .await?;
                }
            }
        });
        Ok(())
    }

    /// Whether a side effect was done already.
    pub async fn effect_done(&self, pipeline: &str, listener: &str, effect: &str) -> Result<bool> {
        const SQL: &str =
            "SELECT 1 FROM zlc_effects WHERE pipeline = $1 AND listener = $2 AND effect = $3";
        let found = on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .fetch_optional(pool)
                .await?
                .is_some()
        });
        Ok(found)
    }

    /// Records a side effect as done.
    pub async fn record_effect(&self, pipeline: &str, listener: &str, effect: &str) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_effects (pipeline, listener, effect, done_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (pipeline, listener, effect) DO NOTHING";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .bind(now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Closes the pool, waiting for queries in flight.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// The store's URL, resolved at run time so that no secret is ever compiled in:
/// `--store` (`flag`), else the variable named by `url_env`, else `[store] url`, else
/// `sqlite://PIPELINE.db`. A password from `password_env` or `password_file` is added to
/// a URL that has none. `env` looks up environment variables.
pub fn resolve_url(
    pipeline: &str,
    desc: &crate::pipeline::StoreDesc,
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    let url = match (flag, desc.url_env) {
        (Some(f), _) => f.to_owned(),
        (None, Some(var)) => env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::Config(format!(
                "the store URL is read from ${var} ([store] url_env), which is not set"
            ))
        })?,
        (None, None) => desc
            .url
            .map_or_else(|| format!("sqlite://{pipeline}.db"), str::to_owned),
    };
    let password = match (desc.password_env, desc.password_file) {
        (Some(var), _) => Some(crate::config::Secret::new(
            env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                Error::Config(format!(
                    "the store password is read from ${var} ([store] password_env), which is not set"
                ))
            })?,
        )),
        (None, Some(file)) => Some(crate::config::read_secret_file(
            std::path::Path::new(file),
            "the store password",
        )?),
        (None, None) => None,
    };
    let Some(password) = password else {
        return Ok(url);
    };
    let mut parsed = reqwest::Url::parse(&url)
        .map_err(|e| Error::Config(format!("store URL {} is not valid: {e}", redact_url(&url))))?;
    if parsed.password().is_none() && parsed.set_password(Some(password.expose())).is_err() {
        return Err(Error::Config(format!(
            "store URL {} cannot carry a password",
            redact_url(&url)
        )));
    }
    Ok(parsed.to_string())
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("<redacted>"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(store: &Store, conn: &str) {
        assert_eq!(store.load_checkpoint(conn).await.unwrap(), None);
        let cp = Checkpoint {
            queue_id: Some("q1".into()),
            last_event_id: 41,
            last_message_id: Some(1000),
        };
        store.save_checkpoint(conn, &cp).await.unwrap();
        assert_eq!(store.load_checkpoint(conn).await.unwrap(), Some(cp));
        let cp2 = Checkpoint {
            queue_id: None,
            last_event_id: -1,
            last_message_id: None,
        };
        store.save_checkpoint(conn, &cp2).await.unwrap();
        assert_eq!(store.load_checkpoint(conn).await.unwrap(), Some(cp2));
        let gap = Gap {
            old_queue_id: Some("q1".into()),
            new_queue_id: "q2".into(),
            last_event_id: 41,
            last_message_id: Some(1000),
        };
        store.record_gap(conn, &gap).await.unwrap();
        assert_eq!(store.gaps(conn).await.unwrap(), vec![gap]);
    }

    #[tokio::test]
    async fn sqlite_file_roundtrip_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub.db");
        let url = format!("sqlite://{}", path.display());
        let store = Store::open(&url).await.unwrap();
        roundtrip(&store, "bot@example.com@https://chat").await;
        store.close().await;
        // Reopening runs the migrations again as a no-op and keeps the data.
        let store = Store::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(
            store
                .gaps("bot@example.com@https://chat")
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn uncreatable_sqlite_file_is_a_clear_error() {
        let e = Store::open("sqlite:///nonexistent-dir/zlc.db")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot open sqlite:///nonexistent-dir/zlc.db"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn postgres_roundtrip() {
        let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
            eprintln!("skipping postgres_roundtrip: ZLC_TEST_POSTGRES_URL is not set");
            return;
        };
        let store = Store::open(&url).await.unwrap();
        assert!(store.is_postgres());
        // A fresh connection name per run, so reruns against one database stay independent.
        let conn = format!("test-{}-{}", std::process::id(), now_secs());
        roundtrip(&store, &conn).await;
    }

    #[test]
    fn the_store_url_and_its_password_come_at_run_time() {
        use crate::pipeline::StoreDesc;
        let env = |k: &str| match k {
            "DATABASE_URL" => Some("postgres://app@db.internal/zlc".to_owned()),
            "ZLC_DB_PASSWORD" => Some("s3cret/@:x".to_owned()),
            _ => None,
        };
        let none = StoreDesc::default();
        assert_eq!(
            resolve_url("bench", &none, None, env).unwrap(),
            "sqlite://bench.db"
        );
        assert_eq!(
            resolve_url("bench", &none, Some("sqlite://x.db"), env).unwrap(),
            "sqlite://x.db"
        );
        let from_env = StoreDesc {
            url_env: Some("DATABASE_URL"),
            ..Default::default()
        };
        assert_eq!(
            resolve_url("p", &from_env, None, env).unwrap(),
            "postgres://app@db.internal/zlc"
        );
        let with_password = StoreDesc {
            url: Some("postgres://app@db.internal/zlc"),
            password_env: Some("ZLC_DB_PASSWORD"),
            ..Default::default()
        };
        let url = resolve_url("p", &with_password, None, env).unwrap();
        assert_eq!(url, "postgres://app:s3cret%2F%40%3Ax@db.internal/zlc");
        let missing = StoreDesc {
            password_env: Some("NOPE"),
            url: Some("postgres://app@h/db"),
            ..Default::default()
        };
        let e = resolve_url("p", &missing, None, env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("$NOPE") && e.contains("not set"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let path: &'static str = Box::leak(file.display().to_string().into_boxed_str());
        let from_file = StoreDesc {
            url: Some("postgres://app@h/db"),
            password_file: Some(path),
            ..Default::default()
        };
        assert_eq!(
            resolve_url("p", &from_file, None, env).unwrap(),
            "postgres://app:from-file@h/db"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:%3Credacted%3E@h/db"
        );
        assert_eq!(redact_url("sqlite://zlc.db"), "sqlite://zlc.db");
    }
}
