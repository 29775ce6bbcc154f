#!/usr/bin/env bash
# cishare serve (TAXII 2.1) with taxii2-client as the outside client, on
# the embedded broker: op-power-a publishes 10 010 indicators (CLEAR,
# GREEN, AMBER), op-power-b's feed delivers them (--once), serve reads the
# feed's archive; taxii_serve.py pages through every object, filters,
# and checks 400/401/403/404/406. Then op-power-a revokes one indicator,
# the feed delivers the revocation and the running server serves the
# indicator as revoked. Non-loopback without TLS: exit 2.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="${CISHARE_VENV:?CISHARE_VENV not set (tests/run sets it)}/bin/python"
here="$(cd "$(dirname "$0")" && pwd)"
N=10010

dev_broker 300
PA=(-c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-a")
FB=(-c "$EX/op-power-b.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-b")

python3 - "$tmp/in.jsonl" "$N" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        tlp = "amber" if i < 10 else ("clear", "green")[i % 2]
        f.write(json.dumps({"type": "indicator", "tlp": tlp, "payload": {
            "id": "indicator--00000000-0000-4000-8000-%012x" % i,
            "type": "ipv4", "value": "198.51.%d.%d" % (i // 256 % 256, i % 256),
            "created": "2026-01-01T00:00:00Z",
            "modified": "2026-01-01T00:00:00Z"}}) + "\n")
PY
"$B" publish "${PA[@]}" -a sector:electricity "$tmp/in.jsonl" 2>"$tmp/pub.err" ||
    fail "publish: $(cat "$tmp/pub.err")"
"$B" feed "${FB[@]}" --once --out "$tmp/out-b" 2>"$tmp/feed.err" ||
    fail "feed: $(cat "$tmp/feed.err")"
grep -q "delivered $N," "$tmp/feed.err" || fail "feed: $(cat "$tmp/feed.err")"
ok "$N indicators delivered to op-power-b's feed"

# a MISP feed folder as the misp sink writes it (only its layout matters)
mkdir -p "$tmp/out-b/misp"
echo '{"5f0c0000-0000-4000-8000-000000000001": {"info": "t"}}' \
    >"$tmp/out-b/misp/manifest.json"
echo secret >"$tmp/out-b/secret.txt"
"$B" serve -c "$EX/op-power-b.conf" -X "cishare.serve.users=$EX/serve-users" \
    --state "$tmp/st-b" --listen 127.0.0.1:0 --misp-feed "$tmp/out-b/misp" \
    >"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
pids+=($spid)
# the index of 10 010 messages is built before the start line (a minute
# or more under the sanitizers)
port="$(serve_port "$tmp/serve.err" "$spid" 1800)"
grep -q "collections 4 (feed + labels), $((N + 5)) objects (" "$tmp/serve.err" ||
    fail "start line: $(cat "$tmp/serve.err")"
ok "serve listens on 127.0.0.1:$port, start line names collections and objects"

"$PY" "$here/taxii_serve.py" "http://127.0.0.1:$port" read "$N" ||
    fail "taxii2-client checks (above)"

S=indicator--00000000-0000-4000-8000-000000000007
"$B" revoke "${PA[@]}" --subject "$S" --reason "false positive" >/dev/null \
    2>"$tmp/rev.err" || fail "revoke: $(cat "$tmp/rev.err")"
# another group: the mock cluster would wait out the first member's
# session before a rejoin of the same group
"$B" feed "${FB[@]}" -X group.id=cishare-feed-op-power-b.second --once \
    --out "$tmp/out-b" 2>"$tmp/feed2.err" ||
    fail "feed: $(cat "$tmp/feed2.err")"
grep -q "revocations 1" "$tmp/feed2.err" || fail "feed: $(cat "$tmp/feed2.err")"
"$PY" "$here/taxii_serve.py" "http://127.0.0.1:$port" revoked "$N" "$S" ||
    fail "revoked (above)"

# TLS and client certificates: a throwaway CA, server and client
# certificates (subjects as deploy/pki issues them).
c="$tmp/certs"
mkdir -p "$c"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$c/ca.key" -out "$c/ca.crt" -days 2 \
    -subj "/CN=test CA" 2>/dev/null
openssl req "${ec[@]}" -keyout "$c/srv.key" -out "$c/req.csr" \
    -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in "$c/req.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" \
    -CAcreateserial -days 2 -out "$c/srv.crt" \
    -extfile <(echo "subjectAltName=IP:127.0.0.1") 2>/dev/null
for who in a:op-power-a b:op-power-b; do
    openssl req "${ec[@]}" -keyout "$c/${who%%:*}.key" -out "$c/req.csr" \
        -subj "/O=cishare/OU=participant/CN=${who#*:}" 2>/dev/null
    openssl x509 -req -in "$c/req.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" \
        -CAcreateserial -days 2 -out "$c/${who%%:*}.crt" 2>/dev/null
done
openssl req -x509 "${ec[@]}" -keyout "$c/self.key" -out "$c/self.crt" -days 2 \
    -subj "/O=cishare/OU=participant/CN=op-power-b" 2>/dev/null
"$B" serve -c "$EX/op-power-b.conf" -X "cishare.serve.users=$EX/serve-users" \
    -X "cishare.serve.tls.cert=$c/srv.crt" -X "cishare.serve.tls.key=$c/srv.key" \
    -X "cishare.serve.tls.ca=$c/ca.crt" --state "$tmp/st-b" \
    --listen 127.0.0.1:0 >/dev/null 2>"$tmp/tls.err" &
tpid=$!
pids+=($tpid)
tport="$(serve_port "$tmp/tls.err" "$tpid" 600)"
rc=0
"$PY" "$here/taxii_serve.py" "https://127.0.0.1:$tport" tls "$N" "$c" || rc=$?
kill -TERM "$tpid"
trc=0
wait "$tpid" || trc=$?
[ "$rc" -eq 0 ] || fail "TLS (above)"
[ "$trc" -eq 0 ] || fail "TLS serve exited $trc: $(cat "$tmp/tls.err")"

kill -TERM "$spid"
rc=0
wait "$spid" || rc=$?
[ "$rc" -eq 0 ] || fail "serve exited $rc on SIGTERM: $(cat "$tmp/serve.err")"
grep -q "serve: stopped" "$tmp/serve.err" || fail "no stop line"
ok "SIGTERM: serve stops cleanly (exit 0)"

set +e
"$B" serve -c "$EX/op-power-b.conf" -X "cishare.serve.users=$EX/serve-users" \
    --state "$tmp/st-b" --listen 0.0.0.0:0 >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "non-loopback without TLS: exit $rc"
grep -q "is not a loopback address: TLS is required" "$tmp/err" ||
    fail "non-loopback: $(cat "$tmp/err")"
ok "non-loopback without TLS: exit 2, named"

set +e
echo "x" | "$B" serve --hash-password op-power-b >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "--hash-password without :PARTICIPANT: exit $rc"
line="$(echo "s3cret" | "$B" serve --hash-password u1:op-power-b)"
case "$line" in u1:op-power-b:\$argon2id\$*) ;; *) fail "hash line: $line" ;; esac
ok "--hash-password prints a users-file line"
