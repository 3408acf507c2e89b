//! Handlers for the contradiction tests.

pub mod people;

use zlc_runtime::{Context, Message, listener};

#[listener(
    events = "message",
    realms = [1],
    channels = ["devel"],
    mentioned = true,
    timeout = "3s",
    config = { tone = "dry" },
    action(type = "react", emoji = "tada")
)]
pub async fn answer(_msg: &Message<'_>, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

pub fn not_a_listener() {}
