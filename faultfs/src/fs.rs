//! The FUSE adapter: translates kernel requests into model operations through `State`, checks
//! the fault switches first, and replies. No durability logic lives here. Entries and
//! attributes are given a zero TTL and files are opened without keep-cache, so after a power
//! loss the kernel asks again instead of serving names or pages the model has dropped.

use std::ffi::OsStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::model::{Attr, Ino};
use crate::state::State;

const TTL: Duration = Duration::ZERO;
const BLOCK_BYTES: u32 = 4096;

pub struct FaultFs {
    state: Arc<Mutex<State>>,
    /// Times are not modelled; every inode reports the mount time.
    mounted_at: SystemTime,
    uid: u32,
    gid: u32,
}

impl FaultFs {
    pub fn new(state: Arc<Mutex<State>>, mounted_at: SystemTime) -> FaultFs {
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        FaultFs {
            state,
            mounted_at,
            uid,
            gid,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the model as it was at the panic: keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn file_attr(&self, attr: &Attr) -> FileAttr {
        let kind = if attr.is_dir {
            FileType::Directory
        } else {
            FileType::RegularFile
        };
        FileAttr {
            ino: INodeNo(attr.ino),
            size: attr.size,
            blocks: attr.size.div_ceil(512),
            atime: self.mounted_at,
            mtime: self.mounted_at,
            ctime: self.mounted_at,
            crtime: self.mounted_at,
            kind,
            perm: (attr.mode & 0o7777) as u16,
            nlink: attr.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: BLOCK_BYTES,
            flags: 0,
        }
    }

    fn attr_of(&self, state: &State, ino: Ino) -> Result<FileAttr, i32> {
        state
            .model
            .attr(ino)
            .map(|attr| self.file_attr(&attr))
            .map_err(|e| e.errno())
    }

    /// Creates a file or directory and returns its attributes.
    fn make(
        &self,
        state: &mut State,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        is_dir: bool,
    ) -> Result<FileAttr, i32> {
        if let Some(code) = state.faults.write_refused(true) {
            return Err(code);
        }
        let ino = state.run(|model| {
            let ino = if is_dir {
                model.make_dir(parent.0, name, mode & 0o7777)?
            } else {
                model.create_file(parent.0, name, mode & 0o7777)?
            };
            Ok((ino, Vec::new()))
        })?;
        self.attr_of(state, ino)
    }
}

fn errno(code: i32) -> Errno {
    Errno::from_i32(code)
}

/// A handle from before the last power loss refers to an inode that may be gone.
fn check_generation(state: &State, fh: FileHandle) -> Result<(), i32> {
    if fh.0 == state.generation {
        Ok(())
    } else {
        Err(libc::EIO)
    }
}

impl Filesystem for FaultFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let state = self.state();
        let result = state.model.lookup(parent.0, name).map_err(|e| e.errno());
        match result.and_then(|ino| self.attr_of(&state, ino)) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr_of(&self.state(), ino.0) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.state();
        let result = (|| {
            if let Some(len) = size {
                let grows = state.model.attr(ino.0).is_ok_and(|attr| len > attr.size);
                if let Some(code) = state.faults.write_refused(grows) {
                    return Err(code);
                }
                state.run(|model| Ok(((), model.truncate(ino.0, len)?)))?;
            }
            if let Some(mode) = mode {
                state.run(|model| Ok(((), model.set_mode(ino.0, mode & 0o7777)?)))?;
            }
            self.attr_of(&state, ino.0)
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        match self.make(&mut self.state(), parent, name, mode & !umask, false) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        match self.make(&mut self.state(), parent, name, mode & !umask, true) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self
            .state()
            .run(|model| Ok(((), model.remove(parent.0, name, false)?)))
        {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self
            .state()
            .run(|model| Ok(((), model.remove(parent.0, name, true)?)))
        {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return reply.error(Errno::EINVAL);
        }
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let source = (parent.0, name);
        let target = (newparent.0, newname);
        match self
            .state()
            .run(|model| Ok(((), model.rename(source, target, no_replace)?)))
        {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.state();
        match state.model.open(ino.0) {
            Ok(()) => reply.opened(FileHandle(state.generation), FopenFlags::empty()),
            Err(error) => reply.error(errno(error.errno())),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.state();
        match check_generation(&state, fh).and_then(|()| state.read(ino.0, offset, size.into())) {
            Ok(bytes) => reply.data(&state.faults.corrupt_read(bytes)),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut state = self.state();
        let result = check_generation(&state, fh).and_then(|()| {
            if let Some(code) = state.faults.write_refused(true) {
                return Err(code);
            }
            state.run(|model| Ok(((), model.write(ino.0, offset, data)?)))
        });
        match result {
            Ok(()) => reply.written(data.len() as u32),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        // Handles from before a power loss were already forgotten by the model.
        if fh.0 == state.generation {
            let effects = state.model.release(ino.0);
            let _ = state.apply(&effects);
        }
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        let result = check_generation(&state, fh).and_then(|()| {
            if state.fsync_fails(ino.0) {
                return Err(libc::EIO);
            }
            state.run(|model| Ok(((), model.sync_file(ino.0)?)))
        });
        match result {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn opendir(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(self.state().generation), FopenFlags::empty());
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.state().model.entries(ino.0) {
            Ok(entries) => entries,
            Err(error) => return reply.error(errno(error.errno())),
        };
        let dots = [(".".into(), ino.0, true), ("..".into(), ino.0, true)];
        // Offsets are positions in the name-ordered listing; a listing that changes between
        // calls may skip or repeat a name, as on any file system.
        for (index, (name, child, is_dir)) in dots
            .into_iter()
            .chain(entries)
            .enumerate()
            .skip(offset as usize)
        {
            let kind = if is_dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            if reply.add(INodeNo(child), index as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        if state.fsync_fails(ino.0) {
            return reply.error(Errno::EIO);
        }
        match state.run(|model| Ok(((), model.sync_dir(ino.0)?))) {
            Ok(()) => reply.ok(),
            Err(code) => reply.error(errno(code)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let state = self.state();
        let (total, free) = state.backing.space().unwrap_or((0, 0));
        let free = if state.faults.disk_full { 0 } else { free };
        let block = u64::from(BLOCK_BYTES);
        let inodes = state.model.stats().inodes;
        reply.statfs(
            total / block,
            free / block,
            free / block,
            inodes,
            1 << 20,
            BLOCK_BYTES,
            255,
            BLOCK_BYTES,
        );
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // default_permissions is set, so the kernel checks the mode bits itself.
        reply.ok();
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        // One lock for both steps, so no power loss falls between the create and the open.
        let mut state = self.state();
        let result = self
            .make(&mut state, parent, name, mode & !umask, false)
            .and_then(|attr| {
                state.model.open(attr.ino.0).map_err(|e| e.errno())?;
                Ok((attr, state.generation))
            });
        match result {
            Ok((attr, generation)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(generation),
                FopenFlags::empty(),
            ),
            Err(code) => reply.error(errno(code)),
        }
    }
}
