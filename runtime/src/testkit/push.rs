//! Outgoing-webhook bots on the fake server, as Zulip runs them: a message that
//! mentions such a bot, or is a direct message to it, is POSTed to the bot's URL (the
//! bot's email and name, `data`, `message`, `token`, `trigger`); an answer with
//! `content` (or the older `response_string`) is posted back as the bot, in the same
//! conversation; `{"response_not_required": true}` posts nothing. A request that gets
//! no answer (refused, cut, or slower than 10 s) is tried again, up to 3 more times; an
//! error status is not.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::messages::{message_json, store_message};
use super::state::{PushRecord, Shared, State, StoredMessage, lock};

/// How long Zulip waits for an outgoing webhook's answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries after the first one when a request gets no answer.
const RETRIES: u32 = 3;

/// A push to make: the bot, its URL, and the body.
#[derive(Debug, Clone)]
struct Pending {
    bot_id: i64,
    url: String,
    body: Value,
}

/// The pushes of the messages stored since the last look.
fn new_pushes(st: &mut State, feature_level: i64) -> Vec<Pending> {
    let from = st.pushed_up_to;
    st.pushed_up_to = st.messages.last().map_or(from, |m| m.id.max(from));
    let fresh: Vec<StoredMessage> = st
        .messages
        .iter()
        .filter(|m| m.id > from)
        .cloned()
        .collect();
    fresh
        .iter()
        .flat_map(|m| pushes_of(st, m, feature_level))
        .collect()
}

/// The pushes message `m` makes.
fn pushes_of(st: &State, m: &StoredMessage, feature_level: i64) -> Vec<Pending> {
    let mut pushes = Vec::new();
    for (bot_id, url, token) in &st.outgoing {
        if m.sender_id == *bot_id {
            continue;
        }
        let Some(bot) = st.users.iter().find(|u| u.id == *bot_id) else {
            continue;
        };
        let trigger = if m.channel_id.is_none() && m.dm_user_ids.contains(bot_id) {
            if feature_level >= 201 {
                "direct_message"
            } else {
                "private_message"
            }
        } else if m.channel_id.is_some() && m.content.contains(&format!("@**{}**", bot.full_name)) {
            "mention"
        } else {
            continue;
        };
        let mut message = message_json(m, &st.users, &st.channels, false, None);
        message["rendered_content"] = json!(format!("<p>{}</p>", m.content));
        let body = json!({
            "bot_email": bot.email, "bot_full_name": bot.full_name, "data": m.content,
            "message": message, "token": token, "trigger": trigger,
        });
        pushes.push(Pending {
            bot_id: *bot_id,
            url: url.clone(),
            body,
        });
    }
    pushes
}

/// The pusher: makes the queued pushes, each in a task of its own, until `stop`.
pub(super) async fn pusher(shared: Arc<Shared>, stop: tokio_util::sync::CancellationToken) {
    crate::client::install_crypto_provider();
    let client = reqwest::Client::builder().timeout(PUSH_TIMEOUT).build();
    let Ok(client) = client else { return };
    loop {
        let level = shared.opts.feature_level;
        let pending = new_pushes(&mut lock(&shared), level);
        for p in pending {
            tokio::spawn(push(shared.clone(), client.clone(), p));
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = shared.push_notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

async fn push(shared: Arc<Shared>, client: reqwest::Client, p: Pending) {
    let message_id = p.body["message"]["id"].as_i64().unwrap_or(-1);
    let trigger = p.body["trigger"].as_str().unwrap_or_default().to_owned();
    let mut attempts = 0;
    let mut started;
    let (status, answer) = loop {
        attempts += 1;
        started = std::time::Instant::now();
        match client.post(&p.url).json(&p.body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let answer: Value = resp.json().await.unwrap_or(Value::Null);
                break (Some(status), answer);
            }
            Err(_) if attempts <= RETRIES => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(_) => break (None, Value::Null),
        }
    };
    if status.is_some_and(|s| (200..300).contains(&s)) && answer["response_not_required"] != true {
        let content = answer["content"]
            .as_str()
            .or(answer["response_string"].as_str());
        if let Some(content) = content.filter(|c| !c.trim().is_empty()) {
            answer_as_bot(&shared, p.bot_id, &p.body["message"], content);
        }
    }
    lock(&shared).pushes.push(PushRecord {
        bot_id: p.bot_id,
        message_id,
        trigger,
        attempts,
        status,
        answer,
        took: started.elapsed(),
    });
    shared.notify.notify_waiters();
}

/// The bot's answer in the conversation of `message`.
fn answer_as_bot(shared: &Shared, bot_id: i64, message: &Value, content: &str) {
    match message["stream_id"].as_i64() {
        Some(channel) => {
            let topic = message["subject"].as_str().unwrap_or_default();
            store_message(shared, bot_id, Some(channel), topic, &[], content);
        }
        None => {
            let to: Vec<i64> = (message["display_recipient"]
                .as_array()
                .into_iter()
                .flatten())
            .filter_map(|u| u["id"].as_i64())
            .filter(|id| *id != bot_id)
            .collect();
            store_message(shared, bot_id, None, "", &to, content);
        }
    }
}
