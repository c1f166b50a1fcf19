#!/usr/bin/env bash
# install.sh BUILD_DIR — the installed layout works: `cmake --install` into a
# fresh prefix, then the installed `rgpu run` must put the installed
# lib/rgpu first on LD_LIBRARY_PATH, and a CUDA program run through it must
# load the installed libcuda.so.1 and libnvidia-ml.so.1 and reach the server
# (run_with_server.sh provides RGPU_SERVER). Prints what it checks.
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/rgpud bin/rgpu lib/rgpu/libcuda.so.1 lib/rgpu/libnvidia-ml.so.1 \
         share/rgpu/systemd/rgpud.service share/rgpu/systemd/ollama-rgpu.conf; do
    [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
libdir=$(cd "$prefix/lib/rgpu" && pwd -P)
first=$("$prefix/bin/rgpu" run -- sh -c 'echo "${LD_LIBRARY_PATH%%:*}"')
[ "$first" = "$libdir" ] || { echo "FAIL: rgpu run put $first first, not $libdir"; exit 1; }
# the libraries a program run through `rgpu run` loads (ld.so's own account):
# the nvml test program links both rgpu libraries
loaded=$(LD_DEBUG=libs "$prefix/bin/rgpu" run -- "$build/tests/integration/nvml" 2>&1 >/dev/null |
         sed -n 's/.*calling init: //p')
echo "$loaded"
for lib in libcuda.so.1 libnvidia-ml.so.1; do
    echo "$loaded" | grep -qx "$libdir/$lib" || { echo "FAIL: the program did not load the installed $lib"; exit 1; }
done
"$prefix/bin/rgpu" status
echo "install: OK"
