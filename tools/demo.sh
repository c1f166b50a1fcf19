#!/usr/bin/env bash
# Start rgpud on the CPU device on a private socket, run the nvcc-built demo
# through rgpu, stop the server. Usage: tools/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
sock=$(mktemp -u /tmp/rgpu-demo.XXXXXX.sock)
"$build/bin/rgpud" --backend cpu --listen "unix:$sock" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$sock"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
"$build/bin/rgpu" run --server "unix:$sock" -- "$build/bin/rgpu-demo"
