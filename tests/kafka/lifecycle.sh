#!/usr/bin/env bash
# A participant's life on the running TLS cluster, and the directory's
# defences, each step with a new signed directory version (a private copy
# of the example directory, private trust states: the example directory
# and the states of other tests are never advanced):
#   onboarding  a participant not in the examples gets signing and
#               encryption keys, a certificate (its own key and request,
#               signed by the cluster CA), an entry in serial 2, topics and
#               ACLs from provision; it publishes and receives its feed,
#               and others' feeds accept its messages. Nothing restarts.
#   rotation    serial 3 makes a new key current and keeps the old one for
#               an overlap: old-key messages verify during the overlap, and
#               after it the old key signs nothing a feed accepts.
#   compromise  serial 4 marks the key revoked at T: the message created
#               before T is delivered, the one created after T is
#               quarantined with the reason.
#   certificate its TLS certificate is revoked at the CA: brokers refuse it
#               (CRL), a re-issued certificate connects.
#   removal     serial 5 drops the participant: provision removes its ACLs,
#               its certificate then reads and writes nothing, and feeds
#               no longer accept its messages.
#   rollback    serial 2 after 5: refused by feed, publish and provision,
#               naming both serials, exit 2.
#   expiry      a version past its expiry: refused, naming it, exit 2.
#   root        a version that brings a new root key: refused when signed
#               by the new root only, accepted when signed by both; then
#               the old root alone is no longer enough.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CA="$CISHARE_SRC/deploy/pki/cishare-ca"
provision_examples

id="op-new-$nonce"
d="$tmp/dir"
mkdir -p "$d"
cp "$EX/root.pub" "$d/"
base="$tmp/base.yaml" # the example content without its signature
sed '/^# cishare-signature:/d' "$EX/directory.yaml" >"$base"
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# version SERIAL ENTRY_FILE|- [EXPIRES]: write and sign $d/directory.yaml
version() {
    local s="$1" entry="$2" exp="${3:-2030-12-31T00:00:00Z}"
    sed -e "s/^serial: .*/serial: $s/" -e "s/^expires: .*/expires: $exp/" "$base" >"$d/directory.yaml"
    [ "$entry" = - ] || cat "$entry" >>"$d/directory.yaml"
    "$B" directory sign --key "$EX/keys/root.key" "$d/directory.yaml" 2>"$tmp/sign.err" ||
        { cat "$tmp/sign.err"; fail "sign serial $s"; }
    cp "$d/directory.yaml" "$tmp/dir-$s.yaml"
}
# Every command of this test uses the private directory and a private
# state per participant (a trust state belongs to one installation).
D() { # ID: the -X options of participant ID (or admin) on the private directory
    echo "-X cishare.directory=$d/directory.yaml -X cishare.state-dir=$tmp/state-$1"
}
pubkey() { sed -n "s/^$2: //p" "$tmp/$1.pub"; }

# ---- onboarding --------------------------------------------------------
"$B" keys generate --out "$tmp/$id-1.key" >"$tmp/k1.pub" 2>/dev/null || fail "keys generate"
"$CA" request --kind participant --name "$id" --out "$tmp/$id" 2>/dev/null ||
    fail "certificate request"
"$CA" sign --ca "$EX/tls/ca" --csr "$tmp/$id.csr" --kind participant --name "$id" \
    --days 2 --out "$tmp/$id.crt" 2>"$tmp/ca.err" || { cat "$tmp/ca.err"; fail "CA sign"; }
cat >"$tmp/new.conf" <<CONF
bootstrap.servers=$boot
security.protocol=SSL
ssl.ca.location=$EX/tls/ca.crt
ssl.certificate.location=$tmp/$id.crt
ssl.key.location=$tmp/$id.key
cishare.participant=$id
cishare.key=$tmp/$id-1.key
cishare.directory=$d/directory.yaml
cishare.state-dir=$tmp/state-$id
CONF
entry() { # KEYFILE-PUB [extra lines]: the new participant's entry
    cat <<YAML

  - id: $id
    name: New Power Company $nonce
    role: operator
    sectors: [electricity]
    ceptoar: ceptoar-electricity
    principal: User:$id
    key-id: $(pubkey "$1" key-id)
    ed25519: $(pubkey "$1" ed25519)
    x25519: $(pubkey "$1" x25519)
YAML
    [ $# -lt 2 ] || printf '%s\n' "${@:2}"
}
entry k1 >"$tmp/e2"
version 2 "$tmp/e2"
"$B" provision -c "$EX/admin.conf" "${X[@]}" $(D admin) >"$tmp/prov.out" 2>"$tmp/prov.err" ||
    { cat "$tmp/prov.err"; fail "provision serial 2"; }
grep -q "+ acl User:$id READ topic cishare.inbox.$id" "$tmp/prov.out" ||
    { cat "$tmp/prov.out"; fail "provision gave $id no inbox ACL"; }
grep -q "+ topic cishare.inbox.$id" "$tmp/prov.out" || fail "no inbox topic for $id"
ok "onboarding: keys, certificate (CA-signed request), serial 2, topics and ACLs"

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
ind() { # SUBJECT TLP
    printf '{"type":"indicator","tlp":"%s","audience":["sector:electricity"],"payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"%s.example"}}\n' \
        "$2" "$1" "$(now)" "$(now)" "${1#indicator--}"
}
publish_new() { # SUBJECT [options]: publish a GREEN indicator as the new participant
    ind "$1" green >"$tmp/m.json"
    "$B" publish -c "$tmp/new.conf" "${@:2}" "$tmp/m.json" >/dev/null 2>"$tmp/pub.err"
}
# feed ID|new NAME [options]: --once from the beginning into $tmp/feed-NAME.
# A feed's state (seen ids and its directory trust state) is its own:
# $tmp/fstate-NAME, or that of an earlier feed named by $SAME_STATE.
feed() {
    local conf="$EX/$1.conf" who="$1" st="$tmp/fstate-${SAME_STATE:-$2}"
    [ "$1" = new ] && conf="$tmp/new.conf" who="$id"
    rm -rf "$tmp/feed-$2"
    "$B" feed -c "$conf" "${X[@]}" -X "cishare.directory=$d/directory.yaml" \
        -X "cishare.state-dir=$st" --once --from-beginning \
        -X "group.id=cishare-feed-$who.life-$2-$nonce" --out "$tmp/feed-$2" "${@:3}" \
        >/dev/null 2>"$tmp/feed-$2.err"
}
has() { grep -q "\"$2\"" "$tmp/feed-$1/feed.jsonl" 2>/dev/null; }
quarantined() { grep "\"$2\"" "$tmp/feed-$1/quarantine.jsonl" 2>/dev/null | grep -q "$3"; }

s1="indicator--${run%????}0001"
publish_new "$s1" || { cat "$tmp/pub.err"; fail "the new participant publishes"; }
s1b="indicator--${run%????}0101"
ind "$s1b" amber >"$tmp/a.json"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" $(D op-power-a) "$tmp/a.json" \
    >/dev/null 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "op-power-a publishes AMBER"; }
feed new n1 || { cat "$tmp/feed-n1.err"; fail "the new participant's feed"; }
has n1 "$s1" && has n1 "$s1b" || { cat "$tmp/feed-n1.err"; fail "new feed lacks its own or op-power-a's message"; }
feed op-power-b b1 || { cat "$tmp/feed-b1.err"; fail "op-power-b's feed"; }
has b1 "$s1" || { cat "$tmp/feed-b1.err"; fail "op-power-b's feed (serial 2) lacks the new participant's message"; }
ok "onboarding: it publishes, receives its sector's AMBER in its feed, others' feeds accept it"
# Control: a feed still on serial 1 (the example directory) knows nobody of that name.
rm -rf "$tmp/feed-c1"
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" -X "cishare.state-dir=$tmp/state-c1" --once \
    --from-beginning -X "group.id=cishare-feed-op-power-b.life-c1-$nonce" \
    --out "$tmp/feed-c1" >/dev/null 2>&1 || true
quarantined c1 "$s1" "not in the directory" || fail "control: serial 1 did not quarantine the unknown origin"
ok "control: on serial 1 the same message is quarantined (origin not in the directory)"

# ---- rotation with overlap ---------------------------------------------
"$B" keys generate --out "$tmp/$id-2.key" >"$tmp/k2.pub" 2>/dev/null || fail "keys generate (2)"
overlap_end=$(($(date +%s) + 45))
entry k2 "    previous-keys:" "      - key-id: $(pubkey k1 key-id)" \
    "        ed25519: $(pubkey k1 ed25519)" "        valid-until: $(iso $overlap_end)" >"$tmp/e3"
version 3 "$tmp/e3"
s2="indicator--${run%????}0002" # old key, during the overlap
s3="indicator--${run%????}0003" # new key
publish_new "$s2" || { cat "$tmp/pub.err"; fail "publish with the old key during the overlap"; }
publish_new "$s3" -X "cishare.key=$tmp/$id-2.key" || { cat "$tmp/pub.err"; fail "publish with the new key"; }
feed op-power-b b2 || { cat "$tmp/feed-b2.err"; fail "feed during the overlap"; }
has b2 "$s2" && has b2 "$s3" || { cat "$tmp/feed-b2.err"; fail "overlap: old- or new-key message not delivered"; }
ok "rotation: during the overlap, messages of the old and the new key are delivered"
# A publisher that still holds serial 2 (old key current) goes on signing
# with the old key after the overlap: that is what an attacker with the
# retired key would do.
cp "$tmp/dir-2.yaml" "$tmp/stale2.yaml"
cp "$EX/root.pub" "$tmp/"
while [ "$(date +%s)" -le "$overlap_end" ]; do sleep 1; done
s4="indicator--${run%????}0004"
if publish_new "$s4"; then fail "the publisher signed with the old key after the overlap"; fi
grep -q "$(pubkey k1 key-id)" "$tmp/pub.err" || { cat "$tmp/pub.err"; fail "refusal does not name the old key"; }
publish_new "$s4" -X "cishare.directory=$tmp/stale2.yaml" -X "cishare.state-dir=$tmp/state-stale" ||
    { cat "$tmp/pub.err"; fail "stale publisher"; }
feed op-power-b b3 || { cat "$tmp/feed-b3.err"; fail "feed after the overlap"; }
quarantined b3 "$s4" "rotation overlap ended" ||
    { cat "$tmp/feed-b3/quarantine.jsonl" 2>/dev/null; fail "old-key message after the overlap not quarantined"; }
quarantined b3 "$s2" "rotation overlap ended" || fail "a fresh read after the overlap still accepts the old key"
has b3 "$s3" || { cat "$tmp/feed-b3.err"; grep "$s3" "$tmp/feed-b3/quarantine.jsonl" | head -c 600; fail "new-key message lost after the overlap"; }
ok "rotation: after the overlap the publisher refuses the old key, and feeds quarantine what it signs"

# ---- compromise at T -----------------------------------------------------
# s5 is signed before T; s6 honestly after T. After T, the thief also
# writes s5's signed bytes again (kcat with the participant's access): its
# created time is before T, but the broker appends it after T (topics have
# message.timestamp.type=LogAppendTime), beyond the feed's grace, so the
# copy is quarantined; the original s5 is delivered.
s5="indicator--${run%????}0005" # before T
s6="indicator--${run%????}0006" # after T
# s5 in header layout 1 (still read): the thief's kcat -H below copies
# text headers only, not layout 2's binary cishare.env
publish_new "$s5" -X "cishare.key=$tmp/$id-2.key" -X cishare.envelope.version=1 ||
    { cat "$tmp/pub.err"; fail "publish before T"; }
sleep 2
T=$(date +%s)
sleep 2
publish_new "$s6" -X "cishare.key=$tmp/$id-2.key" || { cat "$tmp/pub.err"; fail "publish after T"; }
kcat "${kc[@]}" -C -t cishare.green.electricity -o beginning -e -q -f '%p %o %k\n' >"$tmp/idx"
po="$(awk -v k="$s5" '$3 == k {print $1, $2; exit}' "$tmp/idx")"
[ -n "$po" ] || fail "s5 not found on cishare.green.electricity"
rk=(-C -t cishare.green.electricity -p "${po% *}" -o "${po#* }" -c 1 -e -q)
kcat "${kc[@]}" "${rk[@]}" -f '%s' >"$tmp/s5.value"
H=()
IFS=',' read -ra hs <<<"$(kcat "${kc[@]}" "${rk[@]}" -f '%h')"
for h in "${hs[@]}"; do H+=(-H "$h"); done
"$B" config -c "$tmp/new.conf" >"$tmp/new.kcat"
timeout 60 kcat -F "$tmp/new.kcat" -P -t cishare.green.electricity -k "$s5" "${H[@]}" \
    "$tmp/s5.value" 2>"$tmp/k.err" || { cat "$tmp/k.err"; fail "the thief's write"; }
entry k2 "    key-revoked: $(iso $T)" >"$tmp/e4"
version 4 "$tmp/e4"
feed op-power-b b4 -X cishare.feed.revocation-grace-ms=1000 ||
    { cat "$tmp/feed-b4.err"; fail "feed after the compromise"; }
has b4 "$s5" || fail "compromise: the message created before T was not delivered"
quarantined b4 "$s6" "revoked" || { cat "$tmp/feed-b4/quarantine.jsonl" 2>/dev/null; fail "compromise: message after T not quarantined"; }
grep "\"$s6\"" "$tmp/feed-b4/quarantine.jsonl" | grep -q "$(iso $T)" || fail "the reason does not give T"
! has b4 "$s6" || fail "compromise: message after T delivered"
ok "compromise: created before T delivered, after T quarantined with the reason and T"
quarantined b4 "$s5" "written to Kafka at" ||
    { cat "$tmp/feed-b4/quarantine.jsonl" 2>/dev/null; fail "compromise: the copy written after T was not quarantined"; }
[ "$(grep -c "\"$s5\"" "$tmp/feed-b4/feed.jsonl")" = 1 ] || fail "s5 not delivered exactly once"
# Control: with a grace longer than the delay only the created time
# counts, and the copy passes (then is a duplicate): the broker's clock is
# what caught it.
feed op-power-b b4g || { cat "$tmp/feed-b4g.err"; fail "feed with the default grace"; }
! quarantined b4g "$s5" "written to Kafka" || fail "control: the copy is refused even within the grace"
ok "compromise: a message signed before T but written to Kafka after T is quarantined (control: within the grace it passes)"

# ---- certificate revocation (CRL) -----------------------------------------
# The participant's TLS key is stolen: the CA revokes its certificate and
# issues a new one for a new key. Brokers re-read the CRL (at most every
# 30 s): new connections with the old certificate are refused, the new one
# works. Control: the old certificate worked until then.
"$B" config -c "$tmp/new.conf" >"$tmp/new.kcat"
kmeta() { timeout 20 kcat -F "$1" -L -m 5 -t "cishare.inbox.$id" >"$tmp/km.out" 2>&1; }
kmeta "$tmp/new.kcat" || { cat "$tmp/km.out"; fail "control: its certificate does not connect"; }
"$CA" revoke --ca "$EX/tls/ca" --cert "$tmp/$id.crt" --reason keyCompromise 2>"$tmp/ca.err" ||
    { cat "$tmp/ca.err"; fail "revoke"; }
refused=0
for _ in $(seq 1 30); do
    if ! kmeta "$tmp/new.kcat"; then refused=1; break; fi
    sleep 3
done
[ "$refused" = 1 ] || fail "the revoked certificate still connects after 90 s"
grep -qi "certificate" "$tmp/km.out" || { cat "$tmp/km.out"; fail "refused, but not for its certificate"; }
mv "$tmp/$id.key" "$tmp/$id-revoked.key"
"$CA" request --kind participant --name "$id" --out "$tmp/$id" 2>/dev/null || fail "new request"
"$CA" sign --ca "$EX/tls/ca" --csr "$tmp/$id.csr" --kind participant --name "$id" \
    --days 2 --out "$tmp/$id.crt" 2>"$tmp/ca.err" || { cat "$tmp/ca.err"; fail "CA sign (2)"; }
kmeta "$tmp/new.kcat" || { cat "$tmp/km.out"; fail "the re-issued certificate does not connect"; }
ok "certificate revocation: the CA's CRL makes brokers refuse the revoked certificate; a re-issued one connects"

# ---- removal ----------------------------------------------------------
version 5 -
"$B" provision -c "$EX/admin.conf" "${X[@]}" $(D admin) >"$tmp/prov.out" 2>"$tmp/prov.err" ||
    { cat "$tmp/prov.err"; fail "provision serial 5"; }
grep -q "^- acl User:$id " "$tmp/prov.out" || { cat "$tmp/prov.out"; fail "provision removed no ACL of $id"; }
timeout 60 kcat -F "$tmp/new.kcat" -C -t "cishare.inbox.$id" -o beginning -e -q >/dev/null 2>"$tmp/k.err" &&
    fail "the removed participant still reads its inbox"
grep -qi "authorization failed" "$tmp/k.err" || { cat "$tmp/k.err"; fail "read refused for another reason"; }
echo x | timeout 60 kcat -F "$tmp/new.kcat" -P -t cishare.green.electricity 2>"$tmp/k.err" || true
grep -qi "authorization failed" "$tmp/k.err" || { cat "$tmp/k.err"; fail "the removed participant still writes"; }
feed op-power-b b5 || { cat "$tmp/feed-b5.err"; fail "feed on serial 5"; }
quarantined b5 "$s5" "not in the directory" || fail "removal: a feed still accepts its messages"
ok "removal: ACLs gone at provision, its certificate reads and writes nothing, feeds refuse its messages"

# ---- rollback ------------------------------------------------------------
# The serial-2 file again. The feed whose state accepted serial 5 keeps the
# bytes of what it accepted and runs on serial 5 (saying so); without that
# copy it refuses the file, naming both serials (exit 2). The admin's
# provision never swaps files: it refuses.
cp "$tmp/dir-2.yaml" "$d/directory.yaml"
SAME_STATE=b5 feed op-power-b b6 || { cat "$tmp/feed-b6.err"; fail "feed with a kept newer version"; }
grep -q "using directory serial 5" "$tmp/feed-b6.err" ||
    { cat "$tmp/feed-b6.err"; fail "the feed did not say it runs on the kept serial 5"; }
ok "rollback: a feed given the serial-2 file runs on the serial 5 it accepted before"
rm -f "$tmp/fstate-b5/directory.accepted.yaml"
set +e
SAME_STATE=b5 feed op-power-b b6
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$tmp/feed-b6.err"; fail "feed on a rolled-back directory: exit $rc, expected 2"; }
grep -q "serial 2" "$tmp/feed-b6.err" && grep -q "serial 5" "$tmp/feed-b6.err" ||
    { cat "$tmp/feed-b6.err"; fail "the refusal does not name both serials"; }
set +e
"$B" provision -c "$EX/admin.conf" "${X[@]}" $(D admin) >/dev/null 2>"$tmp/prov.err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "serial 2" "$tmp/prov.err" ||
    { cat "$tmp/prov.err"; fail "provision of a rolled-back directory: exit $rc"; }
ok "rollback: serial 2 after 5 refused by feed and provision, both serials named, exit 2"

# ---- expiry (freeze) -----------------------------------------------------
version 6 - "$(iso $(($(date +%s) + 3)))"
sleep 4
set +e
SAME_STATE=b5 feed op-power-b b7
rc=$?
set -e
[ "$rc" = 2 ] && grep -qi "expired" "$tmp/feed-b7.err" ||
    { cat "$tmp/feed-b7.err"; fail "expired directory: exit $rc"; }
ok "expiry: an expired version is refused, exit 2: $(grep -i expired "$tmp/feed-b7.err" | head -1)"

# ---- root rotation ---------------------------------------------------------
"$B" keys generate --out "$tmp/root2.key" >"$tmp/r2.pub" 2>/dev/null || fail "new root key"
rotate() { # SERIAL KEYS...: a version naming root 2, signed by KEYS
    sed -e "s/^serial: .*/serial: $1/" -e "s|^expires: .*|expires: 2030-12-31T00:00:00Z\nroot-key: $(pubkey r2 ed25519)|" \
        "$base" >"$d/directory.yaml"
    local first=1 k
    for k in "${@:2}"; do
        if [ "$first" = 1 ]; then
            "$B" directory sign --key "$k" "$d/directory.yaml" 2>/dev/null || true
            first=0
        else
            "$B" directory sign --add --key "$k" "$d/directory.yaml" 2>/dev/null || fail "co-sign"
        fi
    done
}
expect_refused() { # NAME: on the trust state of the feed "root"
    set +e
    SAME_STATE=root feed op-power-b "$1"
    rc=$?
    set -e
    [ "$rc" = 2 ] || { cat "$tmp/feed-$1.err"; fail "$1: exit $rc, expected 2"; }
}
rotate 7 "$tmp/root2.key"
expect_refused r1
grep -q "not by the root key" "$tmp/feed-r1.err" || { cat "$tmp/feed-r1.err"; fail "unclear refusal"; }
ok "root rotation signed by the new root only: refused ($(grep -m1 ERROR "$tmp/feed-r1.err"))"
rotate 7 "$EX/keys/root.key" "$tmp/root2.key"
SAME_STATE=root feed op-power-b r2 || { cat "$tmp/feed-r2.err"; fail "root rotation signed by both refused"; }
ok "root rotation signed by the current and the new root: accepted"
version 8 -
expect_refused r3
ok "after the rotation the old root alone is refused"

# ---- tampered ------------------------------------------------------------
rotate 9 "$tmp/root2.key"
sed -i 's/^    name: Power Company B$/    name: Power Company X/' "$d/directory.yaml"
expect_refused t1
grep -qi "signature" "$tmp/feed-t1.err" || { cat "$tmp/feed-t1.err"; fail "tampered: unclear refusal"; }
ok "a tampered version is refused ($(grep -m1 ERROR "$tmp/feed-t1.err"))"
