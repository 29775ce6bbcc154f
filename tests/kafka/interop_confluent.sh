#!/usr/bin/env bash
# An outside client on the TLS cluster: confluent-kafka for Python (from
# PyPI, with its own newer librdkafka) uses a participant's certificate
# and reads and writes exactly what the ACLs allow, and nothing without a
# certificate (interop_confluent.py). cishare publishes the message it
# reads. Needs the broker of tests/run and its venv (CISHARE_VENV with
# confluent-kafka); CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
py="${CISHARE_VENV:?set by tests/run (venv with confluent-kafka)}/bin/python"
"$py" -c 'import confluent_kafka' 2>/dev/null ||
    fail "confluent-kafka missing in $CISHARE_VENV (tests/run installs it)"
provision_examples

subject="indicator--${run%????}0c0c"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '{"type":"indicator","tlp":"amber","payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"interop-%s.example"}}\n' \
    "$subject" "$now" "$now" "$nonce" >"$tmp/m.json"
"$B" publish -c "$EX/op-power-b.conf" "${X[@]}" "$tmp/m.json" >/dev/null 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
# Without a certificate: the same config minus the certificate and key.
grep -v -e '^ssl.certificate.location=' -e '^ssl.key.location=' \
    "$(kcat_conf op-power-a)" >"$tmp/nocert.conf"
"$py" "$(dirname "${BASH_SOURCE[0]}")/interop_confluent.py" \
    "$(kcat_conf op-power-a)" "$tmp/nocert.conf" "$subject" "$nonce"
