#!/usr/bin/env bash
# Opens a run's report.html in headless Chromium (Debian's `chromium`), takes a screenshot, and
# fails when the page is broken: its script did not finish (it marks <html data-ready="yes"> as
# its last act, so an exception leaves the mark off) or the browser's console logged anything.
# The page is self-contained, so the browser runs offline with every background service off.
#
# Not part of `cargo test`: it needs a browser. Usage:
#
#   ci/report-screenshot.sh [--html FILE] [--png FILE]
#
#   --html FILE  the report to open; default: run scenarios/crash/acks-1-leader-crash.yaml
#                --seed 1 (an invalid run with lost writes) into a temporary store and open
#                its report.html
#   --png FILE   where to write the screenshot; default: report-screenshot.png in the current
#                directory
#
# Environment: FAULTLINE_BIN, the faultline binary (default: build it with
# `cargo build --release -p faultline`); CHROMIUM, the browser (default: chromium, installed
# with apt-get when missing).
#
# Exit code: 0 the page rendered without errors; 1 it did not; 2 bad usage or no browser.
set -euo pipefail
cd "$(dirname "$0")/.."

html=""
png="report-screenshot.png"
while (($# > 0)); do
    case "$1" in
    --html)
        (($# >= 2)) || { echo "ci/report-screenshot.sh: --html needs a file" >&2; exit 2; }
        html="$2"
        shift 2
        ;;
    --png)
        (($# >= 2)) || { echo "ci/report-screenshot.sh: --png needs a file" >&2; exit 2; }
        png="$2"
        shift 2
        ;;
    -h | --help)
        sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "ci/report-screenshot.sh: unknown argument $1 (try --help)" >&2
        exit 2
        ;;
    esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ -z "$html" ]]; then
    bin="${FAULTLINE_BIN:-}"
    if [[ -z "$bin" ]]; then
        cargo build --release -p faultline >&2
        bin="target/release/faultline"
    fi
    # An invalid run exits 0 here: the scenario expects its lost writes.
    "$bin" run scenarios/crash/acks-1-leader-crash.yaml --seed 1 --out "$work/store" >&2
    html="$work/store/acks-1-leader-crash/1/report.html"
fi
[[ -f "$html" ]] || { echo "ci/report-screenshot.sh: no report at $html" >&2; exit 2; }
html="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"

browser="${CHROMIUM:-chromium}"
if ! command -v "$browser" >/dev/null; then
    echo "== installing Debian's chromium" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2; then
        echo "ci/report-screenshot.sh: cannot install chromium" >&2
        exit 2
    fi
fi

flags=(
    --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --disable-extensions --disable-default-apps --mute-audio --hide-scrollbars
    --user-data-dir="$work/profile" --enable-logging=stderr --v=0
    --virtual-time-budget=5000
)

echo "== loading file://$html" >&2
status=0
"$browser" "${flags[@]}" --dump-dom "file://$html" >"$work/dom.html" 2>"$work/dom.log" || status=$?
if ((status != 0)); then
    cat "$work/dom.log" >&2
    echo "ci/report-screenshot.sh: chromium exited $status while loading the page" >&2
    exit 1
fi
failed=0
if ! grep -q 'data-ready="yes"' "$work/dom.html"; then
    echo "FAIL: the page's script did not finish (no data-ready mark): it raised an error" >&2
    failed=1
fi
if grep -E 'CONSOLE|Uncaught' "$work/dom.log" >"$work/console.log"; then
    echo "FAIL: the browser console logged:" >&2
    cat "$work/console.log" >&2
    failed=1
fi

"$browser" "${flags[@]}" --window-size=1400,2200 --screenshot="$work/shot.png" "file://$html" \
    >"$work/shot.log" 2>&1 || status=$?
if ((status != 0)) || [[ ! -s "$work/shot.png" ]]; then
    cat "$work/shot.log" >&2
    echo "ci/report-screenshot.sh: chromium took no screenshot" >&2
    exit 1
fi
mkdir -p "$(dirname "$png")"
cp "$work/shot.png" "$png"
echo "screenshot: $png ($(wc -c <"$png") bytes)"
if ((failed != 0)); then
    exit 1
fi
echo "report.html rendered with no console errors"
