//! Which `__txn_half` partition coordinates a transaction: a stable hash of its id. Producers
//! and brokers must agree on it, so it lives with the protocol both speak.

use crate::wire::stable_hash::stable_hash;

/// Partitions of the `__txn_half` topic.
pub const TXN_PARTITIONS: u32 = 3;
/// The longest transaction id and producer group name.
pub const TXN_ID_BYTES_MAX: usize = 255;

/// The `__txn_half` partition that holds `txn_id`; its leader coordinates the transaction.
pub fn partition_for(txn_id: &str) -> u32 {
    (stable_hash(txn_id.as_bytes()) % u64::from(TXN_PARTITIONS)) as u32
}
