#!/usr/bin/env bash
# Side-by-side load benchmark: the Python reference server and our Rust server, driven one after
# the other by the same client workload (crates/openintent-bench), in one run.
#
# Usage: scripts/bench.sh [openintent-bench options...]
#   e.g. scripts/bench.sh --concurrency 16 --units 20 --patches 5
#
# Both servers run as separate processes on 127.0.0.1 with a fresh SQLite file each; ours is a
# release build. The harness prints one table with a column per server (add --json for JSON).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"

cargo build --release -q -p openintent-server -p openintent-bench

WORK="$(mktemp -d "${TMPDIR:-/tmp}/openintent-bench.XXXXXX")"
RUST_PID=""
cleanup() {
    [[ -n "${RUST_PID}" ]] && kill "${RUST_PID}" 2>/dev/null && wait "${RUST_PID}" 2>/dev/null
    rm -rf -- "${WORK}"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

PORT="$(free_port)"
"${REPO_ROOT}/target/release/openintent-server" --host 127.0.0.1 --port "${PORT}" \
    --database-url "sqlite:///${WORK}/rust.db" --log-level warn >"${WORK}/rust.log" 2>&1 &
RUST_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:${PORT}/.well-known/openintent.json" >/dev/null 2>&1 && break
    sleep 0.1
done

# The reference server is started (and stopped) by its own script; the harness runs inside it.
exec_bench() {
    "${REPO_ROOT}/target/release/openintent-bench" \
        --target "python=${OPENINTENT_REFERENCE_URL}" --target "rust=http://127.0.0.1:${PORT}" "$@"
}
export -f exec_bench
export REPO_ROOT PORT
bash scripts/reference-server.sh run -- bash -c 'exec_bench "$@"' bench "$@"
