#!/usr/bin/env bash
# What CI runs on every submission: formatting, lints (which also enforce the determinism rules
# of design.md section 4 through clippy.toml), then the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

# --release: the README's main job builds the release profile, so the tests reuse every
# dependency it built instead of building the workspace again in the test profile. Assertions
# stay on: the engine uses `assert!`, not `debug_assert!`.
echo "== cargo test --release (the README's test command)"
log=$(mktemp)
status=0
cargo test --workspace --release 2>&1 | tee "$log" || status=$?
# One plain closing line over every test binary (the last `test result:` line alone is the
# doc tests', which run none).
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')
rm -f "$log"
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
