//! The engine's one integration-test binary; one module per noun.

mod broker;
mod cluster_sim;
mod coordinator;
mod storage;
mod wire;
