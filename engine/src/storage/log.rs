//! The log of one partition: an ordered set of segments, append at the end, read anywhere,
//! truncate from the end, sync per the [`FsyncPolicy`].
//!
//! Invariants: `synced_end <= end`; every offset below `synced_end` was covered by a sync that
//! succeeded; offsets are contiguous from `start`. After any failure that leaves the on-disk
//! state unknown (a failed sync, a failed truncation, a failed undo of a partial append) the log
//! goes *offline*: every later call fails until it is reopened, which recovers from the disk.

use crate::bugs::{Bug, Bugs};
use crate::env::{Clock, Disk};
use crate::env::{DiskError, PendingSync};
use crate::storage::batch::{BatchHeader, BatchMeta, Record, RecordBatch};
use crate::storage::recovery_point::{PointWrite, RecoveryPoint};
use crate::storage::segment::{self, Recovery, Segment, LOG_SUFFIX};
use crate::storage::{FsyncPolicy, StorageError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::time::Instant;

/// The default segment size before rolling.
pub const SEGMENT_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;
/// A log never holds more segments than this; `append` refuses to roll past it.
pub const SEGMENTS_MAX: usize = 100_000;

#[derive(Clone, Copy, Debug)]
pub struct LogOptions {
    pub segment_bytes_max: u64,
    pub fsync: FsyncPolicy,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            segment_bytes_max: SEGMENT_BYTES_DEFAULT,
            fsync: FsyncPolicy::Always,
        }
    }
}

/// Where an appended batch landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: u64,
    pub last_offset: u64,
    /// Whether the batch is durable (synced) when `append` returns.
    pub synced: bool,
}

pub struct Log {
    disk: Disk,
    options: LogOptions,
    /// Segments by base offset; never empty. The last one is active.
    segments: BTreeMap<u64, Segment>,
    end: u64,
    synced_end: u64,
    last_sync: Instant,
    offline: Option<String>,
    recovery: Recovery,
    clock: Clock,
    /// What this log knows it synced, on disk: recovery never cuts below it.
    recovery_point: RecoveryPoint,
    /// The planted bug `recovery-trusts-lengths`: batches from here on were recovered unchecked.
    trust_from: Option<u64>,
    /// This open log, as a group sync begun on it knows it (a reopened log is another).
    incarnation: Arc<()>,
    /// Truncations so far: a group sync begun before one covers nothing after it.
    truncations: u64,
    /// Whether a group sync is begun and not finished (at most one at a time).
    group_sync_pending: bool,
}

/// A group commit's syncs of one log, begun under the caller's lock ([`Log::begin_group_sync`])
/// and waited for outside it; [`Log::finish_group_sync`] then counts what they covered. An
/// fsync covers everything written to its file before it, so the log's end when the sync began
/// is synced once it succeeds — unless the log was truncated meanwhile: then what lies past the
/// cut may be other data, written after the sync began, and nothing is counted (the truncation
/// synced what it kept).
pub struct GroupSync {
    incarnation: Arc<()>,
    truncations: u64,
    end: u64,
    point: Option<PointWrite>,
    syncs: Vec<PendingSync>,
    failed: Option<DiskError>,
}

impl GroupSync {
    /// Whether waiting for it blocks (real files): the caller waits on a blocking thread.
    pub fn blocks(&self) -> bool {
        self.syncs.iter().any(PendingSync::blocks)
    }

    /// Waits for the syncs of every group, side by side (see [`PendingSync::finish_all`]).
    pub fn finish_all(groups: &mut [GroupSync]) {
        let counts: Vec<usize> = groups.iter().map(|group| group.syncs.len()).collect();
        let syncs: Vec<PendingSync> = groups
            .iter_mut()
            .flat_map(|group| std::mem::take(&mut group.syncs))
            .collect();
        let mut outcomes = PendingSync::finish_all(syncs).into_iter();
        for (group, count) in groups.iter_mut().zip(counts) {
            for outcome in outcomes.by_ref().take(count) {
                if let Err(error) = outcome {
                    group.failed.get_or_insert(error);
                }
            }
        }
        assert!(outcomes.next().is_none(), "one outcome per sync");
    }

    /// Whether this group was begun on `log` (not on a log since closed and reopened).
    pub fn is_of(&self, log: &Log) -> bool {
        Arc::ptr_eq(&self.incarnation, &log.incarnation)
    }
}

impl Log {
    /// Opens the log in `dir` (relative to `disk`'s root), creating it if absent, and recovers
    /// the active segment. What the recovery point covers counts as synced; whatever was
    /// recovered beyond it is synced here before the log is handed out (see below).
    pub fn open(disk: &Disk, dir: &Path, options: LogOptions) -> Result<Log, StorageError> {
        Log::open_keeping(disk, dir, options, 0)
    }

    /// [`Log::open`], refusing (without cutting anything) if recovery would drop offsets below
    /// `keep_end`, which the caller knows were synced. A process that reopens a log it had open
    /// uses this so a failing read is never mistaken for a torn tail.
    pub fn open_keeping(
        disk: &Disk,
        dir: &Path,
        options: LogOptions,
        keep_end: u64,
    ) -> Result<Log, StorageError> {
        Log::open_keeping_with(disk, dir, options, keep_end, Bugs::none())
    }

    /// [`Log::open_keeping`] with planted bugs (only `recovery-trusts-lengths` acts here).
    pub fn open_keeping_with(
        disk: &Disk,
        dir: &Path,
        options: LogOptions,
        keep_end: u64,
        bugs: Bugs,
    ) -> Result<Log, StorageError> {
        let disk = disk.subdir(dir)?;
        let recovery_point = RecoveryPoint::open(&disk)?;
        let keep_end = keep_end.max(recovery_point.synced_end());
        let trust_from = bugs.has(Bug::RecoveryTrustsLengths).then_some(keep_end);
        let names = disk.list(Path::new(""))?;
        let mut bases: Vec<u64> = names
            .iter()
            .filter_map(|name| segment::parse_name(name, LOG_SUFFIX))
            .collect();
        bases.sort_unstable();
        for name in &names {
            // An index whose log is gone is left over from a removal cut short by a crash.
            if let Some(base) = segment::parse_name(name, segment::INDEX_SUFFIX) {
                if bases.binary_search(&base).is_err() {
                    disk.remove(&PathBuf::from(name))?;
                }
            }
        }
        let mut segments = BTreeMap::new();
        let recovery = match bases.split_last() {
            None => {
                segments.insert(0, Segment::create(&disk, 0)?);
                Recovery::default()
            }
            Some((&last, sealed)) => {
                for (i, &base) in sealed.iter().enumerate() {
                    let next_base = bases[i + 1];
                    segments.insert(base, Segment::open_sealed(&disk, base, next_base)?);
                }
                let (active, recovery) = Segment::recover(&disk, last, keep_end, trust_from)?;
                segments.insert(last, active);
                recovery
            }
        };
        let end = segments
            .values()
            .next_back()
            .map_or(0, Segment::next_offset);
        if recovery.truncated_bytes > 0 {
            tracing::warn!(
                dir = %disk.root().display(),
                truncated_bytes = recovery.truncated_bytes,
                reason = recovery.stop_reason.as_deref().unwrap_or(""),
                "log recovery cut a damaged tail"
            );
        }
        let clock = Clock::new();
        // What lies beyond the recovery point was read back from the file, but nothing says it
        // is durable: a process that reopens its log after a failed sync (the log went offline)
        // reads what the OS still caches of writes whose sync failed. Counting it as synced let
        // a follower join the ISR, lead, and lose an acknowledged record to the next power loss
        // (disk swarm seeds 1018209541 and 1018209619: inconsistent-offsets). So it is synced
        // now; if that fails, the open fails and the caller retries later.
        let synced_end = recovery_point.synced_end().min(end);
        let mut log = Log {
            disk,
            options,
            segments,
            end,
            synced_end,
            last_sync: clock.now(),
            offline: None,
            recovery,
            clock,
            recovery_point,
            trust_from,
            incarnation: Arc::new(()),
            truncations: 0,
            group_sync_pending: false,
        };
        if log.synced_end < log.end {
            log.sync()?;
        }
        assert!(
            log.synced_end == log.end,
            "an opened log is synced to its end"
        );
        Ok(log)
    }

    /// The first offset held.
    pub fn start(&self) -> u64 {
        self.segments.keys().next().copied().unwrap_or(0)
    }

    /// The offset the next record will get.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Every offset below this is durable.
    pub fn synced_end(&self) -> u64 {
        self.synced_end
    }

    pub fn options(&self) -> LogOptions {
        self.options
    }

    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Why the log is offline, if it is.
    pub fn offline_reason(&self) -> Option<&str> {
        self.offline.as_deref()
    }

    fn check_online(&self) -> Result<(), StorageError> {
        match &self.offline {
            Some(reason) => Err(StorageError::Offline {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn go_offline<T>(&mut self, error: StorageError) -> Result<T, StorageError> {
        tracing::error!(dir = %self.disk.root().display(), %error, "log goes offline");
        self.offline = Some(error.to_string());
        Err(error)
    }

    /// Appends records as a new batch at the end of the log (the leader's path).
    pub fn append(
        &mut self,
        meta: BatchMeta,
        records: Vec<Record>,
    ) -> Result<AppendInfo, StorageError> {
        let batch = self.batch_at_end(meta, records);
        self.append_batch(&batch)
    }

    /// `records` as the next batch of this log.
    fn batch_at_end(&self, meta: BatchMeta, records: Vec<Record>) -> RecordBatch {
        RecordBatch {
            base_offset: self.end,
            meta,
            records,
        }
    }

    /// Appends a batch that already carries its offsets (the follower's path). It must start
    /// exactly at the end of the log.
    pub fn append_batch(&mut self, batch: &RecordBatch) -> Result<AppendInfo, StorageError> {
        let info = self.append_batch_unsynced(batch)?;
        let synced = match self.options.fsync {
            FsyncPolicy::Always => {
                self.sync()?;
                true
            }
            FsyncPolicy::Interval(_) => self.sync_if_due()?,
            FsyncPolicy::Never => false,
        };
        Ok(AppendInfo { synced, ..info })
    }

    /// [`Log::append`] without the policy's sync: the caller makes the batch durable later with
    /// [`Log::sync_group`] (or any sync), together with whatever else was appended meanwhile,
    /// and acknowledges nothing of it before that under `fsync: always`.
    pub fn append_unsynced(
        &mut self,
        meta: BatchMeta,
        records: Vec<Record>,
    ) -> Result<AppendInfo, StorageError> {
        let batch = self.batch_at_end(meta, records);
        self.append_batch_unsynced(&batch)
    }

    /// [`Log::append_batch`] without the policy's sync (see [`Log::append_unsynced`]).
    pub fn append_batch_unsynced(
        &mut self,
        batch: &RecordBatch,
    ) -> Result<AppendInfo, StorageError> {
        self.check_online()?;
        if batch.base_offset != self.end {
            return Err(StorageError::NonContiguous {
                expected: self.end,
                got: batch.base_offset,
            });
        }
        let bytes = batch
            .encode()
            .map_err(|reason| StorageError::InvalidBatch { reason })?;
        let header =
            BatchHeader::parse(&bytes).map_err(|reason| StorageError::InvalidBatch { reason })?;
        let active_bytes = self.active().size_bytes();
        if active_bytes > 0 && active_bytes + bytes.len() as u64 > self.options.segment_bytes_max {
            self.roll()?;
        }
        let appended = self.active_mut().append(&bytes, &header);
        match appended {
            Ok(()) => {}
            Err(error @ StorageError::Disk(_)) => {
                // Nothing was added: the request fails, the log stays usable.
                return Err(error);
            }
            Err(error) => return self.go_offline(error),
        }
        self.end = header.next_offset();
        Ok(AppendInfo {
            base_offset: header.base_offset,
            last_offset: header.next_offset() - 1,
            synced: self.synced_end == self.end,
        })
    }

    /// A group commit: one fsync makes every append since the last sync durable, and the
    /// recovery point of the previous sync is synced beside it rather than after it (see
    /// `recovery_point`), so a group costs one fsync's wait however many appends it covers.
    /// With nothing to sync it brings a lagging recovery point up to the synced end: a point
    /// lags only while appends keep coming. On failure the log goes offline, as with `sync`.
    /// This waits here; a broker begins the same syncs under its lock and waits outside it
    /// ([`Log::begin_group_sync`]).
    pub fn sync_group(&mut self) -> Result<(), StorageError> {
        let Some(group) = self.begin_group_sync()? else {
            return Ok(());
        };
        let mut groups = [group];
        GroupSync::finish_all(&mut groups);
        let [group] = groups;
        self.finish_group_sync(group)
    }

    /// Begins a group commit (see [`Log::sync_group`]): writes the recovery point's record and
    /// begins the syncs; `None` with nothing to sync. The caller waits for them, then hands the
    /// group to [`Log::finish_group_sync`] — nothing counts as synced before that.
    pub fn begin_group_sync(&mut self) -> Result<Option<GroupSync>, StorageError> {
        self.check_online()?;
        assert!(!self.group_sync_pending, "one group sync at a time");
        let log_behind = self.synced_end < self.end;
        if !log_behind && self.recovery_point.claimed_end() >= self.synced_end {
            return Ok(None);
        }
        // The point first, then the log's sync and the point's, as one wait.
        let point = match self.recovery_point.write_alongside(self.synced_end) {
            Ok(point) => point,
            Err(error) => return self.go_offline(error),
        };
        let mut syncs = Vec::with_capacity(2);
        if log_behind {
            syncs.push(self.active().log_file().begin_sync());
        }
        syncs.extend(self.recovery_point.begin_pending_sync());
        self.group_sync_pending = true;
        Ok(Some(GroupSync {
            incarnation: self.incarnation.clone(),
            truncations: self.truncations,
            end: self.end,
            point,
            syncs,
            failed: None,
        }))
    }

    /// Counts what a group's syncs covered, once they ended: the log's end when the group
    /// began is synced (unless a truncation came between), and the recovery point stands at
    /// its record. A failed sync takes the log offline, as with `sync`.
    pub fn finish_group_sync(&mut self, group: GroupSync) -> Result<(), StorageError> {
        assert!(group.is_of(self), "a group finishes on the log it began on");
        assert!(group.syncs.is_empty(), "finish the group's syncs first");
        self.group_sync_pending = false;
        if let Some(error) = group.failed {
            if let Some(point) = group.point {
                self.recovery_point.abandon(point);
            }
            if self.offline.is_some() {
                return Err(error.into());
            }
            return self.go_offline(error.into());
        }
        self.check_online()?;
        if let Some(point) = group.point {
            self.recovery_point.finish_alongside(point);
        }
        if group.truncations == self.truncations && group.end > self.synced_end {
            assert!(
                group.end <= self.end,
                "no truncation, so the log still holds it"
            );
            self.synced_end = group.end;
            self.last_sync = self.clock.now();
        }
        Ok(())
    }

    /// Whether the recovery point is below the synced end (after a group commit, until the
    /// next [`Log::sync_group`] finds nothing to sync).
    pub fn recovery_point_lags(&self) -> bool {
        self.recovery_point.claimed_end() < self.synced_end
    }

    /// Syncs the active segment: on success everything appended is durable; on failure the log
    /// goes offline, because what the OS kept of the unsynced data is unknown.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.check_online()?;
        if self.synced_end == self.end {
            return Ok(());
        }
        if let Err(error) = self.active().sync_log() {
            return self.go_offline(error);
        }
        if let Err(error) = self.recovery_point.record(self.end) {
            return self.go_offline(error);
        }
        self.synced_end = self.end;
        self.last_sync = self.clock.now();
        Ok(())
    }

    /// Under `Interval`, syncs if the interval has passed since the last sync. Returns whether
    /// everything is durable afterwards.
    pub fn sync_if_due(&mut self) -> Result<bool, StorageError> {
        if let FsyncPolicy::Interval(every) = self.options.fsync {
            if self.clock.now().duration_since(self.last_sync) >= every {
                self.sync()?;
            }
        }
        Ok(self.synced_end == self.end)
    }

    /// Seals the active segment (log and index synced) and starts a new one at the end.
    fn roll(&mut self) -> Result<(), StorageError> {
        if self.segments.len() >= SEGMENTS_MAX {
            return Err(StorageError::InvalidBatch {
                reason: format!("the log already holds {SEGMENTS_MAX} segments"),
            });
        }
        let sealed = self.active().seal(&self.disk);
        if let Err(error) = sealed {
            return self.go_offline(error);
        }
        if let Err(error) = self.recovery_point.record(self.end) {
            return self.go_offline(error);
        }
        self.synced_end = self.end;
        self.last_sync = self.clock.now();
        let segment = Segment::create(&self.disk, self.end)?;
        // The new file's name must be durable before anything synced into it counts: a sync
        // of the file alone does not keep its directory entry across a crash.
        if let Err(error) = self.disk.sync_dir(Path::new("")) {
            return self.go_offline(error.into());
        }
        self.segments.insert(self.end, segment);
        Ok(())
    }

    /// Verified batches from the one holding `from`, until at least `max_bytes` are gathered or
    /// the log ends; always at least one batch when `from < end`, so a large batch cannot stall a
    /// reader. The first batch may start before `from`.
    pub fn read(&self, from: u64, max_bytes: u64) -> Result<Vec<RecordBatch>, StorageError> {
        self.check_online()?;
        let start = self.start();
        if from < start || from > self.end {
            return Err(StorageError::OffsetOutOfRange {
                offset: from,
                start,
                end: self.end,
            });
        }
        let mut batches = Vec::new();
        let mut gathered_bytes = 0u64;
        let mut offset = from;
        // Each pass reads one batch and moves `offset` forward, so at most end - from passes.
        while offset < self.end && (batches.is_empty() || gathered_bytes < max_bytes) {
            let Some((_, segment)) = self.segments.range(..=offset).next_back() else {
                break;
            };
            let Some(position) = segment.position_of(offset) else {
                break;
            };
            let (batch, next_position) = segment.read_batch_at(position)?;
            gathered_bytes += next_position - position;
            offset = batch.next_offset();
            batches.push(batch);
        }
        Ok(batches)
    }

    /// Every record from `from` (not before it) up to `max_bytes`, as `(offset, record)`.
    pub fn read_records(
        &self,
        from: u64,
        max_bytes: u64,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        let batches = self.read(from, max_bytes)?;
        Ok(batches
            .into_iter()
            .flat_map(|batch| {
                let base = batch.base_offset;
                batch
                    .records
                    .into_iter()
                    .enumerate()
                    .map(move |(i, record)| (base + i as u64, record))
            })
            .filter(|(offset, _)| *offset >= from)
            .collect())
    }

    /// Drops every record at or above `offset` (a straddling batch goes whole) and makes the cut
    /// durable before returning the new end. Followers use this to discard divergent records.
    pub fn truncate_to(&mut self, offset: u64) -> Result<u64, StorageError> {
        self.check_online()?;
        if offset >= self.end {
            return Ok(self.end);
        }
        // Lowered first, to exactly where the cut will end (a straddling batch goes whole): a
        // crash between the two leaves a point at or below the data, which is safe; the other
        // order would leave a log its recovery refuses to open.
        let start = self.start();
        let cut_end = match self.segments.range(..=offset.max(start)).next_back() {
            Some((_, segment)) => segment.truncation_end(offset.max(start)),
            None => start,
        };
        self.truncations += 1;
        if self.recovery_point.claimed_end() > cut_end {
            if let Err(error) = self.recovery_point.record(cut_end) {
                return self.go_offline(error);
            }
        }
        let result = self.truncate_segments(offset);
        match result {
            Ok(end) => {
                self.end = end;
                self.synced_end = self.synced_end.min(end);
                Ok(end)
            }
            Err(error) => self.go_offline(error),
        }
    }

    fn truncate_segments(&mut self, offset: u64) -> Result<u64, StorageError> {
        let start = self.start();
        let offset = offset.max(start);
        let doomed: Vec<u64> = self
            .segments
            .range(offset + 1..)
            .map(|(base, _)| *base)
            .collect();
        // Keep the first segment even when its base is above the cut, so the log is never empty.
        for base in doomed.into_iter().rev() {
            if base == start {
                break;
            }
            if let Some(segment) = self.segments.remove(&base) {
                segment.remove(&self.disk)?;
            }
        }
        self.disk.sync_dir(Path::new(""))?;
        self.active_mut().truncate_to(offset)
    }

    /// Removes whole segments holding only offsets below `offset` (never the active one), for
    /// logs whose prefix is covered elsewhere, such as by a coordinator snapshot. Returns how many
    /// segments went. The removal is durable before it returns.
    pub fn remove_segments_below(&mut self, offset: u64) -> Result<usize, StorageError> {
        self.check_online()?;
        let bases: Vec<u64> = self.segments.keys().copied().collect();
        let mut removed = 0;
        for pair in bases.windows(2) {
            // pair[0]'s records all lie below pair[1], the next segment's base.
            if pair[1] > offset {
                break;
            }
            if let Some(segment) = self.segments.remove(&pair[0]) {
                segment.remove(&self.disk)?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.disk.sync_dir(Path::new(""))?;
        }
        Ok(removed)
    }

    /// Every batch in the log, in order (for rebuilding per-batch state at startup).
    pub fn batches(&self) -> Result<Vec<RecordBatch>, StorageError> {
        self.check_online()?;
        let mut all = Vec::new();
        for segment in self.segments.values() {
            all.extend(segment.batches(self.trust_from)?);
        }
        Ok(all)
    }

    fn active(&self) -> &Segment {
        match self.segments.values().next_back() {
            Some(segment) => segment,
            None => unreachable!("a log always holds a segment"),
        }
    }

    fn active_mut(&mut self) -> &mut Segment {
        match self.segments.values_mut().next_back() {
            Some(segment) => segment,
            None => unreachable!("a log always holds a segment"),
        }
    }
}
