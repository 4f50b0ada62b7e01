//! Setup: every topic of the scenario is created (the token bucket's with its own settings) and
//! has a leader for each partition before the workload starts.

use crate::run::context::RunContext;
use crate::systems::faultline::token_generator;
use crate::systems::SetupError;
use engine::broker::BrokerError;
use engine::client::{ClusterClient, ClusterError};
use std::time::Duration;

/// Setup attempts (topic creation, leader election) before the run is declared broken.
pub const SETUP_ATTEMPTS_MAX: usize = 600;
pub const SETUP_PAUSE: Duration = Duration::from_millis(50);

pub async fn setup(
    ctx: &RunContext,
    cluster: &mut ClusterClient,
    bugs: engine::bugs::Bugs,
) -> Result<(), SetupError> {
    let bucket = crate::systems::faultline::producer::bucket_topic(ctx);
    for topic in &ctx.scenario.cluster.topics {
        let request = if Some(topic.name.as_str()) == bucket {
            // The token generator declares its own bucket.
            token_generator::bucket_request(topic, bugs)
        } else {
            crate::systems::faultline::engine_terms::create_request(topic)
        };
        let mut created = false;
        for _ in 0..SETUP_ATTEMPTS_MAX {
            match cluster.create_topic(request.clone()).await {
                Ok(()) | Err(ClusterError::Broker(BrokerError::TopicExists)) => {
                    created = true;
                    break;
                }
                Err(_) => tokio::time::sleep(SETUP_PAUSE).await,
            }
        }
        if !created {
            return Err(SetupError(format!(
                "topic {} could not be created",
                topic.name
            )));
        }
        cluster
            .await_leaders(&topic.name, SETUP_ATTEMPTS_MAX, SETUP_PAUSE)
            .await
            .map_err(|_| SetupError(format!("topic {} got no leaders", topic.name)))?;
    }
    Ok(())
}
