#!/usr/bin/env bash
# cishare relay survives kill -9 without losing or doubling a relayed
# message (consumers/relay.h, "EXACTLY ONCE") on the real broker.
#
#   1. op-power-a sends 600 AMBER indicators to ceptoar-electricity's inbox.
#   2. the CEPTOAR's relay (batches of 40, rule to=members) dies three
#      times: with CISHARE_TEST_RELAY_CRASH=before-commit:3 (copies of a
#      batch acknowledged by Kafka, transaction not committed),
#      after-commit:3 (transaction committed, the relay's dedup log not),
#      and by kill -9 from outside while it runs; then it finishes --once.
#   3. kcat (isolation.level read_committed, librdkafka's default) on
#      cishare.inbox.op-power-b: every one of the 600 subjects exactly once.
#      Control: read_uncommitted shows the aborted copies of the crash
#      before the commit, so the window was really hit and a relay without
#      the transaction would have doubled them.
#   4. op-power-b's real feed delivers the 600, each once.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF, CISHARE_KAFKA_DIR; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

relay_pid=""
cleanup() {
    [ -z "$relay_pid" ] || kill -9 "$relay_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

provision_examples
"$CISHARE_SRC/deploy/kafka/grant-relay" ceptoar-electricity >"$tmp/grant.out" 2>&1 ||
    { cat "$tmp/grant.out"; fail "grant-relay"; }

# ---- 1. 600 indicators for the CEPTOAR --------------------------------------
python3 - "$tmp" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$nonce" <<'EOF'
import json, sys, uuid
tmp, now, nonce = sys.argv[1:]
with open(f"{tmp}/in.jsonl", "w") as f, open(f"{tmp}/want.txt", "w") as w:
    for i in range(600):
        s = f"indicator--{uuid.uuid4()}"
        f.write(json.dumps({"type": "indicator", "tlp": "amber",
                            "audience": ["participant:ceptoar-electricity"],
                            "payload": {"id": s, "created": now, "modified": now,
                                        "type": "domain",
                                        "value": f"crash-{nonce}-{i}.example"}}) + "\n")
        w.write(s + "\n")
EOF
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -f json "$tmp/in.jsonl" >/dev/null 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
grep -q "published 600, rejected 0" "$tmp/pub.err" || fail "publish: $(cat "$tmp/pub.err")"

# Records of the receiver's inbox under each isolation level, before the
# relay runs: the control below counts the aborted copies of this run only
# (the relay reads from the beginning, so on a broker shared with earlier
# tests the crashed transaction may hold copies of their messages).
total() { # ISOLATION
    kcat "${kc[@]}" -X "isolation.level=$1" -C -t cishare.inbox.op-power-b -o beginning -e -q \
        -f 'x\n' 2>/dev/null | wc -l
}
before_committed=$(total read_committed)
before_raw=$(total read_uncommitted)

# ---- 2. three crashes, then --once -------------------------------------------
R=(-c "$EX/ceptoar-electricity.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st"
    -X "group.id=cishare-feed-ceptoar-electricity.relay-crash-$nonce"
    -X session.timeout.ms=6000
    -X "cishare.relay.rule.members=types=indicator tlp=amber to=members"
    --batch-size 40)
crash() { # WHEN
    local rc=0
    CISHARE_TEST_RELAY_CRASH="$1:3" "$B" relay "${R[@]}" >>"$tmp/relay.log" 2>&1 || rc=$?
    [ "$rc" = 9 ] || { tail -5 "$tmp/relay.log"; fail "relay with crash $1: exit $rc, want 9 (the hook)"; }
}
crash before-commit
crash after-commit
ok "relay exited in the middle of a batch: before a transaction commit, then just after one"
"$B" relay "${R[@]}" -X queued.max.messages.kbytes=16 -X fetch.max.bytes=16384 \
    -X max.partition.fetch.bytes=16384 >>"$tmp/relay.log" 2>&1 &
relay_pid=$!
sleep 2
kill -9 "$relay_pid" 2>/dev/null || true
wait "$relay_pid" 2>/dev/null || true
relay_pid=""
"$B" relay "${R[@]}" --once >"$tmp/once.out" 2>"$tmp/once.err" || { cat "$tmp/once.err"; fail "relay --once"; }
grep "relay summary" "$tmp/once.err" | sed 's/^/# last run: /'

# ---- 3. kcat: each subject exactly once -----------------------------------------
count() { # ISOLATION
    kcat "${kc[@]}" -X "isolation.level=$1" -C -t cishare.inbox.op-power-b -o beginning -e -q \
        -f '%k\n' 2>/dev/null | grep -xF -f "$tmp/want.txt" | sort | uniq -c | sort -rn >"$tmp/count.$1" || true
}
count read_committed
count read_uncommitted
aborted=$(($(total read_uncommitted) - before_raw - ($(total read_committed) - before_committed)))
python3 - "$tmp" "$aborted" <<'EOF' || fail "relaying is not exactly-once across crashes"
import sys
tmp, aborted = sys.argv[1], int(sys.argv[2])
want = set(open(f"{tmp}/want.txt").read().split())
def load(iso):
    c = {}
    for line in open(f"{tmp}/count.{iso}"):
        n, k = line.split()
        c[k] = int(n)
    return c
got, raw = load("read_committed"), load("read_uncommitted")
missing = want - set(got)
doubled = [k for k, n in got.items() if n > 1]
print(f"# read_committed: {len(got)} subjects, {sum(got.values())} records; "
      f"read_uncommitted: {sum(raw.values())} records")
bad = False
if missing:
    print(f"not ok - {len(missing)} subjects never relayed, e.g. {sorted(missing)[:2]}"); bad = True
if doubled:
    print(f"not ok - {len(doubled)} subjects relayed twice, e.g. {doubled[:2]}"); bad = True
print(f"# aborted copies written by this run's relays: {aborted}")
if aborted <= 0:
    print("not ok - control: no aborted copy in the log (the crash before commit did not hit the window)"); bad = True
sys.exit(1 if bad else 0)
EOF
ok "kcat: each of the 600 subjects once on cishare.inbox.op-power-b (aborted copies only under read_uncommitted)"

# ---- 4. the receiver's feed ----------------------------------------------------------
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" -X "group.id=cishare-feed-op-power-b.crash-$nonce" \
    --once --out "$tmp/feed" >/dev/null 2>"$tmp/feed.err" || { cat "$tmp/feed.err"; fail "feed"; }
n="$(grep -cF "crash-$nonce-" "$tmp/feed/feed.jsonl" || true)"
[ "$n" = 600 ] || fail "op-power-b's feed has $n of the 600"
ok "op-power-b's feed: the 600 relayed indicators, each once"
