//! A fake Zulip server for tests: zlc's own, and users' tests of their listeners.
//!
//! [`FakeZulip`] is an in-process HTTP server with Zulip's real semantics where a
//! listener can tell the difference: HTTP Basic authentication with Zulip's error
//! codes, `POST /register`, long-polled `GET /events` that blocks until an event or a
//! heartbeat, acknowledgement by `last_event_id`, queues that expire when idle (or on
//! demand) and then answer `BAD_EVENT_QUEUE_ID`, `POST`/`GET /messages` with narrows,
//! reactions, `GET /server_settings` and `GET /users/me`.
//!
//! Faults are queued with [`FakeZulip::inject`] and hit the next matching request: a 429
//! with `retry-after`, a 5xx JSON error or HTML page, a body cut mid-way, a slow
//! response. Everything the server received and delivered is recorded.
//!
//! ```no_run
//! # async fn demo() {
//! use zlc_runtime::testkit::{FakeZulip, Fault};
//! let zulip = FakeZulip::start().await.unwrap();
//! let alice = zulip.add_user("alice@example.com", "Alice");
//! zulip.message().channel("devel").topic("ci").sender(&alice).content("deploy #12 done").send();
//! zulip.inject(Some("events"), Fault::RateLimit { retry_after: 1.5 });
//! # }
//! ```

pub mod build;
mod edits;
mod groups;
mod messages;
mod push;
mod queues;
mod reply;
mod server;
mod state;

pub use state::{
    Backlog, FEATURE_LEVEL, FakeOptions, FakeUser, Fault, PushRecord, QueueRegistration,
    ReactionRecord, RequestRecord, StoredMessage,
};
use state::{Shared, State, lock, placeholder_user};

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigOverrides, Secret, ZulipConfig};

/// The fake server. Dropping it stops it.
pub struct FakeZulip {
    shared: Arc<Shared>,
    stop: CancellationToken,
    bot: FakeUser,
}

impl std::fmt::Debug for FakeZulip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeZulip")
            .field("addr", &self.shared.addr)
            .finish()
    }
}

impl Drop for FakeZulip {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl FakeZulip {
    /// Starts a server on a free loopback port with default timing.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(FakeOptions::default()).await
    }

    /// Starts a server with the given timing.
    pub async fn start_with(opts: FakeOptions) -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0", opts).await
    }

    /// Starts a server on `addr` (e.g. `127.0.0.1:9991`).
    pub async fn bind(addr: &str, opts: FakeOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let shared = Arc::new(Shared {
            started: tokio::time::Instant::now(),
            state: Mutex::new(State {
                next_queue: 1,
                clock: 1_700_000_000,
                ..State::default()
            }),
            notify: Notify::new(),
            push_notify: Notify::new(),
            opts,
            addr: listener.local_addr()?,
        });
        let stop = CancellationToken::new();
        tokio::spawn(server::serve(listener, shared.clone(), stop.clone()));
        tokio::spawn(push::pusher(shared.clone(), stop.clone()));
        let mut zulip = FakeZulip {
            shared,
            stop,
            bot: placeholder_user(),
        };
        zulip.bot = zulip.add_bot("listener-bot@zulip.example.com", "Listener Bot");
        for name in ["general", "devel", "alerts"] {
            zulip.add_channel(name);
        }
        Ok(zulip)
    }

    /// The site URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The bot account every server starts with.
    pub fn bot(&self) -> &FakeUser {
        &self.bot
    }

    /// A resolved client configuration for `user`.
    pub fn config_for(&self, user: &FakeUser) -> ZulipConfig {
        ConfigOverrides {
            site: Some(self.url()),
            email: Some(user.email.clone()),
            api_key: Some(Secret::new(user.api_key.clone())),
            ..Default::default()
        }
        .resolve_with(|_| None, None)
        .expect("the fake server's own URL is valid")
    }

    /// A zuliprc file's text for `user`.
    pub fn zuliprc(&self, user: &FakeUser) -> String {
        format!(
            "[api]\nemail={}\nkey={}\nsite={}\n",
            user.email,
            user.api_key,
            self.url()
        )
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }

    /// Adds a human user.
    pub fn add_user(&self, email: &str, full_name: &str) -> FakeUser {
        self.add_account(email, full_name, false)
    }

    /// Adds a bot user.
    pub fn add_bot(&self, email: &str, full_name: &str) -> FakeUser {
        self.add_account(email, full_name, true)
    }

    /// Adds an account; one whose email is taken is that account (emails are unique
    /// in Zulip).
    fn add_account(&self, email: &str, full_name: &str, is_bot: bool) -> FakeUser {
        let mut st = self.state();
        if let Some(u) = st
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
        {
            return u.clone();
        }
        let id = 100 + st.users.len() as i64;
        let user = FakeUser {
            id,
            email: email.to_owned(),
            full_name: full_name.to_owned(),
            api_key: format!("key{:030}", id * 7919),
            is_bot,
            role: 400,
        };
        st.users.push(user.clone());
        user
    }

    /// Gives `user` Zulip role `role` (200: an administrator), as an administrator
    /// would: `GET /users` says so from now on, and queues get a `realm_user` update.
    pub fn set_role(&self, user: &FakeUser, role: u16) {
        if let Some(u) = self.state().users.iter_mut().find(|u| u.id == user.id) {
            u.role = role;
        }
        self.push_event(build::realm_user_role(user.id, role));
    }

    /// Deactivates a user: its requests then fail with `USER_DEACTIVATED`.
    pub fn deactivate(&self, user: &FakeUser) {
        self.state().deactivated.push(user.id);
    }

    /// Adds a channel (every user is subscribed) and returns its id.
    pub fn add_channel(&self, name: &str) -> i64 {
        let mut st = self.state();
        if let Some((id, _)) = st.channels.iter().find(|(_, n)| n == name) {
            return *id;
        }
        let id = st.channels.len() as i64 + 1;
        st.channels.push((id, name.to_owned()));
        id
    }

    /// Starts building a message; `send()` stores it and delivers it to queues.
    pub fn message(&self) -> MessageBuilder<'_> {
        MessageBuilder {
            zulip: self,
            channel: None,
            topic: "test".into(),
            to: Vec::new(),
            sender: None,
            content: String::new(),
        }
    }

    /// Edits message `id` as `user` does in Zulip (`PATCH /messages/{id}`): queues get
    /// its `update_message`. `false`: Zulip would refuse (not theirs, or no such message).
    pub fn edit_message(&self, user: &FakeUser, id: i64, content: &str) -> bool {
        let p = std::collections::HashMap::from([("content".to_owned(), content.to_owned())]);
        edits::edit_message(&self.shared, user, id, &p).status == 200
    }

    /// Deletes message `id` as `user` does (`DELETE /messages/{id}`): queues get its
    /// `delete_message`. `false`: Zulip would refuse.
    pub fn delete_message(&self, user: &FakeUser, id: i64) -> bool {
        edits::delete_message(&self.shared, user, id).status == 200
    }

    /// Makes `bot` an outgoing-webhook bot: the messages that mention it, and the direct
    /// messages to it, are POSTed to `url` with `token`, as Zulip does.
    pub fn push_to(&self, bot: &FakeUser, url: &str, token: &str) {
        let mut st = self.state();
        st.outgoing.retain(|(id, _, _)| *id != bot.id);
        st.outgoing.push((bot.id, url.to_owned(), token.to_owned()));
    }

    /// The pushes made so far (each once its answer came, or the tries ran out).
    pub fn pushes(&self) -> Vec<PushRecord> {
        self.state().pushes.clone()
    }

    /// Adds a user group of `members` (queues get its `user_group` `add`); its id.
    pub fn add_user_group(&self, name: &str, members: &[&FakeUser]) -> i64 {
        let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
        let id = {
            let mut st = self.state();
            let id = st.groups.len() as i64 + 1;
            st.groups.push((id, name.to_owned(), ids.clone()));
            id
        };
        let group = groups::group_json(id, name, &ids);
        self.push_event(serde_json::json!({"type": "user_group", "op": "add", "group": group}));
        id
    }

    /// Adds `user` to group `id` (queues get `user_group` `add_members`).
    pub fn add_to_user_group(&self, id: i64, user: &FakeUser) {
        if let Some(g) = self.state().groups.iter_mut().find(|g| g.0 == id) {
            g.2.push(user.id);
        }
        let event = serde_json::json!({"type": "user_group", "op": "add_members", "group_id": id, "user_ids": [user.id]});
        self.push_event(event);
    }

    /// Delivers any event (built with [`build`]) to every queue that wants its type.
    /// Returns how many queues received it.
    pub fn push_event(&self, event: Value) -> usize {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut st = self.state();
        let mut n = 0;
        for q in st.queues.values_mut() {
            if q.wants(&kind) {
                q.push(event.clone());
                n += 1;
            }
        }
        drop(st);
        self.shared.notify.notify_waiters();
        n
    }

    /// Queues a fault for the next request to `endpoint` (`None`: any endpoint).
    pub fn inject(&self, endpoint: Option<&str>, fault: Fault) {
        self.state()
            .faults
            .push_back((endpoint.map(str::to_owned), fault));
    }

    /// Faults not yet consumed.
    pub fn pending_faults(&self) -> usize {
        self.state().faults.len()
    }

    /// Deletes a queue, as Zulip's garbage collector does.
    pub fn expire_queue(&self, queue_id: &str) -> bool {
        let gone = self.state().queues.remove(queue_id).is_some();
        self.shared.notify.notify_waiters();
        gone
    }

    /// Deletes every queue; returns how many there were.
    pub fn expire_all_queues(&self) -> usize {
        let n = std::mem::take(&mut self.state().queues).len();
        self.shared.notify.notify_waiters();
        n
    }

    /// The ids of the live queues.
    pub fn queue_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.state().queues.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// What each live queue was registered for, by queue id.
    pub fn queue_registrations(&self) -> Vec<QueueRegistration> {
        let mut queues: Vec<_> = self
            .state()
            .queues
            .iter()
            .map(|(id, q)| QueueRegistration {
                id: id.clone(),
                event_types: q.event_types.clone(),
                narrow: q.narrow.clone(),
            })
            .collect();
        queues.sort_by(|a, b| a.id.cmp(&b.id));
        queues
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state().requests.clone()
    }

    /// Requests to `endpoint` received so far.
    pub fn requests_to(&self, endpoint: &str) -> Vec<RequestRecord> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// Every (queue id, event id) delivered by `GET /events`, in order.
    pub fn delivered(&self) -> Vec<(String, i64)> {
        self.state().delivered.clone()
    }

    /// Every stored message, in id order.
    pub fn messages(&self) -> Vec<StoredMessage> {
        self.state().messages.clone()
    }

    /// Every reaction held now.
    pub fn reactions(&self) -> Vec<ReactionRecord> {
        self.state().reactions.clone()
    }

    /// Stops the server (also done on drop).
    pub fn shutdown(&self) {
        self.stop.cancel();
    }
}

/// Builds a message to store and deliver.
#[derive(Debug)]
pub struct MessageBuilder<'z> {
    zulip: &'z FakeZulip,
    channel: Option<String>,
    topic: String,
    to: Vec<i64>,
    sender: Option<FakeUser>,
    content: String,
}

impl MessageBuilder<'_> {
    /// To this channel (created if needed).
    pub fn channel(mut self, name: &str) -> Self {
        self.channel = Some(name.to_owned());
        self
    }

    /// With this topic.
    pub fn topic(mut self, topic: &str) -> Self {
        self.topic = topic.to_owned();
        self
    }

    /// A direct message to these users (the sender is added).
    pub fn direct_to(mut self, users: &[&FakeUser]) -> Self {
        self.to = users.iter().map(|u| u.id).collect();
        self
    }

    /// Sent by `user` (default: a user created on first use).
    pub fn sender(mut self, user: &FakeUser) -> Self {
        self.sender = Some(user.clone());
        self
    }

    /// With this Markdown content.
    pub fn content(mut self, content: &str) -> Self {
        self.content = content.to_owned();
        self
    }

    /// Stores the message, delivers it, and returns its id.
    pub fn send(self) -> i64 {
        let sender = match self.sender {
            Some(u) => u,
            None => {
                let existing = self
                    .zulip
                    .state()
                    .users
                    .iter()
                    .find(|u| u.email == "hamlet@zulip.example.com")
                    .cloned();
                existing.unwrap_or_else(|| {
                    self.zulip
                        .add_user("hamlet@zulip.example.com", "King Hamlet")
                })
            }
        };
        let channel_id = self.channel.as_deref().map(|c| self.zulip.add_channel(c));
        let id = messages::store_message(
            &self.zulip.shared,
            sender.id,
            channel_id,
            &self.topic,
            &self.to,
            &self.content,
        );
        self.zulip.shared.notify.notify_waiters();
        id
    }
}
