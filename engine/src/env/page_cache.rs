//! One simulated machine's page cache: the file data written but not yet synced. Pure state, no
//! I/O: the disk puts writes here, overlays it on reads, takes a file's extents on `sync` (and
//! writes them durably to turmoil), and asks it what survives a power loss.
//!
//! Why it exists: turmoil keeps one flat list of unsynced operations per host and scans all of
//! it on every read, length and existence check, so a run that rarely syncs costs quadratic
//! time (issue 20). Here each file's dirty data is a `BTreeMap` of disjoint extents: a write or
//! a read costs O(log n + extents touched), and appends coalesce into one extent.
//!
//! Fault model: the cache belongs to the machine, not the process. It survives a clean restart
//! (the OS keeps its page cache) and not a power loss, which keeps only what
//! [`power_loss::survivors`] draws. Invariants: extents of a file are disjoint and non-empty;
//! `dirty_bytes` is the sum of their lengths and stays at most [`PAGE_CACHE_BYTES_MAX`] (the
//! disk writes everything back when a write would pass it, as a kernel under memory pressure
//! does).

use crate::env::power_loss::{self, CrashState, PowerLoss};
use rand::Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Dirty bytes one machine may hold before the disk writes them all back.
pub const PAGE_CACHE_BYTES_MAX: u64 = 1 << 30;

/// One file's unsynced data: disjoint extents by offset.
#[derive(Clone, Debug, Default)]
struct Dirty {
    extents: BTreeMap<u64, Vec<u8>>,
}

impl Dirty {
    fn end(&self) -> Option<u64> {
        self.extents
            .iter()
            .next_back()
            .map(|(offset, bytes)| offset + bytes.len() as u64)
    }

    /// Removes every byte at or past `from` and below `to`; returns how many went.
    fn cut(&mut self, from: u64, to: u64) -> u64 {
        let mut removed = 0;
        let overlapping: Vec<u64> = self
            .extents
            .range(..to)
            .rev()
            .take_while(|(offset, bytes)| *offset + bytes.len() as u64 > from)
            .map(|(offset, _)| *offset)
            .collect();
        for offset in overlapping {
            let bytes = self.extents.remove(&offset).unwrap_or_default();
            let end = offset + bytes.len() as u64;
            let (keep_head, keep_tail) = (from.saturating_sub(offset), end.saturating_sub(to));
            removed += bytes.len() as u64 - keep_head.min(bytes.len() as u64);
            if keep_head > 0 {
                self.extents
                    .insert(offset, bytes[..keep_head as usize].to_vec());
            }
            if keep_tail > 0 {
                let tail_start = bytes.len() - keep_tail as usize;
                removed -= keep_tail;
                self.extents.insert(to, bytes[tail_start..].to_vec());
            }
        }
        removed
    }
}

/// The machine's dirty file data.
#[derive(Clone, Debug, Default)]
pub struct PageCache {
    files: BTreeMap<PathBuf, Dirty>,
    dirty_bytes: u64,
}

/// What a power loss left of one file, to be written durably when the machine powers on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survivor {
    pub path: PathBuf,
    pub state: CrashState,
    pub extents: Vec<(u64, Vec<u8>)>,
}

impl PageCache {
    pub fn dirty_bytes(&self) -> u64 {
        self.dirty_bytes
    }

    /// Files with dirty data, in path order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.keys().cloned().collect()
    }

    /// Where the file's dirty data ends, if it has any.
    pub fn end(&self, path: &Path) -> Option<u64> {
        self.files.get(path).and_then(Dirty::end)
    }

    /// Records `bytes` written at `offset`, replacing whatever dirty bytes were there.
    pub fn write(&mut self, path: &Path, offset: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let end = offset + bytes.len() as u64;
        let dirty = self.files.entry(path.to_path_buf()).or_default();
        let removed = dirty.cut(offset, end);
        // Appends extend the extent they continue, so a log's dirty tail stays one extent.
        let previous = dirty
            .extents
            .range_mut(..offset)
            .next_back()
            .filter(|(start, data)| **start + data.len() as u64 == offset);
        let start = match previous {
            Some((start, data)) => {
                data.extend_from_slice(bytes);
                *start
            }
            None => {
                dirty.extents.insert(offset, bytes.to_vec());
                offset
            }
        };
        if let Some(next) = dirty.extents.remove(&end) {
            if let Some(data) = dirty.extents.get_mut(&start) {
                data.extend_from_slice(&next);
            }
        }
        self.dirty_bytes = self.dirty_bytes - removed + bytes.len() as u64;
        self.check(path);
    }

    /// Copies the dirty bytes that fall in `[offset, offset + buf.len())` over `buf`.
    pub fn overlay(&self, path: &Path, offset: u64, buf: &mut [u8]) {
        let Some(dirty) = self.files.get(path) else {
            return;
        };
        let end = offset + buf.len() as u64;
        let first = dirty
            .extents
            .range(..=offset)
            .next_back()
            .map_or(offset, |(start, _)| *start);
        for (start, data) in dirty.extents.range(first..end) {
            let data_end = start + data.len() as u64;
            let (from, to) = ((*start).max(offset), data_end.min(end));
            if from >= to {
                continue;
            }
            buf[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&data[(from - start) as usize..(to - start) as usize]);
        }
    }

    /// Removes and returns the file's dirty extents, ascending (the disk makes them durable).
    pub fn take(&mut self, path: &Path) -> Vec<(u64, Vec<u8>)> {
        let Some(dirty) = self.files.remove(path) else {
            return Vec::new();
        };
        let extents: Vec<(u64, Vec<u8>)> = dirty.extents.into_iter().collect();
        let bytes: u64 = extents.iter().map(|(_, data)| data.len() as u64).sum();
        self.dirty_bytes -= bytes;
        extents
    }

    /// Drops the file's dirty bytes at or past `len`.
    pub fn truncate(&mut self, path: &Path, len: u64) {
        if let Some(dirty) = self.files.get_mut(path) {
            let removed = dirty.cut(len, u64::MAX);
            self.dirty_bytes -= removed;
            if dirty.extents.is_empty() {
                self.files.remove(path);
            }
        }
        self.check(path);
    }

    /// Forgets a removed (or re-created) file's dirty data.
    pub fn remove(&mut self, path: &Path) {
        self.take(path);
    }

    /// Moves `from`'s dirty data to `to`, replacing `to`'s.
    pub fn rename(&mut self, from: &Path, to: &Path) {
        self.remove(to);
        if let Some(dirty) = self.files.remove(from) {
            self.files.insert(to.to_path_buf(), dirty);
        }
    }

    /// The power goes out: the cache empties, and each file keeps what its drawn crash state
    /// keeps. Files are visited in path order, so the draw is a function of the RNG's seed.
    pub fn lose_power<R: Rng>(&mut self, spec: PowerLoss, rng: &mut R) -> Vec<Survivor> {
        let files = std::mem::take(&mut self.files);
        self.dirty_bytes = 0;
        let mut kept = Vec::new();
        for (path, dirty) in files {
            let extents: Vec<(u64, &[u8])> = dirty
                .extents
                .iter()
                .map(|(offset, data)| (*offset, data.as_slice()))
                .collect();
            let (state, extents) = power_loss::survivors(&extents, spec, rng);
            if !extents.is_empty() {
                kept.push(Survivor {
                    path,
                    state,
                    extents,
                });
            }
        }
        kept
    }

    /// Paired with every change: extents disjoint and non-empty, the byte count right.
    fn check(&self, path: &Path) {
        if cfg!(debug_assertions) {
            if let Some(dirty) = self.files.get(path) {
                let mut previous_end = None;
                for (offset, data) in &dirty.extents {
                    assert!(!data.is_empty(), "empty extent at {offset}");
                    assert!(
                        previous_end.unwrap_or(0) <= *offset,
                        "extents overlap at {offset}"
                    );
                    previous_end = Some(offset + data.len() as u64);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::power_loss::Keep;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn read(cache: &PageCache, path: &Path, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        cache.overlay(path, offset, &mut buf);
        buf
    }

    #[test]
    fn appends_coalesce_and_overwrites_replace() {
        let path = Path::new("/f");
        let mut cache = PageCache::default();
        cache.write(path, 0, b"abc");
        cache.write(path, 3, b"def");
        assert_eq!(cache.files[path].extents.len(), 1);
        cache.write(path, 10, b"xyz");
        cache.write(path, 2, b"QRS");
        assert_eq!(read(&cache, path, 0, 13), b"abQRSf\0\0\0\0xyz");
        assert_eq!(cache.dirty_bytes(), 9);
        cache.write(path, 6, b"0123");
        assert_eq!(
            cache.files[path].extents.len(),
            1,
            "a write that fills a gap joins both"
        );
        assert_eq!(read(&cache, path, 0, 13), b"abQRSf0123xyz");
        assert_eq!(cache.dirty_bytes(), 13);
        cache.truncate(path, 4);
        assert_eq!(cache.end(path), Some(4));
        assert_eq!(cache.dirty_bytes(), 4);
        assert_eq!(cache.take(path), vec![(0, b"abQR".to_vec())]);
        assert_eq!(cache.dirty_bytes(), 0);
        assert_eq!(cache.end(path), None);
    }

    #[test]
    fn a_power_loss_empties_the_cache_and_lose_unsynced_keeps_nothing() {
        let mut cache = PageCache::default();
        cache.write(Path::new("/a"), 0, &[1; 2000]);
        cache.write(Path::new("/b"), 100, &[2; 10]);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let spec = PowerLoss {
            keep: Keep::Nothing,
            block_bytes: 512,
        };
        assert!(cache.lose_power(spec, &mut rng).is_empty());
        assert_eq!(cache.dirty_bytes(), 0);
        assert!(cache.paths().is_empty());
    }

    #[test]
    fn rename_moves_dirty_data_and_replaces_the_target() {
        let mut cache = PageCache::default();
        cache.write(Path::new("/t"), 0, b"old");
        cache.write(Path::new("/s"), 0, b"new!");
        cache.rename(Path::new("/s"), Path::new("/t"));
        assert_eq!(read(&cache, Path::new("/t"), 0, 4), b"new!");
        assert_eq!(cache.dirty_bytes(), 4);
        assert_eq!(cache.paths(), vec![PathBuf::from("/t")]);
    }
}
