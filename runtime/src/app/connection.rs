//! One realm connection: connecting to Zulip (or opening a replay) gives a [`Connected`]
//! source; [`Connection::run`] then loops over its batches: dispatch, jobs,
//! acknowledgement, statistics.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::realms::realm_config;
use crate::actions::Effects;
use crate::client::{Client, RegisterRequest};
use crate::dispatch::DispatchFn;
use crate::engine::Engine;
use crate::error::Result;
use crate::exec::Executor;
use crate::outbox::{HttpSink, ZulipSink};
use crate::pipeline::{PipelineDesc, RealmDesc};
use crate::retry::{Retry, retrying};
use crate::source::{QueueOptions, QueueSource, ReplaySource, Source};
use crate::stats::{LogRow, Recorder, StatsBuf, now_secs};
use crate::store::Store;
use crate::template::RealmInfo;

/// A source of events for one realm, and what performing its listeners' actions needs.
pub(super) struct Connected {
    /// Where the events come from.
    pub(super) source: Source,
    /// Where posts to Zulip go.
    pub(super) zulip: ZulipSink,
    /// The realm, for templates.
    pub(super) realm: RealmInfo,
    /// The bot's user id (-1 in a replay).
    pub(super) own_user_id: i64,
    /// The organization's bots.
    pub(super) bots: HashSet<i64>,
}

/// A replay of `path` as realm `realm`: Zulip posts are logged, not sent.
pub(super) fn replay(realm: &RealmDesc, path: &Path) -> Result<Connected> {
    tracing::info!(realm = realm.id, file = %path.display(), "replaying");
    Ok(Connected {
        source: Source::Replay(ReplaySource::open(path)?),
        zulip: ZulipSink::DryRun,
        realm: RealmInfo {
            id: realm.id,
            name: realm.name.unwrap_or("").to_owned(),
            site: String::new(),
        },
        own_user_id: -1,
        bots: HashSet::new(),
    })
}

/// Connects to realm `realm` and prepares its event queue (resumed from the store's
/// checkpoint). `None` when cancelled while waiting for the server.
pub(super) async fn connect(
    p: &'static PipelineDesc,
    realm: &RealmDesc,
    store: &Store,
    config_file: Option<&Path>,
    cancel: &CancellationToken,
) -> Result<Option<Connected>> {
    let config = realm_config(realm, config_file.map(Path::to_path_buf).as_ref())?;
    let client = Client::new(&config)?;
    // The first requests wait out a restarting or overloaded server with the same
    // policy as the poller, which continues from this state.
    let mut retry = Retry::new(config.site_url());
    let Some(info) = retrying(&mut retry, cancel, || client.hello()).await? else {
        return Ok(None);
    };
    tracing::info!(
        realm = realm.id,
        site = config.site_url(),
        bot = %info.me.email,
        zulip = %info.settings.zulip_version,
        feature_level = info.settings.zulip_feature_level,
        "connected"
    );
    let label = realm.name.unwrap_or("");
    let realm_info = RealmInfo {
        id: realm.id,
        name: if label.is_empty() {
            info.settings.realm_name.clone().unwrap_or_default()
        } else {
            label.to_owned()
        },
        site: info
            .settings
            .realm_url()
            .unwrap_or(config.site_url())
            .trim_end_matches('/')
            .to_owned(),
    };
    let register = RegisterRequest {
        event_types: Some(p.event_types()),
        narrow: Vec::new(),
        all_public_streams: realm.all_public_streams,
        apply_markdown: false,
        client_capabilities: Some(RegisterRequest::capabilities()),
        queue_lifespan_secs: None,
    };
    let opts = QueueOptions {
        connection: format!("{}/realm-{}", p.name, realm.id),
        register,
    };
    let q = QueueSource::new(client.clone(), Some(store.clone()), opts).with_retry(retry);
    Ok(Some(Connected {
        source: Source::Queue(Box::new(q)),
        zulip: ZulipSink::Live(client),
        realm: realm_info,
        own_user_id: info.me.user_id,
        bots: info.bots,
    }))
}

/// One realm connection's loop.
pub(super) struct Connection {
    pub(super) p: &'static PipelineDesc,
    pub(super) dispatch: DispatchFn,
    /// Which listeners run on this realm.
    pub(super) enabled: Vec<bool>,
    pub(super) store: Store,
    pub(super) recorder: Arc<Recorder>,
    pub(super) cancel: CancellationToken,
}

impl Connection {
    /// Runs the listeners over `connected`'s events until the source ends or the run is
    /// cancelled.
    pub(super) async fn run(self, connected: Connected) -> Result<()> {
        let p = self.p;
        let Connected {
            mut source,
            zulip,
            realm,
            own_user_id,
            bots,
        } = connected;
        let settings = self.store.listener_settings(p.name).await?;
        let effects = Effects::new(
            p.name,
            zulip,
            HttpSink::Live,
            Some(self.store.clone()),
            realm,
            own_user_id,
        )?;
        let executor = Arc::new(Executor::new(p, effects, &settings)?);
        let mut engine = Engine::new(p, self.dispatch, self.enabled, own_user_id, bots, executor);
        let mut buf = StatsBuf::new(p.listeners.len(), now_secs() / 3600);
        let mut log_rows: Vec<LogRow> = Vec::new();
        while let Some(batch) = source.next_batch(&self.cancel).await? {
            engine
                .process(batch.events(), now_secs(), &mut buf, &mut log_rows)
                .await;
            source.ack(batch.ack()).await?;
            self.recorder.record(&mut buf, &mut log_rows);
        }
        Ok(())
    }
}
