#!/usr/bin/env bash
# cishare doctor on the real broker (issue 18): a healthy participant
# passes every check (exit 0); then one thing at a time is broken and
# doctor must name it on the right check line with the right reason code
# (exit 1):
#
#   case                  how                                    expected line
#   expired certificate   issued by the cluster CA, ended        fail certificate: [cert-expired]
#                         yesterday (cishare-ca --not-after)
#   missing ACL           the READ binding on its inbox          fail acl: [acl-read-denied]
#                         removed (Kafka's AclCommand, as admin;
#                         'cishare provision' restores it)
#   wrong directory       a tampered copy of the directory       fail directory: [directory-signature]
#   stopped broker        a bootstrap address nobody listens on  fail reachability: [broker-unreachable]
#                         (stands for a stopped broker; must
#                         fail within seconds)
#   read-only state       a read-only tmpfs (tests run as root,  fail state: [state-readonly]
#                         which ignores mode bits); skipped,
#                         said, where mount is not permitted
#
# And doctor changes nothing: the state folder it checks is not created.
#
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF, CISHARE_KAFKA_DIR (admin.properties, for the
# ACL case); CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${CISHARE_KAFKA_DIR:?set by tests/run}"

ME=op-power-a
CA_TOOL="$CISHARE_SRC/deploy/pki/cishare-ca"
PKI="${CISHARE_PKI_DIR:-$EX/tls}"
ro_mounted=0
acl_removed=0
cleanup() {
    [ "$ro_mounted" = 1 ] && umount "$tmp/ro" 2>/dev/null || true
    # the next test expects the provisioned ACLs
    [ "$acl_removed" = 1 ] && provision_examples || true
    rm -rf "$tmp"
}
trap cleanup EXIT

provision_examples

# A record in a topic op-power-a reads: its LogAppendTime is the broker's
# clock for the clock check (without one that check can only warn).
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cat >"$tmp/msg.jsonl" <<EOF
{"type":"indicator","tlp":"green","audience":["sector:electricity"],"payload":{"id":"indicator--$run","created":"$now","modified":"$now","type":"ipv4","value":"192.0.2.78"}}
EOF
"$B" publish -c "$EX/$ME.conf" "${X[@]}" "$tmp/msg.jsonl" >"$tmp/pub.out" \
    2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish"; }

# doctor CASE [options...]: run doctor on $ME; output in $tmp/CASE.out,
# exit status in $rc. --warn-days 7: deploy/kafka/start issues the example
# certificates for 30 days, which the default (30) would warn about.
doctor() {
    local name="$1"
    shift
    rc=0
    "$B" doctor -c "$EX/$ME.conf" "${X[@]}" --state "$tmp/state" \
        --timeout 2000 --warn-days 7 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
}
# expect CASE RC 'LINE-PREFIX': exit status RC and a line starting so.
expect() {
    if [ "$rc" != "$2" ] || ! grep -qF -- "$3" "$tmp/$1.out"; then
        sed 's/^/#   /' "$tmp/$1.out" "$tmp/$1.err"
        fail "$1: expected exit $2 and a line '$3' (exit $rc)"
    fi
}

# --- healthy -----------------------------------------------------------
doctor healthy
[ "$rc" = 0 ] || { sed 's/^/#   /' "$tmp/healthy.out" "$tmp/healthy.err"; fail "healthy: exit $rc"; }
[ "$(grep -c '^ok ' "$tmp/healthy.out")" = 9 ] &&
    [ "$(wc -l <"$tmp/healthy.out")" = 9 ] ||
    { sed 's/^/#   /' "$tmp/healthy.out"; fail "healthy: not nine ok lines"; }
[ ! -e "$tmp/state" ] || fail "doctor created the state folder $tmp/state"
ok "healthy $ME: nine checks ok, exit 0, nothing created"

doctor json --json
[ "$rc" = 0 ] || fail "--json: exit $rc"
python3 - "$tmp/json.out" <<'EOF' || fail "--json output"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["n"] for r in rows] == list(range(1, 10)), rows
assert all(r["status"] == "ok" and r["reason"] == "" for r in rows), rows
assert rows[5]["check"] == "reachability", rows
EOF
ok "--json: nine objects, status ok"

# --- lag (check 8) -----------------------------------------------------
# The feed commits up to the end; one more record is one message of lag,
# which --max-lag 0 warns about (a warning: still exit 0).
"$B" feed -c "$EX/$ME.conf" "${X[@]}" --once --out "$tmp/feed" \
    -X session.timeout.ms=6000 >"$tmp/feed.out" 2>"$tmp/feed.err" ||
    { cat "$tmp/feed.err"; fail "feed --once"; }
doctor caughtup
expect caughtup 0 "ok   lag: group cishare-feed-$ME is 0 messages behind"
sed "s/--$run/--${run%????}bbbb/; s/192.0.2.78/192.0.2.79/" "$tmp/msg.jsonl" >"$tmp/msg2.jsonl"
"$B" publish -c "$EX/$ME.conf" "${X[@]}" "$tmp/msg2.jsonl" >"$tmp/pub.out" \
    2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish"; }
doctor behind --max-lag 0
expect behind 0 "warn lag: [lag-high] group cishare-feed-$ME is 1 messages behind"
ok "lag: 0 after feed --once, then 1 (warn lag-high over --max-lag 0, exit 0)"

# --- expired certificate -----------------------------------------------
yesterday="$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)"
lastyear="$(date -u -d '-1 year' +%Y%m%d%H%M%SZ)"
"$CA_TOOL" request --kind participant --name "$ME" --out "$tmp/expired" \
    >"$tmp/pki.log" 2>&1 &&
    "$CA_TOOL" sign --ca "$PKI/ca" --csr "$tmp/expired.csr" --kind participant \
        --name "$ME" --out "$tmp/expired.crt" --not-before "$lastyear" \
        --not-after "$yesterday" >>"$tmp/pki.log" 2>&1 ||
    { cat "$tmp/pki.log"; fail "issue an expired certificate"; }
doctor expired -X "ssl.certificate.location=$tmp/expired.crt" \
    -X "ssl.key.location=$tmp/expired.key"
expect expired 1 "fail certificate: [cert-expired] $tmp/expired.crt"
grep -q '^  fix: renew it' "$tmp/expired.out" || fail "expired: no fix line"
ok "expired certificate: fail certificate [cert-expired], with a fix"

# --- missing ACL -------------------------------------------------------
acl() { # kafka's AclCommand as the cluster admin
    local cache cls
    cache="$("$CISHARE_SRC/deploy/kafka/fetch")"
    cls=org.apache.kafka.tools.AclCommand
    grep -qa 'org/apache/kafka/tools/AclCommand.class' "$cache"/lib/kafka-tools-*.jar ||
        cls=kafka.admin.AclCommand
    java -Xmx256m -Dlog4j2.configurationFile="$CISHARE_KAFKA_DIR/log4j2.properties" \
        -Dkafka.logs.dir="$tmp/tool-logs" -cp "$cache/lib/*" "$cls" \
        --bootstrap-server "$boot" \
        --command-config "$CISHARE_KAFKA_DIR/admin.properties" "$@"
}
acl_removed=1
acl --remove --force --allow-principal "User:$ME" --operation Read \
    --topic "cishare.inbox.$ME" >"$tmp/acl.log" 2>&1 ||
    { cat "$tmp/acl.log"; fail "remove an ACL"; }
doctor noacl
expect noacl 1 "fail acl: [acl-read-denied] READ refused on cishare.inbox.$ME as User:$ME"
provision_examples
acl_removed=0
ok "missing ACL: fail acl [acl-read-denied] naming cishare.inbox.$ME"

# --- wrong directory ---------------------------------------------------
sed 's/^\(  *name: \).*Power Company A.*/\1"Power Company Z"/' \
    "$EX/directory.yaml" >"$tmp/directory.yaml"
cmp -s "$EX/directory.yaml" "$tmp/directory.yaml" && fail "tampering changed nothing"
doctor wrongdir -X "cishare.directory=$tmp/directory.yaml" \
    -X "cishare.root-key=$EX/root.pub"
expect wrongdir 1 "fail directory: [directory-signature]"
grep -q '^warn entry: \[not-checked\]' "$tmp/wrongdir.out" || fail "wrongdir: entry checked without a directory"
ok "wrong directory: fail directory [directory-signature]"

# --- stopped broker ----------------------------------------------------
# A port nobody listens on stands for a stopped broker (refused at once,
# as a stopped broker's host does).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
start=$SECONDS
doctor stopped -X "bootstrap.servers=127.0.0.1:$port"
expect stopped 1 "fail reachability: [broker-unreachable] 1 of 1 bootstrap servers: 127.0.0.1:$port tcp failed"
[ $((SECONDS - start)) -le 15 ] || fail "stopped broker: took $((SECONDS - start)) s"
ok "stopped broker: fail reachability [broker-unreachable] in $((SECONDS - start)) s"

# --- read-only state folder --------------------------------------------
mkdir -p "$tmp/ro"
if mount -t tmpfs -o ro,size=1m tmpfs "$tmp/ro" 2>"$tmp/mount.err"; then
    ro_mounted=1
    rc=0
    "$B" doctor -c "$EX/$ME.conf" "${X[@]}" --state "$tmp/ro" --timeout 2000 \
        >"$tmp/ro.out" 2>"$tmp/ro.err" || rc=$?
    expect ro 1 "fail state: [state-readonly] $tmp/ro is on a read-only file system"
    umount "$tmp/ro"
    ro_mounted=0
    ok "read-only state folder: fail state [state-readonly]"
else
    echo "# read-only state folder: skipped, mount not permitted here ($(cat "$tmp/mount.err"))"
fi
