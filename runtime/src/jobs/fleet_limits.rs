//! The rate limits on posts, kept by one process or by a fleet. With a PostgreSQL store
//! (which processes share), each limit is a token bucket in the store
//! ([`crate::store::buckets`]): the processes together keep the limits one process
//! keeps. Otherwise, and while the store cannot be reached, each process keeps its own
//! buckets in memory ([`crate::jobs::limit`]).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::jobs::Executor;
use crate::jobs::limit::{Over, conversation_key, sender_of};
use crate::pipeline::RateLimitDesc;
use crate::store::buckets::BucketSpec;

impl Executor {
    /// Takes one post from listener `i`'s rate limits; logs the first refusal of an
    /// episode (not every one: a flood must not become a flood of log lines). A replay
    /// posts nothing (and plays a day in seconds): limits are for real posts.
    pub(super) async fn within_limits(&self, i: usize, event: &Value) -> bool {
        if !self.effects.posts_for_real() {
            return true;
        }
        let refusal = match self.shared_limits(i, event).await {
            Some(refusal) => refusal,
            None => {
                let Ok(mut limiter) = self.limiters[i].lock() else {
                    return true;
                };
                let now = Instant::now();
                match limiter.take(conversation_key(event), sender_of(event), now) {
                    Ok(()) => None,
                    Err(r) => Some((r.over, r.first)),
                }
            }
        };
        let Some((over, first)) = refusal else {
            return true;
        };
        if first {
            let l = &self.pipeline.listeners[i];
            let (what, limit) = match over {
                Over::Conversation => ("this conversation", l.policy.limit_per_conversation),
                Over::Sender => ("this sender", l.policy.limit_per_sender),
            };
            tracing::warn!(
                listener = l.name,
                limit = %format_args!("{} per {}", limit.max, crate::retry::human(Duration::from_millis(limit.per_ms))),
                "posting to Zulip about {what} faster than its limit allows; holding back until it calms down (counted as limited)"
            );
        }
        false
    }

    /// The shared limits: `Some(None)` taken, `Some(Some((over, first)))` refused
    /// (`first`: the first refusal of the bucket's episode); `None` when they are not
    /// shared (no PostgreSQL store) or the store failed (then the process's own limits
    /// decide).
    async fn shared_limits(&self, i: usize, event: &Value) -> Option<Option<(Over, bool)>> {
        let store = self.effects.store.as_ref().filter(|s| s.is_postgres())?;
        let l = &self.pipeline.listeners[i];
        let realm = self.effects.realm.id;
        let conversation =
            crate::conversation::key_of(&event["message"]).map(|k| format!("{realm}:c:{k}"));
        let sender = sender_of(event).map(|s| format!("{realm}:s:{s}"));
        let limits = [
            (
                Over::Conversation,
                conversation,
                l.policy.limit_per_conversation,
            ),
            (Over::Sender, sender, l.policy.limit_per_sender),
        ];
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut taken: Vec<(String, BucketSpec)> = Vec::new();
        let mut refused = None;
        for (over, bucket, limit) in limits {
            let (Some(bucket), Some(spec)) = (bucket, spec(limit)) else {
                continue;
            };
            match store
                .take_token((self.pipeline.name, l.name, &bucket), spec, now_ms)
                .await
            {
                Ok(true) => taken.push((bucket, spec)),
                Ok(false) => {
                    refused = Some((over, bucket));
                    break;
                }
                Err(e) => {
                    tracing::warn!(listener = l.name, error = %e, "cannot reach the shared rate limits; this process keeps its own meanwhile");
                    return None;
                }
            }
        }
        let mut refusing = self.refusing.lock().unwrap_or_else(|e| e.into_inner());
        let Some((over, bucket)) = refused else {
            for (bucket, _) in &taken {
                refusing.remove(&(i, bucket.clone()));
            }
            return Some(None);
        };
        // A refused post takes no token: the one taken from the other limit goes back.
        drop(refusing);
        for (b, spec) in &taken {
            let _ = store
                .give_back_token((self.pipeline.name, l.name, b), *spec)
                .await;
        }
        let mut refusing = self.refusing.lock().unwrap_or_else(|e| e.into_inner());
        if refusing.len() > 10_000 {
            refusing.clear();
        }
        let first = refusing.insert((i, bucket));
        Some(Some((over, first)))
    }
}

/// A limit as a token bucket (`None`: no limit).
fn spec(limit: RateLimitDesc) -> Option<BucketSpec> {
    (limit.max > 0 && limit.per_ms > 0).then(|| BucketSpec {
        max: f64::from(limit.max),
        per_token_ms: limit.per_ms as f64 / f64::from(limit.max),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::jobs::actions::Effects;
    use crate::jobs::dispatch::Job;
    use crate::jobs::outbox::{HttpSink, Recorder, ZulipSink};
    use crate::pipeline::{ActionDesc, ListenerDesc, PipelineDesc, PolicyDesc, ReplyDesc};
    use crate::store::Store;
    use crate::template::{RealmInfo, Seg};

    static ACTIONS: &[ActionDesc] = &[ActionDesc::Reply {
        to: ReplyDesc::Same,
        template: &[Seg::Lit("on it")],
    }];
    static LISTENERS: &[ListenerDesc] = &[ListenerDesc {
        actions: ACTIONS,
        policy: PolicyDesc {
            limit_per_conversation: RateLimitDesc {
                max: 3,
                per_ms: 3_600_000,
            },
            ..ListenerDesc::stand_in("answer").policy
        },
        ..ListenerDesc::stand_in("answer")
    }];

    fn executor(
        store: &Store,
        pipeline: &'static PipelineDesc,
        recorder: &Arc<Recorder>,
    ) -> Executor {
        let realm = RealmInfo {
            id: 1,
            ..RealmInfo::default()
        };
        let zulip = ZulipSink::Record(recorder.clone());
        let effects = Effects::new(
            pipeline.name,
            zulip,
            HttpSink::Record(recorder.clone()),
            Some(store.clone()),
            realm,
            99,
        );
        Executor::new(pipeline, &[&[]], effects, &Default::default()).unwrap()
    }

    fn message(id: i64) -> Job {
        let json = format!(
            r#"{{"type":"message","id":{id},"message":{{"id":{id},"sender_id":{},"content":"help","subject":"flood","stream_id":5,"display_recipient":"ops","type":"stream","timestamp":0}},"flags":[]}}"#,
            10 + id
        );
        Job {
            listener: 0,
            json,
            event_id: Some(id),
            message_id: Some(id),
            key: format!("m{id}"),
            conversation: None,
        }
    }

    /// Two processes (two executors, each with its own pool) answering in one
    /// conversation post three answers in all, as one process would.
    #[tokio::test]
    async fn two_processes_keep_one_limit_on_postgres() {
        let Ok(url) = std::env::var("ZLC_TEST_POSTGRES_URL") else {
            eprintln!(
                "skipping two_processes_keep_one_limit_on_postgres: ZLC_TEST_POSTGRES_URL is not set"
            );
            return;
        };
        let name = format!("limits-{}-{}", std::process::id(), crate::clock::now_secs());
        let pipeline: &'static PipelineDesc = Box::leak(Box::new(PipelineDesc::stand_in(
            Box::leak(name.into_boxed_str()),
            LISTENERS,
        )));
        let recorder = Recorder::new();
        let (a, b) = (
            Store::open(&url).await.unwrap(),
            Store::open(&url).await.unwrap(),
        );
        let (one, two) = (
            executor(&a, pipeline, &recorder),
            executor(&b, pipeline, &recorder),
        );
        for id in 0..4 {
            one.run_job(&message(2 * id)).await.unwrap();
            two.run_job(&message(2 * id + 1)).await.unwrap();
        }
        assert_eq!(recorder.effects().len(), 3, "{:?}", recorder.effects());
    }
}
