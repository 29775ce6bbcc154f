#!/usr/bin/env bash
# On the wire: nothing of a message crosses the network in clear, and no
# listening port of the cluster takes a connection without a certificate.
#   1 tcpdump captures loopback traffic to and from the cluster's ports
#     while op-power-a publishes a GREEN indicator carrying a unique marker
#     and op-power-b's feed delivers it. The feed must hold the marker
#     (control: the traffic did carry it), the capture must not.
#   2 every TCP port the broker processes listen on (clients and controller
#     quorum) refuses `openssl s_client` without a client certificate, and
#     a plaintext Kafka client gets no answer; with the admin certificate
#     s_client connects (control), at TLS 1.3, and TLS 1.1 is refused.
# Needs the broker of tests/run (CISHARE_KAFKA_BOOTSTRAP, CISHARE_KAFKA_DIR,
# CISHARE_KAFKA_ADMIN_CONF), root for tcpdump; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${CISHARE_KAFKA_DIR:?set by tests/run}"
command -v tcpdump >/dev/null || fail "tcpdump not installed (deploy/install-deps)"
provision_examples

# ---- the cluster's listening ports, from the kernel --------------------
mapfile -t ports < <(listening_ports "$CISHARE_KAFKA_DIR")
[ ${#ports[@]} -ge 2 ] || fail "expected client and controller ports, found: ${ports[*]}"
ok "the broker processes listen on: ${ports[*]}"

# ---- 1: the marker is in the feed, not on the wire ---------------------
marker="wire-marker-$run"
filter=""
for a in "${ports[@]}"; do filter="${filter:+$filter or }port ${a##*:}"; done
tcpdump -i lo -U -s 0 -w "$tmp/cap.pcap" "$filter" 2>"$tmp/tcpdump.err" &
tdp=$!
trap 'kill $tdp 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 50); do grep -q listening "$tmp/tcpdump.err" && break; sleep 0.1; done
grep -q listening "$tmp/tcpdump.err" || fail "tcpdump did not start: $(cat "$tmp/tcpdump.err")"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '{"type":"indicator","tlp":"green","audience":["sector:electricity"],"payload":{"id":"indicator--%s","created":"%s","modified":"%s","type":"domain","value":"%s.example","name":"%s","description":"%s"}}\n' \
    "$run" "$now" "$now" "$marker" "$marker" "$marker" >"$tmp/m.json"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" "$tmp/m.json" >/dev/null 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" --once --from-beginning \
    -X "group.id=cishare-feed-op-power-b.wire-$nonce" --out "$tmp/feed" \
    >/dev/null 2>"$tmp/feed.err" || { cat "$tmp/feed.err"; fail "feed"; }
sleep 1
kill -INT $tdp
wait $tdp 2>/dev/null || true
grep -q "$marker" "$tmp/feed/feed.jsonl" || fail "control: the feed did not deliver the marker"
ok "control: op-power-b's feed delivered the indicator with the marker"
bytes="$(stat -c %s "$tmp/cap.pcap")"
[ "$bytes" -gt 10000 ] || fail "capture too small ($bytes bytes): tcpdump saw no traffic"
if grep -qa "$marker" "$tmp/cap.pcap"; then
    fail "the marker crossed the wire in clear ($tmp/cap.pcap)"
fi
# Nor any envelope header name (either layout).
if grep -qa -e "cishare.tlp" -e "cishare.origin" -e "cishare.env" "$tmp/cap.pcap"; then
    fail "envelope headers crossed the wire in clear"
fi
ok "capture of $bytes bytes holds neither the marker nor envelope headers"

# ---- 2: no port without a certificate ----------------------------------
for a in "${ports[@]}"; do
    check_port_tls "$a"
    ok "$a: no certificate -> refused (TLS alert); TLS 1.1 refused; plaintext unanswered; admin certificate -> TLS 1.3"
done
