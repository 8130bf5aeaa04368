//! One partition of the embedded log: segment files named by their base offset, a sparse
//! in-memory index, crash recovery on open, and reads up to the durable end.

use super::codec::{self, FRAME_HEADER, Frame, StoredRecord};
use crate::BusError;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// An index entry every this many bytes keeps lookups short without indexing every record.
const INDEX_INTERVAL: u64 = 16 * 1024;

/// Bytes a reader fetches per `pread`.
const READ_BUFFER: usize = 64 * 1024;

/// A segment's bytes from `pos` up to its durable `end`, read by position (readers share the
/// file with the writer and with each other, so none of them moves a file cursor).
struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let take = buf.len().min(left);
        if take == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..take], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

struct Segment {
    base: u64,
    file: Arc<File>,
    /// Durable length: readers never look past it.
    len: u64,
}

#[derive(Clone, Copy)]
struct IndexEntry {
    offset: u64,
    segment: usize,
    pos: u64,
}

struct State {
    segments: Vec<Segment>,
    index: Vec<IndexEntry>,
    /// Offset the next appended record gets; everything below is durable.
    next_offset: u64,
    last_indexed_pos: u64,
}

/// The write side, used only by the log's writer thread.
pub(crate) struct Appender {
    pub file: File,
    pub len: u64,
    pub next_offset: u64,
}

pub(crate) struct Partition {
    dir: PathBuf,
    state: Mutex<State>,
    appender: Mutex<Appender>,
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the log inconsistent: durable state is
    // only advanced after a successful write, so the poisoned value is still valid.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Partition {
    /// Opens (or creates) the partition in `dir`, truncating a torn tail left by a crash.
    pub fn open(dir: &Path) -> Result<Self, BusError> {
        std::fs::create_dir_all(dir).map_err(|e| BusError::io(dir, e))?;
        let mut bases: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| BusError::io(dir, e))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
            .collect();
        bases.sort_unstable();
        if bases.is_empty() {
            bases.push(0);
        }
        let mut state = State { segments: Vec::new(), index: Vec::new(), next_offset: 0, last_indexed_pos: 0 };
        let last = bases.len() - 1;
        for (i, base) in bases.iter().copied().enumerate() {
            let path = segment_path(dir, base);
            let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| BusError::io(&path, e))?;
            if state.next_offset != 0 && base != state.next_offset {
                return Err(BusError::Corrupt { path: path.display().to_string(), reason: format!("segment starts at {base}, expected {}", state.next_offset) });
            }
            state.next_offset = base;
            let len = scan_segment(&file, &path, i, &mut state, i == last)?;
            state.segments.push(Segment { base, file: Arc::new(file), len });
        }
        let (active_path, active_len) = {
            let seg = state.segments.last().ok_or_else(|| BusError::Corrupt { path: dir.display().to_string(), reason: "no segment".into() })?;
            (segment_path(dir, seg.base), seg.len)
        };
        let file = OpenOptions::new().append(true).open(&active_path).map_err(|e| BusError::io(&active_path, e))?;
        let appender = Appender { file, len: active_len, next_offset: state.next_offset };
        Ok(Self { dir: dir.to_owned(), state: Mutex::new(state), appender: Mutex::new(appender) })
    }

    pub fn appender(&self) -> MutexGuard<'_, Appender> {
        lock(&self.appender)
    }

    /// Offset after the last durable record.
    pub fn end_offset(&self) -> u64 {
        lock(&self.state).next_offset
    }

    /// Starts a new segment at the appender's next offset (called by the writer).
    pub fn roll(&self, appender: &mut Appender) -> Result<(), BusError> {
        let base = appender.next_offset;
        let path = segment_path(&self.dir, base);
        let write = OpenOptions::new().append(true).create(true).open(&path).map_err(|e| BusError::io(&path, e))?;
        let read = File::open(&path).map_err(|e| BusError::io(&path, e))?;
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        let mut state = lock(&self.state);
        state.segments.push(Segment { base, file: Arc::new(read), len: 0 });
        state.last_indexed_pos = 0;
        let segment = state.segments.len() - 1;
        state.index.push(IndexEntry { offset: base, segment, pos: 0 });
        *appender = Appender { file: write, len: 0, next_offset: base };
        Ok(())
    }

    /// Makes records up to `appender`'s position visible to readers; `first_offsets` holds
    /// (offset, position in segment) of each newly durable record, for the sparse index.
    pub fn publish_durable(&self, appender: &Appender, first_offsets: &[(u64, u64)]) {
        let mut state = lock(&self.state);
        let segment = state.segments.len() - 1;
        for &(offset, pos) in first_offsets {
            if pos == 0 || pos >= state.last_indexed_pos + INDEX_INTERVAL {
                state.index.push(IndexEntry { offset, segment, pos });
                state.last_indexed_pos = pos;
            }
        }
        if let Some(seg) = state.segments.last_mut() {
            seg.len = appender.len;
        }
        state.next_offset = appender.next_offset;
    }

    /// Durable length of the active segment.
    pub fn durable_len(&self) -> u64 {
        lock(&self.state).segments.last().map_or(0, |s| s.len)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Reads up to `max` durable records starting at `from`.
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<StoredRecord>, BusError> {
        let (segments, start_pos, end) = {
            let state = lock(&self.state);
            if from >= state.next_offset || max == 0 {
                return Ok(Vec::new());
            }
            let i = state.index.partition_point(|e| e.offset <= from);
            let entry = match i.checked_sub(1).and_then(|i| state.index.get(i)) {
                Some(entry) => *entry,
                None => IndexEntry { offset: 0, segment: 0, pos: 0 },
            };
            let segments: Vec<(Arc<File>, u64)> = state.segments[entry.segment..].iter().map(|s| (s.file.clone(), s.len)).collect();
            (segments, entry.pos, state.next_offset)
        };
        let mut out = Vec::with_capacity(max.min(1024));
        let mut pos = start_pos;
        for (file, len) in segments {
            // One buffered pass over the segment: a read costs a few large `pread`s, not
            // two per record (the records before `from` since the index entry included).
            let window = usize::try_from(len.saturating_sub(pos)).unwrap_or(usize::MAX).min(READ_BUFFER);
            let mut reader = BufReader::with_capacity(window, ReadAt { file: &file, pos, end: len });
            while pos < len {
                let mut header = [0u8; FRAME_HEADER];
                self.read_frame_part(&mut reader, &mut header, pos)?;
                let Frame::Header { body_len, crc } = codec::frame_header(&header) else {
                    return Err(self.corrupt(pos, "invalid frame header"));
                };
                let mut body = vec![0u8; body_len];
                self.read_frame_part(&mut reader, &mut body, pos)?;
                if crc32fast::hash(&body) != crc {
                    return Err(self.corrupt(pos, "checksum mismatch"));
                }
                pos += (FRAME_HEADER + body_len) as u64;
                let offset = codec::offset_of(&body).unwrap_or(u64::MAX);
                if offset < from {
                    continue;
                }
                if offset >= end {
                    return Ok(out);
                }
                let record = codec::decode_body(&body).ok_or_else(|| self.corrupt(pos, "malformed record"))?;
                out.push(record);
                if out.len() >= max {
                    return Ok(out);
                }
            }
            pos = 0;
        }
        Ok(out)
    }

    /// Fills `buf` from the frame at `pos`; a frame that runs past the durable end is corrupt.
    fn read_frame_part(&self, reader: &mut impl Read, buf: &mut [u8], pos: u64) -> Result<(), BusError> {
        reader.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => self.corrupt(pos, "frame runs past the durable end"),
            _ => BusError::io(&self.dir, e),
        })
    }

    fn corrupt(&self, pos: u64, reason: &str) -> BusError {
        BusError::Corrupt { path: self.dir.display().to_string(), reason: format!("{reason} at byte {pos}") }
    }
}

/// Scans one segment, indexing it; a bad tail of the last segment is truncated (it was never
/// acknowledged), a bad record anywhere else is corruption. Returns the valid length.
fn scan_segment(file: &File, path: &Path, segment: usize, state: &mut State, is_last: bool) -> Result<u64, BusError> {
    let file_len = file.metadata().map_err(|e| BusError::io(path, e))?.len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut pos = 0u64;
    state.last_indexed_pos = 0;
    let mut bad: Option<&str> = None;
    while pos < file_len {
        let mut header = [0u8; FRAME_HEADER];
        if reader.read_exact(&mut header).is_err() {
            bad = Some("torn frame header");
            break;
        }
        let Frame::Header { body_len, crc } = codec::frame_header(&header) else {
            bad = Some("invalid frame header");
            break;
        };
        let mut body = vec![0u8; body_len];
        if reader.read_exact(&mut body).is_err() {
            bad = Some("torn record");
            break;
        }
        if crc32fast::hash(&body) != crc {
            bad = Some("checksum mismatch");
            break;
        }
        match codec::offset_of(&body) {
            Some(offset) if offset == state.next_offset => {}
            _ => {
                bad = Some("offset out of sequence");
                break;
            }
        }
        if pos == 0 || pos >= state.last_indexed_pos + INDEX_INTERVAL {
            state.index.push(IndexEntry { offset: state.next_offset, segment, pos });
            state.last_indexed_pos = pos;
        }
        state.next_offset += 1;
        pos += (FRAME_HEADER + body_len) as u64;
    }
    if pos == 0 {
        state.index.push(IndexEntry { offset: state.next_offset, segment, pos: 0 });
    }
    if let Some(reason) = bad {
        if !is_last {
            return Err(BusError::Corrupt { path: path.display().to_string(), reason: format!("{reason} at byte {pos}") });
        }
        tracing::warn!(path = %path.display(), at = pos, reason, "truncating the unacknowledged tail of the embedded log");
        file.set_len(pos).map_err(|e| BusError::io(path, e))?;
        file.sync_all().map_err(|e| BusError::io(path, e))?;
    }
    Ok(pos)
}
