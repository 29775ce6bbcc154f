#!/usr/bin/env bash
# cishare doctor without a broker: exit 2 for bad usage (no -c, an unknown
# option, a bad number, an operand, an unreadable CONFIG); a refused
# config key fails check 1 (exit 1) and the later checks say they were
# not checked; a bootstrap address nobody listens on fails check 6 within
# seconds; --help lists every check and the reason codes. The real broker
# cases are tests/kafka/doctor.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run() { # args... -> $rc, $tmp/out, $tmp/err
    rc=0
    "$B" doctor "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}
usage() { # grep-pattern args...
    local pat="$1"
    shift
    run "$@"
    [ "$rc" = 2 ] && grep -qF -- "$pat" "$tmp/err" ||
        { cat "$tmp/out" "$tmp/err"; fail "doctor $* -> exit $rc, want 2 and '$pat'"; }
}
usage "-c CONFIG is required"
usage "unknown option" -c "$EX/op-power-a.conf" --bogus
usage "--timeout: 'x' is not a number" -c "$EX/op-power-a.conf" --timeout x
usage "--max-lag: '-1' is not a" -c "$EX/op-power-a.conf" --max-lag -1
usage "extra" -c "$EX/op-power-a.conf" extra
usage "$tmp/none.conf: No such file or directory" -c "$tmp/none.conf"
ok "usage errors exit 2"

run --help
[ "$rc" = 0 ] || fail "--help: exit $rc"
for w in "1 config" "5 clock" "9 state" cert-expired acl-read-denied \
    broker-unreachable directory-signature state-readonly "Exit status"; do
    grep -qF -- "$w" "$tmp/out" || fail "--help does not mention '$w'"
done
ok "--help: the nine checks, the reason codes, the exit status"

# a refused key: check 1 fails, the rest are not checked
{ cat "$EX/op-power-a.conf"; echo "cishare.no-such-key=1"; } >"$tmp/bad.conf"
run -c "$tmp/bad.conf" --state "$tmp/state"
[ "$rc" = 1 ] && grep -q "^fail config: \[config-invalid\] .*cishare.no-such-key" "$tmp/out" &&
    [ "$(grep -c '^warn .*\[not-checked\]' "$tmp/out")" = 8 ] ||
    { cat "$tmp/out" "$tmp/err"; fail "unknown key: exit $rc"; }
ok "an unknown cishare.* key fails check 1, exit 1"

# nobody listens: fails check 6 in seconds; nothing is created
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
start=$SECONDS
run -c "$EX/op-power-a.conf" -X "bootstrap.servers=127.0.0.1:$port" \
    -X security.protocol=plaintext --state "$tmp/state" --timeout 1000 --json
[ "$rc" = 1 ] || { cat "$tmp/out" "$tmp/err"; fail "closed port: exit $rc"; }
python3 - "$tmp/out" <<'PY' || { cat "$tmp/out"; fail "closed port: --json"; }
import json, sys
rows = {r["check"]: r for r in map(json.loads, open(sys.argv[1]))}
assert len(rows) == 9, rows
r = rows["reachability"]
assert (r["status"], r["reason"]) == ("fail", "broker-unreachable"), r
assert r["fix"], r
for c in ("config", "directory", "entry"):
    assert rows[c]["status"] == "ok", rows[c]
assert rows["acl"]["reason"] == "not-checked", rows["acl"]
PY
[ $((SECONDS - start)) -le 10 ] || fail "closed port: took $((SECONDS - start)) s"
[ ! -e "$tmp/state" ] || fail "doctor created $tmp/state"
ok "a closed bootstrap port: fail reachability [broker-unreachable], exit 1, in $((SECONDS - start)) s"

# the state folder: a file where the folder should be; too little space
: >"$tmp/file"
run -c "$EX/op-power-a.conf" -X "bootstrap.servers=127.0.0.1:$port" \
    -X security.protocol=plaintext --state "$tmp/file/state" --timeout 1000
grep -qF "fail state: [state-not-dir] $tmp/file: not a folder" "$tmp/out" ||
    { cat "$tmp/out"; fail "state below a file"; }
run -c "$EX/op-power-a.conf" -X "bootstrap.servers=127.0.0.1:$port" \
    -X security.protocol=plaintext --state "$tmp" --timeout 1000 \
    --min-free 1000000000
grep -q "^warn state: \[state-low-space\] $tmp: [0-9]* MiB free" "$tmp/out" ||
    { cat "$tmp/out"; fail "state low space"; }
ok "state folder: not a folder fails, low space warns"
