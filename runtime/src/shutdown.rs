//! Shutdown on SIGINT or SIGTERM: the first signal cancels a token (connections stop
//! polling, let their jobs end up to the drain deadline, write, and return); a second
//! one exits at once.

use tokio_util::sync::CancellationToken;

/// Cancels `cancel` on the first SIGINT/SIGTERM; exits with 130 on the second.
pub fn cancel_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            "shutting down: polling stops, jobs in flight may end (up to --drain-timeout), then their work is written; signal again to exit now"
        );
        cancel.cancel();
        wait_for_signal().await;
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
