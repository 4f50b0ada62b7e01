#!/usr/bin/env bash
# Every swarm (scenarios/*/swarm.yaml) over N seeds derived from the commit.
#
# A swarm draws its fault mix per seed (which kinds take part, their weights, rates, durations
# and targets), so every seed is a different experiment. The seeds are a function of the commit,
# as in ci/sweep.sh: the first 32 bits of sha256(COMMIT) are the base and each swarm runs
# base..base+N-1, so a new commit explores new seeds and a re-run replays the same ones. Only
# the failing runs keep their store folder (`--keep failed`); each failure is printed with its
# repro line. At the end, one line per swarm: runs, failures, wall time and seeds per hour on
# this machine with --jobs simulations at once.
#
# Exit code: 0 every run met its expectation, 1 some did not, 2 bad input or a bad argument,
# 3 some run could not be judged (the worst over all swarms, in that order: 2, 1, 3).
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: ci/swarm.sh [N] [OPTIONS]

  N                     seeds per swarm from the commit's base seed [env: SEEDS; default 100]
Options:
  --seeds <A..B>        exactly these seeds instead of the commit's
  --jobs <J>            simulations at once                [env: JOBS; default nproc]
  --out <DIR>           store of the failing runs          [env: OUT; default store/swarm]
  --commit <REV>        commit the seeds derive from       [env: COMMIT; default HEAD]
  --swarm <FILE>        run only this swarm (repeatable)
  -h, --help            print this help
Environment: FAULTLINE_BIN (default: build target/release/faultline once).
USAGE
}

die() {
    echo "ci/swarm.sh: $*" >&2
    exit 2
}

cd "$(dirname "$0")/.."

count="${SEEDS:-100}"
range=""
jobs="${JOBS:-$(nproc 2>/dev/null || echo 1)}"
out="${OUT:-store/swarm}"
commit="${COMMIT:-}"
swarms=()

while (($# > 0)); do
    case "$1" in
    --seeds) (($# >= 2)) || die "--seeds needs A..B"; range="$2"; shift 2 ;;
    --jobs) (($# >= 2)) || die "--jobs needs a number"; jobs="$2"; shift 2 ;;
    --out) (($# >= 2)) || die "--out needs a directory"; out="$2"; shift 2 ;;
    --commit) (($# >= 2)) || die "--commit needs a revision"; commit="$2"; shift 2 ;;
    --swarm) (($# >= 2)) || die "--swarm needs a file"; swarms+=("$2"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    [0-9]*) count="$1"; shift ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac
done

[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "bad --jobs '$jobs': expected a positive number"
if [[ -z "$range" ]]; then
    [[ "$count" =~ ^[1-9][0-9]*$ ]] || die "bad N '$count': expected a positive number"
    if [[ -z "$commit" ]]; then
        commit="$(git rev-parse HEAD 2>/dev/null)" || die "no commit: set COMMIT or give --seeds A..B"
    fi
    digest="$(printf '%s' "$commit" | sha256sum)"
    base=$((16#${digest:0:8}))
    range="$base..$((base + count - 1))"
fi
[[ "$range" =~ ^([0-9]+)\.\.([0-9]+)$ ]] || die "bad seeds '$range': expected A..B"
seeds_per_swarm=$((BASH_REMATCH[2] - BASH_REMATCH[1] + 1))
((seeds_per_swarm >= 1)) || die "empty seed range '$range'"

if ((${#swarms[@]} == 0)); then
    mapfile -t swarms < <(find scenarios -name swarm.yaml | sort)
fi
((${#swarms[@]} > 0)) || die "no swarm scenarios found"

bin="${FAULTLINE_BIN:-}"
if [[ -z "$bin" ]]; then
    echo "== cargo build --release -p faultline" >&2
    cargo build --release -p faultline >&2
    bin=target/release/faultline
fi

echo "swarm: commit ${commit:-(not used)}, seeds $range, ${#swarms[@]} swarms, $jobs jobs, failing runs kept in $out"
unset FAULTLINE_SEED FAULTLINE_SEEDS
worst=0
rows=()
for swarm in "${swarms[@]}"; do
    name="$(basename "$(dirname "$swarm")")"
    log="$(mktemp)"
    started=$(date +%s.%N)
    status=0
    "$bin" run "$swarm" --seeds "$range" --jobs "$jobs" --out "$out/$name" --keep failed >"$log" 2>&1 || status=$?
    ended=$(date +%s.%N)
    # Every run prints one line; a failing one says FAILED or UNJUDGED and ends with its repro.
    grep -E 'FAILED|UNJUDGED|nondetermin' "$log" || true
    if ((status == 2)); then
        cat "$log" >&2
    fi
    failures=$(grep -cE 'FAILED|UNJUDGED' "$log" || true)
    rm -f "$log"
    row="$(awk -v s="$swarm" -v n="$seeds_per_swarm" -v f="$failures" -v a="$started" -v b="$ended" -v st="$status" \
        'BEGIN { w = b - a; printf "%-32s %6d seeds %4d failed  exit %d  %8.1f s  %9.0f seeds/hour\n", s, n, f, st, w, (w > 0 ? n * 3600 / w : 0) }')"
    # Printed as each swarm ends, so a sweep cut short still says how far it got.
    echo "done: $row"
    rows+=("$row")
    case "$status" in
    0) ;;
    2) worst=2 ;;
    1) ((worst == 2)) || worst=1 ;;
    3) ((worst != 0)) || worst=3 ;;
    *) worst=2 ;;
    esac
done
echo
echo "swarm summary (seeds $range, $jobs jobs on $(nproc) cores):"
printf '%s\n' "${rows[@]}"
exit "$worst"
