//! Record batches: the unit that is written, checksummed, replicated and read.
//!
//! On disk a batch is a fixed 56-byte header followed by the postcard-encoded records:
//!
//! ```text
//!  0 length u32         bytes after this field (rest of header + payload)
//!  4 crc u32            CRC32C of every byte after this field
//!  8 base_offset u64    offset of the first record
//! 16 leader_epoch u64   epoch of the leader that appended it (leader-epoch cache, KIP-101)
//! 24 producer_id u64    idempotent producer, or NO_PRODUCER
//! 32 producer_epoch u32
//! 36 base_sequence u32  sequence of the first record, or NO_SEQUENCE
//! 40 record_count u32
//! 44 flags u32          FLAG_* bits
//! 48 max_timestamp_ms u64
//! 56 payload
//! ```
//!
//! All integers are big-endian. The checksum is checked when a batch is encoded *and* when it is
//! read back (paired assertions across the disk boundary).

use serde::{Deserialize, Serialize};

pub const BATCH_HEADER_BYTES: usize = 56;
/// The largest batch, header included. Bounds every read and every allocation.
pub const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
/// The most records in one batch.
pub const BATCH_RECORDS_MAX: u32 = 65_536;
const LENGTH_FIELD_BYTES: usize = 4;
const CRC_END: usize = 8;

pub const NO_PRODUCER: u64 = u64::MAX;
pub const NO_SEQUENCE: u32 = u32::MAX;
/// The batch is a transactional half message (invisible until its decision).
pub const FLAG_TRANSACTIONAL: u32 = 1;
/// The batch is a control record (commit / rollback marker), not user data.
pub const FLAG_CONTROL: u32 = 1 << 1;

/// One message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    #[serde(with = "crate::storage::byte_string")]
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: u64,
}

impl Record {
    pub fn value(value: impl Into<Vec<u8>>) -> Record {
        Record {
            key: None,
            value: value.into(),
            headers: Vec::new(),
            timestamp_ms: 0,
        }
    }
}

/// What the appender says about a batch; offsets and counts are the log's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMeta {
    pub leader_epoch: u64,
    pub producer_id: u64,
    pub producer_epoch: u32,
    pub base_sequence: u32,
    pub flags: u32,
    pub max_timestamp_ms: u64,
}

impl Default for BatchMeta {
    fn default() -> BatchMeta {
        BatchMeta {
            leader_epoch: 0,
            producer_id: NO_PRODUCER,
            producer_epoch: 0,
            base_sequence: NO_SEQUENCE,
            flags: 0,
            max_timestamp_ms: 0,
        }
    }
}

/// A decoded, verified batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordBatch {
    pub base_offset: u64,
    pub meta: BatchMeta,
    pub records: Vec<Record>,
}

/// The fixed header, parsed but not yet verified against the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Header plus payload, in bytes.
    pub total_bytes: usize,
    pub crc: u32,
    pub base_offset: u64,
    pub record_count: u32,
    pub meta: BatchMeta,
}

impl BatchHeader {
    pub fn next_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }
}

impl RecordBatch {
    pub fn next_offset(&self) -> u64 {
        self.base_offset + self.records.len() as u64
    }

    pub fn last_offset(&self) -> u64 {
        self.next_offset().saturating_sub(1)
    }

    /// `(offset, record)` pairs.
    pub fn offsets(&self) -> impl Iterator<Item = (u64, &Record)> {
        self.records
            .iter()
            .enumerate()
            .map(|(i, record)| (self.base_offset + i as u64, record))
    }

    /// Encodes with a fresh checksum; rejects empty and oversized batches.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let count = u32::try_from(self.records.len()).map_err(|_| "too many records")?;
        if count == 0 {
            return Err("a batch holds at least one record".into());
        }
        if count > BATCH_RECORDS_MAX {
            return Err(format!("{count} records exceed {BATCH_RECORDS_MAX}"));
        }
        let payload = postcard::to_allocvec(&self.records).map_err(|e| e.to_string())?;
        let total = BATCH_HEADER_BYTES + payload.len();
        if total > BATCH_BYTES_MAX {
            return Err(format!(
                "{total} bytes exceed the batch limit of {BATCH_BYTES_MAX}"
            ));
        }
        let mut bytes = Vec::with_capacity(total);
        bytes.extend_from_slice(&((total - LENGTH_FIELD_BYTES) as u32).to_be_bytes());
        bytes.extend_from_slice(&0u32.to_be_bytes());
        bytes.extend_from_slice(&self.base_offset.to_be_bytes());
        bytes.extend_from_slice(&self.meta.leader_epoch.to_be_bytes());
        bytes.extend_from_slice(&self.meta.producer_id.to_be_bytes());
        bytes.extend_from_slice(&self.meta.producer_epoch.to_be_bytes());
        bytes.extend_from_slice(&self.meta.base_sequence.to_be_bytes());
        bytes.extend_from_slice(&count.to_be_bytes());
        bytes.extend_from_slice(&self.meta.flags.to_be_bytes());
        bytes.extend_from_slice(&self.meta.max_timestamp_ms.to_be_bytes());
        assert_eq!(bytes.len(), BATCH_HEADER_BYTES);
        bytes.extend_from_slice(&payload);
        let crc = crc32c::crc32c(&bytes[CRC_END..]);
        bytes[LENGTH_FIELD_BYTES..CRC_END].copy_from_slice(&crc.to_be_bytes());
        Ok(bytes)
    }

    /// Decodes and verifies one whole batch (`bytes` is exactly header + payload).
    pub fn decode(bytes: &[u8]) -> Result<RecordBatch, String> {
        let header = BatchHeader::parse(bytes)?;
        if bytes.len() != header.total_bytes {
            return Err(format!(
                "batch is {} bytes, header says {}",
                bytes.len(),
                header.total_bytes
            ));
        }
        let crc = crc32c::crc32c(&bytes[CRC_END..]);
        if crc != header.crc {
            return Err(format!(
                "checksum mismatch: stored {:#010x}, computed {crc:#010x}",
                header.crc
            ));
        }
        let (records, rest): (Vec<Record>, &[u8]) =
            postcard::take_from_bytes(&bytes[BATCH_HEADER_BYTES..]).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!("{} trailing bytes after the records", rest.len()));
        }
        if records.len() != header.record_count as usize {
            return Err(format!(
                "header counts {} records, payload holds {}",
                header.record_count,
                records.len()
            ));
        }
        Ok(RecordBatch {
            base_offset: header.base_offset,
            meta: header.meta,
            records,
        })
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(field)
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(field)
}

impl BatchHeader {
    /// Parses the fixed header from the first `BATCH_HEADER_BYTES` of `bytes`, checking only
    /// what can be checked without the payload (sizes and counts within bounds).
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, String> {
        if bytes.len() < BATCH_HEADER_BYTES {
            return Err(format!(
                "{} bytes is shorter than a batch header",
                bytes.len()
            ));
        }
        let total_bytes = be_u32(bytes, 0) as usize + LENGTH_FIELD_BYTES;
        if total_bytes <= BATCH_HEADER_BYTES {
            return Err(format!(
                "batch length {total_bytes} leaves no room for records"
            ));
        }
        if total_bytes > BATCH_BYTES_MAX {
            return Err(format!(
                "batch length {total_bytes} exceeds {BATCH_BYTES_MAX}"
            ));
        }
        let record_count = be_u32(bytes, 40);
        if record_count == 0 || record_count > BATCH_RECORDS_MAX {
            return Err(format!("record count {record_count} out of range"));
        }
        Ok(BatchHeader {
            total_bytes,
            crc: be_u32(bytes, 4),
            base_offset: be_u64(bytes, 8),
            record_count,
            meta: BatchMeta {
                leader_epoch: be_u64(bytes, 16),
                producer_id: be_u64(bytes, 24),
                producer_epoch: be_u32(bytes, 32),
                base_sequence: be_u32(bytes, 36),
                flags: be_u32(bytes, 44),
                max_timestamp_ms: be_u64(bytes, 48),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RecordBatch {
        RecordBatch {
            base_offset: 7,
            meta: BatchMeta {
                leader_epoch: 3,
                ..BatchMeta::default()
            },
            records: vec![Record::value(b"a".to_vec()), Record::value(b"bc".to_vec())],
        }
    }

    #[test]
    fn round_trips() {
        let batch = sample();
        let bytes = batch.encode().unwrap();
        assert_eq!(RecordBatch::decode(&bytes).unwrap(), batch);
        assert_eq!(batch.last_offset(), 8);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = sample().encode().unwrap();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[i] ^= 1 << bit;
                assert!(
                    RecordBatch::decode(&damaged).is_err(),
                    "flip at byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn rejects_empty_and_truncated() {
        let empty = RecordBatch {
            base_offset: 0,
            meta: BatchMeta::default(),
            records: vec![],
        };
        assert!(empty.encode().is_err());
        let bytes = sample().encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(RecordBatch::decode(&bytes[..cut]).is_err());
        }
    }
}
