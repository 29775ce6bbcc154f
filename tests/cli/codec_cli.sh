#!/usr/bin/env bash
# cishare encode | decode | schema: outputs, exit codes and error messages.
set -uo pipefail
: "${CISHARE_BIN:?}" "${CISHARE_SRC:?}" "${CISHARE_VECTORS:?}"
B=$CISHARE_BIN
ex=$CISHARE_SRC/schemas/examples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME WANT_RC GOT_RC [STDERR_FILE PATTERN]
    if [ "$2" != "$3" ]; then
        echo "FAIL $1: exit $3, want $2"; fails=$((fails + 1)); return
    fi
    if [ $# -ge 5 ] && ! grep -qF -- "$5" "$4"; then
        echo "FAIL $1: stderr lacks '$5':"; cat "$4"; fails=$((fails + 1))
        return
    fi
    echo "ok $1"
}

for t in indicator incident alert sighting revocation receipt; do
    "$B" encode "$ex/$t-example.json" >"$tmp/$t.bin"
    check "encode $t" 0 $?
    cmp -s "$tmp/$t.bin" "$CISHARE_VECTORS/codec/$t-example.bin"
    check "encode $t = golden" 0 $?
    "$B" decode -c "$tmp/$t.bin" >"$tmp/$t.json"
    check "decode $t" 0 $?
    "$B" encode "$tmp/$t.json" | cmp -s - "$tmp/$t.bin"
    check "re-encode $t" 0 $?
done
# Bare payload with --type, from stdin; --type contradicting the file.
jq_payload=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["payload"]))' "$ex/alert-example.json")
echo "$jq_payload" | "$B" encode --type alert - | cmp -s - "$tmp/alert.bin"
check "bare payload --type" 0 $?
"$B" encode --type sighting "$ex/alert-example.json" >/dev/null 2>"$tmp/err"
check "type conflict" 2 $? "$tmp/err" "alert-example.json: type is 'alert' but --type sighting"
echo "$jq_payload" | "$B" encode - >/dev/null 2>"$tmp/err"
check "bare payload without --type" 2 $? "$tmp/err" "no \"payload\" member"

# Validation errors name file and field, exit 2.
sed 's/"confidence": 85/"confidence": "high"/' "$ex/indicator-example.json" >"$tmp/bad1.json"
"$B" encode "$tmp/bad1.json" >/dev/null 2>"$tmp/err"
check "bad confidence" 2 $? "$tmp/err" "bad1.json: payload.confidence: expected int 0-100"
sed 's/"type": "ipv4"/"type": "foo"/' "$ex/indicator-example.json" >"$tmp/bad2.json"
"$B" encode "$tmp/bad2.json" >/dev/null 2>"$tmp/err"
check "bad enum" 2 $? "$tmp/err" "payload.type: 'foo' is not one of ipv4, ipv6"
grep -v '"title"' "$ex/alert-example.json" >"$tmp/bad3.json"
"$B" encode "$tmp/bad3.json" >/dev/null 2>"$tmp/err"
check "missing field" 2 $? "$tmp/err" "payload.title: missing required field"
sed 's/"count": 14/"count": 14, "colour": "red"/' "$ex/sighting-example.json" >"$tmp/bad4.json"
"$B" encode "$tmp/bad4.json" >/dev/null 2>"$tmp/err"
check "unknown field" 2 $? "$tmp/err" "payload.colour: unknown field"
"$B" encode "$tmp/nonexistent.json" >/dev/null 2>"$tmp/err"
check "missing file" 2 $? "$tmp/err" "nonexistent.json"
"$B" encode --type indicator -d - <<<'{"type":"ipv4","value":"192.0.2.1"}' >"$tmp/d.bin"
check "fill defaults" 0 $?
"$B" decode -p -c "$tmp/d.bin" | grep -q '"id":"indicator--'
check "filled id" 0 $?

# Decode refusals, exit 2.
head -c 20 "$tmp/incident.bin" >"$tmp/trunc.bin"
"$B" decode "$tmp/trunc.bin" >/dev/null 2>"$tmp/err"
check "truncated" 2 $? "$tmp/err" "trunc.bin: payload."
{ cat "$tmp/revocation.bin"; printf '\0'; } >"$tmp/trail.bin"
"$B" decode "$tmp/trail.bin" >/dev/null 2>"$tmp/err"
check "trailing" 2 $? "$tmp/err" "1 trailing bytes"
"$B" decode "$CISHARE_VECTORS/avro/messageV1/test_message.bin" >/dev/null 2>"$tmp/err"
check "unknown fingerprint" 2 $? "$tmp/err" "unknown schema fingerprint"
printf 'hello world' >"$tmp/magic.bin"
"$B" decode "$tmp/magic.bin" >/dev/null 2>"$tmp/err"
check "bad magic" 2 $? "$tmp/err" "expected c3 01"
head -c 1100000 /dev/zero >"$tmp/big.bin"
"$B" decode "$tmp/big.bin" >/dev/null 2>"$tmp/err"
check "too large" 2 $? "$tmp/err" "larger than the limit"

# schema list / show.
"$B" schema list >"$tmp/list"
check "schema list" 0 $?
grep -q '^indicator   jp.cishare.v1.Indicator ' "$tmp/list"
check "list has indicator" 0 $?
fp=$(awk '$1=="revocation"{print $3}' "$tmp/list")
hdr=$(awk '$1=="revocation"{print $4}' "$tmp/list")
[ "$hdr" = "$(head -c 10 "$tmp/revocation.bin" | od -An -tx1 | tr -d ' \n')" ]
check "list header = bytes" 0 $?
le=$(echo "$hdr" | cut -c5- | fold -w2 | tac | tr -d '\n')
[ "$le" = "$fp" ]
check "fingerprint = LE header" 0 $?
"$B" schema show sighting | grep -q '^{"name":"jp.cishare.v1.Sighting","type":"record","fields":\[{"name":"id","type":"string"}'
check "schema show" 0 $?
"$B" schema show nope >/dev/null 2>&1
check "schema show unknown" 2 $?
for c in encode decode schema; do "$B" $c --help >/dev/null; check "$c --help" 0 $?; done

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
