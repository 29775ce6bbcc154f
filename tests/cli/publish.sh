#!/usr/bin/env bash
# cishare publish --dry-run and cishare alert --dry-run without a broker:
# every real sample outside invalid/ imports and builds; the invalid files
# that are not JSON fail naming the file (exit 2, nothing sent); the
# publish rules refuse with the record named (exit 1).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
S="${CISHARE_SAMPLES:?}"

# A participant audience is valid at every label, RED included.
while IFS= read -r -d '' f; do
    "$B" publish -c "$EX/op-power-a.conf" -n -a participant:op-power-b "$f" \
        >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "$f"; }
    grep -q "published [0-9]*, rejected 0" "$tmp/err" || fail "$f: $(cat "$tmp/err")"
done < <(find "$S" -type f ! -path '*/invalid/*' ! -name '*.md' -print0)
ok "every sample outside invalid/ publishes in a dry run"

for f in stix-validator-invalid_braces.json stix-validator-invalid_comma.json; do
    set +e
    "$B" publish -c "$EX/op-power-a.conf" -n "$S/invalid/$f" >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "$f: exit $rc"
    grep -q "ERROR: $f: not valid JSON" "$tmp/err" || fail "$f: $(cat "$tmp/err")"
done
ok "non-JSON files fail naming the file"

expect() { # exit-code grep-pattern args...
    local want="$1" pat="$2" rc
    shift 2
    set +e
    "$B" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    [ "$rc" -eq "$want" ] || { cat "$tmp/err"; fail "$* -> exit $rc, want $want"; }
    grep -q -- "$pat" "$tmp/err" || { cat "$tmp/err"; fail "$*: no '$pat'"; }
}
f141="$S/stix21/elevator-141-TLP-marking-structures.json"
# --tlp tightens a looser record and keeps a stricter record's own marking.
expect 0 "published 4, rejected 0" \
    publish -c "$EX/op-power-a.conf" -n --tlp green -a participant:op-power-b "$f141"
for want in 14975dea-86cd-4211-a5f8-9c2e4daab69a:amber \
    8cf9236f-1b96-493d-98be-0c1c1e8b62d7:red 8a822399-5d8a-44e4-abeb-15d480ea93c5:green; do
    grep -qP "\tindicator--${want%%:*}\t${want#*:}\t" "$tmp/out" ||
        { cat "$tmp/out"; fail "--tlp green: indicator--${want%%:*} not at ${want#*:}"; }
done
ok "--tlp tightens looser records and keeps stricter markings"
expect 1 "indicator--8cf9236f-1b96-493d-98be-0c1c1e8b62d7: .*TLP:RED needs explicit participant" \
    publish -c "$EX/op-power-a.conf" -n "$f141"
expect 1 "may publish only in its own sectors; the audience names sector:gas" \
    publish -c "$EX/op-power-a.conf" -n -a sector:gas "$S/feeds/pymisp-freetext.txt"
cat >"$tmp/inc.json" <<JSON
{"type":"incident","tlp":"amber","audience":["participant:min-meti"],"payload":{"id":"incident--00000000-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","title":"t","stage":"preliminary","category":"ddos","operator_overview":"o","summary":"s","affected_service":"a","affected_system":"b","impact":"none","operating_mode":"normal","detected_at":"2026-01-01T00:00:00Z","reported_at":"2026-01-01T00:00:00Z","legal_basis":"mandatory"}}
JSON
expect 1 "must be addressed to its competent ministry and to the coordination office: add participant:nco" \
    publish -c "$EX/op-power-a.conf" -n "$tmp/inc.json"
expect 0 "published 1, rejected 0" \
    publish -c "$EX/op-power-a.conf" -n -a participant:min-meti,participant:nco "$tmp/inc.json"
# A mandatory report is never public: AMBER or stricter (policy.h P7),
# from any origin, whatever the audience.
for l in green clear; do
    sed "s/\"tlp\":\"amber\"/\"tlp\":\"$l\"/" "$tmp/inc.json" >"$tmp/inc-$l.json"
    expect 1 "a mandatory incident notice must be TLP:AMBER or stricter (it is a report to the authorities); it is TLP:${l^^}" \
        publish -c "$EX/op-power-a.conf" -n -a all "$tmp/inc-$l.json"
done
expect 1 "mandatory incident below TLP:AMBER" \
    publish -c "$EX/op-power-a.conf" -n -a participant:min-meti,participant:nco "$tmp/inc-green.json"
for l in amber+strict red; do
    expect 0 "published 1, rejected 0" \
        publish -c "$EX/op-power-a.conf" -n -t $l -a participant:min-meti,participant:nco "$tmp/inc.json"
done
# An anonymised report goes to its anonymiser only (policy.h P8).
sed 's/"legal_basis":"mandatory"/"legal_basis":"voluntary","anonymise":true/' "$tmp/inc.json" >"$tmp/anon.json"
expect 1 "op-power-a asks for anonymisation (anonymise: true), so the report goes only to the one participant that anonymises it: participant:ceptoar-electricity (its CEPTOAR), a ministry of its sector, or the coordination office; the audience is 'participant:min-meti,participant:nco'" \
    publish -c "$EX/op-power-a.conf" -n -a participant:min-meti,participant:nco "$tmp/anon.json"
expect 1 "the audience is 'sector:electricity'" \
    publish -c "$EX/op-power-a.conf" -n -a sector:electricity "$tmp/anon.json"
expect 1 "anonymised report beyond its anonymiser" \
    publish -c "$EX/op-power-a.conf" -n -a participant:op-power-b "$tmp/anon.json"
for a in participant:ceptoar-electricity participant:min-meti participant:nco; do
    expect 0 "published 1, rejected 0" publish -c "$EX/op-power-a.conf" -n -a "$a" "$tmp/anon.json"
done
expect 1 "may not address TLP:AMBER to a role" \
    publish -c "$EX/op-power-a.conf" -n -a role:ceptoar "$tmp/anon.json"
ok "an anonymised report goes only to its CEPTOAR, its ministry or the NCO"
expect 1 "record names origin 'op-power-b'" publish -c "$EX/op-power-a.conf" -n - \
    <<<'{"type":"indicator","origin":"op-power-b","payload":{"id":"indicator--x","type":"ipv4","value":"192.0.2.1"}}'
expect 1 "only the coordination office and ministries issue alerts" \
    publish -c "$EX/op-power-a.conf" -n "$CISHARE_SRC/schemas/examples/alert-example.json"
expect 2 "unknown configuration key 'cishare.nope'" \
    publish -c "$EX/op-power-a.conf" -n -X cishare.nope=1 "$tmp/inc.json"
ok "publish rules refuse with the record named"

expect 0 "published 1, rejected 0" alert -c "$EX/nco.conf" -n -s high -T t -b b --all
grep -q "cishare.green.all" "$tmp/out" || fail "alert to all routes to .all"
expect 1 "only the coordination office and ministries issue alerts" \
    alert -c "$EX/op-power-a.conf" -n -s high -T t -b b
expect 1 "not competent for sector 'finance'" \
    alert -c "$EX/min-meti.conf" -n -s low -T t -b b -S finance
expect 2 "severity" alert -c "$EX/nco.conf" -n -T t -b b
ok "alert rules"

# One --tlp parse for every publishing command: the same usage error.
for cmd in publish alert revoke misp-bridge; do
    expect 2 "cishare $cmd: 'purple' is not a TLP label (clear, green, amber, amber+strict, red)" \
        "$cmd" -c "$EX/op-power-a.conf" --tlp purple
done
ok "a bad --tlp is the same usage error in publish, alert, revoke and misp-bridge"
