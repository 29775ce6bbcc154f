#!/usr/bin/env bash
# The three enforcement points of cishare on the real broker, each on its
# own, each client logged in as its own participant principal with its
# example configuration (deploy/examples/<id>.conf). kcat is the outside
# client: it bypasses cishare entirely, like a participant who reads a
# topic with any Kafka client.
#
#   ACLs (cishare provision)
#     1 an operator reads another sector's AMBER topic     -> authorisation error
#     2 an operator reads another participant's inbox      -> authorisation error
#     3 an operator writes to another sector's topics      -> authorisation error
#     4 a participant reads a topic it may read            -> succeeds (kcat, feed)
#     control: a directory that hands op-power-a's principal op-bank-a's
#     rights removes the ACL defence: 1 and 2 then succeed, so the checks
#     above can fail; provisioning the real directory again revokes them.
#   Encryption
#     5 a principal with a read ACL it should not have (granted on purpose
#       by the same wrong directory) reads RED content addressed to others
#       -> gets ciphertext only; its key does not open it.
#     control: the same content at AMBER (not encrypted) is readable, so
#     the check "content not visible" fails without encryption.
#   Per-message policy
#     6 an admin re-produces a message with its TLP header changed
#       -> the recipient's feed quarantines it (bad signature), delivers
#       the original once.
#
# Test traffic that a feed would quarantine (raw kcat writes, the tampered
# copy) goes to jpcert's inbox only. Needs the broker of tests/run:
# CISHARE_KAFKA_BOOTSTRAP, CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN,
# CISHARE_SRC.
set -uo pipefail

: "${CISHARE_KAFKA_BOOTSTRAP:?set by tests/run (the real broker)}"
ADMIN_CONF="${CISHARE_KAFKA_ADMIN_CONF:?set by tests/run}"
B="${CISHARE_BIN:?}"
EX="${CISHARE_SRC:?}/deploy/examples"
boot="$CISHARE_KAFKA_BOOTSTRAP"
tmp="$(mktemp -d)"
X=(-X "bootstrap.servers=$boot")
fails=0

ok() { echo "ok - $*"; }
bad() {
    echo "not ok - $*"
    fails=$((fails + 1))
}
show() { sed 's/^/#   /' "$@"; }

provision() { # DIRECTORY: a test directory keeps its own directory state
    local st=()
    [ "$1" = "$EX/directory.yaml" ] || st=(-X "cishare.state-dir=$tmp/state-test")
    "$B" provision -c "$EX/admin.conf" "${X[@]}" "${st[@]}" \
        --directory "$1" >"$tmp/prov.out" 2>"$tmp/prov.err"
}
cleanup() {
    # Never leave the wrong directory's ACLs behind for later tests.
    provision "$EX/directory.yaml" || show "$tmp/prov.err"
    rm -rf "$tmp"
}
trap cleanup EXIT

# kcat configuration of a participant: the librdkafka keys of its example
# config (its certificate; `cishare config` drops the cishare.* keys kcat
# refuses and makes paths absolute), pointed at this cluster.
kconf() {
    local f="$tmp/$1.kcat"
    if [ ! -f "$f" ]; then
        if [ "$1" = admin ]; then
            cp "$ADMIN_CONF" "$f"
            echo "bootstrap.servers=$boot" >>"$f"
        else
            "$B" config -c "$EX/$1.conf" "${X[@]}" >"$f"
        fi
    fi
    echo "$f"
}
# kread ID TOPIC [FORMAT]: all of TOPIC as ID -> $tmp/out, $tmp/err
kread() {
    timeout 60 kcat -F "$(kconf "$1")" -C -t "$2" -o beginning -e -q \
        -f "${3:-%s\n}" >"$tmp/out" 2>"$tmp/err"
}
# kwrite ID TOPIC TEXT
kwrite() {
    printf '%s\n' "$3" |
        timeout 60 kcat -F "$(kconf "$1")" -P -t "$2" >"$tmp/out" 2>"$tmp/err"
}
denied() { grep -qi "authorization failed" "$tmp/err"; }
publish() { # ID JSON [publish options]
    local id="$1" json="$2"
    shift 2
    printf '%s\n' "$json" >"$tmp/msg.json"
    "$B" publish -c "$EX/$id.conf" "${X[@]}" "$@" "$tmp/msg.json" \
        >"$tmp/pub.out" 2>"$tmp/pub.err"
}

run="$(cat /proc/sys/kernel/random/uuid)"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ind() { # ID VALUE NAME
    printf '{"type":"indicator","payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"%s","name":"%s"}}' \
        "$1" "$now" "$now" "$2" "$3"
}

# ---- provision -------------------------------------------------------
if provision "$EX/directory.yaml"; then
    ok "provision the example directory"
else
    bad "provision the example directory"
    show "$tmp/prov.err"
    exit 1
fi
if provision "$EX/directory.yaml" && [ ! -s "$tmp/prov.out" ] &&
    grep -q "nothing to change" "$tmp/prov.err"; then
    ok "provision again: nothing to change"
else
    bad "provision again changed something"
    show "$tmp/prov.out" "$tmp/prov.err"
fi
if "$B" provision -c "$EX/op-power-a.conf" "${X[@]}" \
    --directory "$EX/directory.yaml" >"$tmp/out" 2>"$tmp/err"; then
    bad "provision as a participant succeeded"
elif grep -q "op-power-a is not authorised to manage topics and ACLs" \
    "$tmp/err" && ! grep -qiE "Broker:|RD_KAFKA|err(or)? code" "$tmp/err"; then
    ok "provision as op-power-a: refused in plain words"
else
    bad "provision as op-power-a: unclear refusal"
    show "$tmp/err"
fi

# ---- 1-3: ACLs deny ----------------------------------------------------
acl_denials() { # expect: denied|allowed
    local want="$1" got
    kread op-power-a cishare.amber.finance
    if denied; then got=denied; else got=allowed; fi
    [ "$got" = "$want" ] && ok "1 op-power-a reads cishare.amber.finance: $got" ||
        { bad "1 op-power-a reads cishare.amber.finance: $got, want $want"; show "$tmp/err"; }
    kread op-power-a cishare.inbox.op-bank-a
    if denied; then got=denied; else got=allowed; fi
    [ "$got" = "$want" ] && ok "2 op-power-a reads cishare.inbox.op-bank-a: $got" ||
        { bad "2 op-power-a reads cishare.inbox.op-bank-a: $got, want $want"; show "$tmp/err"; }
}
acl_denials denied
for t in cishare.green.finance cishare.amber.finance cishare.amber-strict.gas \
    cishare.clear.gas cishare.amber.all; do
    if ! kwrite op-power-a "$t" "intrusion-$run" && denied; then
        ok "3 op-power-a writes $t: denied"
    else
        bad "3 op-power-a writes $t: not denied"
        show "$tmp/err"
    fi
done
# cishare itself refuses before Kafka does (its own rule, plain words).
publish op-power-a "$(ind "indicator--$run-3" "x3.example" "case 3")" \
    --tlp green -a sector:finance
rc=$?
if [ "$rc" = 1 ] && grep -q "op-power-a" "$tmp/pub.err" &&
    ! grep -qiE "Broker:|err(or)? code" "$tmp/pub.err"; then
    ok "3 cishare publish as op-power-a to sector:finance: refused plainly"
else
    bad "3 cishare publish as op-power-a to sector:finance: rc $rc, unclear"
    show "$tmp/pub.err"
fi

# ---- 4: allowed ------------------------------------------------------------
sub4="indicator--${run%????}0004"
if publish op-power-b "$(ind "$sub4" "x4.example" "case 4")" --tlp amber; then
    ok "4 op-power-b publishes AMBER to its sector"
else
    bad "4 op-power-b publishes AMBER"
    show "$tmp/pub.err"
fi
if kread op-power-a cishare.amber.electricity '%k\n' && grep -qx "$sub4" "$tmp/out"; then
    ok "4 op-power-a reads cishare.amber.electricity with kcat"
else
    bad "4 op-power-a reads cishare.amber.electricity"
    show "$tmp/err"
fi
if kwrite op-power-a cishare.inbox.jpcert "raw-$run" &&
    kread jpcert cishare.inbox.jpcert && grep -qx "raw-$run" "$tmp/out"; then
    ok "4 op-power-a writes jpcert's inbox, jpcert reads it (kcat)"
else
    bad "4 inbox write/read"
    show "$tmp/err"
fi
"$B" feed -c "$EX/op-power-a.conf" "${X[@]}" --once --from-beginning \
    --out "$tmp/feed-a" >/dev/null 2>"$tmp/feed.err"
if grep -q "\"$sub4\"" "$tmp/feed-a/feed.jsonl" 2>/dev/null; then
    ok "4 cishare feed as op-power-a delivers it (group cishare-feed-op-power-a)"
else
    bad "4 cishare feed as op-power-a"
    show "$tmp/feed.err"
fi

# ---- control: the ACL defence removed ---------------------------------------
# A wrong directory: op-power-a and op-bank-a swap principals, so the Kafka
# user op-power-a holds op-bank-a's rights (finance, op-bank-a's inbox).
mkdir -p "$tmp/wrong"
cp "$EX/root.pub" "$tmp/wrong/"
sed -e '/^# cishare-signature:/d' \
    -e 's/principal: User:op-bank-a$/principal: User:SWAP/' \
    -e 's/principal: User:op-power-a$/principal: User:op-bank-a/' \
    -e 's/principal: User:SWAP$/principal: User:op-power-a/' \
    "$EX/directory.yaml" >"$tmp/wrong/directory.yaml"
if "$B" directory sign --key "$EX/keys/root.key" "$tmp/wrong/directory.yaml" \
    2>"$tmp/err" && provision "$tmp/wrong/directory.yaml"; then
    acl_denials allowed
    # Kafka's refusal, reported by cishare in plain words: the Kafka user
    # op-bank-a now holds op-power-a's rights, not finance.
    publish op-bank-a "$(ind "indicator--${run%????}0033" "x33.example" "k")" \
        --tlp green -a sector:finance
    if grep -q "op-bank-a is not authorised to write.*cishare.green.finance" \
        "$tmp/pub.err" && ! grep -qiE "Broker:|err(or)? code" "$tmp/pub.err"; then
        ok "3 Kafka refuses op-bank-a's write; cishare says so plainly"
    else
        bad "3 Kafka refusal of op-bank-a's write not reported plainly"
        show "$tmp/pub.err"
    fi

    # ---- 5: encryption holds where the ACL does not ----------------------
    # (from the sector's CEPTOAR: an operator may not name another
    # sector's participant at AMBER or stricter, rule P3)
    sub5="indicator--${run%????}0005"
    secret="red-secret-$run"
    if publish ceptoar-finance "$(ind "$sub5" "$secret.example" "$secret")" \
        --tlp red -a participant:op-bank-a; then
        ok "5 ceptoar-finance publishes RED to participant:op-bank-a"
    else
        bad "5 publish RED"
        show "$tmp/pub.err"
    fi
    fmt='%K %k\n%h\n%S %s\n'
    if kread op-power-a cishare.inbox.op-bank-a '%k\n' && grep -qx "$sub5" "$tmp/out"; then
        ok "5 the wrongly granted op-power-a reads op-bank-a's inbox (ACL defence off)"
    else
        bad "5 wrong grant did not take effect"
        show "$tmp/err"
    fi
    kread op-power-a cishare.inbox.op-bank-a '%s'
    if ! grep -qa "$secret" "$tmp/out"; then
        ok "5 RED content is not in the bytes op-power-a read"
    else
        bad "5 RED content visible to op-power-a"
    fi
    # Decrypt attempt with op-power-a's key vs op-bank-a's key, on the
    # exact message (by partition and offset).
    kread op-power-a cishare.inbox.op-bank-a '%p %o %k\n'
    po="$(awk -v k="$sub5" '$3 == k {print $1, $2; exit}' "$tmp/out")"
    if [ -n "$po" ]; then
        set -- $po
        timeout 60 kcat -F "$(kconf op-power-a)" -C -t cishare.inbox.op-bank-a \
            -p "$1" -o "$2" -c 1 -e -q -f "$fmt" >"$tmp/red.kcat" 2>/dev/null
        "$B" inspect --directory "$EX/directory.yaml" \
            --key "$EX/keys/op-power-a.key" "$tmp/red.kcat" >"$tmp/insp-a" 2>&1
        "$B" inspect --directory "$EX/directory.yaml" \
            --key "$EX/keys/op-bank-a.key" "$tmp/red.kcat" >"$tmp/insp-b" 2>&1
        if grep -q "not addressed to --key" "$tmp/insp-a" &&
            ! grep -q "$secret" "$tmp/insp-a"; then
            ok "5 op-power-a's key does not open it"
        else
            bad "5 op-power-a's key opened it or inspect failed"
            show "$tmp/insp-a"
        fi
        if grep -q "$secret" "$tmp/insp-b"; then
            ok "5 op-bank-a's key opens it (the content is there)"
        else
            bad "5 op-bank-a cannot open its own RED message"
            show "$tmp/insp-b"
        fi
    else
        bad "5 RED message not found on op-bank-a's inbox"
    fi
    # Control: without encryption the same content is exposed.
    publish ceptoar-finance "$(ind "indicator--${run%????}0050" "$secret-amber.example" "$secret")" \
        --tlp amber -a participant:op-bank-a
    kread op-power-a cishare.inbox.op-bank-a '%s'
    if grep -qa "$secret-amber" "$tmp/out"; then
        ok "5 control: unencrypted AMBER content IS readable under the wrong ACL"
    else
        bad "5 control: AMBER content not readable (the check above proves nothing)"
    fi
else
    bad "could not provision the wrong directory"
    show "$tmp/err" "$tmp/prov.err"
fi

# ---- restore: provision removes the wrong grants -------------------------------
if provision "$EX/directory.yaml"; then
    ok "re-provision the example directory"
else
    bad "re-provision"
    show "$tmp/prov.err"
fi
acl_denials denied

# ---- 6: a changed TLP header is caught by the feed --------------------------
# Header layout 1 (cishare.envelope.version=1, still read): kcat -H below
# re-produces text headers only, not layout 2's binary cishare.env (whose
# tampering test_envelope_v2 covers byte by byte).
sub6="indicator--${run%????}0006"
if publish op-power-b "$(ind "$sub6" "x6.example" "case 6")" \
    --tlp amber -a participant:jpcert -X cishare.envelope.version=1; then
    ok "6 op-power-b publishes AMBER to participant:jpcert"
else
    bad "6 publish"
    show "$tmp/pub.err"
fi
kread admin cishare.inbox.jpcert '%p %o %k\n'
po="$(awk -v k="$sub6" '$3 == k {print $1, $2; exit}' "$tmp/out")"
if [ -n "$po" ]; then
    set -- $po
    kc=(-F "$(kconf admin)" -C -t cishare.inbox.jpcert -p "$1" -o "$2" -c 1 -e -q)
    timeout 60 kcat "${kc[@]}" -f '%s' >"$tmp/value.bin" 2>/dev/null
    hdrs="$(timeout 60 kcat "${kc[@]}" -f '%h' 2>/dev/null)"
    H=()
    IFS=',' read -ra hs <<<"$hdrs"
    for h in "${hs[@]}"; do
        case "$h" in cishare.tlp=*) h="cishare.tlp=green" ;; esac
        H+=(-H "$h")
    done
    if timeout 60 kcat -F "$(kconf admin)" -P -t cishare.inbox.jpcert \
        -k "$sub6" "${H[@]}" "$tmp/value.bin" 2>"$tmp/err"; then
        ok "6 admin re-produced it with cishare.tlp=green"
    else
        bad "6 re-produce"
        show "$tmp/err"
    fi
    "$B" feed -c "$EX/jpcert.conf" "${X[@]}" --once --from-beginning \
        --out "$tmp/feed-j" >/dev/null 2>"$tmp/feed.err"
    q="$tmp/feed-j/quarantine.jsonl"
    if grep "\"$sub6\"" "$q" 2>/dev/null | grep -q "bad-signature"; then
        ok "6 jpcert's feed quarantines the altered copy: bad-signature"
    else
        bad "6 altered copy not quarantined for its signature"
        show "$tmp/feed.err"
        [ -f "$q" ] && show "$q"
    fi
    n="$(grep -c "\"$sub6\"" "$tmp/feed-j/feed.jsonl" 2>/dev/null)"
    if [ "$n" = 1 ] &&
        grep "\"$sub6\"" "$tmp/feed-j/feed.jsonl" | grep -q '"tlp": *"amber"'; then
        ok "6 the original is delivered once, at AMBER"
    else
        bad "6 original delivered $n times (want 1, at AMBER)"
    fi
else
    bad "6 message not found on jpcert's inbox"
fi

echo "# $fails failure(s)"
[ "$fails" = 0 ]
