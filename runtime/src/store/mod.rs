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

#[macro_use]
mod db;
pub mod buckets;
pub mod checkpoints;
pub mod conversations;
pub mod effects;
pub mod leases;
pub mod listeners;
pub mod log;
pub mod replies;
pub mod rows;
pub mod state;
pub mod stats;

pub use checkpoints::{Checkpoint, ConnectionState, Gap, GapReason};
pub use db::{DEFAULT_URL, Store, redact_url, resolve_url, sqlite_file};
pub use effects::Claim;
pub use listeners::ListenerRow;
pub use log::{DeadLetter, LogEntry};
pub use stats::{CountRow, HourRow, ListenerTotals, NamedCount};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_secs;
    use db::Pool;

    #[test]
    fn a_sqlite_url_names_its_file_as_the_store_reads_it() {
        let file = |u| sqlite_file(u).map(|p| p.display().to_string());
        assert_eq!(file("sqlite://data/a.db").as_deref(), Some("data/a.db"));
        assert_eq!(file("sqlite:x.db?mode=rwc").as_deref(), Some("x.db"));
        assert_eq!(file("zlc.db").as_deref(), Some("zlc.db"));
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("postgres://u@h/db"), None);
    }

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
