//! A broker's (or controller's) view of the cluster, read from the coordinator: live brokers
//! with the zxid of their registration, the controller, topic assignments, and partition states
//! with their znode versions. Reads can leave one-shot watches behind; a [`WatchSet`] keeps at
//! most one outstanding watch per path and reports when any fires.

use crate::broker::znodes::{
    self, BrokerRegistration, ControllerInfo, PartitionState, TopicAssignment,
};
use crate::coordinator::{ClientError, CoordError, CoordinatorClient, Watch};
use crate::wire::broker_protocol::{BrokerId, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveBroker {
    pub registration: BrokerRegistration,
    /// The zxid that created the registration (a restart gives a new one).
    pub zxid: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    pub state: PartitionState,
    pub version: u64,
    pub mzxid: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    pub brokers: BTreeMap<BrokerId, LiveBroker>,
    pub controller: Option<BrokerId>,
    pub topics: BTreeMap<String, TopicAssignment>,
    pub states: BTreeMap<TopicPartition, StateEntry>,
}

impl ClusterView {
    pub fn replicas(&self, tp: &TopicPartition) -> Option<&Vec<BrokerId>> {
        self.topics
            .get(&tp.topic)?
            .replicas
            .get(tp.partition as usize)
    }

    /// Every partition of every topic, in order.
    pub fn partitions(&self) -> Vec<TopicPartition> {
        let mut all = Vec::new();
        for (topic, assignment) in &self.topics {
            for partition in 0..assignment.replicas.len() as u32 {
                all.push(TopicPartition::new(topic.clone(), partition));
            }
        }
        all
    }
}

/// At most one outstanding watch per path; `changed` receives a message whenever one fires.
#[derive(Clone)]
pub struct WatchSet {
    watched: Arc<Mutex<BTreeSet<String>>>,
    fired: mpsc::Sender<()>,
}

impl WatchSet {
    pub fn new() -> (WatchSet, mpsc::Receiver<()>) {
        // Capacity 1: one pending "something changed" is as good as many.
        let (fired, changed) = mpsc::channel(1);
        (
            WatchSet {
                watched: Arc::new(Mutex::new(BTreeSet::new())),
                fired,
            },
            changed,
        )
    }

    fn needs(&self, path: &str) -> bool {
        !self
            .watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(path)
    }

    fn arm(&self, path: &str, watch: Watch) {
        self.watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_string());
        let (watched, fired, path) = (self.watched.clone(), self.fired.clone(), path.to_string());
        crate::env::spawn(async move {
            watch.fired().await;
            watched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&path);
            let _ = fired.try_send(());
        });
    }

    /// Forgets every watch (after a session change, the old session's watches are void).
    pub fn reset(&self) {
        self.watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

async fn children(
    client: &CoordinatorClient,
    path: &str,
    watches: &WatchSet,
) -> Result<Vec<String>, ClientError> {
    if watches.needs(path) {
        let (names, watch) = client.children_watch(path).await?;
        watches.arm(path, watch);
        Ok(names)
    } else {
        client.children(path).await
    }
}

async fn get(
    client: &CoordinatorClient,
    path: &str,
    watches: Option<&WatchSet>,
) -> Result<Option<(Vec<u8>, crate::coordinator::Stat)>, ClientError> {
    let result = match watches {
        Some(watches) if watches.needs(path) => {
            let (stat, watch) = client.exists_watch(path).await?;
            watches.arm(path, watch);
            match stat {
                Some(_) => client.get(path).await.map(Some),
                None => Ok(None),
            }
        }
        _ => client.get(path).await.map(Some),
    };
    match result {
        Err(ClientError::Coord(CoordError::NoNode { .. })) => Ok(None),
        other => other,
    }
}

/// Reads the whole view. Watches are left on the broker list, the controller, the topic list
/// and every partition state.
pub async fn read(
    client: &CoordinatorClient,
    watches: &WatchSet,
) -> Result<ClusterView, ClientError> {
    let mut view = ClusterView::default();
    for name in children(client, znodes::BROKER_IDS, watches).await? {
        let Ok(id) = name.parse::<BrokerId>() else {
            continue;
        };
        if let Some((data, stat)) = get(client, &znodes::broker_path(id), None).await? {
            if let Some(registration) = znodes::decode::<BrokerRegistration>(&data) {
                view.brokers.insert(
                    id,
                    LiveBroker {
                        registration,
                        zxid: stat.czxid,
                    },
                );
            }
        }
    }
    if let Some((data, _)) = get(client, znodes::CONTROLLER, Some(watches)).await? {
        view.controller = znodes::decode::<ControllerInfo>(&data).map(|info| info.broker);
    }
    for topic in children(client, znodes::TOPICS, watches).await? {
        let Some((data, _)) = get(client, &znodes::topic_path(&topic), None).await? else {
            continue;
        };
        let Some(assignment) = znodes::decode::<TopicAssignment>(&data) else {
            continue;
        };
        for partition in 0..assignment.replicas.len() as u32 {
            let tp = TopicPartition::new(topic.clone(), partition);
            if let Some((data, stat)) = get(client, &znodes::state_path(&tp), Some(watches)).await?
            {
                if let Some(state) = znodes::decode::<PartitionState>(&data) {
                    view.states.insert(
                        tp,
                        StateEntry {
                            state,
                            version: stat.version,
                            mzxid: stat.mzxid,
                        },
                    );
                }
            }
        }
        view.topics.insert(topic, assignment);
    }
    Ok(view)
}
