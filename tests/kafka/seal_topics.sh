#!/usr/bin/env bash
# Per-topic sealing on the real broker (cishare.seal.per-topic, the
# default; schemas/README.md, "Encryption"): the NCO publishes three
# AMBER+STRICT indicators to sector:electricity and sector:gas.
#
#  1. Each message is on cishare.amber-strict.electricity and on
#     cishare.amber-strict.gas with the same key and message id and two
#     different sealed values (each copy sealed for its topic's readers),
#     each copy signed (read with confluent-kafka, not cishare).
#  2. min-meti reads both topics (both sectors are its): its feed
#     delivers each message once (the second copy is a duplicate) and
#     quarantines none of the copies; its lines carry the plaintext.
#  3. op-gas-a and op-power-b each read one of the topics and deliver
#     the three; op-bank-a (finance) delivers none of them.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC, CISHARE_VENV.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
py="${CISHARE_VENV:?set by tests/run (venv with confluent-kafka)}/bin/python"

provision_examples
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for i in 1 2 3; do
    echo '{"type":"indicator","payload":{"id":"indicator--'"$nonce"'-5ea1-4000-8000-00000000000'"$i"'","created":"'"$now"'","modified":"'"$now"'","type":"domain","value":"sealed-'"$nonce-$i"'.example"}}'
done >"$tmp/pub.jsonl"
"$B" publish -c "$EX/nco.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-nco" \
    --tlp amber+strict --audience sector:electricity,sector:gas \
    "$tmp/pub.jsonl" 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish"; }
grep -q "published 3, rejected 0" "$tmp/pub.err" || fail "publish: $(cat "$tmp/pub.err")"
ok "the NCO published three AMBER+STRICT indicators to two sectors"

# ---- 1. two copies, two values ----------------------------------------------
"$py" - "$CISHARE_KAFKA_ADMIN_CONF" "$nonce" <<'EOF' || fail "the two topics' copies"
import os, sys, hashlib
sys.path.insert(0, os.environ["CISHARE_SRC"] + "/tests/kafka")
from cishare_env import records
def copies(topic):
    out = {}
    for m in records(sys.argv[1], topic, "seal-topics"):
        if m.key() and sys.argv[2] in m.key().decode():
            h = dict(m.headers())
            assert "cishare.env" in h, f"{topic}: no cishare.env header"
            assert h["cishare"].startswith(b"indicator amber+strict nco"), h["cishare"]
            out[m.key()] = (hashlib.sha256(m.value()).hexdigest(), h["cishare.env"])
    return out
e = copies("cishare.amber-strict.electricity")
g = copies("cishare.amber-strict.gas")
assert len(e) == 3 and e.keys() == g.keys(), (len(e), len(g))
for k in e:
    assert e[k][0] != g[k][0], f"{k}: the same sealed value on both topics"
    assert e[k][1] != g[k][1], f"{k}: the same signature on both copies"
print("# 3 subjects, each on both topics with its own sealed value and signature")
EOF
ok "each message is on both sector topics, sealed and signed per topic"

# ---- 2, 3. feeds --------------------------------------------------------------
feed() { # participant
    "$B" feed -c "$EX/$1.conf" "${X[@]}" -X "group.id=cishare-feed-$1.st-$nonce" \
        -X "cishare.state-dir=$tmp/st-$1" --once --from-beginning \
        --out "$tmp/feed-$1" >/dev/null 2>"$tmp/feed-$1.err" ||
        { cat "$tmp/feed-$1.err"; fail "feed of $1"; }
}
lines() { # participant: this run's messages in its feed.jsonl
    grep -c "sealed-$nonce-" "$tmp/feed-$1/feed.jsonl" || true
}
feed min-meti
[ "$(lines min-meti)" = 3 ] ||
    fail "min-meti delivered $(lines min-meti) of the 3 (each once): $(cat "$tmp/feed-min-meti.err")"
# The broker is shared: other tests' forged messages are quarantined;
# none of this run's copies may be.
quarantined() { # participant: this run's messages in its quarantine
    cat "$tmp/feed-$1/quarantine.jsonl" 2>/dev/null | grep -c "$nonce-5ea1" || true
}
[ "$(quarantined min-meti)" = 0 ] ||
    fail "min-meti quarantined $(quarantined min-meti) copies of this run's messages"
for i in 1 2 3; do
    [ "$(grep -c "sealed-$nonce-$i.example" "$tmp/feed-min-meti/feed.jsonl")" = 1 ] ||
        fail "min-meti: message $i not delivered exactly once"
done
ok "min-meti (both topics) delivered each message once, decrypted, the second copies duplicates"

for p in op-gas-a op-power-b; do
    feed "$p"
    [ "$(lines "$p")" = 3 ] || fail "$p delivered $(lines "$p") of the 3"
    [ "$(quarantined "$p")" = 0 ] ||
        fail "$p quarantined $(quarantined "$p") copies of this run's messages"
done
ok "op-gas-a and op-power-b (one topic each) delivered the three"
feed op-bank-a
[ "$(lines op-bank-a)" = 0 ] || fail "op-bank-a (finance) got $(lines op-bank-a)"
ok "op-bank-a delivered none of them"
