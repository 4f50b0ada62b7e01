//! A consumer group's business state, shared by every system's consumer workload: applying one
//! message with the group's apply strategy (design.md §11). It lives outside any system so that
//! faultline's and NATS's consumers apply the same way and their findings compare: the
//! strategy, not the system, decides whether a redelivered message takes effect twice.

use crate::run::context::RunContext;
use crate::scenario::ApplyStrategy;

/// Applies one message to `group`'s state; `true` if its effect was applied.
pub fn apply(
    ctx: &RunContext,
    group: &str,
    strategy: ApplyStrategy,
    key: &str,
    offset: u64,
    value: i64,
) -> bool {
    let mut business = ctx.business.borrow_mut();
    let state = business.entry(group.to_string()).or_default();
    let apply = match strategy {
        ApplyStrategy::None => true,
        // A unique constraint on the message id; record-and-check writes the id in the same
        // durable write as the effect — in this model both are one atomic step.
        ApplyStrategy::UniqueKey | ApplyStrategy::RecordAndCheck => state.seen.insert(value),
        ApplyStrategy::Versioned => {
            let version = state.versions.entry(key.to_string()).or_insert(0);
            if offset >= *version {
                *version = offset + 1;
                true
            } else {
                false
            }
        }
    };
    if apply {
        state
            .applied
            .entry(key.to_string())
            .or_default()
            .push(value);
    }
    apply
}
