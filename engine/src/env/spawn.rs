//! Spawning tasks over the seam. In simulation every task goes on the host's `LocalSet`
//! (turmoil runs host software there), never on the tokio runtime's own task list: when turmoil
//! crashes or restarts a host it drops the runtime first, and the runtime drops its tasks in
//! an order that depends on tokio's process-wide task ids — so a second simulation in the same
//! process would drop (and close sockets) in another order and diverge. The `LocalSet` drops
//! its tasks in the order they were spawned. In real mode tasks go on the multi-threaded
//! runtime as usual.

use std::future::Future;
use tokio::task::JoinHandle;

pub fn spawn<F>(task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if turmoil::in_simulation() {
        tokio::task::spawn_local(task)
    } else {
        tokio::spawn(task)
    }
}
