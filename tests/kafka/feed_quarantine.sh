#!/usr/bin/env bash
# cishare feed quarantines invalid messages in the middle of a stream and
# goes on, on the real broker. In jpcert's inbox (a security organisation,
# which operators of any sector may name at AMBER):
#   S_f  genuine AMBER indicator from op-bank-a
#   S_t  genuine AMBER indicator from op-power-a
#   forged   S_f's bytes re-produced by admin (kcat) claiming origin
#            op-power-a (origin, sector and key id headers changed): a
#            message signed by the wrong key for its claimed origin
#   tampered S_t re-produced with one value byte flipped, headers kept
#   then new versions of S_f and S_t (same keys, so the same partitions,
#   after the injected copies) and four more indicators.
# The feed (a second --once run of one group, so it reads exactly these)
# must deliver the 8 genuine messages, quarantine the 2 others with a
# reason code, their raw value in base64 (byte-exact), and print
# "quarantined 2" in its summary.
# A changed TLP header is case 6 of tests/kafka/enforcement.sh (not
# repeated here). Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
inbox=cishare.inbox.jpcert

provision_examples
group="cishare-feed-jpcert.quarantine-$nonce"
out="$tmp/out"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
feed() { # LOG
    "$B" feed -c "$EX/jpcert.conf" "${X[@]}" -X "group.id=$group" --once \
        --out "$out" >/dev/null 2>"$1" || { cat "$1"; fail "feed"; }
}
publish() { # ORIGIN SUBJECT VALUE [publish options]
    printf '{"type":"indicator","tlp":"amber","audience":["participant:jpcert"],"payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"%s"}}\n' \
        "$2" "$now" "$now" "$3" >"$tmp/msg.json"
    "$B" publish -c "$EX/$1.conf" "${X[@]}" "${@:4}" "$tmp/msg.json" >/dev/null \
        2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish as $1"; }
}

# The group first reads what is there already (other tests' data).
feed "$tmp/feed0.err"

sf="indicator--$(uuid)"
st="indicator--$(uuid)"
# Header layout 1 (still read) for the two to forge: kcat -H re-produces
# text headers only, not layout 2's binary cishare.env.
V1=(-X cishare.envelope.version=1)
publish op-bank-a "$sf" "f1-$nonce.example" "${V1[@]}"
publish op-power-a "$st" "t1-$nonce.example" "${V1[@]}"

# locate KEY: "partition offset" of the last record with that key.
locate() {
    kcat "${kc[@]}" -C -t "$inbox" -o beginning -e -q -f '%p %o %k\n' |
        awk -v k="$1" '$3 == k { p = $1; o = $2 } END { if (p != "") print p, o }'
}
# grab KEY NAME: value -> $tmp/NAME.bin, headers -> $tmp/NAME.hdr (one a
# line), partition -> $tmp/NAME.part
grab() {
    local at
    at="$(locate "$1")"
    [ -n "$at" ] || fail "$1 not found on $inbox"
    kcat "${kc[@]}" -C -t "$inbox" -p "${at% *}" -o "${at#* }" -c 1 -q \
        -f '%s' >"$tmp/$2.bin"
    kcat "${kc[@]}" -C -t "$inbox" -p "${at% *}" -o "${at#* }" -c 1 -q \
        -f '%h\n' | tr ',' '\n' >"$tmp/$2.hdr"
    echo "${at% *}" >"$tmp/$2.part"
}
# inject NAME KEY: re-produce $tmp/NAME.bin with the headers of NAME.hdr
# to the source's partition, as admin.
inject() {
    local H=() h
    while IFS= read -r h; do H+=(-H "$h"); done <"$tmp/$1.hdr"
    kcat "${kc[@]}" -P -t "$inbox" -p "$(cat "$tmp/$1.part")" -k "$2" \
        "${H[@]}" "$tmp/$1.bin" 2>"$tmp/kcat.err" || { cat "$tmp/kcat.err"; fail "inject $1"; }
}

# Forged: op-bank-a's signed bytes presented as op-power-a's.
grab "$sf" forged
kid_a="$(awk '/- id: op-power-a$/ {p = 1} p && /key-id:/ {print $2; exit}' "$EX/directory.yaml")"
grep -qx 'cishare.origin=op-bank-a' "$tmp/forged.hdr" &&
    grep -q '^cishare.sig=' "$tmp/forged.hdr" || fail "forged: unexpected headers"
sed -i -e 's/^cishare.origin=.*/cishare.origin=op-power-a/' \
    -e 's/^cishare.sector=.*/cishare.sector=electricity/' \
    -e "s/^cishare.kid=.*/cishare.kid=$kid_a/" "$tmp/forged.hdr"
inject forged "$sf"
# Tampered: one byte of S_t's value flipped, headers as they were.
grab "$st" tampered
python3 - "$tmp/tampered.bin" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x01
open(sys.argv[1], "wb").write(b)
EOF
inject tampered "$st"
ok "injected a forged copy of $sf and a tampered copy of $st"

# The stream goes on: new versions of both subjects (same partitions,
# later offsets) and four more.
publish op-bank-a "$sf" "f2-$nonce.example"
publish op-power-a "$st" "t2-$nonce.example"
for i in 1 2 3 4; do
    publish op-power-a "indicator--$(uuid)" "more$i-$nonce.example"
done
# The new versions are after the injected copies in their partitions.
# (no %h: layout 2 headers are binary)
kcat "${kc[@]}" -C -t "$inbox" -o beginning -e -q -f '%p %o %k\n' >"$tmp/log"
python3 - "$tmp/log" "$sf" "$st" <<'EOF' || fail "injected copies not in the middle of their partitions"
import sys
recs = [l.rstrip("\n").split(" ", 2) for l in open(sys.argv[1]) if l.strip()]
for subj in sys.argv[2:]:
    mine = [(int(p), int(o), None) for p, o, k in recs if k == subj]
    # the genuine message, the injected copy, the new version, in order
    assert len(mine) == 3, (subj, len(mine))
    assert len({p for p, o, h in mine}) == 1, f"{subj}: several partitions"
    assert [o for p, o, h in mine] == sorted(o for p, o, h in mine)
    print(f"# {subj}: partition {mine[0][0]}, offsets {[o for p, o, h in mine]}")
EOF

# ---- the feed -------------------------------------------------------------
q0=0
[ ! -f "$out/quarantine.jsonl" ] || q0="$(wc -l <"$out/quarantine.jsonl")"
feed "$tmp/feed1.err"
summary="$(grep "feed summary" "$tmp/feed1.err")"
echo "# $summary"
grep "quarantined $inbox" "$tmp/feed1.err" | sed 's/^/# /' || true
echo "$summary" | grep -q "delivered 8, .*quarantined 2 (bad-signature 2)," ||
    fail "summary: want delivered 8, quarantined 2"
ok "summary: delivered 8, quarantined 2"

python3 - "$out" "$tmp" "$sf" "$st" "$nonce" "$q0" <<'EOF' || fail "quarantine or delivery wrong (above)"
import base64, json, sys
out, tmp, sf, st, nonce, q0 = sys.argv[1:]
bad = 0
def check(cond, msg):
    global bad
    print(("ok - " if cond else "not ok - ") + msg)
    bad += not cond
q = [json.loads(l) for l in open(f"{out}/quarantine.jsonl")][int(q0):]
mine = {(r.get("key") or {}).get("text"): r for r in q
        if (r.get("key") or {}).get("text") in (sf, st)}
check(len(q) == 2 and len(mine) == 2,
      f"quarantine.jsonl: 2 new records, ours ({len(q)})")
for subj, name in ((sf, "forged"), (st, "tampered")):
    r = mine.get(subj)
    if not r:
        check(False, f"{name} copy quarantined")
        continue
    raw = open(f"{tmp}/{name}.bin", "rb").read()
    check(r["reason"] == "bad-signature" and
          "signature does not verify" in r["detail"],
          f"{name}: reason {r['reason']} ({r['detail']})")
    check(base64.b64decode(r["value_base64"]) == raw,
          f"{name}: value_base64 is the exact bytes ({len(raw)})")
    check(r["topic"] == "cishare.inbox.jpcert" and isinstance(r["offset"], int)
          and {h["name"] for h in r["headers"]} >= {"cishare.sig", "cishare.kid"},
          f"{name}: topic, offset and headers recorded")
got = {}
for l in open(f"{out}/feed.jsonl"):
    m = json.loads(l)
    if nonce in str(m["payload"].get("value")):
        got.setdefault(m["payload"]["value"].split("-")[0], []).append(m)
want = {"f1", "t1", "f2", "t2", "more1", "more2", "more3", "more4"}
check(set(got) == want and all(len(v) == 1 for v in got.values()),
      f"delivered once each: {sorted(want)} (got {sorted(got)})")
if "f2" in got:
    check(got["f2"][0]["origin"] == "op-bank-a", "S_f delivered as op-bank-a's")
sys.exit(1 if bad else 0)
EOF
