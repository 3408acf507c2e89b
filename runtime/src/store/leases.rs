//! `zlc_leases`: which process polls each realm connection.
//!
//! Any number of processes of one pipeline may share a store; each connection is polled
//! by one of them at a time, the holder of its lease. A lease has an owner (see
//! [`super::effects::this_process`]), an expiry the holder pushes forward while it lives,
//! and a generation raised at every change of hands. Taking a lease is a
//! compare-and-swap on (owner, generation): of several processes racing for a free
//! lease, one wins.
//!
//! **Fencing.** While this process holds a lease, the [`Store`] remembers its generation
//! and every checkpoint write of that connection first updates the lease row where owner
//! and generation are still ours, in the same transaction. A process that lost its lease
//! (it stalled past the expiry and another took over) gets [`Error::LeaseLost`] and
//! writes nothing; in PostgreSQL the row lock orders the write and the takeover, so the
//! checkpoint only ever moves under the current holder.
//!
//! Expiry is compared with the clock of the process that reads it: hosts sharing a
//! store need clocks within a few seconds of each other (NTP), well under the lease's
//! time to live.

use sqlx::Row;

use super::db::{Pool, Store};
use super::effects::gone_from_this_host;
use crate::clock::now_secs;
use crate::error::{Error, Result};

/// Touches the lease row where owner and generation are still ours: `$1` connection,
/// `$2` owner, `$3` generation. No row means the lease is lost.
pub(super) const FENCE: &str = "UPDATE zlc_leases SET generation = generation \
     WHERE connection = $1 AND owner = $2 AND generation = $3";

// Runs the fence of `$connection` (if this process holds its lease) in transaction
// `$tx`; returns `Error::LeaseLost` from the enclosing function when it is lost (the
// transaction, dropped, rolls back).
macro_rules! check_fence {
    ($self:expr, $tx:expr, $connection:expr) => {
        if let Some((owner, generation)) = $self.fences_get($connection) {
            let touched = sqlx::query(super::leases::FENCE)
                .bind($connection)
                .bind(&owner)
                .bind(generation)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
            if touched == 0 {
                return Err(crate::error::Error::LeaseLost {
                    connection: $connection.to_owned(),
                });
            }
        }
    };
}
pub(super) use check_fence;

// The leases a query selects (`connection, owner, generation, expires_at, build`, one
// bind).
macro_rules! lease_rows {
    ($self:expr, $sql:expr, $bind:expr) => {
        fetch_rows!($self, $sql, [$bind], |r| LeaseRow {
            connection: r.try_get(0)?,
            owner: r.try_get(1)?,
            generation: r.try_get(2)?,
            expires_at: r.try_get(3)?,
            build: r.try_get(4)?,
        })
    };
}

/// A lease as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The connection key (`PIPELINE/realm-ID`).
    pub connection: String,
    /// The process holding it.
    pub owner: String,
    /// Raised at every change of hands.
    pub generation: i64,
    /// When it lapses unless renewed (Unix seconds).
    pub expires_at: i64,
    /// The build its holder runs (empty: written by an older zlc).
    pub build: String,
}

impl LeaseRow {
    /// Whether another process may take it now: it lapsed (or was released), or its
    /// holder was a process of this host that no longer runs.
    pub fn is_free(&self, now: i64) -> bool {
        self.expires_at <= now || gone_from_this_host(&self.owner)
    }
}

impl Store {
    pub(super) fn fences_get(&self, connection: &str) -> Option<(String, i64)> {
        self.fences.get(connection)
    }

    /// The lease of `connection`, if it was ever taken.
    pub async fn lease(&self, connection: &str) -> Result<Option<LeaseRow>> {
        const SQL: &str = "SELECT connection, owner, generation, expires_at, build FROM zlc_leases WHERE connection = $1";
        Ok(lease_rows!(self, SQL, connection).into_iter().next())
    }

    /// The leases of `pipeline`'s connections.
    pub async fn leases_of(&self, pipeline: &str) -> Result<Vec<LeaseRow>> {
        const SQL: &str = "SELECT connection, owner, generation, expires_at, build FROM zlc_leases \
             WHERE pipeline = $1 ORDER BY connection";
        Ok(lease_rows!(self, SQL, pipeline))
    }

    /// Tries to take the lease of `connection` for `owner` (running `build`), for `ttl`
    /// seconds: it is taken when nobody ever held it or when it is free
    /// ([`LeaseRow::is_free`]). Returns the new generation, or the current holder's row
    /// when it is not free. On success this store's checkpoint writes of `connection`
    /// are fenced with it.
    pub async fn try_acquire_lease(
        &self,
        pipeline: &str,
        connection: &str,
        owner: &str,
        build: &str,
        ttl: i64,
    ) -> Result<std::result::Result<i64, LeaseRow>> {
        const INSERT: &str = "INSERT INTO zlc_leases (connection, pipeline, owner, generation, expires_at, acquired_at, build) \
             VALUES ($1, $2, $3, 1, $4, $5, $6) ON CONFLICT (connection) DO NOTHING";
        const TAKE: &str = "UPDATE zlc_leases SET owner = $1, generation = generation + 1, expires_at = $2, acquired_at = $3, build = $7 \
             WHERE connection = $4 AND owner = $5 AND generation = $6";
        let now = now_secs();
        let generation = match self.lease(connection).await? {
            None => {
                let inserted = on_pool!(self, |pool| {
                    sqlx::query(INSERT)
                        .bind(connection)
                        .bind(pipeline)
                        .bind(owner)
                        .bind(now + ttl)
                        .bind(now)
                        .bind(build)
                        .execute(pool)
                        .await?
                        .rows_affected()
                });
                if inserted == 0 {
                    // Another process inserted it meanwhile.
                    return self.holder(connection).await.map(Err);
                }
                1
            }
            Some(row) if row.is_free(now) || row.owner == owner => {
                let taken = on_pool!(self, |pool| {
                    sqlx::query(TAKE)
                        .bind(owner)
                        .bind(now + ttl)
                        .bind(now)
                        .bind(connection)
                        .bind(&row.owner)
                        .bind(row.generation)
                        .bind(build)
                        .execute(pool)
                        .await?
                        .rows_affected()
                });
                if taken == 0 {
                    return self.holder(connection).await.map(Err);
                }
                row.generation + 1
            }
            Some(row) => return Ok(Err(row)),
        };
        self.fences
            .set(connection, Some((owner.to_owned(), generation)));
        Ok(Ok(generation))
    }

    async fn holder(&self, connection: &str) -> Result<LeaseRow> {
        self.lease(connection).await?.ok_or_else(|| {
            Error::Store(format!(
                "the lease of {connection} vanished while taking it"
            ))
        })
    }

    /// Pushes the expiry of a lease this process holds `ttl` seconds ahead. `false`:
    /// it is not ours any more (its fence stays, so that nothing more is written).
    pub async fn renew_lease(
        &self,
        connection: &str,
        owner: &str,
        generation: i64,
        ttl: i64,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE zlc_leases SET expires_at = $1 \
             WHERE connection = $2 AND owner = $3 AND generation = $4";
        let renewed = on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(now_secs() + ttl)
                .bind(connection)
                .bind(owner)
                .bind(generation)
                .execute(pool)
                .await?
                .rows_affected()
        });
        // A lost lease keeps its fence: every later write of the connection fails.
        Ok(renewed > 0)
    }

    /// Gives a lease up (it may be taken at once); its fence is dropped.
    pub async fn release_lease(
        &self,
        connection: &str,
        owner: &str,
        generation: i64,
    ) -> Result<()> {
        const SQL: &str = "UPDATE zlc_leases SET expires_at = 0 \
             WHERE connection = $1 AND owner = $2 AND generation = $3";
        self.fences.set(connection, None);
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(connection)
                .bind(owner)
                .bind(generation)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Checkpoint;

    async fn leases(store: &Store, pipeline: &str) {
        let conn = format!("{pipeline}/realm-1");
        let (a, b) = ("host-a:1:x", "host-b:2:y");
        // Five processes race for a new lease: one wins, the others see it.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..5 {
            let (store, pipeline, conn) = (store.clone(), pipeline.to_owned(), conn.clone());
            tasks.spawn(async move {
                store
                    .try_acquire_lease(&pipeline, &conn, &format!("racer:{i}:z"), "b", 30)
                    .await
                    .unwrap()
            });
        }
        let results = tasks.join_all().await;
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        let holder = store.lease(&conn).await.unwrap().unwrap();
        store
            .release_lease(&conn, &holder.owner, holder.generation)
            .await
            .unwrap();

        // Released: a takes it (a new generation), b cannot while a renews.
        let ga = store
            .try_acquire_lease(pipeline, &conn, a, "b", 30)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ga, holder.generation + 1);
        let held = store
            .try_acquire_lease(pipeline, &conn, b, "b", 30)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(held.owner, a);
        assert!(store.renew_lease(&conn, a, ga, 30).await.unwrap());
        let cp = Checkpoint {
            queue_id: Some("q1".into()),
            last_event_id: 5,
            last_message_id: None,
            registered_for: None,
        };
        store.save_checkpoint(&conn, &cp).await.unwrap();

        // a stalls; its lease lapses and b (another store handle: another process)
        // takes over. a's next checkpoint write is refused, and so is its renewal.
        let b_store = store.detached();
        expire(store, &conn).await;
        let gb = b_store
            .try_acquire_lease(pipeline, &conn, b, "b", 30)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(gb, ga + 1);
        let late = Checkpoint {
            last_event_id: 9,
            ..cp.clone()
        };
        let refused = store.save_checkpoint(&conn, &late).await.unwrap_err();
        assert!(matches!(refused, Error::LeaseLost { .. }), "{refused}");
        let drained = crate::store::rows::Drained::default();
        let refused = store
            .commit(pipeline, &[], &drained, &[], Some(&conn), Some(&late))
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::LeaseLost { .. }), "{refused}");
        assert_eq!(store.load_checkpoint(&conn).await.unwrap(), Some(cp));
        assert!(!store.renew_lease(&conn, a, ga, 30).await.unwrap());
        // Statistics alone (the checkpoint unmoved) are refused too, after the failed
        // renewal as before it.
        let seen = crate::store::rows::Drained {
            rows: vec![crate::store::rows::StatsRow {
                listener: 0,
                hour: 1,
                counters: crate::store::rows::Figures {
                    seen: 1,
                    ..Default::default()
                },
            }],
            ..Default::default()
        };
        let refused = store
            .commit(pipeline, &["l"], &seen, &[], Some(&conn), None)
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::LeaseLost { .. }), "{refused}");
        // The new holder writes.
        b_store.save_checkpoint(&conn, &late).await.unwrap();
        assert_eq!(store.load_checkpoint(&conn).await.unwrap(), Some(late));
        assert_eq!(store.leases_of(pipeline).await.unwrap().len(), 1);
    }

    async fn expire(store: &Store, conn: &str) {
        on_pool!(store, |pool| {
            sqlx::query("UPDATE zlc_leases SET expires_at = 1 WHERE connection = $1")
                .bind(conn)
                .execute(pool)
                .await
                .unwrap();
        });
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_fenced_writes_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("l.db").to_str().unwrap())
            .await
            .unwrap();
        leases(&store, "leases").await;
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_fenced_writes_postgres() {
        let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
            eprintln!("skipped: ZLC_TEST_POSTGRES_URL is not set");
            return;
        };
        let store = Store::open(&url).await.unwrap();
        let pipeline = format!("leases_{:08x}", fastrand::u32(..));
        leases(&store, &pipeline).await;
    }
}
