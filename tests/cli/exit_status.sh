#!/usr/bin/env bash
# Exit statuses without a broker: 2 for what the user must fix (a refused
# config, an unreadable or refused file), 1 when Kafka or the file system
# failed (README.md, the commands' --help).
#
# - cishare.directory.topic must be cishare.directory or
#   cishare.directory.<name>: every participant may read that topic, so a
#   name such as cishare.amber or cishare.inbox (a prefix of the layout)
#   is refused by every command, before anything is connected or granted
#   (deploy/TOPICS.md).
# - publish and alert: a publisher that cannot be made because the Kafka
#   client or the directory state failed is 1, a refused config is 2.
# - directory publish: an unreadable file is 2 ("cannot read"), a refused
#   file 2 ("refused"), a directory state that cannot be written 1.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expect() { # exit-code grep-pattern args...
    local want="$1" pat="$2" rc
    shift 2
    set +e
    "$B" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    [ "$rc" -eq "$want" ] || { cat "$tmp/err"; fail "$* -> exit $rc, want $want"; }
    grep -qF -- "$pat" "$tmp/err" || { cat "$tmp/err"; fail "$*: no '$pat'"; }
}

# A regular file where a folder is needed: no state can be written below
# it, for root too.
: >"$tmp/file"
nostate=(-X "cishare.state-dir=$tmp/file/state")
st=(-X "cishare.state-dir=$tmp/state")
now="2026-01-01T00:00:00Z"
echo "{\"type\":\"indicator\",\"tlp\":\"green\",\"audience\":[\"sector:electricity\"],\"payload\":{\"id\":\"indicator--00000000-0000-4000-8000-0000000000e1\",\"created\":\"$now\",\"modified\":\"$now\",\"type\":\"ipv4\",\"value\":\"192.0.2.1\"}}" \
    >"$tmp/rec.json"

# --- the directory topic's name ----------------------------------------
rule="must be 'cishare.directory' or 'cishare.directory.<name>'"
for t in cishare.amber cishare.amber-strict cishare.inbox cishare.green. \
    cishare.inbox.op-bank-a cishare.directoryx cishare.directory. other; do
    expect 2 "cishare.directory.topic: '$t' is not allowed" \
        provision --dry-run -c "$EX/admin.conf" -X "cishare.directory.topic=$t"
    grep -qF "$rule" "$tmp/err" || fail "provision, $t: the rule is not named"
    grep -q '^+ acl' "$tmp/out" && fail "provision, $t: planned ACLs"
    expect 2 "cishare.directory.topic: '$t' is not allowed" \
        publish -c "$EX/op-power-a.conf" -n "${st[@]}" \
        -X "cishare.directory.topic=$t" "$tmp/rec.json"
done
# the same in a config file
cp "$EX/admin.conf" "$tmp/admin.conf"
echo "cishare.directory.topic=cishare.inbox" >>"$tmp/admin.conf"
expect 2 "cishare.directory.topic: 'cishare.inbox' is not allowed" \
    provision --dry-run -c "$tmp/admin.conf" --directory "$EX/directory.yaml"
# allowed: the default and a private one (tests/kafka/directory_topic.sh)
expect 0 "published 1, rejected 0" publish -c "$EX/op-power-a.conf" -n "${st[@]}" \
    -X cishare.directory.topic=cishare.directory.test-1a2b "$tmp/rec.json"
expect 0 "published 1, rejected 0" publish -c "$EX/op-power-a.conf" -n "${st[@]}" \
    -X cishare.directory.topic=cishare.directory "$tmp/rec.json"
ok "cishare.directory.topic: only cishare.directory[.<name>] (exit 2 otherwise)"

# --- publish and alert: 1 when Kafka or the file system failed ---------
expect 1 "cannot create the state folder" \
    publish -c "$EX/op-power-a.conf" -n "${nostate[@]}" "$tmp/rec.json"
expect 1 "cannot create the state folder" \
    alert -c "$EX/nco.conf" -n "${nostate[@]}" -s high -T t -b b --all
# librdkafka refuses to make the producer (rd_kafka_new)
kafka_fail=(-X security.protocol=plaintext -X test.mock.num.brokers=1
    -X max.in.flight=10)
expect 1 "cannot create the Kafka producer" \
    publish -c "$EX/op-power-a.conf" "${st[@]}" "${kafka_fail[@]}" "$tmp/rec.json"
expect 1 "cannot create the Kafka producer" \
    alert -c "$EX/nco.conf" "${st[@]}" "${kafka_fail[@]}" -s high -T t -b b --all
# a refused config is still 2
expect 2 "cishare.participant: participant 'nobody' is not in the directory" \
    publish -c "$EX/op-power-a.conf" -n "${st[@]}" -X cishare.participant=nobody \
    "$tmp/rec.json"
expect 2 "participant 'nobody' is not in the directory" \
    alert -c "$EX/nco.conf" -n "${st[@]}" -X cishare.participant=nobody \
    -s high -T t -b b --all
ok "publish, alert: a Kafka or state failure is exit 1, a refusal 2"

# --- directory publish -------------------------------------------------
expect 2 "directory publish: cannot read $tmp/nope.yaml" \
    directory publish -c "$EX/admin.conf" "${st[@]}" "$tmp/nope.yaml"
grep -q refused "$tmp/err" && fail "an unreadable file is reported refused"
expect 1 "the directory state $tmp/file/state/directory.state cannot be updated" \
    directory publish -c "$EX/admin.conf" "${nostate[@]}" "$EX/directory.yaml"
grep -q refused "$tmp/err" && fail "an unwritable state is reported refused"
mkdir "$tmp/d"
cp "$EX/root.pub" "$tmp/d/"
sed 's/name: Power Company A$/name: Power Company Z/' \
    "$EX/directory.yaml" >"$tmp/d/directory.yaml"
cmp -s "$EX/directory.yaml" "$tmp/d/directory.yaml" && fail "the copy was not altered"
expect 2 "directory publish: $tmp/d/directory.yaml refused, nothing published" \
    directory publish -c "$EX/admin.conf" "${st[@]}" "$tmp/d/directory.yaml"
ok "directory publish: unreadable 2, altered 2, state not writable 1"
