//! The messages a listener posts, and what becomes of them when the message they
//! answer changes: posted ([`Effects::send`]), updated in place when the trigger is
//! edited, deleted with it; and the edited message read whole. Live, through the
//! client; in a replay, logged; under test, recorded.

use serde_json::Value;

use crate::client::Destination;
use crate::jobs::actions::{Done, Effects, Failure};
use crate::jobs::outbox::{Slot, ZulipSink};

impl Effects {
    /// Posts `content` to `dest`, or updates the slot's earlier answer with it. An
    /// answer that cannot be updated for good (deleted meanwhile, or past the
    /// organization's time limit for edits) is posted anew.
    pub(crate) async fn send(
        &self,
        listener: &str,
        dest: &Destination,
        content: &str,
        slot: &Slot,
    ) -> Result<Done, Failure> {
        if let Some(id) = slot.replace {
            match self.update(listener, id, content).await {
                Ok(done) => return Ok(done),
                Err(f) if f.retryable => return Err(f),
                Err(f) => tracing::warn!(listener, message_id = id, error = %f.message,
                    "cannot update the earlier answer; posting a new one"),
            }
        }
        if let (Some((realm, answers)), Some(trigger), None) =
            (&self.answers, slot.trigger, slot.replace)
            && answers.give(*realm, trigger, dest, content)
        {
            return Ok(Done::Really);
        }
        let id = match &self.zulip {
            ZulipSink::Live(client) => client
                .send_message(dest, content)
                .await
                .map_err(Failure::from)?,
            ZulipSink::DryRun => {
                tracing::info!(listener, to = %dest, content, "replay: would send");
                return Ok(Done::DryRun);
            }
            ZulipSink::Record(r) => r.message(listener, dest, content),
        };
        slot.posted(id);
        Ok(Done::Really)
    }

    /// Replaces the content of our message `id`.
    async fn update(&self, listener: &str, id: i64, content: &str) -> Result<Done, Failure> {
        match &self.zulip {
            ZulipSink::Live(client) => client
                .edit_message(id, content)
                .await
                .map(|()| Done::Really)
                .map_err(Failure::from),
            ZulipSink::DryRun => {
                tracing::info!(listener, message_id = id, content, "replay: would update");
                Ok(Done::DryRun)
            }
            ZulipSink::Record(r) => match r.edit(listener, id, content) {
                true => Ok(Done::Really),
                false => Err(Failure::permanent(format!("no message {id} to update"))),
            },
        }
    }

    /// Deletes our message `id` (one already gone counts as deleted).
    pub(crate) async fn delete(&self, listener: &str, id: i64) -> Result<Done, Failure> {
        match &self.zulip {
            ZulipSink::Live(client) => client
                .delete_message(id)
                .await
                .map(|_| Done::Really)
                .map_err(Failure::from),
            ZulipSink::DryRun => {
                tracing::info!(listener, message_id = id, "replay: would delete");
                Ok(Done::DryRun)
            }
            ZulipSink::Record(r) => {
                r.delete(listener, id);
                Ok(Done::Really)
            }
        }
    }

    /// Message `id` as events carry it, Markdown and all; `None` when it is gone (or in
    /// a replay, which has no server to ask).
    pub(crate) async fn fetch_message(&self, id: i64) -> Result<Option<Value>, Failure> {
        match &self.zulip {
            ZulipSink::Live(client) => match client.message(id).await {
                Ok(m) => Ok(Some(m)),
                Err(e) if crate::client::is_no_such_message(&e) => Ok(None),
                Err(e) => Err(Failure::from(e)),
            },
            ZulipSink::DryRun => Ok(None),
            ZulipSink::Record(r) => Ok(r.message_by_id(id)),
        }
    }
}
