//! Three mistakes in one attribute are three errors, each on its token; the function is
//! still emitted, so using it and naming it in main! add nothing.
use zlc_runtime::{Context, Message, listener};

#[listener(events = "message", chanels = ["devel"], max_age = "an hour", action(type = "reakt"))]
async fn on_message(m: &Message<'_>, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    cx.reply(m.content().to_owned());
    Ok(())
}

zlc_runtime::main!(on_message);
