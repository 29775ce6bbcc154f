#!/usr/bin/env bash
# cishare relay on the real broker: the framework's re-sharing flows
# (consumers/relay.h), each checked with kcat and the receivers' own feeds.
#
#   a. ceptoar-electricity relays op-power-a's AMBER indicator (sent to the
#      CEPTOAR's inbox only) to its member operators: op-power-b's feed gets
#      it with relayed_by ceptoar-electricity and the origin's signature;
#      op-bank-a's feed does not, and no topic op-bank-a reads holds it.
#   b. min-meti forwards op-power-a's incident notice to the NCO when the
#      notice gives consent (consent_forward: true); without consent it is
#      counted no-consent-forward and never reaches the NCO.
#   c. ceptoar-electricity passes an indicator to the CEPTOAR council
#      (ceptoar-council; waits for it in the example directory).
#   d. an anonymised incident report (anonymise: true) relayed as the CEPTOAR's own
#      message: the Kafka record's key, headers and value, as raw bytes,
#      hold neither the operator's id, name or key id nor the original
#      message id.
#   e. a malformed rule names the key and the problem (exit 2).
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF, CISHARE_KAFKA_DIR (deploy/kafka/grant-relay);
# CISHARE_BIN, CISHARE_SRC, CISHARE_VENV.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
py="${CISHARE_VENV:?set by tests/run (venv with confluent-kafka)}/bin/python"

provision_examples
for p in ceptoar-electricity min-meti; do
    "$CISHARE_SRC/deploy/kafka/grant-relay" "$p" >"$tmp/grant.out" 2>&1 ||
        { cat "$tmp/grant.out"; fail "grant-relay $p"; }
done
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# publish AS FILE
publish() {
    "$B" publish -c "$EX/$1.conf" "${X[@]}" -f json "$2" >/dev/null 2>"$tmp/pub.err" ||
        { cat "$tmp/pub.err"; fail "publish as $1: $2"; }
}
# relay AS RULE... : one --once run with a private folder and group
relay() {
    local who="$1" args=() r
    shift
    for r in "$@"; do args+=(-X "$r"); done
    "$B" relay -c "$EX/$who.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-$who" \
        -X "group.id=cishare-feed-$who.relay-$nonce" "${args[@]}" --once \
        >"$tmp/relay.out" 2>"$tmp/relay.err" || { cat "$tmp/relay.err"; fail "relay as $who"; }
    grep "relay summary" "$tmp/relay.err" | sed "s/^/# $who: /"
}
# feed WHO: a private --once feed into $tmp/feed-WHO
feed() {
    rm -rf "$tmp/feed-$1"
    "$B" feed -c "$EX/$1.conf" "${X[@]}" -X "group.id=cishare-feed-$1.flows-$nonce-$RANDOM" \
        --once --out "$tmp/feed-$1" >/dev/null 2>"$tmp/feed.err" ||
        { cat "$tmp/feed.err"; fail "feed of $1"; }
}
# lines_of WHO TEXT: feed lines holding TEXT
lines_of() { grep -F -- "$2" "$tmp/feed-$1/feed.jsonl" || true; }

# ---- a. CEPTOAR -> its members ---------------------------------------------
sa="indicator--$(uuid)"
printf '{"type":"indicator","tlp":"amber","audience":["participant:ceptoar-electricity"],"payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"flow-a-%s.example"}}\n' \
    "$sa" "$now" "$now" "$nonce" >"$tmp/a.json"
publish op-power-a "$tmp/a.json"
relay ceptoar-electricity "cishare.relay.rule.members=types=indicator tlp=amber to=members"
grep -q "relay summary: relayed [1-9]" "$tmp/relay.err" || fail "flow a: the CEPTOAR relayed nothing"
feed op-power-b
line="$(lines_of op-power-b "$sa")"
[ "$(printf '%s' "$line" | grep -c .)" = 1 ] || fail "flow a: op-power-b got the indicator $(printf '%s' "$line" | grep -c .) times"
printf '%s' "$line" | python3 -c '
import json, sys
m = json.loads(sys.stdin.read())
assert m["origin"] == "op-power-a", m["origin"]
assert m["relayed_by"] == ["ceptoar-electricity"], m.get("relayed_by")
assert m["tlp"] == "amber", m["tlp"]
assert m["key_id"] == "65aaa63e3404016e", m["key_id"]  # the origin signature
' || fail "flow a: op-power-b's line is not the relayed copy: $line"
ok "flow a: op-power-b's feed has op-power-a's AMBER indicator relayed by ceptoar-electricity (origin signature kept)"
feed op-bank-a
[ -z "$(lines_of op-bank-a "$sa")" ] || fail "flow a: op-bank-a received the relayed indicator"
for t in cishare.inbox.op-bank-a cishare.amber.finance cishare.amber.all; do
    kcat "${kc[@]}" -C -t "$t" -o beginning -e -q -f '%k\n' 2>/dev/null | grep -qxF "$sa" &&
        fail "flow a: the copy is on $t, which op-bank-a reads"
done
# (the binary cishare.env of layout 2 may hold a newline: the record's key
# and its hop are matched across it, within the record's 8 KB)
kcat "${kc[@]}" -C -t cishare.inbox.op-power-b -o beginning -e -q \
    -f '%k %h\n' 2>/dev/null |
    SA="$sa" perl -0777 -ne 'exit !/\Q$ENV{SA}\E cishare.{0,8192}?cishare\.relay=ceptoar-electricity amber /s' ||
    fail "flow a: no record with a relay hop of ceptoar-electricity on cishare.inbox.op-power-b"
ok "flow a: op-bank-a's feed and topics hold nothing of it; kcat sees the hop on cishare.inbox.op-power-b"
# The relayed copy keeps the original's headers byte for byte (header
# layout 2, the publisher's default) and appends its hop.
"$py" - "$CISHARE_KAFKA_ADMIN_CONF" "$sa" <<'EOF' || fail "flow a: the copy's headers are not the original's"
import os, sys
sys.path.insert(0, os.environ["CISHARE_SRC"] + "/tests/kafka")
from cishare_env import records
def hdrs(topic):
    out = [m.headers() for m in records(sys.argv[1], topic, "relay-verbatim")
           if m.key() == sys.argv[2].encode()]
    assert len(out) == 1, f"{len(out)} records of the subject on {topic}"
    return out[0]
orig = hdrs("cishare.inbox.ceptoar-electricity")
copy = hdrs("cishare.inbox.op-power-b")
assert [h[0] for h in orig] == ["cishare", "cishare.env"], orig
assert copy[:len(orig)] == orig, (orig, copy)
assert [h[0] for h in copy[len(orig):]] == ["cishare.relay"], copy
print(f"# the copy: the original's {len(orig)} headers verbatim, then one hop")
EOF
ok "flow a: the relayed copy carries the original headers verbatim plus its hop"

# ---- b. ministry -> NCO, with consent only ----------------------------------
inc() { # SUBJECT CONSENT
    printf '{"type":"incident","tlp":"amber","audience":["participant:min-meti"],"payload":{"id":"%s","created":"%s","modified":"%s","title":"flow b %s","stage":"preliminary","category":"ddos","operator_overview":"o","summary":"s","affected_service":"a","affected_system":"b","impact":"none","operating_mode":"normal","detected_at":"%s","reported_at":"%s","legal_basis":"voluntary","consent_forward":%s}}\n' \
        "$1" "$now" "$now" "$nonce" "$now" "$now" "$2"
}
sb_yes="incident--$(uuid)"
sb_no="incident--$(uuid)"
{ inc "$sb_yes" true; inc "$sb_no" false; } >"$tmp/b.json"
publish op-power-a "$tmp/b.json"
relay min-meti "cishare.relay.rule.nco=types=incident tlp=amber to=participant:nco"
grep -q "relay summary: relayed [1-9]" "$tmp/relay.err" || fail "flow b: min-meti relayed nothing"
grep -q "no-consent-forward [1-9]" "$tmp/relay.err" || fail "flow b: the notice without consent is not counted no-consent-forward"
feed nco
[ "$(lines_of nco "$sb_yes" | grep -c .)" = 1 ] || fail "flow b: the NCO did not get the notice given with consent"
lines_of nco "$sb_yes" | grep -q '"relayed_by":\["min-meti"\]' || fail "flow b: the NCO's copy is not relayed by min-meti"
[ -z "$(lines_of nco "$sb_no")" ] || fail "flow b: the NCO got the notice without consent"
kcat "${kc[@]}" -C -t cishare.inbox.nco -o beginning -e -q -f '%k\n' 2>/dev/null | grep -qxF "$sb_no" &&
    fail "flow b: the notice without consent is on cishare.inbox.nco"
ok "flow b: min-meti forwarded the notice with consent to the NCO; the one without consent was counted no-consent-forward and never left"

# ---- c. CEPTOAR -> CEPTOAR council ------------------------------------------
if ! grep -q "id: ceptoar-council" "$EX/directory.yaml"; then
    echo "# flow c: WAITING for ceptoar-council in the example directory (engineer A)"
else
    sc="indicator--$(uuid)"
    printf '{"type":"indicator","tlp":"amber","audience":["participant:ceptoar-electricity"],"payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"flow-c-%s.example"}}\n' \
        "$sc" "$now" "$now" "$nonce" >"$tmp/c.json"
    publish op-power-a "$tmp/c.json"
    relay ceptoar-electricity "cishare.relay.rule.council=types=indicator tlp=amber to=participant:ceptoar-council"
    grep -q "relay summary: relayed [1-9]" "$tmp/relay.err" || fail "flow c: nothing relayed to the council"
    feed ceptoar-council
    lines_of ceptoar-council "$sc" | grep -q '"relayed_by":\["ceptoar-electricity"\]' ||
        fail "flow c: the council's feed lacks the relayed indicator"
    feed ceptoar-finance
    [ -z "$(lines_of ceptoar-finance "$sc")" ] || fail "flow c: ceptoar-finance got it without the council"
    ok "flow c: the CEPTOAR council got the electricity CEPTOAR's indicator across sectors"
fi

# ---- d. anonymised copy: no trace in the raw record ---------------------------
sd="incident--$(uuid)"
printf '{"type":"incident","tlp":"amber","audience":["participant:ceptoar-electricity"],"payload":{"id":"%s","created":"%s","modified":"%s","title":"flow-d-%s","stage":"preliminary","category":"ddos","operator_overview":"Power Company A, Tokyo control centre","summary":"flow-d-%s","affected_service":"electricity supply","affected_system":"historian","impact":"none","operating_mode":"normal","detected_at":"%s","reported_at":"%s","legal_basis":"voluntary","consent_forward":true,"anonymise":true}}\n' \
    "$sd" "$now" "$now" "$nonce" "$nonce" "$now" "$now" >"$tmp/d.json"
publish op-power-a "$tmp/d.json"
relay ceptoar-electricity "cishare.relay.rule.members=types=incident tlp=amber to=members"
grep -q "anonymised [1-9]" "$tmp/relay.err" || fail "flow d: no anonymised copy relayed"
"$py" - "$(kcat_conf op-power-b)" "$CISHARE_KAFKA_ADMIN_CONF" "$sd" "flow-d-$nonce" <<'EOF' || fail "flow d: the anonymised record carries a trace"
import os, sys, uuid
sys.path.insert(0, os.environ["CISHARE_SRC"] + "/tests/kafka")
from cishare_env import fields, records

op_conf, admin_conf, subject, marker = sys.argv[1:]
# the original, in the CEPTOAR's inbox (read as admin): its message id
orig_id = None
for m in records(admin_conf, "cishare.inbox.ceptoar-electricity"):
    if (m.key() or b"") == subject.encode():
        orig = fields(m.headers())
        orig_id = orig["id"]
assert orig_id, "original not found"
copies = [m for m in records(op_conf, "cishare.inbox.op-power-b",
                                     group="cishare-feed-op-power-b.anon")
          if marker.encode() in (m.value() or b"")]
assert len(copies) == 1, f"{len(copies)} anonymised copies on op-power-b's inbox"
m = copies[0]
raw = (m.key() or b"") + b"".join(k.encode() + (v or b"") for k, v in (m.headers() or []))
raw += m.value() or b""
# text and (layout 2) binary forms of the original's id and key id
traces = {"operator id": b"op-power-a", "operator name": b"Power Company A",
          "key id": b"65aaa63e3404016e", "original message id": orig_id.encode(),
          "original subject": subject.encode(),
          "binary key id": bytes.fromhex("65aaa63e3404016e"),
          "binary original id": uuid.UUID(orig_id).bytes}
bad = [f"{k} ({v.hex()})" for k, v in traces.items()
       if v in raw or (k[:6] != "binary" and v.lower() in raw.lower())]
hdr = dict(m.headers())
f = fields(m.headers())
print(f"# copy: origin {f['origin']}, id {f['id']}, key {m.key().decode()}, "
      f"layout {f['layout']}, created {f.get('created', f.get('created_ms'))}")
if bad:
    sys.exit("traces in the raw record: " + ", ".join(bad))
assert f["origin"] == "ceptoar-electricity"
assert "cishare.relay" not in hdr
EOF
feed op-power-b
lines_of op-power-b "flow-d-$nonce" | grep -q '"origin":"ceptoar-electricity"' ||
    fail "flow d: op-power-b's feed lacks the anonymised copy from ceptoar-electricity"
ok "flow d: the anonymised copy's raw key, headers and value hold no operator id, name, key id, original id or subject"

# ---- e. a malformed rule --------------------------------------------------------
rc=0
"$B" relay -c "$EX/ceptoar-electricity.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st-bad" \
    -X "cishare.relay.rule.bad=types=indicator to=members label=loose" --once \
    >/dev/null 2>"$tmp/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "malformed rule: exit $rc, want 2"
grep -q "cishare.relay.rule.bad: label=loose" "$tmp/bad.err" || fail "malformed rule: $(cat "$tmp/bad.err")"
ok "a malformed rule names the key and the problem (exit 2)"

# ---- f. the relay's Prometheus metrics ------------------------------------------
sf="indicator--$(uuid)"
printf '{"type":"indicator","tlp":"amber","audience":["participant:ceptoar-electricity"],"payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"flow-f-%s.example"}}\n' \
    "$sf" "$now" "$now" "$nonce" >"$tmp/f.json"
publish op-power-a "$tmp/f.json"
"$B" relay -c "$EX/ceptoar-electricity.conf" "${X[@]}" \
    -X "cishare.state-dir=$tmp/st-ceptoar-electricity" \
    -X "group.id=cishare-feed-ceptoar-electricity.relay-$nonce" \
    -X "cishare.relay.rule.members=types=indicator tlp=amber to=members" \
    --metrics 127.0.0.1:0 >/dev/null 2>"$tmp/relay-m.err" &
rpid=$!
url=""
for _ in $(seq 150); do
    url="$(sed -n 's|.*metrics at \(http://[^ ]*\).*|\1|p' "$tmp/relay-m.err")"
    [ -n "$url" ] && break
    sleep 0.2
done
[ -n "$url" ] || { kill "$rpid"; cat "$tmp/relay-m.err"; fail "flow f: no 'metrics at' line"; }
"$py" - "$url" <<'PY' || { kill "$rpid"; cat "$tmp/relay-m.err"; fail "flow f: metrics"; }
import sys, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families
deadline = time.time() + 60
while True:
    body = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
    v = {(s.name, tuple(sorted(s.labels.items()))): s.value
         for f in text_string_to_metric_families(body) for s in f.samples}
    # the relay's series are set in its commit, the feed's just after
    if v.get(("cishare_relay_relayed_total", ()), 0) >= 1 and \
            v.get(("cishare_feed_delivered_total", ()), 0) >= 1:
        break
    if time.time() > deadline:
        sys.exit("relayed_total never reached 1:\n" + body)
    time.sleep(0.5)
assert v[("cishare_up", (("component", "relay"),))] == 1, body
assert v[("cishare_feed_delivered_total", ())] >= 1, body
assert ("cishare_directory_serial", ()) in v, body
PY
kill "$rpid"
wait "$rpid" || fail "flow f: the relay did not stop cleanly on SIGTERM"
ok "flow f: the relay's /metrics (prometheus-client) counts what it relayed"
