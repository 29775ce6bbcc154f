#!/usr/bin/env bash
# cishare feed --format misp on the embedded broker (cishare dev-broker):
# real samples (a MISP event, a STIX bundle with several TLP labels) and
# native indicators of the other types, an incident (two versions) and an
# alert are published, one indicator revoked; nco's feed writes jsonl and
# misp side by side. misp_feed.py loads every event file the manifest
# lists with PyMISP and checks it against what feed.jsonl delivered. A
# second run of the feed must leave every file of the folder untouched.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SRC="${CISHARE_SRC:?}"
S="${CISHARE_SAMPLES:-$SRC/../shared/data/samples}"
PY="${CISHARE_VENV:?}/bin/python"
[ -d "$S/misp" ] || { echo "SKIP: no samples at $S"; exit 0; }

dev_broker 120
export XDG_STATE_HOME="$tmp/xdg" HOME="$tmp/home"
mkdir -p "$HOME"

run() { # args...: a cishare command that must succeed
    "$B" "$@" >"$tmp/cmd.out" 2>"$tmp/err" || { cat "$tmp/err"; fail "$*"; }
}
pub() { run publish -c "$EX/op-power-a.conf" "${X[@]}" "$@"; }

pub -a all "$S/misp/circl-osint-qakbot-emotet.json"
pub -a participant:nco "$S/stix21/elevator-141-TLP-marking-structures.json"

ind() { # id tlp type value labels-json; created on day 1 + id % 3
    local t="2026-03-0$((1 + 10#$1 % 3))T10:00:00Z"
    printf '{"type":"indicator","tlp":"%s","payload":{"id":"indicator--00000000-0000-4000-8000-0000000000%s","created":"%s","modified":"%s","type":"%s","value":"%s","description":"test %s","labels":%s}}\n' \
        "$2" "$1" "$t" "$t" "$3" "$4" "$3" "$5"
}
{
    ind 01 green asn AS64496 '[]'
    ind 02 green ja3 e7d705a3286e19ea42f587b344ee6865 '["c2"]'
    ind 03 green cve CVE-2024-3400 '[]'
    ind 04 amber yara 'rule t { condition: true }' '["rule"]'
    ind 05 amber other 'registry key HKLM\\Run\\x' '[]'
    ind 06 amber domain 'context.example.org' '["to_ids:false","blog"]'
    ind 07 amber+strict ipv4 198.51.100.0/24 '[]'
    ind 08 red sha256 "$(printf 'a%.0s' $(seq 64))" '["tlp:clear"]'
    ind 09 green url 'http://revoked.example.net/x' '[]'
} >"$tmp/ind.jsonl"
pub -a participant:nco "$tmp/ind.jsonl"

inc() { # modified stage indicators-json
    printf '{"type":"incident","tlp":"amber","payload":{"id":"incident--00000000-0000-4000-8000-00000000aa01","created":"2026-03-02T00:00:00Z","modified":"%s","title":"Ransomware at substation","stage":"%s","category":"ransomware","mitre_techniques":["T1486"],"operator_overview":"power operator","summary":"files encrypted","affected_service":"billing","affected_system":"erp","impact":"degraded","operating_mode":"normal","detected_at":"2026-03-02T00:00:00Z","reported_at":"2026-03-02T01:00:00Z","technical_details":"","response_taken":"isolated","remarks":"","legal_basis":"voluntary","indicators":%s}}\n' "$1" "$2" "$3"
}
inc 2026-03-02T01:00:00Z preliminary '["indicator--00000000-0000-4000-8000-000000000001"]' >"$tmp/inc1.json"
inc 2026-03-02T05:00:00Z detailed '["indicator--00000000-0000-4000-8000-000000000001","indicator--00000000-0000-4000-8000-000000000007","indicator--00000000-0000-4000-8000-000000000099"]' >"$tmp/inc2.json"
pub -a participant:min-meti,participant:nco "$tmp/inc2.json"
pub -a participant:min-meti,participant:nco "$tmp/inc1.json" # older: loses

run alert -c "$EX/nco.conf" "${X[@]}" --all -s high -T "Exploited VPN" \
    -b "Patch now" --cve CVE-2024-3400 -r "apply the fix" \
    -i ipv4:192.0.2.10 -i domain:vpn-exploit.example -i sha1:0123456789abcdef0123456789abcdef01234567
run revoke -c "$EX/op-power-a.conf" "${X[@]}" \
    -s indicator--00000000-0000-4000-8000-000000000009 -r "false positive"
ok "published samples, indicators, an incident, an alert, a revocation"

runs=0
feed() { # a group of its own per run: the mock cluster holds a rejoin
    # until the last member's session expires (see tests/unit/hostile.h)
    runs=$((runs + 1))
    timeout 60 "$B" feed -c "$EX/nco.conf" "${X[@]}" -X cishare.feed.receipts=0 \
        -X "group.id=misp-feed-run$runs" \
        -X "cishare.state-dir=$tmp/state" --once --from-beginning \
        -f jsonl -f misp -o "$tmp/out" >"$tmp/feed.out" 2>"$tmp/feed.err" ||
        { cat "$tmp/feed.err"; fail "feed"; }
}
feed
grep -q "quarantined 0" "$tmp/feed.err" || fail "feed: $(cat "$tmp/feed.err")"
[ -s "$tmp/out/misp/manifest.json" ] || fail "no manifest.json"
[ -s "$tmp/out/misp/hashes.csv" ] || fail "no hashes.csv"
"$PY" "$SRC/tests/cli/misp_feed.py" "$tmp/out/feed.jsonl" "$tmp/out/misp" ||
    fail "misp feed does not match feed.jsonl"
ok "PyMISP loads every event; attributes, tags, to_ids and counts match"

# Idempotent: a second run (nothing new) rewrites no file.
snap() { (cd "$tmp/out/misp" && stat -c '%n %i %Y' -- * | sort); }
snap >"$tmp/before"
sleep 1
feed
snap >"$tmp/after"
diff "$tmp/before" "$tmp/after" >/dev/null ||
    fail "second run rewrote files: $(diff "$tmp/before" "$tmp/after")"
ok "a second run leaves every file untouched"
