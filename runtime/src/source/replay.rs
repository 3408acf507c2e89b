//! The replay source: a JSONL file of events, one per line, optionally gzipped.
//!
//! The format is what `zlc tail` writes (one `GET /events` event object per line), so a
//! recorded day plays back through the same dispatch as live traffic. Gzip is detected
//! by its magic bytes, not the file name. Blank lines are skipped; a line that is not
//! UTF-8, or longer than [`BATCH_BYTES`], is counted as malformed, reported with its
//! number and skipped whole; the rest is checked when read (events over
//! [`crate::event::MAX_EVENT_BYTES`] are refused there).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::batch::{Ack, Batch, Origin, SourceStats};
use crate::error::{Error, Result};

/// Bytes of whole lines per batch, and so the longest line read: a megabyte over the
/// longest event, so that an event just over that limit is read and refused by the
/// event reader, which says why.
pub const BATCH_BYTES: usize = crate::event::MAX_EVENT_BYTES + (1 << 20);
/// Bytes read at a time while skipping a line longer than a batch.
const READ_CHUNK: usize = 1 << 20;

/// Reads recorded events from a JSONL file.
pub struct ReplaySource {
    reader: Box<dyn BufRead + Send>,
    path: String,
    line_no: u64,
    seq: u64,
    done: bool,
    carry: Vec<u8>,
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
            carry: Vec::new(),
            stats: SourceStats::default(),
            acked_lines: 0,
        })
    }

    /// The next batch (about 4 MiB of whole lines), or `None` at the end of the file.
    ///
    /// The file is read in large chunks straight into the batch's buffer and split in
    /// place: no line is copied. A chunk that is not valid UTF-8 (rare) is split line
    /// by line instead, dropping and counting the bad lines.
    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        loop {
            let mut buf = std::mem::take(&mut self.carry);
            if !self.done && buf.len() < BATCH_BYTES {
                // Into the spare capacity, which is not zeroed first (as a `resize` and
                // `read` would: a memset of every byte of the file).
                let want = BATCH_BYTES - buf.len();
                buf.reserve_exact(want);
                let n = (&mut self.reader)
                    .take(want as u64)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io(&self.path, e))?;
                // `read_to_end` stops at the limit or at the end of the file.
                self.done = n < want;
            }
            // Keep a trailing partial line for the next batch.
            if !self.done {
                match memchr::memrchr(b'\n', &buf) {
                    Some(i) => self.carry = buf.split_off(i + 1),
                    None => {
                        // A whole batch without a line end: one line is longer than any
                        // event may be. Skip all of it, not just what was read.
                        self.skip_long_line(buf.len())?;
                        continue;
                    }
                }
            }
            if buf.is_empty() {
                return Ok(None);
            }
            let text = match String::from_utf8(buf) {
                Ok(t) => t,
                Err(e) => self.valid_lines(e.into_bytes()),
            };
            let mut spans = Vec::new();
            let mut start = 0;
            let bytes = text.as_bytes();
            let ends = memchr::memchr_iter(b'\n', bytes).map(|i| i + 1);
            for end in ends.chain((!text.ends_with('\n') && !text.is_empty()).then_some(text.len()))
            {
                // JSON's whitespace is ASCII, so an ASCII trim is enough and cheaper.
                let line = &bytes[start..end];
                let trimmed = line.trim_ascii();
                if !trimmed.is_empty() {
                    let offset = start + (line.len() - line.trim_ascii_start().len());
                    spans.push((offset as u32, (offset + trimmed.len()) as u32));
                }
                self.line_no += 1;
                start = end;
            }
            if spans.is_empty() {
                if self.done && self.carry.is_empty() {
                    return Ok(None);
                }
                continue;
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
            return Ok(Some(Batch::new(text, spans, ack, Origin::Replay)));
        }
    }

    /// Reads past the rest of a line of which `read` bytes were read already, keeps what
    /// follows its end, and reports it.
    fn skip_long_line(&mut self, mut read: usize) -> Result<()> {
        let mut chunk = vec![0; READ_CHUNK];
        loop {
            let n = self
                .reader
                .read(&mut chunk)
                .map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                self.done = true;
                break;
            }
            match chunk[..n].iter().position(|b| *b == b'\n') {
                Some(i) => {
                    read += i;
                    self.carry = chunk[i + 1..n].to_vec();
                    break;
                }
                None => read += n,
            }
        }
        self.line_no += 1;
        self.stats.malformed += 1;
        tracing::warn!(
            path = %self.path,
            line = self.line_no,
            bytes = read,
            limit = BATCH_BYTES,
            "skipping a line longer than any event may be"
        );
        Ok(())
    }

    /// Keeps the lines that are UTF-8, counting and logging the others.
    fn valid_lines(&mut self, bytes: Vec<u8>) -> String {
        let mut out = String::with_capacity(bytes.len());
        for (n, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
            match std::str::from_utf8(line) {
                Ok(s) => out.push_str(s),
                Err(_) => {
                    self.stats.malformed += 1;
                    tracing::warn!(path = %self.path, line = self.line_no + n as u64 + 1, "skipping a line that is not UTF-8");
                    out.push('\n');
                }
            }
        }
        out
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
