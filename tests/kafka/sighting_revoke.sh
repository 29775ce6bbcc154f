#!/usr/bin/env bash
# Sightings back to the originator, and revocation to the original
# audience, on the real broker (mutual TLS, ACLs from 'cishare provision'):
#
#  1. op-power-a publishes two AMBER indicators (default audience
#     sector:electricity); the publisher records them in its journal.
#  2. op-power-b sights the first ('cishare sighting'), min-meti reports
#     it as a false positive, and op-power-b sends an anonymised sighting.
#  3. Feeds: op-power-a's JSON Lines show both sightings with the sighted
#     subject and origin, its STIX bundle a sighting whose sighting_of_ref
#     is exactly its indicator's id (and a false-positive one). op-power-b's
#     peers (ceptoar-electricity, min-meti, op-bank-a) never get
#     op-power-b's sighting; the anonymised one reaches only
#     ceptoar-electricity (its CEPTOAR), not op-power-a directly. On the
#     topics: no sighting on the sector topic.
#  4. 'cishare revoke' of the first indicator goes to cishare.amber.
#     electricity at AMBER (its audience); after it the indicator is gone
#     from the recipients' STIX bundles and blocklists. op-power-b's
#     revocation of op-power-a's second indicator (with --tlp) changes
#     nothing. Revoking a subject not in the journal is a usage error.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

provision_examples
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
s1="indicator--$run"
s2="indicator--${run%????}bbbb"
v1="c2-$nonce.badcorp.net"
v2="c2-$nonce-2.badcorp.net"
A=(-c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-a")
PB=(-c "$EX/op-power-b.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-b")

# ---- 1. the indicators ---------------------------------------------------
cat >"$tmp/ind.jsonl" <<EOF
{"type":"indicator","tlp":"amber","payload":{"id":"$s1","created":"$now","modified":"$now","type":"domain","value":"$v1"}}
{"type":"indicator","tlp":"amber","payload":{"id":"$s2","created":"$now","modified":"$now","type":"domain","value":"$v2"}}
EOF
"$B" publish "${A[@]}" "$tmp/ind.jsonl" 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
grep -q '"subject":"'"$s1"'","tlp":"amber"' "$tmp/st-a/published.jsonl" ||
    fail "journal: $(cat "$tmp/st-a/published.jsonl")"
grep -q '"audience":"sector:electricity"' "$tmp/st-a/published.jsonl" ||
    fail "journal audience"
ok "op-power-a published 2 AMBER indicators, recorded in its journal"

# ---- 2. sightings ----------------------------------------------------------
sight() { # conf-args... ; prints the sighting id
    "$B" sighting "$@" -j >"$tmp/s.json" 2>"$tmp/s.err" ||
        { cat "$tmp/s.err"; fail "sighting $*"; }
    grep -q "published 1, rejected 0" "$tmp/s.err" || fail "sighting: $(cat "$tmp/s.err")"
    python3 -c "import json,sys; print(json.load(open('$tmp/s.json'))['payload']['id'])"
}
sid="$(sight "${PB[@]}" --subject "$s1" --origin op-power-a --count 2 \
    --first-seen 2026-01-01T00:00:00Z --note "seen at $nonce")"
fid="$(sight -c "$EX/min-meti.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-m" \
    --subject "$s1" --origin op-power-a --false-positive)"
aid="$(sight "${PB[@]}" --subject "$s1" --origin op-power-a --anonymise)"
# across sectors: an operator's AMBER goes to another sector's operator
# only as a sighting of that operator's own indicator (rule P3)
bid="$(sight -c "$EX/op-bank-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-b" \
    --subject "$s1" --origin op-power-a)"
ok "op-power-b sighted, min-meti reported a false positive, op-power-b sent an anonymised sighting, op-bank-a (finance) sighted across sectors"

# ---- 3. feeds ----------------------------------------------------------------
feed() { # participant
    "$B" feed -c "$EX/$1.conf" "${X[@]}" -X "group.id=cishare-feed-$1.sr-$nonce" \
        --once --from-beginning -f jsonl -f stix -f blocklist --out "$tmp/feed-$1" \
        >/dev/null 2>"$tmp/feed-$1.err" || { cat "$tmp/feed-$1.err"; fail "feed of $1"; }
}
peers=(ceptoar-electricity min-meti op-bank-a)
for p in op-power-a op-power-b "${peers[@]}"; do feed "$p"; done

# has_sighting PARTICIPANT ID: 0 when its feed.jsonl holds sighting ID
has_sighting() {
    python3 - "$tmp/feed-$1/feed.jsonl" "$2" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m["type"] == "sighting" and m["payload"]["id"] == sys.argv[2]:
        sys.exit(0)
sys.exit(1)
EOF
}
python3 - "$tmp/feed-op-power-a" "$s1" "$sid" "$fid" "$v1" <<'EOF' || fail "op-power-a's feed"
import json, sys
d, s1, sid, fid, v1 = sys.argv[1:]
lines = [json.loads(l) for l in open(d + "/feed.jsonl")]
by = {m["payload"]["id"]: m for m in lines if m["type"] == "sighting"}
for i, origin, fp in ((sid, "op-power-b", False), (fid, "min-meti", True)):
    m = by[i]
    p = m["payload"]
    assert p["sighting_of"] == s1 and p["sighting_of_origin"] == "op-power-a", m
    assert m["origin"] == origin and m["tlp"] == "amber", m
    assert m["audience"] == ["participant:op-power-a"], m
    assert p["false_positive"] is fp, m
assert by[sid]["payload"]["count"] == 2
b = json.load(open(d + "/stix/bundle.json"))["objects"]
ind = [o for o in b if o["type"] == "indicator" and v1 in o.get("pattern", "")]
assert len(ind) == 1, ind
sights = [o for o in b if o["type"] == "sighting"
          and o["sighting_of_ref"] == ind[0]["id"]]
assert len(sights) == 3, sights  # op-power-b, min-meti, op-bank-a
assert sum("false-positive" in o.get("labels", []) for o in sights) == 1
assert any(o.get("count") == 2 for o in sights)
EOF
ok "op-power-a's JSON Lines and STIX show both sightings next to its indicator"

for p in "${peers[@]}"; do
    ! has_sighting "$p" "$sid" || fail "$p received op-power-b's sighting"
done
has_sighting op-power-b "$sid" || fail "op-power-b does not hold its own sighting"
has_sighting op-power-a "$bid" || fail "op-bank-a's cross-sector sighting did not reach op-power-a"
for p in op-power-b ceptoar-electricity min-meti; do
    ! has_sighting "$p" "$bid" || fail "$p received op-bank-a's sighting"
done
ok "op-power-b's sighting reached op-power-a only (not ${peers[*]})"

has_sighting ceptoar-electricity "$aid" || fail "the CEPTOAR did not get the anonymised sighting"
python3 - "$tmp/feed-ceptoar-electricity/feed.jsonl" "$aid" <<'EOF' || fail "anonymised sighting"
import json, sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m["type"] == "sighting" and m["payload"]["id"] == sys.argv[2]:
        assert m["audience"] == ["participant:ceptoar-electricity"], m
        assert m["payload"]["anonymise"] is True, m
        assert m["payload"]["sighting_of_origin"] == "op-power-a", m
EOF
for p in op-power-a min-meti op-bank-a; do
    ! has_sighting "$p" "$aid" || fail "$p received the anonymised sighting directly"
done
ok "--anonymise addressed op-power-b's CEPTOAR inbox only"

# The topics as admin: sightings of s1 only on inboxes.
kcat "${kc[@]}" -C -t cishare.amber.electricity -o beginning -e -q \
    -f '%k %h\n' >"$tmp/sector.kcat"
# (layout 2 headers: "cishare=<type> <tlp> <origin>" in plain text; the
# binary cishare.env may break a line, never before the label)
! grep -qa "^$s1 cishare=sighting " "$tmp/sector.kcat" ||
    fail "a sighting on cishare.amber.electricity"
kcat "${kc[@]}" -C -t cishare.inbox.op-power-a -o beginning -e -q \
    -f '%k %h\n' >"$tmp/inbox.kcat"
[ "$(grep -ca "^$s1 cishare=sighting " "$tmp/inbox.kcat")" = 3 ] ||
    fail "cishare.inbox.op-power-a: not 3 sightings (op-power-b, min-meti, op-bank-a) of $s1"
ok "on the topics: the sightings in op-power-a's inbox, none on the sector topic"

# ---- 4. revocation ---------------------------------------------------------------
set +e
"$B" revoke "${A[@]}" --subject "indicator--$nonce-unknown" -n 2>"$tmp/r.err"
rc=$?
set -e
[ $rc = 2 ] && grep -q "give --tlp and --audience" "$tmp/r.err" ||
    fail "revoke of an unknown subject: rc $rc, $(cat "$tmp/r.err")"
# A participant that did not publish s2 revokes it (explicitly addressed).
"$B" revoke "${PB[@]}" --subject "$s2" --tlp amber --reason hostile \
    2>"$tmp/rb.err" || { cat "$tmp/rb.err"; fail "revoke as op-power-b"; }
"$B" revoke "${A[@]}" --subject "$s1" --reason "false positive" -v \
    >"$tmp/r.out" 2>"$tmp/r.err" || { cat "$tmp/r.err"; fail "revoke"; }
grep -q "published 1, rejected 0" "$tmp/r.err" || fail "revoke: $(cat "$tmp/r.err")"
grep -qP "\t$s1\tamber\tcishare.amber.electricity$" "$tmp/r.out" ||
    fail "revoke did not go to the indicator's audience: $(cat "$tmp/r.out")"
kcat "${kc[@]}" -C -t cishare.amber.electricity -o beginning -e -q \
    -f '%k %h\n' >"$tmp/sector.kcat"
# the audience is inside the binary cishare.env, as its plain bytes,
# about 70 bytes in (a newline byte before it may break kcat's line)
S1="$s1" perl -0777 -ne 'exit !/^\Q$ENV{S1}\E cishare=revocation amber op-power-a,cishare\.env=.{40,120}?sector:electricity/ms' \
    "$tmp/sector.kcat" ||
    fail "no AMBER revocation of $s1 by op-power-a to sector:electricity on cishare.amber.electricity"
ok "revoke sent one AMBER revocation to sector:electricity, as published"

for p in op-power-a op-power-b ceptoar-electricity min-meti; do
    feed "$p"
    python3 - "$tmp/feed-$p" "$v1" "$v2" <<'EOF' || fail "$p after the revocation"
import json, os, sys
d, v1, v2 = sys.argv[1:]
b = json.load(open(d + "/stix/bundle.json"))["objects"]
pats = [o.get("pattern", "") for o in b if o["type"] == "indicator"]
assert not any(v1 in p for p in pats), "revoked indicator still in the bundle"
assert any(v2 in p for p in pats), "op-power-b's revocation removed op-power-a's indicator"
bl_f = d + "/blocklist/amber/domain.txt"  # the indicators are AMBER
bl = open(bl_f).read().split() if os.path.exists(bl_f) else []
assert v1 not in bl, "revoked domain still blocked"
assert v2 in bl, "op-power-a's other domain left the blocklist"
ids = {o["id"] for o in b}
assert all(o["sighting_of_ref"] in ids for o in b if o["type"] == "sighting"), "dangling sighting"
EOF
done
ok "the revoked indicator left every recipient's STIX bundle and blocklist; another origin's revocation did not"
