//! Live configuration: enable/disable and config values changed in the store reach
//! running processes within seconds. A watcher polls the pipeline's config version (a
//! cheap query, also behind a connection pooler) and, when it moves, loads the listeners'
//! overrides and publishes them; each connection applies them between batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::pipeline::PipelineDesc;
use crate::store::Store;

/// How often the config version is read.
pub(super) const POLL: Duration = Duration::from_secs(2);

/// What the store says about the listeners, at one config version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LiveConfig {
    pub(super) version: i64,
    /// Enable/disable overrides, by listener name.
    pub(super) enabled: HashMap<String, bool>,
    /// Config values, by listener name.
    pub(super) settings: HashMap<String, Vec<(String, String)>>,
}

/// The live configuration now.
pub(super) async fn load(store: &Store, p: &PipelineDesc) -> Result<LiveConfig> {
    // The version first: a change made during the two reads shows up next time.
    let version = store.config_version(p.name).await?;
    Ok(LiveConfig {
        version,
        enabled: store.listener_overrides(p.name).await?,
        settings: store.listener_settings(p.name).await?,
    })
}

/// Watches the store for changes (until `cancel`), starting from `initial`.
pub(super) fn watch(
    store: Store,
    p: &'static PipelineDesc,
    initial: LiveConfig,
    cancel: CancellationToken,
) -> watch::Receiver<Arc<LiveConfig>> {
    let (tx, rx) = watch::channel(Arc::new(initial));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
            }
            let current = tx.borrow().version;
            match store.config_version(p.name).await {
                Ok(v) if v != current => match load(&store, p).await {
                    Ok(cfg) => {
                        tracing::info!(
                            version = cfg.version,
                            "the listeners' configuration changed; applying it"
                        );
                        let _ = tx.send(Arc::new(cfg));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "could not read the changed configuration")
                    }
                },
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "could not read the config version"),
            }
        }
    });
    rx
}
