//! What a connection may acknowledge and write, given the batches it received and the
//! jobs that ended: a pure state machine, told what happened and when.
//!
//! A batch is acknowledged once all its jobs have ended, every batch before it too, and
//! it was received whole (a batch cut short by shutdown comes again). Acknowledged work
//! (statistics, event-log rows, the acknowledgement) waits here, unwritten, until the
//! connection writes it with the checkpoint that passes it; only then is Zulip told.
//! While the store refuses writes, the ledger keeps everything and says how long to
//! wait before the next try.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::jobs::Finished;
use crate::source::Ack;
use crate::stats::{LogRow, StatsBuf};

/// The longest wait between tries of a write the store refused.
const RETRY_WRITE_MAX: Duration = Duration::from_secs(10);

/// A batch whose jobs have not all ended: what its acknowledgement waits for, and what
/// it counted so far.
#[derive(Debug)]
pub(super) struct Pending {
    ticket: u64,
    /// When its events arrived.
    received: Instant,
    ack: Ack,
    /// Its jobs still running.
    pub(super) remaining: usize,
    /// Whether all its events were dispatched.
    whole: bool,
    /// What dispatch and its jobs counted.
    pub(super) stats: StatsBuf,
    /// Its event-log rows.
    pub(super) log: Vec<LogRow>,
}

/// Acknowledged work not written yet.
#[derive(Debug)]
struct Unwritten {
    ack: Option<Ack>,
    stats: StatsBuf,
    log: Vec<LogRow>,
    /// When the oldest of its events arrived.
    oldest: Option<Instant>,
    /// The last write (attempted), and whether it failed.
    last: Instant,
    failing: Option<Backoff>,
}

/// What a write takes: the acknowledgement (when there is one), the statistics and the
/// event-log rows acknowledged since the last write.
#[derive(Debug)]
pub(super) struct ToWrite<'a> {
    pub(super) ack: Option<Ack>,
    pub(super) stats: &'a StatsBuf,
    pub(super) log: &'a [LogRow],
}

/// The ledger of one connection.
#[derive(Debug)]
pub(super) struct AckLedger {
    listeners: usize,
    pending: VecDeque<Pending>,
    next_ticket: u64,
    unwritten: Unwritten,
}

impl AckLedger {
    /// An empty ledger for `listeners` listeners, counting in hour `hour` (Unix seconds
    /// / 3600); `now` counts as the last write.
    pub(super) fn new(listeners: usize, hour: i64, now: Instant) -> Self {
        AckLedger {
            listeners,
            pending: VecDeque::new(),
            next_ticket: 0,
            unwritten: Unwritten {
                ack: None,
                stats: StatsBuf::new(listeners, hour),
                log: Vec::new(),
                oldest: None,
                last: now,
                failing: None,
            },
        }
    }

    /// A batch arrived at `received` (its events counted in hour `hour`): returns its
    /// ticket, which its jobs carry. Its events are dispatched into [`Self::receiving`].
    pub(super) fn receive(&mut self, ack: Ack, received: Instant, hour: i64) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.pending.push_back(Pending {
            ticket,
            received,
            ack,
            remaining: 0,
            whole: false,
            stats: StatsBuf::new(self.listeners, hour),
            log: Vec::new(),
        });
        ticket
    }

    /// The batch being received: dispatch adds its jobs, counters and rows here.
    pub(super) fn receiving(&mut self) -> Option<&mut Pending> {
        self.pending.back_mut()
    }

    /// The batch being received was dispatched whole (`true`), or cut short: then it is
    /// never acknowledged, and comes again.
    pub(super) fn received(&mut self, whole: bool) {
        if let Some(b) = self.pending.back_mut() {
            b.whole = whole;
        }
    }

    /// A job ended: `account` counts it in its batch's statistics and rows. Returns
    /// whether it was the last job of its batch.
    pub(super) fn job_ended(
        &mut self,
        f: Finished,
        account: impl FnOnce(Finished, &mut StatsBuf, &mut Vec<LogRow>),
    ) -> bool {
        let Some(first) = self.pending.front().map(|b| b.ticket) else {
            return false;
        };
        let Some(batch) = f
            .ticket
            .checked_sub(first)
            .and_then(|i| self.pending.get_mut(i as usize))
        else {
            return false;
        };
        batch.remaining = batch.remaining.saturating_sub(1);
        account(f, &mut batch.stats, &mut batch.log);
        batch.remaining == 0 && batch.whole
    }

    /// Moves the batches at the front whose jobs have all ended into the unwritten work.
    pub(super) fn acknowledge(&mut self) {
        while self
            .pending
            .front()
            .is_some_and(|b| b.remaining == 0 && b.whole)
        {
            let Some(mut done) = self.pending.pop_front() else {
                break;
            };
            let w = &mut self.unwritten;
            w.oldest.get_or_insert(done.received);
            w.stats.merge(&mut done.stats);
            w.log.append(&mut done.log);
            w.ack = Some(match w.ack {
                Some(earlier) => earlier.then(done.ack),
                None => done.ack,
            });
        }
    }

    /// Whether jobs of received events still run (their batches are not acknowledged).
    pub(super) fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// When the oldest event whose work is not written arrived.
    pub(super) fn oldest(&self) -> Option<Instant> {
        let waiting = self.pending.front().map(|b| b.received);
        match (self.unwritten.oldest, waiting) {
            (Some(w), _) => Some(w),
            (None, p) => p,
        }
    }

    /// Whether the store refused the last write.
    pub(super) fn is_failing(&self) -> bool {
        self.unwritten.failing.is_some()
    }

    /// Whether to write at `now`: there is something to, and it is forced, or the last
    /// write is `every` old, or the last one failed (each try is then paced by
    /// [`Self::retry_wait`]).
    pub(super) fn is_due(&self, force: bool, now: Instant, every: Duration) -> bool {
        let w = &self.unwritten;
        let something = w.ack.is_some() || !w.log.is_empty() || !w.stats.is_empty();
        something && (force || w.failing.is_some() || now.duration_since(w.last) >= every)
    }

    /// What to write now (a write is tried at `now`).
    pub(super) fn start_write(&mut self, now: Instant) -> ToWrite<'_> {
        self.unwritten.last = now;
        ToWrite {
            ack: self.unwritten.ack,
            stats: &self.unwritten.stats,
            log: &self.unwritten.log,
        }
    }

    /// The write succeeded: returns what it wrote (for the run's totals) and whether it
    /// ended a stretch of failures; the next work counts in hour `hour`.
    pub(super) fn written(&mut self, hour: i64) -> (StatsBuf, bool) {
        let w = &mut self.unwritten;
        let stats = std::mem::replace(&mut w.stats, StatsBuf::new(self.listeners, hour));
        w.log.clear();
        w.ack = None;
        w.oldest = None;
        (stats, w.failing.take().is_some())
    }

    /// The store refused the write: everything stays. Returns whether this begins a
    /// stretch of failures (to say so once).
    pub(super) fn write_failed(&mut self) -> bool {
        let first = self.unwritten.failing.is_none();
        self.unwritten.failing.get_or_insert_with(Backoff::default);
        first
    }

    /// While writes fail: how long to wait before trying again (backoff with jitter, at
    /// most ten seconds).
    pub(super) fn retry_wait(&mut self) -> Option<Duration> {
        let backoff = self.unwritten.failing.as_mut()?;
        Some(backoff.next_delay().min(RETRY_WRITE_MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::dispatch::Job;

    fn ack(seq: u64, event_id: i64) -> Ack {
        Ack {
            seq,
            generation: 0,
            event_id: Some(event_id),
            message_id: None,
        }
    }

    fn ended(ticket: u64, listener: usize) -> Finished {
        Finished {
            ticket,
            job: Job {
                listener,
                json: String::new(),
                event_id: None,
                message_id: None,
                key: String::new(),
                conversation: None,
            },
            result: Err("failed".into()),
            took: Duration::ZERO,
        }
    }

    /// Counts a job's end as `failed` of its listener.
    fn count(f: Finished, stats: &mut StatsBuf, _: &mut Vec<LogRow>) {
        stats.listener(f.job.listener).failed += 1;
    }

    /// Receives a batch with `jobs` jobs, whole.
    fn batch(l: &mut AckLedger, a: Ack, at: Instant, jobs: usize) -> u64 {
        let t = l.receive(a, at, 10);
        if let Some(b) = l.receiving() {
            b.remaining = jobs;
        }
        l.received(true);
        t
    }

    fn acked(l: &mut AckLedger, now: Instant) -> Option<i64> {
        l.acknowledge();
        l.start_write(now).ack.and_then(|a| a.event_id())
    }

    #[test]
    fn a_batch_is_acknowledged_when_its_jobs_and_those_before_it_have_ended() {
        let t0 = Instant::now();
        let mut l = AckLedger::new(1, 10, t0);
        let first = batch(&mut l, ack(1, 5), t0, 2);
        let second = batch(&mut l, ack(2, 9), t0, 1);
        assert_eq!(acked(&mut l, t0), None);
        l.job_ended(ended(second, 0), count);
        assert_eq!(acked(&mut l, t0), None, "the first batch still runs");
        l.job_ended(ended(first, 0), count);
        assert_eq!(acked(&mut l, t0), None);
        assert!(l.is_waiting());
        l.job_ended(ended(first, 0), count);
        assert_eq!(acked(&mut l, t0), Some(9), "both, as one acknowledgement");
        assert!(!l.is_waiting());
        let (written, recovered) = l.written(10);
        assert_eq!(written.totals()[0].failed, 3, "every job's end counted");
        assert!(!recovered);
        assert_eq!(acked(&mut l, t0), None, "written: nothing left");
    }

    #[test]
    fn a_batch_without_jobs_is_acknowledged_at_once_and_one_cut_short_never() {
        let t0 = Instant::now();
        let mut l = AckLedger::new(1, 10, t0);
        batch(&mut l, ack(1, 3), t0, 0);
        assert_eq!(acked(&mut l, t0), Some(3));
        l.receive(ack(2, 4), t0, 10);
        l.received(false);
        assert_eq!(acked(&mut l, t0), Some(3), "the cut batch is not");
        assert!(l.is_waiting());
        batch(&mut l, ack(3, 6), t0, 0);
        assert_eq!(acked(&mut l, t0), Some(3), "nor anything after it");
    }

    #[test]
    fn the_end_of_a_job_of_no_batch_is_ignored() {
        let t0 = Instant::now();
        let mut l = AckLedger::new(1, 10, t0);
        l.job_ended(ended(7, 0), count);
        let t = batch(&mut l, ack(1, 1), t0, 1);
        l.job_ended(ended(t + 5, 0), count);
        assert_eq!(acked(&mut l, t0), None);
        l.job_ended(ended(t, 0), count);
        assert_eq!(acked(&mut l, t0), Some(1));
    }

    #[test]
    fn a_write_is_due_when_forced_or_after_the_interval_and_only_with_something_to_write() {
        let t0 = Instant::now();
        let every = Duration::from_millis(250);
        let mut l = AckLedger::new(1, 10, t0);
        assert!(!l.is_due(true, t0, every), "nothing to write");
        batch(&mut l, ack(1, 1), t0, 0);
        l.acknowledge();
        assert!(l.is_due(true, t0, every));
        assert!(!l.is_due(false, t0 + Duration::from_millis(249), every));
        assert!(l.is_due(false, t0 + every, every));
        let _ = l.start_write(t0 + every);
        assert!(!l.is_due(false, t0 + every, every), "just tried");
    }

    #[test]
    fn a_refused_write_keeps_everything_and_is_retried_with_a_bounded_wait() {
        let t0 = Instant::now();
        let every = Duration::from_secs(1);
        let mut l = AckLedger::new(1, 10, t0);
        assert_eq!(l.retry_wait(), None);
        let t = batch(&mut l, ack(1, 8), t0, 1);
        l.job_ended(ended(t, 0), count);
        l.acknowledge();
        let _ = l.start_write(t0);
        assert!(l.write_failed(), "the first failure is said");
        assert!(!l.write_failed(), "once");
        assert!(l.is_failing());
        assert!(l.is_due(false, t0, every), "a failing write is due at once");
        for _ in 0..20 {
            let wait = l.retry_wait().unwrap();
            assert!(
                wait >= Duration::from_secs(1) && wait <= RETRY_WRITE_MAX,
                "{wait:?}"
            );
        }
        assert_eq!(l.start_write(t0).ack.and_then(|a| a.event_id()), Some(8));
        let (stats, recovered) = l.written(11);
        assert!(recovered, "the stretch of failures ended");
        assert_eq!(stats.totals()[0].failed, 1);
        assert!(!l.is_failing());
    }

    #[test]
    fn the_oldest_unwritten_event_is_tracked_until_written() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let mut l = AckLedger::new(1, 10, t0);
        assert_eq!(l.oldest(), None);
        let first = batch(&mut l, ack(1, 1), t0, 1);
        batch(&mut l, ack(2, 2), t1, 0);
        assert_eq!(l.oldest(), Some(t0));
        l.job_ended(ended(first, 0), count);
        l.acknowledge();
        assert_eq!(l.oldest(), Some(t0), "acknowledged, not written");
        let _ = l.written(10);
        assert_eq!(l.oldest(), None);
    }
}
