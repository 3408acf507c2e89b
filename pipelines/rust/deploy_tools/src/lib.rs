//! Handlers that `pipelines/deploys.toml` names (`handler = "deploy_tools::announce"`).
//!
//! Each carries its own `#[listener]`: the events it accepts (which type its argument
//! has) and filters of its own, which join the pipeline listener's filters; `zlc check`
//! reports a pipeline listener whose filters contradict them. `pipeline!` makes them a
//! pipeline of their own too, for the tests in `tests/`.

use zlc_runtime::{Context, Message, listener};

/// Announces a deploy (`deploy #N`) in #devel or #ops and keeps the count of deploys
/// in the listener's state. The environment named in the answer is config.
#[listener(
    events = "message",
    channels = ["devel", "ops"],
    content = "(?i)\\bdeploy #\\d+",
    config = { environment = "production" }
)]
pub async fn announce(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let number = deploy_number(msg.content()).unwrap_or_default();
    let environment = cx.config("environment").unwrap_or("production");
    let deploys = cx
        .state_get("deploys")
        .await?
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    cx.state_set("deploys", &deploys.to_string()).await?;
    cx.count("deploys");
    cx.reply(format!(
        "Deploying #{number} to {environment} (deploy {deploys} so far)"
    ));
    Ok(())
}

/// Answers `rollback #N` with who asked, privately, and refuses to guess a number.
#[listener(events = "message", content = "(?i)\\brollback\\b")]
pub fn rollback(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Permanent> {
    let Some(number) = deploy_number(msg.content()) else {
        return Err(zlc_runtime::permanent(
            "a rollback needs a deploy number: `rollback #12`",
        ));
    };
    cx.reply_privately(format!(
        "Rolling back deploy #{number}, as {} asked.",
        zlc_runtime::markup::user_text(msg.sender_name())
    ));
    Ok(())
}

/// The number after the first `#` in `text`.
fn deploy_number(text: &str) -> Option<u64> {
    let rest = &text[text.find('#')? + 1..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

zlc_runtime::pipeline!(name = "deploy_tools", announce, rollback);
