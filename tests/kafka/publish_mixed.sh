#!/usr/bin/env bash
# cishare publish with refused records between good ones, on the real
# broker: the signing thread checks and builds, so a refused record must
# keep its reason and place (named on stderr in submission order, counted
# in the summary) and stay out of the signed batch, while the good records
# around it are produced and verify.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

provision_examples

now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ind() { # id value [extra top-level fields]
    echo "{\"type\":\"indicator\",\"tlp\":\"green\",\"audience\":[\"sector:electricity\"]${3:-},\"payload\":{\"id\":\"$1\",\"created\":\"$now\",\"modified\":\"$now\",\"type\":\"ipv4\",\"value\":\"$2\"}}"
}
{
    ind "indicator--$nonce-0001-0000-0000-000000000001" 192.0.2.11
    ind "indicator--$nonce-0001-0000-0000-000000000002" 192.0.2.12 ',"origin":"op-bank-a"'
    ind "indicator--$nonce-0001-0000-0000-000000000003" 192.0.2.13 ',"origin":"op-power-a"'
    echo "{\"type\":\"indicator\",\"tlp\":\"green\",\"audience\":[\"sector:finance\"],\"payload\":{\"id\":\"indicator--$nonce-0001-0000-0000-000000000004\",\"created\":\"$now\",\"modified\":\"$now\",\"type\":\"ipv4\",\"value\":\"192.0.2.14\"}}"
    echo "{\"type\":\"incident\",\"tlp\":\"amber+strict\",\"audience\":[\"participant:nco\"],\"payload\":{\"id\":\"incident--$nonce-0001-0000-0000-000000000005\",\"created\":\"$now\",\"modified\":\"$now\",\"title\":\"Ransomware\",\"stage\":\"preliminary\",\"category\":\"ransomware\",\"operator_overview\":\"Power Company A\",\"summary\":\"files encrypted\",\"affected_service\":\"electricity supply\",\"affected_system\":\"historian\",\"impact\":\"degraded\",\"operating_mode\":\"normal\",\"detected_at\":\"$now\",\"reported_at\":\"$now\",\"legal_basis\":\"mandatory\",\"indicators\":[]}}"
    echo "{\"type\":\"indicator\",\"tlp\":\"green\",\"audience\":[\"sector:electricity\"],\"payload\":{\"id\":\"indicator--$nonce-0001-0000-0000-000000000006\",\"created\":\"$now\",\"modified\":\"$now\",\"type\":\"ipv4\"}}"
    ind "indicator--$nonce-0001-0000-0000-000000000007" 192.0.2.17
} >"$tmp/mixed.jsonl"

set +e
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" "$tmp/mixed.jsonl" \
    >/dev/null 2>"$tmp/mixed.err"
rc=$?
set -e
cat "$tmp/mixed.err"
[ "$rc" -eq 1 ] || fail "publish with refused records: exit $rc, expected 1"
grep -q "published 3, rejected 4 (" "$tmp/mixed.err" || fail "summary"
for r in "not own identity: 1" "outside own sectors: 1" \
    "mandatory incident not addressed: 1" "invalid message: 1"; do
    grep -q "$r" "$tmp/mixed.err" || fail "summary lacks '$r'"
done
[ "$(grep -o '^% ERROR: mixed.jsonl:[0-9]*' "$tmp/mixed.err" | tr '\n' ' ')" = \
    "% ERROR: mixed.jsonl:2 % ERROR: mixed.jsonl:4 % ERROR: mixed.jsonl:5 % ERROR: mixed.jsonl:6 " ] ||
    fail "refused records not named in submission order"
grep -q "mixed.jsonl:2: .*may publish only as itself" "$tmp/mixed.err" ||
    fail "the wrong origin's text"
grep -q "mixed.jsonl:4: .*may publish only in its own sectors; the audience names sector:finance" \
    "$tmp/mixed.err" || fail "the foreign sector's text"
grep -q "mixed.jsonl:5: .*add participant:min-meti to the audience" \
    "$tmp/mixed.err" || fail "the mandatory incident's text"
ok "refused records named in order with their reasons and counted"

# The three good records (and only they) are on the electricity topic,
# each verifies (the batch they were signed in held no refused record).
# Their subjects differ, so they may be on different partitions: no order.
kcat "${kc[@]}" -C -t cishare.green.electricity -o beginning -e -q \
    -f '%p %o %k\n' | grep "indicator--$nonce-0001-" >"$tmp/offs" ||
    fail "nothing on cishare.green.electricity"
[ "$(awk '{print $3}' "$tmp/offs" | sed 's/.*-//' | sort | tr '\n' ' ')" = \
    "000000000001 000000000003 000000000007 " ] ||
    fail "produced: $(cat "$tmp/offs")"
while read -r p o k; do
    kcat "${kc[@]}" -C -t cishare.green.electricity -p "$p" -o "$o" -c 1 -q \
        -f '%K %k\n%h\n%S %s\n' >"$tmp/rec.kcat"
    "$B" inspect -d "$EX/directory.yaml" --json "$tmp/rec.kcat" \
        >"$tmp/rec.json" || { cat "$tmp/rec.json"; fail "$k does not verify"; }
    python3 -c "import json,sys; d=json.load(open('$tmp/rec.json')); sys.exit(0 if d['verified'] and d['envelope']['origin']=='op-power-a' else 1)" ||
        fail "$k: $(cat "$tmp/rec.json")"
done <"$tmp/offs"
ok "the good records around them are produced and verify"
