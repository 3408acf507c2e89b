//! Answers that follow their message: a listener with `on_edit = "update"` runs again
//! when a message it matched is edited, and updates the messages it posted in answer
//! (or deletes them, when the edited message no longer matches); one with
//! `on_delete = "delete"` deletes its answers when the message is deleted. The store
//! remembers which answer belongs to which message ([`crate::store::replies`]).

use serde_json::{Value, json};

use crate::jobs::dispatch::{Cx, Job};
use crate::jobs::executor::{Executor, Outcome, Step};
use crate::jobs::outbox::Slot;
use crate::pipeline::ListenerDesc;

impl Executor {
    /// Remembers `dispatch` (and the organization's `bots`) to run edited messages
    /// again with; the engine does, once.
    pub(crate) fn run_edits_with(
        &self,
        dispatch: crate::jobs::dispatch::DispatchFn,
        bots: std::sync::Arc<std::collections::HashSet<i64>>,
    ) {
        let _ = self.redispatch.set((dispatch, bots));
    }

    /// Listener `job.listener` follows an edit (`job.json`, an `update_message`) of
    /// message `job.message_id`: the message is read again, with the edit's text, and
    /// run through the listener's filters; if it matches, its actions run (messages
    /// posted before are updated); if not, its earlier answers are deleted.
    pub(super) async fn run_edit(&self, job: &Job, edit: &str) -> Result<Outcome, String> {
        let (i, l) = (job.listener, &self.pipeline().listeners[job.listener]);
        let Some(id) = job.message_id else {
            return Ok(Outcome::default());
        };
        let change: Value =
            serde_json::from_str(&job.json).map_err(|e| format!("event is not JSON: {e}"))?;
        let Some(mut message) = self.edited_message(l, i, job, id).await? else {
            // Deleted since, or a replay (no server to ask).
            return Ok(Outcome::default());
        };
        // Each edit runs on its own text, even when the message was edited again since.
        if let Some(content) = change.get("content").filter(|c| c.is_string()) {
            message["content"] = content.clone();
        }
        let flags = change
            .get("flags")
            .or_else(|| message.get("flags"))
            .cloned()
            .unwrap_or_else(|| json!([]));
        let event =
            json!({"type": "message", "id": job.event_id, "message": message, "flags": flags});
        match self.again(i, &event.to_string()) {
            Some(again) => self.run_actions(&again, &event, Some(edit)).await,
            None => {
                self.take_back(l, i, id).await?;
                Ok(Outcome::default())
            }
        }
    }

    /// Message `id` as edit `job` left it: read once for every listener that follows
    /// the edit (their jobs share its key).
    async fn edited_message(
        &self,
        l: &ListenerDesc,
        i: usize,
        job: &Job,
        id: i64,
    ) -> Result<Option<Value>, String> {
        let cached = self
            .edited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((_, message)) = cached.filter(|(key, _)| *key == job.key) {
            return Ok(Some(message));
        }
        let fetched = self
            .retrying(l, i, "read the edited message", || {
                self.effects.fetch_message(id)
            })
            .await?;
        if let Some(m) = &fetched {
            *self.edited.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((job.key.clone(), m.clone()));
        }
        Ok(fetched)
    }

    /// Listener `job.listener` follows the deletion of message `job.message_id`: its
    /// answers to it are deleted.
    pub(super) async fn run_delete(&self, job: &Job) -> Result<Outcome, String> {
        let (i, l) = (job.listener, &self.pipeline().listeners[job.listener]);
        if let Some(id) = job.message_id {
            self.take_back(l, i, id).await?;
        }
        Ok(Outcome::default())
    }

    /// Runs the message event `json` through listener `i`'s filters (and only its):
    /// the job it makes, if it matches.
    fn again(&self, i: usize, json: &str) -> Option<Job> {
        let (dispatch, bots) = self.redispatch.get()?;
        let raw = crate::event::RawEvent::new(json).ok()?;
        let p = self.pipeline();
        let mut enabled = vec![false; p.listeners.len()];
        enabled[i] = true;
        let now = crate::clock::now_secs();
        let mut stats = crate::stats::StatsBuf::new(p.listeners.len(), now.div_euclid(3600));
        let (mut jobs, mut log) = (Vec::new(), Vec::new());
        let mut cx = Cx {
            pipeline: p,
            enabled: &enabled,
            own_user_id: self.effects.own_user_id,
            bots,
            now,
            realm: &self.effects.realm,
            stats: &mut stats,
            jobs: &mut jobs,
            log_rows: &mut log,
            log_all: false,
            queue: None,
            edit: true,
        };
        dispatch(&mut cx, &raw);
        jobs.into_iter().find(|j| j.listener == i)
    }

    /// Deletes listener `l`'s answers to message `trigger`, each retried as an action.
    async fn take_back(&self, l: &ListenerDesc, i: usize, trigger: i64) -> Result<(), String> {
        let Some(store) = &self.effects.store else {
            return Ok(());
        };
        let realm = self.effects.realm.id;
        let replies = store
            .replies_to(self.pipeline().name, l.name, realm, trigger)
            .await
            .map_err(|e| e.to_string())?;
        for r in replies {
            self.retrying(l, i, "delete", || self.effects.delete(l.name, r.reply_id))
                .await?;
            store
                .forget_reply(self.pipeline().name, l.name, &r.effect)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Where message post `effect` of `step` goes: over its earlier answer when it
    /// follows an edit (and `posts` a message).
    pub(super) async fn slot(&self, step: &Step<'_>, effect: &str, posts: bool) -> Slot {
        let store = self.effects.store.as_ref();
        let replace = match (step.edit, store) {
            (Some(_), Some(store)) if posts && step.l.follows_its_message() => store
                .reply_of(self.pipeline().name, step.l.name, effect)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the earlier answer; posting a new one");
                    None
                }),
            _ => None,
        };
        Slot::over(replace).answering(step.job.message_id)
    }

    /// Remembers the message post `effect` of `step` became, when its listener's
    /// answers follow their message.
    pub(super) async fn remember(&self, step: &Step<'_>, effect: &str, slot: &Slot) {
        let (Some(store), Some(reply), Some(trigger)) =
            (&self.effects.store, slot.sent(), step.job.message_id)
        else {
            return;
        };
        if !step.l.follows_its_message() {
            return;
        }
        if let Err(e) = store
            .set_reply(self.pipeline().name, step.l.name, effect, trigger, reply)
            .await
        {
            tracing::warn!(listener = step.l.name, error = %e, "cannot remember which message answered which (an edit of it will post anew)");
        }
    }
}
