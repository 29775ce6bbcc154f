#!/usr/bin/env bash
# deploy/pki/cishare-ca, the cluster CA, without Kafka: a participant's
# key and request stay with it, the CA binds exactly the requested id for a
# bounded period, refuses what it must, lists, revokes into the CRL.
set -euo pipefail
CA="${CISHARE_SRC:?}/deploy/pki/cishare-ca"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
expect() { # STATUS TEXT CMD...: exit status and a text on stderr
    local want="$1" text="$2" rc=0
    shift 2
    "$@" >out 2>err || rc=$?
    [ "$rc" = "$want" ] || { cat err; fail "$*: exit $rc, expected $want"; }
    grep -qF -- "$text" err || { cat err; fail "$*: no '$text'"; }
}

"$CA" init --ca ca --crl-url "file://$tmp/ca/crl.pem" 2>/dev/null || fail "init"
[ "$(stat -c %a ca/private)" = 700 ] || fail "CA private folder not 0700"
expect 1 "already holds a CA" "$CA" init --ca ca
"$CA" request --kind participant --name op-x --out p/op-x 2>/dev/null || fail "request"
[ "$(stat -c %a p/op-x.key)" = 600 ] || fail "participant key not 0600"
expect 1 "refusing to overwrite a private key" "$CA" request --kind participant --name op-x --out p/op-x
"$CA" sign --ca ca --csr p/op-x.csr --kind participant --name op-x --out p/op-x.crt 2>/dev/null ||
    fail "sign"
openssl verify -CAfile ca/ca.crt p/op-x.crt >/dev/null || fail "does not verify against the CA"
subj="$(openssl x509 -in p/op-x.crt -noout -subject -nameopt RFC2253)"
[ "$subj" = "subject=CN=op-x,OU=participant,O=cishare" ] || fail "subject $subj"
openssl x509 -in p/op-x.crt -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" ||
    fail "no clientAuth"
openssl x509 -in p/op-x.crt -noout -ext crlDistributionPoints | grep -q "file://$tmp/ca/crl.pem" ||
    fail "no CRL distribution point"
[ "$(openssl x509 -in p/op-x.crt -noout -pubkey)" = "$(openssl pkey -in p/op-x.key -pubout)" ] ||
    fail "the certificate is not for the requester's key"
end="$(date -u -d "$(openssl x509 -in p/op-x.crt -noout -enddate | cut -d= -f2)" +%s)"
[ $((end - $(date +%s))) -le $((90 * 86400 + 60)) ] || fail "default validity above 90 days"
ok "request and sign: exact subject, clientAuth, CRL point, the requester's key, 90 days"

# Refusals.
expect 1 "not 'op-y': refusing to sign" "$CA" sign --ca ca --csr p/op-x.csr --kind participant --name op-y --out y.crt
openssl req -new -key p/op-x.key -subj '/O=cishare/CN=x\,CN=op-y' -out evil.csr 2>/dev/null
expect 1 "refusing to sign" "$CA" sign --ca ca --csr evil.csr --kind participant --name op-y --out y.crt
expect 2 "825 days at most" "$CA" sign --ca ca --csr p/op-x.csr --kind participant --name op-x --days 900 --out y.crt
expect 2 "later than --not-before" "$CA" sign --ca ca --csr p/op-x.csr --kind participant --name op-x \
    --not-before 20270101000000Z --not-after 20260101000000Z --out y.crt
"$CA" request --kind broker --name kafka-1 --ip 127.0.0.11 --out b/kafka-1 2>/dev/null
expect 2 "needs --ip" "$CA" sign --ca ca --csr b/kafka-1.csr --kind broker --name kafka-1 --out y.crt
expect 2 "--name 'Op X'" "$CA" request --kind participant --name 'Op X' --out q
expect 2 "--kind must be" "$CA" request --kind root --name op-z --out q
expect 1 "not a CA folder" "$CA" list --ca nowhere
[ ! -e y.crt ] || fail "a refused request left a certificate"
ok "refused: other id, CN injection, > 825 days, inverted period, broker without address, bad names"

"$CA" sign --ca ca --csr b/kafka-1.csr --kind broker --name kafka-1 --ip 127.0.0.11 --dns localhost \
    --out b/kafka-1.crt 2>/dev/null || fail "broker sign"
san="$(openssl x509 -in b/kafka-1.crt -noout -ext subjectAltName)"
grep -q "IP Address:127.0.0.11" <<<"$san" && grep -q "DNS:localhost" <<<"$san" || fail "broker SAN: $san"
ok "broker certificate carries its address in the SAN"

serial="$(openssl x509 -in p/op-x.crt -noout -serial | cut -d= -f2)"
"$CA" revoke --ca ca --serial "$serial" --reason keyCompromise 2>/dev/null || fail "revoke"
openssl crl -in ca/crl.pem -noout -text | grep -q "Serial Number: $serial" || fail "serial not in the CRL"
openssl verify -crl_check -CAfile ca/ca.crt -CRLfile ca/crl.pem p/op-x.crt >/dev/null 2>&1 &&
    fail "a revoked certificate still verifies with the CRL"
openssl verify -crl_check -CAfile ca/ca.crt -CRLfile ca/crl.pem b/kafka-1.crt >/dev/null ||
    fail "the broker certificate no longer verifies"
"$CA" list --ca ca >list
grep -q "^$serial *revoked" list && grep -q "valid .*CN=kafka-1" list || { cat list; fail "list"; }
ok "revoke: in the CRL, refused by a CRL check, listed as revoked; others unaffected"
