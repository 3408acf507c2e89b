use zlc_runtime::event::Reaction;
use zlc_runtime::{Context, listener};

#[listener(events = "reaction")]
pub fn tally(_r: &Reaction, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}
