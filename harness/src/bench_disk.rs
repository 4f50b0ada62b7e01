//! The disk's own limit for `bench produce`: one writer appending `write_bytes` (one batch of
//! records) to a file and fsyncing after each write, for a fixed time, in the directory the
//! servers then write to. Every acknowledged produce needs its batch on disk, so this is the
//! most batches per second the disk lets one fsyncing writer make durable; a replicated
//! system on one disk writes each batch once per replica.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The file never grows past this: the measurement stops earlier on a very fast disk.
const FILE_BYTES_MAX: u64 = 1 << 30;

/// What the measurement found.
#[derive(Clone, Debug)]
pub struct DiskLimit {
    pub write_bytes: usize,
    pub writes: u64,
    pub elapsed: Duration,
}

impl DiskLimit {
    pub fn syncs_per_s(&self) -> f64 {
        self.writes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn bytes_per_s(&self) -> f64 {
        self.syncs_per_s() * self.write_bytes as f64
    }

    /// Records per second at `batch_records` records per write.
    pub fn records_per_s(&self, batch_records: u32) -> f64 {
        self.syncs_per_s() * f64::from(batch_records)
    }
}

/// Appends and fsyncs `write_bytes` at a time into a new file under `dir` for `duration` (or
/// until the file reaches [`FILE_BYTES_MAX`]), then removes it.
pub fn measure(dir: &Path, write_bytes: usize, duration: Duration) -> std::io::Result<DiskLimit> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("sequential.bin");
    let mut file = std::fs::File::create(&path)?;
    // The directory entry is made durable first, as a log's segment would be.
    std::fs::File::open(dir)?.sync_all()?;
    let block: Vec<u8> = (0..write_bytes).map(|i| (i % 251) as u8).collect();
    let mut writes = 0u64;
    // Real-mode measurement: the wall clock is the point.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    while started.elapsed() < duration && writes * (write_bytes as u64) < FILE_BYTES_MAX {
        file.write_all(&block)?;
        file.sync_all()?;
        writes += 1;
    }
    let elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(DiskLimit {
        write_bytes,
        writes,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_synced_writes_and_leaves_no_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let limit = measure(dir.path(), 4096, Duration::from_millis(50)).expect("measures");
        assert!(limit.writes > 0);
        assert!(limit.elapsed >= Duration::from_millis(50));
        let rate = limit.syncs_per_s();
        assert!((limit.records_per_s(4) - 4.0 * rate).abs() < 1e-6);
        assert_eq!(std::fs::read_dir(dir.path()).expect("lists").count(), 0);
    }
}
