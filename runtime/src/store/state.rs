//! `zlc_state`: handlers' persistent key-value state, per listener.

use sqlx::Row;

use super::db::{Pool, Store};
use crate::clock::now_secs;
use crate::error::Result;

impl Store {
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
}
