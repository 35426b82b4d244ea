#!/usr/bin/env bash
# RTP relay throughput: the gateway's media relay vs rtpengine (userspace,
# --table=-1), same load generator, same run. Not run in CI.
#
#   interop-tests/bench/rtp-relay.sh                # defaults below
#   STREAMS=100 RATES="50000 100000" DURATION=5 interop-tests/bench/rtp-relay.sh
#
# Each stream is one call with an audio m-line; the generator sends 172-byte
# RTP packets both ways (2 flows per stream) at RATE packets/s in total, and
# counts what the far endpoints receive. "cpu%" is the relay process's CPU
# time over the run (100% = one core), "us/pkt" that CPU time per delivered
# packet; "ratio" is delivered pps, ours / rtpengine. On a small shared box
# the generator competes with the relay for CPU: read the highest rates as
# "what the box could push", us/pkt as the efficiency figure. Needs: cargo, python3, rtpengine
# (Debian package rtpengine-daemon). Builds the examples in release mode.
set -euo pipefail

STREAMS=${STREAMS:-50}
RATES=${RATES:-"20000 50000 100000 150000 200000"}
DURATION=${DURATION:-5}
RELAY_THREADS=${RELAY_THREADS:-2}
A_BASE=25000          # load-generator endpoints, below the ephemeral range
B_BASE=27000
NG=127.0.0.1:2223

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/interop-tests/bench"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if (( STREAMS > 1000 )); then echo "STREAMS must be <= 1000" >&2; exit 2; fi
command -v rtpengine >/dev/null || { echo "rtpengine not installed (apt-get install rtpengine-daemon)" >&2; exit 2; }

echo "building relay_bench and rtp_load (release)..." >&2
(cd "$ROOT" && cargo build -q --release -p gateway-media --example relay_bench --example rtp_load)
BIN="$ROOT/target/release/examples"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# load NAME PID STREAMS_FILE RATE: one generator run, one result line.
load() {
    local name=$1 pid=$2 file=$3 rate=$4 t0 t1 out
    t0=$(cpu_ticks "$pid")
    out=$("$BIN/rtp_load" --streams-file "$file" --rate "$rate" --duration "$DURATION")
    t1=$(cpu_ticks "$pid")
    python3 - "$name" "$rate" "$out" "$t0" "$t1" "$CLK_TCK" "$DURATION" >>"$WORK/results" <<'PY'
import json, sys
name, rate, out, t0, t1, tck, dur = sys.argv[1:]
r = json.loads(out)
cpu = 100.0 * (int(t1) - int(t0)) / int(tck) / float(dur)
print(name, rate, int(r["offered_pps"]), int(r["delivered_pps"]), r["loss_pct"], r["misrouted"], round(cpu))
PY
    tail -1 "$WORK/results" >&2
}

# Each rate gets a freshly started relay: once overloaded, rtpengine's
# userspace path kept dropping most streams at lower rates afterwards
# ("Too many packets in UDP receive queue"), which would skew later steps.
bench_rtpengine() {
    local rate=$1 pid
    rtpengine --foreground --log-stderr --table=-1 --interface=127.0.0.1 --listen-ng=$NG \
        --port-min=30000 --port-max=30999 --config-file=none --log-level=3 \
        >>"$WORK/rtpengine.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 50); do
        python3 "$HERE/rtp/ng_driver.py" ping --ng $NG 2>/dev/null && break
        sleep 0.2
    done
    python3 "$HERE/rtp/ng_driver.py" setup --ng $NG --streams "$STREAMS" --a-base $A_BASE --b-base $B_BASE >"$WORK/rtpengine.json"
    load rtpengine "$pid" "$WORK/rtpengine.json" "$rate"
    python3 "$HERE/rtp/ng_driver.py" teardown --ng $NG --streams "$STREAMS" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

bench_ours() {
    local rate=$1 pid
    rm -f "$WORK/hold" "$WORK/ours.json"
    mkfifo "$WORK/hold"
    "$BIN/relay_bench" --sessions "$STREAMS" --ports 20000-24999 --a-base $A_BASE --b-base $B_BASE \
        --threads "$RELAY_THREADS" --duration 3600 <"$WORK/hold" >"$WORK/ours.json" 2>>"$WORK/ours.log" &
    pid=$!
    PIDS+=("$pid")
    exec 3>"$WORK/hold"     # relay_bench runs until its stdin closes
    for _ in $(seq 100); do [[ -s "$WORK/ours.json" ]] && break; sleep 0.1; done
    load gateway-media "$pid" "$WORK/ours.json" "$rate"
    exec 3>&-
    wait "$pid" 2>/dev/null || true
}

for rate in $RATES; do
    bench_rtpengine "$rate"
    bench_ours "$rate"
done

# --- report -------------------------------------------------------------------
python3 - "$WORK/results" "$STREAMS" "$DURATION" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for name, rate, off, dlv, loss, mis, cpu in rows:
    by.setdefault(int(rate), {})[name] = (int(off), int(dlv), float(loss), int(mis), int(cpu))
print(f"\nRTP relay benchmark: {sys.argv[2]} streams x 2 directions, 172-byte packets, {sys.argv[3]} s per rate")
print(f"{'target pps':>10} | {'rtpengine pps':>13} {'loss%':>6} {'cpu%':>5} {'us/pkt':>6} | {'ours pps':>9} {'loss%':>6} {'cpu%':>5} {'us/pkt':>6} | {'ratio':>5}")
def us(x):
    # relay CPU time per delivered packet, in microseconds
    return f"{x[4] * 1e4 / x[1]:.2f}" if x[1] else "-"
for rate in sorted(by):
    r, o = by[rate].get("rtpengine"), by[rate].get("gateway-media")
    if not (r and o):
        continue
    ratio = o[1] / r[1] if r[1] else float("nan")
    print(f"{rate:>10} | {r[1]:>13} {r[2]:>6} {r[4]:>5} {us(r):>6} | {o[1]:>9} {o[2]:>6} {o[4]:>5} {us(o):>6} | {ratio:>5.2f}")
    if r[3] or o[3]:
        print(f"   misrouted packets: rtpengine {r[3]}, ours {o[3]}")
PY
