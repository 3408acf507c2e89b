use zlc_runtime::{Context, schedule};

// A day that is none, and a function that takes more than the context.
#[schedule(every = "someday 09:00", timezone = "Europe/Berln")]
fn remind(cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    cx.send("team", "t", "hi");
    Ok(())
}

#[schedule(every = "10m")]
fn tally(n: u32, cx: &Context<'_>) -> Result<(), zlc_runtime::Error> {
    let _ = (n, cx);
    Ok(())
}

zlc_runtime::main!(remind, tally);
