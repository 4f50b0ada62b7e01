//! Client code that talks to the cluster over the wire: the cluster connection (metadata and
//! leader routing) that producers, consumers and admin tools share.

pub mod cluster;
pub mod consumer;
pub mod group_member;
pub mod interceptor;
pub mod producer;

pub use cluster::{ClusterClient, ClusterClientOptions, ClusterError};
pub use consumer::{
    Consumer, ConsumerError, ConsumerOptions, ConsumerRecord, OffsetReset, PollResult,
};
pub use group_member::GroupError;
pub use interceptor::{
    ConsumerInterceptor, ProducerInterceptor, SequenceChecker, SequenceEvent, SequenceStamper,
    Stamp,
};
pub use producer::{Producer, ProducerOptions, RecordMetadata, SendError};
