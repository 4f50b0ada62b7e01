//! One-shot watches, held in memory by the coordinator (like ZooKeeper's, they do not survive a
//! restart: the client library notices the new incarnation and tells every watcher to re-read).

use crate::wire::coordinator_protocol::{EventKind, SessionId, WatchEvent, WatchKind};
use std::collections::{BTreeMap, BTreeSet};

/// The most watches held at once; registering beyond it fails the read with `Limit`.
pub const WATCHES_MAX: usize = 1_000_000;

#[derive(Default)]
pub struct Watches {
    data: BTreeMap<String, BTreeSet<SessionId>>,
    children: BTreeMap<String, BTreeSet<SessionId>>,
    count: usize,
}

impl Watches {
    /// Registers a watch; `false` if the registry is full.
    pub fn add(&mut self, kind: WatchKind, path: &str, session: SessionId) -> bool {
        if self.count >= WATCHES_MAX {
            return false;
        }
        let table = match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Children => &mut self.children,
        };
        if table.entry(path.to_string()).or_default().insert(session) {
            self.count += 1;
        }
        true
    }

    /// The sessions an event fires for; their watches are consumed.
    pub fn trigger(&mut self, event: &WatchEvent) -> Vec<SessionId> {
        let mut fired = BTreeSet::new();
        let (data, children) = match event.kind {
            EventKind::Created | EventKind::DataChanged => (true, false),
            EventKind::Deleted => (true, true),
            EventKind::ChildrenChanged => (false, true),
            EventKind::WatchesReset | EventKind::SessionExpired => (false, false),
        };
        if data {
            if let Some(sessions) = self.data.remove(&event.path) {
                self.count -= sessions.len();
                fired.extend(sessions);
            }
        }
        if children {
            if let Some(sessions) = self.children.remove(&event.path) {
                self.count -= sessions.len();
                fired.extend(sessions);
            }
        }
        fired.into_iter().collect()
    }

    /// Forgets every watch of a session (it closed or expired).
    pub fn remove_session(&mut self, session: SessionId) {
        for table in [&mut self.data, &mut self.children] {
            table.retain(|_, sessions| {
                sessions.remove(&session);
                !sessions.is_empty()
            });
        }
        self.count = self
            .data
            .values()
            .chain(self.children.values())
            .map(BTreeSet::len)
            .sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_fire_once_for_the_right_events() {
        let mut watches = Watches::default();
        watches.add(WatchKind::Data, "/a", 1);
        watches.add(WatchKind::Children, "/a", 2);
        let changed = WatchEvent {
            path: "/a".into(),
            kind: EventKind::DataChanged,
        };
        assert_eq!(watches.trigger(&changed), vec![1]);
        assert_eq!(
            watches.trigger(&changed),
            Vec::<SessionId>::new(),
            "one-shot"
        );
        watches.add(WatchKind::Data, "/a", 3);
        let deleted = WatchEvent {
            path: "/a".into(),
            kind: EventKind::Deleted,
        };
        assert_eq!(watches.trigger(&deleted), vec![2, 3]);
        watches.add(WatchKind::Data, "/b", 4);
        watches.remove_session(4);
        let created = WatchEvent {
            path: "/b".into(),
            kind: EventKind::Created,
        };
        assert!(watches.trigger(&created).is_empty());
    }
}
