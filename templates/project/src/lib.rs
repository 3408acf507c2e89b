//! {{name}}: Zulip listeners written in Rust, compiled by zlc into one binary.
//!
//! A `#[listener]` takes the keys of a pipeline file's `[[listener]]` (events, realms,
//! channels, topics, content, policies, config, actions: see zlc's README, "Listeners
//! in Rust"); the function runs for every event that passes them. `pipeline!` puts the
//! listeners together; `src/main.rs` runs them; `tests/` runs them without a server.

use zlc_runtime::event::RealmUserAdd;
use zlc_runtime::{Context, Message, listener};

/// Answers `deploy #N` in #devel, reacts with a rocket (a built-in action after the
/// function), and keeps the number of deploys in the listener's state.
#[listener(
    events = "message",
    channels = ["devel"],
    content = "(?i)^deploy #\\d+",
    action(type = "react", emoji = "rocket")
)]
pub async fn on_deploy(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let number: String = msg.content().chars().filter(char::is_ascii_digit).collect();
    let deploys = cx
        .state_get("deploys")
        .await?
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    cx.state_set("deploys", &deploys.to_string()).await?;
    cx.count("deploys");
    cx.reply(format!("Deploying #{number} (deploy {deploys} so far)"));
    Ok(())
}

/// Welcomes new members in #general. The greeting is config: change it without a
/// rebuild with `{{name}} config welcome greeting "Hello"`.
#[listener(events = "realm_user:add", config = { greeting = "Welcome" })]
pub fn welcome(joined: &RealmUserAdd, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let greeting = cx.config("greeting").unwrap_or("Welcome");
    let name = joined.person.full_name.as_deref().unwrap_or("new member");
    // A name is text someone else wrote: `user_text` keeps it from notifying anyone.
    let name = zlc_runtime::markup::user_text(name);
    cx.send("general", "welcome", format!("{greeting}, {name}!"));
    Ok(())
}

zlc_runtime::pipeline!(on_deploy, welcome);
