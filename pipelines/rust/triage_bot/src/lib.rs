//! A triage bot written in Rust. `@**Bot** triage high` starts triaging the topic: the
//! command's argument is read as [`Severity`] (one of its variants, in any case), and
//! the bot asks who owns it; the next message in the topic is the answer, and the bot
//! files both. The conversation (per topic, or per direct message) lives in the SQL
//! store, so it survives a restart. `@**Bot** help` lists the commands;
//! `@**Bot** triage hgih` gets the usage line. On weekday mornings it reminds #ops of
//! the triage review (`#[schedule]`).
//!
//! Run it: `PIPELINE.main()` from a binary's `main`, or try it in tests (`tests/`).

use zlc_runtime::{Choice, Context, Message, command, listener, schedule};

/// How bad it is.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// It can wait.
    Low,
    /// Today.
    High,
    /// Now.
    Critical,
}

/// Starts triaging the topic, at `severity`; `--page` pages the on-call person too.
#[command(description = "Start triaging this topic")]
pub fn triage(severity: Severity, page: bool, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let Some(c) = cx.conversation() else {
        return Ok(());
    };
    c.set("severity", format!("{severity:?}").to_lowercase());
    c.set_state("owner");
    let paged = if page { " (paging on-call)" } else { "" };
    cx.reply(format!(
        "Triaging at {severity:?} severity{paged}. Who owns it?"
    ));
    Ok(())
}

/// Files the triage with the owner named in the next message of the topic (messages
/// for the bot are commands, not answers).
#[listener(events = "message", mentioned = false)]
pub fn owner(msg: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let Some(c) = cx.conversation() else {
        return Ok(());
    };
    if c.state().as_deref() != Some("owner") {
        return Ok(());
    }
    let severity = c.get("severity").unwrap_or_default();
    c.end();
    cx.reply(format!(
        "Filed: {severity} severity, owned by {}.",
        msg.content().trim()
    ));
    Ok(())
}

/// A reminder on weekday mornings, Berlin time: each tick is posted once, however many
/// processes run the bot.
#[schedule(every = "weekday 09:00", timezone = "Europe/Berlin")]
pub fn review(cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let day = cx.event()["tick"]["weekday"]
        .as_str()
        .unwrap_or("today")
        .to_owned();
    cx.send(
        "ops",
        "triage",
        format!("Good morning! {day}'s triage review is in 30 minutes."),
    );
    Ok(())
}

zlc_runtime::pipeline!(name = "triage_bot", triage, owner, review);
