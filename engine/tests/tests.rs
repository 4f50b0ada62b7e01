//! The engine's one integration-test binary; one module per noun.

mod broker;
mod cluster_sim;
mod consumer;
mod coordinator;
mod import_cycles;
mod producer;
mod queue;
mod storage;
mod txn;
mod wire;
