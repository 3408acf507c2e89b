use zlc_runtime::{Context, Rest, command};

// The rest of the message is the last argument; a required one cannot follow an
// optional one.
#[command(description = "Keep a note")]
fn note(text: Rest, tag: String, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let _ = (text, tag, cx);
    Ok(())
}

#[command(description = "Scale")]
fn scale(replicas: Option<u16>, zone: String, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let _ = (replicas, zone, cx);
    Ok(())
}

zlc_runtime::main!(note, scale);
