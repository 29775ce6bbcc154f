# What the cli tests share; not a test (tests/CMakeLists.txt leaves it out).
# Source it after `set -euo pipefail`:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It sets B (the cishare binary), EX (deploy/examples), tmp (a folder
# removed on exit; kept when CISHARE_TEST_KEEP is set), pids (background
# processes killed on exit: add yours with pids+=($!)), fail and ok (a
# script may redefine fail to show more).

B="${CISHARE_BIN:?}"
EX="${CISHARE_SRC:?}/deploy/examples"
tmp="$(mktemp -d)"
pids=()
cleanup() {
    local p
    for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
    # Only ours: a bare wait would hang on anything else still running.
    for p in ${pids[@]+"${pids[@]}"}; do wait "$p" 2>/dev/null || true; done
    if [ -n "${CISHARE_TEST_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# dev_broker [SECS]: start the embedded mock cluster (`cishare dev-broker`)
# for SECS seconds (300), wait for its bootstrap address and set bs to it
# and X to the client options that reach it (plaintext). Its output goes
# to $tmp/broker.log, shown when it does not start.
dev_broker() {
    local i
    "$B" dev-broker -w "$tmp/bs" -t "${1:-300}" >"$tmp/broker.log" 2>&1 &
    pids+=($!)
    for i in $(seq 50); do [ -s "$tmp/bs" ] && break; sleep 0.1; done
    [ -s "$tmp/bs" ] || fail "dev-broker did not start: $(cat "$tmp/broker.log")"
    bs="$(cat "$tmp/bs")"
    X=(-X "bootstrap.servers=$bs" -X security.protocol=plaintext)
}

# serve_port FILE PID [TRIES]: wait for `cishare serve`'s start line
# "(port N)" in FILE (its stderr), up to TRIES tenths of a second (300),
# and print N; fail if PID exits first or the line never comes.
serve_port() {
    local port="" i
    for i in $(seq "${3:-300}"); do
        port="$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$1")"
        [ -n "$port" ] && break
        kill -0 "$2" 2>/dev/null || fail "serve exited: $(cat "$1")"
        sleep 0.1
    done
    [ -n "$port" ] || fail "serve did not start: $(cat "$1")"
    echo "$port"
}
