//! On-disk record format of the embedded log.
//!
//! ```text
//! u32 body length | u32 CRC-32 of body | body
//! body = u64 offset | i64 timestamp ms | u32 key len | key | u16 header count
//!        | (u16 name len | name | u32 value len | value)* | u32 payload len | payload
//! ```
//! Little-endian. A torn or corrupt tail (crash during append) fails the length or CRC
//! check and is truncated on open; it was never acknowledged.

use crate::Event;

pub(crate) const FRAME_HEADER: usize = 8;
/// Refuse single records above this size: a corrupt length must not allocate gigabytes.
pub(crate) const MAX_RECORD: usize = 64 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StoredRecord {
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

/// Appends one framed record to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, offset: u64, timestamp_ms: i64, event: &Event) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    put_bytes32(out, &event.key);
    out.extend_from_slice(&(event.headers.len().min(u16::MAX as usize) as u16).to_le_bytes());
    for (name, value) in event.headers.iter().take(u16::MAX as usize) {
        let name = &name.as_bytes()[..name.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        put_bytes32(out, value.as_bytes());
    }
    put_bytes32(out, &event.payload);
    let body_len = (out.len() - start - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn put_bytes32(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Result of reading a frame header.
pub(crate) enum Frame {
    /// Body length and CRC of a plausible frame.
    Header { body_len: usize, crc: u32 },
    /// Not a valid frame start (torn write or garbage).
    Invalid,
}

pub(crate) fn frame_header(bytes: &[u8; FRAME_HEADER]) -> Frame {
    let body_len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if !(8 + 8 + 4 + 2 + 4..=MAX_RECORD).contains(&body_len) {
        Frame::Invalid
    } else {
        Frame::Header { body_len, crc }
    }
}

/// Decodes a body whose CRC has been checked; `None` when its structure is inconsistent.
pub(crate) fn decode_body(body: &[u8]) -> Option<StoredRecord> {
    let mut r = Reader { bytes: body, pos: 0 };
    let offset = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let timestamp_ms = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let key = r.bytes32()?.to_vec();
    let count = u16::from_le_bytes(r.take(2)?.try_into().ok()?);
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let name_len = u16::from_le_bytes(r.take(2)?.try_into().ok()?) as usize;
        let name = String::from_utf8(r.take(name_len)?.to_vec()).ok()?;
        let value = String::from_utf8(r.bytes32()?.to_vec()).ok()?;
        headers.push((name, value));
    }
    let payload = r.bytes32()?.to_vec();
    (r.pos == body.len()).then_some(StoredRecord { offset, timestamp_ms, key, headers, payload })
}

/// Reads only the offset of a checked body (cheap scans on open).
pub(crate) fn offset_of(body: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(body.get(..8)?.try_into().ok()?))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }
    fn bytes32(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let event = Event::new(b"tenant/dataset".to_vec(), b"{\"a\":1}".to_vec()).with_header("ce_id", "42");
        let mut buf = Vec::new();
        encode(&mut buf, 7, 1_700_000_000_000, &event);
        let header: [u8; FRAME_HEADER] = buf[..FRAME_HEADER].try_into().unwrap();
        let Frame::Header { body_len, crc } = frame_header(&header) else { panic!("invalid frame") };
        let body = &buf[FRAME_HEADER..];
        assert_eq!(body.len(), body_len);
        assert_eq!(crc32fast::hash(body), crc);
        let record = decode_body(body).unwrap();
        assert_eq!(record.offset, 7);
        assert_eq!(record.key, event.key);
        assert_eq!(record.payload, event.payload);
        assert_eq!(record.headers, event.headers);
        assert_eq!(offset_of(body), Some(7));
    }

    #[test]
    fn truncated_body_does_not_decode() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, 0, &Event::new(b"k".to_vec(), b"payload".to_vec()));
        assert!(decode_body(&buf[FRAME_HEADER..buf.len() - 1]).is_none());
    }
}
