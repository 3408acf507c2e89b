use zlc_runtime::{Context, Message, listener};

#[listener(events = "message")]
async fn by_value(_m: Message<'_>, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

#[listener(events = "message")]
async fn no_context(_m: &Message<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

zlc_runtime::main!(by_value, no_context);
