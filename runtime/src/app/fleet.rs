//! Several processes, one store: each realm connection is polled by the process that
//! holds its lease (`store::leases`). A process waits for a connection's lease, renews
//! it every third of its time to live while it runs the connection, and gives it up at
//! shutdown (so a standby takes over at once). Connections spread over the live
//! processes: a process takes no more than its share (the connections divided by the
//! live processes, rounded up) and hands one over, after draining it, when it holds
//! more (a process joined).
//!
//! **Two builds at once** (a rolling upgrade, a `--watch` handover): the store numbers
//! builds in the order it first saw them. While a process of a newer build lives, a
//! process of an older one takes no connection at all, not even from a holder that
//! died, and keeps the ones it polls until it is stopped; the processes of the newest
//! build share the connections among themselves. So every connection is polled by one
//! build at a time, moves to the newer build as the older processes are drained, and
//! never goes back and forth between them (each move to another build re-registers its
//! queue when the builds register differently).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::pipeline::PipelineDesc;
use crate::store::Store;

/// How often this process tells the store it lives (and renews what it holds).
pub(super) const HEARTBEAT: Duration = Duration::from_secs(5);

/// How often a process waiting for a lease tries again.
const ACQUIRE_EVERY: Duration = Duration::from_secs(1);

/// How often, when the holder is a process of this host (a local handover, which a
/// cheap check can follow closely).
const ACQUIRE_EVERY_LOCAL: Duration = Duration::from_millis(100);

/// This process's part of the fleet.
#[derive(Debug)]
pub(super) struct Fleet {
    store: Store,
    p: &'static PipelineDesc,
    owner: &'static str,
    /// The build this process runs, and its place in the store's order of builds.
    build: String,
    rank: i64,
    /// Whether this process said that a newer build runs.
    outdated_said: AtomicBool,
    /// Seconds a lease lives unless renewed.
    ttl: i64,
    /// The connections this process may run.
    connections: usize,
    /// How many of them it holds.
    held: AtomicUsize,
}

/// A lease this process holds, and the tokens its connection stops on.
#[derive(Debug)]
pub(super) struct Held {
    connection: String,
    generation: i64,
    /// Cancelled when the connection must stop: shutdown, the lease lost, or handed over.
    pub(super) stop: CancellationToken,
    /// Cancelled when the lease was lost: stop at once and write nothing more.
    pub(super) lost: CancellationToken,
    /// Set when the renewer handed the connection over to balance the fleet.
    handed_over: Arc<AtomicBool>,
    renewer: JoinHandle<()>,
}

impl Held {
    /// Whether it stopped to be handed over to another process.
    pub(super) fn handed_over(&self) -> bool {
        self.handed_over.load(Ordering::Relaxed)
    }
}

impl Fleet {
    pub(super) fn new(
        store: Store,
        p: &'static PipelineDesc,
        owner: &'static str,
        (build, rank): (String, i64),
        ttl: Duration,
        connections: usize,
    ) -> Arc<Self> {
        Arc::new(Fleet {
            store,
            p,
            owner,
            build,
            rank,
            outdated_said: AtomicBool::new(false),
            ttl: ttl.as_secs().max(3) as i64,
            connections,
            held: AtomicUsize::new(0),
        })
    }

    /// How many connections this process should hold at most: its part of the
    /// connections among the live processes of the newest build, or (a process of an
    /// older build while a newer one lives) `None`: take nothing more, hand nothing
    /// over. Processes count as live while their heartbeat is younger than the lease's
    /// time to live (at least two heartbeats): a stalled process stops counting about
    /// when its leases lapse.
    async fn share(&self) -> Option<usize> {
        let window = (self.ttl - 1).max(HEARTBEAT.as_secs() as i64 + 2);
        let Ok(owners) = self.store.live_owners(self.p.name, window).await else {
            return Some(self.connections);
        };
        let live: Vec<_> = owners
            .iter()
            .filter(|o| !crate::store::effects::gone_from_this_host(&o.owner))
            .collect();
        let newest = live.iter().map(|o| o.build_rank).max().unwrap_or(self.rank);
        if newest > self.rank {
            if !self.outdated_said.swap(true, Ordering::Relaxed) {
                let build = live
                    .iter()
                    .find(|o| o.build_rank == newest)
                    .map_or("", |o| o.build.as_str());
                tracing::info!(
                    newer_build = build,
                    this_build = %self.build,
                    "a newer build of this pipeline runs: this process keeps the connections it polls until it is stopped, and takes no other"
                );
            }
            return None;
        }
        self.outdated_said.store(false, Ordering::Relaxed);
        let peers = live.iter().filter(|o| o.build_rank == newest).count();
        Some(self.connections.div_ceil(peers.max(1)))
    }

    /// Waits until this process holds `connection`'s lease (`None`: cancelled first).
    pub(super) async fn acquire(
        self: &Arc<Self>,
        connection: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Held>> {
        let mut standing_by_for: Option<String> = None;
        let mut failing = false;
        loop {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            // Under its share a process takes any free lease; at its share, only one
            // whose holder died or stalled (not one handed over to balance the fleet),
            // so that no connection waits for the balance to settle. A process of an
            // older build takes none while a newer one lives.
            let take = match self.share().await {
                None => false,
                Some(share) => {
                    self.held.load(Ordering::SeqCst) < share
                        || matches!(
                            self.store.lease(connection).await,
                            Ok(Some(l)) if l.expires_at > 0 && l.is_free(crate::clock::now_secs())
                        )
                }
            };
            let mut wait = ACQUIRE_EVERY;
            if take {
                match self
                    .store
                    .try_acquire_lease(self.p.name, connection, self.owner, &self.build, self.ttl)
                    .await
                {
                    Ok(Ok(generation)) => {
                        self.held.fetch_add(1, Ordering::SeqCst);
                        tracing::info!(
                            connection,
                            generation,
                            "holding the lease: this process polls the connection"
                        );
                        return Ok(Some(self.hold(connection, generation, cancel)));
                    }
                    Ok(Err(holder)) => {
                        if crate::store::effects::on_this_host(&holder.owner) {
                            wait = ACQUIRE_EVERY_LOCAL;
                        }
                        if standing_by_for.as_deref() != Some(holder.owner.as_str()) {
                            tracing::info!(
                                connection,
                                holder = %holder.owner,
                                "standing by: another process polls this connection"
                            );
                            standing_by_for = Some(holder.owner);
                        }
                        failing = false;
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(connection, error = %e, "cannot read the connection's lease; trying again");
                            failing = true;
                        }
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(None),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Starts renewing a lease just taken.
    fn hold(
        self: &Arc<Self>,
        connection: &str,
        generation: i64,
        cancel: &CancellationToken,
    ) -> Held {
        let stop = cancel.child_token();
        let lost = CancellationToken::new();
        let handed_over = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (fleet, connection) = (self.clone(), connection.to_owned());
            let (stop, lost, handed_over) = (stop.clone(), lost.clone(), handed_over.clone());
            let every = Duration::from_secs((self.ttl / 3).max(1) as u64);
            tokio::spawn(async move {
                let mut failing = false;
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(every) => {}
                    }
                    match fleet
                        .store
                        .renew_lease(&connection, fleet.owner, generation, fleet.ttl)
                        .await
                    {
                        Ok(true) => failing = false,
                        Ok(false) => {
                            tracing::warn!(
                                connection,
                                "lost the lease: another process took this connection over; stopping it here"
                            );
                            lost.cancel();
                            stop.cancel();
                            break;
                        }
                        Err(e) => {
                            // The fence still guards the checkpoint; the renewal is tried
                            // again next time.
                            if !failing {
                                tracing::warn!(connection, error = %e, "cannot renew the lease");
                                failing = true;
                            }
                            continue;
                        }
                    }
                    let held = fleet.held.load(Ordering::SeqCst);
                    let Some(share) = fleet.share().await else {
                        // An older build keeps what it polls until it is stopped.
                        continue;
                    };
                    if held > share
                        && fleet
                            .held
                            .compare_exchange(held, held - 1, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok()
                    {
                        tracing::info!(
                            connection,
                            held,
                            share,
                            "handing this connection over to another process, to spread the connections"
                        );
                        handed_over.store(true, Ordering::Relaxed);
                        stop.cancel();
                        break;
                    }
                }
            })
        };
        Held {
            connection: connection.to_owned(),
            generation,
            stop,
            lost,
            handed_over,
            renewer,
        }
    }

    /// Ends a lease after its connection stopped: given up (unless it was lost), so
    /// that another process may take it at once.
    pub(super) async fn finish(&self, held: Held) {
        held.renewer.abort();
        if !held.handed_over() {
            self.held.fetch_sub(1, Ordering::SeqCst);
        }
        if held.lost.is_cancelled() {
            return;
        }
        if let Err(e) = self
            .store
            .release_lease(&held.connection, self.owner, held.generation)
            .await
        {
            tracing::warn!(connection = held.connection, error = %e, "could not give the lease up; it lapses by itself");
        }
    }
}
