//! A transactional message's local transaction record, as its producer kept it.

/// The producer's local transaction record for one transactional message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Local {
    Commit,
    Rollback,
    Unknown,
}

impl Local {
    pub fn parse(text: &str) -> Option<Local> {
        match text {
            "commit" => Some(Local::Commit),
            "rollback" => Some(Local::Rollback),
            "unknown" => Some(Local::Unknown),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Local::Commit => "commit",
            Local::Rollback => "rollback",
            Local::Unknown => "unknown",
        }
    }
}
