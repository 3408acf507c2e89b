use zlc_runtime::{Context, Message, listener};

#[listener(command = "deploy <environment: staging|production>")]
async fn deploy(_m: &Message<'_>, _cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

zlc_runtime::main!(deploy);
