#!/usr/bin/env bash
# Manage the Python reference server (PyPI package openintent[server]==0.17.0)
# used as the interoperability baseline for openintent-rs.
#
# Usage:
#   scripts/reference-server.sh install
#       Create the virtualenv (default: <repo>/.venv-ref, override with
#       OPENINTENT_VENV) and install openintent[server]==0.17.0 into it.
#       Does nothing when that exact version is already installed.
#   scripts/reference-server.sh start [PORT] [DBPATH]
#       Start the server on 127.0.0.1:PORT (default: a free port) with the
#       SQLite database DBPATH (default: a fresh temporary database), wait until
#       it answers, and print its base URL on stdout.
#   scripts/reference-server.sh stop
#       Stop the server started by `start`.
#   scripts/reference-server.sh url
#       Print the base URL of the running server.
#   scripts/reference-server.sh run [--] CMD [ARGS...]
#       install (if needed) + start on a free port with a fresh database, run CMD
#       with OPENINTENT_REFERENCE_URL set to the base URL, stop the server
#       whatever CMD's exit status, and exit with CMD's status.
#
# Environment:
#   OPENINTENT_VENV            virtualenv directory (default: <repo>/.venv-ref)
#   OPENINTENT_REF_STATE_DIR   where `start`/`stop` keep the pid, log and URL
#                              files (default: $OPENINTENT_VENV/run). `run` always
#                              uses a private directory, so several `run`s can
#                              proceed side by side.
#   OPENINTENT_REF_TIMEOUT     seconds to wait for the server to answer (default 60)
#   PYTHON                     interpreter used to create the venv (default python3)
#
# The server accepts the API keys dev-user-key, agent-research-key and
# agent-synth-key (passed with --api-keys; OPENINTENT_API_KEYS is set to the same
# list because the 0.17.0 server lets that variable override the flag).

set -euo pipefail

readonly REF_PACKAGE="openintent"
readonly REF_VERSION="0.17.0"
readonly REF_REQUIREMENT="${REF_PACKAGE}[server]==${REF_VERSION}"
readonly REF_API_KEYS="dev-user-key,agent-research-key,agent-synth-key"
readonly REF_HOST="127.0.0.1"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
VENV="${OPENINTENT_VENV:-${REPO_ROOT}/.venv-ref}"
STATE_DIR="${OPENINTENT_REF_STATE_DIR:-${VENV}/run}"
START_TIMEOUT="${OPENINTENT_REF_TIMEOUT:-60}"
PYTHON_BIN="${PYTHON:-python3}"

log() { printf '[reference-server] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# Human-readable duration since a now_ms timestamp.
elapsed_since() {
    local start="$1" end
    end="$(now_ms)"
    local ms=$((end - start))
    printf '%d.%03ds' $((ms / 1000)) $((ms % 1000))
}

venv_python() { printf '%s/bin/python' "${VENV}"; }

# True when the venv holds openintent at REF_VERSION with the server extras.
is_installed() {
    local py
    py="$(venv_python)"
    [[ -x "${py}" && -x "${VENV}/bin/openintent-server" ]] || return 1
    "${py}" - "${REF_PACKAGE}" "${REF_VERSION}" <<'PY' >/dev/null 2>&1
import importlib.metadata as md
import sys

if md.version(sys.argv[1]) != sys.argv[2]:
    sys.exit(1)
# The [server] extra: fail if any of its runtime modules is missing.
import fastapi, sqlalchemy, uvicorn  # noqa: E401,F401
import openintent.server.app  # noqa: F401
PY
}

cmd_install() {
    local start
    start="$(now_ms)"
    if is_installed; then
        log "${REF_REQUIREMENT} already installed in ${VENV} (checked in $(elapsed_since "${start}"))"
        return 0
    fi
    command -v "${PYTHON_BIN}" >/dev/null 2>&1 || die "${PYTHON_BIN} not found"
    if [[ ! -x "$(venv_python)" ]]; then
        log "creating virtualenv ${VENV}"
        "${PYTHON_BIN}" -m venv "${VENV}" ||
            die "python3 -m venv failed (on Debian install python3-venv)"
    fi
    log "installing ${REF_REQUIREMENT}"
    "$(venv_python)" -m pip install --quiet --disable-pip-version-check \
        "${REF_REQUIREMENT}" >&2
    is_installed || die "${REF_REQUIREMENT} still not importable after pip install"
    log "installed ${REF_REQUIREMENT} in ${VENV} in $(elapsed_since "${start}")"
}

# Print a free TCP port on REF_HOST.
free_port() {
    "${PYTHON_BIN}" - "${REF_HOST}" <<'PY'
import socket
import sys

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((sys.argv[1], 0))
    print(s.getsockname()[1])
PY
}

# True when the pid in the pid file is alive and is an openintent-server.
server_alive() {
    local pid_file="${STATE_DIR}/server.pid" pid
    [[ -f "${pid_file}" ]] || return 1
    pid="$(cat "${pid_file}")"
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    kill -0 "${pid}" 2>/dev/null || return 1
    if [[ -r "/proc/${pid}/cmdline" ]]; then
        tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q 'openintent-server' || return 1
    fi
    return 0
}

# Poll the discovery document until it answers 200, the process dies, or the
# timeout expires.
wait_until_ready() {
    local url="$1" pid="$2"
    "$(venv_python)" - "${url}/.well-known/openintent.json" "${pid}" "${START_TIMEOUT}" <<'PY'
import json
import os
import sys
import time
import urllib.error
import urllib.request

url, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout
last = "no answer yet"
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        print(f"server process {pid} exited during startup", file=sys.stderr)
        sys.exit(2)
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body = json.load(resp)
            if resp.status == 200 and "protocol" in body:
                sys.exit(0)
            last = f"HTTP {resp.status}: {body!r}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        last = str(exc)
    time.sleep(0.2)
print(f"server did not answer {url} within {timeout:.0f}s ({last})", file=sys.stderr)
sys.exit(1)
PY
}

cmd_start() {
    local port="${1:-}" db_path="${2:-}"
    is_installed || die "${REF_REQUIREMENT} is not installed in ${VENV}; run '$0 install' first"
    mkdir -p "${STATE_DIR}"
    if server_alive; then
        die "a reference server is already running (pid $(cat "${STATE_DIR}/server.pid"), $(cat "${STATE_DIR}/server.url" 2>/dev/null || echo '?')); run '$0 stop' first"
    fi
    rm -f "${STATE_DIR}/server.pid" "${STATE_DIR}/server.url" "${STATE_DIR}/server.tmpdir"

    if [[ -z "${port}" ]]; then
        port="$(free_port)"
    fi
    [[ "${port}" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '${port}'"

    if [[ -z "${db_path}" ]]; then
        local tmp_dir
        tmp_dir="$(mktemp -d "${TMPDIR:-/tmp}/openintent-ref.XXXXXX")"
        printf '%s\n' "${tmp_dir}" >"${STATE_DIR}/server.tmpdir"
        db_path="${tmp_dir}/reference.db"
    fi
    # Make the path absolute: sqlite:///<absolute path> (four slashes in total).
    case "${db_path}" in
        /*) ;;
        *) db_path="$(pwd)/${db_path}" ;;
    esac
    mkdir -p "$(dirname "${db_path}")"

    local url="http://${REF_HOST}:${port}"
    local log_file="${STATE_DIR}/server.log"
    local start
    start="$(now_ms)"
    log "starting ${REF_REQUIREMENT} on ${url} (database ${db_path}, log ${log_file})"
    # The 0.17.0 ServerConfig replaces --api-keys with OPENINTENT_API_KEYS when
    # that variable is set, so set both to the same list.
    OPENINTENT_API_KEYS="${REF_API_KEYS}" PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8 \
        nohup "${VENV}/bin/openintent-server" \
        --host "${REF_HOST}" \
        --port "${port}" \
        --database-url "sqlite:///${db_path}" \
        --api-keys "${REF_API_KEYS}" \
        --log-level info \
        </dev/null >"${log_file}" 2>&1 &
    local pid=$!
    printf '%s\n' "${pid}" >"${STATE_DIR}/server.pid"

    if ! wait_until_ready "${url}" "${pid}"; then
        log "startup failed; server log follows"
        sed 's/^/    /' "${log_file}" >&2 || true
        cmd_stop >/dev/null 2>&1 || true
        exit 1
    fi
    printf '%s\n' "${url}" >"${STATE_DIR}/server.url"
    log "ready after $(elapsed_since "${start}") (pid ${pid})"
    printf '%s\n' "${url}"
}

cmd_stop() {
    local pid_file="${STATE_DIR}/server.pid"
    if [[ ! -f "${pid_file}" ]]; then
        log "no pid file in ${STATE_DIR}; nothing to stop"
        return 0
    fi
    local pid
    pid="$(cat "${pid_file}")"
    if server_alive; then
        kill -TERM "${pid}" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "${pid}" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "${pid}" 2>/dev/null; then
            log "pid ${pid} ignored SIGTERM for 10s; sending SIGKILL"
            kill -KILL "${pid}" 2>/dev/null || true
        fi
        log "stopped pid ${pid}"
    else
        log "pid ${pid} is not running (stale pid file)"
    fi
    if [[ -f "${STATE_DIR}/server.tmpdir" ]]; then
        local tmp_dir
        tmp_dir="$(cat "${STATE_DIR}/server.tmpdir")"
        case "${tmp_dir}" in
            */openintent-ref.*) rm -rf -- "${tmp_dir}" ;;
        esac
    fi
    rm -f "${pid_file}" "${STATE_DIR}/server.url" "${STATE_DIR}/server.tmpdir"
}

cmd_url() {
    server_alive || die "no reference server running (state dir ${STATE_DIR})"
    cat "${STATE_DIR}/server.url"
}

cmd_run() {
    if [[ "${1:-}" == "--" ]]; then
        shift
    fi
    [[ $# -gt 0 ]] || die "usage: $0 run [--] CMD [ARGS...]"

    cmd_install
    # A private state directory, so that concurrent runs never share a pid file.
    STATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/openintent-ref-state.XXXXXX")"
    local run_state_dir="${STATE_DIR}"
    # shellcheck disable=SC2064 # expand now: the directory is fixed for this run
    trap "STATE_DIR='${run_state_dir}'; cmd_stop >/dev/null 2>&1 || true; rm -rf -- '${run_state_dir}'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    local url
    url="$(cmd_start)"
    export OPENINTENT_REFERENCE_URL="${url}"
    log "running: $* (OPENINTENT_REFERENCE_URL=${url})"
    local status=0
    "$@" || status=$?
    if [[ ${status} -ne 0 ]]; then
        log "command exited with status ${status}; server log:"
        tail -n 200 "${STATE_DIR}/server.log" | sed 's/^/    /' >&2 || true
    fi
    cmd_stop
    return "${status}"
}

usage() {
    sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "${cmd}" in
        install) cmd_install "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        url) cmd_url "$@" ;;
        run) cmd_run "$@" ;;
        -h | --help | help) usage ;;
        *)
            usage
            exit 2
            ;;
    esac
}

main "$@"
