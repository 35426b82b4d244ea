#!/usr/bin/env bash
# SIP calls-per-second benchmark: the gateway side by side with kamailio.
# Heavy; NOT part of CI. Run as root or any user on a quiet machine:
#
#   interop-tests/bench/sip-cps.sh                       # both targets
#   interop-tests/bench/sip-cps.sh --targets kamailio    # reference only
#   interop-tests/bench/sip-cps.sh --rates "500 1000 2000" --seconds 10 --no-build
#
# For each target the same path is driven with the same settings:
#   SIPp uac (built-in scenario, -d 0) -> TARGET -> SIPp uas on 127.0.0.1:5070
# at increasing rates (calls = rate x seconds, so each step lasts about
# `seconds`), and the highest rate with every call successful and none failed
# is the target's figure, provided SIPp achieved at least 90 % of the offered
# rate (else the shared machine was saturated). The ladder stops at the first
# failing step.
#
# Fairness notes:
# - kamailio is a stateful proxy (tm, t_relay, no dialog module, no
#   record-route); the gateway is a B2BUA that also anchors media: SIPp's uac
#   sends SDP, so the gateway allocates RTP ports for every call even though no
#   RTP flows. It does more work per call than kamailio; that is the point of
#   measuring it against the reference.
# - The uas answers without 180 Ringing (a copy of SIPp's built-in uas minus
#   that send): kamailio's several UDP workers may forward a 180 after the 200
#   that followed it, which SIPp's uac counts as an unexpected message (failed
#   call) although nothing was wrong. Pass --uas builtin to keep the 180.
# - SIPp shares the 2 cores with the target: compare figures from one run only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGETS="kamailio gateway"
RATES="500 1000 1500 2000 2500 3000 4000 5000"
SECONDS_PER_STEP=10
BUILD=1
UAS_MODE=no180
KAM_CHILDREN=4
# 64 MB shm (the INTEROP recipe) runs out of transaction memory near 500 CPS
# (every INVITE and BYE transaction lives 5 s in wait state); the reference
# must not be limited by a config default, so give it room.
KAM_SHM=512

while [ $# -gt 0 ]; do
    case "$1" in
        --targets) TARGETS=$2; shift 2 ;;
        --rates) RATES=$2; shift 2 ;;
        --seconds) SECONDS_PER_STEP=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --uas) UAS_MODE=$2; shift 2 ;;
        --kamailio-children) KAM_CHILDREN=$2; shift 2 ;;
        --kamailio-shm) KAM_SHM=$2; shift 2 ;;
        -h|--help) sed -n 2,30p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

for tool in sipp python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install sip-tester / python3)" >&2; exit 1; }
done
case " $TARGETS " in *" kamailio "*)
    command -v kamailio >/dev/null || { echo "missing kamailio (apt-get install kamailio)" >&2; exit 1; } ;;
esac

UAS_PORT=5070          # fixed by dialplans/loopback.toml (the trunk)
KAM_PORT=15060
GW_SIP_PORT=15062
GW_ADMIN_PORT=15080
UAC_PORT=15100
KAM_MODULES=/usr/lib/x86_64-linux-gnu/kamailio/modules

WORK=$(mktemp -d /tmp/sip-cps.XXXXXX)
PIDS=()

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
    echo "logs and statistics kept in $WORK"
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
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
}

for p in $UAS_PORT $KAM_PORT $GW_SIP_PORT $GW_ADMIN_PORT $UAC_PORT; do
    port_free "$p" || { echo "127.0.0.1:$p is busy; the benchmark needs it" >&2; exit 1; }
done

# ------------------------------------------------------------- uas scenario
UAS_ARGS=(-sn uas)
if [ "$UAS_MODE" = no180 ]; then
    # sipp -sd exits 99 after dumping the scenario.
    sipp -sd uas > "$WORK/uas_builtin.xml" || true
    grep -q "180 Ringing" "$WORK/uas_builtin.xml"
    python3 - "$WORK/uas_builtin.xml" "$WORK/uas_no180.xml" <<'EOF'
import re, sys
xml = open(sys.argv[1], encoding="latin-1").read()
out, n = re.subn(r"<send>\s*<!\[CDATA\[\s*SIP/2.0 180 Ringing.*?\]\]>\s*</send>", "", xml, count=1, flags=re.S)
assert n == 1, "could not find the 180 Ringing send in SIPp's uas scenario"
open(sys.argv[2], "w", encoding="latin-1").write(out)
EOF
    UAS_ARGS=(-sf "$WORK/uas_no180.xml")
fi

# ------------------------------------------------------------------ targets
start_kamailio() {
    cat > "$WORK/kamailio.cfg" <<EOF
#!KAMAILIO
debug=0
log_stderror=yes
children=$KAM_CHILDREN
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:$KAM_PORT
mpath="$KAM_MODULES/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
modparam("tm", "fr_timer", 5000)
modparam("tm", "fr_inv_timer", 10000)

# Stateful relay of everything to the SIPp uas. The uac's in-dialog requests
# (ACK, BYE) are addressed to the proxy itself (SIPp's built-in uac does not
# use the Contact), so they are sent on to the uas as well.
request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (is_method("CANCEL")) {
        if (t_check_trans()) { t_relay(); }
        exit;
    }
    if (is_method("ACK") && t_check_trans()) { t_relay(); exit; }
    \$du = "sip:127.0.0.1:$UAS_PORT";
    if (!t_relay()) { sl_reply_error(); }
}
EOF
    kamailio -f "$WORK/kamailio.cfg" -c >"$WORK/kamailio-check.log" 2>&1 || {
        cat "$WORK/kamailio-check.log" >&2; exit 1; }
    kamailio -f "$WORK/kamailio.cfg" -DD -E -m "$KAM_SHM" -M 8 -P "$WORK/kamailio.pid" \
        >"$WORK/kamailio.log" 2>&1 &
    TARGET_PID=$!
    PIDS+=("$TARGET_PID")
    TARGET_ADDR=127.0.0.1:$KAM_PORT
    sleep 1.5
    kill -0 "$TARGET_PID" || { tail -30 "$WORK/kamailio.log" >&2; exit 1; }
}

start_gateway() {
    local bin=${GATEWAY_BIN:-$ROOT/target/release/gateway}
    mkdir -p "$WORK/gw"
    "$bin" run --sip-listen "127.0.0.1:$GW_SIP_PORT" --admin-listen "127.0.0.1:$GW_ADMIN_PORT" \
        --rtp-ports 40000-59999 --db "sqlite://$WORK/gw/gw.db" --data-dir "$WORK/gw" \
        --dialplan "$ROOT/dialplans/loopback.toml" >"$WORK/gateway.log" 2>&1 &
    TARGET_PID=$!
    PIDS+=("$TARGET_PID")
    TARGET_ADDR=127.0.0.1:$GW_SIP_PORT
    python3 - "$GW_ADMIN_PORT" "$TARGET_PID" <<'EOF' || { tail -50 "$WORK/gateway.log" >&2; exit 1; }
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("gateway exited during start")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("gateway /healthz not 200 within 30 s")
EOF
}

# run_step TARGET RATE: writes "ok|fail successful failed rc cps" to $WORK/result
# (not a pipe or $(...): the PIDs it starts must land in this shell's PIDS).
run_step() {
    local target=$1 rate=$2 calls stat
    calls=$(( rate * SECONDS_PER_STEP ))
    stat="$WORK/$target-$rate.csv"
    local uas_pid uac_pid rc=0
    (cd "$WORK" && exec timeout -k 5 $(( SECONDS_PER_STEP * 3 + 70 )) sipp "${UAS_ARGS[@]}" -i 127.0.0.1 -p $UAS_PORT -nostdin \
        -timeout $(( SECONDS_PER_STEP * 3 + 60 )) >"$WORK/uas-$target-$rate.log" 2>&1) &
    uas_pid=$!
    PIDS+=("$uas_pid")
    sleep 0.5
    # timeout(1) on top of SIPp's own -timeout: an overloaded SIPp has been
    # seen to outlive -timeout while it waits for calls to end.
    (cd "$WORK" && exec timeout -k 5 $(( SECONDS_PER_STEP * 3 + 40 )) sipp -sn uac "$TARGET_ADDR" -s 5000 -i 127.0.0.1 -p $UAC_PORT \
        -r "$rate" -m "$calls" -d 0 -nostdin -timeout $(( SECONDS_PER_STEP * 3 + 30 )) \
        -trace_stat -stf "$stat" -fd 1 -trace_screen -screen_file "$WORK/uac-$target-$rate.screen" \
        -trace_err -error_file "$WORK/uac-$target-$rate.errors" \
        >"$WORK/uac-$target-$rate.log" 2>&1) &
    uac_pid=$!
    PIDS+=("$uac_pid")
    wait "$uac_pid" || rc=$?
    stop_pid "$uas_pid"
    python3 - "$stat" "$calls" "$rc" "$SECONDS_PER_STEP" <<'EOF'
import csv, sys
path, calls, rc, SECONDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
try:
    rows = list(csv.reader(open(path), delimiter=";"))
    row = dict(zip(rows[0], rows[-1]))
    ok, failed = int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])
    rate = float(row.get("CallRate(C)", "0"))
except Exception as e:
    ok, failed, rate = 0, calls, 0.0
# A step counts only if SIPp also kept up the offered rate: below 90 % the
# machine (shared by SIPp and the target) was saturated, even with 0 failed.
verdict = "ok" if (rc == 0 and failed == 0 and ok == calls
                   and rate >= 0.9 * calls / SECONDS) else "fail"
print(f"{verdict} {ok} {failed} {rc} {rate:.0f}")
EOF
} >"$WORK/result"

declare -A BEST
if [ "$BUILD" = 1 ] && [[ " $TARGETS " == *" gateway "* ]]; then
    echo "building the gateway (release)"
    (cd "$ROOT" && cargo build --release -p gateway)
fi

printf '\n%-10s %7s %8s %10s %7s %4s %14s\n' target rate calls successful failed rc "achieved CPS"
for target in $TARGETS; do
    case $target in
        kamailio) start_kamailio ;;
        gateway) start_gateway ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    BEST[$target]=0
    for rate in $RATES; do
        run_step "$target" "$rate"
        read -r verdict ok failed rc achieved <"$WORK/result"
        printf '%-10s %7s %8s %10s %7s %4s %14s %s\n' "$target" "$rate" \
            $(( rate * SECONDS_PER_STEP )) "$ok" "$failed" "$rc" "$achieved" "$verdict"
        if [ "$verdict" = ok ]; then
            BEST[$target]=$rate
        else
            break
        fi
        # Let the uas time-wait and the target's transactions drain.
        sleep 6
    done
    stop_pid "$TARGET_PID"
done

echo
echo "highest rate with zero failed calls (${SECONDS_PER_STEP}s per step, uas=$UAS_MODE):"
for target in $TARGETS; do
    printf '  %-10s %6s CPS\n' "$target" "${BEST[$target]}"
done
if [[ " $TARGETS " == *" kamailio "* && " $TARGETS " == *" gateway "* ]]; then
    python3 -c "import sys; g, k = int(sys.argv[1]), int(sys.argv[2]); print(f'  ratio gateway/kamailio: {g / k:.2f}' if k else '  ratio: kamailio reached no rate')" \
        "${BEST[gateway]}" "${BEST[kamailio]}"
fi
