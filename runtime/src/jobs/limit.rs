//! Rate limits on what a listener posts to Zulip (replies, reactions, forwards, webhook
//! answers), per conversation and per sender, so that two bots answering each other, or
//! one person flooding a trigger word, cannot make a listener post without end.
//!
//! Each key has a token bucket of `max` tokens refilled at `max` per `per`: bursts up to
//! `max` pass, and a sustained stream is held to `max` per `per`. A send needs a token
//! from both its conversation's and its sender's bucket; one that is refused takes none.
//! Idle buckets (full again) are dropped now and then, so memory follows the number of
//! busy conversations, not of all conversations ever seen.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pipeline::{PolicyDesc, RateLimitDesc};

/// Which limit refused a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The conversation's.
    Conversation,
    /// The sender's.
    Sender,
}

/// A refusal, and whether it is the first since the key was last under its limit (so
/// that the caller logs once per episode, not once per event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Which limit.
    pub over: Over,
    /// The first refusal of this episode.
    pub first: bool,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    refused: bool,
}

#[derive(Debug)]
struct Buckets {
    max: f64,
    per_token: Duration,
    map: HashMap<u64, Bucket>,
    swept: Option<Instant>,
}

impl Buckets {
    fn new(spec: RateLimitDesc) -> Option<Self> {
        (spec.max > 0 && spec.per_ms > 0).then(|| Buckets {
            max: f64::from(spec.max),
            per_token: Duration::from_millis(spec.per_ms) / spec.max,
            map: HashMap::new(),
            swept: None,
        })
    }

    /// The bucket of `key`, refilled up to `now`.
    fn refill(&mut self, key: u64, now: Instant) -> &mut Bucket {
        let (max, per_token) = (self.max, self.per_token);
        let b = self.map.entry(key).or_insert(Bucket {
            tokens: max,
            at: now,
            refused: false,
        });
        let gained = now.saturating_duration_since(b.at).as_secs_f64() / per_token.as_secs_f64();
        b.tokens = (b.tokens + gained).min(max);
        b.at = now;
        b
    }

    fn sweep(&mut self, now: Instant) {
        let every = self.per_token.mul_f64(self.max).max(Duration::from_secs(1));
        if self
            .swept
            .is_some_and(|t| now.saturating_duration_since(t) < every)
        {
            return;
        }
        self.swept = Some(now);
        let (max, per_token) = (self.max, self.per_token);
        self.map.retain(|_, b| {
            let gained =
                now.saturating_duration_since(b.at).as_secs_f64() / per_token.as_secs_f64();
            b.tokens + gained < max
        });
    }
}

/// The limits of one listener.
#[derive(Debug)]
pub struct Limiter {
    conversation: Option<Buckets>,
    sender: Option<Buckets>,
}

impl Limiter {
    /// Limits as the listener's policy sets them (`max == 0`: none).
    pub fn new(policy: &PolicyDesc) -> Self {
        Limiter {
            conversation: Buckets::new(policy.limit_per_conversation),
            sender: Buckets::new(policy.limit_per_sender),
        }
    }

    /// Takes one send about `conversation` in answer to `sender` at `now`, or says which
    /// limit refuses it. Events outside any conversation (a user joining) are limited
    /// per sender only.
    pub fn take(
        &mut self,
        conversation: Option<u64>,
        sender: Option<i64>,
        now: Instant,
    ) -> Result<(), Refusal> {
        let check = |buckets: &mut Option<Buckets>, key: Option<u64>, over| {
            let (Some(b), Some(key)) = (buckets.as_mut(), key) else {
                return Ok(None);
            };
            b.sweep(now);
            let bucket = b.refill(key, now);
            if bucket.tokens >= 1.0 {
                bucket.refused = false;
                Ok(Some(key))
            } else {
                let first = !bucket.refused;
                bucket.refused = true;
                Err(Refusal { over, first })
            }
        };
        let c = check(&mut self.conversation, conversation, Over::Conversation)?;
        let s = check(&mut self.sender, sender.map(|s| s as u64), Over::Sender)?;
        // Both allow it: only now take the tokens.
        if let (Some(b), Some(k)) = (self.conversation.as_mut(), c) {
            b.refill(k, now).tokens -= 1.0;
        }
        if let (Some(b), Some(k)) = (self.sender.as_mut(), s) {
            b.refill(k, now).tokens -= 1.0;
        }
        Ok(())
    }

    /// Keys held (for tests: memory stays bounded).
    pub fn keys(&self) -> usize {
        self.conversation.as_ref().map_or(0, |b| b.map.len())
            + self.sender.as_ref().map_or(0, |b| b.map.len())
    }
}

/// The conversation of a message event, as a key: the channel and topic, or the set of
/// direct-message users. `None` for events without a message.
pub fn conversation_key(event: &Value) -> Option<u64> {
    let m = &event["message"];
    if !m.is_object() {
        return None;
    }
    let mut h = DefaultHasher::new();
    match &m["display_recipient"] {
        Value::Array(users) => {
            let mut ids: Vec<i64> = users.iter().filter_map(|u| u["id"].as_i64()).collect();
            ids.sort_unstable();
            ("dm", ids).hash(&mut h);
        }
        other => (
            "channel",
            m["stream_id"].as_i64(),
            other.as_str(),
            m["subject"].as_str().map(str::to_lowercase),
        )
            .hash(&mut h),
    }
    Some(h.finish())
}

/// Who caused an event: a message's sender, a reacting or typing user, a new member.
pub fn sender_of(event: &Value) -> Option<i64> {
    [
        &event["message"]["sender_id"],
        &event["user_id"],
        &event["person"]["user_id"],
        &event["sender"]["user_id"],
    ]
    .into_iter()
    .find_map(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(conv: u32, sender: u32) -> PolicyDesc {
        PolicyDesc {
            timeout_ms: 1,
            retries: 0,
            backoff_ms: 1,
            backoff_max_ms: 1,
            breaker_threshold: 0,
            breaker_cooldown_ms: 1,
            concurrency: 1,
            max_in_flight: 1000,
            ordered: true,
            limit_per_conversation: RateLimitDesc {
                max: conv,
                per_ms: 60_000,
            },
            limit_per_sender: RateLimitDesc {
                max: sender,
                per_ms: 60_000,
            },
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let mut l = Limiter::new(&policy(3, 100));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take(Some(1), Some(5), t0), Ok(()));
        }
        assert_eq!(
            l.take(Some(1), Some(5), t0),
            Err(Refusal {
                over: Over::Conversation,
                first: true
            })
        );
        assert!(
            !l.take(Some(1), Some(5), t0).unwrap_err().first,
            "logged once"
        );
        // Another conversation is not affected.
        assert_eq!(l.take(Some(2), Some(5), t0), Ok(()));
        // 20 s later one token (3 per minute) has come back.
        let t1 = t0 + Duration::from_secs(20);
        assert_eq!(l.take(Some(1), Some(5), t1), Ok(()));
        assert!(l.take(Some(1), Some(5), t1).is_err());
    }

    #[test]
    fn the_sender_limit_holds_across_conversations_and_refusals_take_nothing() {
        let mut l = Limiter::new(&policy(100, 2));
        let t0 = Instant::now();
        assert!(l.take(Some(1), Some(9), t0).is_ok());
        assert!(l.take(Some(2), Some(9), t0).is_ok());
        assert_eq!(l.take(Some(3), Some(9), t0).unwrap_err().over, Over::Sender);
        let mut l = Limiter::new(&policy(1, 100));
        assert!(l.take(Some(7), Some(1), t0).is_ok());
        assert!(l.take(Some(7), Some(2), t0).is_err());
        assert!(
            l.take(Some(8), Some(2), t0).is_ok(),
            "sender 2 kept its token"
        );
    }

    #[test]
    fn off_means_no_limit_and_idle_keys_are_dropped() {
        let mut l = Limiter::new(&policy(0, 0));
        let t0 = Instant::now();
        for i in 0..1000 {
            assert!(l.take(Some(1), Some(i), t0).is_ok());
        }
        assert_eq!(l.keys(), 0);
        let mut l = Limiter::new(&policy(5, 5));
        for i in 0..1000 {
            assert!(l.take(Some(i), Some(i as i64), t0).is_ok());
        }
        assert_eq!(l.keys(), 2000);
        // An hour later every bucket is full again; the next take sweeps them.
        let later = t0 + Duration::from_secs(3600);
        assert!(l.take(Some(5000), Some(5000), later).is_ok());
        assert_eq!(l.keys(), 2);
    }

    #[test]
    fn conversations_are_channel_and_topic_or_the_dm_group() {
        let ch = |topic: &str| serde_json::json!({"message": {"display_recipient": "devel", "stream_id": 3, "subject": topic, "sender_id": 1}});
        assert_eq!(conversation_key(&ch("CI")), conversation_key(&ch("ci")));
        assert_ne!(
            conversation_key(&ch("ci")),
            conversation_key(&ch("deploys"))
        );
        let dm = |ids: &[i64]| {
            let users: Vec<Value> = ids.iter().map(|i| serde_json::json!({"id": i})).collect();
            serde_json::json!({"message": {"display_recipient": users, "sender_id": ids[0]}})
        };
        assert_eq!(
            conversation_key(&dm(&[1, 2])),
            conversation_key(&dm(&[2, 1]))
        );
        assert_ne!(
            conversation_key(&dm(&[1, 2])),
            conversation_key(&dm(&[1, 3]))
        );
        assert_eq!(sender_of(&ch("x")), Some(1));
        let joined =
            serde_json::json!({"type": "realm_user", "op": "add", "person": {"user_id": 42}});
        assert_eq!(conversation_key(&joined), None, "limited per person only");
        assert_eq!(sender_of(&joined), Some(42));
    }
}
