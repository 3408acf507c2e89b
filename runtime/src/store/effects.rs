//! `zlc_effects`: side effects done, so that an event delivered again is not answered twice.

use super::{Pool, Store};
use crate::error::Result;
use crate::stats::now_secs;

impl Store {
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
}
