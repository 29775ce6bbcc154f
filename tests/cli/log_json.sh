#!/usr/bin/env bash
# JSON logs (README "Logs"): a feed on the embedded broker reads a genuine
# message and a tampered copy of it. With CISHARE_LOG_FORMAT=json,
# --log-format json (before or after the command) or the config key
# cishare.log.format=json, every stderr line is a JSON object with time,
# level and component, and the quarantine line carries the copy's message
# id and the reason the summary and the metrics use. Text stays the
# default and wins over the environment when asked for; a bad value is a
# usage error naming it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="${CISHARE_VENV:?}/bin/python"

# Bad values: exit 2, the error names the value and where it came from.
for args in "--log-format xml feed" "feed --log-format=xml" "--log-format"; do
    set +e
    # shellcheck disable=SC2086
    "$B" $args >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    [ "$rc" = 2 ] || fail "cishare $args: exit $rc, want 2"
    grep -q "^% ERROR: --log-format: expected json or text" "$tmp/err" ||
        { cat "$tmp/err"; fail "cishare $args: no clear error"; }
done
set +e
CISHARE_LOG_FORMAT=xml "$B" feed --help >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "CISHARE_LOG_FORMAT: expected json or text, not 'xml'" \
    "$tmp/err" || { cat "$tmp/err"; fail "CISHARE_LOG_FORMAT=xml: exit $rc"; }
set +e
"$B" feed -c "$EX/op-power-b.conf" -X cishare.log.format=xml --once \
    >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "cishare.log.format: expected json or text, not 'xml'" \
    "$tmp/err" || { cat "$tmp/err"; fail "cishare.log.format=xml: exit $rc"; }
"$B" feed --help >"$tmp/help"
grep -q "cishare.log.format" "$tmp/help" || fail "feed --help: no key"
ok "a bad format (option, environment, config) is a usage error naming it"

"$B" dev-broker -w "$tmp/bs" -t 300 >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/bs" ] && break; sleep 0.1; done
bs="$(cat "$tmp/bs")"

echo 198.51.100.7 >"$tmp/ips.txt"
"$B" publish -c "$EX/op-power-a.conf" -X "bootstrap.servers=$bs" \
    -X security.protocol=plaintext -X "cishare.state-dir=$tmp/state-a" \
    -f text --tlp green -a sector:electricity "$tmp/ips.txt" \
    2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish"; }
# The tampered copy: the message's headers, one value byte flipped. Its
# id (in cishare.env, or cishare.id in layout 1) is what the JSON line
# must name.
"$PY" - "$bs" >"$tmp/tampered.id" <<'PY'
import sys
from confluent_kafka import Consumer, Producer
t = "cishare.green.electricity"
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "log-json-grab",
              "auto.offset.reset": "earliest"})
c.subscribe([t])
m = None
for _ in range(100):
    m = c.poll(0.2)
    if m is not None and not m.error():
        break
assert m is not None and not m.error(), "no message to tamper with"
c.close()
hdrs = m.headers()
v = bytearray(m.value())
v[len(v) // 2] ^= 0x01
p = Producer({"bootstrap.servers": sys.argv[1]})
p.produce(t, key=m.key(), value=bytes(v), headers=hdrs,
          partition=m.partition())
assert p.flush(10) == 0
import os
sys.path.insert(0, os.environ["CISHARE_SRC"] + "/tests/kafka")
from cishare_env import fields  # either header layout
print(fields(hdrs)["id"])
PY
id="$(cat "$tmp/tampered.id")"
[ -n "$id" ] || fail "no id of the tampered copy"

n=0
feeds=()
# start_feed NAME [ENV=V...] -- [ARGS...]: a feed --once of its own state
# and group, in the background (they run side by side)
start_feed() {
    local name="$1" envs=()
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    n=$((n + 1))
    env "${envs[@]}" "$B" "$@" -c "$EX/op-power-b.conf" \
        -X "bootstrap.servers=$bs" -X security.protocol=plaintext \
        -X session.timeout.ms=6000 -X "group.id=log-json-$n" \
        -X "cishare.state-dir=$tmp/state-b$n" --out "$tmp/out$n" --once \
        2>"$tmp/$name.err" &
    feeds+=("$name:$!")
}

# check_json NAME: every line an object with the fields; the quarantine
# line names the tampered copy and the summary's reason.
check_json() {
    "$PY" - "$tmp/$1.err" "$id" <<'PY' || fail "$1: JSON lines (above)"
import json, re, sys
path, want_id = sys.argv[1], sys.argv[2]
lines = open(path, encoding="utf-8").read().splitlines()
assert lines, "no log lines"
objs = []
for l in lines:
    try:
        o = json.loads(l)
    except ValueError:
        raise AssertionError(f"not JSON: {l!r}")
    assert isinstance(o, dict), l
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), l
    assert o["level"] in ("error", "warn", "info", "debug"), l
    assert o["component"] == "feed", l
    assert isinstance(o["message"], str), l
    objs.append(o)
q = [o for o in objs if o["message"].startswith("quarantined ")]
assert len(q) == 1, f"want one quarantine line: {lines}"
q = q[0]
summ = [o["message"] for o in objs if o["message"].startswith("feed summary")]
assert summ, f"no summary line: {lines}"
m = re.search(r"quarantined 1 \(([a-z-]+) 1\)", summ[0])
assert m, summ[0]
assert q["reason"] == m.group(1) == "bad-signature", (q, summ[0])
assert q["msg_id"] == want_id, (q, want_id)
assert q["level"] == "warn", q
assert q["origin"] == "op-power-a", q
assert q["topic"] == "cishare.green.electricity", q
assert isinstance(q["partition"], int) and isinstance(q["offset"], int), q
print(f"# {json.dumps(q)}")
PY
}

start_feed env CISHARE_LOG_FORMAT=json -- feed
start_feed before -- --log-format json feed
start_feed after -- feed --log-format=json
start_feed conf -- feed -X cishare.log.format=json
start_feed text -- feed
start_feed over CISHARE_LOG_FORMAT=json -- feed --log-format text
# A broker that is not there: Kafka's errors (and librdkafka's own lines)
# are JSON too, with a reason code. SIGTERM after a few seconds.
CISHARE_LOG_FORMAT=json timeout 5 "$B" feed -c "$EX/op-power-b.conf" \
    -X bootstrap.servers=127.0.0.1:1 -X security.protocol=plaintext \
    -X "cishare.state-dir=$tmp/state-down" --out "$tmp/out-down" \
    2>"$tmp/down.err" &
down=$!
for f in "${feeds[@]}"; do
    wait "${f#*:}" || { cat "$tmp/${f%%:*}.err"; fail "feed (${f%%:*})"; }
done

wait "$down" || true
"$PY" - "$tmp/down.err" <<'PY' || fail "unreachable broker: JSON lines (above)"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
objs = [json.loads(l) for l in lines]
assert all(o["component"] == "feed" and o["level"] for o in objs), lines
k = [o for o in objs if o.get("reason") == "broker-unreachable"]
assert k and k[0]["level"] == "warn" and k[0]["kafka_error"], lines
print(f"# {json.dumps(k[0])}")
PY
ok "an unreachable broker: JSON lines, reason broker-unreachable"
check_json env
ok "CISHARE_LOG_FORMAT=json: JSON lines; the quarantine names id and reason"
check_json before
check_json after
ok "--log-format json before and after the command"
check_json conf
ok "cishare.log.format=json"

# Text: the default, and --log-format text over the environment.
for f in text over; do
    grep -q "^% quarantined cishare.green.electricity \[[0-9]*\] @[0-9]*: bad-signature: " \
        "$tmp/$f.err" || { cat "$tmp/$f.err"; fail "$f: quarantine line"; }
    grep -q "^{" "$tmp/$f.err" && fail "$f: a JSON line"
    grep -q "^% feed summary: delivered 1, .*quarantined 1 (bad-signature 1)" \
        "$tmp/$f.err" || { cat "$tmp/$f.err"; fail "$f: summary"; }
done
ok "text is the default and --log-format text wins over the environment"

# serve: its lines and libmicrohttpd's (a plain HTTP request on its TLS
# port) are JSON objects too.
c="$tmp/certs"
mkdir -p "$c"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$c/srv.key" -out "$c/srv.crt" -days 2 -subj "/CN=localhost" \
    2>/dev/null
CISHARE_LOG_FORMAT=json "$B" serve -c "$EX/op-power-b.conf" \
    -X "cishare.serve.users=$EX/serve-users" \
    -X "cishare.serve.tls.cert=$c/srv.crt" -X "cishare.serve.tls.key=$c/srv.key" \
    --state "$tmp/state-b1" --listen 127.0.0.1:0 2>"$tmp/serve.err" &
spid=$!
pids+=($spid)
port="$(serve_port "$tmp/serve.err" "$spid")"
"$PY" - "$port" <<'PY' || true
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/taxii2/", timeout=3)
except Exception:
    pass
PY
for _ in $(seq 50); do
    [ "$(wc -l <"$tmp/serve.err")" -ge 2 ] && break
    sleep 0.1
done
kill "$spid"
wait "$spid" || fail "serve did not stop cleanly"
"$PY" - "$tmp/serve.err" <<'PY' || fail "serve: JSON lines (above)"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
objs = [json.loads(l) for l in lines]
assert all(o["component"] == "serve" for o in objs), lines
assert any(o["level"] == "warn" for o in objs), f"no MHD line: {lines}"
assert objs[-1]["message"] == "serve: stopped", lines
PY
ok "serve and libmicrohttpd write JSON lines"
