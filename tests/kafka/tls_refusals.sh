#!/usr/bin/env bash
# Bad certificates are refused with a clear message on the client's side,
# and nothing is published (issue: "Bad input gets a clear error, and
# nothing is applied"), on the real broker (mutual TLS):
#
#   case                          cishare publish / feed          kcat
#   no client certificate         preflight refuses, exit 2       broker refuses
#   certificate of another CA     preflight refuses, exit 2       broker refuses
#   expired certificate           preflight refuses, exit 2       broker refuses
#   participant not in directory  preflight refuses, exit 2       no ACL: refused
#
# cishare's preflight (tls.h) names the cause before any client exists;
# kcat (an outside client) shows what the broker itself does with each
# certificate. Then the broker's own refusal as cishare sees it: a CA
# bundle that also holds the other CA lets the other CA's certificate
# pass the preflight, the broker refuses it, and publish and feed stop
# within a bounded time with the refusal in plain words (exit 1) instead
# of retrying forever. Control: the participant's real certificate
# publishes, so "nothing published" can fail.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC. The cluster CA is
# ${CISHARE_PKI_DIR:-deploy/examples/tls}/ca (deploy/kafka/start --pki).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CA_TOOL="$CISHARE_SRC/deploy/pki/cishare-ca"
PKI="${CISHARE_PKI_DIR:-$EX/tls}"
ME=op-power-a
TOPIC=cishare.green.electricity

provision_examples

# --- certificates for the bad cases ------------------------------------
# another CA, with a certificate for this very participant
"$CA_TOOL" init --ca "$tmp/other-ca" --cn "other CA" >"$tmp/pki.log" 2>&1 ||
    { cat "$tmp/pki.log"; fail "init the other CA"; }
issue() { # CA-DIR NAME OUT-PREFIX [sign options...]
    "$CA_TOOL" request --kind participant --name "$2" --out "$3" \
        >>"$tmp/pki.log" 2>&1 &&
        "$CA_TOOL" sign --ca "$1" --csr "$3.csr" --kind participant \
            --name "$2" --out "$3.crt" "${@:4}" >>"$tmp/pki.log" 2>&1 ||
        { cat "$tmp/pki.log"; fail "issue $3"; }
}
issue "$tmp/other-ca" "$ME" "$tmp/other"
# the cluster CA: expired yesterday; a participant not in the directory
yesterday="$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)"
lastyear="$(date -u -d '-1 year' +%Y%m%d%H%M%SZ)"
issue "$PKI/ca" "$ME" "$tmp/expired" --not-before "$lastyear" \
    --not-after "$yesterday"
issue "$PKI/ca" op-nowhere "$tmp/nowhere"
cat "$tmp/other-ca/ca.crt" "$PKI/ca.crt" >"$tmp/bundle.crt"

# A client config of $ME without a certificate: the example's librdkafka
# keys (absolute paths) minus the certificate and key, plus cishare's keys.
"$B" config -c "$EX/$ME.conf" "${X[@]}" | grep -v '^ssl\.\(certificate\|key\)\.' \
    >"$tmp/nocert.conf"
cat >>"$tmp/nocert.conf" <<EOF
cishare.participant=$ME
cishare.key=$EX/keys/$ME.key
cishare.directory=$EX/directory.yaml
EOF
grep -q '^ssl.ca.location=' "$tmp/nocert.conf" || fail "nocert.conf: no CA"

# cishare options of each case ("" = the config above without certificate)
declare -A with=(
    [nocert]=""
    [other]="-X ssl.certificate.location=$tmp/other.crt -X ssl.key.location=$tmp/other.key"
    [expired]="-X ssl.certificate.location=$tmp/expired.crt -X ssl.key.location=$tmp/expired.key"
    [nowhere]="-X ssl.certificate.location=$tmp/nowhere.crt -X ssl.key.location=$tmp/nowhere.key"
)
declare -A says=(
    [nocert]="no client certificate configured (ssl.certificate.location): the cluster accepts only clients that present a certificate issued by its CA"
    [other]="client certificate $tmp/other.crt was issued by 'CN=other CA"
    [expired]="client certificate $tmp/expired.crt expired on "
    [nowhere]="certificate $tmp/nowhere.crt is for participant 'op-nowhere', but this client is '$ME'"
)
conf_of() { # CASE
    if [ "$1" = nocert ]; then echo "$tmp/nocert.conf"; else echo "$EX/$ME.conf"; fi
}

now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
record() { # ID: a GREEN indicator of $ME for its sector
    echo "{\"type\":\"indicator\",\"tlp\":\"green\",\"audience\":[\"sector:electricity\"],\"payload\":{\"id\":\"$1\",\"created\":\"$now\",\"modified\":\"$now\",\"type\":\"ipv4\",\"value\":\"192.0.2.99\"}}"
}
declare -a never=() # ids that must not reach Kafka

# --- cishare publish and feed: refused before connecting ---------------
for c in nocert other expired nowhere; do
    id="indicator--$(uuid)"
    never+=("$id")
    record "$id" >"$tmp/$c.jsonl"
    # shellcheck disable=SC2086 # with[] holds several words on purpose
    set +e
    timeout 60 "$B" publish -c "$(conf_of $c)" "${X[@]}" ${with[$c]} \
        "$tmp/$c.jsonl" >"$tmp/$c.pub.out" 2>"$tmp/$c.pub.err"
    rc=$?
    set -e
    [ "$rc" = 2 ] || { cat "$tmp/$c.pub.err"; fail "publish, $c: exit $rc, not 2"; }
    grep -qF "% ERROR: ${says[$c]}" "$tmp/$c.pub.err" ||
        { cat "$tmp/$c.pub.err"; fail "publish, $c: not the plain message"; }
    ok "publish refused ($c): $(grep -m1 ERROR "$tmp/$c.pub.err")"

    set +e
    timeout 60 "$B" feed -c "$(conf_of $c)" "${X[@]}" ${with[$c]} --once \
        --out "$tmp/$c.feed" >"$tmp/$c.feed.out" 2>"$tmp/$c.feed.err"
    rc=$?
    set -e
    [ "$rc" = 2 ] || { cat "$tmp/$c.feed.err"; fail "feed, $c: exit $rc, not 2"; }
    grep -qF "% ERROR: feed: ${says[$c]}" "$tmp/$c.feed.err" ||
        { cat "$tmp/$c.feed.err"; fail "feed, $c: not the plain message"; }
    [ ! -e "$tmp/$c.feed/feed.jsonl" ] || fail "feed, $c: wrote a feed file"
    ok "feed refused ($c)"
done

# --- kcat, an outside client: the broker refuses -----------------------
kcat_with() { # CASE: a kcat -F file
    local f="$tmp/$1.kcat"
    if [ "$1" = nocert ]; then
        grep -v '^cishare\.' "$tmp/nocert.conf" >"$f"
    else
        # shellcheck disable=SC2086
        "$B" config -c "$EX/$ME.conf" "${X[@]}" ${with[$1]} >"$f"
    fi
    echo "$f"
}
for c in nocert other expired nowhere; do
    id="indicator--kcat-$(uuid)"
    never+=("$id")
    set +e
    echo "$id" | timeout 30 kcat -F "$(kcat_with $c)" -P -t "$TOPIC" \
        -k "$id" -X message.timeout.ms=10000 >"$tmp/$c.kcat.out" 2>&1
    rc=$?
    set -e
    [ "$rc" != 0 ] || { cat "$tmp/$c.kcat.out"; fail "kcat, $c: produced"; }
    case $c in
    nowhere) want="authoriz" ;; # a valid certificate, but no ACL
    *) want="SSL\|ssl\|Broker transport failure\|timed out" ;;
    esac
    grep -qi "$want" "$tmp/$c.kcat.out" ||
        { cat "$tmp/$c.kcat.out"; fail "kcat, $c: not refused as expected"; }
    ok "kcat refused ($c): $(grep -m1 -i "$want" "$tmp/$c.kcat.out" | cut -c1-160)"
done

# --- the broker's own refusal, as cishare reports it --------------------
# The bundle trusts the other CA too, so the preflight passes; the broker
# trusts only the cluster CA and refuses the certificate during the TLS
# handshake. publish and feed must stop on their own, well before their
# time-outs (message.timeout.ms 30 s, --once 60 s), with the cause.
bypass=(-X "ssl.ca.location=$tmp/bundle.crt"
    -X "ssl.certificate.location=$tmp/other.crt"
    -X "ssl.key.location=$tmp/other.key")
id="indicator--$(uuid)"
never+=("$id")
record "$id" >"$tmp/bypass.jsonl"
start=$SECONDS
set +e
timeout 60 "$B" publish -c "$EX/$ME.conf" "${X[@]}" "${bypass[@]}" \
    "$tmp/bypass.jsonl" >/dev/null 2>"$tmp/bypass.pub.err"
rc=$?
set -e
took=$((SECONDS - start))
[ "$rc" = 1 ] || { cat "$tmp/bypass.pub.err"; fail "publish past the preflight: exit $rc, not 1"; }
grep -q "not sent: the broker refused this client's certificate" "$tmp/bypass.pub.err" ||
    { cat "$tmp/bypass.pub.err"; fail "publish past the preflight: not the plain message"; }
[ "$took" -lt 25 ] || fail "publish past the preflight took ${took}s"
ok "publish: the broker's refusal in plain words after ${took}s (exit 1)"

start=$SECONDS
set +e
timeout 90 "$B" feed -c "$EX/$ME.conf" "${X[@]}" "${bypass[@]}" \
    --out "$tmp/bypass.feed" >/dev/null 2>"$tmp/bypass.feed.err"
rc=$?
set -e
took=$((SECONDS - start))
[ "$rc" = 1 ] || { cat "$tmp/bypass.feed.err"; fail "feed past the preflight: exit $rc, not 1"; }
grep -q "% ERROR: feed: the broker refused this client's certificate" "$tmp/bypass.feed.err" ||
    { cat "$tmp/bypass.feed.err"; fail "feed past the preflight: not the plain message"; }
[ "$took" -lt 55 ] || fail "feed past the preflight took ${took}s"
ok "feed (no --once): stops on the broker's refusal after ${took}s (exit 1)"

# --- control, then: nothing of the above is on the topic ----------------
good="indicator--$(uuid)"
record "$good" >"$tmp/good.jsonl"
"$B" publish -c "$EX/$ME.conf" "${X[@]}" "$tmp/good.jsonl" >/dev/null \
    2>"$tmp/good.err" || { cat "$tmp/good.err"; fail "control: publish"; }
grep -q "% TLS as User:$ME (certificate CN=$ME,OU=participant,O=cishare, valid until " "$tmp/good.err" ||
    { cat "$tmp/good.err"; fail "control: no TLS line"; }
kcat "${kc[@]}" -C -t "$TOPIC" -o beginning -e -q -f '%k\n' >"$tmp/keys" ||
    fail "read $TOPIC as admin"
grep -qxF "$good" "$tmp/keys" || fail "control: $good is not on $TOPIC"
for id in "${never[@]}"; do
    if grep -qF "$id" "$tmp/keys"; then fail "$id reached $TOPIC"; fi
done
ok "nothing refused reached $TOPIC; the control did"
