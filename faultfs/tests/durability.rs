//! What survives a power loss through the real mount: synced data and synced names only.

use std::fs;

use crate::mount::Mounted;

#[test]
fn data_needs_the_file_fsync_and_a_name_its_directory_fsync() {
    let Some(mnt) = Mounted::start(
        "data_needs_the_file_fsync_and_a_name_its_directory_fsync",
        1,
    ) else {
        return;
    };
    fs::create_dir(mnt.path("d")).unwrap();
    assert!(
        !mnt.backing.join("d").exists(),
        "mkdir is not durable before the parent's fsync"
    );
    mnt.fsync("").unwrap();
    assert!(mnt.backing.join("d").is_dir());

    mnt.write_at("d/f", 0, b"one").unwrap();
    assert_eq!(
        fs::read(mnt.path("d/f")).unwrap(),
        b"one",
        "readers see unsynced data"
    );
    mnt.fsync("d/f").unwrap();
    assert!(
        !mnt.backing.join("d/f").exists(),
        "file fsync does not make the name durable"
    );
    mnt.fsync("d").unwrap();
    assert_eq!(fs::read(mnt.backing.join("d/f")).unwrap(), b"one");

    mnt.write_at("d/f", 3, b"two").unwrap();
    mnt.write_at("d/g", 0, b"never synced").unwrap();
    mnt.write_at("d/h", 0, b"synced, unnamed").unwrap();
    mnt.fsync("d/h").unwrap();
    fs::rename(mnt.path("d/f"), mnt.path("d/renamed")).unwrap();
    fs::create_dir(mnt.path("d/sub")).unwrap();
    assert_eq!(
        fs::read(mnt.backing.join("d/f")).unwrap(),
        b"one",
        "backing holds only durable data"
    );

    let reply = mnt.ctl("power-loss");
    assert!(reply.contains("files_reverted=1"), "{reply}");
    let expected = [
        ("d".to_owned(), None),
        ("d/f".to_owned(), Some(b"one".to_vec())),
    ]
    .into();
    assert_eq!(Mounted::tree(&mnt.backing), expected);
    assert_eq!(
        Mounted::tree(&mnt.mount),
        expected,
        "the mount shows what the disk kept"
    );
}

#[test]
fn bitflip_corrupts_a_durable_file_and_refuses_an_unsynced_one() {
    let Some(mnt) = Mounted::start(
        "bitflip_corrupts_a_durable_file_and_refuses_an_unsynced_one",
        1,
    ) else {
        return;
    };
    mnt.write_at("f", 0, b"AAAA").unwrap();
    mnt.fsync("f").unwrap();
    mnt.fsync("").unwrap();
    mnt.ctl("bitflip f 2 1");
    assert_eq!(fs::read(mnt.path("f")).unwrap(), b"AACA");
    mnt.write_at("g", 0, b"x").unwrap();
    let reply = faultfs::control::request(&mnt.socket, "bitflip g 0").unwrap();
    assert!(
        reply.starts_with("err") && reply.contains("only a durable file"),
        "{reply}"
    );
    let reply = faultfs::control::request(&mnt.socket, "bitflip ../etc/passwd 0").unwrap();
    assert!(reply.starts_with("err"), "{reply}");
}
