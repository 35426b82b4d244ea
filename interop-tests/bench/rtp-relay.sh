#!/usr/bin/env bash
# RTP relay throughput: the gateway's media relay vs rtpengine (userspace,
# --table=-1), same load generator, same run. Not run in CI.
#
#   interop-tests/bench/rtp-relay.sh                # defaults below
#   STREAMS=100 RATES="50000 100000" DURATION=5 REPEAT=3 interop-tests/bench/rtp-relay.sh
#   MODES=srtp interop-tests/bench/rtp-relay.sh     # SRTP<->RTP only
#   VARIANTS="--threads 2;--threads 2 --in-runtime"  # several of ours, interleaved
#
# Each stream is one call with an audio m-line; the generator sends 172-byte
# RTP packets both ways (2 flows per stream) at RATE packets/s in total, and
# counts what the far endpoints receive. Modes: "plain" relays RTP<->RTP;
# "srtp" makes endpoint A speak SDES SRTP (AES_CM_128_HMAC_SHA1_80) and B
# plain RTP, so each relay decrypts one direction and encrypts the other
# (rtpengine set up over ng with transport-protocol RTP/AVP toward B, ours
# with the B2BUA's SRTP transforms); the generator authenticates what A
# receives. "cpu%" is the relay process's CPU time over the run (100% = one
# core), "us/pkt" that CPU time per delivered packet. Every (rate, mode) runs
# REPEAT times, relays and generator interleaved, each with a freshly
# started relay; the summary gives medians (and the best us/pkt of the runs,
# the least disturbed by whatever else the box was doing) and the ratios,
# of the medians:
#   cpu x     rtpengine us/pkt / ours (how many times cheaper ours is),
#   pps x     delivered pps, ours / rtpengine,
#   srtp/plain  (srtp mode) the relay's packet rate per CPU with SRTP over the
#             same relay's plain rate (plain us/pkt / srtp us/pkt).
# On a small shared box the generator competes with the relays for CPU: read
# the highest rates as "what the box could push", us/pkt as the efficiency
# figure. NICE=-10 runs relays and generator at that niceness (root), which
# keeps other work on the box from skewing them. VARIANTS lists relay_bench
# settings separated by ';' (default: --threads RELAY_THREADS); each runs
# after rtpengine in every repeat and gets its own table. Needs: cargo, python3,
# rtpengine (Debian package rtpengine-daemon). Builds the examples in release
# mode.
set -euo pipefail

STREAMS=${STREAMS:-50}
RATES=${RATES:-"20000 50000 100000 150000 200000"}
MODES=${MODES:-"plain srtp"}
DURATION=${DURATION:-5}
REPEAT=${REPEAT:-3}
RELAY_THREADS=${RELAY_THREADS:-2}
NICE=${NICE:-0}
VARIANTS=${VARIANTS:-"--threads $RELAY_THREADS"}
SUITE=AES_CM_128_HMAC_SHA1_80
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
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples"
RUN=(nice -n "$NICE")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# load NAME MODE PID STREAMS_FILE RATE: one generator run, one result line.
load() {
    local name=$1 mode=$2 pid=$3 file=$4 rate=$5 t0 t1 out load_avg
    load_avg=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(cpu_ticks "$pid")
    out=$("${RUN[@]}" "$BIN/rtp_load" --streams-file "$file" --rate "$rate" --duration "$DURATION")
    t1=$(cpu_ticks "$pid")
    python3 - "$name" "$mode" "$rate" "$out" "$t0" "$t1" "$CLK_TCK" "$DURATION" "$load_avg" >>"$WORK/results" <<'PY'
import json, sys
name, mode, rate, out, t0, t1, tck, dur, la = sys.argv[1:]
r = json.loads(out)
cpu = 100.0 * (int(t1) - int(t0)) / int(tck) / float(dur)
print(name, mode, rate, int(r["offered_pps"]), int(r["delivered_pps"]), r["loss_pct"], r["misrouted"], round(cpu), la)
PY
    tail -1 "$WORK/results" >&2
}

# Each run gets a freshly started relay: once overloaded, rtpengine's
# userspace path kept dropping most streams at lower rates afterwards
# ("Too many packets in UDP receive queue"), which would skew later steps.
bench_rtpengine() {
    local rate=$1 mode=$2 pid srtp=()
    [[ $mode == srtp ]] && srtp=(--srtp "$SUITE")
    "${RUN[@]}" rtpengine --foreground --log-stderr --table=-1 --interface=127.0.0.1 --listen-ng=$NG \
        --port-min=30000 --port-max=$((30000 + 8 * STREAMS)) --config-file=none --log-level=3 \
        >>"$WORK/rtpengine.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 50); do
        python3 "$HERE/rtp/ng_driver.py" ping --ng $NG 2>/dev/null && break
        sleep 0.2
    done
    python3 "$HERE/rtp/ng_driver.py" setup --ng $NG --streams "$STREAMS" --a-base $A_BASE --b-base $B_BASE \
        "${srtp[@]}" >"$WORK/rtpengine.json"
    load rtpengine "$mode" "$pid" "$WORK/rtpengine.json" "$rate"
    python3 "$HERE/rtp/ng_driver.py" teardown --ng $NG --streams "$STREAMS" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

# bench_ours RATE MODE NAME ARGS...: one run of relay_bench with ARGS.
bench_ours() {
    local rate=$1 mode=$2 name=$3 pid srtp=()
    shift 3
    [[ $mode == srtp ]] && srtp=(--srtp "$SUITE")
    rm -f "$WORK/hold" "$WORK/ours.json"
    mkfifo "$WORK/hold"
    "${RUN[@]}" "$BIN/relay_bench" --sessions "$STREAMS" --ports 20000-24999 --a-base $A_BASE --b-base $B_BASE \
        "$@" --duration 3600 "${srtp[@]}" \
        <"$WORK/hold" >"$WORK/ours.json" 2>>"$WORK/ours.log" &
    pid=$!
    PIDS+=("$pid")
    exec 3>"$WORK/hold"     # relay_bench runs until its stdin closes
    for _ in $(seq 100); do [[ -s "$WORK/ours.json" ]] && break; sleep 0.1; done
    load "$name" "$mode" "$pid" "$WORK/ours.json" "$rate"
    exec 3>&-
    wait "$pid" 2>/dev/null || true
}

for _ in $(seq "$REPEAT"); do
    for rate in $RATES; do
        for mode in $MODES; do
            bench_rtpengine "$rate" "$mode"
            IFS=';' read -ra variants <<<"$VARIANTS"
            for i in "${!variants[@]}"; do
                read -ra args <<<"${variants[$i]}"
                bench_ours "$rate" "$mode" "gateway-media#$i" "${args[@]}"
            done
        done
    done
done

# --- report -------------------------------------------------------------------
python3 - "$WORK/results" "$STREAMS" "$DURATION" "$REPEAT" "$VARIANTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
runs = {}
for name, mode, rate, off, dlv, loss, mis, cpu, la in rows:
    runs.setdefault((mode, int(rate), name), []).append(
        dict(dlv=int(dlv), loss=float(loss), mis=int(mis), cpu=int(cpu), la=float(la)))
med = statistics.median
def us(r):
    # relay CPU time per delivered packet, in microseconds
    return r["cpu"] * 1e4 / r["dlv"] if r["dlv"] else float("inf")
def summary(mode, rate, name):
    rs = runs.get((mode, rate, name))
    if not rs:
        return None
    return dict(dlv=med(r["dlv"] for r in rs), loss=med(r["loss"] for r in rs),
                cpu=med(r["cpu"] for r in rs), us=med(us(r) for r in rs), best=min(us(r) for r in rs),
                mis=sum(r["mis"] for r in rs), la=med(r["la"] for r in rs), n=len(rs))
print(f"\nRTP relay benchmark: {sys.argv[2]} streams x 2 directions, 172-byte packets, "
      f"{sys.argv[3]} s per run, medians of {sys.argv[4]} runs")
variants = sys.argv[5].split(";")
for (mode, v) in [(m, v) for v in range(len(variants)) for m in ("plain", "srtp")]:
    ours = f"gateway-media#{v}"
    rates = sorted({k[1] for k in runs if k[0] == mode})
    if not rates:
        continue
    print(f"\n{mode}, ours with: {variants[v].strip()}")
    head = f"{'target pps':>10} {'load':>5} | {'rtpengine pps':>13} {'loss%':>6} {'cpu%':>5} {'us/pkt':>6} {'best':>5} | {'ours pps':>9} {'loss%':>6} {'cpu%':>5} {'us/pkt':>6} {'best':>5} | {'cpu x':>5} {'pps x':>5}"
    if mode == "srtp":
        head += f" | {'srtp/plain ours':>15} {'rtpengine':>9}"
    print(head)
    for rate in rates:
        r, o = summary(mode, rate, "rtpengine"), summary(mode, rate, ours)
        if not (r and o):
            continue
        line = (f"{rate:>10} {max(r['la'], o['la']):>5.1f} | {r['dlv']:>13.0f} {r['loss']:>6.2f} {r['cpu']:>5.0f} {r['us']:>6.2f} {r['best']:>5.2f} | "
                f"{o['dlv']:>9.0f} {o['loss']:>6.2f} {o['cpu']:>5.0f} {o['us']:>6.2f} {o['best']:>5.2f} | "
                f"{r['us'] / o['us']:>5.2f} {o['dlv'] / r['dlv'] if r['dlv'] else float('nan'):>5.2f}")
        if mode == "srtp":
            rp, op = summary("plain", rate, "rtpengine"), summary("plain", rate, ours)
            ratio = lambda p, s: f"{p['us'] / s['us']:.2f}" if p else "-"
            line += f" | {ratio(op, o):>15} {ratio(rp, r):>9}"
        print(line)
        if r["mis"] or o["mis"]:
            print(f"   misrouted/unauthenticated packets: rtpengine {r['mis']}, ours {o['mis']}")
print("\nAll runs (name mode rate offered delivered loss% misrouted cpu% load):")
for row in rows:
    print("  " + " ".join(row))
PY
