//! Seeded randomness, from the workspace's `seeds` crate (shared with the harness, so the
//! harness derives its own streams without importing the engine).

pub use seeds::{derive_seed, rng_for, NodeRng};
