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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr};

use crate::error::{Error, Result};

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
    Migrator::with_migrations(migrations!("sqlite": 1 "0001_checkpoints"))
}

fn postgres_migrations() -> Migrator {
    Migrator::with_migrations(migrations!("postgres": 1 "0001_checkpoints"))
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
        let rows = on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(connection)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| {
                    Ok::<_, sqlx::Error>(Gap {
                        old_queue_id: r.try_get(0)?,
                        new_queue_id: r.try_get(1)?,
                        last_event_id: r.try_get(2)?,
                        last_message_id: r.try_get(3)?,
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// Closes the pool, waiting for queries in flight.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:%3Credacted%3E@h/db"
        );
        assert_eq!(redact_url("sqlite://zlc.db"), "sqlite://zlc.db");
    }
}
