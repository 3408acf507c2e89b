//! A listener's step in a conversation, at dispatch: it runs only when the
//! conversation is in the state it requires (`in_state`), and when it matches it
//! remembers values and moves the conversation on (`remember`, `next_state`), applied
//! once every listener saw the event. Its jobs carry the conversation as it leaves it,
//! for templates that read `conversation.*` when they run.

use serde_json::Value;

use crate::conversation::{Conversation, Step, channel_key, direct_key};
use crate::event::{MessageView, MessageViewEvent, RawEvent};
use crate::jobs::dispatch::Cx;
use crate::pipeline::ListenerDesc;

/// The state that ends a conversation.
pub const END: &str = "end";

/// The key of a message's conversation.
pub fn key_of_view(m: &MessageView<'_>) -> String {
    match m.channel_id() {
        Some(c) => channel_key(c, m.topic()),
        None => direct_key(m.recipients().iter().map(|r| r.id).collect()),
    }
}

impl Cx<'_> {
    /// Whether `l` may run on `msg` as its conversation stands (a listener that
    /// requires a state runs on messages of conversations in that state only).
    pub(crate) fn in_step(&self, l: &ListenerDesc, msg: Option<&MessageViewEvent<'_>>) -> bool {
        let Some(want) = l.conversation.in_state else {
            return true;
        };
        let Some(m) = msg else { return false };
        let state = self
            .realm
            .conversations
            .get(&key_of_view(&m.message))
            .and_then(|c| c.state);
        state.as_deref() == Some(want)
    }

    /// `l` matched `ev`: its step is deferred to the event's end, and the job's event
    /// (returned, when its templates read the conversation) carries the conversation
    /// as the step leaves it.
    pub(crate) fn take_step(
        &self,
        l: &ListenerDesc,
        ev: &RawEvent<'_>,
        msg: Option<&MessageViewEvent<'_>>,
    ) -> Option<String> {
        let c = &l.conversation;
        let m = msg?;
        if !c.takes_part() {
            return None;
        }
        let key = key_of_view(&m.message);
        let event: Value = serde_json::from_str(ev.json).ok()?;
        let step = Step {
            remember: (c.remember.iter())
                .map(|(name, t)| {
                    let cx = self
                        .realm
                        .render_cx(&event, ev.json, l.name)
                        .with_commands(l.commands);
                    ((*name).to_owned(), crate::template::render(t, &cx, false))
                })
                .collect(),
            next: c.next_state.map(|s| (s != END).then(|| s.to_owned())),
        };
        // What its templates read: what it remembers, even when it ends the
        // conversation (its last answer is made of what was gathered).
        let mut after: Conversation = self.realm.conversations.get(&key).unwrap_or_default();
        let kept = Step {
            next: step.next.clone().filter(|n| n.is_some()),
            ..step.clone()
        };
        kept.apply(&mut after);
        if !self.edit {
            self.realm.conversations.defer(key, step);
        }
        if !c.reads {
            return None;
        }
        let mut event = event;
        event["zlc_conversation"] = serde_json::json!({"state": after.state, "values": after.data});
        Some(event.to_string())
    }
}
