#!/usr/bin/env bash
# Envelope header layouts on the embedded broker (cishare dev-broker):
# - a publisher writes layout 2 by default (headers "cishare" with
#   "<type> <tlp> <origin>" in plain text, and the binary "cishare.env"),
#   and layout 1 (one text header per field) with
#   -X cishare.envelope.version=1, for feeds of older releases;
# - a feed verifies and delivers both, from one topic;
# - a bad cishare.envelope.version or cishare.sign.batch is a usage error
#   (exit 2) naming the key;
# - cishare.sign.batch bounds the batch: 5 records signed in batches of 2
#   carry counts of at most 2 in their signatures.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="${CISHARE_VENV:?}/bin/python"

dev_broker 300
F=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
export XDG_STATE_HOME="$tmp/xdg"

ind() { # N: a native indicator line
    printf '{"type":"indicator","tlp":"green","audience":["sector:electricity"],"payload":{"id":"indicator--00000000-0000-4000-8000-%012d","type":"ipv4","value":"192.0.2.%d","created":"2026-11-01T00:00:00Z","modified":"2026-11-02T00:00:00Z"}}\n' "$1" "$1"
}
for n in 1 2 3; do ind "$n"; done >"$tmp/v2.jsonl"
for n in 4 5 6; do ind "$n"; done >"$tmp/v1.jsonl"
for n in 7 8 9 10 11; do ind "$n"; done >"$tmp/b2.jsonl"
publish() { # ARGS...: publish as op-power-a
    "$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/pub" \
        "$@" >"$tmp/pub.out" 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish $*"; }
}

# bad values: usage errors naming the key, nothing published
for kv in cishare.envelope.version=3 cishare.sign.batch=0 cishare.sign.batch=1025; do
    set +e
    "$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/pub" \
        -X "$kv" "$tmp/v2.jsonl" >/dev/null 2>"$tmp/bad.err"
    rc=$?
    set -e
    [ "$rc" = 2 ] || { cat "$tmp/bad.err"; fail "-X $kv: exit $rc, want 2"; }
    grep -q "${kv%%=*}" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "-X $kv: key not named"; }
done
ok "bad cishare.envelope.version / cishare.sign.batch: exit 2 naming the key"

publish "$tmp/v2.jsonl"
publish -X cishare.envelope.version=1 "$tmp/v1.jsonl"
publish -X cishare.sign.batch=2 "$tmp/b2.jsonl"

# What is on the wire, message by message.
"$PY" - "$bs" >"$tmp/wire.txt" <<'PY'
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "layouts-grab",
              "auto.offset.reset": "earliest"})
c.subscribe(["cishare.green.electricity"])
got = []
for _ in range(200):
    m = c.poll(0.2)
    if m is None or m.error():
        if len(got) >= 11:
            break
        continue
    got.append(m)
c.close()
for m in got:
    names = [h[0] for h in m.headers()]
    h = dict(m.headers())
    if names == ["cishare", "cishare.env"]:
        env = h["cishare.env"]
        print("v2", h["cishare"].decode(), env[0], len(env), m.key().decode())
    elif "cishare.id" in h and "cishare" not in h and "cishare.env" not in h:
        print("v1", h["cishare.type"].decode(), h["cishare.tlp"].decode(),
              h["cishare.origin"].decode(), len(names), m.key().decode())
    else:
        print("other", names)
PY
[ "$(grep -c '^v2 indicator green op-power-a 2 ' "$tmp/wire.txt")" = 8 ] ||
    { cat "$tmp/wire.txt"; fail "want 8 layout 2 messages with the label in plain text"; }
[ "$(grep -c '^v1 indicator green op-power-a 11 ' "$tmp/wire.txt")" = 3 ] ||
    { cat "$tmp/wire.txt"; fail "want 3 layout 1 messages of 11 headers (no expiry)"; }
! grep -q '^other' "$tmp/wire.txt" || { cat "$tmp/wire.txt"; fail "a message of another layout"; }
ok "layout 2 by default (plain-text label), layout 1 with cishare.envelope.version=1"

# batch of 2: every blob of b2.jsonl has a count <= 2, so a path of at most
# one hash; a batch of 3 (v2.jsonl, the default batch) has 2-hash paths
"$PY" - "$tmp/wire.txt" <<'PY' || fail "cishare.sign.batch=2: blob sizes"
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("v2 ")]
size = {r[-1]: int(r[-2]) for r in rows}
small = [k for k in size if int(k[-12:]) >= 7]
big = [k for k in size if int(k[-12:]) <= 3]
assert len(small) == 5 and len(big) == 3, size
# same fixed part: only the path differs (32 bytes per hash)
assert max(size[k] for k in small) <= min(size[k] for k in big), size
assert max(size[k] for k in big) - min(size[k] for k in small) == 64, size
PY
ok "cishare.sign.batch=2: audit paths of at most one hash"

# cishare inspect reads kcat's output of both layouts (kcat -f
# '%K %k\n%h\n%S %s\n' prints header values raw: the binary cishare.env
# may hold ',' or '\n', and inspect finds its end from its own fields).
"$PY" - "$bs" "$tmp" <<'PY' || fail "kcat files"
import base64, json, sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "layouts-kcat",
              "auto.offset.reset": "earliest"})
c.subscribe(["cishare.green.electricity"])
n = tricky = 0
for _ in range(200):
    m = c.poll(0.2)
    if m is None or m.error():
        if n >= 11:
            break
        continue
    h = b",".join(k.encode() + b"=" + v for k, v in m.headers())
    k, v = m.key(), m.value()
    env = dict(m.headers()).get("cishare.env", b"")
    tricky += b"\n" in env or b"," in env
    with open(f"{sys.argv[2]}/m{n}.kcat", "wb") as f:
        f.write(b"%d %s\n%s\n%d %s\n" % (len(k), k, h, len(v), v))
    # and inspect's JSON form: a binary value as {"base64": ...}
    js = {"key": k.decode(), "value_b64": base64.b64encode(v).decode(),
          "headers": [[name, val.decode() if name != "cishare.env" else
                       {"base64": base64.b64encode(val).decode()}]
                      for name, val in m.headers()]}
    json.dump(js, open(f"{sys.argv[2]}/m{n}.json", "w"))
    i = h.find(b"cishare.env=")
    if i >= 0:  # cut 30 bytes into its value
        with open(f"{sys.argv[2]}/cut.kcat", "wb") as f:
            f.write(b"%d %s\n%s\n%d %s\n" % (len(k), k, h[:i + 42], len(v), v))
    n += 1
c.close()
assert n == 11, n
print(f"# {tricky} of the layout 2 values hold ',' or a newline")
assert tricky >= 1
PY
for n in $(seq 0 10); do
    for f in "m$n.kcat" "m$n.json"; do
        "$B" inspect -d "$EX/directory.yaml" "$tmp/$f" >"$tmp/inspect.out" 2>&1 ||
            { cat "$tmp/inspect.out"; fail "inspect $f"; }
        grep -q "verification: verified: origin op-power-a" "$tmp/inspect.out" ||
            { cat "$tmp/inspect.out"; fail "inspect $f: not verified"; }
    done
done
# a cut layout 2 value (what kcat would print of one with a NUL): refused
# as bad input, naming the header
set +e
"$B" inspect -d "$EX/directory.yaml" "$tmp/cut.kcat" >"$tmp/inspect.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "cishare.env" "$tmp/inspect.out" ||
    { cat "$tmp/inspect.out"; fail "cut cishare.env: exit $rc, want 2 naming it"; }
ok "cishare inspect verifies kcat output and JSON ({\"base64\"}) of both layouts; a cut value is bad input"

# The feed verifies and delivers both layouts.
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" "${F[@]}" --once --out "$tmp/feed" \
    2>"$tmp/feed.err" || { cat "$tmp/feed.err"; fail "feed"; }
[ "$(wc -l <"$tmp/feed/feed.jsonl")" = 11 ] ||
    { cat "$tmp/feed.err"; fail "feed: $(wc -l <"$tmp/feed/feed.jsonl") delivered, want 11"; }
grep -q "delivered 11, duplicates 0, withheld 0, quarantined 0" "$tmp/feed.err" ||
    { cat "$tmp/feed.err"; fail "feed summary"; }
for n in 1 4 7; do
    grep -q "\"value\":\"192.0.2.$n\"" "$tmp/feed/feed.jsonl" ||
        fail "feed: record $n not delivered"
done
ok "a feed verifies and delivers layout 1 and layout 2 messages from one topic"
