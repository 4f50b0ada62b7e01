//! faultfs integration tests: each mounts the real binary on a temp dir. They need root,
//! /dev/fuse and fusermount3; without them a test fails when CI is set and skips, saying why,
//! otherwise. The pure durability model has its own fast unit tests in src/model/tests.rs.

mod crash_loop;
mod durability;
mod faults;
mod mount;
