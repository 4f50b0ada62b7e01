//! What a produce bench asks of each system and what it measures: the options, the name each
//! record carries so the read-back can find it, and the latencies of acknowledged records.
//! Shared by `bench_produce` (the command) and each system's bench (`bench_faultline`,
//! `bench_nats`).
use std::time::Duration;

pub const RECORD_BYTES: usize = 1024;
/// Bytes at the start of a record's value that name it: producer (u32) and sequence (u64).
const RECORD_ID_BYTES: usize = 12;

#[derive(Clone, Debug, clap::Args)]
pub struct ProduceBench {
    /// Records to produce in total, per system.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub records: u64,
    /// Concurrent producers. All connect from 127.0.0.1, and a broker takes at most 64
    /// connections from one address.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub producers: u32,
    /// Records each producer keeps outstanding (sent, not yet acknowledged).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub in_flight: u32,
    /// Records per produce request at most (faultline's producer batches what is queued for a
    /// partition), and per write of the disk-limit measurement. NATS publishes one message per
    /// request: its batching is the in-flight publishes.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batch_records: u32,
    /// How long a partial batch waits for more records, in milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub linger_ms: u64,
    /// Partitions (faultline) and streams (NATS) of the benchmark topic.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub partitions: u32,
    /// How long the disk-limit measurement writes, in milliseconds.
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub disk_ms: u64,
    /// The systems to run, in this order (NATS needs `nats-server` on the PATH; without it
    /// its row says so and the rest still runs).
    #[arg(long, value_delimiter = ',', default_value = "faultline,nats")]
    pub systems: Vec<BenchSystem>,
}

/// A system `bench produce` can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchSystem {
    Faultline,
    Nats,
}

/// A record's name: which producer sent it, and its sequence number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordId {
    pub producer: u32,
    pub sequence: u64,
}

impl RecordId {
    /// The record's value: its name, then filler up to `RECORD_BYTES`.
    pub fn value(self) -> Vec<u8> {
        let mut value = Vec::with_capacity(RECORD_BYTES);
        value.extend_from_slice(&self.producer.to_be_bytes());
        value.extend_from_slice(&self.sequence.to_be_bytes());
        value.resize(RECORD_BYTES, (self.sequence % 251) as u8);
        value
    }

    pub fn of(value: &[u8]) -> Option<RecordId> {
        let head = value.get(..RECORD_ID_BYTES)?;
        let (producer, sequence) = head.split_at(4);
        Some(RecordId {
            producer: u32::from_be_bytes(producer.try_into().ok()?),
            sequence: u64::from_be_bytes(sequence.try_into().ok()?),
        })
    }

    /// The partition (or stream) this record goes to: producers spread their records over all.
    pub fn partition(self, partitions: u32) -> u32 {
        ((u64::from(self.producer) + self.sequence) % u64::from(partitions.max(1))) as u32
    }
}

/// One system's produce run.
#[derive(Default)]
pub struct Measured {
    /// Per acknowledged record, microseconds from send to acknowledgement.
    pub latencies_us: Vec<u64>,
    pub elapsed: Duration,
    pub failed: u64,
    /// Every acknowledged record and its partition.
    pub acked: Vec<(u32, RecordId)>,
    /// Acknowledged records the read-back did not find.
    pub missing: Vec<(u32, RecordId)>,
}

/// One record's outcome: its partition, name and latency in microseconds when acknowledged,
/// `None` when it failed.
pub type Outcome = Option<(u32, RecordId, u64)>;

/// One producer task's outcomes, one per record it sent.
pub type ProducerOutcomes = tokio::task::JoinHandle<Vec<Outcome>>;

/// One producer's part of the load: records `0..count` under its name, at most `in_flight`
/// of them outstanding (throughput from batching, latency from concurrency), each sent by
/// `send`. Returns every record's outcome.
pub async fn send_in_flight<F, Fut>(
    producer: u32,
    count: u64,
    in_flight: usize,
    send: F,
) -> Vec<Outcome>
where
    F: Fn(RecordId) -> Fut,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    assert!(
        in_flight > 0,
        "a producer keeps at least one record in flight"
    );
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(count as usize);
    let mut sending: tokio::task::JoinSet<Outcome> = tokio::task::JoinSet::new();
    for sequence in 0..count {
        if sending.len() >= in_flight {
            if let Some(done) = sending.join_next().await {
                outcomes.push(done.ok().flatten());
            }
        }
        sending.spawn(send(RecordId { producer, sequence }));
    }
    while let Some(done) = sending.join_next().await {
        outcomes.push(done.ok().flatten());
    }
    outcomes
}

impl Measured {
    /// Waits for every producer task and gathers what they measured since `started`.
    pub async fn gather(
        tasks: Vec<ProducerOutcomes>,
        started: std::time::Instant,
    ) -> anyhow::Result<Measured> {
        let mut measured = Measured::default();
        for task in tasks {
            for outcome in task.await? {
                match outcome {
                    Some((partition, id, us)) => {
                        measured.latencies_us.push(us);
                        measured.acked.push((partition, id));
                    }
                    None => measured.failed += 1,
                }
            }
        }
        measured.elapsed = started.elapsed();
        Ok(measured)
    }

    pub fn records_per_s(&self) -> f64 {
        self.acked.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p` quantile of the latencies in milliseconds (sorts them first).
    pub fn latency_ms(&mut self, p: f64) -> f64 {
        self.latencies_us.sort_unstable();
        percentile_ms(&self.latencies_us, p)
    }
}

fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_carries_its_name() {
        let id = RecordId {
            producer: 3,
            sequence: 77,
        };
        let value = id.value();
        assert_eq!(value.len(), RECORD_BYTES);
        assert_eq!(RecordId::of(&value), Some(id));
        assert_eq!(RecordId::of(&value[..5]), None);
    }

    #[test]
    fn percentiles_pick_from_the_sorted_latencies() {
        let sorted: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 0.5), 51.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }
}
