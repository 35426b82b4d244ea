#!/usr/bin/env bash
# Run every fuzz target for a bounded time (default 60 s each).
#   cargo install cargo-fuzz        # once
#   bash fuzz/run.sh [SECONDS]
# cargo fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable
# toolchain build the sanitizer instrumentation.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
export RUSTC_BOOTSTRAP=1
for t in sip_message sdp digest stream_framer; do
    echo "== $t ($secs s)"
    cargo fuzz run "$t" -- -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048
done
