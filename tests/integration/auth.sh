#!/usr/bin/env bash
# auth.sh TRANSPORT DEVICES_PROGRAM — rgpud --token-file (wire/auth.h) over
# one transport: a client without RGPU_TOKEN_FILE and one with the wrong
# secret are turned away, each with a message that says why; the right secret
# is admitted, and the server keeps serving after the refusals. rgpud refuses
# to start with a secret that is too short.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${1:-}" = --client ]; then
    tok=$2 bad=$3 prog=$4
    fail=0
    out=$(env -u RGPU_TOKEN_FILE "$prog" 2>&1) && { echo "FAIL: a client without the token was admitted"; fail=1; }
    grep -q "admits only clients holding its token: set RGPU_TOKEN_FILE" <<<"$out" ||
        { echo "FAIL: no reason given to a client without the token: $out"; fail=1; }
    out=$(RGPU_TOKEN_FILE=$bad "$prog" 2>&1) && { echo "FAIL: a client with the wrong token was admitted"; fail=1; }
    grep -q "refused the token of RGPU_TOKEN_FILE" <<<"$out" ||
        { echo "FAIL: no reason given to a client with the wrong token: $out"; fail=1; }
    RGPU_TOKEN_FILE=$tok "$prog" >/dev/null 2>&1 || { echo "FAIL: the client with the token was refused"; fail=1; }
    grep -q "authentication failed" "$RGPU_TEST_SERVER_LOG" ||
        { echo "FAIL: rgpud's log does not say why it closed the refused connections"; fail=1; }
    [ $fail = 0 ] && echo "auth: refused without and with the wrong token, admitted with it"
    exit $fail
fi

[ $# -eq 2 ] || { echo "usage: $0 unix|shm|tcp DEVICES_PROGRAM" >&2; exit 2; }
transport=$1 prog=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rgpu-auth.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
umask 077
head -c 32 /dev/urandom | base64 >"$tmp/tok"
head -c 32 /dev/urandom | base64 >"$tmp/bad"
printf 'short\n' >"$tmp/short"

rgpud=${RGPU_RGPUD:-$here/../../build/bin/rgpud}
if out=$("$rgpud" --backend cpu --listen "unix:$tmp/never.sock" --token-file "$tmp/short" 2>&1); then
    echo "FAIL: rgpud started with a 6-byte secret"
    exit 1
fi
grep -q "16 to 256 bytes" <<<"$out" || { echo "FAIL: rgpud did not say why it refused the secret: $out"; exit 1; }

RGPU_TEST_SERVER_ARGS="${RGPU_TEST_SERVER_ARGS:-} --token-file $tmp/tok" \
    "$here/run_with_server.sh" "$transport" "$0" --client "$tmp/tok" "$tmp/bad" "$prog"
