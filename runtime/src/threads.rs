//! The tokio runtime every zlc process runs on: the `zlc` command and every generated
//! binary. Two worker threads: the work is I/O, and the machines are small.

/// A multi-threaded runtime with two workers, I/O and timers enabled.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
