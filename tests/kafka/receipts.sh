#!/usr/bin/env bash
# Signed receipts on the real broker (mutual TLS, ACLs from 'cishare
# provision'; consumers/feed.h "Receipts", 'cishare receipts'):
#
#  1. op-power-a publishes a TLP:RED indicator to op-power-b and min-meti,
#     and a mandatory incident notice (TLP:AMBER) to min-meti and the NCO.
#  2. op-power-b's and the NCO's feeds run (--once): each sends one
#     receipt. min-meti's feed does not run.
#  3. op-power-a's feed runs: it delivers the receipts and sends none.
#  4. 'cishare receipts --json': op-power-b received the RED message, the
#     NCO the notice, min-meti "not yet" for both; --pending exits 1; the
#     text shows "not yet"; --message of an unknown id and a missing
#     archive are errors naming them.
#  5. The receipt read with kcat from op-power-a's inbox verifies
#     ('cishare inspect') and names the RED message, signed by op-power-b,
#     with the broker's append time.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

provision_examples
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
red="indicator--$run"
inc="incident--$run"
A=(-c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-op-power-a")

# ---- 1. op-power-a publishes -----------------------------------------------
python3 - "$CISHARE_SRC/schemas/examples/incident-example.json" "$inc" "$now" \
    >"$tmp/notice.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["audience"] = ["participant:min-meti", "participant:nco"]
p = m["payload"]
p.update(id=sys.argv[2], stage="preliminary", legal_basis="mandatory",
         created=sys.argv[3], modified=sys.argv[3], reported_at=sys.argv[3])
print(json.dumps(m, ensure_ascii=False))
EOF
{
    echo '{"type":"indicator","tlp":"red","audience":["participant:op-power-b","participant:min-meti"],"payload":{"id":"'"$red"'","created":"'"$now"'","modified":"'"$now"'","type":"domain","value":"red-'"$nonce"'.example"}}'
    cat "$tmp/notice.json"
} >"$tmp/pub.jsonl"
"$B" publish "${A[@]}" "$tmp/pub.jsonl" 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
grep -q "published 2, rejected 0" "$tmp/pub.err" || fail "publish: $(cat "$tmp/pub.err")"
ok "op-power-a published a RED indicator and a mandatory incident notice"

# ---- 2, 3. feeds ------------------------------------------------------------
feed() { # participant
    "$B" feed -c "$EX/$1.conf" "${X[@]}" -X "group.id=cishare-feed-$1.rc-$nonce" \
        -X "cishare.state-dir=$tmp/st-$1" --once --from-beginning \
        --out "$tmp/feed-$1" >/dev/null 2>"$tmp/feed-$1.err" ||
        { cat "$tmp/feed-$1.err"; fail "feed of $1"; }
}
# The topics keep earlier runs' messages (and other tests'): the checks
# look at this run's subjects.
feed op-power-b
grep -Eq "receipts sent [1-9]" "$tmp/feed-op-power-b.err" ||
    fail "op-power-b's feed: $(cat "$tmp/feed-op-power-b.err")"
feed nco
grep -Eq "receipts sent [1-9]" "$tmp/feed-nco.err" ||
    fail "nco's feed: $(cat "$tmp/feed-nco.err")"
ok "op-power-b's and the NCO's feeds sent receipts (min-meti's is stopped)"
feed op-power-a
# no receipt for a receipt, whoever sent it (op-power-a's own receipts of
# earlier runs come back through its inbox)
python3 - "$tmp"/feed-*/feed.jsonl <<'EOF' || fail "a receipt for a receipt"
import json, sys
for f in sys.argv[1:]:
    for l in open(f):
        m = json.loads(l)
        if m["type"] == "receipt":
            assert m["payload"]["receipt_of_type"] != "receipt", m
EOF
ok "op-power-a's feed delivered the receipts; no receipt for a receipt"

# ---- 4. cishare receipts ------------------------------------------------------
"$B" receipts "${A[@]}" --json >"$tmp/r.json" 2>"$tmp/r.err" ||
    { cat "$tmp/r.err"; fail "receipts --json"; }
python3 - "$tmp/r.json" "$red" "$inc" <<'EOF' || fail "receipts: $(cat "$tmp/r.json")"
import json, sys
d = json.load(open(sys.argv[1]))
by = {m["subject"]: m for m in d["messages"]}
assert sys.argv[2] in by and sys.argv[3] in by, by.keys()
def rec(m):
    return {r["participant"]: r for r in m["recipients"]}
r = rec(by[sys.argv[2]])
assert set(r) == {"op-power-b", "min-meti"}, r
assert r["op-power-b"]["received"] and r["op-power-b"]["delivered_at"], r
assert r["op-power-b"]["appended_at"], r  # LogAppendTime on cishare topics
assert not r["min-meti"]["received"], r
assert by[sys.argv[2]]["tlp"] == "red" and by[sys.argv[2]]["type"] == "indicator"
n = rec(by[sys.argv[3]])
assert n["nco"]["received"] and not n["min-meti"]["received"], n
assert by[sys.argv[2]]["pending"] == 1 and by[sys.argv[3]]["pending"] == 1
assert d["pending"] >= 2, d["pending"]
assert not by[sys.argv[2]]["unexpected"] and not by[sys.argv[3]]["unexpected"]
EOF
ok "receipts --json: op-power-b and the NCO received, min-meti not yet"

mid="$(python3 -c "import json; d=json.load(open('$tmp/r.json')); print([m for m in d['messages'] if m['subject']=='$red'][0]['message_id'])")"
rc=0
"$B" receipts "${A[@]}" --pending --message "$mid" >"$tmp/r.txt" 2>"$tmp/r.err" || rc=$?
[ "$rc" = 1 ] || fail "receipts --pending exited $rc, not 1"
[ "$(grep -c "^$mid " "$tmp/r.txt")" = 1 ] || fail "--message: $(cat "$tmp/r.txt")"
grep -Eq "^ +min-meti +not yet" "$tmp/r.txt" || fail "text: $(cat "$tmp/r.txt")"
grep -Eq "^ +op-power-b +received .*broker time 20" "$tmp/r.txt" ||
    fail "text: $(cat "$tmp/r.txt")"
ok "receipts --pending exits 1; the text shows min-meti not yet"

rc=0
"$B" receipts "${A[@]}" --message "no-such-$nonce" >/dev/null 2>"$tmp/r.err" || rc=$?
[ "$rc" = 1 ] && grep -q "no-such-$nonce" "$tmp/r.err" ||
    fail "unknown --message: exit $rc, $(cat "$tmp/r.err")"
rc=0
"$B" receipts -c "$EX/op-power-a.conf" "${X[@]}" --archive "$tmp/none.db" \
    >/dev/null 2>"$tmp/r.err" || rc=$?
[ "$rc" = 1 ] && grep -q "$tmp/none.db" "$tmp/r.err" && grep -q "feed" "$tmp/r.err" ||
    fail "missing archive: exit $rc, $(cat "$tmp/r.err")"
ok "an unknown --message and a missing archive are errors naming them"

# ---- 5. the receipt on the wire --------------------------------------------------
kca=(-F "$(kcat_conf op-power-a)")
at="$(kcat "${kca[@]}" -C -t cishare.inbox.op-power-a -o beginning -e -q \
    -f '%p %o %k %h\n' |
    awk -v k="$mid" '$3 == k && ($4 == "cishare=receipt" || index($4, "cishare.type=receipt,")) { print $1, $2 }' |
    tail -1)"
[ -n "$at" ] || fail "no receipt with key $mid on cishare.inbox.op-power-a"
kcat "${kca[@]}" -C -t cishare.inbox.op-power-a -p "${at% *}" -o "${at#* }" -c 1 -q \
    -f '%K %k\n%h\n%S %s\n' >"$tmp/rec.kcat"
"$B" inspect -d "$EX/directory.yaml" --json "$tmp/rec.kcat" >"$tmp/rec.json" ||
    { cat "$tmp/rec.json"; fail "inspect: the receipt does not verify"; }
python3 - "$tmp/rec.json" "$mid" "$red" <<'EOF' || fail "receipt: $(cat "$tmp/rec.json")"
import json, sys
d = json.load(open(sys.argv[1]))
e, p = d["envelope"], d["payload"]
assert d["verified"] and e["origin"] == "op-power-b" and e["type"] == "receipt", e
assert e["tlp"] == "amber", e
assert p["receipt_of"] == sys.argv[2] and p["receipt_of_origin"] == "op-power-a", p
assert p["receipt_of_subject"] == sys.argv[3] and p["receipt_of_tlp"] == "red", p
assert p["receipt_of_type"] == "indicator" and p["topic"] == "cishare.inbox.op-power-b", p
assert p["appended_at"] and p["delivered_at"] and p["offset"] >= 0, p
EOF
ok "the receipt on op-power-a's inbox verifies: op-power-b's, for the RED message"
