//! Client code that talks to the cluster over the wire: the cluster connection (metadata and
//! leader routing) that producers, consumers and admin tools share.

pub mod cluster;
pub mod interceptor;
pub mod producer;

pub use cluster::{ClusterClient, ClusterClientOptions, ClusterError};
pub use interceptor::{
    ConsumerInterceptor, ProducerInterceptor, SequenceChecker, SequenceEvent, SequenceStamper,
    Stamp,
};
pub use producer::{Producer, ProducerOptions, RecordMetadata, SendError};
