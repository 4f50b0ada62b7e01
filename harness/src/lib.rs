//! The faultline harness: scenario -> deterministic simulation -> history -> checkers ->
//! verdict, and the `faultline` command line.

pub mod demo;
