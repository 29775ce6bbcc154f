#!/usr/bin/env bash
# cishare misp-bridge on the real broker: a fake MISP (confluent-kafka, the
# admin certificate) writes MISP's event publish notifications, built from
# the real samples, to a topic; the bridge publishes them as op-power-a.
#
#  1. The public event (tlp:white) reaches op-power-b and op-bank-a; the
#     event MISP keeps to "your organisation only" (distribution 0:
#     AMBER+STRICT, default audience op-power-a's sector) reaches
#     op-power-b (same sector) and not op-bank-a (finance). Both feeds
#     verify the signatures (origin op-power-a). No attribute with
#     to_ids false is published. A deletion notification publishes
#     nothing; the two malformed messages are reported with topic,
#     partition and offset, kept in the quarantine file, and the bridge
#     goes on.
#  2. A second run of the bridge (same group: offsets committed) reads
#     nothing and publishes nothing.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC, CISHARE_SAMPLES,
# CISHARE_VENV (confluent-kafka).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="${CISHARE_VENV:?}/bin/python"
S="${CISHARE_SAMPLES:?}"

provision_examples
topic="misp_event_publish.$nonce"
"$PY" "$(dirname "${BASH_SOURCE[0]}")/misp_bridge.py" "$CISHARE_KAFKA_ADMIN_CONF" \
    "$topic" "$S" "$nonce" "$tmp/expect.json" || fail "fake MISP"

# MISP's Kafka is the test broker here (the admin certificate); in real
# life it is MISP's own cluster.
{ cat "$CISHARE_KAFKA_ADMIN_CONF"; echo "group.id=cishare-misp-bridge.$nonce"; } >"$tmp/misp.conf"
run_bridge() { # a bounded run
    timeout 120 "$B" misp-bridge -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-a" \
        --misp-conf "$tmp/misp.conf" --topic "$topic" --once
}
set +e
run_bridge >"$tmp/b1.out" 2>"$tmp/b1.err"
rc=$?
set -e
# 1: the malformed messages are refusals
[ "$rc" -eq 1 ] || { cat "$tmp/b1.err"; fail "bridge exit $rc, want 1 (malformed messages)"; }
grep -q "% ERROR: $topic\[0\]@3: malformed MISP message: not JSON" "$tmp/b1.err" ||
    { cat "$tmp/b1.err"; fail "the non-JSON message is not reported with its offset"; }
grep -q "% ERROR: $topic\[0\]@4: malformed MISP message: not a MISP event publish notification" "$tmp/b1.err" ||
    { cat "$tmp/b1.err"; fail "the message without Event is not reported with its offset"; }
python3 - "$tmp/st-a/misp-bridge-rejected.jsonl" "$topic" <<'EOF' || fail "quarantine file"
import json, sys
q = [json.loads(l) for l in open(sys.argv[1])]
assert [(m["topic"], m["partition"], m["offset"]) for m in q] == \
    [(sys.argv[2], 0, 3), (sys.argv[2], 0, 4)], q
assert q[0]["value"].startswith('{"Event": {"uuid": "truncated'), q[0]
EOF
grep -q "% $topic\[0\]@2: event [0-9a-f-]*: published 0, rejected 0, failed 0, skipped 1; committed" "$tmp/b1.err" ||
    { cat "$tmp/b1.err"; fail "the deletion notification"; }
grep -q "% misp-bridge: published [1-9][0-9]*, rejected 2, failed 0" "$tmp/b1.err" ||
    { cat "$tmp/b1.err"; fail "summary"; }
ok "bridge: events published, deletion skipped, malformed messages reported, counted and quarantined"

feed() { # participant
    "$B" feed -c "$EX/$1.conf" "${X[@]}" -X "group.id=cishare-feed-$1.mb-$nonce" \
        -X "cishare.state-dir=$tmp/st-$1" --once --from-beginning -f jsonl --out "$tmp/feed-$1" \
        >/dev/null 2>"$tmp/feed-$1.err" || { cat "$tmp/feed-$1.err"; fail "feed of $1"; }
}
feed op-power-b
feed op-bank-a
python3 - "$tmp/expect.json" "$tmp/feed-op-power-b/feed.jsonl" "$tmp/feed-op-bank-a/feed.jsonl" <<'EOF' || fail "feeds"
import json, sys
exp = json.load(open(sys.argv[1]))
def got(path):
    out = {}
    for l in open(path):
        m = json.loads(l)
        if m["type"] == "indicator":
            out[m["payload"]["id"]] = m
    return out
b, bank = got(sys.argv[2]), got(sys.argv[3])
def ids(kind, to_ids):
    return {i for i, t in exp[kind] if t == to_ids}
bad = 0
for name, feed, kinds in (("op-power-b", b, ("clear", "strict")), ("op-bank-a", bank, ("clear",))):
    for k in kinds:
        missing = ids(k, True) - feed.keys()
        if missing:
            print(f"{name} lacks {len(missing)} to_ids:true indicators of the {k} event: {sorted(missing)[:3]}")
            bad += 1
        for i in ids(k, True):
            m = feed.get(i)
            if m and (m["origin"] != "op-power-a" or
                      m["tlp"] != ("clear" if k == "clear" else "amber+strict")):
                print(f"{name}: {i}: origin {m['origin']}, tlp {m['tlp']}")
                bad += 1
    for k in ("clear", "strict", "deleted"):
        leaked = ids(k, False) & feed.keys()
        if leaked:
            print(f"{name} got {len(leaked)} to_ids:false attributes of the {k} event: {sorted(leaked)[:3]}")
            bad += 1
    if ids("deleted", True) & feed.keys():
        print(f"{name} got indicators of the deletion notification")
        bad += 1
strict_at_bank = {i for i, _ in exp["strict"]} & bank.keys()
if strict_at_bank:
    print(f"op-bank-a got {len(strict_at_bank)} AMBER+STRICT indicators of electricity")
    bad += 1
sys.exit(1 if bad else 0)
EOF
ok "feeds: op-power-b gets both events, op-bank-a only the public one; signed by op-power-a; no to_ids:false attribute"

set +e
run_bridge >"$tmp/b2.out" 2>"$tmp/b2.err"
rc=$?
set -e
[ "$rc" -eq 0 ] || { cat "$tmp/b2.err"; fail "second run: exit $rc"; }
grep -q "% misp-bridge: published 0, rejected 0, failed 0, skipped 0$" "$tmp/b2.err" ||
    { cat "$tmp/b2.err"; fail "second run published something"; }
ok "a second run after the offsets were committed publishes nothing"
