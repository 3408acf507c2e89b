//! `pipeline!` alone (in a library, for tests), the binary calling `run`.

#[zlc_runtime::listener(events = "message")]
async fn count_all(
    _msg: &zlc_runtime::Message<'_>,
    _cx: &zlc_runtime::Context<'_>,
) -> Result<(), zlc_runtime::Error> {
    Ok(())
}

zlc_runtime::pipeline!(count_all);

fn main() {
    assert_eq!(PIPELINE.desc.listeners.len(), 1);
    assert_eq!(PIPELINE.desc.listeners[0].name, "count_all");
    assert_eq!(PIPELINE.desc.event_types(), ["message"]);
}
