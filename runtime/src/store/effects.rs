//! `zlc_effects` and `zlc_owners`: side effects claimed before they are performed, so
//! that an event delivered twice (in one batch, in two processes, or after a crash) is
//! answered once; and the processes that may hold claims.
//!
//! A claim is an insert-if-absent. Its owner performs the effect and marks it done at
//! once (a crash between the two can repeat the effect; one before the insert loses
//! nothing, as the event comes again). A failed effect releases its claim so that a
//! later delivery may try again. A claim whose owner stopped beating its heart (for
//! [`OWNER_STALE_SECS`]) is taken over: its owner died between claim and done.

use sqlx::Row;

use super::db::{Pool, Store};
use crate::clock::now_secs;
use crate::error::Result;

/// Seconds without a heartbeat after which an owner's claims may be taken over.
pub const OWNER_STALE_SECS: i64 = 20;

/// This process as an owner of claims: host, process id and a random part (a restarted
/// process with the same id is another owner).
pub fn this_process() -> &'static str {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "host".into());
        format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
    })
}

/// Whether `owner` is (or was) a process of this host.
pub(crate) fn on_this_host(owner: &str) -> bool {
    fn host(owner: &str) -> Option<&str> {
        owner.rsplitn(3, ':').nth(2).filter(|h| !h.is_empty())
    }
    host(owner).is_some_and(|h| Some(h) == host(this_process()))
}

/// Whether `owner` was a process of this host that no longer runs (Linux: no
/// `/proc/PID`). Its heartbeat may still look fresh; its claims need not wait for it to
/// go stale. A pid taken by another process since makes this `false` (the heartbeat
/// decides then).
pub(crate) fn gone_from_this_host(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(_random), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let this = this_process();
    let this_host = this.rsplitn(3, ':').nth(2).unwrap_or("");
    host == this_host
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new("/proc").join(pid).exists()
}

/// A running process of a pipeline, as its heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOwner {
    /// The process (`host:pid:random`).
    pub owner: String,
    /// The build it runs.
    pub build: String,
    /// Its build's place in the order the store first saw the builds (0: not known).
    pub build_rank: i64,
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The effect is ours to perform.
    Ours,
    /// It was done already.
    Done,
    /// Another live owner (or another job of ours) is performing it.
    Busy,
}

/// Marks a claim done: `$1` pipeline, `$2` listener, `$3` effect, `$4` owner, `$5` now.
const EFFECT_DONE: &str = "UPDATE zlc_effects SET state = 'done', done_at = $5 \
     WHERE pipeline = $1 AND listener = $2 AND effect = $3 AND owner = $4";

impl Store {
    /// Claims `effect` for `owner`.
    pub async fn claim_effect(
        &self,
        pipeline: &str,
        listener: &str,
        effect: &str,
        owner: &str,
    ) -> Result<Claim> {
        const INSERT: &str = "INSERT INTO zlc_effects (pipeline, listener, effect, done_at, state, owner, claimed_at) \
             VALUES ($1, $2, $3, 0, 'claimed', $4, $5) ON CONFLICT (pipeline, listener, effect) DO NOTHING";
        const SELECT: &str = "SELECT e.state, e.owner, COALESCE(o.last_seen, 0) FROM zlc_effects e \
             LEFT JOIN zlc_owners o ON o.owner = e.owner \
             WHERE e.pipeline = $1 AND e.listener = $2 AND e.effect = $3";
        const TAKE: &str = "UPDATE zlc_effects SET owner = $4, claimed_at = $5 \
             WHERE pipeline = $1 AND listener = $2 AND effect = $3 AND state = 'claimed' AND owner = $6";
        let now = now_secs();
        on_pool!(self, |pool| {
            let inserted = sqlx::query(INSERT)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .bind(owner)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            if inserted == 1 {
                return Ok(Claim::Ours);
            }
            let Some(row) = sqlx::query(SELECT)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .fetch_optional(pool)
                .await?
            else {
                // Released between the insert and the read: the next delivery decides.
                return Ok(Claim::Busy);
            };
            let (state, holder, last_seen): (String, String, i64) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if state == "done" {
                return Ok(Claim::Done);
            }
            let alive = now - last_seen < OWNER_STALE_SECS && !gone_from_this_host(&holder);
            if holder == owner || alive {
                return Ok(Claim::Busy);
            }
            let taken = sqlx::query(TAKE)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .bind(owner)
                .bind(now)
                .bind(&holder)
                .execute(pool)
                .await?
                .rows_affected();
            if taken == 1 {
                tracing::info!(
                    listener,
                    effect,
                    dead_owner = %holder,
                    "taking over a side effect whose owner died before finishing it"
                );
                Ok(Claim::Ours)
            } else {
                Ok(Claim::Busy)
            }
        })
    }

    /// Marks `owner`'s claimed `effect` done.
    pub async fn effect_done(
        &self,
        pipeline: &str,
        listener: &str,
        effect: &str,
        owner: &str,
    ) -> Result<()> {
        on_pool!(self, |pool| {
            sqlx::query(EFFECT_DONE)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .bind(owner)
                .bind(now_secs())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Marks `owner`'s claimed `effects` done, in one transaction.
    pub async fn effects_done(
        &self,
        pipeline: &str,
        listener: &str,
        effects: &[&str],
        owner: &str,
    ) -> Result<()> {
        let now = now_secs();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for effect in effects {
                sqlx::query(EFFECT_DONE)
                    .bind(pipeline)
                    .bind(listener)
                    .bind(*effect)
                    .bind(owner)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Gives up `owner`'s claim on `effect` (it failed, or was not performed for real),
    /// so that a later delivery may try.
    pub async fn release_effect(
        &self,
        pipeline: &str,
        listener: &str,
        effect: &str,
        owner: &str,
    ) -> Result<()> {
        const SQL: &str = "DELETE FROM zlc_effects \
             WHERE pipeline = $1 AND listener = $2 AND effect = $3 AND owner = $4 AND state = 'claimed'";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .bind(owner)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Whether `effect` was done.
    pub async fn is_effect_done(
        &self,
        pipeline: &str,
        listener: &str,
        effect: &str,
    ) -> Result<bool> {
        const SQL: &str = "SELECT 1 FROM zlc_effects \
             WHERE pipeline = $1 AND listener = $2 AND effect = $3 AND state = 'done'";
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

    /// Records that `owner` (a process of `pipeline`, running `build`) is alive.
    pub async fn owner_heartbeat(&self, owner: &str, pipeline: &str, build: &str) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_owners (owner, pipeline, started_at, last_seen, build) VALUES ($1, $2, $3, $3, $4) \
             ON CONFLICT (owner) DO UPDATE SET last_seen = excluded.last_seen, build = excluded.build";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(owner)
                .bind(pipeline)
                .bind(now_secs())
                .bind(build)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Notes `build` of `pipeline` (if the store has not seen it before) and returns its
    /// place in the order the store first saw its builds: a later build has a higher
    /// number (a build seen before keeps its number).
    pub async fn register_build(&self, pipeline: &str, build: &str) -> Result<i64> {
        const INSERT: &str = "INSERT INTO zlc_builds (pipeline, build, first_seen) VALUES ($1, $2, $3) \
             ON CONFLICT (pipeline, build) DO NOTHING";
        const SELECT: &str = "SELECT id FROM zlc_builds WHERE pipeline = $1 AND build = $2";
        let id = on_pool!(self, |pool| {
            sqlx::query(INSERT)
                .bind(pipeline)
                .bind(build)
                .bind(now_secs())
                .execute(pool)
                .await?;
            sqlx::query(SELECT)
                .bind(pipeline)
                .bind(build)
                .fetch_one(pool)
                .await?
                .try_get::<i64, _>(0)?
        });
        Ok(id)
    }

    /// Removes `owner` (it stops cleanly; its claims are all settled).
    pub async fn owner_gone(&self, owner: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM zlc_owners WHERE owner = $1";
        on_pool!(self, |pool| {
            sqlx::query(SQL).bind(owner).execute(pool).await?;
        });
        Ok(())
    }

    /// Owners of `pipeline` seen in the last `within` seconds, with their builds' places
    /// in the store's order of builds ([`Store::register_build`]; 0: not known).
    pub async fn live_owners(&self, pipeline: &str, within: i64) -> Result<Vec<LiveOwner>> {
        const SQL: &str = "SELECT o.owner, o.build, COALESCE(b.id, 0) FROM zlc_owners o \
             LEFT JOIN zlc_builds b ON b.pipeline = o.pipeline AND b.build = o.build \
             WHERE o.pipeline = $1 AND o.last_seen >= $2 ORDER BY o.owner";
        let rows = fetch_rows!(self, SQL, [pipeline, now_secs() - within], |r| LiveOwner {
            owner: r.try_get(0)?,
            build: r.try_get(1)?,
            build_rank: r.try_get(2)?,
        });
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn claims(store: &Store, pipeline: &str) {
        // Ten owners race for one effect: one wins.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..10 {
            let (store, pipeline) = (store.clone(), pipeline.to_owned());
            tasks.spawn(async move {
                store
                    .owner_heartbeat(&format!("other:{i}:x"), &pipeline, "b")
                    .await
                    .unwrap();
                store
                    .claim_effect(&pipeline, "l", "1:m5:0", &format!("other:{i}:x"))
                    .await
                    .unwrap()
            });
        }
        let results = tasks.join_all().await;
        assert_eq!(
            results.iter().filter(|c| **c == Claim::Ours).count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .all(|c| matches!(c, Claim::Ours | Claim::Busy))
        );
        let claim = async |effect: &str, owner: &str| {
            store
                .claim_effect(pipeline, "l", effect, owner)
                .await
                .unwrap()
        };
        // Done is done, for everyone.
        assert_eq!(claim("e2", "a:1:x").await, Claim::Ours);
        store
            .effect_done(pipeline, "l", "e2", "a:1:x")
            .await
            .unwrap();
        assert_eq!(claim("e2", "b:2:x").await, Claim::Done);
        assert!(store.is_effect_done(pipeline, "l", "e2").await.unwrap());

        // A released claim can be taken again.
        assert_eq!(claim("e3", "a:1:x").await, Claim::Ours);
        store
            .release_effect(pipeline, "l", "e3", "a:1:x")
            .await
            .unwrap();
        assert_eq!(claim("e3", "b:2:x").await, Claim::Ours);

        // A claim of an owner that never beat (or stopped) is taken over; one of a live
        // owner is not.
        store
            .owner_heartbeat("live:3:x", pipeline, "b")
            .await
            .unwrap();
        assert_eq!(claim("e4", "live:3:x").await, Claim::Ours);
        assert_eq!(claim("e4", "b:2:x").await, Claim::Busy);
        assert_eq!(claim("e5", "dead:4:x").await, Claim::Ours);
        assert_eq!(claim("e5", "b:2:x").await, Claim::Ours);
        store.owner_gone("live:3:x").await.unwrap();
        assert_eq!(claim("e4", "b:2:x").await, Claim::Ours);
    }

    async fn builds(store: &Store, pipeline: &str) {
        let a = store.register_build(pipeline, "aaaa").await.unwrap();
        let b = store.register_build(pipeline, "bbbb").await.unwrap();
        assert!(b > a, "a build seen later is newer: {a} {b}");
        assert_eq!(store.register_build(pipeline, "aaaa").await.unwrap(), a);
        // Owners are unique per process (a random part); here, per test run.
        let owner = |n: u32| format!("h:{n}:{pipeline}");
        for (n, build) in [(1, "aaaa"), (2, "bbbb"), (3, "cccc")] {
            store
                .owner_heartbeat(&owner(n), pipeline, build)
                .await
                .unwrap();
        }
        let live = store.live_owners(pipeline, 60).await.unwrap();
        let ranks: Vec<(String, i64)> = live
            .iter()
            .map(|o| (o.owner.clone(), o.build_rank))
            .collect();
        assert_eq!(ranks, [(owner(1), a), (owner(2), b), (owner(3), 0)]);
    }

    #[tokio::test]
    async fn builds_are_numbered_in_the_order_first_seen_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("b.db").display()))
            .await
            .unwrap();
        builds(&store, "p").await;
    }

    #[tokio::test]
    async fn builds_are_numbered_in_the_order_first_seen_postgres() {
        let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
            eprintln!(
                "skipping builds_are_numbered_in_the_order_first_seen_postgres: ZLC_TEST_POSTGRES_URL is not set"
            );
            return;
        };
        let store = Store::open(&url).await.unwrap();
        builds(
            &store,
            &format!("builds-{}-{}", std::process::id(), now_secs()),
        )
        .await;
    }

    #[tokio::test]
    async fn one_claim_wins_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("c.db").display()))
            .await
            .unwrap();
        claims(&store, "p").await;
    }

    #[tokio::test]
    async fn one_claim_wins_postgres() {
        let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
            eprintln!("skipping one_claim_wins_postgres: ZLC_TEST_POSTGRES_URL is not set");
            return;
        };
        let store = Store::open(&url).await.unwrap();
        claims(
            &store,
            &format!("claims-{}-{}", std::process::id(), now_secs()),
        )
        .await;
    }
}
