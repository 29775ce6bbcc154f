#!/usr/bin/env bash
# Directory versions on the directory topic (docs/DESIGN.md, "Directory
# versions"; deploy/TOPICS.md): onboarding without a restart.
#
# A long-running feed of op-power-a (started on the example directory,
# serial 1) picks up serial 2 that the office publishes on the topic with
# 'cishare directory publish', logs it, and then delivers a message from
# op-power-new, a participant that exists only in serial 2 (its keys,
# certificate, directory entry and ACLs are made here). An older serial and
# a tampered version put on the topic afterwards are logged as refused and
# not applied; the feed still runs on serial 2. A feed and a publisher
# started on the serial 1 file apply serial 2 from the topic before their
# first message. 'directory publish' refuses a tampered or an older file.
# Restarts: a feed restarted on the same --out with the serial 1 file, and
# a second publish run with the same state, run on serial 2 (the kept copy
# of the accepted version). A running feed whose directory expires stops
# with exit 2, as does one whose participant a new version removes.
#
# Everything runs on a private topic (cishare.directory.test-<nonce>) and
# private trust states: the default topic and states stay at the example
# directory's serial 1, which the other tests rely on.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SRC="${CISHARE_SRC:?}"

topic="cishare.directory.test-$nonce"
T=(-X "cishare.directory.topic=$topic")
ADM=(-c "$EX/admin.conf" "${X[@]}" "${T[@]}" -X "cishare.state-dir=$tmp/st-admin")
feed_pid=
cleanup() {
    [ -n "$feed_pid" ] && kill "$feed_pid" 2>/dev/null && wait "$feed_pid" 2>/dev/null
    # the example ACLs again (this test's provision added op-power-new's)
    "$B" provision -c "$EX/admin.conf" "${X[@]}" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for FILE PATTERN SECONDS: until grep -q finds it.
wait_for() {
    local i
    for ((i = 0; i < $3 * 5; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# 1. provision (example directory, serial 1) creates the topic: one
#    partition, compacted; every participant may read it.
"$B" provision "${ADM[@]}" >"$tmp/prov1.out" 2>"$tmp/prov1.err" ||
    { cat "$tmp/prov1.err"; fail "provision"; }
grep -qx "+ topic $topic" "$tmp/prov1.out" || fail "provision did not create $topic"
grep -qxF "+ acl User:op-power-a READ topic $topic" "$tmp/prov1.out" ||
    fail "no READ ACL for op-power-a on $topic: $(cat "$tmp/prov1.out")"
grep -q "^+ acl .* READ topic prefix cishare.directory" "$tmp/prov1.out" &&
    fail "a prefix ACL on the directory topic: $(cat "$tmp/prov1.out")"
kcat "${kc[@]}" -L -t "$topic" >"$tmp/meta" 2>&1 || fail "kcat -L $topic"
grep -q "topic \"$topic\" with 1 partitions" "$tmp/meta" ||
    fail "$topic: not one partition: $(cat "$tmp/meta")"
ok "provision creates $topic (1 partition) and READ ACLs"

# 2. op-power-new: keys, certificate from the example CA, entry in serial 2.
mkdir -p "$tmp/new/keys" "$tmp/new/tls" "$tmp/d2" "$tmp/d1"
"$B" keys generate --out "$tmp/new/keys/op-power-new.key" >"$tmp/new/pub.txt" ||
    fail "keys generate"
"$SRC/deploy/pki/cishare-ca" request --kind participant --name op-power-new \
    --out "$tmp/new/tls/op-power-new" >/dev/null 2>&1 || fail "cishare-ca request"
"$SRC/deploy/pki/cishare-ca" sign --ca "$EX/tls/ca" --csr "$tmp/new/tls/op-power-new.csr" \
    --kind participant --name op-power-new --days 2 \
    --out "$tmp/new/tls/op-power-new.crt" >/dev/null 2>&1 || fail "cishare-ca sign"
cp "$EX/tls/ca.crt" "$tmp/new/tls/ca.crt"

# directory_version SERIAL OUT [extra entry file]: the example directory
# with another serial (and the entry appended), signed by the example root.
directory_version() {
    sed -e '/^# cishare-signature:/d' -e "s/^serial: .*/serial: $1/" \
        "$EX/directory.yaml" >"$2"
    [ -z "${3:-}" ] || cat "$3" >>"$2"
    "$B" directory sign --key "$EX/keys/root.key" "$2" >/dev/null ||
        fail "directory sign serial $1"
    cp "$EX/root.pub" "$(dirname "$2")/root.pub"
}
{
    echo
    echo "  - id: op-power-new"
    echo "    name: Power Company New"
    echo "    role: operator"
    echo "    sectors: [electricity]"
    echo "    ceptoar: ceptoar-electricity"
    echo "    principal: User:op-power-new"
    sed 's/^/    /' "$tmp/new/pub.txt"
} >"$tmp/entry.yaml"
directory_version 2 "$tmp/d2/directory.yaml" "$tmp/entry.yaml"
directory_version 3 "$tmp/d3.yaml" "$tmp/entry.yaml"
# tampered: serial 3's content changed after signing
sed 's/Power Company New/Power Company Evil/' "$tmp/d3.yaml" >"$tmp/tampered.yaml"
cp "$EX/directory.yaml" "$EX/root.pub" "$tmp/d1/"
"$B" directory validate "$tmp/d2/directory.yaml" >/dev/null || fail "serial 2 invalid"

# 3. A long-running feed of op-power-a on serial 1 (the file), private
#    trust state beside its output.
"$B" feed -c "$EX/op-power-a.conf" "${X[@]}" "${T[@]}" --from-beginning \
    -X "group.id=cishare-feed-op-power-a.dt-$nonce" \
    --out "$tmp/feed" >"$tmp/feed.out" 2>"$tmp/feed.log" &
feed_pid=$!
wait_for "$tmp/feed.log" "feed of op-power-a" 30 ||
    { cat "$tmp/feed.log"; fail "feed did not start"; }
sleep 2 # joined its group

# 4. The office publishes serial 2; the running feed applies it.
"$B" directory publish "${ADM[@]}" "$tmp/d2/directory.yaml" 2>"$tmp/dp2.err" ||
    { cat "$tmp/dp2.err"; fail "directory publish serial 2"; }
grep -q "directory serial 2 published on $topic" "$tmp/dp2.err" ||
    fail "publish report: $(cat "$tmp/dp2.err")"
wait_for "$tmp/feed.log" "directory serial 2 applied (was 1)" 20 ||
    { cat "$tmp/feed.log"; fail "the running feed did not apply serial 2"; }
kill -0 "$feed_pid" || fail "feed stopped"
ok "a running feed applies serial 2 from $topic and logs it"

# 5. op-power-new gets its topics and ACLs, then publishes.
"$B" provision "${ADM[@]}" --directory "$tmp/d2/directory.yaml" \
    >"$tmp/prov2.out" 2>"$tmp/prov2.err" || { cat "$tmp/prov2.err"; fail "provision serial 2"; }
grep -q "+ acl User:op-power-new READ topic cishare.inbox.op-power-new" "$tmp/prov2.out" ||
    fail "no ACLs for op-power-new: $(cat "$tmp/prov2.out")"
cat >"$tmp/new/op-power-new.conf" <<EOF
bootstrap.servers=$boot
security.protocol=SSL
ssl.ca.location=tls/ca.crt
ssl.certificate.location=tls/op-power-new.crt
ssl.key.location=tls/op-power-new.key
ssl.endpoint.identification.algorithm=https
cishare.participant=op-power-new
cishare.key=keys/op-power-new.key
cishare.directory=$tmp/d2/directory.yaml
cishare.state-dir=$tmp/st-new
cishare.directory.topic=$topic
EOF
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ind="indicator--$run"
echo "{\"type\":\"indicator\",\"tlp\":\"green\",\"audience\":[\"sector:electricity\"],\"payload\":{\"id\":\"$ind\",\"created\":\"$now\",\"modified\":\"$now\",\"type\":\"ipv4\",\"value\":\"192.0.2.99\"}}" \
    >"$tmp/new.jsonl"
"$B" publish -c "$tmp/new/op-power-new.conf" "$tmp/new.jsonl" 2>"$tmp/pubnew.err" ||
    { cat "$tmp/pubnew.err"; fail "publish as op-power-new"; }
wait_for "$tmp/feed/feed.jsonl" "$ind" 30 ||
    { cat "$tmp/feed.log"; cat "$tmp/feed/quarantine.jsonl" 2>/dev/null; fail "the running feed did not deliver op-power-new's message"; }
grep -q "$ind" "$tmp/feed/quarantine.jsonl" 2>/dev/null && fail "quarantined as well"
ok "the running feed delivers a message of op-power-new (only in serial 2)"

# 6. An older serial and a tampered version, put on the topic as admin
#    (directory publish refuses both, see 8): refused, not applied.
kcat "${kc[@]}" -P -t "$topic" -p 0 -k directory "$tmp/d1/directory.yaml" || fail "kcat produce serial 1"
wait_for "$tmp/feed.log" "directory on $topic refused: .*serial 1 is older than serial 2" 20 ||
    { cat "$tmp/feed.log"; fail "serial 1 not refused"; }
kcat "${kc[@]}" -P -t "$topic" -p 0 -k directory "$tmp/tampered.yaml" || fail "kcat produce tampered"
wait_for "$tmp/feed.log" "directory on $topic refused: .*$topic@2" 20 ||
    { cat "$tmp/feed.log"; fail "tampered version not refused"; }
sleep 1
kill -0 "$feed_pid" || { cat "$tmp/feed.log"; fail "feed stopped after the refusals"; }
grep -q "applied (was 2)" "$tmp/feed.log" && fail "a refused version was applied"
[ "$(grep -c 'directory serial .* applied' "$tmp/feed.log")" = 1 ] || fail "applied more than once"
grep 'refused' "$tmp/feed.log" | sed 's/^/# /'
ok "an older and a tampered version are refused; the feed runs on"

# Still on serial 2: a second message from op-power-new is delivered.
sed "s/$ind/$ind-2/" "$tmp/new.jsonl" >"$tmp/new2.jsonl"
"$B" publish -c "$tmp/new/op-power-new.conf" "$tmp/new2.jsonl" 2>"$tmp/pubnew2.err" ||
    { cat "$tmp/pubnew2.err"; fail "publish 2 as op-power-new"; }
wait_for "$tmp/feed/feed.jsonl" "$ind-2" 30 || fail "second message not delivered"
kill -TERM "$feed_pid"
wait "$feed_pid" || fail "feed exit status $? after SIGTERM"
feed_pid=
grep -q "directory versions applied 1, refused 2" "$tmp/feed.log" ||
    { grep "feed" "$tmp/feed.log" | tail -2; fail "stats do not count the refusals"; }
ok "after SIGTERM: exit 0, stats count 1 applied and 2 refused versions"

# 6b. Restart on the same --out (its trust state recorded serial 2) with the
#     serial 1 file: the kept copy of serial 2 is used (no rollback refusal),
#     said once, and the feed runs on serial 2: a new message of
#     op-power-new (only in serial 2) is delivered, not quarantined.
[ -f "$tmp/feed/directory.accepted.yaml" ] || fail "no kept copy beside the feed's state"
cmp -s "$tmp/feed/directory.accepted.yaml" "$tmp/d2/directory.yaml" ||
    fail "the kept copy is not the bytes of serial 2"
sed "s/$ind/$ind-r/" "$tmp/new.jsonl" >"$tmp/newr.jsonl"
"$B" publish -c "$tmp/new/op-power-new.conf" "$tmp/newr.jsonl" 2>"$tmp/pubnewr.err" ||
    { cat "$tmp/pubnewr.err"; fail "publish 3 as op-power-new"; }
rc=0
"$B" feed -c "$EX/op-power-a.conf" "${X[@]}" "${T[@]}" --once \
    -X "group.id=cishare-feed-op-power-a.dt-$nonce" \
    --out "$tmp/feed" >/dev/null 2>"$tmp/feed-r.log" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/feed-r.log"; fail "restart on the serial 1 file after serial 2 was applied: exit $rc"; }
grep -q "using directory serial 2 .*holds serial 1" "$tmp/feed-r.log" ||
    { cat "$tmp/feed-r.log"; fail "restart: the kept copy is not said"; }
grep -q "$ind-r" "$tmp/feed/feed.jsonl" ||
    { cat "$tmp/feed-r.log"; fail "restart: op-power-new's message not delivered (not on serial 2)"; }
grep -q "$ind-r" "$tmp/feed/quarantine.jsonl" 2>/dev/null && fail "restart: quarantined"
grep "using directory" "$tmp/feed-r.log" | sed 's/^/# /'
ok "a feed restarted on the serial 1 file runs on the kept serial 2 (exit 0)"

# 7. Start: a feed and a publisher on the serial 1 file apply serial 2 from
#    the topic (whose refused versions come later) before their first message.
"$B" feed -c "$EX/op-power-a.conf" "${X[@]}" "${T[@]}" --once --from-beginning \
    -X "group.id=cishare-feed-op-power-a.dt2-$nonce" \
    --out "$tmp/feed2" >/dev/null 2>"$tmp/feed2.log" || { cat "$tmp/feed2.log"; fail "feed --once"; }
grep -q "directory serial 2 applied (was 1)" "$tmp/feed2.log" || { cat "$tmp/feed2.log"; fail "feed start: serial 2 not applied"; }
grep -q "$ind" "$tmp/feed2/feed.jsonl" || fail "feed start: op-power-new's message not delivered"
ok "a starting feed applies serial 2 before its first message"
echo "{\"type\":\"indicator\",\"tlp\":\"amber\",\"audience\":[\"participant:op-power-new\"],\"payload\":{\"id\":\"$ind-3\",\"created\":\"$now\",\"modified\":\"$now\",\"type\":\"ipv4\",\"value\":\"192.0.2.98\"}}" \
    >"$tmp/to-new.jsonl"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" "${T[@]}" -X "cishare.state-dir=$tmp/st-pub" \
    "$tmp/to-new.jsonl" 2>"$tmp/pub3.err" || { cat "$tmp/pub3.err"; fail "publish to op-power-new"; }
grep -q "directory serial 2 applied (was 1)" "$tmp/pub3.err" || fail "publisher: serial 2 not applied"
ok "a publisher on the serial 1 file applies serial 2 and addresses op-power-new"
# the next run (a new process, same state): serial 2 from the kept copy
sed "s/$ind-3/$ind-4/" "$tmp/to-new.jsonl" >"$tmp/to-new2.jsonl"
rc=0
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" "${T[@]}" -X "cishare.state-dir=$tmp/st-pub" \
    "$tmp/to-new2.jsonl" 2>"$tmp/pub4.err" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/pub4.err"; fail "second publish run with the same state: exit $rc"; }
grep -q "using directory serial 2 .*holds serial 1" "$tmp/pub4.err" ||
    { cat "$tmp/pub4.err"; fail "second publish run: the kept copy is not said"; }
ok "the next publish run (same state) runs on the kept serial 2 and addresses op-power-new"

# 8. directory publish refuses what no client would accept (exit 2).
rc=0
"$B" directory publish "${ADM[@]}" "$tmp/tampered.yaml" 2>"$tmp/dpt.err" || rc=$?
[ "$rc" = 2 ] || fail "publish of a tampered file: exit $rc"
rc=0
"$B" directory publish "${ADM[@]}" "$tmp/d1/directory.yaml" 2>"$tmp/dp1.err" || rc=$?
[ "$rc" = 2 ] || fail "publish of serial 1 after 2: exit $rc"
grep -q "older than serial 2" "$tmp/dp1.err" || fail "rollback reason: $(cat "$tmp/dp1.err")"
ok "directory publish refuses a tampered and an older version (exit 2)"

# 9. A running feed whose directory expires (no newer version arrives)
#    stops on its own: exit 2, naming the serial and the expiry. Serial 10,
#    so the versions on the topic are older (refused); private state.
mkdir -p "$tmp/dexp"
exp="$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)"
sed -e '/^# cishare-signature:/d' -e 's/^serial: .*/serial: 10/' \
    -e "s/^expires: .*/expires: $exp/" "$EX/directory.yaml" >"$tmp/dexp/directory.yaml"
"$B" directory sign --key "$EX/keys/root.key" "$tmp/dexp/directory.yaml" >/dev/null ||
    fail "directory sign (expiring copy)"
cp "$EX/root.pub" "$tmp/dexp/root.pub"
"$B" feed -c "$EX/op-power-a.conf" "${X[@]}" "${T[@]}" \
    -X "cishare.directory=$tmp/dexp/directory.yaml" \
    -X "group.id=cishare-feed-op-power-a.dexp-$nonce" \
    --out "$tmp/feed-exp" >/dev/null 2>"$tmp/feed-exp.log" &
feed_pid=$!
wait_for "$tmp/feed-exp.log" "feed of op-power-a" 25 ||
    { cat "$tmp/feed-exp.log"; fail "feed on the expiring copy did not start before its expiry"; }
for ((i = 0; i < 60 * 5; i++)); do
    kill -0 "$feed_pid" 2>/dev/null || break
    sleep 0.2
done
kill -0 "$feed_pid" 2>/dev/null && fail "feed still running 60 s after its directory expired at $exp"
rc=0
wait "$feed_pid" || rc=$?
feed_pid=
[ "$rc" = 2 ] || { cat "$tmp/feed-exp.log"; fail "expired while running: exit $rc, expected 2"; }
grep -q "directory serial 10 in use expired at $exp" "$tmp/feed-exp.log" ||
    { cat "$tmp/feed-exp.log"; fail "expired while running: the message does not name serial and expiry"; }
grep "expired at" "$tmp/feed-exp.log" | sed 's/^/# /'
ok "a running feed stops when its directory expires (exit 2, serial and expiry named)"

# 10. A version on the topic that no longer lists the feed's participant
#     stops a running feed with exit 2 (every directory-driven refusal
#     exits 2), naming the serial; the feed on serial 2 (kept copy) first.
python3 - "$EX/directory.yaml" "$tmp/drm.yaml" <<'PY'
import re, sys
out, skip = [], False
for l in open(sys.argv[1]).read().split("\n"):
    if l.startswith("# cishare-signature:"):
        continue
    if l.startswith("  - id: "):
        skip = l.strip() == "- id: op-power-a"
    elif l and not l.startswith(" "):
        skip = False
    if not skip:
        out.append(l)
open(sys.argv[2], "w").write(re.sub(r"(?m)^serial: .*$", "serial: 11", "\n".join(out)))
PY
"$B" directory sign --key "$EX/keys/root.key" "$tmp/drm.yaml" >/dev/null || fail "directory sign (without op-power-a)"
"$B" feed -c "$EX/op-power-a.conf" "${X[@]}" "${T[@]}" \
    -X "group.id=cishare-feed-op-power-a.dt-$nonce" \
    --out "$tmp/feed" >/dev/null 2>"$tmp/feed-rm.log" &
feed_pid=$!
wait_for "$tmp/feed-rm.log" "feed of op-power-a" 30 ||
    { cat "$tmp/feed-rm.log"; fail "feed did not start"; }
kcat "${kc[@]}" -P -t "$topic" -p 0 -k directory "$tmp/drm.yaml" || fail "kcat produce serial 11"
for ((i = 0; i < 30 * 5; i++)); do
    kill -0 "$feed_pid" 2>/dev/null || break
    sleep 0.2
done
kill -0 "$feed_pid" 2>/dev/null && fail "feed still running 30 s after serial 11 removed op-power-a"
rc=0
wait "$feed_pid" || rc=$?
feed_pid=
[ "$rc" = 2 ] || { cat "$tmp/feed-rm.log"; fail "removed by a new version: exit $rc, expected 2"; }
grep -q "no longer in directory serial 11" "$tmp/feed-rm.log" ||
    { cat "$tmp/feed-rm.log"; fail "removal: the reason is not said"; }
ok "a running feed whose participant a new version removes stops with exit 2"
