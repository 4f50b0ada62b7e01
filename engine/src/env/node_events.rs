//! Node events: the facts about the cluster a reader and the cluster-invariant check need —
//! who became leader of which partition in which epoch, who became controller, where a
//! follower truncated, how the ISR changed, which producer id a client got, and from which
//! leader epoch a follower replicated. Nodes record them through a [`NodeEvents`] handle that
//! names the node; in simulation every handle of a run shares one buffer the harness drains
//! after the run, in the order the events happened (the simulation runs every host on one
//! thread, so call order is simulated-time order). A real node gets an off handle: recording
//! costs one branch.
//!
//! Recording draws no randomness, takes no lock another task waits on for long, and changes
//! no decision of the node, so switching it on leaves a simulated run exactly as it was.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, Mutex};

/// The most events one run keeps; later ones are counted, not kept.
pub const NODE_EVENTS_MAX: usize = 200_000;

/// One fact about the cluster, as a node saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum NodeEvent {
    /// The node (a broker) became leader of `tp` in `epoch`; its log ended at `log_end`.
    LeaderElected {
        tp: String,
        epoch: u64,
        broker: u32,
        log_end: u64,
    },
    /// The node (a broker) became the controller in controller epoch `epoch`.
    ControllerElected { broker: u32, epoch: u64 },
    /// The leader of `tp` in `epoch` had an ISR change accepted by the coordinator.
    IsrChanged {
        tp: String,
        epoch: u64,
        broker: u32,
        isr: Vec<u32>,
    },
    /// The follower `broker` truncated its log of `tp` to `end` by leader epoch.
    Truncated { tp: String, broker: u32, end: u64 },
    /// The follower `broker`, holding leader epoch `epoch`, had a fetch of `tp` served by
    /// `leader`, whose answer named leader epoch `leader_epoch` (recorded for the first served
    /// fetch of each followership and again whenever the epoch in the answers changes).
    ReplicaFetched {
        tp: String,
        broker: u32,
        leader: u32,
        epoch: u64,
        leader_epoch: u64,
    },
    /// The node (a client) was given `producer_id` for its idempotent sends to `tp`.
    ProducerIdAssigned { producer_id: u64, tp: String },
    /// The group coordinator `broker` wrote `group`'s move to `generation` (a rebalance).
    GroupGeneration {
        group: String,
        generation: u64,
        broker: u32,
    },
}

impl fmt::Display for NodeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeEvent::LeaderElected {
                tp,
                epoch,
                broker,
                log_end,
            } => write!(
                f,
                "broker-{broker} became leader of {tp} at epoch {epoch} with log end {log_end}"
            ),
            NodeEvent::ControllerElected { broker, epoch } => {
                write!(f, "broker-{broker} became controller at epoch {epoch}")
            }
            NodeEvent::IsrChanged {
                tp,
                epoch,
                broker,
                isr,
            } => write!(
                f,
                "broker-{broker} changed the ISR of {tp} to {isr:?} at epoch {epoch}"
            ),
            NodeEvent::Truncated { tp, broker, end } => {
                write!(f, "broker-{broker} truncated {tp} to {end}")
            }
            NodeEvent::ReplicaFetched {
                tp,
                broker,
                leader,
                epoch,
                leader_epoch,
            } => write!(
                f,
                "broker-{broker} (epoch {epoch}) replicated {tp} from broker-{leader} (epoch {leader_epoch})"
            ),
            NodeEvent::ProducerIdAssigned { producer_id, tp } => {
                write!(f, "got producer id {producer_id} for {tp}")
            }
            NodeEvent::GroupGeneration {
                group,
                generation,
                broker,
            } => write!(
                f,
                "broker-{broker} moved group {group} to generation {generation}"
            ),
        }
    }
}

/// An event with when and where it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEventRecord {
    /// Simulated nanoseconds since the start of the run.
    pub time: u64,
    /// The node that recorded it: `broker-2`, `client-3`.
    pub node: String,
    #[serde(flatten)]
    pub event: NodeEvent,
}

#[derive(Debug, Default)]
struct Buffer {
    records: Vec<NodeEventRecord>,
    dropped: u64,
}

/// A node's handle on the run's event buffer; off (records nothing) by default.
#[derive(Clone, Default)]
pub struct NodeEvents {
    node: String,
    buffer: Option<Arc<Mutex<Buffer>>>,
}

impl fmt::Debug for NodeEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeEvents")
            .field("node", &self.node)
            .field("on", &self.buffer.is_some())
            .finish()
    }
}

impl NodeEvents {
    /// A handle that records nothing.
    pub fn off() -> NodeEvents {
        NodeEvents::default()
    }

    /// A new, empty buffer for one run; give each node its own handle with [`NodeEvents::for_node`].
    pub fn on() -> NodeEvents {
        NodeEvents {
            node: String::new(),
            buffer: Some(Arc::default()),
        }
    }

    /// A handle on the same buffer that names `node` as the recorder.
    pub fn for_node(&self, node: &str) -> NodeEvents {
        NodeEvents {
            node: node.to_owned(),
            buffer: self.buffer.clone(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.buffer.is_some()
    }

    /// Records `event` at the current simulated time (0 outside a simulation).
    pub fn record(&self, event: NodeEvent) {
        let Some(buffer) = &self.buffer else {
            return;
        };
        let time = crate::env::clock::sim_elapsed().map_or(0, |t| t.as_nanos() as u64);
        let mut buffer = buffer.lock().unwrap_or_else(|p| p.into_inner());
        if buffer.records.len() >= NODE_EVENTS_MAX {
            buffer.dropped += 1;
            return;
        }
        buffer.records.push(NodeEventRecord {
            time,
            node: self.node.clone(),
            event,
        });
    }

    /// Everything recorded so far, in order, and how many events the bound dropped.
    pub fn take(&self) -> (Vec<NodeEventRecord>, u64) {
        let Some(buffer) = &self.buffer else {
            return (Vec::new(), 0);
        };
        let mut buffer = buffer.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = std::mem::take(&mut buffer.dropped);
        (std::mem::take(&mut buffer.records), dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_off_handle_records_nothing_and_node_handles_share_one_buffer() {
        let off = NodeEvents::off();
        off.record(NodeEvent::ControllerElected {
            broker: 1,
            epoch: 1,
        });
        assert_eq!(off.take().0.len(), 0);
        let run = NodeEvents::on();
        let broker = run.for_node("broker-1");
        broker.record(NodeEvent::ControllerElected {
            broker: 1,
            epoch: 1,
        });
        run.for_node("client-4")
            .record(NodeEvent::ProducerIdAssigned {
                producer_id: 7,
                tp: "orders/0".into(),
            });
        let (records, dropped) = run.take();
        assert_eq!(dropped, 0);
        let nodes: Vec<&str> = records.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(nodes, ["broker-1", "client-4"]);
        assert!(run.take().0.is_empty(), "take drains");
    }

    #[test]
    fn an_event_reads_as_a_sentence_naming_its_node() {
        let record = NodeEventRecord {
            time: 5,
            node: "broker-2".into(),
            event: NodeEvent::Truncated {
                tp: "orders/0".into(),
                broker: 2,
                end: 301,
            },
        };
        assert_eq!(
            record.event.to_string(),
            "broker-2 truncated orders/0 to 301"
        );
    }
}
