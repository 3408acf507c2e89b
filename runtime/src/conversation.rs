//! Conversations: state kept per conversation — a channel's topic, or the people of a
//! direct message — for listeners that step through one (`in_state`, `next_state`,
//! `remember` in a pipeline file) and for Rust handlers (`cx.conversation()`).
//!
//! Each connection keeps its realm's conversations in memory (loaded when it starts)
//! and writes every change through to the store, in order, from a task of its own: a
//! realm is polled by one process of a fleet at a time, so the one that polls it is the
//! one that changes them, and the next one to poll it starts from the store. A
//! conversation silent for longer than the pipeline's `conversation_timeout` is over.
//! A topic renamed or moved takes its conversation along.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::clock::now_secs;

/// One conversation's state and remembered values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// Where it stands (`None`: no state, only remembered values).
    pub state: Option<String>,
    /// What was remembered in it, by name.
    pub data: BTreeMap<String, String>,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
}

/// The conversations of one realm connection; a clone is a handle to the same ones.
#[derive(Debug, Clone)]
pub struct Conversations(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    map: Mutex<HashMap<String, Conversation>>,
    timeout: i64,
    writes: Option<UnboundedSender<(String, Option<Conversation>)>>,
    /// Changes made while an event is dispatched, applied once every listener saw it
    /// ([`Conversations::settle`]): listeners of one event all see the conversation as
    /// it was before it.
    deferred: Mutex<Vec<(String, Step)>>,
}

/// What a listener's step does to its conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Values remembered.
    pub remember: Vec<(String, String)>,
    /// The state it moves to (`Some(None)`: the conversation is over).
    pub next: Option<Option<String>>,
}

impl Step {
    /// `c` after this step.
    pub fn apply(&self, c: &mut Conversation) {
        for (k, v) in &self.remember {
            c.data.insert(k.clone(), v.clone());
        }
        match &self.next {
            Some(None) => {
                c.state = None;
                c.data.clear();
            }
            Some(Some(s)) => c.state = Some(s.clone()),
            None => {}
        }
    }
}

impl Default for Conversations {
    fn default() -> Self {
        Conversations::in_memory(3600)
    }
}

impl PartialEq for Conversations {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Conversations {}

impl Conversations {
    /// Conversations kept in memory only (a replay, tests), over after `timeout`
    /// seconds of silence.
    pub fn in_memory(timeout: i64) -> Self {
        Conversations(Arc::new(Inner {
            map: Mutex::new(HashMap::new()),
            timeout,
            writes: None,
            deferred: Mutex::new(Vec::new()),
        }))
    }

    /// Conversations `entries`, over after `timeout` seconds of silence, each change
    /// sent to `writes` in order (the store's writer, [`crate::store::conversations`]).
    pub fn new(
        entries: HashMap<String, Conversation>,
        timeout: i64,
        writes: UnboundedSender<(String, Option<Conversation>)>,
    ) -> Self {
        Conversations(Arc::new(Inner {
            map: Mutex::new(entries),
            timeout,
            writes: Some(writes),
            deferred: Mutex::new(Vec::new()),
        }))
    }

    /// Conversation `key` now (`None`: none, or over).
    pub fn get(&self, key: &str) -> Option<Conversation> {
        let map = self.0.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|c| now_secs() - c.updated_at <= self.0.timeout)
            .cloned()
    }

    /// Replaces conversation `key` (`None`: it is over).
    pub fn put(&self, key: &str, c: Option<Conversation>) {
        let mut map = self.0.map.lock().unwrap_or_else(|e| e.into_inner());
        match &c {
            Some(c) => map.insert(key.to_owned(), c.clone()),
            None => map.remove(key),
        };
        if let Some(tx) = &self.0.writes {
            let _ = tx.send((key.to_owned(), c));
        }
    }

    /// Changes conversation `key` with `f` (starting from an empty one), stamped now.
    pub fn update(&self, key: &str, f: impl FnOnce(&mut Conversation)) {
        let mut c = self.get(key).unwrap_or_default();
        f(&mut c);
        c.updated_at = now_secs();
        let over = c.state.is_none() && c.data.is_empty();
        self.put(key, (!over).then_some(c));
    }

    /// Applies `step` to conversation `key` once the event being dispatched is done.
    pub fn defer(&self, key: String, step: Step) {
        self.0
            .deferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((key, step));
    }

    /// Applies the deferred steps, in order.
    pub fn settle(&self) {
        let steps = std::mem::take(&mut *self.0.deferred.lock().unwrap_or_else(|e| e.into_inner()));
        for (key, step) in steps {
            self.update(&key, |c| step.apply(c));
        }
    }

    /// A topic was renamed or moved: its conversation goes along.
    pub fn moved(&self, from: &str, to: &str) {
        if from == to {
            return;
        }
        if let Some(c) = self.get(from) {
            self.put(from, None);
            self.put(to, Some(c));
        }
    }
}

/// One conversation, as a Rust handler keeps state in it ([`crate::codegen::Context`]'s
/// `conversation()`).
#[derive(Debug)]
pub struct Handle<'a> {
    all: &'a Conversations,
    key: String,
}

impl<'a> Handle<'a> {
    pub(crate) fn new(all: &'a Conversations, key: String) -> Self {
        Handle { all, key }
    }

    /// Its key (`c<channel id>/<topic>` or `d<user ids>`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Its state, if it has one.
    pub fn state(&self) -> Option<String> {
        self.all.get(&self.key)?.state
    }

    /// Moves it to state `state`.
    pub fn set_state(&self, state: &str) {
        self.all
            .update(&self.key, |c| c.state = Some(state.to_owned()));
    }

    /// The value remembered under `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.all.get(&self.key)?.data.get(name).cloned()
    }

    /// Remembers `value` under `name`.
    pub fn set(&self, name: &str, value: impl Into<String>) {
        let value = value.into();
        self.all.update(&self.key, |c| {
            c.data.insert(name.to_owned(), value);
        });
    }

    /// Forgets the value under `name`.
    pub fn delete(&self, name: &str) {
        self.all.update(&self.key, |c| {
            c.data.remove(name);
        });
    }

    /// Ends it: no state, nothing remembered.
    pub fn end(&self) {
        self.all.put(&self.key, None);
    }
}

/// The key of a channel's topic (topics compared without case, as Zulip does).
pub fn channel_key(channel_id: i64, topic: &str) -> String {
    format!("c{channel_id}/{}", topic.to_lowercase())
}

/// The key of a direct message's people.
pub fn direct_key(mut ids: Vec<i64>) -> String {
    ids.sort_unstable();
    ids.dedup();
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("d{}", ids.join(","))
}

/// The conversation of a message (a `message` event's `message`).
pub fn key_of(m: &Value) -> Option<String> {
    match m["stream_id"].as_i64() {
        Some(c) => Some(channel_key(c, m["subject"].as_str().unwrap_or(""))),
        None => {
            let people = m["display_recipient"].as_array()?;
            Some(direct_key(
                people.iter().filter_map(|p| p["id"].as_i64()).collect(),
            ))
        }
    }
}

/// A topic renamed or moved by an `update_message` event (the whole topic, or from a
/// message on): the conversation it was and the one it is.
pub fn move_of(e: &Value) -> Option<(String, String)> {
    let mode = e["propagate_mode"].as_str()?;
    if mode == "change_one" {
        return None;
    }
    let from_channel = e["stream_id"].as_i64()?;
    let from_topic = e["orig_subject"].as_str().or(e["orig_topic"].as_str())?;
    let to_channel = e["new_stream_id"].as_i64().unwrap_or(from_channel);
    let to_topic = e["subject"]
        .as_str()
        .or(e["topic"].as_str())
        .unwrap_or(from_topic);
    Some((
        channel_key(from_channel, from_topic),
        channel_key(to_channel, to_topic),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_is_kept_changed_ended_and_follows_its_topic() {
        let c = Conversations::in_memory(3600);
        let k = channel_key(5, "Triage");
        assert_eq!(k, channel_key(5, "triage"));
        c.update(&k, |c| {
            c.state = Some("severity".into());
            c.data.insert("who".into(), "Iago".into());
        });
        assert_eq!(c.get(&k).unwrap().state.as_deref(), Some("severity"));
        let event: Value = serde_json::from_str(
            r#"{"type":"update_message","stream_id":5,"orig_subject":"triage","subject":"db down","propagate_mode":"change_all","message_id":1}"#,
        )
        .unwrap();
        let (from, to) = move_of(&event).unwrap();
        c.moved(&from, &to);
        assert!(c.get(&k).is_none());
        assert_eq!(
            c.get(&channel_key(5, "DB down")).unwrap().data["who"],
            "Iago"
        );
        let one =
            r#"{"stream_id":5,"orig_subject":"a","subject":"b","propagate_mode":"change_one"}"#;
        assert!(move_of(&serde_json::from_str(one).unwrap()).is_none());
        c.update(&to, |c| {
            c.state = None;
            c.data.clear();
        });
        assert!(c.get(&to).is_none(), "an empty conversation is over");
        assert_eq!(direct_key(vec![9, 3, 9]), "d3,9");
    }

    #[test]
    fn a_silent_conversation_is_over() {
        let c = Conversations::in_memory(60);
        c.put(
            "k",
            Some(Conversation {
                state: Some("x".into()),
                data: BTreeMap::new(),
                updated_at: now_secs() - 61,
            }),
        );
        assert!(c.get("k").is_none());
    }
}
