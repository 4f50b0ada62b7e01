//! A mounted faultfs for one test, and the helpers tests speak in. The guard unmounts on every
//! exit path, also when the test panics: SIGTERM to faultfs (it unmounts itself), then a lazy
//! `fusermount3 -u -z` and `umount -l` if the mount is still there.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const MOUNT_WAIT_STEPS_MAX: u32 = 500;
const STEP: Duration = Duration::from_millis(20);

pub struct Mounted {
    pub root: tempfile::TempDir,
    pub backing: PathBuf,
    pub mount: PathBuf,
    pub socket: PathBuf,
    child: Child,
}

/// Why this machine cannot mount, or `None` when it can.
fn missing_requirements() -> Option<String> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (run the tests as root)");
    }
    if !Path::new("/dev/fuse").exists() {
        missing.push("/dev/fuse (load the fuse module, or give the container the device)");
    }
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
    };
    if !on_path("fusermount3") {
        missing.push("fusermount3 (run ci/install-real-deps.sh)");
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

impl Mounted {
    /// Mounts a fresh faultfs, or returns `None` after saying why this machine cannot.
    pub fn start(test: &str, seed: u64) -> Option<Mounted> {
        if let Some(missing) = missing_requirements() {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: faultfs tests need {missing}; CI is set, so this is a failure");
            }
            // Straight to the stderr handle: libtest captures eprintln! of passing tests, and a
            // skip must be seen.
            let line =
                format!("SKIP {test}: faultfs tests need {missing} (set CI to make this fail)\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            return None;
        }
        let root = tempfile::Builder::new()
            .prefix("faultfs-test-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let (backing, mount, socket) = (
            root.path().join("backing"),
            root.path().join("mnt"),
            root.path().join("ctl.sock"),
        );
        fs::create_dir(&backing).expect("backing dir");
        fs::create_dir(&mount).expect("mount dir");
        let log = File::create(root.path().join("faultfs.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_faultfs"))
            .arg("mount")
            .args([&backing, &mount])
            .arg("--control")
            .arg(&socket)
            .args(["--seed", &seed.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start faultfs");
        let mut mounted = Mounted {
            root,
            backing,
            mount,
            socket,
            child,
        };
        for _ in 0..MOUNT_WAIT_STEPS_MAX {
            if is_mounted(&mounted.mount) && mounted.socket.exists() {
                return Some(mounted);
            }
            if let Ok(Some(status)) = mounted.child.try_wait() {
                panic!(
                    "faultfs exited with {status} before mounting: {}",
                    mounted.log()
                );
            }
            std::thread::sleep(STEP);
        }
        panic!(
            "faultfs did not mount within {:?}: {}",
            STEP * MOUNT_WAIT_STEPS_MAX,
            mounted.log()
        );
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.root.path().join("faultfs.log")).unwrap_or_default()
    }

    /// Sends a control command; panics unless the reply starts with `ok`.
    pub fn ctl(&self, line: &str) -> String {
        let reply = faultfs::control::request(&self.socket, line).expect("control request");
        assert!(reply.starts_with("ok"), "{line:?} -> {reply}");
        reply
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.mount.join(relative)
    }

    pub fn write_at(&self, relative: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.path(relative))?;
        file.write_all_at(data, offset)
    }

    /// fsync of a file or a directory under the mount ("" is the root).
    pub fn fsync(&self, relative: &str) -> io::Result<()> {
        File::open(self.path(relative))?.sync_all()
    }

    /// Files as `Some(bytes)`, directories as `None`, under the backing root (without staging)
    /// or under the mount.
    pub fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                let relative = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned();
                if relative == faultfs::model::STAGING_DIR {
                    continue;
                }
                if path.is_dir() {
                    out.insert(relative, None);
                    stack.push(path);
                } else {
                    out.insert(relative, Some(fs::read(&path).expect("read")));
                }
            }
        }
        out
    }
}

fn is_mounted(mount: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let target = mount.to_string_lossy();
    mounts
        .lines()
        .any(|line| line.split(' ').nth(1) == Some(&*target))
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        for _ in 0..MOUNT_WAIT_STEPS_MAX {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(STEP);
        }
        if is_mounted(&self.mount) {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg("-z")
                .arg(&self.mount)
                .status();
        }
        if is_mounted(&self.mount) {
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        assert!(
            std::thread::panicking() || !is_mounted(&self.mount),
            "{} is still mounted",
            self.mount.display()
        );
    }
}

#[test]
fn a_panicking_test_leaves_no_mount_and_no_process_behind() {
    let test = "a_panicking_test_leaves_no_mount_and_no_process_behind";
    let Some(mnt) = Mounted::start(test, 1) else {
        return;
    };
    let (mount, pid) = (mnt.mount.clone(), mnt.child.id());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _held = mnt;
        panic!("planted panic while mounted");
    }));
    assert!(outcome.is_err());
    assert!(!is_mounted(&mount), "{} is still mounted", mount.display());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "faultfs {pid} is still running"
    );
}
