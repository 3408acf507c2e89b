use zlc_runtime::{Context, command};

// A type the message cannot be read as.
#[command(description = "Wait until then")]
async fn wait(until: std::time::Instant, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let _ = (until, cx);
    Ok(())
}

zlc_runtime::main!(wait);
