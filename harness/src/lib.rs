//! The faultline harness.
