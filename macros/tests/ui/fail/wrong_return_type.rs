use zlc_runtime::{Context, Message, listener};

#[listener(events = "message")]
async fn no_result(_m: &Message<'_>, _cx: &Context<'_>) {}

#[listener(events = "message")]
async fn an_option(_m: &Message<'_>, _cx: &Context<'_>) -> Option<()> {
    None
}

zlc_runtime::main!(no_result, an_option);
