//! `zlc_listeners`, `zlc_listener_config` and `zlc_listener_settings`: the listeners a
//! pipeline binary declared, and what can change without a rebuild.

use sqlx::Row;

use super::db::{Pool, Store};
use crate::clock::now_secs;
use crate::error::Result;

/// A listener as a binary declares it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerRow {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its event types, comma-separated.
    pub events: String,
    /// Its action types, comma-separated.
    pub actions: String,
}

/// Raises a pipeline's config version (`$1`).
const BUMP: &str = "INSERT INTO zlc_config_versions (pipeline, version) VALUES ($1, 1) \
     ON CONFLICT (pipeline) DO UPDATE SET version = zlc_config_versions.version + 1";

impl Store {
    /// Records the pipeline's listeners (name, description, events, actions).
    pub async fn register_listeners(
        &self,
        pipeline: &str,
        listeners: &[ListenerRow],
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_listeners (pipeline, name, description, events, actions, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (pipeline, name) DO UPDATE SET \
             description = excluded.description, events = excluded.events, actions = excluded.actions, last_seen = excluded.last_seen";
        let now = now_secs();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for l in listeners {
                sqlx::query(SQL)
                    .bind(pipeline)
                    .bind(&l.name)
                    .bind(&l.description)
                    .bind(&l.events)
                    .bind(&l.actions)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The pipelines this store has seen.
    pub async fn pipelines(&self) -> Result<Vec<String>> {
        const SQL: &str = "SELECT DISTINCT pipeline FROM zlc_listeners ORDER BY pipeline";
        let rows = fetch_rows!(self, SQL, [], |r| r.try_get(0)?);
        Ok(rows)
    }

    /// The listeners `pipeline`'s binaries declared, by name.
    pub async fn listeners_of(&self, pipeline: &str) -> Result<Vec<ListenerRow>> {
        const SQL: &str = "SELECT name, description, events, actions FROM zlc_listeners WHERE pipeline = $1 ORDER BY name";
        let rows = fetch_rows!(self, SQL, [pipeline], |r| ListenerRow {
            name: r.try_get(0)?,
            description: r.try_get(1)?,
            events: r.try_get(2)?,
            actions: r.try_get(3)?,
        });
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

    /// Enables or disables a listener without a rebuild; running processes see it
    /// within seconds (the pipeline's config version goes up).
    pub async fn set_listener_enabled(
        &self,
        pipeline: &str,
        listener: &str,
        enabled: bool,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_listener_config (pipeline, listener, enabled, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (pipeline, listener) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(enabled)
                .bind(now_secs())
                .execute(&mut *tx)
                .await?;
            sqlx::query(BUMP).bind(pipeline).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The pipeline's config version: it goes up with every change of enable/disable
    /// or config values (0 before the first).
    pub async fn config_version(&self, pipeline: &str) -> Result<i64> {
        const SQL: &str = "SELECT version FROM zlc_config_versions WHERE pipeline = $1";
        let rows: Vec<i64> = fetch_rows!(self, SQL, [pipeline], |r| r.try_get(0)?);
        Ok(rows.into_iter().next().unwrap_or(0))
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

    /// Sets (or, with `None`, removes) a listener's config value without a rebuild;
    /// running processes see it within seconds.
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
            let mut tx = pool.begin().await?;
            match value {
                Some(v) => {
                    sqlx::query(SET)
                        .bind(pipeline)
                        .bind(listener)
                        .bind(key)
                        .bind(v)
                        .bind(now_secs())
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    sqlx::query(UNSET)
                        .bind(pipeline)
                        .bind(listener)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            sqlx::query(BUMP).bind(pipeline).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
