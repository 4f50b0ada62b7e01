#!/usr/bin/env bash
# What CI runs on every submission: formatting, lints (which also enforce the determinism rules
# of design.md section 4 through clippy.toml), then the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test (the README's test command)"
cargo test --workspace
