#!/usr/bin/env bash
# A feed sends each batch's offset commit without waiting for the broker
# (issue 17, docs/PERFORMANCE.md "Latency"); an idle feed and the end of a
# run commit synchronously, again with the offsets sent before. So after
# `feed --once` the group's offsets cover everything delivered:
# - the same folder resumes there: the next run delivers only the new
#   messages and re-reads none (duplicates 0);
# - a further instance that joins at the group's offsets reads nothing old.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dev_broker 300
F=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)

pub() { # N FIRST: N addresses from 198.51.FIRST.x, published by op-power-a
    local i
    for i in $(seq 1 "$1"); do printf '198.51.%d.%d\n' "$2" "$i"; done >"$tmp/ips.txt"
    "$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/pub" \
        -f text --tlp green -a sector:electricity "$tmp/ips.txt" 2>/dev/null
}
feed() { # OUT [ARGS...]: a feed --once of op-power-b into OUT
    local out="$1"
    shift
    "$B" feed -c "$EX/op-power-b.conf" "${X[@]}" "${F[@]}" --once --out "$out" \
        "$@" 2>"$out.err" || { cat "$out.err"; fail "feed $out"; }
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

pub 40 100
feed "$tmp/one"
[ "$(lines "$tmp/one/feed.jsonl")" = 40 ] || fail "first run: not 40 messages"
pub 5 101
feed "$tmp/one"
[ "$(lines "$tmp/one/feed.jsonl")" = 45 ] || fail "second run: not 45 messages in all"
grep -q "feed summary: delivered 5, duplicates 0," "$tmp/one.err" ||
    { cat "$tmp/one.err"; fail "second run did not resume at the committed offsets"; }
ok "the next run resumes at the offsets of the last: 5 new, none re-read"
feed "$tmp/two" -X cishare.feed.new-state-folder=group
[ "$(lines "$tmp/two/feed.jsonl")" = 0 ] ||
    { cat "$tmp/two.err"; fail "the group's offsets do not cover what was delivered"; }
ok "a further instance joins at the group's offsets: nothing old"
