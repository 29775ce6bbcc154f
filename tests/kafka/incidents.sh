#!/usr/bin/env bash
# Incidents over their life and the mandatory reporting deadlines
# (directory `reporting:` 24h / 30d), on the real broker:
#
#  1. op-power-a publishes mandatory AMBER notices (schemas/examples'
#     incident, to sector:electricity, min-meti and the nco): incident A
#     detected 1 h ago, preliminary now (on time); B detected 3 days ago,
#     preliminary now (late; detailed not due yet: pending); C detected 40
#     days ago, a preliminary only (detailed overdue); D an `update` with
#     no earlier notice. A mandatory notice at TLP:GREEN is refused by
#     `cishare publish`, naming the rule (P7, mandatory-label).
#  2. min-meti's feed delivers all four; D is delivered, flagged in the
#     archive, logged and counted.
#  3. `cishare incidents -c min-meti.conf --all --json`: stages and
#     deadline statuses on the broker's append time; `--overdue` exits 1
#     and lists C only (of this run's incidents); the default (--open) text
#     shows them; a missing archive is an error naming the file.
#  4. op-power-a's own view, after its feed took min-meti's receipts: A's
#     preliminary report is met, the evidence "receipt from min-meti".
#  5. `cishare report` over min-meti's archive, for the minutes of this run
#     (the broker keeps earlier runs' messages; they are older): exactly
#     these four notices, their stages and deadline statuses; the HTML
#     page is one file with inline SVG and nothing loaded from elsewhere.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

provision_examples
# envelope created times of this run's messages are at or after this; in
# ms: the test before may have published in this very second (CI once
# counted its 100 indicators in this run's report)
start="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
A="incident--a-$run"
Bi="incident--b-$run"
C="incident--c-$run"
D="incident--d-$run"
G="incident--g-$run"
OP=(-c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-a")
MM=(-c "$EX/min-meti.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-m")

# ---- 1. the notices --------------------------------------------------------
# notice ID STAGE DETECTED-HOURS-AGO [TLP]: one JSON line from the example
notice() {
    python3 - "$CISHARE_SRC/schemas/examples/incident-example.json" "$@" <<'EOF'
import datetime, json, sys
m = json.load(open(sys.argv[1]))
iid, stage, ago = sys.argv[2], sys.argv[3], float(sys.argv[4])
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
p = m["payload"]
p.pop("indicators", None)
p.update(id=iid, stage=stage, legal_basis="mandatory",
         detected_at=fmt(now - datetime.timedelta(hours=ago)),
         created=fmt(now), modified=fmt(now), reported_at=fmt(now))
if len(sys.argv) > 5:
    m["tlp"] = sys.argv[5]
print(json.dumps(m, ensure_ascii=False))
EOF
}
{
    notice "$A" preliminary 1
    notice "$Bi" preliminary 72
    notice "$C" preliminary 960
    notice "$D" update 2
} >"$tmp/notices.jsonl"
grep -q '"participant:min-meti", "participant:nco"' "$tmp/notices.jsonl" ||
    fail "the example's audience lost min-meti or the nco"
"$B" publish "${OP[@]}" "$tmp/notices.jsonl" 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
grep -q "published 4, rejected 0" "$tmp/pub.err" || fail "publish: $(cat "$tmp/pub.err")"
ok "op-power-a published 4 mandatory AMBER notices (A, B, C, D)"

notice "$G" preliminary 1 green >"$tmp/green.jsonl"
set +e
"$B" publish "${OP[@]}" "$tmp/green.jsonl" >"$tmp/green.out" 2>"$tmp/green.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "a mandatory notice at TLP:GREEN: publish exited $rc, not 1"
grep -q "$G: a mandatory incident notice must be TLP:AMBER or stricter" "$tmp/green.err" &&
    grep -q "rejected 1 (mandatory incident below TLP:AMBER: 1)" "$tmp/green.err" ||
    fail "GREEN mandatory refused, but not naming the rule: $(cat "$tmp/green.err")"
ok "a mandatory notice at TLP:GREEN is refused by publish (P7, below TLP:AMBER)"

# ---- 2. min-meti's feed ----------------------------------------------------
feed() { # participant conf-args...
    local who="$1"
    shift
    "$B" feed "$@" -X "group.id=cishare-feed-$who.inc-$nonce" --once --from-beginning \
        -f jsonl -f stix --out "$tmp/feed-$who" >/dev/null 2>"$tmp/feed-$who.err" ||
        { cat "$tmp/feed-$who.err"; fail "feed of $who"; }
}
feed min-meti "${MM[@]}"
[ -f "$tmp/st-m/archive.db" ] || fail "no archive in min-meti's state dir"
for i in "$A" "$Bi" "$C" "$D"; do
    grep -q "$i" "$tmp/feed-min-meti/feed.jsonl" || fail "min-meti's feed lacks $i"
done
grep -q "incident notice .*delivered, out-of-order: no earlier notice of this incident" \
    "$tmp/feed-min-meti.err" || fail "the out-of-order update is not logged: $(cat "$tmp/feed-min-meti.err")"
grep -qE "incident notices out of order \(delivered, flagged\) [1-9]" "$tmp/feed-min-meti.err" ||
    fail "the out-of-order update is not counted: $(grep summary "$tmp/feed-min-meti.err")"
ok "min-meti's feed delivered A-D; D delivered, flagged, logged, counted"

# ---- 3. cishare incidents (min-meti) ----------------------------------------
"$B" incidents "${MM[@]}" --all --json >"$tmp/all.json" 2>"$tmp/all.err" ||
    { cat "$tmp/all.err"; fail "incidents --all --json"; }
python3 - "$tmp/all.json" "$A" "$Bi" "$C" "$D" <<'EOF' || fail "incidents --all --json: $(cat "$tmp/all.json")"
import json, sys
l = {i["incident_id"]: i for i in json.load(open(sys.argv[1]))}
a, b, c, d = (l[x] for x in sys.argv[2:6])
def st(i, k): return i["deadlines"][k]["status"]
for i in (a, b, c, d):
    assert i["reporter"] == "op-power-a" and i["mandatory"] and not i["mine"], i
    assert i["category"] == "ransomware" and i["impact"] == "degraded", i
    assert i["operating_mode"] == "normal" and i["detected_at"], i
    n = i["notices"][0]
    assert n["appended"] and n["delivered"], n  # LogAppendTime topics
    assert i["deadlines"]["preliminary"]["evidence"] == "broker", i
assert a["stage"] == "preliminary" and st(a, "preliminary") == "met", a
assert st(a, "detailed") == "pending", a
assert st(b, "preliminary") == "late" and st(b, "detailed") == "pending", b
assert st(c, "preliminary") == "late" and st(c, "detailed") == "overdue", c
assert c["overdue"] and not a["overdue"] and not b["overdue"] and not d["overdue"]
assert d["stage"] == "update" and d["flagged"], d
assert "no earlier notice" in d["notices"][0]["flag"], d
assert st(d, "preliminary") == "met" and st(d, "detailed") == "met", d
EOF
ok "incidents --all --json: A met/pending, B late/pending, C late/overdue, D flagged"

set +e
"$B" incidents "${MM[@]}" --overdue >"$tmp/od.txt" 2>"$tmp/od.err"
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$tmp/od.err"; fail "incidents --overdue exited $rc, not 1"; }
grep -q "^$C " "$tmp/od.txt" || fail "--overdue does not list C: $(cat "$tmp/od.txt")"
for i in "$A" "$Bi" "$D"; do
    if grep -q "$i" "$tmp/od.txt"; then fail "--overdue lists $i"; fi
done
grep -q "overdue .*due .*filed -" "$tmp/od.txt" || fail "--overdue text: $(cat "$tmp/od.txt")"
ok "incidents --overdue exits 1 and lists C only"

"$B" incidents "${MM[@]}" >"$tmp/open.txt" 2>"$tmp/open.err" ||
    { cat "$tmp/open.err"; fail "incidents (--open)"; }
grep -A12 "^$A " "$tmp/open.txt" | grep -qE "preliminary +met +due .* filed .*broker" ||
    fail "open text, A: $(cat "$tmp/open.txt")"
grep -A12 "^$D " "$tmp/open.txt" | grep -q "out-of-order: no earlier notice" ||
    fail "open text, D's flag: $(cat "$tmp/open.txt")"
ok "incidents (default --open) shows stages, notices with their flag, deadlines"

set +e
"$B" incidents "${MM[@]}" --archive "$tmp/nope/archive.db" >/dev/null 2>"$tmp/miss.err"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "$tmp/nope/archive.db" "$tmp/miss.err" ||
    fail "missing archive: exit $rc, $(cat "$tmp/miss.err")"
ok "a missing archive is an error naming the file (exit 1)"

# ---- 4. op-power-a's own view: min-meti's receipts -------------------------
feed op-power-a "${OP[@]}"
"$B" incidents "${OP[@]}" --json >"$tmp/own.json" 2>"$tmp/own.err" ||
    { cat "$tmp/own.err"; fail "incidents of op-power-a"; }
python3 - "$tmp/own.json" "$A" <<'EOF' || fail "op-power-a's view: $(cat "$tmp/own.json")"
import json, sys
l = {i["incident_id"]: i for i in json.load(open(sys.argv[1]))}
a = l[sys.argv[2]]
assert a["mine"], a
p = a["deadlines"]["preliminary"]
assert p["status"] == "met" and p["evidence"] == "receipt from min-meti", p
EOF
ok "op-power-a's own view: A met, evidence the receipt from min-meti"

# ---- 5. cishare report over min-meti's archive (this run's period) ---------
end="$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
"$B" report "${MM[@]}" --from "$start" --to "$end" --format json \
    --out "$tmp/report.json" 2>"$tmp/report.err" ||
    { cat "$tmp/report.err"; fail "report --format json"; }
python3 - "$tmp/report.json" <<'EOF' || fail "report of this run: $(cat "$tmp/report.json")"
import json, sys
r = json.load(open(sys.argv[1]))
m, i = r["messages"]["received"], r["incidents"]
assert r["participant"]["id"] == "min-meti", r["participant"]
assert m["total"] == 4 and m["by_type"]["incident"] == 4, m
assert m["by_label"]["amber"] == 4 and m["by_sector"] == {"electricity": 4}, m
assert r["messages"]["sent"]["total"] == 0, r["messages"]["sent"]
assert i["total"] == 4 and i["received"] == 4 and i["mandatory"] == 4, i
assert i["flagged"] == 1 and i["by_category"] == {"ransomware": 4}, i
assert i["by_stage"] == {"preliminary": 3, "detailed": 0, "update": 1,
                         "closed": 0}, i["by_stage"]
p, d = i["deadlines"]["preliminary"], i["deadlines"]["detailed"]
assert (p["met"], p["late"], p["overdue"]) == (2, 2, 0), p
assert (d["met"], d["pending"], d["overdue"]) == (1, 2, 1), d
# detection to filing: 1 h (A), 2 h (D), 72 h (B), 960 h (C)
t = i["to_preliminary"]
assert t["n"] == 4, t
assert 2 * 3600e3 <= t["median_ms"] < 3 * 3600e3, t  # nearest rank: 2nd
assert 960 * 3600e3 <= t["p90_ms"] < 961 * 3600e3, t
EOF
ok "report: this run's 4 notices, stages, deadlines met/late/pending/overdue, times to filing"
"$B" report "${MM[@]}" --from "$start" --to "$end" --format html \
    --out "$tmp/report.html" 2>"$tmp/report-html.err" ||
    { cat "$tmp/report-html.err"; fail "report --format html"; }
grep -q "<svg" "$tmp/report.html" && ! grep -qiE "<script|https?://|src=|@import" "$tmp/report.html" ||
    fail "the HTML report loads something or has no chart"
ok "report --format html: one page, inline SVG, nothing loaded from elsewhere"
