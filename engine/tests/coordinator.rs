//! The coordinator under client failures, partitions, power loss and disk faults, in turmoil.

use engine::coordinator::{
    ClientError, CoordError, Coordinator, CoordinatorClient, CoordinatorClientOptions,
    CoordinatorOptions, CreateMode, EventKind, Op,
};
use engine::env::{DiskFault, DiskFaultKind, DiskFaults, Env, EnvOptions, Mode, Net, NodeAddr};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

const PORT: u16 = 2181;
const SESSION_TIMEOUT: Duration = Duration::from_millis(1000);
/// Bound on simulation steps (1 ms each) for one test.
const STEPS_MAX: u64 = 120_000;

fn sim(seed: u64, torn_block_bytes: Option<u64>) -> turmoil::Sim<'static> {
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed)
        .simulation_duration(Duration::from_millis(STEPS_MAX))
        .tcp_capacity(4096);
    if let Some(block) = torn_block_bytes {
        builder.fs().block_size(block);
    }
    builder.build()
}

/// Registers the coordinator host; it recovers from its disk on every (re)start.
fn add_coordinator(sim: &mut turmoil::Sim<'static>, faults: DiskFaults) {
    sim.host("coordinator", move || {
        let faults = faults.clone();
        async move {
            let env = Env::open(EnvOptions {
                mode: Mode::Sim,
                data_dir: PathBuf::from("/data"),
                seed: 1,
                disk_faults: faults,
            })?;
            let mut options = CoordinatorOptions::new(NodeAddr::new("0.0.0.0", PORT));
            options.snapshot_every_txns = 40;
            let coordinator = Coordinator::start(&env, options).await?;
            coordinator.serve().await;
            Ok(())
        }
    });
}

fn client_options() -> CoordinatorClientOptions {
    CoordinatorClientOptions {
        session_timeout: SESSION_TIMEOUT,
        request_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(100),
    }
}

/// Connects, retrying while the coordinator is down or unreachable.
async fn connect() -> CoordinatorClient {
    for _ in 0..1000 {
        match CoordinatorClient::connect(
            Net::Sim,
            NodeAddr::new("coordinator", PORT),
            client_options(),
        )
        .await
        {
            Ok(client) => return client,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("no session after 1000 attempts");
}

#[test]
fn session_expiry_removes_ephemerals_and_fires_watches() {
    let mut sim = sim(1, None);
    add_coordinator(&mut sim, DiskFaults::new());
    let owner_ready = Rc::new(RefCell::new(false));
    let ready = owner_ready.clone();
    sim.client("owner", async move {
        let client = connect().await;
        client
            .create("/e", b"mine".to_vec(), CreateMode::Ephemeral)
            .await?;
        *ready.borrow_mut() = true;
        // Stay alive (heartbeating) until the watcher cuts this host off.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(client.is_expired(), "the owner learns its session expired");
        Ok(())
    });
    let ready = owner_ready.clone();
    sim.client("watcher", async move {
        while !*ready.borrow() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let client = connect().await;
        let (stat, watch) = client.exists_watch("/e").await?;
        assert!(stat
            .expect("the ephemeral exists")
            .ephemeral_owner
            .is_some());
        let (_, children_watch) = client.children_watch("/").await?;
        let cut_at = tokio::time::Instant::now();
        turmoil::partition("owner", "coordinator");
        let event = watch.fired().await;
        assert_eq!(
            (event.path.as_str(), event.kind),
            ("/e", EventKind::Deleted)
        );
        assert!(
            cut_at.elapsed() >= SESSION_TIMEOUT,
            "not before the session timeout"
        );
        assert!(cut_at.elapsed() < SESSION_TIMEOUT * 3, "soon after it");
        assert_eq!(
            children_watch.fired().await.kind,
            EventKind::ChildrenChanged
        );
        assert_eq!(client.exists("/e").await?, None);
        turmoil::repair("owner", "coordinator");
        Ok(())
    });
    sim.run().expect("simulation");
}

#[test]
fn a_partitioned_clients_session_expires_while_a_healthy_ones_stays() {
    let mut sim = sim(2, None);
    add_coordinator(&mut sim, DiskFaults::new());
    let phase = Rc::new(RefCell::new(0u32));
    let cut = phase.clone();
    sim.client("cut", async move {
        let client = connect().await;
        client
            .create("/cut", Vec::new(), CreateMode::Ephemeral)
            .await?;
        *cut.borrow_mut() += 1;
        while *cut.borrow() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Back on the network after its session expired: every call says so.
        let refused = client
            .create("/late", Vec::new(), CreateMode::Persistent)
            .await;
        assert!(
            matches!(refused, Err(ClientError::SessionExpired)),
            "{refused:?}"
        );
        assert!(client.is_expired());
        Ok(())
    });
    let healthy = phase.clone();
    sim.client("healthy", async move {
        let client = connect().await;
        client
            .create("/healthy", Vec::new(), CreateMode::Ephemeral)
            .await?;
        *healthy.borrow_mut() += 1;
        while *healthy.borrow() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        turmoil::partition("cut", "coordinator");
        tokio::time::sleep(SESSION_TIMEOUT * 4).await;
        assert_eq!(
            client.exists("/cut").await?,
            None,
            "the cut-off session's ephemeral is gone"
        );
        assert!(
            client.exists("/healthy").await?.is_some(),
            "the healthy session's stays"
        );
        assert!(!client.is_expired());
        turmoil::repair("cut", "coordinator");
        *healthy.borrow_mut() += 1;
        Ok(())
    });
    sim.run().expect("simulation");
}

/// What a writer knows after its writes: the nodes it surely created and what they hold.
#[derive(Default, Debug)]
struct Acked {
    nodes: Vec<(String, Vec<u8>)>,
    counter_max: u64,
    counter_sets: u64,
}

/// A writer creates numbered nodes and raises a counter while the coordinator loses power at
/// seeded moments with torn writes on; afterwards every acknowledged write must be there.
fn crash_run(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let crashes: Vec<u64> = {
        let mut at: Vec<u64> = (0..3).map(|_| rng.random_range(100..2_500)).collect();
        at.sort_unstable();
        at
    };
    let mut sim = sim(seed, Some(64));
    add_coordinator(&mut sim, DiskFaults::new());
    let done = Rc::new(RefCell::new(false));
    let finished = done.clone();
    sim.client("writer", async move {
        let client = connect().await;
        let mut acked = Acked::default();
        loop {
            match client
                .create("/counter", b"0".to_vec(), CreateMode::Persistent)
                .await
            {
                Ok(_) | Err(ClientError::Coord(CoordError::NodeExists { .. })) => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        for i in 0..120u64 {
            let path = format!("/k{i:04}");
            let data = format!("value-{i}").into_bytes();
            if client
                .create(&path, data.clone(), CreateMode::Persistent)
                .await
                .is_ok()
            {
                acked.nodes.push((path, data));
            }
            if client
                .set("/counter", i.to_string().into_bytes(), None)
                .await
                .is_ok()
            {
                acked.counter_max = i;
                acked.counter_sets += 1;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Read back (retrying across restarts) and compare.
        let check = connect().await;
        for (path, data) in &acked.nodes {
            let read = loop {
                match check.get(path).await {
                    Ok((read, _)) => break read,
                    Err(ClientError::Coord(error)) => panic!("acknowledged {path} lost: {error}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            assert_eq!(&read, data, "{path} holds what was acknowledged");
        }
        let (counter, stat) = check.get("/counter").await?;
        let counter: u64 = String::from_utf8(counter)?.parse()?;
        assert!(
            counter >= acked.counter_max,
            "counter {counter} < acknowledged {}",
            acked.counter_max
        );
        assert!(
            stat.version >= acked.counter_sets,
            "each set raised the version by one"
        );
        assert!(
            acked.nodes.len() > 10,
            "the writer made progress: {}",
            acked.nodes.len()
        );
        *finished.borrow_mut() = true;
        Ok(())
    });
    let mut crash_at = crashes.into_iter().peekable();
    for step in 0..STEPS_MAX {
        if crash_at.peek() == Some(&step) {
            crash_at.next();
            sim.crash("coordinator");
            sim.bounce("coordinator");
        }
        if sim.step().expect("simulation step") {
            break;
        }
    }
    assert!(*done.borrow(), "seed {seed}: the writer did not finish");
}

#[test]
fn power_loss_keeps_every_acknowledged_write() {
    for seed in 1..=4 {
        crash_run(seed);
    }
}

#[test]
fn fsync_error_fails_the_write_and_nothing_is_acknowledged() {
    let mut sim = sim(3, None);
    let faults = DiskFaults::new();
    add_coordinator(&mut sim, faults.clone());
    let phase = Rc::new(RefCell::new(0u32));
    let client_phase = phase.clone();
    sim.client("client", async move {
        let client = connect().await;
        client
            .create("/before", Vec::new(), CreateMode::Persistent)
            .await?;
        faults.inject(DiskFault::FsyncError);
        let failed = client
            .create("/during", Vec::new(), CreateMode::Persistent)
            .await;
        assert!(
            matches!(failed, Err(ClientError::Coord(CoordError::Storage { .. }))),
            "{failed:?}"
        );
        let failed = client.set("/before", b"x".to_vec(), None).await;
        assert!(
            matches!(failed, Err(ClientError::Coord(CoordError::Storage { .. }))),
            "{failed:?}"
        );
        assert_eq!(
            client.exists("/during").await?,
            None,
            "a write whose fsync failed is not applied"
        );
        assert_eq!(client.get("/before").await?.1.version, 0);
        faults.lift(DiskFaultKind::FsyncError);
        client
            .create("/after", Vec::new(), CreateMode::Persistent)
            .await?;
        // Restart the coordinator (power loss) and look again.
        *client_phase.borrow_mut() = 1;
        while *client_phase.borrow() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let check = connect().await;
        let exists = loop {
            match check.exists("/during").await {
                Ok(stat) => break stat,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        assert_eq!(exists, None, "not applied after a restart either");
        assert!(check.exists("/after").await?.is_some());
        assert_eq!(check.get("/before").await?.1.version, 0);
        Ok(())
    });
    for _ in 0..STEPS_MAX {
        if *phase.borrow() == 1 {
            sim.crash("coordinator");
            sim.bounce("coordinator");
            *phase.borrow_mut() = 2;
        }
        if sim.step().expect("simulation step") {
            return;
        }
    }
    panic!("the client did not finish");
}

const MULTI_CASES: u32 = 24;

proptest! {
    #![proptest_config(ProptestConfig { cases: MULTI_CASES, ..ProptestConfig::default() })]

    /// A multi creates a group of nodes at once; whatever moment the power fails, each group is
    /// afterwards entirely present or entirely absent, and acknowledged groups are present.
    #[test]
    fn multi_stays_atomic_across_a_crash(
        seed in any::<u64>(),
        crash_at in 20u64..300,
        group_sizes in prop::collection::vec(1usize..6, 5..40),
    ) {
        let mut sim = sim(seed, Some(32));
        add_coordinator(&mut sim, DiskFaults::new());
        let done = Rc::new(RefCell::new(false));
        let finished = done.clone();
        sim.client("client", async move {
            let client = connect().await;
            let mut acked = Vec::new();
            for (group, size) in group_sizes.iter().enumerate() {
                let ops = (0..*size)
                    .map(|j| Op::Create {
                        path: format!("/g{group:03}-{j}"),
                        data: vec![group as u8; 100],
                        mode: CreateMode::Persistent,
                    })
                    .collect();
                if client.multi(ops).await.is_ok() {
                    acked.push(group);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let check = connect().await;
            let children = loop {
                match check.children("/").await {
                    Ok(names) => break names,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            for (group, size) in group_sizes.iter().enumerate() {
                let present = (0..*size)
                    .filter(|j| children.contains(&format!("g{group:03}-{j}")))
                    .count();
                assert!(present == 0 || present == *size, "group {group}: {present} of {size} nodes");
                if acked.contains(&group) {
                    assert_eq!(present, *size, "acknowledged group {group} is complete");
                }
            }
            *finished.borrow_mut() = true;
            Ok(())
        });
        for step in 0..STEPS_MAX {
            if step == crash_at {
                sim.crash("coordinator");
                sim.bounce("coordinator");
            }
            if sim.step().expect("simulation step") {
                break;
            }
        }
        prop_assert!(*done.borrow());
    }
}
