//! The engine's one integration-test binary; one module per noun.

mod coordinator;
mod storage;
mod wire;
