//! A crash loop: seeded random operations through the mount, a power loss every few, and after
//! each one the backing directory must equal an independent oracle's prediction: what was
//! synced survives, nothing unsynced does (with tearing: a block-aligned prefix of the live
//! bytes may survive on top of the durable ones). The oracle tracks inodes, so renames and
//! per-directory syncs are modelled as in faultfs's module header. A failure names the seed
//! and step; `FAULTFS_TRACE=1 cargo test -p faultfs crash_loop` prints every operation.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::mount::Mounted;

const DIRS: [&str; 3] = ["", "d", "e"];
const NAMES: [&str; 3] = ["x", "y", "z"];
const OPS_PER_RUN: usize = 2000;
const OPS_BETWEEN_POWER_LOSSES_MAX: u32 = 40;
const TORN_BLOCK_BYTES: usize = 16;

/// Files only (the directories d and e are created and synced before the loop).
#[derive(Default)]
struct Oracle {
    ino_next: u64,
    live: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
    data_live: BTreeMap<u64, Vec<u8>>,
    data_durable: BTreeMap<u64, Vec<u8>>,
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

impl Oracle {
    fn create(&mut self, path: &str) {
        self.ino_next += 1;
        self.live.insert(path.to_owned(), self.ino_next);
        self.data_live.insert(self.ino_next, Vec::new());
    }

    fn data(&mut self, path: &str) -> &mut Vec<u8> {
        let ino = self.live[path];
        self.data_live.get_mut(&ino).expect("live inode has data")
    }

    fn sync_dir(&mut self, dir: &str) {
        self.durable.retain(|path, _| parent(path) != dir);
        let entries = self.live.iter().filter(|(path, _)| parent(path) == dir);
        let entries: Vec<_> = entries.map(|(p, i)| (p.clone(), *i)).collect();
        self.durable.extend(entries);
    }

    /// Checks the disk after a power loss and makes it the new state. `torn` allows each file
    /// to hold live[..c] ++ durable[c..] for a block boundary c (or the live end).
    fn power_loss(&mut self, disk: &BTreeMap<String, Option<Vec<u8>>>, torn: bool, at: &str) {
        let files: BTreeMap<&String, &Vec<u8>> = disk
            .iter()
            .filter_map(|(path, data)| data.as_ref().map(|d| (path, d)))
            .collect();
        let expected: Vec<&String> = self.durable.keys().collect();
        assert_eq!(
            files.keys().copied().collect::<Vec<_>>(),
            expected,
            "{at}: durable names"
        );
        let mut kept = BTreeMap::new();
        for (path, ino) in &self.durable {
            let durable = self.data_durable.get(ino).cloned().unwrap_or_default();
            let live = self.data_live.get(ino).cloned().unwrap_or_default();
            let got = files[path];
            let tear = |c: usize| {
                let mut bytes = live[..c].to_vec();
                bytes.extend_from_slice(durable.get(c..).unwrap_or_default());
                bytes
            };
            let cuts = (0..=live.len() / TORN_BLOCK_BYTES)
                .map(|k| k * TORN_BLOCK_BYTES)
                .chain([live.len()]);
            let allowed = *got == durable || (torn && cuts.map(tear).any(|bytes| bytes == *got));
            assert!(
                allowed,
                "{at}: {path} holds {got:?}, durable {durable:?}, live {live:?}"
            );
            kept.insert(*ino, got.clone());
        }
        self.live = self.durable.clone();
        self.data_live = kept.clone();
        self.data_durable = kept;
    }
}

/// Runs one seeded loop; returns how many files the power losses tore, `None` when skipped.
fn crash_loop(test: &str, seed: u64, torn: bool) -> Option<u64> {
    let mnt = Mounted::start(test, seed)?;
    for dir in ["d", "e"] {
        fs::create_dir(mnt.path(dir)).unwrap();
    }
    mnt.fsync("").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut oracle = Oracle::default();
    let mut until_power_loss = rng.random_range(1..=OPS_BETWEEN_POWER_LOSSES_MAX);
    let mut power_losses = 0;
    let mut files_torn = 0;
    for step in 0..OPS_PER_RUN {
        let pick = |rng: &mut ChaCha8Rng| {
            let dir = DIRS[rng.random_range(0..DIRS.len())];
            let name = NAMES[rng.random_range(0..NAMES.len())];
            if dir.is_empty() {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            }
        };
        let path = pick(&mut rng);
        let exists = oracle.live.contains_key(&path);
        let op = rng.random_range(0..8);
        if std::env::var_os("FAULTFS_TRACE").is_some() {
            eprintln!("seed {seed} step {step}: op {op} on {path} (exists: {exists})");
        }
        match op {
            0 if !exists => {
                fs::File::create(mnt.path(&path)).unwrap();
                oracle.create(&path);
            }
            1 if exists => {
                let offset = rng.random_range(0..48usize);
                let bytes: Vec<u8> = (0..rng.random_range(1..40))
                    .map(|_| rng.random_range(b'a'..=b'z'))
                    .collect();
                mnt.write_at(&path, offset as u64, &bytes).unwrap();
                let data = oracle.data(&path);
                data.resize(data.len().max(offset + bytes.len()), 0);
                data[offset..offset + bytes.len()].copy_from_slice(&bytes);
            }
            2 if exists => {
                let bytes = vec![rng.random_range(b'A'..=b'Z'); rng.random_range(1..24)];
                OpenOptions::new()
                    .append(true)
                    .open(mnt.path(&path))
                    .unwrap()
                    .write_all(&bytes)
                    .unwrap();
                oracle.data(&path).extend_from_slice(&bytes);
            }
            3 if exists => {
                let len = rng.random_range(0..64usize);
                OpenOptions::new()
                    .write(true)
                    .open(mnt.path(&path))
                    .unwrap()
                    .set_len(len as u64)
                    .unwrap();
                oracle.data(&path).resize(len, 0);
            }
            4 if exists => {
                let target = pick(&mut rng);
                if std::env::var_os("FAULTFS_TRACE").is_some() {
                    eprintln!("  rename to {target}");
                }
                // Two names of one inode (a file durably named twice comes back so after a power
                // loss): rename(2) then does nothing, as POSIX says.
                let same_inode = oracle.live.get(&target) == oracle.live.get(&path);
                if target != path {
                    fs::rename(mnt.path(&path), mnt.path(&target)).unwrap();
                    if !same_inode {
                        let ino = oracle.live.remove(&path).expect("exists");
                        oracle.live.insert(target, ino);
                    }
                }
            }
            5 if exists => {
                fs::remove_file(mnt.path(&path)).unwrap();
                oracle.live.remove(&path);
            }
            6 if exists => {
                mnt.fsync(&path).unwrap();
                let ino = oracle.live[&path];
                oracle
                    .data_durable
                    .insert(ino, oracle.data_live[&ino].clone());
            }
            7 => {
                let dir = DIRS[rng.random_range(0..DIRS.len())];
                mnt.fsync(dir).unwrap();
                oracle.sync_dir(dir);
            }
            _ => {}
        }
        assert_eq!(
            fs::read(mnt.path(&path)).ok(),
            oracle.live.get(&path).map(|ino| oracle.data_live[ino].clone()),
            "seed {seed} step {step}: the mount shows the live data of {path} (mount: {:?}, oracle: {:?}, status: {})",
            Mounted::tree(&mnt.mount).keys().collect::<Vec<_>>(),
            oracle.live,
            mnt.ctl("status"),
        );
        until_power_loss -= 1;
        if until_power_loss == 0 {
            let reply = mnt.ctl(if torn {
                "power-loss torn 16"
            } else {
                "power-loss"
            });
            let torn_now = reply
                .split_whitespace()
                .find_map(|word| word.strip_prefix("files_torn="));
            files_torn += torn_now
                .and_then(|n| n.parse::<u64>().ok())
                .expect("files_torn in the reply");
            power_losses += 1;
            let mut disk = Mounted::tree(&mnt.backing);
            disk.retain(|path, _| !DIRS.contains(&path.as_str()));
            oracle.power_loss(&disk, torn, &format!("seed {seed} step {step}"));
            let mut view = Mounted::tree(&mnt.mount);
            view.retain(|path, _| !DIRS.contains(&path.as_str()));
            assert_eq!(
                view, disk,
                "seed {seed} step {step}: after a power loss the mount shows the disk"
            );
            until_power_loss = rng.random_range(1..=OPS_BETWEEN_POWER_LOSSES_MAX);
        }
    }
    assert!(
        power_losses >= OPS_PER_RUN as u32 / OPS_BETWEEN_POWER_LOSSES_MAX,
        "the loop lost power often"
    );
    Some(files_torn)
}

#[test]
fn crash_loop_keeps_exactly_what_was_synced() {
    for seed in [1, 2, 3] {
        let Some(files_torn) = crash_loop("crash_loop_keeps_exactly_what_was_synced", seed, false)
        else {
            return;
        };
        assert_eq!(files_torn, 0, "seed {seed}: no tearing was asked for");
    }
}

#[test]
fn crash_loop_with_torn_writes_keeps_a_block_prefix_at_most() {
    let mut files_torn = 0;
    for seed in [4, 5, 6] {
        let test = "crash_loop_with_torn_writes_keeps_a_block_prefix_at_most";
        let Some(torn) = crash_loop(test, seed, true) else {
            return;
        };
        files_torn += torn;
    }
    assert!(
        files_torn > 0,
        "the torn loop never tore a file: it tested nothing new"
    );
}
