//! The replay source: a JSONL file of events, one per line, optionally gzipped.
//!
//! The format is what `zlc tail` writes (one `GET /events` event object per line), so a
//! recorded day plays back through the same dispatch as live traffic. Gzip is detected
//! by its magic bytes, not the file name. Blank lines are skipped; a line that is not
//! UTF-8 is counted as malformed and skipped; the rest is checked when read.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{Ack, Batch, Origin, SourceStats};
use crate::error::{Error, Result};

/// Events per batch (and a byte bound, whichever comes first).
const BATCH_EVENTS: usize = 1024;
const BATCH_BYTES: usize = 4 << 20;

/// Reads recorded events from a JSONL file.
pub struct ReplaySource {
    reader: Box<dyn BufRead + Send>,
    path: String,
    line_no: u64,
    seq: u64,
    done: bool,
    stats: SourceStats,
    acked_lines: u64,
}

impl std::fmt::Debug for ReplaySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaySource")
            .field("path", &self.path)
            .field("line_no", &self.line_no)
            .finish()
    }
}

impl ReplaySource {
    /// Opens `path` (`-` for standard input).
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let raw: Box<dyn Read + Send> = if name == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(File::open(path).map_err(|e| Error::io(&name, e))?)
        };
        let mut buffered = BufReader::with_capacity(1 << 20, raw);
        let gz = buffered
            .fill_buf()
            .map_err(|e| Error::io(&name, e))?
            .starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead + Send> = if gz {
            Box::new(BufReader::with_capacity(
                1 << 20,
                MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Ok(ReplaySource {
            reader,
            path: name,
            line_no: 0,
            seq: 0,
            done: false,
            stats: SourceStats::default(),
            acked_lines: 0,
        })
    }

    /// The next batch of up to 1024 events, or `None` at the end of the file.
    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        let mut text = String::new();
        let mut spans = Vec::new();
        let mut line = Vec::new();
        while !self.done && spans.len() < BATCH_EVENTS && text.len() < BATCH_BYTES {
            line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                self.done = true;
                break;
            }
            self.line_no += 1;
            let Ok(s) = std::str::from_utf8(&line) else {
                self.stats.malformed += 1;
                tracing::warn!(path = %self.path, line = self.line_no, "skipping a line that is not UTF-8");
                continue;
            };
            let s = s.trim();
            if s.is_empty() {
                continue;
            }
            let start = text.len();
            text.push_str(s);
            spans.push((start as u32, text.len() as u32));
            text.push('\n');
        }
        if spans.is_empty() {
            return Ok(None);
        }
        self.seq += 1;
        self.stats.batches += 1;
        self.stats.events += spans.len() as u64;
        let ack = Ack {
            seq: self.seq,
            generation: 0,
            event_id: Some(self.line_no as i64),
            message_id: None,
        };
        Ok(Some(Batch::new(text, spans, ack, Origin::Replay)))
    }

    /// Notes that lines up to the batch's end are processed.
    pub fn ack(&mut self, ack: Ack) {
        self.acked_lines = self.acked_lines.max(ack.event_id.unwrap_or(0) as u64);
    }

    /// Lines fully processed so far.
    pub fn acked_lines(&self) -> u64 {
        self.acked_lines
    }

    /// Counters.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }
}
