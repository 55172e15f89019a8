#!/usr/bin/env bash
# The benchmarks of docs/benchmarks.md, in one run (release builds):
#
#   1. ceilings   our GET /intents/{id} and POST /intents against bare axum ceilings (wrk)
#   2. client-cpu our client's CPU per request against a raw reqwest loop
#   3. workload   the mixed agent workload: the Python reference server, our server on SQLite,
#                 and (with OPENINTENT_BENCH_POSTGRES_URL) on PostgreSQL, one and two processes
#   4. scale      event pages at 10^3 vs 10^6 events, intent list pages over 10^5 intents,
#                 1,000 SSE subscribers (skip with OPENINTENT_BENCH_SKIP_SCALE=1)
#
# Usage: scripts/bench.sh [workload options...]
#   e.g. scripts/bench.sh --concurrency 16 --units 20 --patches 5
#   OPENINTENT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bench scripts/bench.sh
#
# Every server runs as its own process on 127.0.0.1; the load generators (wrk, the harness)
# share the machine's cores with them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"

# wrk (the ceilings' load generator): install it, or say how.
if ! command -v wrk >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "bench.sh: installing wrk (apt-get install wrk)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
    else
        echo "bench.sh: wrk is needed for the ceilings: install it (Debian/Ubuntu: sudo apt-get install wrk;" >&2
        echo "          macOS: brew install wrk), or skip them with OPENINTENT_BENCH_SKIP_CEILINGS=1" >&2
        [[ "${OPENINTENT_BENCH_SKIP_CEILINGS:-}" == 1 ]] || exit 1
    fi
fi

cargo build --release -q -p openintent-bench
BENCH="${REPO_ROOT}/target/release/openintent-bench"

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo

if [[ "${OPENINTENT_BENCH_SKIP_CEILINGS:-}" != 1 ]]; then
    echo "## 1. ceilings"
    "${BENCH}" ceilings
    echo
fi

echo "## 2. client CPU"
"${BENCH}" client-cpu
echo

echo "## 3. mixed workload"
PG_ARGS=()
if [[ -n "${OPENINTENT_BENCH_POSTGRES_URL:-}" ]]; then
    PG_ARGS=(--postgres "${OPENINTENT_BENCH_POSTGRES_URL}")
fi
# The reference server is started (and stopped) by its own script; the harness runs inside it.
exec_bench() {
    "${BENCH}" --target "python=${OPENINTENT_REFERENCE_URL}" --sqlite "$@"
}
export -f exec_bench
export BENCH
bash scripts/reference-server.sh run -- bash -c 'exec_bench "$@"' bench "${PG_ARGS[@]}" "$@"
echo

if [[ "${OPENINTENT_BENCH_SKIP_SCALE:-}" != 1 ]]; then
    echo "## 4. scale"
    "${BENCH}" scale
fi
