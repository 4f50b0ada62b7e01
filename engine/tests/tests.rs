//! The engine's one integration-test binary; one module per noun.

mod storage;
mod wire;
