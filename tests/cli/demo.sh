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
got = {p["id"]: {r["id"] for r in p["received"]} for p in rep["participants"]}
everyone = set(got)
sub = lambda n: "%s--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a0%d" % (
    "indicator" if n <= 4 else "incident" if n == 5 else "alert", n)
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
}
bad = 0
for s, who in want.items():
    have = {p for p, subs in got.items() if s in subs}
    if have != who:
        print("FAIL: %s reached %s, expected %s" % (s, sorted(have), sorted(who)))
        bad += 1
for p in rep["participants"]:
    n = len(p["received"]) + len(p["withheld"])
    if n != 7:
        print("FAIL: %s accounts for %d of 7 messages" % (p["id"], n))
        bad += 1
    for w in p["withheld"]:
        if not w.get("reason"):
            print("FAIL: %s: withheld %s without a reason" % (p["id"], w["id"]))
            bad += 1
sys.exit(1 if bad else 0)
PY

# --out: every sink format for every participant.
out=$tmp/out/op-power-b
for f in feed.jsonl stix/bundle.json blocklist/ipv4.txt; do
    [ -s "$out/$f" ] || { echo "FAIL: $out/$f missing or empty"; fails=$((fails + 1)); }
done
grep -qx '203.0.113.45' "$out/blocklist/ipv4.txt" 2>/dev/null ||
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
