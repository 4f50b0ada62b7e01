//! fsync EIO and disk full through the real mount.

use std::fs::{self, File};

use crate::mount::Mounted;

#[test]
fn a_failed_fsync_makes_nothing_durable() {
    let Some(mnt) = Mounted::start("a_failed_fsync_makes_nothing_durable", 1) else {
        return;
    };
    mnt.write_at("wal.log", 0, b"x").unwrap();
    mnt.write_at("data.db", 0, b"y").unwrap();
    mnt.fsync("").unwrap();
    mnt.ctl("fsync-eio on *.log");
    let error = mnt.fsync("wal.log").unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EIO), "{error}");
    mnt.fsync("data.db").unwrap();
    assert_eq!(
        fs::read(mnt.backing.join("data.db")).unwrap(),
        b"y",
        "other paths still sync"
    );
    mnt.ctl("fsync-eio on");
    let error = mnt.fsync("").unwrap_err();
    assert_eq!(
        error.raw_os_error(),
        Some(libc::EIO),
        "a directory fsync fails too"
    );
    mnt.ctl("power-loss");
    assert_eq!(
        fs::read(mnt.path("wal.log")).unwrap(),
        b"",
        "the failed fsync kept its data pending"
    );
    mnt.ctl("fsync-eio off");
    mnt.write_at("wal.log", 0, b"z").unwrap();
    mnt.fsync("wal.log").unwrap();
    assert_eq!(fs::read(mnt.backing.join("wal.log")).unwrap(), b"z");
}

#[test]
fn disk_full_refuses_writes_and_creates_until_it_is_lifted() {
    let Some(mnt) = Mounted::start("disk_full_refuses_writes_and_creates_until_it_is_lifted", 1)
    else {
        return;
    };
    mnt.write_at("f", 0, b"before").unwrap();
    mnt.ctl("disk-full on");
    let enospc = |result: std::io::Result<()>| {
        assert_eq!(
            result.expect_err("ENOSPC").raw_os_error(),
            Some(libc::ENOSPC)
        );
    };
    enospc(mnt.write_at("f", 6, b"more"));
    enospc(File::create(mnt.path("new")).map(drop));
    enospc(fs::create_dir(mnt.path("dir")));
    assert_eq!(
        fs::read(mnt.path("f")).unwrap(),
        b"before",
        "reads still work"
    );
    mnt.fsync("f").unwrap();
    mnt.ctl("disk-full off");
    mnt.write_at("f", 6, b"more").unwrap();
    assert_eq!(fs::read(mnt.path("f")).unwrap(), b"beforemore");
}
