#!/usr/bin/env bash
# Anonymised sightings through the sighter's CEPTOAR, on the real broker:
#
#  1. op-power-a publishes an AMBER indicator (its sector); jpcert, which
#     is no member of the electricity CEPTOAR, a GREEN one (everyone).
#  2. op-power-b sights both with 'cishare sighting --anonymise': each goes
#     to ceptoar-electricity's inbox only.
#  3. 'cishare relay' as ceptoar-electricity (rule types=sighting
#     to=originator) relays two anonymised copies under its own origin,
#     each addressed to participant:<sighting_of_origin> only, at AMBER.
#  4. The relayed Kafka records' key, headers and value, as raw bytes,
#     hold neither op-power-b's id, name or key id nor the original
#     message id; they sit in the originators' inboxes only.
#  5. Feeds: op-power-a's JSON Lines and STIX show its copy next to its
#     indicator (sighting_of_ref = the indicator), jpcert's likewise;
#     nobody else (op-power-b's peers, the sighter, other sectors) gets a
#     copy.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF, CISHARE_KAFKA_DIR (deploy/kafka/grant-relay);
# CISHARE_BIN, CISHARE_SRC, CISHARE_VENV.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
py="${CISHARE_VENV:?set by tests/run (venv with confluent-kafka)}/bin/python"

provision_examples
"$CISHARE_SRC/deploy/kafka/grant-relay" ceptoar-electricity >"$tmp/grant.out" 2>&1 ||
    { cat "$tmp/grant.out"; fail "grant-relay ceptoar-electricity"; }
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
sa="indicator--$(uuid)"
sj="indicator--$(uuid)"
va="anon-a-$nonce.badcorp.net"
vj="anon-j-$nonce.badcorp.net"

# ---- 1. the indicators -------------------------------------------------------
printf '{"type":"indicator","tlp":"amber","payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"%s"}}\n' \
    "$sa" "$now" "$now" "$va" >"$tmp/a.json"
printf '{"type":"indicator","tlp":"green","payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"%s"}}\n' \
    "$sj" "$now" "$now" "$vj" >"$tmp/j.json"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-a" \
    "$tmp/a.json" >/dev/null 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish as op-power-a"; }
"$B" publish -c "$EX/jpcert.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-j" \
    "$tmp/j.json" >/dev/null 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish as jpcert"; }
ok "op-power-a published an AMBER indicator, jpcert a GREEN one"

# ---- 2. anonymised sightings ---------------------------------------------------
sight() { # SUBJECT ORIGIN MARKER; prints the sighting's id
    "$B" sighting -c "$EX/op-power-b.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-b" \
        --subject "$1" --origin "$2" --anonymise --count 3 \
        --note "$3: seen by Power Company B (op-power-b)" -j \
        >"$tmp/s.json" 2>"$tmp/s.err" || { cat "$tmp/s.err"; fail "sighting of $1"; }
    grep -q "published 1, rejected 0" "$tmp/s.err" || fail "sighting: $(cat "$tmp/s.err")"
    python3 -c "import json; print(json.load(open('$tmp/s.json'))['payload']['id'])"
}
ida="$(sight "$sa" op-power-a "mark-a-$nonce")"
idj="$(sight "$sj" jpcert "mark-j-$nonce")"
ok "op-power-b sent two anonymised sightings to its CEPTOAR"

# ---- 3. the relay ----------------------------------------------------------------
"$B" relay -c "$EX/ceptoar-electricity.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-c" \
    -X "group.id=cishare-feed-ceptoar-electricity.relay-$nonce" \
    -X "cishare.relay.rule.feedback=types=sighting tlp=amber to=originator" --once \
    >"$tmp/relay.out" 2>"$tmp/relay.err" || { cat "$tmp/relay.err"; fail "relay as ceptoar-electricity"; }
grep "relay summary" "$tmp/relay.err" | sed "s/^/# /"
# (a broker used before holds earlier runs' sightings too: at least 2)
grep -Eq "relay summary: relayed ([2-9]|[1-9][0-9]+) \(anonymised ([2-9]|[1-9][0-9]+)," "$tmp/relay.err" &&
    ! grep -q "not relayed.*no-originator\|not-relay-client" "$tmp/relay.err" ||
    { cat "$tmp/relay.err"; fail "the CEPTOAR did not relay both sightings as anonymised copies"; }
ok "ceptoar-electricity relayed both as anonymised copies"

# ---- 4. the raw records ------------------------------------------------------------
"$py" - "$CISHARE_KAFKA_ADMIN_CONF" "$ida" "$idj" "mark-a-$nonce" "mark-j-$nonce" "$sa" "$sj" <<'EOF' || fail "the relayed records"
import os, sys, uuid
sys.path.insert(0, os.environ["CISHARE_SRC"] + "/tests/kafka")
from cishare_env import fields, records

admin, ida, idj, mark_a, mark_j, sa, sj = sys.argv[1:]
traces = {"sighter id": b"op-power-b", "sighter name": b"Power Company B",
          "sighter key id": b"3877de433fa64265",
          "binary sighter key id": bytes.fromhex("3877de433fa64265")}
# the originals, in the CEPTOAR's inbox: their message ids
orig = {}
for m in records(admin, "cishare.inbox.ceptoar-electricity"):
    if (m.key() or b"") in (sa.encode(), sj.encode()):
        f = fields(m.headers())
        if f.get("type") == "sighting" and f.get("origin") == "op-power-b":
            orig[m.key().decode()] = f["id"]
assert set(orig) == {sa, sj}, f"originals in the CEPTOAR's inbox: {orig}"
# every topic that could carry a copy, as admin
topics = ["cishare.inbox.op-power-a", "cishare.inbox.jpcert", "cishare.inbox.op-power-b",
          "cishare.inbox.min-meti", "cishare.inbox.nco", "cishare.inbox.ceptoar-council",
          "cishare.inbox.op-bank-a", "cishare.amber.electricity", "cishare.amber.all",
          "cishare.green.all"]
found = {}
for t in topics:
    for m in records(admin, t):
        v = m.value() or b""
        for mark in (mark_a, mark_j):
            # the sighter's original also sits in its own inbox (the origin
            # keeps its own); every other record of the mark is a copy
            if mark.encode() in v and not (
                    t == "cishare.inbox.op-power-b"
                    and fields(m.headers()).get("origin") == "op-power-b"):
                found.setdefault(mark, []).append((t, m))
want = {mark_a: ("cishare.inbox.op-power-a", sa), mark_j: ("cishare.inbox.jpcert", sj)}
for mark, (topic, subject) in want.items():
    got = found.get(mark, [])
    where = sorted(t for t, _ in got)
    assert where == [topic], f"{mark}: records in {where}, expected only {topic}"
    m = got[0][1]
    h = dict(m.headers())
    raw = (m.key() or b"") + b"".join(k.encode() + (v or b"") for k, v in m.headers())
    raw += m.value() or b""
    t = dict(traces, **{"original message id": orig[subject].encode(),
                        "binary original message id": uuid.UUID(orig[subject]).bytes})
    bad = [f"{k} ({v.hex()})" for k, v in t.items()
           if v in raw or (k[:6] != "binary" and v.lower() in raw.lower())]
    f = fields(m.headers())
    print(f"# {mark}: origin {f['origin']}, id {f['id']}, tlp {f['tlp']}, "
          f"layout {f['layout']}, in {topic}")
    if bad:
        sys.exit(f"{mark}: traces in the raw record: " + ", ".join(bad))
    assert f["origin"] == "ceptoar-electricity", f
    assert f["type"] == "sighting", f
    assert "cishare.relay" not in h, h
    assert m.key() == subject.encode(), m.key()
EOF
ok "the raw copies hold no sighter id, name, key id or original id, and sit in the originators' inboxes only"

# ---- 5. feeds -------------------------------------------------------------------------
feed() { # participant
    rm -rf "$tmp/feed-$1"
    "$B" feed -c "$EX/$1.conf" "${X[@]}" -X "group.id=cishare-feed-$1.anon-$nonce" \
        --once --from-beginning -f jsonl -f stix --out "$tmp/feed-$1" \
        >/dev/null 2>"$tmp/feed-$1.err" || { cat "$tmp/feed-$1.err"; fail "feed of $1"; }
}
check_originator() { # participant subject value mark
    python3 - "$tmp/feed-$1" "$2" "$3" "$4" "$1" <<'EOF' || fail "$1's feed"
import json, sys
d, subject, value, mark, me = sys.argv[1:]
lines = [json.loads(l) for l in open(d + "/feed.jsonl")]
cp = [m for m in lines if m["type"] == "sighting" and mark in json.dumps(m)]
assert len(cp) == 1, f"{len(cp)} copies"
m, p = cp[0], cp[0]["payload"]
assert m["origin"] == "ceptoar-electricity", m
assert m["tlp"] == "amber", m
assert m["audience"] == [f"participant:{me}"], m
assert p["sighting_of"] == subject and p["sighting_of_origin"] == me, p
assert p.get("anonymise") is not True, p
assert "op-power-b" not in json.dumps(m) and "Power Company B" not in json.dumps(m), m
b = json.load(open(d + "/stix/bundle.json"))["objects"]
ind = [o for o in b if o["type"] == "indicator" and value in o.get("pattern", "")]
assert len(ind) == 1, ind
s = [o for o in b if o["type"] == "sighting" and o.get("sighting_of_ref") == ind[0]["id"]]
assert len(s) == 1, s
assert s[0].get("count") == 3, s
EOF
}
feed op-power-a
check_originator op-power-a "$sa" "$va" "mark-a-$nonce"
feed jpcert
check_originator jpcert "$sj" "$vj" "mark-j-$nonce"
ok "op-power-a's and jpcert's feeds show the anonymised sighting next to their indicator (JSON Lines, STIX)"

# (op-power-b holds its own originals, which carry the marks too)
for p in op-power-b min-meti op-bank-a nco ceptoar-council; do
    feed "$p"
    ! grep -e "mark-a-$nonce" -e "mark-j-$nonce" "$tmp/feed-$p/feed.jsonl" |
        grep -qv '"origin":"op-power-b"' || fail "$p received an anonymised sighting"
done
ok "no copy reached op-power-b, min-meti, op-bank-a, nco or ceptoar-council"
