//! The durability model without FUSE or disks: effects are applied to an in-memory backing
//! directory, and each test states what a power loss must keep.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::file::Piece;
use super::*;

/// The backing directory in memory; hard links share one buffer.
#[derive(Default)]
struct Disk {
    files: BTreeMap<PathBuf, Rc<RefCell<Vec<u8>>>>,
    dirs: BTreeMap<PathBuf, ()>,
}

impl Disk {
    fn apply(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::CreateFile { path, .. } => {
                    assert!(!self.exists(path), "{effect:?}: exists");
                    self.files.insert(path.clone(), Rc::default());
                }
                Effect::MakeDir { path, .. } => {
                    assert!(!self.exists(path), "{effect:?}: exists");
                    self.dirs.insert(path.clone(), ());
                }
                Effect::WriteData { path, plan } => {
                    let mut data = self.files[path].borrow_mut();
                    if let Some(len) = plan.truncate_to {
                        data.truncate(len as usize);
                    }
                    for (offset, bytes) in &plan.writes {
                        let end = *offset as usize + bytes.len();
                        if data.len() < end {
                            data.resize(end, 0);
                        }
                        data[*offset as usize..end].copy_from_slice(bytes);
                    }
                    if let Some(len) = plan.len {
                        data.resize(len as usize, 0);
                    }
                }
                Effect::Link { from, to } => {
                    assert!(!self.exists(to), "{effect:?}: target exists");
                    let shared = Rc::clone(&self.files[from]);
                    self.files.insert(to.clone(), shared);
                }
                Effect::Rename { from, to } => {
                    assert!(!self.exists(to), "{effect:?}: target exists");
                    self.move_tree(from, to);
                }
                Effect::RemoveFile { path } => {
                    self.files.remove(path).expect("removed file exists");
                }
                Effect::RemoveTree { path } => {
                    self.files.retain(|p, _| !p.starts_with(path));
                    self.dirs.retain(|p, _| !p.starts_with(path));
                }
                Effect::SetMode { .. } | Effect::SyncDir { .. } => {}
                Effect::ClearStaging => {
                    // Emptied, not removed, as `Backing::reset_staging` does.
                    self.files.retain(|p, _| !p.starts_with(STAGING_DIR));
                    self.dirs
                        .retain(|p, _| p == Path::new(STAGING_DIR) || !p.starts_with(STAGING_DIR));
                }
            }
        }
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path) || self.dirs.contains_key(path)
    }

    fn move_tree(&mut self, from: &Path, to: &Path) {
        let moved = |p: &Path| to.join(p.strip_prefix(from).expect("under from"));
        let files: Vec<_> = self
            .files
            .keys()
            .filter(|p| p.starts_with(from))
            .cloned()
            .collect();
        for path in files {
            let data = self.files.remove(&path).expect("listed");
            self.files.insert(moved(&path), data);
        }
        let dirs: Vec<_> = self
            .dirs
            .keys()
            .filter(|p| p.starts_with(from))
            .cloned()
            .collect();
        for path in dirs {
            self.dirs.remove(&path);
            self.dirs.insert(moved(&path), ());
        }
    }

    /// The durable tree as "path" -> Some(bytes) for files, None for directories.
    fn durable(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        let visible = |p: &&PathBuf| !p.starts_with(STAGING_DIR);
        let files = self
            .files
            .iter()
            .filter(|(p, _)| visible(p))
            .map(|(p, d)| (p.clone(), Some(d.borrow().clone())));
        let dirs = self.dirs.keys().filter(visible).map(|p| (p.clone(), None));
        files.chain(dirs).collect()
    }
}

/// A model and its disk, with the helpers tests speak in (paths, not inodes).
struct Rig {
    model: Model,
    disk: Disk,
}

impl Rig {
    fn new() -> Rig {
        let mut disk = Disk::default();
        disk.dirs.insert(PathBuf::from(STAGING_DIR), ());
        Rig {
            model: Model::new(PENDING_BYTES_MAX_DEFAULT),
            disk,
        }
    }

    fn ino(&self, path: &str) -> Ino {
        Path::new(path).iter().fold(ROOT_INO, |dir, name| {
            self.model.lookup(dir, name).expect(path)
        })
    }

    fn split<'a>(&self, path: &'a str) -> (Ino, &'a OsStr) {
        let path = Path::new(path);
        let parent = path.parent().and_then(|p| p.to_str()).unwrap_or("");
        let parent = if parent.is_empty() {
            ROOT_INO
        } else {
            self.ino(parent)
        };
        (parent, path.file_name().expect("a name"))
    }

    fn create(&mut self, path: &str) {
        let (parent, name) = self.split(path);
        self.model.create_file(parent, name, 0o644).expect("create");
    }

    fn mkdir(&mut self, path: &str) {
        let (parent, name) = self.split(path);
        self.model.make_dir(parent, name, 0o755).expect("mkdir");
    }

    fn write(&mut self, path: &str, offset: u64, data: &[u8]) {
        let effects = self
            .model
            .write(self.ino(path), offset, data)
            .expect("write");
        self.disk.apply(&effects);
    }

    fn fsync(&mut self, path: &str) {
        let ino = if path.is_empty() {
            ROOT_INO
        } else {
            self.ino(path)
        };
        let effects = self.model.sync_file(ino).expect("fsync");
        self.disk.apply(&effects);
    }

    fn rename(&mut self, from: &str, to: &str) {
        let (source, target) = (self.split(from), self.split(to));
        let effects = self.model.rename(source, target, false).expect("rename");
        self.disk.apply(&effects);
    }

    fn unlink(&mut self, path: &str) {
        let (parent, name) = self.split(path);
        let effects = self.model.remove(parent, name, false).expect("unlink");
        self.disk.apply(&effects);
    }

    fn power_loss(&mut self) {
        let report = self.model.power_loss::<ChaCha8Rng>(None);
        self.disk.apply(&report.effects);
        self.assert_live_equals_disk();
    }

    /// What a reader sees through the mount, as `Disk::durable` shapes it.
    fn live(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![(ROOT_INO, PathBuf::new())];
        while let Some((dir, path)) = stack.pop() {
            for (name, ino, is_dir) in self.model.entries(dir).expect("dir") {
                let child = path.join(name);
                if is_dir {
                    out.insert(child.clone(), None);
                    stack.push((ino, child));
                } else {
                    out.insert(child, Some(self.read(ino)));
                }
            }
        }
        out
    }

    fn read(&self, ino: Ino) -> Vec<u8> {
        let plan = self.model.read(ino, 0, u64::MAX).expect("read");
        let mut bytes = Vec::new();
        for piece in plan.pieces {
            match piece {
                Piece::Bytes(data) => bytes.extend_from_slice(&data),
                Piece::Zeros { len } => bytes.resize(bytes.len() + len as usize, 0),
                Piece::Durable { offset, len } => {
                    let data = self.disk.files[plan.home.as_ref().expect("home")].borrow();
                    bytes.extend_from_slice(&data[offset as usize..(offset + len) as usize]);
                }
            }
        }
        bytes
    }

    fn assert_live_equals_disk(&self) {
        assert_eq!(
            self.live(),
            self.disk.durable(),
            "after a power loss the mount shows the disk"
        );
    }

    fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.disk.durable().get(Path::new(path)).cloned().flatten()
    }
}

#[test]
fn data_is_durable_only_after_the_file_is_synced() {
    let mut rig = Rig::new();
    rig.create("f");
    rig.write("f", 0, b"lost");
    rig.fsync("");
    assert_eq!(
        rig.file("f"),
        Some(Vec::new()),
        "the directory sync names the file, empty"
    );
    rig.power_loss();
    assert_eq!(rig.file("f"), Some(Vec::new()));
    rig.write("f", 0, b"kept");
    rig.fsync("f");
    rig.write("f", 4, b"-lost");
    rig.power_loss();
    assert_eq!(rig.file("f"), Some(b"kept".to_vec()));
}

#[test]
fn a_name_is_durable_only_after_its_directory_is_synced() {
    let mut rig = Rig::new();
    rig.create("f");
    rig.write("f", 0, b"synced data, unsynced name");
    rig.fsync("f");
    assert!(
        rig.disk.files.contains_key(&staging_path(rig.ino("f"))),
        "synced data waits in staging"
    );
    rig.power_loss();
    assert!(
        rig.live().is_empty(),
        "an unnamed inode is an orphan after power loss"
    );
    assert!(
        rig.disk.files.is_empty() && rig.disk.dirs.len() == 1,
        "staging is emptied"
    );
}

#[test]
fn unlink_and_rename_are_undone_by_a_power_loss_until_the_directory_sync() {
    let mut rig = Rig::new();
    rig.create("a");
    rig.write("a", 0, b"A");
    rig.fsync("a");
    rig.fsync("");
    rig.rename("a", "b");
    rig.power_loss();
    assert_eq!(rig.file("a"), Some(b"A".to_vec()));
    assert_eq!(rig.file("b"), None);
    rig.unlink("a");
    rig.power_loss();
    assert_eq!(rig.file("a"), Some(b"A".to_vec()));
    rig.unlink("a");
    rig.fsync("");
    rig.power_loss();
    assert!(rig.live().is_empty());
}

#[test]
fn rename_does_not_make_the_source_data_durable() {
    let mut rig = Rig::new();
    rig.create("tmp");
    rig.write("tmp", 0, b"new contents");
    rig.rename("tmp", "config");
    rig.fsync("");
    rig.power_loss();
    assert_eq!(
        rig.file("config"),
        Some(Vec::new()),
        "the write-rename without fsync pattern loses data"
    );
}

#[test]
fn a_rename_across_directories_is_durable_per_directory() {
    let mut rig = Rig::new();
    rig.mkdir("x");
    rig.mkdir("y");
    rig.create("x/f");
    rig.write("x/f", 0, b"F");
    rig.fsync("x/f");
    rig.fsync("x");
    rig.fsync("");
    rig.rename("x/f", "y/f");
    rig.fsync("y");
    let twice = rig.disk.durable();
    assert_eq!(twice.get(Path::new("x/f")), Some(&Some(b"F".to_vec())));
    assert_eq!(
        twice.get(Path::new("y/f")),
        Some(&Some(b"F".to_vec())),
        "durably named twice"
    );
    rig.write("y/f", 0, b"G");
    rig.fsync("y/f");
    assert_eq!(
        rig.file("x/f"),
        Some(b"G".to_vec()),
        "both names are one inode"
    );
    rig.fsync("x");
    rig.power_loss();
    assert_eq!(rig.file("x/f"), None);
    assert_eq!(rig.file("y/f"), Some(b"G".to_vec()));

    rig.rename("y/f", "x/g");
    rig.fsync("y");
    assert_eq!(
        rig.file("y/f"),
        None,
        "only the source side is durable: the file is unnamed"
    );
    rig.fsync("x");
    assert_eq!(
        rig.file("x/g"),
        Some(b"G".to_vec()),
        "and staging gave it back its data"
    );
}

#[test]
fn a_directory_renamed_in_place_keeps_its_durable_children() {
    let mut rig = Rig::new();
    rig.mkdir("d");
    rig.create("d/f");
    rig.write("d/f", 0, b"F");
    rig.fsync("d/f");
    rig.fsync("d");
    rig.fsync("");
    rig.rename("d", "e");
    rig.fsync("");
    rig.power_loss();
    assert_eq!(rig.file("e/f"), Some(b"F".to_vec()));
    let (source, target) = (rig.split("e"), (rig.ino(""), OsStr::new("z")));
    assert!(rig.model.rename(source, target, false).is_ok());
    rig.mkdir("w");
    let error = rig
        .model
        .rename(rig.split("z"), (rig.ino("w"), OsStr::new("z")), false);
    assert!(matches!(error, Err(FsError::CrossDirectoryRename { .. })));
}

#[test]
fn a_removed_staged_directory_keeps_a_child_that_moved_out() {
    let mut rig = Rig::new();
    rig.mkdir("d");
    rig.create("d/f");
    rig.write("d/f", 0, b"F");
    rig.fsync("d/f");
    rig.fsync("d");
    rig.rename("d/f", "f");
    let (parent, name) = rig.split("d");
    let effects = rig.model.remove(parent, name, true).expect("rmdir");
    rig.disk.apply(&effects);
    rig.fsync("");
    assert_eq!(rig.file("f"), Some(b"F".to_vec()));
    rig.power_loss();
    assert_eq!(rig.file("f"), Some(b"F".to_vec()));
}

#[test]
fn an_open_unlinked_file_can_be_synced_and_disappears_on_release() {
    let mut rig = Rig::new();
    rig.create("f");
    let ino = rig.ino("f");
    rig.model.open(ino).expect("open");
    rig.unlink("f");
    let effects = rig.model.write(ino, 0, b"x").expect("write");
    rig.disk.apply(&effects);
    let effects = rig.model.sync_file(ino).expect("sync");
    rig.disk.apply(&effects);
    assert!(rig.disk.files.contains_key(&staging_path(ino)));
    let effects = rig.model.release(ino);
    rig.disk.apply(&effects);
    assert!(rig.disk.files.is_empty());
    assert!(rig.model.attr(ino).is_err());
}

#[test]
fn torn_power_loss_keeps_a_block_aligned_live_prefix_and_is_seeded() {
    let run = |seed: u64| {
        let mut rig = Rig::new();
        rig.create("f");
        rig.write("f", 0, &[b'a'; 10]);
        rig.fsync("f");
        rig.fsync("");
        rig.write("f", 10, &[b'b'; 30]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let report = rig.model.power_loss(Some((8, &mut rng)));
        rig.disk.apply(&report.effects);
        rig.assert_live_equals_disk();
        rig.file("f").expect("f")
    };
    let mut lengths = BTreeSet::new();
    for seed in 0..32 {
        let data = run(seed);
        assert_eq!(data, run(seed), "the same seed tears the same way");
        let cut = data.len();
        assert!(
            cut == 10 || cut == 40 || cut % 8 == 0,
            "cut {cut} is a block boundary or an end"
        );
        assert_eq!(&data[..10], &[b'a'; 10]);
        assert!(data[10..].iter().all(|b| *b == b'b'));
        lengths.insert(cut);
    }
    assert!(
        lengths.len() > 2,
        "different seeds tear at different blocks: {lengths:?}"
    );
}

#[test]
fn over_the_pending_budget_the_largest_file_is_written_back() {
    let mut rig = Rig {
        model: Model::new(10),
        ..Rig::new()
    };
    rig.create("small");
    rig.create("large");
    rig.write("small", 0, b"1234");
    rig.write("large", 0, b"12345678");
    assert_eq!(rig.model.stats().pending_bytes, 4);
    assert!(rig.disk.files.contains_key(&staging_path(rig.ino("large"))));
}

/// Random operations, a power loss every few: the mount must then show exactly the disk, and
/// the model's pending-bytes counter must match its files.
#[test]
fn random_operations_keep_the_live_view_and_the_disk_in_step() {
    const STEPS: usize = 3000;
    let names = ["a", "b", "d/a", "d/b", "e/a"];
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let mut rig = Rig::new();
    for dir in ["d", "e"] {
        rig.mkdir(dir);
    }
    rig.fsync("");
    for _ in 0..STEPS {
        let name = names[rng.random_range(0..names.len())];
        let other = names[rng.random_range(0..names.len())];
        let exists = rig.split(name);
        let present = rig.model.lookup(exists.0, exists.1).is_ok();
        match rng.random_range(0..9) {
            0 if !present => rig.create(name),
            1 if present => {
                let offset = rng.random_range(0..64);
                let len = rng.random_range(1..32);
                rig.write(name, offset, &vec![rng.random::<u8>(); len]);
            }
            2 if present => {
                let effects = rig
                    .model
                    .truncate(rig.ino(name), rng.random_range(0..48))
                    .expect("truncate");
                rig.disk.apply(&effects);
            }
            3 if present && name != other => rig.rename(name, other),
            4 if present => rig.unlink(name),
            5 if present => rig.fsync(name),
            6 => rig.fsync(["", "d", "e"][rng.random_range(0..3)]),
            7 if rng.random_range(0..4) == 0 => rig.power_loss(),
            _ => {}
        }
        let pending: u64 = rig.model.inodes.values().map(Inode::pending_bytes).sum();
        assert_eq!(pending, rig.model.stats().pending_bytes);
    }
}

#[test]
fn a_synced_file_in_a_directory_whose_own_name_is_unsynced_stays_readable() {
    // nats-server's first start: mkdir -p a/b, write b/f.tmp with O_SYNC, rename it to b/f,
    // fsync(b) — and read b/f back. Its home was lost (EIO) while b itself was only staged.
    let mut rig = Rig::new();
    rig.mkdir("a");
    rig.mkdir("a/b");
    rig.create("a/b/f.tmp");
    rig.write("a/b/f.tmp", 0, b"peers");
    rig.fsync("a/b/f.tmp");
    rig.rename("a/b/f.tmp", "a/b/f");
    rig.fsync("a/b");
    assert_eq!(rig.read(rig.ino("a/b/f")), b"peers".to_vec());
    rig.fsync("a");
    rig.fsync("");
    assert_eq!(rig.read(rig.ino("a/b/f")), b"peers".to_vec());
    rig.power_loss();
    assert_eq!(rig.file("a/b/f"), Some(b"peers".to_vec()));
}
