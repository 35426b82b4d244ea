#!/usr/bin/env bash
# Meeting bridge benchmarks of issue 5 in one run, each beside a reference
# measured in the same run (see the header of
# gateway/media/benches/meeting_mix.rs for what is measured):
#   participants per core in one mixed meeting (all PCMU, all Opus,
#   PCMU/G.722/Opus) vs the bare codec work of the same legs (ratio printed);
#   the mix's added latency (p50/p99, N = 3 and 32) vs one tick + codec delay.
# Not run in CI. Builds the bench in release mode, runs it, and writes the
# output also to interop-tests/bench/mix/RESULTS.md. Traffic stays on
# 127.0.0.1; every run is a fixed number of 20 ms ticks.
#
#   interop-tests/bench/mix-bench.sh
#   MIX_LEGS=8,32,64,128,256 MIX_TICKS=150 LAT_LEGS=3,32 LAT_SESSIONS=5 \
#       LAT_BURSTS=20 MIX_PORTS=44000-44999 interop-tests/bench/mix-bench.sh
set -euo pipefail

export MIX_LEGS=${MIX_LEGS:-8,32,64,128,256}
export MIX_TICKS=${MIX_TICKS:-150}
export LAT_LEGS=${LAT_LEGS:-3,32}
export LAT_SESSIONS=${LAT_SESSIONS:-5}
export LAT_BURSTS=${LAT_BURSTS:-20}
export MIX_PORTS=${MIX_PORTS:-44000-44999}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/interop-tests/bench/mix/RESULTS.md"
mkdir -p "$(dirname "$OUT")"

echo "building meeting_mix bench (release)..." >&2
BIN=$(cd "$ROOT" && cargo bench -q -p gateway-media --bench meeting_mix --no-run \
    --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*meeting_mix[^"]*\)".*/\1/p' | tail -1)
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "could not find the meeting_mix bench executable" >&2
    exit 1
fi

load1() { awk '{print $1}' /proc/loadavg; }
LOAD_BEFORE=$(load1)
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
# Bounded: the bench stops itself after its fixed tick counts (~2-3 min).
timeout 900 "$BIN" --bench | tee "$TMP"
LOAD_AFTER=$(load1)

{
    echo "# mix-bench.sh results"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')),"
    echo "release (bench profile), \`interop-tests/bench/mix-bench.sh\` with MIX_LEGS=$MIX_LEGS"
    echo "MIX_TICKS=$MIX_TICKS LAT_LEGS=$LAT_LEGS LAT_SESSIONS=$LAT_SESSIONS LAT_BURSTS=$LAT_BURSTS."
    echo "uptime: $(uptime)"
    if awk -v a="$LOAD_BEFORE" -v b="$LOAD_AFTER" 'BEGIN { exit !(a > 1.5 || b > 1.5) }'; then
        echo
        echo "**The machine was loaded (1-minute load average $LOAD_BEFORE before, $LOAD_AFTER after, > 1.5):"
        echo "other builds shared the 2 cores, so absolute figures are noisy (thread CPU"
        echo "time on a VM also counts time stolen by the host); the ratios, taken in"
        echo "the same run, are the figures to read.**"
    fi
    echo
    cat "$TMP"
    if [ -f "$ROOT/interop-tests/bench/mix/READING.md" ]; then
        echo
        cat "$ROOT/interop-tests/bench/mix/READING.md"
    fi
} >"$OUT"
echo "wrote $OUT" >&2
