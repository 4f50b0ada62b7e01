//! How a consumer group maps onto JetStream: one durable pull consumer per stream, named after
//! the group, with explicit acks — the seed's commit after processing is the ack of each
//! message once it is applied. The ack floor (every stream sequence at or below it acked) is
//! the group's committed position in Kafka's sense (`floor + 1` is the next offset to read), so
//! the end of a run records it as the group's committed offset for the key.
//!
//! `ack_wait` is short ([`ACK_WAIT`], NATS's default is 30 s) so that a message delivered but
//! not acknowledged — its consumer crashed between apply and ack, or the ack was lost with a
//! server — is redelivered within a run of a few seconds; everything else is NATS's default
//! (deliver all, unlimited redeliveries, 1000 unacknowledged messages in flight).

use crate::run::context::RunContext;
use crate::scenario::Group;
use crate::systems::nats::streams::{stream_keys_of, StreamKey};
use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy},
};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long JetStream waits for an ack before it redelivers a message.
pub const ACK_WAIT: Duration = Duration::from_secs(3);

/// The group's durable consumer on one stream.
pub fn config(group: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(group.to_owned()),
        name: Some(group.to_owned()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        deliver_policy: DeliverPolicy::All,
        ..pull::Config::default()
    }
}

/// The streams a group reads: the partitions of its topics.
pub fn group_keys(ctx: &RunContext, group: &Group) -> Vec<StreamKey> {
    stream_keys_of(&ctx.scenario, &group.topics)
}

/// The keys member `member` of a group of `members` fetches from: every `members`-th, starting
/// at its own index. JetStream has no group membership, so the assignment is fixed for the run,
/// as Kafka's would be without rebalances; a crashed member's keys wait for its restart.
pub fn assigned(keys: &[StreamKey], member: u32, members: u32) -> Vec<StreamKey> {
    keys.iter()
        .enumerate()
        .filter(|(i, _)| *i as u32 % members.max(1) == member)
        .map(|(_, key)| key.clone())
        .collect()
}

/// Creates (or finds) the group's durable consumer on the key's stream; `false` if it could
/// not be made now.
pub async fn ensure(js: &jetstream::Context, key: &StreamKey, group: &str) -> bool {
    let stream = match js.get_stream_no_info(&key.stream).await {
        Ok(stream) => stream,
        Err(error) => {
            tracing::debug!(%error, stream = %key.stream, "get stream for a consumer");
            return false;
        }
    };
    match stream
        .get_or_create_consumer::<pull::Config>(group, config(group))
        .await
    {
        Ok(_) => true,
        Err(error) => {
            tracing::debug!(%error, stream = %key.stream, group, "creating the consumer");
            false
        }
    }
}

/// Each group's committed offsets at the end: the ack floor plus one, per key whose consumer
/// info could be read.
pub async fn committed(
    ctx: &RunContext,
    js: &jetstream::Context,
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut committed = BTreeMap::new();
    let Some(consumers) = &ctx.scenario.workload.consumers else {
        return committed;
    };
    for group in &consumers.groups {
        let mut by_key = BTreeMap::new();
        for key in group_keys(ctx, group) {
            match ack_floor(js, &key, &group.name).await {
                Some(floor) => {
                    by_key.insert(key.key.clone(), floor + 1);
                }
                None => tracing::warn!(
                    group = %group.name, key = %key.key,
                    "the consumer's ack floor could not be read at the end"
                ),
            }
        }
        committed.insert(group.name.clone(), by_key);
    }
    committed
}

/// Attempts to read one consumer's info at the end.
const INFO_ATTEMPTS: usize = 25;
const INFO_PAUSE: Duration = Duration::from_millis(200);

async fn ack_floor(js: &jetstream::Context, key: &StreamKey, group: &str) -> Option<u64> {
    for _ in 0..INFO_ATTEMPTS {
        if let Ok(stream) = js.get_stream_no_info(&key.stream).await {
            match stream.consumer_info(group).await {
                Ok(info) => return Some(info.ack_floor.stream_sequence),
                Err(error) => tracing::debug!(%error, stream = %key.stream, group, "consumer info"),
            }
        }
        tokio::time::sleep(INFO_PAUSE).await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_split_the_keys_between_them() {
        let keys: Vec<StreamKey> = (0..5).map(|p| StreamKey::new("orders", p, 3)).collect();
        let first: Vec<String> = assigned(&keys, 0, 2).into_iter().map(|k| k.key).collect();
        let second: Vec<String> = assigned(&keys, 1, 2).into_iter().map(|k| k.key).collect();
        assert_eq!(first, ["orders/0", "orders/2", "orders/4"]);
        assert_eq!(second, ["orders/1", "orders/3"]);
        assert_eq!(assigned(&keys, 0, 1).len(), 5);
    }

    #[test]
    fn a_group_is_a_durable_consumer_with_explicit_acks() {
        let config = config("billing");
        assert_eq!(config.durable_name.as_deref(), Some("billing"));
        assert_eq!(config.ack_policy, AckPolicy::Explicit);
        assert_eq!(config.deliver_policy, DeliverPolicy::All);
        assert_eq!(config.ack_wait, ACK_WAIT);
    }
}
