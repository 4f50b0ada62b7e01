//! How a server serves its connections: the idle timeout and the limits on peers. Shared by
//! the accept loop (`server`) and each connection's task (`connection`).

use crate::wire::limits::WireLimits;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// A connection with no request in flight and no bytes received for this long is closed,
    /// so streams abandoned in a partition (which never see a FIN) do not pile up; a response
    /// that cannot be written for this long closes it too.
    pub idle_timeout: Duration,
    /// Per-peer connections, the frame deadline and the unfinished-frame memory.
    pub limits: WireLimits,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            idle_timeout: Duration::from_secs(60),
            limits: WireLimits::default(),
        }
    }
}
