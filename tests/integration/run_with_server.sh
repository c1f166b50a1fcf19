#!/usr/bin/env bash
# run_with_server.sh TRANSPORT PROGRAM [ARGS...]
#
# Starts a private rgpud (--backend cpu) listening on a fresh unix socket
# (TRANSPORT=unix; TRANSPORT=shm: the same socket as shm:, the shared-memory
# rings) or a free loopback TCP port (TRANSPORT=tcp, 127.0.0.1
# only), waits until it listens, runs PROGRAM with RGPU_SERVER and
# LD_LIBRARY_PATH set so that it uses rgpu's libcuda.so.1, stops the server
# and exits with PROGRAM's status. Always cleans up (trap) and never hangs:
# PROGRAM runs under a timeout.
#
# Environment:
#   RGPU_BUILD_DIR            the build tree holding bin/rgpud and lib/libcuda.so.1
#                             (default: <source>/build)
#   RGPU_RGPUD, RGPU_LIB_DIR  override the rgpud binary / the directory of
#                             libcuda.so.1 (CMake sets both)
#   RGPU_TEST_TIMEOUT         seconds PROGRAM may run (default 280)
#   RGPU_TEST_SERVER_MAY_DIE  1: the test kills the server itself; don't fail on its death
#   RGPU_TEST_LOG_LEVEL       passed to rgpud --log-level when set
#   RGPU_TEST_SERVER_ARGS     extra rgpud arguments
#                             (--backend nvidia: the GPU suite, tests/gpu/run)
# Exported to PROGRAM: RGPU_SERVER, RGPU_TEST_SERVER_PID, RGPU_TEST_SERVER_LOG (rgpud's output so far),
#   RGPU_TEST_BACKEND (cpu, or the --backend RGPU_TEST_SERVER_ARGS names), LD_LIBRARY_PATH (build/lib first).
set -u

usage() { echo "usage: $0 unix|shm|tcp PROGRAM [ARGS...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
transport=$1
shift
case "$transport" in unix|shm|tcp) ;; *) usage ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${RGPU_BUILD_DIR:-$(cd "$here/../.." && pwd)/build}
rgpud=${RGPU_RGPUD:-$build/bin/rgpud}
libdir=${RGPU_LIB_DIR:-$build/lib}
timeout_s=${RGPU_TEST_TIMEOUT:-280}

if [ ! -x "$rgpud" ]; then
    echo "run_with_server: FAIL: $rgpud not found (build the rgpud target)" >&2
    exit 1
fi
if [ ! -e "$libdir/libcuda.so.1" ]; then
    echo "run_with_server: FAIL: $libdir/libcuda.so.1 not found (build the rgpu_cuda target)" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rgpu-it.XXXXXX") || exit 1
server_pid=
server_log=$tmp/rgpud.log

# shellcheck disable=SC2317  # invoked through trap
cleanup() {
    if [ -n "$server_pid" ]; then
        # rgpud runs in its own session: take down the whole process group
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$server_pid" 2>/dev/null
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# rgpud is running (a zombie is not: it died and awaits reaping)
server_alive() {
    local st
    st=$(sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$server_pid/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# is something listening on the address? (never connects: a probe connection
# would start a worker and disturb tests that count rgpud's workers)
listening() {
    if [ "$transport" != tcp ]; then
        # /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = listening
        awk -v p="$sock" '$NF == p && $4 == "00010000" { found = 1 } END { exit !found }' /proc/net/unix
    else
        local hexport
        hexport=$(printf '%04X' "$port")
        # local address 0100007F:PORT (127.0.0.1) or 00000000:PORT, state 0A = LISTEN
        awk -v hp="$hexport" '$4 == "0A" && ($2 == "0100007F:" hp || $2 == "00000000:" hp) { found = 1 } END { exit !found }' \
            /proc/net/tcp
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_server() {
    local addr=$1
    local extra=()
    [ -n "${RGPU_TEST_LOG_LEVEL:-}" ] && extra+=(--log-level "$RGPU_TEST_LOG_LEVEL")
    # shellcheck disable=SC2206
    [ -n "${RGPU_TEST_SERVER_ARGS:-}" ] && extra+=(${RGPU_TEST_SERVER_ARGS})
    # setsid: rgpud and its workers get their own process group, so cleanup
    # can reach workers that outlive it
    # TMPDIR: rgpud's own temporary files (its module image cache) go with
    # $tmp, also when a test kills it before it can clean up
    TMPDIR=$tmp setsid "$rgpud" --listen "$addr" --backend cpu "${extra[@]}" >"$server_log" 2>&1 </dev/null &
    server_pid=$!
    for _ in $(seq 1 200); do # up to 10 s
        if ! server_alive; then
            wait "$server_pid" 2>/dev/null
            echo "run_with_server: rgpud exited during startup (status $?) on $addr" >&2
            server_pid=
            return 1
        fi
        listening && return 0
        sleep 0.05
    done
    echo "run_with_server: rgpud is not listening on $addr after 10 s" >&2
    return 1
}

started=0
for attempt in 1 2 3 4 5; do
    if [ "$transport" != tcp ]; then
        sock=$tmp/rgpud.$attempt.sock
        addr=$transport:$sock
    else
        port=$(free_port) || { echo "run_with_server: cannot pick a free port" >&2; exit 1; }
        addr=tcp:127.0.0.1:$port
    fi
    if start_server "$addr"; then
        started=1
        break
    fi
    if [ -n "$server_pid" ]; then kill -KILL -- "-$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=; fi
done
if [ $started != 1 ]; then
    echo "run_with_server: FAIL: could not start rgpud; its log:" >&2
    cat "$server_log" >&2
    exit 1
fi

export RGPU_SERVER=$addr
export RGPU_TEST_SERVER_PID=$server_pid
export RGPU_TEST_SERVER_LOG=$server_log
# the backend the programs' backend-specific checks expect: rgpud takes the
# last --backend it is given, the one in RGPU_TEST_SERVER_ARGS if any
backend=cpu
# shellcheck disable=SC2206
server_args=(${RGPU_TEST_SERVER_ARGS:-})
for ((i = 0; i + 1 < ${#server_args[@]}; i++)); do
    [ "${server_args[i]}" = --backend ] && backend=${server_args[i + 1]}
done
export RGPU_TEST_BACKEND=$backend
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

echo "run_with_server: rgpud pid $server_pid on $addr; running $*" >&2
timeout --kill-after=10 "$timeout_s" "$@"
status=$?
if [ $status -eq 124 ]; then
    echo "run_with_server: FAIL: $1 timed out after ${timeout_s} s" >&2
elif [ $status -gt 128 ] && [ $status -le 192 ]; then
    echo "run_with_server: FAIL: $1 was killed by signal $((status - 128)) (SIG$(kill -l $((status - 128)) 2>/dev/null))" >&2
fi

if ! server_alive; then
    if [ "${RGPU_TEST_SERVER_MAY_DIE:-0}" != 1 ]; then
        wait "$server_pid" 2>/dev/null
        echo "run_with_server: FAIL: rgpud died during the test (status $?)" >&2
        [ $status -eq 0 ] && status=1
    fi
fi

if [ $status -ne 0 ]; then
    echo "run_with_server: test exited with status $status; last lines of the rgpud log:" >&2
    tail -n 40 "$server_log" >&2
fi
exit $status
