//! The harness's one integration-test binary; one module per noun.

mod check_cmd;
mod checkers;
