//! Metrics and health over HTTP (`NAME run --metrics ADDR`): `/metrics` in the
//! Prometheus/OpenMetrics text format (encoded by `prometheus-client`), `/healthz`
//! (the process answers) and `/readyz` (every connection this process polls has its
//! event queue, and the store answers).
//!
//! Labels come only from names fixed at build time (listeners, the pipeline's realm
//! connections) and from a few fixed words, never from event content. Nothing on the
//! per-event path touches a metric: the statistics of each written batch are added
//! at once, and the connection loop sets its gauges once per turn.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::pipeline::PipelineDesc;
use crate::source::{QueueState, SourceStats};
use crate::stats::StatsBuf;
use crate::store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    listener: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    connection: String,
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    listeners: Vec<String>,
    events: Counter,
    malformed: Counter,
    seen: Family<ListenerLabels, Counter>,
    matched: Family<ListenerLabels, Counter>,
    jobs: Family<JobLabels, Counter>,
    retries: Family<ListenerLabels, Counter>,
    breaker_open: Family<ListenerLabels, Gauge>,
    breaker_trips: Family<ListenerLabels, Counter>,
    registrations: Family<ConnectionLabels, Counter>,
    gaps: Family<ConnectionLabels, Counter>,
    lag: Family<ConnectionLabels, Gauge<f64, AtomicU64>>,
    in_flight: Family<ConnectionLabels, Gauge>,
    write_errors: Family<ConnectionLabels, Counter>,
    polling: Family<ConnectionLabels, Gauge>,
    /// Per connection: its queue's state, and the source's counters last seen.
    connections: Mutex<HashMap<String, (QueueState, u64, u64)>>,
}

impl Metrics {
    fn new(p: &PipelineDesc) -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("zlc"),
            listeners: p.listeners.iter().map(|l| l.name.to_owned()).collect(),
            events: Counter::default(),
            malformed: Counter::default(),
            seen: Family::default(),
            matched: Family::default(),
            jobs: Family::default(),
            retries: Family::default(),
            breaker_open: Family::default(),
            breaker_trips: Family::default(),
            registrations: Family::default(),
            gaps: Family::default(),
            lag: Family::default(),
            in_flight: Family::default(),
            write_errors: Family::default(),
            polling: Family::default(),
            connections: Mutex::new(HashMap::new()),
        };
        m.registry.register(
            "events",
            "Events received and dispatched (written with their checkpoint)",
            m.events.clone(),
        );
        m.registry.register(
            "malformed_events",
            "Events skipped because they could not be read",
            m.malformed.clone(),
        );
        m.registry.register(
            "listener_seen",
            "Events that reached a listener's filters",
            m.seen.clone(),
        );
        m.registry.register(
            "listener_matched",
            "Events that passed a listener's filters",
            m.matched.clone(),
        );
        m.registry.register("jobs", "Jobs ended, by outcome: succeeded, failed (dead letter) or limited (held back by a rate limit)", m.jobs.clone());
        m.registry.register(
            "action_retries",
            "Attempts of actions retried after a retryable failure",
            m.retries.clone(),
        );
        m.registry.register(
            "breaker_open",
            "1 while the listener's circuit breaker is open",
            m.breaker_open.clone(),
        );
        m.registry.register(
            "breaker_trips",
            "Times the listener's circuit breaker opened",
            m.breaker_trips.clone(),
        );
        m.register_connection_metrics();
        m
    }

    /// The per-connection families.
    fn register_connection_metrics(&mut self) {
        self.registry.register(
            "queue_registrations",
            "Event queues registered (the first one included)",
            self.registrations.clone(),
        );
        self.registry.register(
            "gaps",
            "Event queues lost (expired or pruned): recovered by a backfill, a gap recorded",
            self.gaps.clone(),
        );
        self.registry.register(
            "lag_seconds",
            "Age of the oldest received event whose work is not yet written and acknowledged",
            self.lag.clone(),
        );
        self.registry.register(
            "jobs_in_flight",
            "Jobs waiting or running",
            self.in_flight.clone(),
        );
        self.registry.register(
            "store_write_errors",
            "Writes of acknowledged work that failed (retried)",
            self.write_errors.clone(),
        );
        self.registry.register(
            "polling",
            "1 while this process polls the connection's event queue",
            self.polling.clone(),
        );
    }

    fn listener(&self, i: usize) -> ListenerLabels {
        ListenerLabels {
            listener: self.listeners.get(i).cloned().unwrap_or_default(),
        }
    }

    fn connection(connection: &str) -> ConnectionLabels {
        ConnectionLabels {
            connection: connection.to_owned(),
        }
    }

    /// Adds a written batch's statistics.
    pub fn record(&self, buf: &StatsBuf) {
        self.events.inc_by(buf.events);
        self.malformed.inc_by(buf.malformed);
        for (i, c) in buf.totals().iter().enumerate() {
            if c.is_zero() {
                continue;
            }
            let l = self.listener(i);
            self.seen.get_or_create(&l).inc_by(c.seen);
            self.matched.get_or_create(&l).inc_by(c.matched);
            for (outcome, n) in [
                ("succeeded", c.succeeded),
                ("failed", c.failed),
                ("limited", c.limited),
            ] {
                if n > 0 {
                    self.jobs
                        .get_or_create(&JobLabels {
                            listener: l.listener.clone(),
                            outcome: outcome.to_owned(),
                        })
                        .inc_by(n);
                }
            }
        }
    }

    /// An action of listener `listener` is tried again.
    pub fn retried(&self, listener: &str) {
        self.retries
            .get_or_create(&ListenerLabels {
                listener: listener.to_owned(),
            })
            .inc();
    }

    /// Listener `i`'s breaker is open or closed now; `tripped`: it just opened.
    pub fn breaker(&self, i: usize, open: bool, tripped: bool) {
        let l = self.listener(i);
        self.breaker_open.get_or_create(&l).set(i64::from(open));
        if tripped {
            self.breaker_trips.get_or_create(&l).inc();
        }
    }

    /// A connection's queue state changed.
    pub fn queue_state(&self, connection: &str, state: QueueState) {
        lock(&self.connections)
            .entry(connection.to_owned())
            .or_insert((state, 0, 0))
            .0 = state;
        self.polling
            .get_or_create(&Metrics::connection(connection))
            .set(i64::from(state == QueueState::Polling));
    }

    /// A connection stopped (shutdown, or another process took it).
    pub fn connection_closed(&self, connection: &str) {
        lock(&self.connections).remove(connection);
        let labels = Metrics::connection(connection);
        self.polling.get_or_create(&labels).set(0);
        self.in_flight.get_or_create(&labels).set(0);
        self.lag.get_or_create(&labels).set(0.0);
    }

    /// A connection's turn: its jobs in flight, its lag, and its source's counters.
    pub fn turn(
        &self,
        connection: &str,
        in_flight: usize,
        lag: Duration,
        source: Option<&SourceStats>,
    ) {
        let labels = Metrics::connection(connection);
        self.in_flight.get_or_create(&labels).set(in_flight as i64);
        self.lag.get_or_create(&labels).set(lag.as_secs_f64());
        if let Some(s) = source {
            let mut map = lock(&self.connections);
            let entry = map
                .entry(connection.to_owned())
                .or_insert((QueueState::Connecting, 0, 0));
            let (registrations, lost) = (s.registrations, s.queues_lost);
            self.registrations
                .get_or_create(&labels)
                .inc_by(registrations.saturating_sub(entry.1));
            self.gaps
                .get_or_create(&labels)
                .inc_by(lost.saturating_sub(entry.2));
            entry.1 = entry.1.max(registrations);
            entry.2 = entry.2.max(lost);
        }
    }

    /// A write of acknowledged work failed.
    pub fn write_failed(&self, connection: &str) {
        self.write_errors
            .get_or_create(&Metrics::connection(connection))
            .inc();
    }

    /// The text of `/metrics`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "could not encode the metrics");
        }
        out
    }

    /// The connections this process polls, and whether all have their queue.
    fn readiness(&self) -> (bool, String) {
        let map = lock(&self.connections);
        let mut names: Vec<_> = map.iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        let mut ready = true;
        let mut text = String::new();
        for (name, (state, _, _)) in names {
            let word = match state {
                QueueState::Polling => "polling",
                QueueState::Connecting => {
                    ready = false;
                    "connecting"
                }
                QueueState::Failing => {
                    ready = false;
                    "failing (waiting to try again)"
                }
            };
            text.push_str(&format!("{name}: {word}\n"));
        }
        if text.is_empty() {
            text.push_str("no connection polled by this process (standing by)\n");
        }
        (ready, text)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads `--metrics`: `PORT` (on 127.0.0.1) or `ADDRESS:PORT`.
pub fn parse_addr(s: &str) -> std::result::Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse::<SocketAddr>().map_err(|_| {
        format!("{s:?} is not a port or an address with a port (9898, 127.0.0.1:9898, [::1]:9898, 0.0.0.0:9898)")
    })
}

/// Starts collecting metrics for `p` and serves them on `addr` until `cancel`. Returns
/// the address bound (port 0 picks one).
pub async fn serve(
    p: &PipelineDesc,
    addr: SocketAddr,
    store: Store,
    cancel: CancellationToken,
) -> Result<(SocketAddr, Arc<Metrics>)> {
    let (listener, local) = crate::net::bind("--metrics", addr).await?;
    let metrics = Arc::new(Metrics::new(p));
    let served = metrics.clone();
    if !local.ip().is_loopback() {
        tracing::warn!(address = %local, "metrics and health are served beyond this host; they show listener names and connection state");
    }
    tracing::info!("metrics on http://{local}/metrics; health on /healthz and /readyz");
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!(error = %e, "metrics: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let (store, metrics) = (store.clone(), served.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (store, metrics) = (store.clone(), metrics.clone());
                    async move { Ok::<_, std::convert::Infallible>(answer(req, &store, &metrics).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(30), conn).await {
                    tracing::debug!(error = %e, "metrics: connection ended");
                }
            });
        }
    });
    Ok((local, metrics))
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    store: &Store,
    m: &Metrics,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, kind: &'static str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(kind),
        );
        r
    };
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "only GET\n".into());
    }
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            m.encode(),
        ),
        "/healthz" => reply(StatusCode::OK, TEXT, "ok\n".into()),
        "/readyz" => {
            let (mut ready, mut text) = m.readiness();
            match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
                Ok(Ok(())) => text.push_str("store: ok\n"),
                Ok(Err(e)) => {
                    ready = false;
                    text.push_str(&format!("store: {e}\n"));
                }
                Err(_) => {
                    ready = false;
                    text.push_str("store: no answer within 2 s\n");
                }
            }
            let status = if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            reply(status, TEXT, text)
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: /metrics, /healthz or /readyz\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_addr("9898").unwrap().to_string(), "127.0.0.1:9898");
        assert_eq!(
            parse_addr("0.0.0.0:9000").unwrap().to_string(),
            "0.0.0.0:9000"
        );
        assert_eq!(parse_addr("[::1]:9000").unwrap().to_string(), "[::1]:9000");
        assert!(parse_addr("localhost").is_err());
        assert!(parse_addr("99999").is_err());
    }
}
