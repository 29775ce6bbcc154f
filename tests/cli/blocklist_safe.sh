#!/usr/bin/env bash
# Issue 15, blocklists safe to load as they are, end to end on the
# embedded broker: op-power-a publishes the real MISP samples (with their
# to_ids false attributes: links, context addresses) and records holding
# the addresses and wildcards no firewall may load, at several labels;
# op-power-b's feed writes its blocklists. blocklist_safe.py checks the
# folders: no excluded value anywhere, labels apart, the RPZ zones and nft
# sets hold exactly the lists, no state under blocklist/, and the feed's
# summary counts every exclusion by reason.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SRC="${CISHARE_SRC:?}"
S="${CISHARE_SAMPLES:?}"
PY="${CISHARE_VENV:?}/bin/python"

dev_broker 300
export XDG_STATE_HOME="$tmp/xdg"

# What must never reach a list, at every label (RED names its recipient).
cat >"$tmp/bad.csv" <<'CSV'
type,value,tlp
ipv4,127.0.0.1,green
ipv4,0.0.0.0,amber
ipv4,10.0.0.0,red
ipv4,192.168.0.0/16,clear
ipv4,169.254.1.1,amber+strict
ipv4,224.0.0.1,green
ipv4,255.255.255.255,amber
ipv4,240.0.0.1,red
ipv4,100.64.0.1,clear
ipv6,::1,green
ipv6,::,amber
ipv6,fe80::1,red
ipv6,ff02::1,amber+strict
ipv6,fc00::1,clear
ipv4,192.0.2.1,green
ipv6,2001:db8::1,red
ipv4,198.51.100.7/24,amber+strict
domain,good-green.example,green
domain,good-red.example,red
CSV
# Bare wildcards, an address as a domain (the CSV importer refuses both;
# another producer need not), and a to_ids:false label as older
# publishes carried it.
cat >"$tmp/bad.json" <<'JSON'
[{"type":"indicator","tlp":"green","payload":{"id":"indicator--15000000-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","type":"domain","value":"*"}},
 {"type":"indicator","tlp":"red","payload":{"id":"indicator--15000000-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","type":"domain","value":"*."}},
 {"type":"indicator","tlp":"amber","payload":{"id":"indicator--15000000-0000-4000-8000-000000000004","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","type":"domain","value":"127.0.0.1"}},
 {"type":"indicator","tlp":"amber","payload":{"id":"indicator--15000000-0000-4000-8000-000000000005","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","type":"domain","value":"*.wild-amber.example"}},
 {"type":"indicator","tlp":"amber","payload":{"id":"indicator--15000000-0000-4000-8000-000000000003","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","type":"url","value":"https://old-publish.example/blog","labels":["to_ids:false"]}}]
JSON
misp=("$S"/misp/circl-osint-xorist-ransomware.json "$S"/misp/circl-m2m-dridex.json
    "$S"/misp/circl-osint-qakbot-emotet.json "$S"/misp/server-export-sednit.json)
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -a participant:op-power-b \
    "${misp[@]}" "$tmp/bad.csv" "$tmp/bad.json" >"$tmp/pub.out" 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
# The importer skips to_ids false attributes, counted by reason.
grep -q "not for detection (to_ids false)" "$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish did not count the to_ids false skips"; }
ok "publish skips MISP attributes with to_ids false, by reason"

"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" --once --from-beginning \
    --format blocklist --out "$tmp/out" >"$tmp/feed.out" 2>"$tmp/feed.err" ||
    { cat "$tmp/feed.err"; fail "feed"; }
"$PY" "$SRC/tests/cli/blocklist_safe.py" "$tmp/out" "$tmp/feed.err" "${misp[@]}" ||
    { cat "$tmp/feed.err"; fail "blocklists not safe"; }
ok "blocklists: nothing excluded, labels apart, RPZ and nft match, state apart, exclusions counted"
# nftables itself checks each file (nft -c: parse and evaluate, change nothing).
for f in "$tmp"/out/blocklist/*/cishare.nft; do
    nft -c -f "$f" 2>"$tmp/nft.err" || { cat "$tmp/nft.err"; fail "nft -c -f $f"; }
done
ok "nft -c -f accepts every label's cishare.nft"
