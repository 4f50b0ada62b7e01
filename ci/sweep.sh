#!/usr/bin/env bash
# One shard of a seed sweep: `faultline run SUITE --seeds A..B --shard K/N --out OUT`.
#
# The seed range is a function of the commit: the first 32 bits of sha256(COMMIT) are the base
# seed and the sweep runs base..base+COUNT-1. A new commit therefore explores new seeds, while a
# rerun of the same commit (a retried CI job, a developer checking it out) runs exactly the same
# ones. Every shard of one sweep derives the same range; `--shard K/N` then picks this shard's
# (scenario, seed) pairs by a stable hash, so the N shards are disjoint and cover the sweep.
# (Uncommitted changes do not move the seeds: they follow HEAD, or COMMIT where there is no git,
# e.g. in a container image.)
#
# Exit code: faultline's (0 every run met its expectation, 1 some did not, 2 bad input, 3 some
# run could not be judged); 2 as well for a bad argument to this script.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ci/sweep.sh [OPTIONS] [-- EXTRA FAULTLINE RUN ARGS]

Runs one shard of a seed sweep with `faultline run`, printing the exact command first.
Every option defaults to the environment variable named after it.

Options:
  --shard <K/N>         this shard, 1 <= K <= N            [env: SHARD, SHARDS; default 1/1]
  --seeds <COUNT|A..B>  COUNT seeds from the commit's base seed, or exactly A..B
                                                            [env: SEEDS; default 20]
  --suite <PATH>        scenario file or folder; repeatable [env: SUITE, space-separated;
                                                             default scenarios/]
  --out <DIR>           store directory                     [env: OUT; default
                                                             store/shard-K-of-N]
  --jobs <J>            simulations at once                 [env: JOBS; default nproc]
  --commit <REV>        commit the seeds derive from        [env: COMMIT; default
                                                             git rev-parse HEAD]
  --check-determinism   run every run twice, compare digests [env: CHECK_DETERMINISM=1]
  --print-seeds         print the seed range A..B and exit
  --dry-run             print the faultline command and exit (no build, no run)
                                                            [env: DRY_RUN=1]
  -h, --help            print this help

Environment only:
  FAULTLINE_BIN         the faultline binary to run; when unset, the script builds it once
                        with `cargo build --release -p faultline` and runs target/release/faultline
EOF
}

die() {
    echo "ci/sweep.sh: $*" >&2
    echo "try: ci/sweep.sh --help" >&2
    exit 2
}

cd "$(dirname "$0")/.."

shard="${SHARD:-1}"
shards="${SHARDS:-1}"
seeds="${SEEDS:-20}"
read -r -a suites <<<"${SUITE:-scenarios/}"
out="${OUT:-}"
jobs="${JOBS:-}"
commit="${COMMIT:-}"
check_determinism="${CHECK_DETERMINISM:-0}"
mode=run
if [[ "${DRY_RUN:-0}" == 1 ]]; then
    mode=dry-run
fi
suite_given=0
extra=()

while (($# > 0)); do
    case "$1" in
    --shard)
        (($# >= 2)) || die "--shard needs K/N"
        [[ "$2" == */* ]] || die "bad shard '$2': expected K/N, e.g. 2/4"
        shard="${2%%/*}"
        shards="${2#*/}"
        shift 2
        ;;
    --seeds)
        (($# >= 2)) || die "--seeds needs COUNT or A..B"
        seeds="$2"
        shift 2
        ;;
    --suite)
        (($# >= 2)) || die "--suite needs a path"
        ((suite_given)) || suites=()
        suite_given=1
        suites+=("$2")
        shift 2
        ;;
    --out)
        (($# >= 2)) || die "--out needs a directory"
        out="$2"
        shift 2
        ;;
    --jobs)
        (($# >= 2)) || die "--jobs needs a number"
        jobs="$2"
        shift 2
        ;;
    --commit)
        (($# >= 2)) || die "--commit needs a revision"
        commit="$2"
        shift 2
        ;;
    --check-determinism)
        check_determinism=1
        shift
        ;;
    --print-seeds)
        mode=print-seeds
        shift
        ;;
    --dry-run)
        mode=dry-run
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        extra=("$@")
        break
        ;;
    *)
        die "unknown argument '$1'"
        ;;
    esac
done

[[ "$shard" =~ ^[0-9]+$ && "$shards" =~ ^[0-9]+$ ]] || die "bad shard '$shard/$shards': expected K/N"
((shards >= 1 && shard >= 1 && shard <= shards)) || die "bad shard $shard/$shards: need 1 <= K <= N"
((${#suites[@]} > 0)) || die "no suite given"

if [[ "$seeds" =~ ^[0-9]+\.\.[0-9]+$ ]]; then
    # An explicit range (e.g. to replay another commit's sweep): used as given.
    range="$seeds"
elif [[ "$seeds" =~ ^[0-9]+$ ]] && ((seeds >= 1)); then
    if [[ -z "$commit" ]]; then
        commit="$(git rev-parse HEAD 2>/dev/null)" ||
            die "no commit to derive seeds from: set COMMIT (or --commit), or give --seeds A..B"
    fi
    digest="$(printf '%s' "$commit" | sha256sum)"
    base=$((16#${digest:0:8}))
    range="$base..$((base + seeds - 1))"
else
    die "bad seeds '$seeds': expected a count (e.g. 100) or a range A..B"
fi

if [[ "$mode" == print-seeds ]]; then
    echo "$range"
    exit 0
fi

out="${out:-store/shard-$shard-of-$shards}"
jobs="${jobs:-$(nproc 2>/dev/null || echo 1)}"

bin="${FAULTLINE_BIN:-}"
if [[ -z "$bin" ]]; then
    bin=target/release/faultline
    if [[ "$mode" == run ]]; then
        echo "== cargo build --release -p faultline" >&2
        cargo build --release -p faultline >&2
    fi
fi

cmd=("$bin" run "${suites[@]}" --seeds "$range" --shard "$shard/$shards" --jobs "$jobs" --out "$out")
if [[ "$check_determinism" == 1 ]]; then
    cmd+=(--check-determinism)
fi
cmd+=(${extra[@]+"${extra[@]}"})

echo "sweep: commit ${commit:-(not used)}, seeds $range, shard $shard/$shards" >&2
# The exact command, quoted so it can be pasted.
printf '+'
printf ' %q' "${cmd[@]}"
printf '\n'
if [[ "$mode" == dry-run ]]; then
    exit 0
fi

# The seed flags above must win over a FAULTLINE_SEED(S) left in the environment.
unset FAULTLINE_SEED FAULTLINE_SEEDS
status=0
"${cmd[@]}" || status=$?
echo "sweep: faultline exited $status (0 met, 1 unmet, 2 bad input, 3 unjudged)" >&2
exit "$status"
