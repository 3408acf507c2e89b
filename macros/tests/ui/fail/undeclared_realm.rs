use zlc_runtime::{Context, Message, listener};

#[listener(events = "message", realms = [3])]
async fn on_message(_m: &Message<'_>, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

zlc_runtime::main!(realms = [1, 2], on_message);
