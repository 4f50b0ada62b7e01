//! The stable RunResult schema and its renderers. This crate knows nothing of turmoil or the
//! harness: the harness converts its check results into a [`RunResult`] and its history into a
//! [`ReportInput`], and everything a person or a CI system reads is rendered from those values
//! alone, by pure functions: equal input, equal bytes (no hash-map iteration, no clock, no
//! float formatting in text).
//!
//! | file | renderer |
//! |---|---|
//! | `result.json` | [`render_json`] |
//! | `report.md` | [`render_markdown`] |
//! | `report.html` | [`render_html`] |
//! | `latency.svg`, `throughput.svg`, `backlog.svg` | [`render_latency_svg`], [`render_throughput_svg`], [`render_backlog_svg`] |
//! | `summary.json`, `summary.md` | [`render_summary_json`], [`render_summary_md`] |
//! | `junit.xml` | [`render_junit`] |

pub mod anomaly_names;
pub mod evidence;
pub mod headline;
pub mod history_check;
pub mod html;
pub mod input;
pub mod junit;
pub mod markdown;
pub mod offset_view;
pub mod palette;
pub mod plot;
pub mod run_result;
pub mod summary;
pub mod text;

pub use history_check::{HistoryCheck, HistoryStats};
pub use html::render_html;
pub use input::{
    Backlog, FaultWindow, Judgement, KeyRecords, Marker, Met, NodeMark, Outcome, ReportInput,
    SendPoint, Timeline, TimelineOp, NOTE_CHARS_MAX,
};
pub use junit::{render_junit, JunitError};
pub use markdown::render_markdown;
pub use plot::{
    bucket_ns, render_backlog_svg, render_latency_svg, render_throughput_svg, PlotError,
};
pub use run_result::{render_json, Anomaly, RunResult, Stats, Verdict};
pub use summary::{render_summary_json, render_summary_md, MetWord, Summary, SummaryRun};
