use zlc_runtime::event::Reaction;
use zlc_runtime::{Context, listener};

#[listener(events = "reaction", action(type = "log", template = "{{message.content}}"))]
async fn on_reaction(_r: &Reaction, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

zlc_runtime::main!(on_reaction);
