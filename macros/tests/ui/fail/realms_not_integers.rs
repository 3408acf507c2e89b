use zlc_runtime::{Context, Message, listener};

#[listener(events = "message", realms = ["main", 2])]
async fn on_message(_m: &Message<'_>, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

zlc_runtime::main!(on_message);
