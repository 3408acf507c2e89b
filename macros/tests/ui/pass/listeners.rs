//! Listeners of every shape, put together into a binary.

use zlc_runtime::event::{Event, Reaction, RealmUserAdd};
use zlc_runtime::{Context, Message, MessageEvent, listener};

/// async, a message, built-in actions after the function.
#[listener(
    events = "message",
    channels = ["devel", 7],
    topics = ["deploys", "/^ci-/"],
    content = "(?i)deploy #(\\d+)",
    exclude_bots = true,
    timeout = "5s",
    retries = 2,
    config = { greeting = "hi" },
    action(type = "react", emoji = "rocket"),
    action(type = "count", by = ["channel", "sender"])
)]
async fn on_deploy(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let greeting = cx.config("greeting").unwrap_or("hello");
    cx.reply(format!("{greeting}: deploying {}", msg.topic()));
    cx.count("deploys");
    Ok(())
}

/// A plain function, the whole message event (with its flags), a boxed error.
#[listener(events = "message", mentioned = true)]
fn on_mention(ev: &MessageEvent<'_>, cx: &Context<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if ev.mentioned() {
        cx.react("eyes");
    }
    Ok(())
}

/// Both ops of `reaction` share one payload type.
#[listener(events = "reaction", realms = [2])]
async fn on_reaction(r: &Reaction, cx: &Context<'_>) -> Result<(), String> {
    cx.state_set("last", &r.emoji_name).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// One (type, op): its own payload.
#[listener(events = "realm_user:add")]
fn on_join(joined: &RealmUserAdd, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    cx.send("general", "welcome", format!("Welcome, user {}!", joined.person.user_id));
    Ok(())
}

/// Several types: the whole event.
#[listener(events = ["@user", "reaction:add"])]
async fn on_people(ev: &Event<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Permanent> {
    cx.count(ev.type_name());
    Ok(())
}

mod nested {
    use zlc_runtime::{Context, Message, listener};

    #[listener(events = "message", message_type = "direct")]
    pub async fn on_dm(_msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
        cx.reply_privately("got it");
        Ok(())
    }
}

/// `main!` makes a binary's `main`; inside a module it is an ordinary function, so that
/// this test can look at the pipeline instead of starting it.
mod binary {
    zlc_runtime::main!(
        name = "ui_pass",
        realms = [1, 2],
        super::on_deploy,
        super::on_mention,
        super::on_reaction,
        super::on_join,
        super::on_people,
        super::nested::on_dm
    );

    pub fn entry() -> fn() -> std::process::ExitCode {
        main
    }
}

fn main() {
    let _ = binary::entry();
    let p = binary::PIPELINE.desc;
    let names: Vec<&str> = p.listeners.iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        ["on_deploy", "on_mention", "on_reaction", "on_join", "on_people", "on_dm"]
    );
    assert_eq!(p.name, "ui_pass");
    assert_eq!(p.realms.len(), 2);
    assert_eq!(p.event_types(), ["message", "presence", "reaction", "realm_user", "user_status"]);
    // The function runs first, then the built-in actions the attribute lists.
    let kinds: Vec<&str> = p.listeners[0].actions.iter().map(|a| a.kind()).collect();
    assert_eq!(kinds, ["handler", "react", "count"]);
    assert_eq!(p.listeners[0].config, [("greeting", "hi")]);
    assert_eq!(p.listeners[2].realms, Some(&[2][..]));
}
