#!/usr/bin/env bash
# H.323 benchmarks of the gateway (issue 6). Heavy; NOT part of CI.
#
#   interop-tests/bench/h323-bench.sh                      # calls and RAS
#   interop-tests/bench/h323-bench.sh --only calls --rates "100 200 400" --seconds 10
#   interop-tests/bench/h323-bench.sh --only ras --ras-sizes "100 5000" --ras-seconds 10
#   interop-tests/bench/h323-bench.sh --no-build --targets "sip h323 h323-ras"
#
# 1. Calls per second through the gateway, with the same gateway binary,
#    dialplan and SIPp uas in one run:
#      sip       SIPp uac (built-in scenario, -d 0) -> gateway -> SIPp uas
#      h323      h323_call_load (Rust, gateway-h323's sans-IO call leg:
#                Setup with Fast Start, tunnelled H.245, ReleaseComplete at
#                once after Connect) -> gateway -> SIPp uas
#      h323-ras  the same, placed by registered endpoints: ARQ/ACF before
#                and DRQ/DCF after every call (--call-endpoints endpoints,
#                1000: the gatekeeper admits 16 calls per endpoint at once)
#    Each target climbs the rate ladder as interop-tests/bench/sip-cps.sh
#    does (calls = rate x seconds, a fresh gateway per target); a step
#    counts when every call completed (caller side), the uas completed as
#    many (its own statistics), and at least 90 % of the offered rate was
#    achieved. The highest counted rate is the target's figure; the ratios
#    h323/sip are printed. The uas answers without 180 (as sip-cps.sh).
#    The gateway's CPU time per call (from /proc, user + system) is printed
#    per step and per target: on a shared machine it is steadier than the
#    rates. After each ladder the gateway's /metrics must show no call,
#    media session or SIP transaction left, and its RSS is printed.
# 2. RAS registrations per second against our gatekeeper (ras_load: full
#    RRQ of every endpoint, --ras-seconds of full re-registrations, of
#    lightweight keep-alive RRQs, then URQ of all), for each size of
#    --ras-sizes (that many H.323 endpoints in the dialplan, all of them
#    registering), beside GnuGk with an equivalent configuration when
#    `gnugk` is installed (Debian: not in bookworm; `apt-cache policy gnugk`
#    says whether it is there).
#
# Every load generator and SIPp shares the 2 cores with the gateway:
# compare figures from one run only, and read the load average printed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ONLY="calls ras"
TARGETS="sip h323 h323-ras"
RATES="100 200 300 400 600 800 1000 1500 2000"
SECONDS_PER_STEP=10
BUILD=1
RAS_SIZES="100 1000 5000"
CALL_ENDPOINTS=1000
RAS_SECONDS=10
RAS_WINDOW=32
RAS_SOCKETS=16

while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY=$2; shift 2 ;;
        --targets) TARGETS=$2; shift 2 ;;
        --rates) RATES=$2; shift 2 ;;
        --seconds) SECONDS_PER_STEP=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --ras-sizes) RAS_SIZES=$2; shift 2 ;;
        --call-endpoints) CALL_ENDPOINTS=$2; shift 2 ;;
        --ras-seconds) RAS_SECONDS=$2; shift 2 ;;
        --ras-window) RAS_WINDOW=$2; shift 2 ;;
        --ras-sockets) RAS_SOCKETS=$2; shift 2 ;;
        -h|--help) sed -n 2,40p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

for tool in sipp python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install sip-tester python3 curl)" >&2; exit 1; }
done

UAS_PORT=5070          # the loopback trunk of dialplans/loopback.toml
GW_SIP_PORT=15062
GW_ADMIN_PORT=15080
GW_RAS_PORT=15719
GW_CS_PORT=15720
GK_RAS_PORT=15729      # GnuGk's RAS port
GK_CS_PORT=15730
UAC_PORT=15100
TARGET_NUMBER=5000     # any number goes out on the trunk

WORK=$(mktemp -d /tmp/h323-bench.XXXXXX)
PIDS=()
GW_PID=
RESULTS_TXT=$WORK/summary.txt

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
    echo "logs kept in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

port_free() {
    python3 - "$1" <<'EOF'
import socket, sys
p = int(sys.argv[1])
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    if kind == socket.SOCK_STREAM:
        # as the listeners do: a TIME_WAIT left by the last run is no owner
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
}

for p in $UAS_PORT $GW_SIP_PORT $GW_ADMIN_PORT $GW_RAS_PORT $GW_CS_PORT $UAC_PORT; do
    port_free "$p" || { echo "127.0.0.1:$p is busy; the benchmark needs it" >&2; exit 1; }
done

say() { echo "$@" | tee -a "$RESULTS_TXT"; }

if [ "$BUILD" = 1 ]; then
    echo "building the gateway and the load generators (release)"
    (cd "$ROOT" && cargo build --release -p gateway && cargo build --release -p gateway-h323 --examples)
fi
GW_BIN=${GATEWAY_BIN:-$ROOT/target/release/gateway}
CALL_LOAD=$ROOT/target/release/examples/h323_call_load
RAS_LOAD=$ROOT/target/release/examples/ras_load
for b in "$GW_BIN" "$CALL_LOAD" "$RAS_LOAD"; do
    [ -x "$b" ] || { echo "missing $b (run without --no-build)" >&2; exit 1; }
done

# ------------------------------------------------------------- dialplan
# dialplans/loopback.toml (the trunk to 127.0.0.1:5070, anonymous callers
# from 127.0.0.1 are that trunk) plus the load's H.323 endpoints: h323-ID
# load-NNNNN, number 79NNNNN, vetted, no password.
make_dialplan() {
    python3 - "$ROOT/dialplans/loopback.toml" "$2" "$1" <<'EOF'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = [open(src, encoding="utf-8").read(), "\n# --- h323-bench.sh: the load generators' H.323 endpoints\n"]
for i in range(n):
    out.append(f'[[endpoint]]\nid = "load-{i:05}"\nunit = "01"\nprotocol = "h323"\n'
               f'numbers = ["{7900000 + i}"]\nh323_id = ["load-{i:05}"]\nvetted = true\n\n')
open(dst, "w", encoding="utf-8").write("".join(out))
EOF
}

start_gateway() {
    local name=$1 dialplan=$2
    mkdir -p "$WORK/gw-$name"
    "$GW_BIN" run --sip-listen "127.0.0.1:$GW_SIP_PORT" --admin-listen "127.0.0.1:$GW_ADMIN_PORT" \
        --rtp-ports 40000-59999 --db "sqlite://$WORK/gw-$name/gw.db" --data-dir "$WORK/gw-$name" \
        --h323-listen 127.0.0.1 --h323-ras-port "$GW_RAS_PORT" --h323-cs-port "$GW_CS_PORT" \
        --dialplan "$dialplan" >"$WORK/gateway-$name.log" 2>&1 &
    GW_PID=$!
    PIDS+=("$GW_PID")
    # A large dialplan takes a while: its endpoints are adopted into the
    # admin registry before the listeners start (about 8 ms per endpoint).
    python3 - "$GW_ADMIN_PORT" "$GW_PID" "$WORK/gateway-$name.log" <<'EOF' || { tail -50 "$WORK/gateway-$name.log" >&2; exit 1; }
import os, sys, time, urllib.request
port, pid, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.monotonic()
while time.monotonic() < t0 + 600:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("gateway exited during start")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            if r.status == 200 and b"gatekeeper and call signalling listening" in open(log, "rb").read():
                print(f"   gateway up in {time.monotonic() - t0:.1f} s")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("gateway (with H.323) not up within 600 s")
EOF
    # what the start left running (store writes) must not count
    sleep 3
}

CLK_TCK=$(getconf CLK_TCK)
# CPU time (user + system) the process has used, in milliseconds
cpu_ms() { awk -v t="$CLK_TCK" '{printf "%d", ($14 + $15) * 1000 / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
metric() {
    curl -s "http://127.0.0.1:$GW_ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m {print $2; exit}'
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------- uas scenario
sipp -sd uas > "$WORK/uas_builtin.xml" || true
python3 - "$WORK/uas_builtin.xml" "$WORK/uas_no180.xml" <<'EOF'
import re, sys
xml = open(sys.argv[1], encoding="latin-1").read()
out, n = re.subn(r"<send>\s*<!\[CDATA\[\s*SIP/2.0 180 Ringing.*?\]\]>\s*</send>", "", xml, count=1, flags=re.S)
assert n == 1, "could not find the 180 Ringing send in SIPp's uas scenario"
open(sys.argv[2], "w", encoding="latin-1").write(out)
EOF

# sipp_counts CSV: "successful failed rate" from the last row of -trace_stat
sipp_counts() {
    python3 - "$1" <<'EOF'
import csv, sys
try:
    rows = list(csv.reader(open(sys.argv[1]), delimiter=";"))
    row = dict(zip(rows[0], rows[-1]))
    print(int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"]), f'{float(row.get("CallRate(C)", "0")):.0f}')
except Exception:
    print("0 0 0")
EOF
}

# run_step TARGET RATE -> $WORK/result: "verdict ok failed uas_ok achieved"
run_step() {
    local target=$1 rate=$2 calls tag uas_pid gen_pid rc=0
    calls=$(( rate * SECONDS_PER_STEP ))
    tag="$target-$rate"
    (cd "$WORK" && exec timeout -k 5 $(( SECONDS_PER_STEP * 3 + 70 )) sipp -sf "$WORK/uas_no180.xml" \
        -i 127.0.0.1 -p $UAS_PORT -nostdin -timeout $(( SECONDS_PER_STEP * 3 + 60 )) \
        -trace_stat -stf "$WORK/uas-$tag.csv" -fd 1 >"$WORK/uas-$tag.log" 2>&1) &
    uas_pid=$!
    PIDS+=("$uas_pid")
    sleep 0.5
    local ok failed achieved cpu0 cpu1
    cpu0=$(cpu_ms "$GW_PID")
    case $target in
        sip)
            (cd "$WORK" && exec timeout -k 5 $(( SECONDS_PER_STEP * 3 + 40 )) sipp -sn uac "127.0.0.1:$GW_SIP_PORT" \
                -s $TARGET_NUMBER -i 127.0.0.1 -p $UAC_PORT -r "$rate" -m "$calls" -d 0 -nostdin \
                -timeout $(( SECONDS_PER_STEP * 3 + 30 )) -trace_stat -stf "$WORK/uac-$tag.csv" -fd 1 \
                -trace_err -error_file "$WORK/uac-$tag.errors" >"$WORK/uac-$tag.log" 2>&1) &
            gen_pid=$!
            PIDS+=("$gen_pid")
            wait "$gen_pid" || rc=$?
            read -r ok failed achieved < <(sipp_counts "$WORK/uac-$tag.csv")
            ;;
        h323|h323-ras)
            local ras_args=()
            if [ "$target" = h323-ras ]; then
                ras_args=(--ras "127.0.0.1:$GW_RAS_PORT" --endpoints "$CALL_ENDPOINTS")
            fi
            "$CALL_LOAD" --gateway "127.0.0.1:$GW_CS_PORT" --rate "$rate" --calls "$calls" \
                --target $TARGET_NUMBER --max-seconds $(( SECONDS_PER_STEP * 3 + 30 )) \
                --failures "$WORK/failures-$tag.txt" "${ras_args[@]}" >"$WORK/gen-$tag.log" 2>&1 &
            gen_pid=$!
            PIDS+=("$gen_pid")
            wait "$gen_pid" || rc=$?
            local line
            line=$(grep '^RESULT ' "$WORK/gen-$tag.log" | tail -1)
            ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$line"); ok=${ok:-0}
            failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$line"); failed=${failed:-$calls}
            achieved=$(sed -n 's/.* achieved_rate=\([0-9.]*\).*/\1/p' <<<"$line"); achieved=${achieved:-0}
            achieved=${achieved%.*}
            ;;
    esac
    # The uas hears the BYE last and counts a call only after its 4 s
    # time-wait; its statistics are written every second.
    local uas_ok uas_failed uas_rate
    for _ in $(seq 20); do
        sleep 1
        read -r uas_ok uas_failed uas_rate < <(sipp_counts "$WORK/uas-$tag.csv")
        [ $(( uas_ok + uas_failed )) -ge "$calls" ] && break
    done
    sleep 1
    cpu1=$(cpu_ms "$GW_PID")
    stop_pid "$uas_pid"
    read -r uas_ok uas_failed uas_rate < <(sipp_counts "$WORK/uas-$tag.csv")
    local verdict=fail
    if [ "$rc" = 0 ] && [ "$failed" = 0 ] && [ "$ok" = "$calls" ] && [ "$uas_ok" = "$calls" ] \
        && [ "$uas_failed" = 0 ] && [ $(( achieved * 10 )) -ge $(( rate * 9 )) ]; then
        verdict=ok
    fi
    echo "$verdict $ok $failed $uas_ok $achieved $rc $(( cpu1 - cpu0 ))" >"$WORK/result"
}

declare -A BEST CPU_MS CPU_CALLS
bench_calls() {
    say ""
    say "== calls per second ($(date -u '+%F %T') UTC, ${SECONDS_PER_STEP}s per step, load average $(loadavg))"
    say "$(printf '%-9s %6s %7s %8s %7s %7s %9s %4s %11s %s' target rate calls ok failed uas_ok achieved rc "gw ms/call" verdict)"
    local target rate
    make_dialplan "$CALL_ENDPOINTS" "$WORK/dialplan-calls.toml"
    for target in $TARGETS; do
        start_gateway "$target" "$WORK/dialplan-calls.toml"
        local rss0; rss0=$(rss_kb "$GW_PID")
        BEST[$target]=0; CPU_MS[$target]=0; CPU_CALLS[$target]=0
        for rate in $RATES; do
            run_step "$target" "$rate"
            read -r verdict ok failed uas_ok achieved rc cpu <"$WORK/result"
            # gateway CPU time (user + system) over the step per call made
            local per_call
            per_call=$(python3 -c "import sys; print(f'{int(sys.argv[1]) / max(1, int(sys.argv[2])):.2f}')" "$cpu" "$ok")
            say "$(printf '%-9s %6s %7s %8s %7s %7s %9s %4s %11s %s' "$target" "$rate" $(( rate * SECONDS_PER_STEP )) \
                "$ok" "$failed" "$uas_ok" "$achieved" "$rc" "$per_call" "$verdict")"
            if [ "$verdict" = ok ]; then
                BEST[$target]=$rate
                CPU_MS[$target]=$(( CPU_MS[$target] + cpu ))
                CPU_CALLS[$target]=$(( CPU_CALLS[$target] + ok ))
            fi
            [ "$verdict" = ok ] || break
            sleep 2
        done
        # every call is over by now: nothing may be left behind (SIP
        # transactions linger 32 s in their wait states, as RFC 3261 says)
        sleep 35
        local active media tx rss1
        active=$(metric gateway_calls_active); media=$(metric gateway_media_sessions_active)
        tx=$(metric gateway_sip_transactions_active); rss1=$(rss_kb "$GW_PID")
        say "   $target after the ladder: calls_active=${active:-?} media_sessions_active=${media:-?} sip_transactions_active=${tx:-?} RSS ${rss0} -> ${rss1} kB; load average $(loadavg)"
        if [ "${active:-0}" != 0 ] || [ "${media:-0}" != 0 ]; then
            say "   WARNING: $target left calls or media sessions behind"
        fi
        stop_pid "$GW_PID"
    done
    say ""
    say "highest rate with every call complete (caller and uas), ${SECONDS_PER_STEP}s per step:"
    for target in $TARGETS; do
        say "$(printf '  %-9s %6s CPS' "$target" "${BEST[$target]}")"
    done
    if [ "${BEST[sip]:-0}" != 0 ]; then
        for target in $TARGETS; do
            [ "$target" = sip ] && continue
            say "$(python3 -c "import sys; print(f'  ratio {sys.argv[1]}/sip: {int(sys.argv[2]) / int(sys.argv[3]):.2f}')" \
                "$target" "${BEST[$target]}" "${BEST[sip]}")"
        done
    fi
    say "gateway CPU time per call over the counted steps (less noisy than the rates on a shared machine):"
    for target in $TARGETS; do
        say "$(python3 -c "import sys; ms, n = int(sys.argv[2]), int(sys.argv[3]); print(f'  {sys.argv[1]:<9} {ms / n:6.2f} ms' if n else f'  {sys.argv[1]:<9}    n/a')" \
            "$target" "${CPU_MS[$target]}" "${CPU_CALLS[$target]}")"
    done
    if [ "${CPU_CALLS[sip]:-0}" != 0 ]; then
        for target in $TARGETS; do
            [ "$target" = sip ] || [ "${CPU_CALLS[$target]:-0}" = 0 ] && continue
            say "$(python3 -c "import sys; a = int(sys.argv[2]) / int(sys.argv[3]); b = int(sys.argv[4]) / int(sys.argv[5]); print(f'  calls per CPU-second, {sys.argv[1]}/sip: {b / a:.2f}')" \
                "$target" "${CPU_MS[$target]}" "${CPU_CALLS[$target]}" "${CPU_MS[sip]}" "${CPU_CALLS[sip]}")"
        done
    fi
}

# --------------------------------------------------------------- RAS
start_gnugk() {
    # Equivalent to ours: gatekeeper-routed, every alias admitted (ours
    # admits the dialplan's load-NNNNN endpoints), TTL granted as asked,
    # RAS and call signalling on loopback, status port off, no log file.
    cat >"$WORK/gnugk.ini" <<EOF
[Gatekeeper::Main]
Name=gnugk-bench
Home=127.0.0.1
UseBroadcastListener=0
UseMulticastListener=0
UnicastRasPort=$GK_RAS_PORT
StatusPort=0
TimeToLive=300
TotalBandwidth=-1

[RoutedMode]
GKRouted=1
H245Routed=0
CallSignalPort=$GK_CS_PORT
AcceptUnregisteredCalls=0

[RasSrv::RRQFeatures]
AcceptEndpointIdentifier=1
AcceptGatewayPrefixes=1
OverwriteEPOnSameAddress=1

[Gatekeeper::Auth]
default=allow
EOF
    gnugk -c "$WORK/gnugk.ini" -i 127.0.0.1 >"$WORK/gnugk.log" 2>&1 &
    GK_PID=$!
    PIDS+=("$GK_PID")
    sleep 2
    kill -0 "$GK_PID" || { echo "gnugk exited:" >&2; tail -20 "$WORK/gnugk.log" >&2; return 1; }
}

ras_table() {
    # the RESULT lines of one ras_load run as table rows
    grep '^RESULT ' "$1" | sed 's/^RESULT //' | while read -r line; do
        eval "$(tr ' ' '\n' <<<"$line" | sed 's/^\([a-z_0-9]*\)=\(.*\)$/R_\1="\2"/')"
        say "$(printf '%-6s %9s %-10s %9s %8s %6s %8s %9s %8s %8s' "$R_label" "$2" "$R_phase" "$R_confirmed" \
            "$R_rejected" "$R_lost" "$R_seconds" "$R_rate" "$R_p50_ms" "$R_p99_ms")"
    done
}

bench_ras() {
    local size have_gnugk=0
    say ""
    say "== RAS registrations per second ($(date -u '+%F %T') UTC, on $RAS_SOCKETS sockets, window $RAS_WINDOW, ${RAS_SECONDS}s timed phases, load average $(loadavg))"
    say "   (endpoints = H.323 endpoints in our dialplan = endpoints registering)"
    say "$(printf '%-6s %9s %-10s %9s %8s %6s %8s %9s %8s %8s' gk endpoints phase confirmed rejected lost seconds "per s" p50_ms p99_ms)"
    for size in $RAS_SIZES; do
        local args=(--endpoints "$size" --sockets "$RAS_SOCKETS" --window "$RAS_WINDOW" --seconds "$RAS_SECONDS")
        make_dialplan "$size" "$WORK/dialplan-ras-$size.toml"
        start_gateway "ras-$size" "$WORK/dialplan-ras-$size.toml"
        local rss0 cpu0; rss0=$(rss_kb "$GW_PID"); cpu0=$(cpu_ms "$GW_PID")
        timeout 900 "$RAS_LOAD" --gatekeeper "127.0.0.1:$GW_RAS_PORT" --label ours "${args[@]}" >"$WORK/ras-ours-$size.log" 2>&1 || true
        ras_table "$WORK/ras-ours-$size.log" "$size"
        say "   ours, $size endpoints: gateway CPU $(( $(cpu_ms "$GW_PID") - cpu0 )) ms, RSS ${rss0} -> $(rss_kb "$GW_PID") kB; load average $(loadavg)"
        stop_pid "$GW_PID"

        if command -v gnugk >/dev/null; then
            if port_free $GK_RAS_PORT && port_free $GK_CS_PORT && start_gnugk; then
                timeout 900 "$RAS_LOAD" --gatekeeper "127.0.0.1:$GK_RAS_PORT" --label gnugk "${args[@]}" >"$WORK/ras-gnugk-$size.log" 2>&1 || true
                ras_table "$WORK/ras-gnugk-$size.log" "$size"
                stop_pid "$GK_PID"
                have_gnugk=1
                python3 - "$WORK/ras-ours-$size.log" "$WORK/ras-gnugk-$size.log" "$size" <<'EOF' | tee -a "$RESULTS_TXT"
import sys
def rates(path):
    out = {}
    for line in open(path):
        if line.startswith("RESULT "):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            out[kv["phase"]] = float(kv["rate"])
    return out
ours, ref = rates(sys.argv[1]), rates(sys.argv[2])
for phase in ours:
    if ref.get(phase):
        print(f"  ratio ours/gnugk, {sys.argv[3]} endpoints, {phase}: {ours[phase] / ref[phase]:.2f}")
EOF
            fi
        fi
    done
    if [ "$have_gnugk" = 0 ]; then
        say "   reference: GnuGk is not installed; Debian: $(apt-cache policy gnugk 2>/dev/null | grep -m1 Candidate || echo 'no gnugk package (apt-cache policy gnugk shows nothing)'): ours only"
    fi
}

say "h323-bench.sh: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- gateway || echo ' (+ uncommitted changes under gateway/)'), $(nproc) cores, load average $(loadavg)"
for part in $ONLY; do
    case $part in
        calls) bench_calls ;;
        ras) bench_ras ;;
        *) echo "unknown part $part" >&2; exit 2 ;;
    esac
done
say ""
say "load average at the end: $(loadavg)"
echo "summary in $RESULTS_TXT"
