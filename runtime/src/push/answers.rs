//! Answers in the HTTP response: while Zulip waits for a push's response, the first
//! message a listener posts to the pushed message's own conversation goes in it
//! (`{"content": ...}`) instead of through the API. The request's handler waits here
//! for it; the connection closes the wait when the message's jobs have all ended.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::client::Destination;

/// The pushes waiting for an answer, by realm and message id.
#[derive(Debug, Default)]
pub struct Answers {
    waiting: Mutex<HashMap<(u32, i64), Waiting>>,
}

/// One push waiting: its conversation, and where the answer goes.
#[derive(Debug)]
struct Waiting {
    at: Conversation,
    tx: oneshot::Sender<String>,
}

/// Where a pushed message was sent, in terms that do not depend on who answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    /// A channel (by name) and topic.
    Channel { channel: String, topic: String },
    /// A direct message among these users (the bot included).
    Direct { user_ids: Vec<i64> },
}

impl Conversation {
    /// The conversation of a message object (`GET /messages`' shape), if it says.
    pub fn of(message: &serde_json::Value) -> Option<Conversation> {
        match &message["display_recipient"] {
            serde_json::Value::String(channel) => Some(Conversation::Channel {
                channel: channel.clone(),
                topic: message["subject"]
                    .as_str()
                    .or(message["topic"].as_str())?
                    .to_owned(),
            }),
            serde_json::Value::Array(people) => {
                let mut user_ids: Vec<i64> =
                    people.iter().filter_map(|u| u["id"].as_i64()).collect();
                user_ids.sort_unstable();
                user_ids.dedup();
                Some(Conversation::Direct { user_ids })
            }
            _ => None,
        }
    }

    /// Whether a post to `dest` answers in this conversation (a direct message to
    /// everyone in it but one: the bot that answers).
    fn is(&self, dest: &Destination) -> bool {
        match (self, dest) {
            (
                Conversation::Channel { channel, topic },
                Destination::Channel {
                    channel: c,
                    topic: t,
                },
            ) => channel == c && topic == t,
            (Conversation::Direct { user_ids }, Destination::Direct { user_ids: to }) => {
                let (mut to, mut ids) = (to.clone(), user_ids.clone());
                to.sort_unstable();
                to.dedup();
                ids.retain(|id| !to.contains(id));
                ids.len() == 1 && to.iter().all(|id| user_ids.contains(id))
            }
            _ => false,
        }
    }
}

impl Answers {
    /// Waits for the answer to message `id` of `realm`, posted to `at`. `None` when a
    /// request for this message already waits (Zulip sent it again meanwhile).
    pub fn wait(&self, realm: u32, id: i64, at: Conversation) -> Option<oneshot::Receiver<String>> {
        let mut waiting = lock(&self.waiting);
        if waiting.get(&(realm, id)).is_some_and(|w| !w.tx.is_closed()) {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        waiting.insert((realm, id), Waiting { at, tx });
        Some(rx)
    }

    /// Gives `content`, posted to `dest` in answer to message `id`, to the request
    /// waiting for it: `true` when it went into the response (it must not be posted).
    pub fn give(&self, realm: u32, id: i64, dest: &Destination, content: &str) -> bool {
        let mut waiting = lock(&self.waiting);
        let Some(w) = waiting.remove(&(realm, id)) else {
            return false;
        };
        if !w.at.is(dest) {
            waiting.insert((realm, id), w);
            return false;
        }
        w.tx.send(content.to_owned()).is_ok()
    }

    /// Message `id` will get no answer to put in the response (its jobs ended, or its
    /// request gave up): the request answers `response_not_required`.
    pub fn close(&self, realm: u32, id: i64) {
        lock(&self.waiting).remove(&(realm, id));
    }

    /// Whether no request waits.
    pub fn is_empty(&self) -> bool {
        lock(&self.waiting).is_empty()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn channel(c: &str, t: &str) -> Destination {
        Destination::Channel {
            channel: c.into(),
            topic: t.into(),
        }
    }

    #[test]
    fn the_first_answer_to_the_same_conversation_goes_in_the_response() {
        let answers = Answers::default();
        let at = Conversation::of(&json!({"display_recipient": "ops", "subject": "db"})).unwrap();
        let mut rx = answers.wait(1, 10, at.clone()).unwrap();
        assert!(answers.wait(1, 10, at).is_none(), "a second request for it");
        assert!(!answers.give(1, 10, &channel("ops", "other"), "elsewhere"));
        assert!(!answers.give(2, 10, &channel("ops", "db"), "other realm"));
        assert!(answers.give(1, 10, &channel("ops", "db"), "hi"));
        assert_eq!(rx.try_recv().unwrap(), "hi");
        assert!(!answers.give(1, 10, &channel("ops", "db"), "second"));
        assert!(answers.is_empty());
    }

    #[test]
    fn a_direct_message_is_answered_to_everyone_but_the_bot() {
        let answers = Answers::default();
        let msg = json!({"display_recipient": [{"id": 5}, {"id": 9}, {"id": 7}]});
        let at = Conversation::of(&msg).unwrap();
        let _rx = answers.wait(1, 3, at).unwrap();
        assert!(!answers.give(1, 3, &Destination::Direct { user_ids: vec![5] }, "x"));
        assert!(answers.give(
            1,
            3,
            &Destination::Direct {
                user_ids: vec![7, 5]
            },
            "x"
        ));
    }

    #[test]
    fn a_closed_wait_answers_nothing() {
        let answers = Answers::default();
        let at = Conversation::of(&json!({"display_recipient": "ops", "topic": "t"})).unwrap();
        let mut rx = answers.wait(1, 10, at.clone()).unwrap();
        answers.close(1, 10);
        assert!(rx.try_recv().is_err());
        assert!(!answers.give(1, 10, &channel("ops", "t"), "late"));
        drop(rx);
        assert!(
            answers.wait(1, 10, at).is_some(),
            "a new request may wait again"
        );
    }
}
