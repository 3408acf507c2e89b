use zlc_runtime::{Context, Message, listener};

#[listener(events = "reaction:add")]
async fn on_reaction(_m: &Message<'_>, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

zlc_runtime::main!(on_reaction);
