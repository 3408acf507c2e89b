//! Telling a supervisor how the process stands, in systemd's readiness protocol
//! (`sd_notify`): when `NOTIFY_SOCKET` names a Unix datagram socket (systemd with
//! `Type=notify`, or `zlc run --watch`), the process sends
//!
//! * `READY=1` once every realm connection has said hello to its server and either
//!   polls its queue or stands by for its lease (it can take over at once),
//! * `STATUS=polling N of M connections` whenever that number changes,
//! * `STOPPING=1` when it begins to shut down.
//!
//! Without the variable nothing is sent. A message that cannot be sent is dropped: the
//! supervisor is told, never waited for.

use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

/// The readiness of this process's connections, sent as it changes.
#[derive(Debug)]
pub(super) struct Readiness {
    socket: Option<String>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Per connection: said hello (ready to poll or take over).
    prepared: Vec<bool>,
    /// Per connection: polling its queue.
    polling: Vec<bool>,
    ready_sent: bool,
    last_status: Option<String>,
}

impl Readiness {
    /// For `connections` connections, sending to `$NOTIFY_SOCKET` if set.
    pub(super) fn from_env(connections: usize) -> Self {
        Self::to(std::env::var("NOTIFY_SOCKET").ok(), connections)
    }

    fn to(socket: Option<String>, connections: usize) -> Self {
        Readiness {
            socket: socket.filter(|s| !s.is_empty()),
            state: Mutex::new(State {
                prepared: vec![false; connections],
                polling: vec![false; connections],
                ready_sent: false,
                last_status: None,
            }),
        }
    }

    /// Connection `i` said hello (or needs none: a replay).
    pub(super) fn prepared(&self, i: usize) {
        self.update(|s| {
            if let Some(p) = s.prepared.get_mut(i) {
                *p = true;
            }
        });
    }

    /// Connection `i` polls its queue (`true`) or not (`false`).
    pub(super) fn polling(&self, i: usize, on: bool) {
        self.update(|s| {
            if let Some(p) = s.polling.get_mut(i) {
                *p = on;
            }
        });
    }

    /// The process stops.
    pub(super) fn stopping(&self) {
        self.send("STOPPING=1");
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        let message = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            change(&mut s);
            let mut lines = Vec::new();
            if !s.ready_sent && s.prepared.iter().all(|p| *p) {
                s.ready_sent = true;
                lines.push("READY=1".to_owned());
            }
            let status = format!(
                "STATUS=polling {} of {} connection{}",
                s.polling.iter().filter(|p| **p).count(),
                s.polling.len(),
                if s.polling.len() == 1 { "" } else { "s" }
            );
            if s.last_status.as_deref() != Some(&status) {
                s.last_status = Some(status.clone());
                lines.push(status);
            }
            lines.join("\n")
        };
        if !message.is_empty() {
            self.send(&message);
        }
    }

    fn send(&self, message: &str) {
        let Some(path) = &self.socket else {
            return;
        };
        if let Err(e) = send_to(path, message) {
            tracing::debug!(socket = %path, error = %e, "could not notify the supervisor");
        }
    }
}

/// Sends one datagram to the socket at `path` (`@name`: Linux's abstract namespace).
fn send_to(path: &str, message: &str) -> std::io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    #[cfg(target_os = "linux")]
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        socket.send_to_addr(message.as_bytes(), &addr)?;
        return Ok(());
    }
    socket.send_to(message.as_bytes(), path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(socket: &UnixDatagram) -> Vec<String> {
        socket.set_nonblocking(true).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn ready_once_every_connection_is_prepared_and_status_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let r = Readiness::to(Some(path.display().to_string()), 2);
        r.prepared(0);
        assert_eq!(received(&socket), ["STATUS=polling 0 of 2 connections"]);
        r.prepared(1);
        assert_eq!(received(&socket), ["READY=1"]);
        r.polling(1, true);
        r.polling(1, true);
        assert_eq!(received(&socket), ["STATUS=polling 1 of 2 connections"]);
        r.polling(0, true);
        r.prepared(0);
        r.polling(1, false);
        assert_eq!(
            received(&socket),
            [
                "STATUS=polling 2 of 2 connections",
                "STATUS=polling 1 of 2 connections"
            ]
        );
        r.stopping();
        assert_eq!(received(&socket), ["STOPPING=1"]);
    }

    #[test]
    fn nothing_is_sent_without_a_socket_and_a_dead_one_is_not_waited_for() {
        let started = std::time::Instant::now();
        let quiet = Readiness::to(None, 1);
        assert!(quiet.socket.is_none());
        quiet.prepared(0);
        let dead = Readiness::to(Some("/nonexistent/zlc-notify.sock".into()), 1);
        dead.prepared(0);
        dead.stopping();
        assert!(
            send_to("/nonexistent/zlc-notify.sock", "READY=1").is_err(),
            "the send fails, and the failure is only logged"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
