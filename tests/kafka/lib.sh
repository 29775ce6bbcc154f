# Sourced by the tests/kafka/*.sh scripts (not a test itself): the real
# broker's environment, a temporary folder removed on exit, the result
# helpers and provisioning of the example directory.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.

: "${CISHARE_KAFKA_BOOTSTRAP:?set by tests/run (the real broker)}"
: "${CISHARE_KAFKA_ADMIN_CONF:?set by tests/run (the admin certificate config)}"
B="${CISHARE_BIN:?}"
EX="${CISHARE_SRC:?}/deploy/examples"
boot="$CISHARE_KAFKA_BOOTSTRAP"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT # a script with more to clean sets its own
# cishare clients: the example configs, pointed at this broker.
X=(-X "bootstrap.servers=$boot")
# kcat as the cluster administrator (certificate principal admin@cluster).
kc=(-F "$CISHARE_KAFKA_ADMIN_CONF" -b "$boot")
# This run's id, and a short nonce of it for subjects, groups, values.
run="$(cat /proc/sys/kernel/random/uuid)"
nonce="${run%%-*}"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok - $*"; }
uuid() { cat /proc/sys/kernel/random/uuid; }

# Topics and ACLs of the example directory, as admin.
provision_examples() {
    "$B" provision -c "$EX/admin.conf" "${X[@]}" >"$tmp/prov.out" \
        2>"$tmp/prov.err" || { cat "$tmp/prov.err"; fail "provision"; }
}

# kcat_conf ID: a kcat -F file with participant ID's certificate (its
# example config's librdkafka keys, paths absolute), pointed at this broker.
kcat_conf() {
    local f="$tmp/$1.kcat"
    [ -f "$f" ] || "$B" config -c "$EX/$1.conf" "${X[@]}" >"$f" ||
        fail "cishare config -c $EX/$1.conf"
    echo "$f"
}

# listening_ports RUNDIR: every TCP address the broker processes started in
# RUNDIR listen on (from the kernel, not from their configuration).
listening_ports() {
    local f pid
    ss -Hltnp >"$tmp/ss" || fail "ss -ltnp"
    for f in "$1"/node*.pid; do
        pid="$(cat "$f")"
        grep "pid=$pid," "$tmp/ss" | awk '{print $4}' |
            sed -E 's/^\[(::ffff:)?([^]]*)\]/\2/'
    done
}

# check_port_tls ADDR: ADDR refuses a TLS client without a certificate (the
# server's alert, read after the handshake as TLS 1.3 sends it), refuses
# TLS 1.1 and gives a plaintext Kafka client no answer; with the admin
# certificate it speaks TLS 1.3 (control). Fails the test otherwise.
check_port_tls() {
    local a="$1" ca crt key
    ca="$(sed -n 's/^ssl.ca.location=//p' "$CISHARE_KAFKA_ADMIN_CONF")"
    crt="$(sed -n 's/^ssl.certificate.location=//p' "$CISHARE_KAFKA_ADMIN_CONF")"
    key="$(sed -n 's/^ssl.key.location=//p' "$CISHARE_KAFKA_ADMIN_CONF")"
    sclient() { # ADDR ARGS...
        (sleep 2) | timeout 10 openssl s_client -connect "$1" -CAfile "$ca" \
            -verify_return_error "${@:2}" >"$tmp/sc.out" 2>&1
    }
    if sclient "$a"; then
        fail "$a accepted a TLS connection without a client certificate"
    fi
    grep -qiE "alert (bad certificate|certificate required|handshake failure)" "$tmp/sc.out" ||
        { sed 's/^/#   /' "$tmp/sc.out"; fail "$a: refused, but not for the missing certificate"; }
    if sclient "$a" -tls1_1; then fail "$a accepted TLS 1.1"; fi
    sclient "$a" -cert "$crt" -key "$key" ||
        { sed 's/^/#   /' "$tmp/sc.out"; fail "control: $a refused the admin certificate"; }
    grep -q "Protocol  : TLSv1.3" "$tmp/sc.out" || fail "$a: not TLS 1.3"
    if timeout 15 kcat -b "$a" -X security.protocol=plaintext -L -m 5 >"$tmp/pt.out" 2>&1; then
        fail "$a answered a plaintext Kafka client"
    fi
}
