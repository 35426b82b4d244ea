#!/usr/bin/env bash
# The project's one test command (README; run by .ci/run on a fresh Debian 12
# machine as root, CI=true, no stdin, no TTY):
#   1. install the real peers the interop tests drive (apt, once, only if missing)
#   2. install the Python test deps (pytest) from interop-tests/requirements.txt
#   3. cargo build --release --workspace --all-targets (once; tests reuse it)
#   4. cargo test --release --workspace
#   5. PostgreSQL store tests (gateway/store/tests/pg.sh) when present
#   6. python3 -m pytest -v interop-tests against target/release/gateway
# Every step runs even if an earlier test step failed, so one run reports
# everything; the exit code is non-zero if any step failed.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CI="${CI:-}"
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR=never
export PYTHONDONTWRITEBYTECODE=1

STEPS=()
RESULTS=()
FAILED=0
START=$(date +%s)

log() { printf '\n==== %s [%ss]\n' "$*" "$(( $(date +%s) - START ))"; }

# run_step NAME CMD...: run, record the outcome, never abort the script.
run_step() {
    local name=$1; shift
    log "$name: $*"
    local t0 rc
    t0=$(date +%s)
    set +e
    "$@" </dev/null
    rc=$?
    set -e
    STEPS+=("$name")
    if [ "$rc" -eq 0 ]; then
        RESULTS+=("ok     $(( $(date +%s) - t0 ))s")
    else
        RESULTS+=("FAILED (exit $rc) $(( $(date +%s) - t0 ))s")
        FAILED=1
    fi
    return 0
}

summary() {
    echo
    echo "================================ summary ================================"
    local i
    for i in "${!STEPS[@]}"; do
        printf '  %-28s %s\n' "${STEPS[$i]}" "${RESULTS[$i]}"
    done
    echo "  total $(( $(date +%s) - START ))s"
    echo "========================================================================="
}

# ------------------------------------------------------------------ packages
# Debian packages of the peers and tools the tests run. python3/venv only
# matter on a machine without a Python of its own.
APT_PACKAGES=(
    sip-tester baresip linphone-cli sipsak kamailio rtpengine-daemon tshark sox
    postgresql procps iproute2 iptables ca-certificates python3
    # libopus for the Opus codec (opus crate links it through pkg-config),
    # ffmpeg as an independent G.722 codec for the codec tests.
    libopus-dev pkg-config ffmpeg
    # opusinfo/opusdec: an independent check of repaired recordings (ogg.rs).
    opus-tools
    chromium chromium-driver
)

APT_UPDATED=0
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "Debian packages already installed: $*"
        return 0
    fi
    log "apt-get install ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "need root to install: ${missing[*]}" >&2
        exit 1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        # wireshark-common asks whether non-root may capture: answer, no prompt.
        echo "wireshark-common wireshark-common/install-setuid boolean false" \
            | debconf-set-selections || true
        apt-get update -q
        APT_UPDATED=1
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

apt_install "${APT_PACKAGES[@]}"

# The daemons are installed but must not be running on their default ports:
# tests start their own instances with their own configs.
for svc in kamailio rtpengine-daemon; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
    fi
done

# ------------------------------------------------------------------- python
# A Python that can pip install: the machine's own if pip works there
# (pyenv on developer machines), else a venv under target/ (Debian's
# externally managed python3).
PY=python3
if ! "$PY" -m pip install -q --disable-pip-version-check -r interop-tests/requirements.txt 2>/tmp/pip-err.$$; then
    if grep -q externally-managed /tmp/pip-err.$$; then
        log "system python is externally managed: using a venv in target/interop-venv"
        apt_install python3-venv
        "$PY" -m venv target/interop-venv
        PY="$ROOT/target/interop-venv/bin/python3"
        "$PY" -m pip install -q --disable-pip-version-check -r interop-tests/requirements.txt
    else
        cat /tmp/pip-err.$$ >&2
        rm -f /tmp/pip-err.$$
        exit 1
    fi
fi
rm -f /tmp/pip-err.$$
"$PY" -m pytest --version

# -------------------------------------------------------------------- build
log "cargo build --release --workspace --all-targets"
if ! cargo build --release --workspace --all-targets; then
    STEPS+=("cargo build"); RESULTS+=("FAILED"); FAILED=1
    summary
    exit 1
fi
STEPS+=("cargo build"); RESULTS+=("ok")

# -------------------------------------------------------------------- tests
run_step "cargo test" cargo test --release --workspace

if [ -f gateway/store/tests/pg.sh ]; then
    run_step "postgres store tests" bash gateway/store/tests/pg.sh --release
else
    log "gateway/store/tests/pg.sh not present: PostgreSQL store tests not run"
fi

export GATEWAY_BIN="$ROOT/target/release/gateway"
run_step "interop tests (pytest)" "$PY" -m pytest -v -p no:cacheprovider interop-tests

summary
exit "$FAILED"
