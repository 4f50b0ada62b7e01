//! The run's conductor, a client of its own: sets the system up, starts the workload, plays
//! the fault schedule, heals, waits for recovery and for the workload to stop, then lets the
//! system drain and read its final state. Its end is the run's end.

use crate::history::F;
use crate::run::context::{now_ns, Phase, RunContext, OKS_AFTER_HEAL_ENOUGH};
use crate::run::nemesis::{Nemesis, NemesisOptions};
use crate::scenario::FaultSchedule;
use crate::systems::{SetupError, System};
use seeds::rng_for;
use serde_json::json;
use std::rc::Rc;
use std::time::Duration;

/// How long the conductor waits for every workload client to stop before draining anyway.
const CLIENT_STOP_WAIT: Duration = Duration::from_secs(30);

/// Sleeps until `at_ms` after the workload started.
async fn sleep_until_ms(ctx: &RunContext, at_ms: u64) {
    let now = ctx.workload_elapsed_ms();
    if at_ms > now {
        tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
    }
}

/// Conducts the whole run.
pub async fn run(
    ctx: Rc<RunContext>,
    system: Rc<dyn System>,
    schedule: FaultSchedule,
) -> Result<(), SetupError> {
    let mut session = system.session(&ctx);
    session.setup(&ctx).await?;
    ctx.workload_started_ns.set(now_ns());
    ctx.phase.set(Phase::Faulty);
    let duration_ms = ctx.scenario.workload.duration_ms;
    let mut nemesis = Nemesis::new(NemesisOptions {
        ctx: &ctx,
        rng: rng_for(ctx.seed, "nemesis"),
        session: session.as_mut(),
        server_hosts: system.server_hosts(&ctx.scenario),
    });
    let mut events = schedule.0.iter().peekable();
    // Each pass starts or lifts at least one fault, or ends the faulty phase.
    loop {
        let next_event = events.peek().map(|event| event.at_ms);
        let next_lift = nemesis.next_lift_ms();
        let next = [next_event, next_lift]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(duration_ms)
            .min(duration_ms);
        sleep_until_ms(&ctx, next).await;
        let now = ctx.workload_elapsed_ms();
        nemesis.lift_due(now);
        if now >= duration_ms {
            break;
        }
        while let Some(event) = events.next_if(|event| event.at_ms <= now) {
            nemesis.start(event, now).await;
        }
    }
    nemesis.heal();
    drop(nemesis);
    ctx.phase.set(Phase::Healing);
    let heal_ns = now_ns();
    let recovery = Duration::from_millis(ctx.scenario.recovery_ms);
    while Duration::from_nanos(now_ns() - heal_ns) < recovery
        && ctx.ok_after_heal.get() < OKS_AFTER_HEAL_ENOUGH
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.phase.set(Phase::Drain);
    let stop_wait_ns = now_ns();
    while !ctx.all_clients_done()
        && Duration::from_nanos(now_ns() - stop_wait_ns) < CLIENT_STOP_WAIT
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !ctx.all_clients_done() {
        ctx.nemesis(F::Other("clients-still-running".into()), json!(null));
    }
    session.finish(&ctx).await;
    ctx.phase.set(Phase::Done);
    Ok(())
}
