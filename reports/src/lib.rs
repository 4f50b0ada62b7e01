//! The stable RunResult schema and its renderers.
