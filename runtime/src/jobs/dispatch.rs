//! The per-connection dispatch context that generated dispatch functions drive.
//!
//! A generated `fn dispatch(cx: &mut Cx, ev: &RawEvent)` matches on the event type,
//! runs each interested listener's filters inline, and calls [`Cx::seen`] and
//! [`Cx::matched`]. Cheap actions (count, log, store) run right there; actions that do
//! I/O become [`Job`]s, executed after the batch by [`crate::jobs`]. Which listeners run
//! on this connection (realm filters, `--listeners`, the store's enable/disable) is
//! decided once, when the connection starts: per event it is one `bool` load.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::command::Reading;
use crate::event::{MessageViewEvent, RawEvent};
use crate::pipeline::{ActionDesc, ListenerDesc, PipelineDesc};
use crate::stats::{CountKey, StatsBuf};

/// The dispatch function a pipeline compiles to: runs the listeners interested in an
/// event, with their filters inline.
pub type DispatchFn = for<'a, 'e> fn(&mut Cx<'a>, &RawEvent<'e>);

/// I/O actions of one matched event, for one listener.
#[derive(Debug, Clone)]
pub struct Job {
    /// Listener index.
    pub listener: usize,
    /// The event's JSON text.
    pub json: String,
    /// Queue event id, if any.
    pub event_id: Option<i64>,
    /// Message id, for message events.
    pub message_id: Option<i64>,
    /// The key its side effects are de-duplicated by ([`event_key`]).
    pub key: String,
    /// The conversation (channel and topic, or direct-message group) whose events the
    /// listener takes in order; `None`: no order to keep.
    pub conversation: Option<u64>,
}

impl Job {
    /// What the job does with its event, as its key says (so that a dead letter
    /// replayed later does it again): runs the listener's actions on it, or follows
    /// an edit (`m<id>@e…`) or deletion (`m<id>@deleted`) of a message it answered.
    pub fn follow(&self) -> Follow<'_> {
        match self.key.split_once('@') {
            Some((_, "deleted")) => Follow::Delete,
            Some((_, edit)) => Follow::Edit(edit),
            None => Follow::Event,
        }
    }
}

/// What a job does with its event ([`Job::follow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow<'a> {
    /// Runs the listener's actions on it.
    Event,
    /// Runs the listener again on an edited message (this edit's name), updating its
    /// earlier answers.
    Edit(&'a str),
    /// Deletes the listener's answers to a deleted message.
    Delete,
}

/// What dispatch may read and write for one connection.
#[derive(Debug)]
pub struct Cx<'a> {
    pub(crate) pipeline: &'static PipelineDesc,
    pub(crate) enabled: &'a [bool],
    pub(crate) own_user_id: i64,
    pub(crate) bots: &'a HashSet<i64>,
    pub(crate) now: i64,
    pub(crate) realm: &'a crate::template::RealmInfo,
    pub(crate) stats: &'a mut StatsBuf,
    pub(crate) jobs: &'a mut Vec<Job>,
    pub(crate) log_rows: &'a mut Vec<crate::stats::LogRow>,
    pub(crate) log_all: bool,
    /// The event queue the batch came from (`None`: a backfill or a replay).
    pub(crate) queue: Option<&'a str>,
    /// An edited message run again ([`Follow::Edit`]): what its first run counted and
    /// stored is not counted or stored twice.
    pub(crate) edit: bool,
}

impl<'a> Cx<'a> {
    /// Whether listener `i` runs on this connection.
    #[inline]
    pub fn enabled(&self, i: usize) -> bool {
        self.enabled.get(i).copied().unwrap_or(false)
    }

    /// Whether any of `listeners` runs on this connection.
    #[inline]
    pub fn any_enabled(&self, listeners: &[usize]) -> bool {
        listeners.iter().any(|&i| self.enabled(i))
    }

    /// Counts an event that reached listener `i`'s filters.
    #[inline]
    pub fn seen(&mut self, i: usize) {
        self.stats.listener(i).seen += 1;
    }

    /// Parses a message event's filterable fields; a malformed one is counted and skipped.
    /// The message is counted in the hour it was sent.
    pub fn message<'e>(&mut self, ev: &RawEvent<'e>) -> Option<MessageViewEvent<'e>> {
        match MessageViewEvent::read(ev.json) {
            Ok(m) => {
                if m.message.timestamp > 0 {
                    self.stats.set_hour(m.message.timestamp.div_euclid(3600));
                }
                Some(m)
            }
            Err(e) => {
                self.stats.malformed += 1;
                tracing::warn!(error = %e, excerpt = %crate::event::excerpt(ev.json), "skipping a malformed message event");
                None
            }
        }
    }

    /// Counts a non-message event in the hour it carries (`server_timestamp` of a
    /// presence, `edit_timestamp` of an edit), if it carries one. Generated code calls
    /// this only for event types some enabled listener receives.
    pub fn at_event_time(&mut self, ev: &RawEvent<'_>) {
        #[derive(serde::Deserialize)]
        struct Times {
            #[serde(default)]
            server_timestamp: Option<f64>,
            #[serde(default)]
            edit_timestamp: Option<i64>,
        }
        if !matches!(ev.kind, "presence" | "update_message") {
            return;
        }
        if let Ok(t) = serde_json::from_str::<Times>(ev.json) {
            let secs = t
                .edit_timestamp
                .or(t.server_timestamp.map(|s| s as i64))
                .filter(|s| *s > 0);
            if let Some(secs) = secs {
                self.stats.set_hour(secs.div_euclid(3600));
            }
        }
    }

    /// The bot's own user id (`-1` when unknown, as in a replay).
    #[inline]
    pub fn own_user_id(&self) -> i64 {
        self.own_user_id
    }

    /// What message `e` asks of the bot, read against the pipeline's commands; the
    /// generated dispatch reads a message once, before its listeners' checks
    /// ([`crate::command::runs_command`], [`crate::command::answers_command`]).
    pub fn command(&self, e: &MessageViewEvent<'_>) -> Option<Reading> {
        let m = &e.message;
        let who = crate::command::Sender {
            id: m.sender_id,
            email: m.sender_email(),
            role: self.realm.roles.get(m.sender_id),
            groups: (self.pipeline.commands.by_group).then_some(&self.realm.groups),
        };
        let (bot, bot_id) = (&self.realm.bot_name, self.realm.bot_id);
        (self.pipeline.commands).reading(m.content(), m.is_direct(), bot, bot_id, &who)
    }

    /// The command listener `i` runs, if it is a command (`#[command]` modules ask).
    pub fn command_of(&self, i: usize) -> Option<usize> {
        self.pipeline.listeners.get(i).and_then(|l| l.command)
    }

    /// Whether the sender is a bot: known bot ids, or Zulip's `-bot@` email convention.
    pub fn is_bot(&self, user_id: i64, email: &str) -> bool {
        self.bots.contains(&user_id) || email.contains("-bot@")
    }

    /// Unix time of the batch being dispatched.
    #[inline]
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Keeps an event-log row of `l` for `ev` with `status`.
    fn log_row(
        &mut self,
        l: &ListenerDesc,
        ev: &RawEvent<'_>,
        msg: Option<&MessageViewEvent<'_>>,
        status: &str,
    ) {
        let message_id = msg.map(|m| m.message.id);
        let key = event_key(message_id, self.queue, ev.id);
        let row = crate::stats::LogRow::of(l.name, self.realm.id, ev, message_id, status, key);
        self.log_rows.push(row);
    }

    /// Listener `i` matched `ev`. Actions run in their written order: the cheap ones
    /// (count, log, store) before the first I/O action run here, at once; from the first
    /// I/O action on, the rest of the list is a job, so that a count, log or store after
    /// a webhook happens only once the webhook succeeded (see [`crate::jobs`]).
    pub fn matched(&mut self, i: usize, ev: &RawEvent<'_>, msg: Option<&MessageViewEvent<'_>>) {
        let Some(l) = self.pipeline.listeners.get(i) else {
            return;
        };
        if !self.in_step(l, msg) {
            return;
        }
        self.stats.listener(i).matched += 1;
        let stepped = self.take_step(l, ev, msg);
        let mut has_jobs = false;
        for action in l.actions {
            match action {
                ActionDesc::Count {
                    by_channel,
                    by_sender,
                } => {
                    if self.edit {
                        continue;
                    }
                    let m = msg.map(|m| &m.message);
                    let channel = m.filter(|_| *by_channel).and_then(|m| {
                        m.channel_id()
                            .map(|id| (id, m.channel_name().unwrap_or("")))
                    });
                    let sender = m
                        .filter(|_| *by_sender)
                        .map(|m| (m.sender_id, m.sender_email()));
                    self.stats.count(
                        CountKey {
                            listener: i,
                            hour: self.stats.hour(),
                            channel: channel.map(|c| c.0),
                            sender: sender.map(|s| s.0),
                        },
                        channel.map(|c| c.1),
                        sender.map(|s| s.1),
                    );
                }
                ActionDesc::Log { template } => {
                    let start = Instant::now();
                    log_line(l, self.realm, ev, *template);
                    self.stats.listener(i).time_us += start.elapsed().as_micros() as u64;
                }
                ActionDesc::Store if self.edit => {}
                ActionDesc::Store => self.log_row(l, ev, msg, "stored"),
                _ => {
                    has_jobs = true;
                    break;
                }
            }
        }
        if self.log_all && !l.actions.iter().any(|a| matches!(a, ActionDesc::Store)) {
            self.log_row(l, ev, msg, "matched");
        }
        if has_jobs {
            let conversation = if l.policy.ordered {
                msg.map(|m| conversation_of(&m.message))
            } else {
                None
            };
            self.jobs.push(Job {
                listener: i,
                json: stepped.unwrap_or_else(|| ev.json.to_owned()),
                event_id: ev.id,
                message_id: msg.map(|m| m.message.id),
                key: event_key(msg.map(|m| m.message.id), self.queue, ev.id),
                conversation,
            });
        } else {
            // Counting takes nanoseconds: not worth two clock reads per event.
            self.stats.listener(i).succeeded += 1;
        }
    }
}

impl Cx<'_> {
    /// An edit or deletion of messages (`update_message` with new content,
    /// `delete_message`): a job for each listener that follows them ([`Follow`]). An
    /// edit of the bot's own (its answers being updated) or one that only re-rendered
    /// the message is none.
    pub fn follow(&mut self, ev: &RawEvent<'_>) {
        #[derive(serde::Deserialize)]
        struct Change<'a> {
            #[serde(default)]
            message_id: Option<i64>,
            #[serde(default)]
            message_ids: Vec<i64>,
            #[serde(default, borrow)]
            content: Option<std::borrow::Cow<'a, str>>,
            #[serde(default)]
            user_id: Option<i64>,
            #[serde(default)]
            rendering_only: bool,
            #[serde(default)]
            edit_timestamp: Option<i64>,
        }
        let Ok(change) = serde_json::from_str::<Change<'_>>(ev.json) else {
            return;
        };
        let edit = ev.kind == "update_message";
        let keys: Vec<(i64, String)> = if edit {
            let (Some(id), Some(content)) = (change.message_id, &change.content) else {
                return;
            };
            if change.rendering_only || change.user_id == Some(self.own_user_id) {
                return;
            }
            // An edit's name: its time and text (two edits in one second differ).
            let stamp = change.edit_timestamp.unwrap_or(self.now);
            let text = fnv1a(content.as_bytes());
            vec![(id, format!("m{id}@e{stamp}.{text:08x}"))]
        } else {
            let ids = change.message_ids.iter().copied().chain(change.message_id);
            ids.map(|id| (id, format!("m{id}@deleted"))).collect()
        };
        for (i, l) in self.pipeline.listeners.iter().enumerate() {
            if !self.enabled(i) || !(if edit { l.on_edit } else { l.on_delete }) {
                continue;
            }
            for (id, key) in &keys {
                self.jobs.push(Job {
                    listener: i,
                    json: ev.json.to_owned(),
                    event_id: ev.id,
                    message_id: Some(*id),
                    key: key.clone(),
                    conversation: None,
                });
            }
        }
    }
}

/// FNV-1a, 32 bits: stable across builds and processes, as keys of side effects must be.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The key an event's side effects are de-duplicated by, the same at every delivery:
/// `m<id>` for a message (however it came: queue, backfill, replay, another process),
/// `q<queue>:e<id>` for another event of a queue (event ids start again at 0 in every
/// queue), `e<id>` for one without a queue (a replay).
pub fn event_key(message_id: Option<i64>, queue: Option<&str>, event_id: Option<i64>) -> String {
    match (message_id, queue) {
        (Some(m), _) => format!("m{m}"),
        (None, Some(q)) => format!("q{q}:e{}", event_id.unwrap_or(-1)),
        (None, None) => format!("e{}", event_id.unwrap_or(-1)),
    }
}

/// A message's conversation as Zulip groups them: a channel's topic (topics compared
/// without case), or the set of people in a direct message.
fn conversation_of(m: &crate::event::MessageView<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match m.channel_id() {
        Some(channel) => (0u8, channel, m.topic().to_lowercase()).hash(&mut h),
        None => {
            let mut ids: Vec<i64> = m.recipients().iter().map(|r| r.id).collect();
            ids.sort_unstable();
            (1u8, ids).hash(&mut h);
        }
    }
    h.finish()
}

/// Writes a `log` action's line for listener `l` and event `ev`.
pub(crate) fn log_line(
    l: &ListenerDesc,
    realm: &crate::template::RealmInfo,
    ev: &RawEvent<'_>,
    template: Option<&'static [crate::template::Seg]>,
) {
    match template {
        Some(segs) => {
            let event: serde_json::Value = serde_json::from_str(ev.json).unwrap_or_default();
            let cx = realm.render_cx(&event, ev.json, l.name);
            let line = crate::template::render(segs, &cx, false);
            tracing::info!(
                listener = l.name,
                "{}",
                crate::logging::cap(&line, crate::logging::MAX_LOGGED_BYTES)
            );
        }
        None => match (ev.op, ev.id) {
            (Some(op), Some(id)) => {
                tracing::info!(
                    listener = l.name,
                    realm = realm.id,
                    kind = ev.kind,
                    op,
                    id,
                    "matched"
                )
            }
            (None, Some(id)) => {
                tracing::info!(
                    listener = l.name,
                    realm = realm.id,
                    kind = ev.kind,
                    id,
                    "matched"
                )
            }
            (op, None) => {
                tracing::info!(
                    listener = l.name,
                    realm = realm.id,
                    kind = ev.kind,
                    op = op.unwrap_or(""),
                    "matched"
                )
            }
        },
    }
}

/// Which listeners may run on a connection to `realm_id` at all (their realms, and
/// `--listeners`), whether enabled or not. A schedule's listener takes no events: it
/// runs on no connection (its ticks come from the clock).
pub fn eligible_for(p: &PipelineDesc, realm_id: u32, only: Option<&[String]>) -> Vec<bool> {
    p.listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            !p.schedules.iter().any(|s| s.listener == i)
                && l.realms.is_none_or(|r| r.contains(&realm_id))
                && only.is_none_or(|names| names.iter().any(|n| n == l.name))
        })
        .collect()
}

/// Which listeners run on a connection to `realm_id`.
pub fn enabled_for(
    p: &PipelineDesc,
    realm_id: u32,
    only: Option<&[String]>,
    overrides: &HashMap<String, bool>,
) -> Vec<bool> {
    p.listeners
        .iter()
        .map(|l| {
            let on = overrides.get(l.name).copied().unwrap_or(l.enabled);
            let realm_ok = l.realms.is_none_or(|r| r.contains(&realm_id));
            let chosen = only.is_none_or(|names| names.iter().any(|n| n == l.name));
            on && realm_ok && chosen
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MessageViewEvent;

    fn conversation(json: &str) -> u64 {
        let v: MessageViewEvent<'_> = serde_json::from_str(json).unwrap();
        conversation_of(&v.message)
    }

    fn channel(stream_id: i64, topic: &str) -> u64 {
        conversation(&format!(
            r#"{{"message":{{"id":1,"sender_id":9,"content":"","timestamp":0,"subject":"{topic}","sender_email":"a@x","display_recipient":"dev","type":"stream","stream_id":{stream_id}}},"flags":[]}}"#
        ))
    }

    fn direct(ids: &[i64]) -> u64 {
        let people: Vec<String> = ids
            .iter()
            .map(|i| format!(r#"{{"id":{i},"email":"u{i}@x","full_name":"U{i}"}}"#))
            .collect();
        conversation(&format!(
            r#"{{"message":{{"id":1,"sender_id":9,"content":"","timestamp":0,"subject":"","sender_email":"a@x","display_recipient":[{}],"type":"private"}},"flags":[]}}"#,
            people.join(",")
        ))
    }

    #[test]
    fn a_conversation_is_a_channels_topic_without_case_or_the_people_of_a_direct_message() {
        assert_eq!(channel(5, "Deploys"), channel(5, "deploys"));
        assert_ne!(channel(5, "deploys"), channel(5, "alerts"));
        assert_ne!(channel(5, "deploys"), channel(6, "deploys"));
        assert_eq!(direct(&[3, 9]), direct(&[9, 3]));
        assert_ne!(direct(&[3, 9]), direct(&[4, 9]));
    }

    #[test]
    fn side_effects_are_keyed_by_message_else_by_queue_event() {
        assert_eq!(event_key(Some(12), Some("q1"), Some(4)), "m12");
        assert_eq!(event_key(None, Some("q1"), Some(4)), "qq1:e4");
        assert_eq!(event_key(None, None, Some(4)), "e4");
        assert_eq!(event_key(None, None, None), "e-1");
    }

    #[test]
    fn listeners_run_on_their_realms_and_only_those_named() {
        static LISTENERS: &[ListenerDesc] = &[
            ListenerDesc::stand_in("everywhere"),
            ListenerDesc {
                realms: Some(&[2]),
                ..ListenerDesc::stand_in("second")
            },
        ];
        static P: PipelineDesc = PipelineDesc::stand_in("p", LISTENERS);
        assert_eq!(eligible_for(&P, 1, None), [true, false]);
        assert_eq!(eligible_for(&P, 2, None), [true, true]);
        let only = ["second".to_owned()];
        assert_eq!(eligible_for(&P, 1, Some(&only)), [false, false]);
        assert_eq!(eligible_for(&P, 2, Some(&only)), [false, true]);
    }

    /// The official `update_message` and `delete_message` examples (and the bulk form
    /// of the deletion) become jobs of the listeners that follow them, keyed so that a
    /// later delivery or a replayed dead letter does the same.
    #[test]
    fn edits_and_deletions_of_the_official_examples_become_follow_jobs() {
        static LISTENERS: &[ListenerDesc] = &[
            ListenerDesc {
                on_edit: true,
                ..ListenerDesc::stand_in("edits")
            },
            ListenerDesc {
                on_delete: true,
                ..ListenerDesc::stand_in("deletes")
            },
            ListenerDesc::stand_in("neither"),
        ];
        static P: PipelineDesc = PipelineDesc::stand_in("p", LISTENERS);
        let examples = include_str!("../../tests/fixtures/zulip/events.jsonl");
        let example = |kind: &str| {
            examples
                .lines()
                .find(|l| l.contains(&format!(r#""type":"{kind}""#)))
                .unwrap()
                .to_owned()
        };
        let bulk = r#"{"type":"delete_message","message_type":"stream","stream_id":5,"topic":"t","message_ids":[40,41],"id":3}"#;
        let own_edit = example("update_message").replace(r#""user_id":10"#, r#""user_id":77"#);
        let rerendered = example("update_message")
            .replace(r#""rendering_only":false"#, r#""rendering_only":true"#);
        let jobs = |json: &str| -> Vec<(usize, String)> {
            let (bots, realm) = (HashSet::new(), crate::template::RealmInfo::default());
            let (mut stats, mut jobs, mut log) = (StatsBuf::new(3, 0), Vec::new(), Vec::new());
            let mut cx = Cx {
                pipeline: &P,
                enabled: &[true, true, true],
                own_user_id: 77,
                bots: &bots,
                now: 0,
                realm: &realm,
                stats: &mut stats,
                jobs: &mut jobs,
                log_rows: &mut log,
                log_all: false,
                queue: None,
                edit: false,
            };
            cx.follow(&RawEvent::new(json).unwrap());
            jobs.iter().map(|j| (j.listener, j.key.clone())).collect()
        };
        let edit = jobs(&example("update_message"));
        assert_eq!(edit.len(), 1, "{edit:?}");
        assert_eq!(edit[0].0, 0);
        assert!(edit[0].1.starts_with("m58@e1594825451."), "{edit:?}");
        let job = Job {
            listener: 0,
            json: String::new(),
            event_id: None,
            message_id: Some(58),
            key: edit[0].1.clone(),
            conversation: None,
        };
        assert!(matches!(job.follow(), Follow::Edit(e) if e.starts_with("e1594825451.")));
        assert_eq!(
            jobs(&example("delete_message")),
            [(1, "m37@deleted".to_owned())]
        );
        assert_eq!(
            jobs(bulk),
            [(1, "m40@deleted".to_owned()), (1, "m41@deleted".to_owned())]
        );
        assert!(
            jobs(&own_edit).is_empty(),
            "the bot's own edits are its answers"
        );
        assert!(jobs(&rerendered).is_empty());
        let topic_only = r#"{"type":"update_message","user_id":10,"message_id":58,"message_ids":[58],"orig_subject":"a","subject":"b","flags":[],"rendering_only":false,"id":1}"#;
        assert!(jobs(topic_only).is_empty(), "a move changes no text");
    }
}
