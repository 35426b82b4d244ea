#!/usr/bin/env bash
# Media benchmarks of issue 5 in one run, ratios printed (see the header of
# gateway/media/examples/media_bench.rs for what is measured):
#   SRTP↔RTP relay vs plain relay (target ≥0.8×), transcoded G.711↔Opus calls
#   per core vs the libopus ceiling measured in the same run (target ≥0.7×).
# Not run in CI. Builds the example in release mode once, runs it, and writes
# the output also to interop-tests/bench/media/RESULTS.md.
#
#   interop-tests/bench/media-bench.sh
#   STREAMS=100 RATES=50000,150000 DURATION=5 CODEC_SECS=3 RELAY_THREADS=1 \
#       interop-tests/bench/media-bench.sh
set -euo pipefail

STREAMS=${STREAMS:-50}
RATES=${RATES:-50000,150000}
DURATION=${DURATION:-5}
CODEC_SECS=${CODEC_SECS:-3}
RELAY_THREADS=${RELAY_THREADS:-1}
PORTS=${PORTS:-46000-47999}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/interop-tests/bench/media/RESULTS.md"
mkdir -p "$(dirname "$OUT")"

echo "building media_bench (release)..." >&2
(cd "$ROOT" && cargo build -q --release -p gateway-media --example media_bench)

load1() { awk '{print $1}' /proc/loadavg; }
LOAD_BEFORE=$(load1)
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
"$ROOT/target/release/examples/media_bench" --streams "$STREAMS" --rates "$RATES" \
    --duration "$DURATION" --codec-secs "$CODEC_SECS" --relay-threads "$RELAY_THREADS" \
    --ports "$PORTS" | tee "$TMP"
LOAD_AFTER=$(load1)

{
    echo "# media-bench.sh results"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')),"
    echo "release build, \`interop-tests/bench/media-bench.sh\` with STREAMS=$STREAMS"
    echo "RATES=$RATES DURATION=$DURATION CODEC_SECS=$CODEC_SECS RELAY_THREADS=$RELAY_THREADS."
    echo "uptime: $(uptime)"
    if awk -v a="$LOAD_BEFORE" -v b="$LOAD_AFTER" 'BEGIN { exit !(a > 1.5 || b > 1.5) }'; then
        echo
        echo "**The machine was loaded (1-minute load average $LOAD_BEFORE before, $LOAD_AFTER after, > 1.5):"
        echo "other builds shared the 2 cores, so absolute figures are noisy; the ratios,"
        echo "taken in the same run, are the figures to read.**"
    fi
    echo
    cat "$TMP"
} >"$OUT"
echo "wrote $OUT" >&2
