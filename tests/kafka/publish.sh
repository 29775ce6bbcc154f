#!/usr/bin/env bash
# cishare publish and cishare alert on the real broker (mutual TLS, ACLs
# from 'cishare provision'): publish each message type as example
# participants, read the topics back as admin with kcat, verify every
# signature (and decrypt AMBER+STRICT as its recipient) with 'cishare
# inspect'; then a record whose topic the Kafka principal may not write
# is reported by name with exit status 1.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC, CISHARE_SAMPLES.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
S="${CISHARE_SAMPLES:?}"

# Topics and ACLs from the directory.
provision_examples

now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ind="indicator--$run"
amb="indicator--${run%????}aaaa"
inc="incident--$run"

# Each message type, as op-power-a (electricity, core infrastructure). An
# operator may write only its sectors' topics and inboxes (deploy/TOPICS.md),
# so its GREEN records name sector:electricity rather than the default all.
cat >"$tmp/msgs.jsonl" <<EOF
{"type":"indicator","tlp":"green","audience":["sector:electricity"],"payload":{"id":"$ind","created":"$now","modified":"$now","type":"ipv4","value":"192.0.2.77"}}
{"type":"indicator","tlp":"amber","payload":{"id":"$amb","created":"$now","modified":"$now","type":"domain","value":"c2.example"}}
{"type":"incident","tlp":"amber+strict","audience":["participant:min-meti","participant:nco"],"payload":{"id":"$inc","created":"$now","modified":"$now","title":"Ransomware","stage":"preliminary","category":"ransomware","operator_overview":"Power Company A","summary":"files encrypted","affected_service":"electricity supply","affected_system":"historian","impact":"degraded","operating_mode":"normal","detected_at":"$now","reported_at":"$now","legal_basis":"mandatory","indicators":["$ind"]}}
{"type":"sighting","tlp":"green","audience":["sector:electricity"],"payload":{"id":"sighting--$run","created":"$now","sighting_of":"$ind","count":3}}
{"type":"revocation","tlp":"green","audience":["sector:electricity"],"payload":{"id":"revocation--$run","created":"$now","revokes":"$amb","reason":"false positive"}}
EOF
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -v "$tmp/msgs.jsonl" \
    >"$tmp/pub.out" 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish"; }
grep -q "published 5, rejected 0" "$tmp/pub.err" || fail "summary: $(cat "$tmp/pub.err")"
ok "publish 5 records of 4 types as op-power-a"

# A STIX sample: the RED indicator needs named participants.
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -a participant:op-power-b \
    --tlp red "$S/stix21/elevator-141-TLP-marking-structures.json" \
    >/dev/null 2>"$tmp/stix.err" || { cat "$tmp/stix.err"; fail "publish stix"; }
grep -q "published 4, rejected 0" "$tmp/stix.err" || fail "stix summary"
ok "publish a STIX bundle at RED to a named participant"

"$B" alert -c "$EX/nco.conf" "${X[@]}" -s high -T "Test alert $run" \
    -b "Patch now" -S electricity --cve CVE-2024-3400 -r "Apply the hotfix" \
    -i ipv4:192.0.2.1 --valid-for 7d --id "alert--$run" \
    >/dev/null 2>"$tmp/alert.err" || { cat "$tmp/alert.err"; fail "alert"; }
grep -q "published 1, rejected 0" "$tmp/alert.err" || fail "alert summary"
ok "alert from nco to electricity"

# Read one topic back: the record with key $2 and message type $3 (the
# label header "cishare=<type> <tlp> <origin>" of layout 2, cishare.type in
# layout 1); verify it (decrypt with key file $4 when given) and print
# inspect's JSON.
readback() {
    local topic="$1" key="$2" type="$3" keyfile="${4:-}" at
    at="$(kcat "${kc[@]}" -C -t "$topic" -o beginning -e -q \
        -f '%p %o %k %h\n' |
        awk -v k="$key" -v t="cishare.type=$type," -v l="cishare=$type" \
            '$3 == k && ($4 == l || index($4, t)) { print $1, $2 }' | tail -1)"
    [ -n "$at" ] || fail "no $type with key $key on $topic"
    kcat "${kc[@]}" -C -t "$topic" -p "${at% *}" -o "${at#* }" -c 1 -q \
        -f '%K %k\n%h\n%S %s\n' >"$tmp/rec.kcat"
    "$B" inspect -d "$EX/directory.yaml" ${keyfile:+-k "$keyfile"} --json \
        "$tmp/rec.kcat" >"$tmp/rec.json" || {
        cat "$tmp/rec.json"
        fail "inspect: $topic $key does not verify"
    }
    cat "$tmp/rec.json"
}
check() { # json-file python-expression
    python3 -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if ($2) else 1)" ||
        fail "check $2 on $(cat "$1")"
}

readback cishare.green.electricity "$ind" indicator >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['payload']['value']=='192.0.2.77' and d['envelope']['origin']=='op-power-a' and d['envelope']['tlp']=='green'"
ok "indicator on cishare.green.electricity verifies"
readback cishare.amber.electricity "$amb" indicator >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['payload']['value']=='c2.example' and d['envelope']['tlp']=='amber'"
ok "amber indicator on cishare.amber.electricity verifies"
readback cishare.inbox.min-meti "$inc" incident "$EX/keys/min-meti.key" >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['envelope']['encrypted'] and d['payload']['legal_basis']=='mandatory' and d['envelope']['tlp']=='amber+strict'"
readback cishare.inbox.nco "$inc" incident "$EX/keys/nco.key" >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['payload']['title']=='Ransomware'"
ok "encrypted mandatory incident in the inboxes of min-meti and nco verifies and decrypts"
readback cishare.green.electricity "$ind" sighting >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['payload']['sighting_of']=='$ind' and d['payload']['count']==3"
readback cishare.green.electricity "$amb" revocation >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['payload']['revokes']=='$amb'"
ok "sighting and revocation, keyed by their subject, verify"
readback cishare.green.electricity "alert--$run" alert >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['envelope']['origin']=='nco' and d['payload']['cves']==['CVE-2024-3400'] and d['envelope'].get('expires')"
ok "alert on cishare.green.electricity verifies"
readback cishare.inbox.op-power-b indicator--8cf9236f-1b96-493d-98be-0c1c1e8b62d7 \
    indicator "$EX/keys/op-power-b.key" >"$tmp/a.json"
check "$tmp/a.json" "d['verified'] and d['envelope']['tlp']=='red' and d['payload']['type']=='stix'"
ok "RED STIX indicator in op-power-b's inbox verifies and decrypts"

# Not authorised: a directory version in which op-power-a's principal is
# another name takes its ACLs away at provision (as a removal would); its
# certificate then writes nothing. The record is named, exit 1.
mkdir -p "$tmp/noacl"
cp "$EX/root.pub" "$tmp/noacl/"
sed -e '/^# cishare-signature:/d' \
    -e 's/principal: User:op-power-a$/principal: User:op-power-a-suspended/' \
    "$EX/directory.yaml" >"$tmp/noacl/directory.yaml"
"$B" directory sign --key "$EX/keys/root.key" "$tmp/noacl/directory.yaml" 2>/dev/null ||
    fail "sign the suspended directory"
restore() { provision_examples; rm -rf "$tmp"; }
trap restore EXIT
"$B" provision -c "$EX/admin.conf" "${X[@]}" --directory "$tmp/noacl/directory.yaml" \
    -X "cishare.state-dir=$tmp/admin-state" >/dev/null 2>"$tmp/prov.err" ||
    { cat "$tmp/prov.err"; fail "provision the suspended directory"; }
set +e
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X message.timeout.ms=15000 \
    --tlp amber "$S/feeds/pymisp-freetext.txt" >/dev/null 2>"$tmp/deny.err"
rc=$?
set -e
cat "$tmp/deny.err"
[ "$rc" -eq 1 ] || fail "unauthorised publish exit $rc, expected 1"
grep -q "pymisp-freetext.txt:1: op-power-a is not authorised to write to cishare.amber.electricity" \
    "$tmp/deny.err" || fail "the failed record is not named with its reason"
grep -q "published 0, rejected 3 (not authorised: 3)" "$tmp/deny.err" ||
    fail "summary of the refused publish"
ok "a record whose topic is not authorised is reported by name, exit 1"
