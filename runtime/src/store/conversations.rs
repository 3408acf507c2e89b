//! `zlc_conversations`: each conversation's state and remembered values, written
//! through by [`crate::conversation::Conversations`] and read back when a connection
//! starts.

use std::collections::HashMap;

use sqlx::Row;
use tokio::sync::mpsc::unbounded_channel;

use super::db::{Pool, Store};
use crate::clock::now_secs;
use crate::conversation::{Conversation, Conversations};
use crate::error::Result;

/// `realm`'s conversations of `pipeline` from `store` (those not over), each change
/// written back in order by a task of its own.
pub async fn load(
    store: &Store,
    pipeline: &'static str,
    realm: u32,
    timeout: i64,
) -> Result<Conversations> {
    let rows = store
        .conversations(pipeline, realm, now_secs() - timeout)
        .await?;
    let entries: HashMap<String, Conversation> = rows
        .into_iter()
        .map(|r| {
            let data = serde_json::from_str(&r.data).unwrap_or_default();
            let c = Conversation {
                state: r.state,
                data,
                updated_at: r.updated_at,
            };
            (r.conversation, c)
        })
        .collect();
    let (tx, mut rx) = unbounded_channel::<(String, Option<Conversation>)>();
    let store = store.clone();
    tokio::spawn(async move {
        while let Some((key, c)) = rx.recv().await {
            let written = match c {
                Some(c) => {
                    let data = serde_json::to_string(&c.data).unwrap_or_else(|_| "{}".into());
                    let row = ConversationRow {
                        conversation: key,
                        state: c.state,
                        data,
                        updated_at: c.updated_at,
                    };
                    store.put_conversation(pipeline, realm, &row).await
                }
                None => store.end_conversation(pipeline, realm, &key).await,
            };
            if let Err(e) = written {
                tracing::warn!(error = %e, "cannot write a conversation's state to the store");
            }
        }
    });
    Ok(Conversations::new(entries, timeout, tx))
}

/// One conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    /// Its key (`c<channel id>/<topic>` or `d<user ids>`).
    pub conversation: String,
    /// Its state, if it has one.
    pub state: Option<String>,
    /// Its remembered values, a JSON object.
    pub data: String,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
}

impl Store {
    /// The conversations of `realm` changed at or after `since`.
    pub async fn conversations(
        &self,
        pipeline: &str,
        realm: u32,
        since: i64,
    ) -> Result<Vec<ConversationRow>> {
        const SQL: &str = "SELECT conversation, state, data, updated_at FROM zlc_conversations \
             WHERE pipeline = $1 AND realm = $2 AND updated_at >= $3";
        Ok(fetch_rows!(
            self,
            SQL,
            [pipeline, i64::from(realm), since],
            |r| ConversationRow {
                conversation: r.try_get(0)?,
                state: r.try_get(1)?,
                data: r.try_get(2)?,
                updated_at: r.try_get(3)?,
            }
        ))
    }

    /// Writes `row` of `realm`.
    pub async fn put_conversation(
        &self,
        pipeline: &str,
        realm: u32,
        row: &ConversationRow,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_conversations (pipeline, realm, conversation, state, data, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pipeline, realm, conversation) \
             DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(i64::from(realm))
                .bind(&row.conversation)
                .bind(&row.state)
                .bind(&row.data)
                .bind(row.updated_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends conversation `key` of `realm` (its row goes).
    pub async fn end_conversation(&self, pipeline: &str, realm: u32, key: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM zlc_conversations WHERE pipeline = $1 AND realm = $2 AND conversation = $3";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(i64::from(realm))
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one connection changed, the next one (after a restart, or another process
    /// of the fleet) starts from: written through to the store, in order.
    #[tokio::test]
    async fn conversations_are_written_through_and_read_back() {
        let store = Store::memory().await.unwrap();
        let c = load(&store, "p", 1, 3600).await.unwrap();
        c.update("c5/triage", |c| c.state = Some("owner".into()));
        c.update("c5/triage", |c| {
            c.data.insert("severity".into(), "high".into());
        });
        c.update("c5/other", |c| c.state = Some("x".into()));
        c.put("c5/other", None);
        c.moved("c5/triage", "c5/db down");
        // The writer runs beside: wait for it.
        for _ in 0..100 {
            if store.conversations("p", 1, 0).await.unwrap().len() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let again = load(&store, "p", 1, 3600).await.unwrap();
        let c = again.get("c5/db down").unwrap();
        assert_eq!(
            (c.state.as_deref(), c.data["severity"].as_str()),
            (Some("owner"), "high")
        );
        assert!(again.get("c5/triage").is_none() && again.get("c5/other").is_none());
        assert!(
            load(&store, "p", 2, 3600)
                .await
                .unwrap()
                .get("c5/db down")
                .is_none()
        );
    }
}
