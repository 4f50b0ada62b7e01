//! `system:` which system under test a scenario drives (design.md §12). faultline's own broker
//! is the default; a system that cannot honour a key rejects it with a hint rather than
//! silently ignoring it.

use super::names::Keyword;

/// The systems faultline can drive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SystemName {
    /// faultline's own broker and coordinator (`faultline serve`).
    #[default]
    Faultline,
}

impl Keyword for SystemName {
    const ALL: &'static [Self] = &[SystemName::Faultline];
    const WHAT: &'static str = "system";

    fn as_str(&self) -> &'static str {
        match self {
            SystemName::Faultline => "faultline",
        }
    }
}
