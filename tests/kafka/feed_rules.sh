#!/usr/bin/env bash
# cishare feed against the sharing rules, end to end on the real broker:
# publish a matrix of messages (every TLP label x every audience shape x
# five origins: an electricity operator, a finance operator, the
# coordination office, a ministry and a CEPTOAR) with 'cishare publish'
# and 'cishare alert', then run 'cishare feed --once --from-beginning' as
# seven participants and compare what each was delivered with
#   (a) the policy engine's answer ('cishare policy check', exit 0 =
#       deliver), so routing + Kafka ACLs + feed must agree with the rules;
#   (b) hand-written expectations from the contract (DOMAIN.md TLP table,
#       deploy/TOPICS.md), so the test does not rest on the oracle alone.
# Each subject must be delivered exactly once (a participant reading one
# message on two topics gets it once), with the label and origin it was
# published with, and none of this run's messages may be quarantined.
#
# Independent of other tests' data: subjects carry a run nonce, the feeds
# use fresh consumer groups (cishare-feed-<id>.rules-<nonce>) and fresh
# output folders, and only this run's subjects are compared.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DIR="$EX/directory.yaml"

provision_examples
origins=(op-power-a op-bank-a nco min-meti ceptoar-electricity)
feeds=(op-power-a op-power-b op-bank-a ceptoar-electricity min-meti nco jpcert)

# ---- the matrix --------------------------------------------------------
# msgs.tsv: subject TAB origin TAB tlp TAB audience ("-" = default) TAB tag
# <origin>.jsonl: the native JSON records each origin publishes.
# Only combinations the origin may publish (deploy/TOPICS.md write ACLs and
# the publish rules): an operator publishes in its own sectors (at AMBER
# and stricter: no role items, and names only participants of its
# sectors, the office and security organisations), AMBER and stricter to
# 'all' only from the coordination office, RED to participants.
python3 - "$tmp" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" <<'EOF'
import json, sys, uuid
tmp, now = sys.argv[1], sys.argv[2]
own = {"op-power-a": ["electricity"], "op-bank-a": ["finance"],
       "nco": ["electricity", "finance"], "min-meti": ["electricity", "gas"],
       "ceptoar-electricity": ["electricity"]}
shapes = ["-", "all", "SECTOR", "role:ceptoar", "role:ministry",
          "role:coordination-office", "participant:op-power-b",
          "participant:jpcert", "participant:op-bank-a",
          "SECTOR,participant:jpcert", "role:ceptoar,participant:op-power-b",
          "participant:nco,participant:min-meti",
          "participant:ceptoar-electricity",
          "participant:op-power-b,participant:min-fsa"]
# Tagged subjects for the hand-written checks below.
tags = {("op-power-a", "red", "participant:ceptoar-electricity"): "red-ceptoar",
        ("op-power-a", "amber", "-"): "amber-default",
        ("op-bank-a", "green", "-"): "green-default",
        ("min-meti", "amber", "role:ceptoar"): "amber-role-ceptoar",
        ("nco", "amber+strict", "sector:finance"): "strict-finance",
        ("min-meti", "amber+strict", "participant:nco,participant:min-meti"):
            "strict-named",
        ("ceptoar-electricity", "clear", "participant:jpcert"): "clear-named"}
# Sectors of the participants the shapes name (directory.yaml); None: may
# be named by any operator (the office, security organisations).
named = {"op-power-b": ["electricity"], "jpcert": None, "op-bank-a": ["finance"],
         "nco": None, "min-meti": ["electricity", "gas", "chemical", "credit",
                                   "petroleum"],
         "ceptoar-electricity": ["electricity"], "min-fsa": ["finance"]}
def operator_may(o, items):
    for i in items:
        if i.startswith("role:"):
            return False
        if i.startswith("participant:"):
            ps = named[i[len("participant:"):]]
            if ps is not None and not set(ps) & set(own[o]):
                return False
    return True
rows = []
for o, sectors in own.items():
    out = open(f"{tmp}/{o}.jsonl", "w")
    for tlp in ["clear", "green", "amber", "amber+strict", "red"]:
        auds = []
        for s in shapes:
            if "SECTOR" in s:
                auds += [s.replace("SECTOR", "sector:" + x) for x in sectors]
            else:
                auds.append(s)
        for aud in auds:
            items = [] if aud == "-" else aud.split(",")
            if tlp == "red" and (not items or any(
                    not i.startswith("participant:") for i in items)):
                continue  # RED: named recipients only
            if tlp in ("amber", "amber+strict"):
                if aud == "-" and o == "nco":
                    continue  # no sector, no default audience
                if "all" in items and o != "nco":
                    continue  # cishare.amber.all: the office writes it
            if (tlp in ("amber", "amber+strict", "red") and o.startswith("op-")
                    and not operator_may(o, items)):
                continue  # cross-sector: through its CEPTOAR or the office
            subj = f"indicator--{uuid.uuid4()}"
            rec = {"type": "indicator", "tlp": tlp,
                   "payload": {"id": subj, "created": now, "modified": now,
                               "type": "domain",
                               "value": subj[11:19] + ".rules.example"}}
            if items:
                rec["audience"] = items
            out.write(json.dumps(rec) + "\n")
            rows.append((subj, o, tlp, aud, tags.get((o, tlp, aud), "-")))
    out.close()
with open(f"{tmp}/msgs.tsv", "w") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")
EOF

for o in "${origins[@]}"; do
    n="$(wc -l <"$tmp/$o.jsonl")"
    "$B" publish -c "$EX/$o.conf" "${X[@]}" -f json "$tmp/$o.jsonl" \
        >/dev/null 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish as $o"; }
    grep -q "published $n, rejected 0" "$tmp/pub.err" ||
        fail "publish as $o: $(cat "$tmp/pub.err")"
done
ok "published $(wc -l <"$tmp/msgs.tsv") records from ${#origins[@]} origins"

# Alerts: the office to one sector, to all (AMBER), to finance (AMBER);
# a ministry to its own sectors (default) and AMBER+STRICT to one.
alert() { # ORIGIN TLP AUDIENCE TAG alert-options...
    local o="$1" tlp="$2" aud="$3" tag="$4" id
    shift 4
    id="alert--$(uuid)"
    "$B" alert -c "$EX/$o.conf" "${X[@]}" -s medium -T "rules $nonce" \
        -b "test" -t "$tlp" --id "$id" "$@" >/dev/null 2>"$tmp/alert.err" ||
        { cat "$tmp/alert.err"; fail "alert as $o $*"; }
    printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$o" "$tlp" "$aud" "$tag" >>"$tmp/msgs.tsv"
}
alert nco green sector:electricity alert-electricity -S electricity
alert nco amber all alert-amber-all --all
alert nco amber sector:finance - -S finance
alert min-meti green sector:chemical,sector:electricity,sector:gas,sector:petroleum -
alert min-meti amber+strict sector:gas - -S gas
ok "published 5 alerts (nco, min-meti)"
total="$(wc -l <"$tmp/msgs.tsv")"

# ---- the feeds, in parallel ----------------------------------------------
t0=$SECONDS
pids=()
for p in "${feeds[@]}"; do
    "$B" feed -c "$EX/$p.conf" "${X[@]}" -X "group.id=cishare-feed-$p.rules-$nonce" \
        --once --from-beginning --out "$tmp/feed-$p" \
        >/dev/null 2>"$tmp/feed-$p.err" &
    pids+=($!)
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { cat "$tmp/feed-${feeds[$i]}.err"; fail "feed of ${feeds[$i]}"; }
done
ok "${#feeds[@]} feeds ran (--once --from-beginning) in $((SECONDS - t0))s"

# ---- (a) against the policy engine -------------------------------------
# expected.tsv: participant TAB subject, for every delivery the rules allow.
while IFS=$'\t' read -r subj o tlp aud tag; do
    for p in "${feeds[@]}"; do
        a=()
        [ "$aud" = - ] || a=(--audience "$aud")
        if "$B" policy check --directory "$DIR" --participant "$p" \
            --tlp "$tlp" --origin "$o" "${a[@]}" >/dev/null 2>"$tmp/pc.err"; then
            printf '%s\t%s\n' "$p" "$subj"
        elif [ $? != 1 ]; then
            cat "$tmp/pc.err" >&2
            fail "policy check $p $tlp $o $aud"
        fi
    done
done <"$tmp/msgs.tsv" >"$tmp/expected.tsv"

python3 - "$tmp" "${feeds[@]}" <<'EOF' || fail "delivered sets differ from the rules (above)"
import collections, json, sys
tmp, feeds = sys.argv[1], sys.argv[2:]
msgs = {}
for line in open(f"{tmp}/msgs.tsv"):
    subj, o, tlp, aud, tag = line.rstrip("\n").split("\t")
    msgs[subj] = (o, tlp, aud, tag)
expected = collections.defaultdict(set)
for line in open(f"{tmp}/expected.tsv"):
    p, subj = line.rstrip("\n").split("\t")
    expected[p].add(subj)
bad = 0
def no(msg):
    global bad
    print("not ok - " + msg)
    bad += 1
delivered = {}
for p in feeds:
    got = collections.Counter()
    for line in open(f"{tmp}/feed-{p}/feed.jsonl"):
        m = json.loads(line)
        subj = m["payload"]["id"]
        if subj not in msgs:
            continue  # other tests' data
        got[subj] += 1
        o, tlp, aud, tag = msgs[subj]
        if m["origin"] != o or m["tlp"] != tlp:
            no(f"{p}: {subj} arrived as {m['origin']}/{m['tlp']}, "
               f"published as {o}/{tlp}")
    delivered[p] = set(got)
    for subj, n in got.items():
        if n != 1:
            no(f"{p}: {subj} delivered {n} times")
    for subj in sorted(expected[p] - set(got)):
        no(f"{p}: missing {subj} {msgs[subj]} (the rules deliver it)")
    for subj in sorted(set(got) - expected[p]):
        no(f"{p}: got {subj} {msgs[subj]} (the rules withhold it)")
    try:
        for line in open(f"{tmp}/feed-{p}/quarantine.jsonl"):
            q = json.loads(line)
            k = (q.get("key") or {}).get("text")
            if k in msgs:
                no(f"{p}: {k} quarantined: {q['reason']} {q['detail']}")
    except FileNotFoundError:
        pass
    print(f"# {p}: {len(got)} of {len(msgs)} delivered, "
          f"{len(expected[p])} expected")
if bad:
    sys.exit(1)
print(f"ok - every feed's set of this run's subjects equals the rules' answer")

# ---- (b) hand-written expectations from the contract --------------------
tag = {t: s for s, (o, tlp, aud, t) in msgs.items() if t != "-"}
def reach(t, want):
    got = {p for p in feeds if tag[t] in delivered[p]}
    if got != set(want):
        no(f"{t}: reached {sorted(got)}, contract says {sorted(want)}")
    else:
        print(f"ok - {t}: reaches {sorted(want)} only")
# RED to one named recipient: it and the origin, nobody else.
reach("red-ceptoar", ["ceptoar-electricity", "op-power-a"])
# AMBER default = the origin's sector: electricity members, its ministry.
reach("amber-default", ["op-power-a", "op-power-b", "ceptoar-electricity",
                        "min-meti"])
# GREEN default = the community.
reach("green-default", feeds)
# AMBER to a role: the role's members (and the origin).
reach("amber-role-ceptoar", ["ceptoar-electricity", "min-meti"])
# AMBER+STRICT to finance: the finance operator (and the origin).
reach("strict-finance", ["op-bank-a", "nco"])
reach("strict-named", ["nco", "min-meti"])
# CLEAR to a named participant: not widened to everyone by its label.
reach("clear-named", ["jpcert", "ceptoar-electricity"])
# Alerts: to one sector; AMBER to all.
reach("alert-electricity", ["op-power-a", "op-power-b",
                            "ceptoar-electricity", "min-meti", "nco"])
reach("alert-amber-all", feeds)
sys.exit(1 if bad else 0)
EOF
echo "# $total subjects x ${#feeds[@]} participants, $(wc -l <"$tmp/expected.tsv") deliveries"
