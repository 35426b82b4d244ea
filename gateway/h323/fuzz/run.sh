#!/usr/bin/env bash
# Run every H.323 fuzz target for a bounded time (default 60 s each).
#   cargo install cargo-fuzz        # once
#   bash gateway/h323/fuzz/run.sh [SECONDS]
# RUSTC_BOOTSTRAP lets the stable toolchain build the sanitizer instrumentation.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
export RUSTC_BOOTSTRAP=1
for t in ras q931_tpkt h245; do
    echo "== $t ($secs s)"
    cargo fuzz run "$t" -- -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048
done
