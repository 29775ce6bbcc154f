# Sourced by the tests/kafka/*.sh scripts (not a test itself): the real
# broker's environment, a temporary folder removed on exit, the result
# helpers and provisioning of the example directory.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_PASSWORD; CISHARE_BIN, CISHARE_SRC.

: "${CISHARE_KAFKA_BOOTSTRAP:?set by tests/run (the real broker)}"
: "${CISHARE_KAFKA_ADMIN_PASSWORD:?set by tests/run}"
B="${CISHARE_BIN:?}"
EX="${CISHARE_SRC:?}/deploy/examples"
boot="$CISHARE_KAFKA_BOOTSTRAP"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT # a script with more to clean sets its own
# cishare clients: the example configs, pointed at this broker.
X=(-X "bootstrap.servers=$boot")
# kcat as the super user admin.
kc=(-b "$boot" -X security.protocol=SASL_PLAINTEXT
    -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=admin
    -X "sasl.password=$CISHARE_KAFKA_ADMIN_PASSWORD")
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
    "$B" provision -c "$EX/admin.conf" "${X[@]}" \
        -X "sasl.password=$CISHARE_KAFKA_ADMIN_PASSWORD" >"$tmp/prov.out" \
        2>"$tmp/prov.err" || { cat "$tmp/prov.err"; fail "provision"; }
}
