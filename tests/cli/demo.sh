#!/bin/bash
# cishare demo on the embedded broker: the README's main job. Checks the
# JSON report against expectations written from the sharing rules
# (ARCHITECTURE.md, "Audience and sharing rules"), not from the code, and
# the per-participant sink output of --out.
set -u
BIN=${CISHARE_BIN:?CISHARE_BIN not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# Stateless: the demo (its publishers included) must not pin the example
# root or serial into the trust state of whoever runs it: with the state
# and home folders empty, nothing may appear there.
mkdir -p "$tmp/xdg" "$tmp/home"
XDG_STATE_HOME="$tmp/xdg" HOME="$tmp/home" \
    "$BIN" demo --json --out "$tmp/out" >"$tmp/demo.json" 2>"$tmp/demo.err"
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: cishare demo exited $rc"
    cat "$tmp/demo.err"
    exit 1
fi
if [ -n "$(find "$tmp/xdg" "$tmp/home" -mindepth 1 -print -quit)" ]; then
    echo "FAIL: cishare demo wrote outside its --out and temporary folder:"
    find "$tmp/xdg" "$tmp/home" -mindepth 1 | sed 's/^/  /'
    fails=$((fails + 1))
fi

python3 - "$tmp/demo.json" <<'PY' || fails=$((fails + 1))
import json, sys
rep = json.load(open(sys.argv[1]))
everyone = {p["id"] for p in rep["participants"]}
sub = lambda n: "%s--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a%02d" % (
    "indicator" if n <= 4 else "incident" if n in (5, 8) else "alert", n)
scenario = {sub(n) for n in range(1, 9)}
# Every message of the report, named by what the rules make of it:
# step subjects, "sighting" (a fresh id, chosen by cishare sighting),
# "relayed 3" (step 3's indicator as the relay passed it on: same id and
# origin, "relayed_by" the relay), "anonymised 8" (the relay's own copy
# of step 8: a fresh id, origin the relay).
got, meta, bad = {}, {}, 0
for p in rep["participants"]:
    for kind, entries in (("received", p["received"]), ("withheld", p["withheld"])):
        for e in entries:
            if e.get("relayed_by"):
                name = "relayed %s" % e["id"]
            elif e["id"].startswith("sighting--"):
                name = "sighting"
            elif e["id"] not in scenario:
                name = "anonymised"
            else:
                name = e["id"]
            meta.setdefault(name, e)
            got.setdefault(name, set())
            if kind == "received":
                got[name].add(p["id"])
want = {
    # GREEN, audience all: every participant of the directory.
    sub(1): everyone, sub(2): everyone,
    # AMBER, default audience = the origin's first sector.
    sub(3): {"op-power-a", "op-power-b", "ceptoar-electricity", "min-meti"},
    sub(4): {"op-bank-a", "ceptoar-finance", "min-fsa"},
    # AMBER+STRICT to named participants, plus the origin.
    sub(5): {"op-power-a", "min-meti", "nco"},
    # RED: only the named recipient, plus the origin.
    sub(6): {"ceptoar-electricity", "nco"},
    # CLEAR alert to all.
    sub(7): everyone,
    # A report asking for anonymity goes only to its anonymiser (P8):
    # the reporter's CEPTOAR, plus the origin.
    sub(8): {"op-power-b", "ceptoar-electricity"},
    # A sighting goes back to the originator of the indicator only (and
    # the sighter holds its own message); nobody else.
    "sighting": {"op-power-a", "jpcert"},
    # The CEPTOAR relays the AMBER indicator to the CEPTOAR council
    # (re-sharing rule h: the council is a CEPTOAR's client): the council
    # gets it, and the origin holds its own (rule f). The relay's copy is
    # addressed to the council only, so the relay's own feed and its
    # member op-power-b do not take it as a copy (they hold the original).
    "relayed " + sub(3): {"ceptoar-council", "op-power-a"},
    # The anonymised report: a new message of the relay (origin the
    # relay) for the relay's clients but the reporter: its other member
    # operator and the council; and the relay holds its own.
    "anonymised": {"ceptoar-electricity", "ceptoar-council", "op-power-a"},
}
if set(got) != set(want):
    print("FAIL: the report's messages are %s, expected %s" % (sorted(got), sorted(want)))
    bad += 1
for s, who in want.items():
    have = got.get(s, set())
    if have != who:
        print("FAIL: %s reached %s, expected %s" % (s, sorted(have), sorted(who)))
        bad += 1
# A relayed copy shows the original origin and names the relay; an
# anonymised one shows the relay as its origin and names no relay.
r = meta.get("relayed " + sub(3), {})
if (r.get("origin"), r.get("relayed_by"), r.get("tlp")) != ("op-power-a", "ceptoar-electricity", "amber"):
    print("FAIL: relayed copy: origin %s, relayed_by %s, tlp %s" % (r.get("origin"), r.get("relayed_by"), r.get("tlp")))
    bad += 1
a = meta.get("anonymised", {})
if a.get("origin") != "ceptoar-electricity" or "relayed_by" in a or not a.get("id", "").startswith("incident--"):
    print("FAIL: anonymised copy: %s" % json.dumps(a))
    bad += 1
n = len(want)
for p in rep["participants"]:
    k = len(p["received"]) + len(p["withheld"])
    if k != n:
        print("FAIL: %s accounts for %d of %d messages" % (p["id"], k, n))
        bad += 1
    for w in p["withheld"]:
        if not w.get("reason"):
            print("FAIL: %s: withheld %s without a reason" % (p["id"], w["id"]))
            bad += 1
    # the report's schema: these fields, relayed_by only on relayed copies
    for e in p["received"] + p["withheld"]:
        keys = set(e) - {"relayed_by"}
        if keys != ({"id", "type", "tlp", "origin", "audience"} if e in p["received"]
                    else {"id", "tlp", "origin", "audience", "reason"}):
            print("FAIL: %s: entry %s has fields %s" % (p["id"], e["id"], sorted(e)))
            bad += 1
sys.exit(1 if bad else 0)
PY

# The anonymised report leaves no trace of its reporter (op-power-b): no
# participant's output folder holds its id, name, key id, the report's
# subject or its message id, except the reporter's own and the
# anonymiser's (which received the report itself); and there, the
# anonymised copy's records hold none of them either.
out=$tmp/out
orig_mid=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j["payload"]["id"] == sys.argv[2]:
        print(j["message_id"])' "$out/ceptoar-electricity/feed.jsonl" \
    incident--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a08 2>/dev/null)
if [ -z "$orig_mid" ]; then
    echo "FAIL: the anonymiser's feed lacks the report to anonymise"
    fails=$((fails + 1))
fi
traces=(-e op-power-b -e 'Power Company B' -e User:op-power-b
    -e 3877de433fa64265 -e incident--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a08
    -e "${orig_mid:-no-message-id}")
leaks=$(grep -rl -i -F "${traces[@]}" "$out" |
    grep -v -e "^$out/op-power-b/" -e "^$out/ceptoar-electricity/")
if [ -n "$leaks" ]; then
    echo "FAIL: the anonymised reporter is named in:"
    echo "$leaks" | sed 's/^/  /'
    fails=$((fails + 1))
fi
anon_id=$(python3 -c '
import json, sys
for p in json.load(open(sys.argv[1]))["participants"]:
    for e in p["received"]:
        if e["origin"] == "ceptoar-electricity" and e["type"] == "incident":
            print(e["id"]); sys.exit()' "$tmp/demo.json")
anon_lines=$(grep -h -F "${anon_id:-no-anonymised-copy}" "$out"/*/feed.jsonl)
if [ -z "$anon_id" ] || [ -z "$anon_lines" ]; then
    echo "FAIL: no anonymised copy in the feeds"
    fails=$((fails + 1))
elif echo "$anon_lines" | grep -q -i -F "${traces[@]}"; then
    echo "FAIL: the anonymised copy names its reporter"
    fails=$((fails + 1))
fi
# The sighting, in the originator's feed, names the indicator it saw.
grep -F '"sighting_of":"indicator--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a01"' \
    "$out/op-power-a/feed.jsonl" >/dev/null ||
    { echo "FAIL: op-power-a's feed lacks the sighting of its indicator"; fails=$((fails + 1)); }

# --out: every sink format for every participant.
out=$tmp/out/op-power-b
for f in feed.jsonl stix/bundle.json blocklist/green/ipv4.txt; do
    [ -s "$out/$f" ] || { echo "FAIL: $out/$f missing or empty"; fails=$((fails + 1)); }
done
grep -qx '203.0.113.45' "$out/blocklist/green/ipv4.txt" 2>/dev/null ||
    { echo "FAIL: op-power-b's ipv4 blocklist lacks 203.0.113.45"; fails=$((fails + 1)); }
# RED never reaches op-power-b's disk, in any format.
if grep -rq 'alert--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a06' "$out"; then
    echo "FAIL: the RED alert reached op-power-b's sinks"
    fails=$((fails + 1))
fi

"$BIN" demo --bogus >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: an unknown option must exit 2"; fails=$((fails + 1)); }

echo "demo: $((fails == 0 ? 1 : 0)) passed, $fails failed"
[ $fails -eq 0 ]
