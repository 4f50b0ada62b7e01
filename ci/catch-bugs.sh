#!/usr/bin/env bash
# Test of the tester: for every planted bug, run the scenario that targets it with the bug
# switched on, seed by seed, until the run fails (exit 1). Prints a table of seeds-to-detection
# and wall time; exits 1 if any bug survives its seed budget.
#   ci/catch-bugs.sh [SEED_BUDGET]        (default 10)
set -uo pipefail
cd "$(dirname "$0")/.."
budget="${1:-10}"
cargo build --release -q -p faultline
bin=target/release/faultline
out=$(mktemp -d)
escaped=0
printf '| bug | scenario | seeds to detection | wall s |\n|---|---|---|---|\n'
while read -r bug scenario; do
  [ -z "$bug" ] && continue
  start=$(date +%s%N)
  caught=""
  for seed in $(seq 1 "$budget"); do
    "$bin" run "$scenario" --seed "$seed" --bug "$bug" --out "$out/$bug" > /dev/null 2>&1
    if [ $? -eq 1 ]; then caught=$seed; break; fi
  done
  wall_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ -z "$caught" ]; then escaped=1; caught="not within $budget"; fi
  printf '| %s | %s | %s | %d.%03d |\n' "$bug" "$scenario" "$caught" $((wall_ms / 1000)) $((wall_ms % 1000))
done < <("$bin" bugs | awk 'NR % 2 == 1 {bug=$1} NR % 2 == 0 {print bug, $NF}')
rm -rf "$out"
exit $escaped
