//! The pool of either backend, its migrations, and opening, pinging and closing it; the
//! tables' own queries live in the modules beside this one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
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
        migrations!("sqlite": 1 "0001_checkpoints", 2 "0002_listeners", 3 "0003_limits", 4 "0004_handlers", 5 "0005_claims", 6 "0006_live_config", 7 "0007_leases", 8 "0008_change", 9 "0009_replies", 10 "0010_conversations", 11 "0011_rate_buckets"),
    );
    m.set_ignore_missing(true);
    m
}

fn postgres_migrations() -> Migrator {
    let mut m = Migrator::with_migrations(
        migrations!("postgres": 1 "0001_checkpoints", 2 "0002_listeners", 3 "0003_limits", 4 "0004_handlers", 5 "0005_claims", 6 "0006_live_config", 7 "0007_leases", 8 "0008_change", 9 "0009_replies", 10 "0010_conversations", 11 "0011_rate_buckets"),
    );
    m.set_ignore_missing(true);
    m
}

/// The leases this process holds (kept by [`super::leases`]): connection → (owner, generation).
#[derive(Debug, Clone, Default)]
pub(super) struct Fences(Arc<Mutex<HashMap<String, (String, i64)>>>);

impl Fences {
    pub(super) fn get(&self, connection: &str) -> Option<(String, i64)> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(connection)
            .cloned()
    }

    pub(super) fn set(&self, connection: &str, fence: Option<(String, i64)>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match fence {
            Some(f) => map.insert(connection.to_owned(), f),
            None => map.remove(connection),
        };
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection pool to the zlc database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) pool: Pool,
    url: String,
    /// The leases this process holds, by connection: their checkpoint writes are
    /// fenced (see [`super::leases`]).
    pub(super) fences: Fences,
}

// Runs one query text on whichever pool this is; the binds are the same for both (the
// caller imports `Pool`).
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

// Runs one statement with its binds (after the `;`, which keeps rustfmt from putting
// each on a line of its own) on `$conn` (a transaction or a connection, inside
// `on_pool!`), returning the rows it affected.
macro_rules! execute {
    ($conn:expr, $sql:expr; $($bind:expr),* $(,)?) => {
        sqlx::query($sql)
            $(.bind($bind))*
            .execute(&mut *$conn)
            .await?
            .rows_affected()
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
            fences: Fences::default(),
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
            fences: Fences::default(),
        })
    }

    /// Another handle on the same database that holds no leases (as another process's
    /// would be).
    pub fn detached(&self) -> Store {
        Store {
            pool: self.pool.clone(),
            url: self.url.clone(),
            fences: Fences::default(),
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

/// The file a SQLite store URL names (`sqlite://x.db`, `sqlite:x.db?mode=rwc`, a bare
/// path), as the store reads it; `None` for PostgreSQL and in-memory stores.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if in_memory || url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let url = if url.starts_with("sqlite:") {
        url.to_owned()
    } else {
        format!("sqlite://{url}")
    };
    let opts = SqliteConnectOptions::from_str(&url).ok()?;
    let file = opts.get_filename();
    (!file.as_os_str().is_empty()).then(|| file.to_path_buf())
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
