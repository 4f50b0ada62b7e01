//! The harness's one integration-test binary; one module per noun.

mod bench_produce;
mod check_cmd;
mod checkers;
mod ci_files;
mod cli;
mod jepsen;
mod real_mode;
mod reports;
mod serve_cluster;
mod serve_coordinator;
mod suite;
