//! The faultline harness: scenario -> deterministic simulation -> history -> checkers ->
//! verdict, and the `faultline` command line.

pub mod bugs;
pub mod check_cmd;
pub mod checker;
pub mod demo;
pub mod history;
pub mod interrupt;
pub mod invocation;
pub mod local_cluster;
pub mod merge;
pub mod real;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod systems;
