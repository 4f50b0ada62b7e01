//! The stable RunResult schema and its renderers. This crate knows nothing of turmoil or the
//! harness: the harness converts its check results into a [`RunResult`], and everything a
//! person or a CI system reads is rendered from that value alone.

pub mod history_check;
pub mod run_result;

pub use history_check::{HistoryCheck, HistoryStats};
pub use run_result::{render_json, Anomaly, RunResult, Stats, Verdict};
