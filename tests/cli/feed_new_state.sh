#!/usr/bin/env bash
# A feed with a new state folder reads every partition from its beginning,
# even when its consumer group has offsets committed by a feed on another
# folder: nothing is skipped silently. The old folder resumes where it was.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dev_broker 300
# the mock cluster may hold a closed member's session until it times out
F=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)

printf '198.51.100.%d\n' 1 2 3 >"$tmp/ips.txt"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/pub" \
    -f text --tlp green -a sector:electricity "$tmp/ips.txt" 2>/dev/null
feed() { # OUT: a feed --once of op-power-b into OUT (its own state folder)
    "$B" feed -c "$EX/op-power-b.conf" "${X[@]}" "${F[@]}" --once --out "$1" 2>"$1.err" ||
        { cat "$1.err"; fail "feed $1"; }
}
feed "$tmp/one"
[ "$(wc -l <"$tmp/one/feed.jsonl")" = 3 ] || fail "first feed: not 3 messages"
# Same consumer group (cishare-feed-op-power-b), new folder: all 3 again.
feed "$tmp/two"
[ -s "$tmp/two/feed.jsonl" ] && [ "$(wc -l <"$tmp/two/feed.jsonl")" = 3 ] ||
    { cat "$tmp/two.err"; fail "a new state folder skipped history"; }
grep -q "new state folder: reading every partition from its beginning" "$tmp/two.err" ||
    fail "no line saying the new folder reads from the beginning"
ok "a new state folder reads from the beginning, and says so"
# The first folder again: resumes, nothing new, nothing twice.
printf '198.51.100.9\n' >"$tmp/ip9.txt"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/pub" \
    -f text --tlp green -a sector:electricity "$tmp/ip9.txt" 2>/dev/null
feed "$tmp/one"
[ "$(wc -l <"$tmp/one/feed.jsonl")" = 4 ] || fail "old folder: not 4 messages in all"
! grep -q "new state folder" "$tmp/one.err" || fail "old folder called new"
ok "an existing folder resumes: one new message, none twice"
# A further instance of a scaled-out feed joins at the group's offsets.
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" "${F[@]}" --once --out "$tmp/three" \
    -X cishare.feed.new-state-folder=group 2>"$tmp/three.err" ||
    { cat "$tmp/three.err"; fail "feed three"; }
[ ! -s "$tmp/three/feed.jsonl" ] || fail "new-state-folder=group read history again"
set +e
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" --once --out "$tmp/four" \
    -X cishare.feed.new-state-folder=sometimes 2>"$tmp/four.err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "cishare.feed.new-state-folder: 'sometimes'" "$tmp/four.err" ||
    { cat "$tmp/four.err"; fail "a bad new-state-folder value: exit $rc"; }
ok "cishare.feed.new-state-folder=group resumes the group's offsets; a bad value is exit 2"
