#!/usr/bin/env bash
# Routing at city scale (issue 10), three parts in one run. NOT part of CI.
#
#   interop-tests/bench/routing-bench.sh
#   interop-tests/bench/routing-bench.sh --seconds 30 --rate 20 --swaps 4 --no-build
#   interop-tests/bench/routing-bench.sh --only swap        # just the load test
#
# 1. `cargo bench -p gateway-dialplan --bench route`: parse time of a generated
#    dialplan of 100 000 endpoints and 100 000 rules (2025 units), then routing
#    decisions for a fixed mix of targets: p50/p90/p99/max against the target
#    p99 <= 10 us, beside a plain HashMap lookup as the floor. Exits non-zero
#    only on a wrong decision.
# 2. `cargo run --release -p gateway-store --example import_bench`: import of
#    that dialplan into a fresh SQLite file, a no-op re-import, a changed
#    version, and the load back.
# 3. Snapshot swap under load: the release gateway runs the same generated
#    dialplan (plus rule `sipp-load`: 5000 -> trunk sipp-uas = SIPp's uas on
#    127.0.0.1:5070); SIPp's uac calls 5000 at a steady rate (calls last
#    CALL_MS) while the script rewrites the dialplan file with another variant
#    (a caller-ID changes, so it is a new snapshot that routes the same way)
#    and sends SIGHUP, SWAPS times. Reported: calls attempted / successful /
#    failed (target: zero failed) and the reloads the gateway logged.
#
# Results are written to interop-tests/bench/routing/RESULTS.md. The machine
# note goes with them: on 2 cores shared with builds every figure is noisy.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/interop-tests/bench/routing/RESULTS.md"
SECONDS_LOAD=30
RATE=20
CALL_MS=1000
SWAPS=4
ENDPOINTS=100000
RULES=100000
BUILD=1
ONLY=all

while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_LOAD=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --call-ms) CALL_MS=$2; shift 2 ;;
        --swaps) SWAPS=$2; shift 2 ;;
        --endpoints) ENDPOINTS=$2; shift 2 ;;
        --rules) RULES=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --only) ONLY=$2; shift 2 ;;
        -h|--help) sed -n 2,25p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

for tool in sipp python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install sip-tester python3 curl)" >&2; exit 1; }
done

UAS_PORT=5070          # the generated dialplan's trunk sipp-uas
GW_SIP_PORT=15262
GW_ADMIN_PORT=15280
UAC_PORT=15300
WORK=$(mktemp -d /tmp/routing-bench.XXXXXX)
PIDS=()
mkdir -p "$(dirname "$OUT")"

cleanup() {
    local pid i
    for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
        pid=${PIDS[$i]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    echo "logs kept in $WORK" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load1() { awk '{print $1}' /proc/loadavg; }
LOAD_BEFORE=$(load1)

# ------------------------------------------------------ 1. routing decisions
if [ "$ONLY" = all ] || [ "$ONLY" = route ]; then
    echo "== 1. routing decisions (cargo bench, release)" >&2
    (cd "$ROOT" && cargo bench -q -p gateway-dialplan --bench route -- \
        --endpoints "$ENDPOINTS" --rules "$RULES") | tee "$WORK/route.txt"
fi

# ------------------------------------------------------------ 2. store import
if [ "$ONLY" = all ] || [ "$ONLY" = import ]; then
    echo "== 2. store import (SQLite, release)" >&2
    (cd "$ROOT" && cargo run -q --release -p gateway-store --example import_bench -- \
        --endpoints "$ENDPOINTS" --rules "$RULES") | tee "$WORK/import.txt"
fi

# ------------------------------------------------- 3. swap under SIPp load
if [ "$ONLY" = all ] || [ "$ONLY" = swap ]; then
    echo "== 3. snapshot swap under SIPp load" >&2
    emit() { # emit FILE VARIANT: the generated dialplan, written whole then renamed
        (cd "$ROOT" && cargo bench -q -p gateway-dialplan --bench route -- \
            --endpoints "$ENDPOINTS" --rules "$RULES" --emit "$1.tmp" --variant "$2") 2>/dev/null
        mv "$1.tmp" "$1"
    }
    if [ "$BUILD" = 1 ]; then
        echo "building the gateway (release)" >&2
        (cd "$ROOT" && cargo build -q --release -p gateway)
    fi
    BIN=${GATEWAY_BIN:-$ROOT/target/release/gateway}
    DP="$WORK/city.toml"
    emit "$DP" 0

    (cd "$WORK" && exec sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -nostdin \
        -timeout $(( SECONDS_LOAD * 4 + 600 )) >"$WORK/uas.log" 2>&1) &
    PIDS+=("$!")

    mkdir -p "$WORK/gw"
    T_START=$(date +%s.%N)
    RUST_LOG=${RUST_LOG:-info} "$BIN" run --sip-listen "127.0.0.1:$GW_SIP_PORT" \
        --admin-listen "127.0.0.1:$GW_ADMIN_PORT" --rtp-ports 40000-49999 \
        --db "sqlite://$WORK/gw/gw.db" --data-dir "$WORK/gw" --dialplan "$DP" \
        >"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    # Start-up imports the dialplan and adopts its endpoints into the admin
    # registry (one transaction of ~10 queries per endpoint): over 10 minutes
    # for 100 000 endpoints on the shared machine, so the wait is long.
    for _ in $(seq 3600); do
        kill -0 "$GW_PID" 2>/dev/null || { tail -30 "$WORK/gateway.log" >&2; echo "gateway exited" >&2; exit 1; }
        curl -sf "http://127.0.0.1:$GW_ADMIN_PORT/healthz" >/dev/null 2>&1 && break
        sleep 0.5
    done
    curl -sf "http://127.0.0.1:$GW_ADMIN_PORT/healthz" >/dev/null || { echo "gateway not healthy" >&2; exit 1; }
    STARTUP=$(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$T_START")
    echo "gateway ready after ${STARTUP}s" >&2

    # The variants are generated before the load, so the swaps cost the
    # gateway only its own reload.
    for i in $(seq 1 "$SWAPS"); do emit "$WORK/city-$i.toml" "$i"; done

    CALLS=$(( RATE * SECONDS_LOAD ))
    (cd "$WORK" && exec timeout -k 5 $(( SECONDS_LOAD * 4 + 120 )) sipp -sn uac "127.0.0.1:$GW_SIP_PORT" \
        -s 5000 -i 127.0.0.1 -p $UAC_PORT -r "$RATE" -m "$CALLS" -d "$CALL_MS" -nostdin \
        -timeout $(( SECONDS_LOAD * 4 + 100 )) -trace_stat -stf "$WORK/uac.csv" -fd 1 \
        -trace_err -error_file "$WORK/uac.errors" >"$WORK/uac.log" 2>&1) &
    UAC_PID=$!
    PIDS+=("$UAC_PID")

    # Swaps spread over the load: rewrite the file, then SIGHUP.
    : >"$WORK/swaps.txt"
    STEP=$(python3 -c "print(${SECONDS_LOAD}/(${SWAPS}+1))")
    for i in $(seq 1 "$SWAPS"); do
        sleep "$STEP"
        kill -0 "$UAC_PID" 2>/dev/null || break
        cp "$WORK/city-$i.toml" "$DP.tmp" && mv "$DP.tmp" "$DP"
        kill -HUP "$GW_PID"
        echo "$(date -u +%H:%M:%S.%N | cut -c1-12) swap $i (variant $i)" | tee -a "$WORK/swaps.txt" >&2
    done
    RC=0
    wait "$UAC_PID" || RC=$?
    # Let the last reload finish before counting.
    for _ in $(seq 240); do
        [ "$(grep -c 'dialplan reloaded' "$WORK/gateway.log" || true)" -ge "$SWAPS" ] && break
        grep -q 'dialplan reload failed' "$WORK/gateway.log" && break
        sleep 0.5
    done
    RELOADS=$(grep -c 'dialplan reloaded' "$WORK/gateway.log" || true)
    RELOAD_FAILS=$(grep -c 'dialplan reload failed' "$WORK/gateway.log" || true)
    # Let the last reload finish adopting before reading the log.
    for _ in $(seq 240); do
        [ "$(grep -c 'dialplan endpoints adopted' "$WORK/gateway.log" || true)" -gt "$RELOADS" ] && break
        sleep 0.5
    done
    python3 - "$WORK/uac.csv" "$CALLS" "$RC" "$SWAPS" "$RELOADS" "$RELOAD_FAILS" "$RATE" \
        "$SECONDS_LOAD" "$CALL_MS" "$STARTUP" "$WORK/gateway.log" "$WORK/swaps.txt" <<'EOF' | tee "$WORK/swap.txt"
import csv, re, sys
path, calls, rc, swaps, reloads, fails, rate, secs_, call_ms, startup, log, swaps_file = sys.argv[1:]
try:
    rows = list(csv.reader(open(path), delimiter=";"))
    row = dict(zip(rows[0], rows[-1]))
    total = int(row["TotalCallCreated"])
    ok, failed = int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])
    retrans = int(row.get("Retransmissions(C)", "0"))
except Exception as e:
    total, ok, failed, retrans = 0, 0, int(calls), 0
    print(f"(could not read SIPp statistics: {e})")
print(f"swap under load: {rate} calls/s for {secs_} s, calls of {call_ms} ms, {swaps} SIGHUP swaps")
print(f"  gateway start-up with the dialplan (import + adopt): {startup} s")
print(f"  calls attempted {total}, successful {ok}, failed {failed} (target 0), SIPp retransmissions {retrans}, uac exit {rc}")
print(f"  reloads logged {reloads} of {swaps}, reload failures {fails}")
# Each reload runs in the engine's loop (parse, store import, registry
# adoption): SIP waits meanwhile. From each SIGHUP to the adoption's log
# line, which comes just before the new snapshot is set.
sighups = [l.split()[0] for l in open(swaps_file) if " swap " in l]
done = []
for line in open(log, encoding="utf-8", errors="replace"):
    m = re.match(r"\d{4}-\d\d-\d\dT([\d:.]+)Z.*dialplan endpoints adopted", line)
    if m:
        done.append(m.group(1)[:12])
done = done[1:]  # the first is the start-up's
def secs(t):
    h, m, s = t.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
for n, (h, d) in enumerate(zip(sighups, done), 1):
    print(f"  swap {n}: SIGHUP {h}, new snapshot after {secs(d) - secs(h):.1f} s (built off the engine loop, which kept serving)")
EOF
fi

LOAD_AFTER=$(load1)
{
    echo "# routing-bench.sh results"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')),"
    echo "release build, \`interop-tests/bench/routing-bench.sh\` with ENDPOINTS=$ENDPOINTS RULES=$RULES"
    echo "SECONDS=$SECONDS_LOAD RATE=$RATE CALL_MS=$CALL_MS SWAPS=$SWAPS."
    echo
    echo "**Machine note: 2 cores shared with other builds (1-minute load average $LOAD_BEFORE"
    echo "before, $LOAD_AFTER after). Absolute times are noisy; read them as upper bounds.**"
    for part in route import swap; do
        if [ -s "$WORK/$part.txt" ]; then
            echo
            echo '```'
            cat "$WORK/$part.txt"
            echo '```'
        fi
    done
} >"$OUT.new"
# A partial run (--only) keeps the other parts of the previous results.
if [ "$ONLY" = all ] || [ ! -s "$OUT" ]; then mv "$OUT.new" "$OUT"; else mv "$OUT.new" "$OUT.$ONLY"; fi
echo "wrote $OUT" >&2
