//! `zlc_rate_buckets`: the listeners' rate limits as token buckets in the store, so
//! that the processes of a fleet keep one limit together. Taking a token is one
//! statement (refill by the time passed, take one if there is one), atomic under the
//! row's lock: exact, at a round trip per limit per post.

use sqlx::Row;

use super::db::{Pool, Store};
use crate::error::Result;

/// A token bucket: at most `max` tokens, one more every `per_token_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSpec {
    /// Its size.
    pub max: f64,
    /// Milliseconds per token gained.
    pub per_token_ms: f64,
}

impl Store {
    /// Takes a token from `bucket` of `listener` at `now_ms`: `true` when there was one.
    pub async fn take_token(
        &self,
        (pipeline, listener, bucket): (&str, &str, &str),
        spec: BucketSpec,
        now_ms: i64,
    ) -> Result<bool> {
        // The bucket as now: refilled since it was last touched (a clock behind
        // another process's gains nothing), at most full.
        const PG: &str = "INSERT INTO zlc_rate_buckets AS b (pipeline, listener, bucket, tokens, at_ms) \
             VALUES ($1, $2, $3, $4 - 1, $5) ON CONFLICT (pipeline, listener, bucket) DO UPDATE \
             SET tokens = LEAST($4, b.tokens + GREATEST(0, $5 - b.at_ms) / $6) - 1, at_ms = GREATEST(b.at_ms, $5) \
             WHERE LEAST($4, b.tokens + GREATEST(0, $5 - b.at_ms) / $6) >= 1 RETURNING tokens";
        const SQLITE: &str = "INSERT INTO zlc_rate_buckets AS b (pipeline, listener, bucket, tokens, at_ms) \
             VALUES ($1, $2, $3, $4 - 1, $5) ON CONFLICT (pipeline, listener, bucket) DO UPDATE \
             SET tokens = MIN($4, b.tokens + MAX(0, $5 - b.at_ms) / $6) - 1, at_ms = MAX(b.at_ms, $5) \
             WHERE MIN($4, b.tokens + MAX(0, $5 - b.at_ms) / $6) >= 1 RETURNING tokens";
        let sql = if self.is_postgres() { PG } else { SQLITE };
        let rows: Vec<f64> = fetch_rows!(
            self,
            sql,
            [
                pipeline,
                listener,
                bucket,
                spec.max,
                now_ms,
                spec.per_token_ms
            ],
            |r| r.try_get(0)?
        );
        Ok(!rows.is_empty())
    }

    /// Gives a token taken back to `bucket` (the other limit refused the post).
    pub async fn give_back_token(
        &self,
        (pipeline, listener, bucket): (&str, &str, &str),
        spec: BucketSpec,
    ) -> Result<()> {
        const PG: &str = "UPDATE zlc_rate_buckets SET tokens = LEAST($4, tokens + 1) \
             WHERE pipeline = $1 AND listener = $2 AND bucket = $3";
        const SQLITE: &str = "UPDATE zlc_rate_buckets SET tokens = MIN($4, tokens + 1) \
             WHERE pipeline = $1 AND listener = $2 AND bucket = $3";
        let sql = if self.is_postgres() { PG } else { SQLITE };
        on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(pipeline)
                .bind(listener)
                .bind(bucket)
                .bind(spec.max)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: BucketSpec = BucketSpec {
        max: 5.0,
        per_token_ms: 12_000.0,
    };

    /// Three stores (three processes' pools) taking tokens of one bucket at once take
    /// `max` in all, and the bucket refills with time.
    async fn one_bucket_for_all(stores: [Store; 3], pipeline: &str) {
        let key = (pipeline, "answer", "1:c:c5/flood");
        let t0 = 1_800_000_000_000;
        // At once, from tasks of their own.
        let mut tasks = tokio::task::JoinSet::new();
        for s in &stores {
            for _ in 0..4 {
                let (s, pipeline) = (s.clone(), pipeline.to_owned());
                tasks.spawn(async move {
                    s.take_token((&pipeline, "answer", "1:c:c5/flood"), SPEC, t0)
                        .await
                });
            }
        }
        let mut taken = 0;
        while let Some(ok) = tasks.join_next().await {
            taken += usize::from(ok.unwrap().unwrap());
        }
        assert_eq!(taken, 5, "12 tries against a bucket of 5");
        assert!(!stores[0].take_token(key, SPEC, t0 + 11_000).await.unwrap());
        assert!(
            stores[1].take_token(key, SPEC, t0 + 12_000).await.unwrap(),
            "one more after 12 s"
        );
        stores[2].give_back_token(key, SPEC).await.unwrap();
        assert!(
            stores[0].take_token(key, SPEC, t0 + 12_000).await.unwrap(),
            "given back"
        );
        // A process whose clock is behind gains nothing, and takes nothing it has not.
        assert!(!stores[0].take_token(key, SPEC, t0).await.unwrap());
    }

    #[tokio::test]
    async fn a_bucket_is_shared_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("b.db").display());
        let open = || Store::open(&url);
        one_bucket_for_all(
            [
                open().await.unwrap(),
                open().await.unwrap(),
                open().await.unwrap(),
            ],
            "p",
        )
        .await;
    }

    #[tokio::test]
    async fn a_bucket_is_shared_postgres() {
        let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
            eprintln!("skipping a_bucket_is_shared_postgres: ZLC_TEST_POSTGRES_URL is not set");
            return;
        };
        let open = || Store::open(&url);
        let stores = [
            open().await.unwrap(),
            open().await.unwrap(),
            open().await.unwrap(),
        ];
        let pipeline = format!(
            "buckets-{}-{}",
            std::process::id(),
            crate::clock::now_secs()
        );
        one_bucket_for_all(stores, &pipeline).await;
    }
}
