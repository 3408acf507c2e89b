//! Which message answered which: for listeners that follow edits or deletions, the row
//! of each message a listener posted (in `zlc_effects`) also names the message it
//! answered (`trigger_id`) and the answer (`reply_id`). An edit of the trigger updates
//! the answer in place; a deletion of the trigger deletes it.

use sqlx::Row;

use super::db::{Pool, Store};
use crate::clock::now_secs;
use crate::error::Result;

/// One answer a listener posted to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The side effect that posted it (`REALM:mTRIGGER:ACTION[.POST]`).
    pub effect: String,
    /// The answer's message id.
    pub reply_id: i64,
}

impl Store {
    /// Remembers that `effect` of `listener` answered message `trigger` with message
    /// `reply` (the effect is done).
    pub async fn set_reply(
        &self,
        pipeline: &str,
        listener: &str,
        effect: &str,
        trigger: i64,
        reply: i64,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO zlc_effects \
             (pipeline, listener, effect, done_at, state, owner, claimed_at, trigger_id, reply_id) \
             VALUES ($1, $2, $3, $4, 'done', '', $4, $5, $6) \
             ON CONFLICT (pipeline, listener, effect) \
             DO UPDATE SET trigger_id = excluded.trigger_id, reply_id = excluded.reply_id";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .bind(now_secs())
                .bind(trigger)
                .bind(reply)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The answer `effect` of `listener` posted, if it posted one that still stands.
    pub async fn reply_of(
        &self,
        pipeline: &str,
        listener: &str,
        effect: &str,
    ) -> Result<Option<i64>> {
        const SQL: &str = "SELECT reply_id FROM zlc_effects \
             WHERE pipeline = $1 AND listener = $2 AND effect = $3 AND reply_id IS NOT NULL";
        let rows: Vec<i64> =
            fetch_rows!(self, SQL, [pipeline, listener, effect], |r| r.try_get(0)?);
        Ok(rows.first().copied())
    }

    /// The answers `listener` posted to message `trigger` of realm `realm` that still
    /// stand.
    pub async fn replies_to(
        &self,
        pipeline: &str,
        listener: &str,
        realm: u32,
        trigger: i64,
    ) -> Result<Vec<Reply>> {
        const SQL: &str = "SELECT effect, reply_id FROM zlc_effects \
             WHERE pipeline = $1 AND trigger_id = $2 AND listener = $3 AND effect LIKE $4 \
             AND reply_id IS NOT NULL ORDER BY effect";
        let prefix = format!("{realm}:m{trigger}:%");
        Ok(fetch_rows!(
            self,
            SQL,
            [pipeline, trigger, listener, &prefix],
            |r| Reply {
                effect: r.try_get(0)?,
                reply_id: r.try_get(1)?,
            }
        ))
    }

    /// Forgets the answer of `effect` (it was deleted).
    pub async fn forget_reply(&self, pipeline: &str, listener: &str, effect: &str) -> Result<()> {
        const SQL: &str = "UPDATE zlc_effects SET reply_id = NULL \
             WHERE pipeline = $1 AND listener = $2 AND effect = $3";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(pipeline)
                .bind(listener)
                .bind(effect)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_is_found_by_its_effect_and_by_its_trigger_until_forgotten() {
        let store = Store::memory().await.unwrap();
        store.set_reply("p", "l", "1:m10:0", 10, 500).await.unwrap();
        store
            .set_reply("p", "l", "1:m10:2.1", 10, 501)
            .await
            .unwrap();
        store.set_reply("p", "l", "2:m10:0", 10, 600).await.unwrap();
        store
            .set_reply("p", "other", "1:m10:0", 10, 700)
            .await
            .unwrap();
        assert_eq!(
            store.reply_of("p", "l", "1:m10:0").await.unwrap(),
            Some(500)
        );
        let to: Vec<i64> = store
            .replies_to("p", "l", 1, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.reply_id)
            .collect();
        assert_eq!(to, [500, 501]);
        store.forget_reply("p", "l", "1:m10:0").await.unwrap();
        assert_eq!(store.reply_of("p", "l", "1:m10:0").await.unwrap(), None);
        assert_eq!(store.replies_to("p", "l", 1, 10).await.unwrap().len(), 1);
        // Posting it again (an edit that matches once more) brings it back.
        store.set_reply("p", "l", "1:m10:0", 10, 502).await.unwrap();
        assert_eq!(
            store.reply_of("p", "l", "1:m10:0").await.unwrap(),
            Some(502)
        );
    }

    #[tokio::test]
    async fn an_answer_may_be_recorded_where_a_claim_was_done() {
        let store = Store::memory().await.unwrap();
        let claim = store.claim_effect("p", "l", "1:m3:0", "me").await.unwrap();
        assert_eq!(claim, crate::store::effects::Claim::Ours);
        store.effect_done("p", "l", "1:m3:0", "me").await.unwrap();
        store.set_reply("p", "l", "1:m3:0", 3, 9).await.unwrap();
        assert!(store.is_effect_done("p", "l", "1:m3:0").await.unwrap());
        assert_eq!(store.reply_of("p", "l", "1:m3:0").await.unwrap(), Some(9));
    }
}
