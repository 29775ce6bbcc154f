#!/bin/bash
# cishare policy check / directory on the example directory: exit codes
# 0 deliver, 1 withhold, 2 bad input; and refusal of altered directories.
set -u
BIN=${CISHARE_BIN:?CISHARE_BIN not set}
SRC=${CISHARE_SRC:?CISHARE_SRC not set}
EX=$SRC/deploy/examples
fails=0 n=0

# expect CODE FIRST-LINE-PREFIX args...
expect() {
    local want=$1 prefix=$2 out rc
    shift 2
    n=$((n + 1))
    out=$("$BIN" "$@" 2>/tmp/policy_check.$$.err)
    rc=$?
    if [ "$rc" != "$want" ] || [ "${out:0:${#prefix}}" != "$prefix" ]; then
        echo "FAIL: cishare $*"
        echo "  want exit $want and output starting '$prefix'"
        echo "  got exit $rc, output: $out"
        sed 's/^/  stderr: /' /tmp/policy_check.$$.err
        fails=$((fails + 1))
    fi
}

# The glob must match exactly one file.
set -- $EX/directory.*
[ $# -eq 1 ] || { echo "FAIL: $EX/directory.* matches $# files"; exit 1; }
D=(--directory $EX/directory.*)
P=(policy check "${D[@]}")

# --- direct delivery ------------------------------------------------------
expect 0 deliver  "${P[@]}" --participant op-power-b --tlp amber --origin op-power-a
expect 1 "withhold: audience does not include participant" \
                  "${P[@]}" --participant op-gas-a --tlp amber --origin op-power-a
expect 0 deliver  "${P[@]}" --participant jpcert --tlp white --origin op-power-a
expect 0 deliver  "${P[@]}" --participant jpcert --tlp TLP:GREEN --origin op-power-a
expect 0 deliver  "${P[@]}" --participant op-bank-a --tlp tlp:clear --origin nco
expect 0 deliver  "${P[@]}" --participant op-power-a --tlp red --origin op-power-a --audience participant:nco
expect 0 deliver  "${P[@]}" --participant nco --tlp RED --origin op-power-a --audience participant:nco,participant:min-meti
expect 1 "withhold: TLP:RED is for named recipients only" \
                  "${P[@]}" --participant ceptoar-electricity --tlp red --origin op-power-a --audience participant:nco
expect 0 deliver  "${P[@]}" --participant min-fsa --tlp amber+strict --origin nco --audience role:ministry
expect 1 withhold "${P[@]}" --participant jpcert --tlp amber-strict --origin nco --audience role:ministry
expect 0 deliver  "${P[@]}" --participant op-gas-a --tlp amber --origin nco --audience sector:gas,sector:electricity

# --- re-sharing ----------------------------------------------------------
expect 0 deliver  "${P[@]}" --participant op-power-b --tlp amber --origin op-power-a --relay ceptoar-electricity
expect 1 "withhold: TLP:AMBER is re-shared only to the relay's clients" \
                  "${P[@]}" --participant op-gas-a --tlp amber --origin op-power-a --relay ceptoar-electricity
expect 0 deliver  "${P[@]}" --participant op-gas-a --tlp amber --origin op-power-a --relay min-meti
expect 1 "withhold: relay did not receive the message directly" \
                  "${P[@]}" --participant op-bank-a --tlp amber --origin op-power-a --relay ceptoar-finance
expect 0 deliver  "${P[@]}" --participant jpcert --tlp green --origin op-power-a --relay ceptoar-electricity
expect 1 "withhold: TLP:AMBER+STRICT and TLP:RED are never re-shared" \
                  "${P[@]}" --participant op-power-b --tlp amber+strict --origin op-power-a --relay ceptoar-electricity
expect 1 "withhold: TLP:AMBER+STRICT and TLP:RED are never re-shared" \
                  "${P[@]}" --participant op-power-b --tlp red --origin op-power-a --audience participant:ceptoar-electricity --relay ceptoar-electricity
expect 1 "withhold: relay may not loosen the label" \
                  "${P[@]}" --participant op-power-b --tlp amber --origin op-power-a --relay ceptoar-electricity --relay-tlp green

# --- consent to forward (incident notices) --------------------------------
R2NCO=(--participant nco --tlp amber --origin op-power-a --audience participant:min-meti --relay min-meti)
expect 1 "withhold: TLP:AMBER is re-shared only to the relay's clients" "${P[@]}" "${R2NCO[@]}"
expect 0 $'deliver\nreason: consent-forward' "${P[@]}" "${R2NCO[@]}" --consent-forward yes
expect 1 $'withhold: the incident notice does not give consent to forward (consent_forward): no relay forwards it\nreason: no-consent-forward' \
                  "${P[@]}" "${R2NCO[@]}" --consent-forward no
expect 1 "withhold: the incident notice does not give consent" "${P[@]}" "${R2NCO[@]}" --type incident
# no relay at all, to anyone: not the CEPTOAR to its members either
expect 1 "withhold: the incident notice does not give consent" \
                  "${P[@]}" --participant op-power-b --tlp amber --origin op-power-a --relay ceptoar-electricity --consent-forward no
expect 0 deliver  "${P[@]}" --participant op-power-b --tlp amber --origin op-power-a --relay ceptoar-electricity --consent-forward yes
# direct delivery does not depend on it
expect 0 deliver  "${P[@]}" --participant min-meti --tlp amber --origin op-power-a --audience participant:min-meti --consent-forward no
# only the operator's own ministry forwards it
expect 1 "withhold: TLP:AMBER is re-shared only to the relay's clients" \
                  "${P[@]}" --participant nco --tlp green --origin op-bank-a --audience participant:min-meti --relay min-meti --relay-tlp amber --consent-forward yes
expect 0 $'deliver\nreason: consent-forward' \
                  "${P[@]}" --participant nco --tlp green --origin op-bank-a --audience participant:min-fsa --relay min-fsa --relay-tlp amber --consent-forward yes

# --- CEPTOAR <-> CEPTOAR council ---------------------------------------------
expect 0 $'deliver\nreason: relay-client' \
                  "${P[@]}" --participant ceptoar-council --tlp amber --origin op-power-a --relay ceptoar-electricity
expect 0 $'deliver\nreason: relay-client' \
                  "${P[@]}" --participant ceptoar-finance --tlp amber --origin ceptoar-electricity --audience participant:ceptoar-council --relay ceptoar-council
expect 1 "withhold: TLP:AMBER is re-shared only to the relay's clients" \
                  "${P[@]}" --participant op-bank-a --tlp amber --origin ceptoar-electricity --audience participant:ceptoar-council --relay ceptoar-council
expect 0 deliver  "${P[@]}" --participant ceptoar-gas --tlp amber --origin ceptoar-council --audience role:ceptoar

# --- publish rules, as feeds apply them -------------------------------------
expect 1 $'withhold: an operator publishes only in its own sectors\nreason: outside-own-sectors\nrule: operator op-power-a may not send TLP:AMBER to participant:op-bank-a' \
                  "${P[@]}" --participant op-bank-a --tlp amber --origin op-power-a --audience participant:op-bank-a
expect 1 "withhold: an operator publishes only in its own sectors" \
                  "${P[@]}" --participant op-bank-a --tlp amber --origin op-power-a --audience role:operator,role:ministry
expect 0 deliver  "${P[@]}" --participant op-bank-a --tlp green --origin op-power-a --audience role:operator
expect 0 deliver  "${P[@]}" --participant jpcert --tlp amber --origin op-power-a --audience participant:jpcert
expect 1 $'withhold: a report asking for anonymisation goes only to the one participant that anonymises it (its CEPTOAR, its ministry or the coordination office)\nreason: anonymise-audience' \
                  "${P[@]}" --participant op-power-b --tlp amber --origin op-power-a --anonymise
expect 0 deliver  "${P[@]}" --participant ceptoar-electricity --tlp amber --origin op-power-a --audience participant:ceptoar-electricity --anonymise --type incident
expect 1 "withhold: a report asking for anonymisation" \
                  "${P[@]}" --participant ceptoar-electricity --tlp amber --origin op-power-a --audience participant:ceptoar-electricity,participant:nco --anonymise

# --- bad input: exit 2 ---------------------------------------------------
expect 2 "" "${P[@]}" --participant nco --tlp amber --origin op-power-a --consent-forward maybe
expect 2 "" "${P[@]}" --participant nco --tlp amber --origin op-power-a --type indicator --consent-forward yes
expect 2 "" "${P[@]}" --participant nco --tlp amber --origin nco --type alert --anonymise
expect 2 "" "${P[@]}" --participant nco --tlp amber --origin nco --type notice
expect 2 "" "${P[@]}" --participant op-gas-a --tlp red --origin op-power-a --audience sector:gas
expect 2 "" "${P[@]}" --participant op-gas-a --tlp red --origin op-power-a --audience all
expect 2 "" "${P[@]}" --participant op-gas-a --tlp red --origin op-power-a
expect 2 "" "${P[@]}" --participant op-gas-a --tlp amber --origin nco
expect 2 "" "${P[@]}" --participant nobody --tlp green --origin nco
expect 2 "" "${P[@]}" --participant nco --tlp green --origin nobody
expect 2 "" "${P[@]}" --participant nco --tlp green --origin nco --relay nobody
expect 2 "" "${P[@]}" --participant nco --tlp purple --origin nco
expect 2 "" "${P[@]}" --participant nco --tlp green --origin nco --audience sector:space
expect 2 "" policy check --participant nco --tlp green --origin nco
expect 2 "" policy frobnicate
expect 0 "Usage:" policy --help
expect 0 "Usage:" directory --help

# --- directory refused: exit 2 -------------------------------------------
T=$(mktemp -d)
trap 'rm -rf "$T" /tmp/policy_check.$$.err' EXIT
cp $EX/directory.yaml $EX/root.pub "$T/"
expect 0 "" directory validate "$T/directory.yaml"
expect 0 deliver policy check --directory "$T/directory.yaml" --participant nco --tlp green --origin nco
# one byte changed after signing
sed -i 's/Power Company A/Power Company X/' "$T/directory.yaml"
expect 2 "" directory validate "$T/directory.yaml"
expect 2 "" directory show "$T/directory.yaml"
expect 2 "" policy check --directory "$T/directory.yaml" --participant nco --tlp green --origin nco
grep -q 'does not verify' /tmp/policy_check.$$.err || { echo "FAIL: no 'does not verify' in: $(cat /tmp/policy_check.$$.err)"; fails=$((fails + 1)); }
expect 0 "" directory validate --unsigned "$T/directory.yaml"
# signed by another key
"$BIN" keys generate --out "$T/other.key" --comment 'test key' |
    sed -n 's/^ed25519: //p' > "$T/other.pub"
expect 0 "" directory sign --key "$T/other.key" "$T/directory.yaml"
expect 2 "" directory validate "$T/directory.yaml"
expect 2 "" policy check --directory "$T/directory.yaml" --participant nco --tlp green --origin nco
# ... accepted only when that key is the pinned one (--root-key)
expect 0 "" directory validate --root-key "$T/other.pub" "$T/directory.yaml"
# re-signed by the example root key: accepted again, one signature line
expect 0 "" directory sign --key $EX/keys/root.key "$T/directory.yaml"
expect 0 "" directory validate "$T/directory.yaml"
[ "$(grep -c '^# cishare-signature:' "$T/directory.yaml")" = 1 ] || { echo "FAIL: sign did not replace the signature line"; fails=$((fails + 1)); }
# unsigned
grep -v '^# cishare-signature:' "$T/directory.yaml" > "$T/unsigned.yaml"
expect 2 "" directory validate "$T/unsigned.yaml"
grep -q 'not signed' /tmp/policy_check.$$.err || { echo "FAIL: no 'not signed'"; fails=$((fails + 1)); }
# --root-key override with a wrong key
"$BIN" keys generate --out "$T/k3.key" | sed -n 's/^ed25519: //p' > "$T/k3.pub"
expect 2 "" directory validate --root-key "$T/k3.pub" "$T/directory.yaml"
expect 2 "" policy check --directory "$T/directory.yaml" --root-key "$T/k3.pub" --participant nco --tlp green --origin nco
# show
expect 0 "Directory signed by root key" directory show "$T/directory.yaml"
expect 0 "{" directory show --json "$T/directory.yaml"
"$BIN" directory show --json "$T/directory.yaml" | python3 -c '
import json,sys; d=json.load(sys.stdin)
assert len(d["participants"])==12 and len(d["sectors"])==15, d
p={x["id"]:x for x in d["participants"]}
assert p["op-power-a"]["core-infrastructure"] is True
assert p["op-bank-a"]["ceptoar"]=="ceptoar-finance"
assert p["min-meti"]["sectors"]==["electricity","gas","chemical","credit","petroleum"]
assert p["min-fsa"]["sectors"]==["finance"]
assert p["ceptoar-council"]["role"]=="ceptoar-council"
' || { echo "FAIL: show --json content"; fails=$((fails + 1)); }
# sign refuses an invalid directory
sed 's/sectors: \[gas\]/sectors: [gas, nuclear]/' "$T/unsigned.yaml" > "$T/bad.yaml"
expect 2 "" directory sign --key $EX/keys/root.key "$T/bad.yaml"
grep -q "sectors: unknown sector 'nuclear'" /tmp/policy_check.$$.err || { echo "FAIL: no unknown-sector error"; fails=$((fails + 1)); }

echo "policy_check.sh: $((n - fails))/$n checks passed"
[ $fails -eq 0 ]
