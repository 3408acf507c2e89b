//! Integration tests of zlc-runtime against the fake Zulip server (one binary, modules
//! per area).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod client;
mod conformance;
mod push;
mod queue;
mod replay;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zlc_runtime::client::{Client, RegisterRequest};
use zlc_runtime::event::{Event, RawEvent};
use zlc_runtime::source::{Batch, QueueOptions, QueueSource};
use zlc_runtime::store::Store;
use zlc_runtime::testkit::FakeZulip;

/// A source following the fake server's bot, with an optional store.
pub fn source(zulip: &FakeZulip, store: Option<Store>) -> QueueSource {
    source_named(zulip, store, "test")
}

/// Like [`source`], with the checkpoint under `connection`.
pub fn source_named(zulip: &FakeZulip, store: Option<Store>, connection: &str) -> QueueSource {
    let client = Client::new(&zulip.config_for(zulip.bot())).unwrap();
    let register = RegisterRequest {
        event_types: Some(vec!["message".into(), "reaction".into()]),
        ..Default::default()
    };
    QueueSource::new(
        client,
        store,
        QueueOptions {
            connection: connection.into(),
            register,
        },
    )
}

/// A source for any account, registering for all event types, without a store.
pub fn source_for(config: &zlc_runtime::config::ZulipConfig) -> QueueSource {
    let client = Client::new(config).unwrap();
    QueueSource::new(
        client,
        None,
        QueueOptions {
            connection: "t".into(),
            register: RegisterRequest::default(),
        },
    )
}

/// The next batch, failing the test after `secs` seconds (of tokio time).
pub async fn next(src: &mut QueueSource, secs: u64) -> Batch {
    let cancel = CancellationToken::new();
    tokio::time::timeout(Duration::from_secs(secs), src.next_batch(&cancel))
        .await
        .expect("no batch in time")
        .expect("source failed")
        .expect("source stopped")
}

/// Message ids in a batch, in order.
pub fn message_ids(batch: &Batch) -> Vec<i64> {
    batch
        .events()
        .filter_map(|e| match e.ok()?.parse().ok()? {
            Event::Message(m) => Some(m.message.id),
            _ => None,
        })
        .collect()
}

/// Reads events from `src` until `want` message ids were seen, acknowledging each batch.
pub async fn collect_messages(src: &mut QueueSource, want: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    while ids.len() < want {
        let batch = next(src, 60).await;
        ids.extend(message_ids(&batch));
        src.ack(batch.ack()).await.unwrap();
    }
    ids
}

pub async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    Store::open(&format!("sqlite://{}", dir.path().join("zlc.db").display()))
        .await
        .unwrap()
}

#[allow(dead_code)]
pub fn kinds(batch: &Batch) -> Vec<String> {
    batch
        .events()
        .map(|e: Result<RawEvent<'_>, _>| e.unwrap().kind.to_owned())
        .collect()
}
