//! Client code that talks to the cluster over the wire: the cluster connection (metadata and
//! leader routing) that producers, consumers and admin tools share, and the transactional
//! producer with its local transaction store and check-back responders.

pub mod check_back;
pub mod cluster;
pub mod consumer;
pub mod group_member;
pub mod interceptor;
pub mod local_txns;
pub mod producer;
pub mod txn_caller;
pub mod txn_producer;
pub mod txn_store;

pub use cluster::{ClusterClient, ClusterClientOptions, ClusterError};
pub use consumer::{
    Consumer, ConsumerError, ConsumerOptions, ConsumerRecord, OffsetReset, PollResult,
    PositionReset,
};
pub use group_member::GroupError;
pub use interceptor::{
    ConsumerInterceptor, ProducerInterceptor, SequenceChecker, SequenceEvent, SequenceStamper,
    Stamp,
};
pub use producer::{Producer, ProducerOptions, RecordMetadata, SendError};
pub use txn_producer::{
    CrashPoint, LocalTxn, TxnError, TxnOutcome, TxnProducer, TxnProducerOptions,
};
pub use txn_store::{LocalState, LocalTxnStore, TxnStoreError};
