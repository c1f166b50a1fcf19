#!/usr/bin/env bash
# llama_compare.sh LLAMA_BIN_DIR MODEL.gguf [PROMPT [N_TOKENS]]
#
# Greedy generation with a llama.cpp build that has the CUDA backend (built by
# you: rgpu neither ships nor builds llama.cpp), twice:
#   cpu   llama.cpp's own CPU backend (no device, no offload of any op);
#   rgpu  every layer on CUDA device 0 through rgpu (`rgpu run`), i.e. on the
#         server rgpud at $RGPU_SERVER (start one first; on the CPU device a
#         model from tools/tiny_gguf.py takes seconds);
# prints both continuations and their times, what one generated token costs
# on rgpu's wire (round trips, calls the client answered itself, requests
# sent without waiting: from traced runs of N and 2N tokens), and exits 0
# only if the two outputs are byte for byte identical (greedy decoding: the
# same text).
#
# Use an F16 or F32 model (tools/tiny_gguf.py --quant f16): with quantized
# weights the two backends quantize activations differently (CUDA's MMQ uses
# q8_1 blocks, the CPU q8_0), so logits differ slightly by design and a close
# call may go the other way on correct implementations.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 LLAMA_BIN_DIR MODEL.gguf [PROMPT [N_TOKENS]]" >&2; exit 2; }
bin=$1 model=$2 prompt=${3:-"the gpu kernel"} n=${4:-32}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rgpu=${RGPU:-$here/../build/bin/rgpu}
exe=$bin/llama-completion
[ -x "$exe" ] || { echo "$exe not found" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# flash attention off: the build may have no CUDA flash-attention kernels,
# and llama.cpp would then keep attention on the CPU
common=(-m "$model" -p "$prompt" --temp 0 --top-k 1 --seed 1 -no-cnv --no-warmup -c 256 -b 64
        --no-display-prompt --ignore-eos -fa off)

run() { # label, then the command
    local label=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$out/$label.txt" 2>"$out/$label.log" || { echo "$label run failed:"; tail -20 "$out/$label.log"; exit 1; }
    t1=$(date +%s.%N)
    printf '%-5s %6.2fs  %s\n' "$label" "$(awk "BEGIN{print $t1 - $t0}")" "$(tr '\n' ' ' <"$out/$label.txt")"
}

# (through `rgpu run` too: a CUDA build needs a libcuda.so.1 to start, but
# with no device and no op offload every op runs on llama.cpp's CPU backend)
run cpu "$rgpu" run -- "$exe" "${common[@]}" -n "$n" -ngl 0 --device none --no-op-offload
run rgpu "$rgpu" run -- "$exe" "${common[@]}" -n "$n" -ngl 99 --device CUDA0
grep -h "offloaded" "$out/rgpu.log" | head -2 || true

# What one generated token costs on the wire: traced runs of n and 2n tokens
# (RGPU_TRACE=1), the difference divided by n. "round trips" are requests
# that waited for their reply; "answered locally" never left the client.
count() { # label, tokens
    RGPU_TRACE=1 "$rgpu" run -- "$exe" "${common[@]}" -n "$2" -ngl 99 --device CUDA0 >/dev/null 2>"$out/$1.trace" ||
        { echo "traced run failed:"; tail -20 "$out/$1.trace"; exit 1; }
}
count t1 "$n"
count t2 "$((2 * n))"
per_token() { # pattern
    local a b
    a=$(grep -c -- "$1" "$out/t1.trace" || true)
    b=$(grep -c -- "$1" "$out/t2.trace" || true)
    awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }'
}
echo "per generated token: $(per_token ') -> [-0-9]* {\|) -> [-0-9]*$') round trips," \
    "$(per_token '(answered locally)') answered locally, $(per_token ') sent$') sent without waiting"

if cmp -s "$out/cpu.txt" "$out/rgpu.txt"; then
    echo "llama_compare: identical greedy output ($n tokens)"
else
    echo "llama_compare: outputs differ"
    diff "$out/cpu.txt" "$out/rgpu.txt" || true
    exit 1
fi
