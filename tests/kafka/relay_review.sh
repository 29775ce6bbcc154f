#!/usr/bin/env bash
# cishare relay --review on the real broker (consumers/relay.h, "REVIEW"):
# a CEPTOAR holds its members' AMBER indicators for a human decision.
#
#   1. op-power-a sends four AMBER indicators (s1..s4) to
#      ceptoar-electricity's inbox; `relay --review --once` holds all four:
#      nothing reaches op-power-b's inbox or the other members' topics
#      (kcat), `relay review list` shows them pending.
#   2. reject s1 with a reason (recorded, shown in list; rejecting or
#      approving it again fails with exit 2); unknown id: exit 2 naming it.
#   3. approve s2; the relay dies before its transaction commits
#      (CISHARE_TEST_RELAY_CRASH=before-commit:1), then just after it
#      commits (after-commit:1, item not yet marked relayed): list still
#      says approved; approving again: exit 2.
#   4. a running relay marks s2 relayed without producing it again, and
#      relays s3 approved while it runs; then kill -9: the queue is intact
#      (s1 rejected with its reason, s2 and s3 relayed, s4 pending).
#   5. s4 approved while no relay runs goes out with the next --once run,
#      which queues nothing new (re-reads are de-duplicated).
#   6. kcat read_committed on cishare.inbox.op-power-b: s2, s3, s4 once
#      each, s1 never; control: read_uncommitted shows the aborted copy of
#      s2. op-power-b's own feed shows them relayed_by ceptoar-electricity.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF, CISHARE_KAFKA_DIR (deploy/kafka/grant-relay);
# CISHARE_BIN, CISHARE_SRC.
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
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# ---- 1. held, not relayed --------------------------------------------------------
for i in 1 2 3 4; do
    s="indicator--$(uuid)"
    eval "s$i=$s"
    printf '{"type":"indicator","tlp":"amber","audience":["participant:ceptoar-electricity"],"payload":{"id":"%s","created":"%s","modified":"%s","type":"domain","value":"review-%s-%s.example"}}\n' \
        "$s" "$now" "$now" "$nonce" "$i"
done >"$tmp/in.json"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -f json "$tmp/in.json" >/dev/null 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }

C=(-c "$EX/ceptoar-electricity.conf" "${X[@]}" -X "cishare.state-dir=$tmp/st"
    -X "group.id=cishare-feed-ceptoar-electricity.relay-review-$nonce")
R=("${C[@]}" -X session.timeout.ms=6000
    -X "cishare.relay.rule.members=types=indicator tlp=amber to=members")
rc=0
"$B" relay "${R[@]}" --review --once >"$tmp/r1.out" 2>"$tmp/r1.err" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/r1.err"; fail "relay --review --once: exit $rc"; }
grep "relay summary" "$tmp/r1.err" | sed 's/^/# held: /'
# (the inbox may hold earlier runs' indicators too: held as well)
grep -q "relay summary: relayed 0 .*queued for review [1-9]" "$tmp/r1.err" ||
    fail "relay --review did not hold the indicators: $(grep summary "$tmp/r1.err")"
member_topics() { # ISOLATION: keys of every record on the members' topics
    local t
    for t in cishare.inbox.op-power-b cishare.amber.electricity cishare.amber.all; do
        kcat "${kc[@]}" -X "isolation.level=$1" -C -t "$t" -o beginning -e -q -f '%k\n' 2>/dev/null || true
    done
}
member_topics read_uncommitted >"$tmp/keys0"
for s in "$s1" "$s2" "$s3" "$s4"; do
    grep -qxF "$s" "$tmp/keys0" && fail "held indicator $s reached a member topic"
done
ok "relay --review held the four indicators: none on op-power-b's inbox or the sector topics"

review() { "$B" relay review "$@" "${R[@]}"; }
review list --json >"$tmp/list.json" 2>"$tmp/list.err" || { cat "$tmp/list.err"; fail "review list"; }
qid() { # SUBJECT -> queue id
    python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j["subject"] == sys.argv[2]:
        print(j["id"]); break' "$tmp/list.json" "$1"
}
q1="$(qid "$s1")" q2="$(qid "$s2")" q3="$(qid "$s3")" q4="$(qid "$s4")"
[ -n "$q1" ] && [ -n "$q2" ] && [ -n "$q3" ] && [ -n "$q4" ] || fail "review list lacks an indicator: $(cat "$tmp/list.json")"
for q in "$q1" "$q2" "$q3" "$q4"; do
    grep "\"id\":\"$q\"" "$tmp/list.json" | grep -q '"state":"pending"' || fail "$q is not pending: $(cat "$tmp/list.json")"
done
"$B" relay review list "${C[@]}" >"$tmp/list.txt" 2>/dev/null # no rules needed
grep -q "^$q2 *pending .*indicator *amber *op-power-a *$s2" "$tmp/list.txt" || fail "text list: $(cat "$tmp/list.txt")"
ok "review list shows them pending ($q1 $q2 $q3 $q4) with type, label, origin and subject"

# ---- 2. reject, errors -------------------------------------------------------------
review reject "$q1" --reason "false positive: sinkhole domain" >/dev/null 2>"$tmp/e" ||
    { cat "$tmp/e"; fail "reject $q1"; }
review list >"$tmp/list.txt" 2>/dev/null
grep -q "^$q1 *rejected" "$tmp/list.txt" && grep -q "reason: false positive: sinkhole domain" "$tmp/list.txt" ||
    fail "list does not show $q1 rejected with its reason: $(cat "$tmp/list.txt")"
expect_fail() { # WANT-TEXT CMD...: exit 2 and WANT-TEXT on stderr
    local want="$1" rc=0
    shift
    "$@" >/dev/null 2>"$tmp/e" || rc=$?
    [ "$rc" = 2 ] || fail "$*: exit $rc, want 2 ($(cat "$tmp/e"))"
    grep -qF -- "$want" "$tmp/e" || fail "$*: error lacks '$want': $(cat "$tmp/e")"
}
expect_fail "rejected" review approve "$q1"
expect_fail "$q1" review reject "$q1" --reason again
expect_fail "r99999999" review approve r99999999
expect_fail "--reason TEXT is required" review reject "$q3"
ok "rejection recorded with its reason; approving or rejecting it again, an unknown id, a reject without reason: exit 2"

# ---- 3. approve, crash before and after the commit ------------------------------------
review approve "$q2" >/dev/null 2>"$tmp/e" || { cat "$tmp/e"; fail "approve $q2"; }
grep -q "$q2 approved" "$tmp/e" || fail "approve: $(cat "$tmp/e")"
expect_fail "already approved" review approve "$q2"
crash() { # WHEN
    local rc=0
    CISHARE_TEST_RELAY_CRASH="$1:1" "$B" relay "${R[@]}" --review >>"$tmp/crash.log" 2>&1 || rc=$?
    [ "$rc" = 9 ] || { tail -5 "$tmp/crash.log"; fail "relay with crash $1: exit $rc, want 9 (the hook)"; }
}
crash before-commit
crash after-commit
review list --json >"$tmp/list.json" 2>/dev/null
grep "\"id\":\"$q2\"" "$tmp/list.json" | grep -q '"state":"approved"' ||
    fail "after the crashes $q2 is not approved: $(grep "\"$q2\"" "$tmp/list.json")"
ok "relay died before, then just after, the transaction of approved $q2 (still approved in the queue)"

# ---- 4. a running relay; kill -9 --------------------------------------------------------
"$B" relay "${R[@]}" --review >"$tmp/run.out" 2>"$tmp/run.err" &
relay_pid=$!
wait_state() { # QID STATE
    local i
    for i in $(seq 60); do
        review list --json 2>/dev/null | grep "\"id\":\"$1\"" | grep -q "\"state\":\"$2\"" && return 0
        kill -0 "$relay_pid" 2>/dev/null || { cat "$tmp/run.err"; fail "the relay exited"; }
        sleep 1
    done
    cat "$tmp/run.err"
    fail "$1 not $2 after 60 s"
}
wait_state "$q2" relayed
grep -q "$q2 was relayed before a restart" "$tmp/run.err" ||
    fail "the running relay did not recognise $q2 as relayed: $(cat "$tmp/run.err")"
review approve "$q3" >/dev/null 2>"$tmp/e" || { cat "$tmp/e"; fail "approve $q3 while the relay runs"; }
wait_state "$q3" relayed
kill -9 "$relay_pid"
wait "$relay_pid" 2>/dev/null || true
relay_pid=""
review list --json >"$tmp/list.json" 2>/dev/null
python3 - "$tmp/list.json" "$q1" "$q2" "$q3" "$q4" <<'EOF' || fail "the queue after kill -9: $(cat "$tmp/list.json")"
import json, sys
items = {j["id"]: j for j in map(json.loads, open(sys.argv[1]))}
q1, q2, q3, q4 = sys.argv[2:]
assert items[q1]["state"] == "rejected" and items[q1]["reason"] == "false positive: sinkhole domain", items[q1]
assert items[q2]["state"] == "relayed" and items[q3]["state"] == "relayed", (items[q2], items[q3])
assert items[q4]["state"] == "pending", items[q4]
EOF
ok "a running relay relayed $q3 approved meanwhile; after kill -9 the queue is intact"

# ---- 5. approve with no relay running; the next --once -------------------------------------
review approve "$q4" >/dev/null 2>"$tmp/e" || { cat "$tmp/e"; fail "approve $q4"; }
"$B" relay "${R[@]}" --review --once >"$tmp/r2.out" 2>"$tmp/r2.err" || { cat "$tmp/r2.err"; fail "relay --once"; }
grep "relay summary" "$tmp/r2.err" | sed 's/^/# last run: /'
grep -q "relay summary: relayed 1 .*approved from review 1), queued for review 0," "$tmp/r2.err" ||
    fail "the --once run: $(grep summary "$tmp/r2.err")"
expect_fail "already approved and relayed" review approve "$q4"
ok "$q4 approved with no relay running went out with the next --once run; approving it again: exit 2"

# ---- 6. exactly once on the broker, and in op-power-b's feed ---------------------------------
member_topics read_committed >"$tmp/keys.c"
member_topics read_uncommitted >"$tmp/keys.u"
n() { grep -cxF "$1" "$2" || true; }
for s in "$s2" "$s3" "$s4"; do
    [ "$(n "$s" "$tmp/keys.c")" = 1 ] || fail "$s is $(n "$s" "$tmp/keys.c") times on the member topics (read_committed), want 1"
done
[ "$(n "$s1" "$tmp/keys.u")" = 0 ] || fail "rejected $s1 reached a member topic"
[ "$(n "$s2" "$tmp/keys.u")" -ge 2 ] ||
    fail "control: read_uncommitted shows no aborted copy of $s2 (the crash before commit missed the window)"
ok "kcat read_committed: $q2, $q3, $q4 once each, $q1 never (read_uncommitted: $(n "$s2" "$tmp/keys.u") records of $q2)"
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" -X "group.id=cishare-feed-op-power-b.review-$nonce" \
    --once --out "$tmp/feed" >/dev/null 2>"$tmp/feed.err" || { cat "$tmp/feed.err"; fail "feed of op-power-b"; }
for s in "$s2" "$s3" "$s4"; do
    l="$(grep -F "$s" "$tmp/feed/feed.jsonl" || true)"
    [ "$(printf '%s' "$l" | grep -c .)" = 1 ] || fail "op-power-b's feed has $s $(printf '%s' "$l" | grep -c .) times"
    printf '%s' "$l" | grep -q '"relayed_by":\["ceptoar-electricity"\]' || fail "op-power-b's line lacks relayed_by: $l"
done
grep -qF "$s1" "$tmp/feed/feed.jsonl" && fail "op-power-b's feed has the rejected $s1"
ok "op-power-b's feed: the three approved indicators once each, relayed_by ceptoar-electricity; the rejected one never"
