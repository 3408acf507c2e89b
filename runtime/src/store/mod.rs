//! The SQL store: SQLite by default, PostgreSQL when the URL says so.
//!
//! One [`Store`] wraps a pool of either kind; queries are written once in the SQL both
//! understand (`$1` placeholders, `ON CONFLICT … DO UPDATE`) and always bind their
//! parameters. Migrations are embedded in the binary, one set per backend (they differ
//! only in how ids are generated), and run when the store opens.
//!
//! Nothing on the per-event path waits on the store: sources persist a checkpoint per
//! acknowledged *batch*.
//!
//! | module | tables |
//! | --- | --- |
//! | [`checkpoints`] | `zlc_checkpoints`, `zlc_gaps`: where each connection's queue stands |
//! | [`stats`] | `zlc_listener_stats`, `zlc_counts`, `zlc_named_counts`: statistics, written in batches |
//! | [`log`] | `zlc_event_log`: failures, dead letters, stored events |
//! | [`listeners`] | `zlc_listeners`, `zlc_listener_config`, `zlc_listener_settings`: what runs, and its dynamic config |
//! | [`state`] | `zlc_state`: handlers' key-value state |
//! | [`effects`] | `zlc_effects`, `zlc_owners`: side effects claimed, and the processes that claim them |
//! | [`leases`] | `zlc_leases`: which process polls each connection, and the fence its checkpoint writes check |

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Error, Result};

/// The default store: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://zlc.db";

macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        vec![$(Migration::new(
            $version,
            Cow::Borrowed($name),
            MigrationType::Simple,
            include_str!(concat!("../../migrations/", $dir, "/", $name, ".sql")).into_sql_str(),
            false,
        )),*]
    };
}

// Migrations are additive (new tables, new columns with defaults), so that a process of
// an older build keeps working on a store a newer one migrated: a rolling upgrade, a
// rollback, or a `--watch` handover across zlc versions. Such a process ignores the
// migrations it does not know.
fn sqlite_migrations() -> Migrator {
    let mut m = Migrator::with_migrations(
        migrations!("sqlite": 1 "0001_checkpoints", 2 "0002_listeners", 3 "0003_limits", 4 "0004_handlers", 5 "0005_claims", 6 "0006_live_config", 7 "0007_leases", 8 "0008_change"),
    );
    m.set_ignore_missing(true);
    m
}

fn postgres_migrations() -> Migrator {
    let mut m = Migrator::with_migrations(
        migrations!("postgres": 1 "0001_checkpoints", 2 "0002_listeners", 3 "0003_limits", 4 "0004_handlers", 5 "0005_claims", 6 "0006_live_config", 7 "0007_leases", 8 "0008_change"),
    );
    m.set_ignore_missing(true);
    m
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
    /// The leases this process holds, by connection: their checkpoint writes are
    /// fenced (see [`leases`]).
    fences: leases::Fences,
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

pub mod checkpoints;
pub mod effects;
pub mod leases;
pub mod listeners;
pub mod log;
pub mod rows;
pub mod state;
pub mod stats;

pub use checkpoints::{Checkpoint, ConnectionState, Gap, GapReason};
pub use listeners::ListenerRow;
pub use log::{DeadLetter, LogEntry};
pub use stats::{CountRow, HourRow, ListenerTotals, NamedCount};

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
                .busy_timeout(Duration::from_secs(10))
                // Writes never checkpoint the WAL themselves (a checkpoint syncs the
                // file: a reply's claim behind one waited 10 ms); `checkpointer` does,
                // beside them.
                .pragma("wal_autocheckpoint", "0");
            // One connection: SQLite writes one transaction at a time anyway, and two
            // connections of one process contending for the lock wait in SQLite's busy
            // handler, which sleeps 1, 2, 5, 10 ms… (a claim behind a statistics write
            // took 10 ms); on one connection they queue and run back to back.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
                .map_err(|e| Error::Store(format!("cannot open {redacted}: {e}")))?;
            sqlite_migrations().run(&pool).await?;
            tokio::spawn(checkpointer(opts, pool.clone()));
            Pool::Sqlite(pool)
        };
        Ok(Store {
            pool,
            url: redacted,
            fences: leases::Fences::default(),
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
            fences: leases::Fences::default(),
        })
    }

    /// Another handle on the same database that holds no leases (as another process's
    /// would be).
    pub fn detached(&self) -> Store {
        Store {
            pool: self.pool.clone(),
            url: self.url.clone(),
            fences: leases::Fences::default(),
        }
    }

    /// The URL, with any password removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Closes the pool, waiting for queries in flight.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// Moves a SQLite store's write-ahead log into the database every 10 s when something
/// was written, from a connection of its own, until `pool` closes. A PASSIVE checkpoint
/// neither blocks writers nor waits for them, so no write ever waits on it (the log
/// stays as small as 10 s of writes); at the end the log is emptied (TRUNCATE).
async fn checkpointer(opts: SqliteConnectOptions, pool: SqlitePool) {
    use sqlx::{Connection as _, Row as _};
    const EVERY: Duration = Duration::from_secs(10);
    const TICK: Duration = Duration::from_millis(500);
    let mut conn: Option<sqlx::SqliteConnection> = None;
    let mut last = tokio::time::Instant::now();
    // `data_version` moves when another connection commits: nothing to do otherwise.
    let mut seen_version: Option<i64> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let closing = pool.is_closed();
        if !closing && last.elapsed() < EVERY {
            continue;
        }
        last = tokio::time::Instant::now();
        if conn.is_none() {
            conn = sqlx::SqliteConnection::connect_with(&opts).await.ok();
        }
        let Some(c) = conn.as_mut() else {
            if closing {
                return;
            }
            continue;
        };
        let version = sqlx::query("PRAGMA data_version")
            .fetch_one(&mut *c)
            .await
            .and_then(|r| r.try_get::<i64, _>(0))
            .ok();
        if !closing && version.is_some() && version == seen_version {
            continue;
        }
        let sql = if closing {
            "PRAGMA wal_checkpoint(TRUNCATE)"
        } else {
            "PRAGMA wal_checkpoint(PASSIVE)"
        };
        match sqlx::query(sql).execute(&mut *c).await {
            Ok(_) => seen_version = version,
            Err(e) => {
                tracing::debug!(error = %e, sql, "WAL checkpoint failed; trying again");
                conn = None;
            }
        }
        if closing {
            if let Some(c) = conn.take() {
                let _ = c.close().await;
            }
            return;
        }
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
    use crate::clock::now_secs;

    async fn roundtrip(store: &Store, conn: &str) {
        assert_eq!(store.load_checkpoint(conn).await.unwrap(), None);
        let cp = Checkpoint {
            queue_id: Some("q1".into()),
            last_event_id: 41,
            last_message_id: Some(1000),
            registered_for: Some(r#"{"event_types":["message"]}"#.into()),
        };
        store.save_checkpoint(conn, &cp).await.unwrap();
        assert_eq!(store.load_checkpoint(conn).await.unwrap(), Some(cp));
        let cp2 = Checkpoint {
            queue_id: None,
            last_event_id: -1,
            last_message_id: None,
            registered_for: None,
        };
        store.save_checkpoint(conn, &cp2).await.unwrap();
        assert_eq!(
            store.load_checkpoint(conn).await.unwrap(),
            Some(cp2.clone())
        );
        // An older zlc (which knows nothing of registrations) moves the queue: what was
        // recorded described the old queue, so the new one's is unknown.
        const OLD_SAVE: &str = "INSERT INTO zlc_checkpoints (connection, queue_id, last_event_id, last_message_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connection) DO UPDATE SET queue_id = excluded.queue_id, \
             last_event_id = excluded.last_event_id, last_message_id = excluded.last_message_id, updated_at = excluded.updated_at";
        on_pool!(store, |pool| {
            sqlx::query(OLD_SAVE)
                .bind(conn)
                .bind("q-older")
                .bind(3_i64)
                .bind(Some(1001_i64))
                .bind(now_secs())
                .execute(pool)
                .await
                .unwrap();
        });
        let moved = store.load_checkpoint(conn).await.unwrap().unwrap();
        assert_eq!(moved.queue_id.as_deref(), Some("q-older"));
        assert_eq!(moved.registered_for, None, "it describes another queue");
        store.save_checkpoint(conn, &cp2).await.unwrap();
        assert_eq!(store.load_checkpoint(conn).await.unwrap(), Some(cp2));
        let gap = Gap {
            old_queue_id: Some("q1".into()),
            new_queue_id: "q2".into(),
            last_event_id: 41,
            last_message_id: Some(1000),
            reason: GapReason::Changed,
        };
        store.record_gap(conn, &gap).await.unwrap();
        assert_eq!(store.gaps(conn).await.unwrap(), vec![gap]);
    }

    #[tokio::test]
    async fn a_store_migrated_by_a_newer_zlc_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("newer.db").display());
        let store = Store::open(&url).await.unwrap();
        // What a newer zlc leaves behind: a migration this one does not know.
        on_pool!(store, |pool| {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (9999, 'from a newer zlc', TRUE, X'00', 0)",
            )
            .execute(pool)
            .await
            .unwrap();
        });
        store.close().await;
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.load_checkpoint("none").await.unwrap(), None);
        store.close().await;
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
