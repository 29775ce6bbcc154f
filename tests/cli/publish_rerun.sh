#!/usr/bin/env bash
# Crash-safe publishing on the embedded broker (cishare dev-broker):
# - the same input published again (the re-run after a crash) creates no
#   duplicate: message ids are derived from the record version
#   (schemas/README.md, "Message ids"), so the feed delivers each record
#   once and counts the second copies as duplicates; a new version of a
#   record is a new message;
# - a record that runs out of memory as it is built (test hook
#   CISHARE_TEST_PUB_NOMEM) fails "out of memory", so does every later
#   one, and the summary counts every record: none is left without an
#   outcome.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dev_broker 300
F=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
export XDG_STATE_HOME="$tmp/xdg"

ind() { # N MODIFIED: a native indicator line
    printf '{"type":"indicator","tlp":"green","audience":["sector:electricity"],"payload":{"id":"indicator--00000000-0000-4000-8000-%012d","type":"ipv4","value":"192.0.2.%d","created":"2026-11-01T00:00:00Z","modified":"%s"}}\n' "$1" "$1" "$2"
}
for n in 1 2 3 4 5; do ind "$n" 2026-11-02T00:00:00Z; done >"$tmp/five.jsonl"
# a list without times: its records take the file's modification time
printf '198.51.100.%d\n' 1 2 3 >"$tmp/ips.txt"
publish() { # EXPECTED-EXIT ARGS...: publish as op-power-a
    local want="$1" rc
    shift
    set +e
    "$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -X "cishare.state-dir=$tmp/pub" \
        "$@" >"$tmp/pub.out" 2>"$tmp/pub.err"
    rc=$?
    set -e
    [ "$rc" = "$want" ] || { cat "$tmp/pub.err"; fail "publish $*: exit $rc, want $want"; }
}
feed() { # the feed of op-power-b, --once, into $tmp/feed
    "$B" feed -c "$EX/op-power-b.conf" "${X[@]}" "${F[@]}" --once --out "$tmp/feed" \
        2>"$tmp/feed.err" || { cat "$tmp/feed.err"; fail "feed"; }
}
lines() { if [ -f "$tmp/feed/feed.jsonl" ]; then wc -l <"$tmp/feed/feed.jsonl"; else echo 0; fi; }

publish 0 "$tmp/five.jsonl"
publish 0 -f text --tlp green -a sector:electricity "$tmp/ips.txt"
feed
[ "$(lines)" = 8 ] || fail "first run: $(lines) messages, want 8"
# the re-run after a crash: the same files again (a second process)
publish 0 "$tmp/five.jsonl"
grep -q "published 5, rejected 0" "$tmp/pub.err" || fail "re-run: $(cat "$tmp/pub.err")"
publish 0 -f text --tlp green -a sector:electricity "$tmp/ips.txt"
feed
[ "$(lines)" = 8 ] || fail "re-run: $(lines) messages delivered in all, want 8 (each once)"
grep -q "duplicates 8" "$tmp/feed.err" || { cat "$tmp/feed.err"; fail "re-run: 8 duplicates not counted"; }
ok "the same input published twice: each record delivered once, 8 duplicates counted"

# a new version of one record is a new message, the others still not
{ ind 1 2026-11-03T00:00:00Z; ind 2 2026-11-02T00:00:00Z; } >"$tmp/v2.jsonl"
publish 0 "$tmp/v2.jsonl"
feed
[ "$(lines)" = 9 ] || fail "new version: $(lines) messages in all, want 9"
grep -q "duplicates 1" "$tmp/feed.err" || { cat "$tmp/feed.err"; fail "new version: 1 duplicate not counted"; }
ok "a new version is delivered, an unchanged record is a duplicate"

# out of memory at record 3 of 6: every record has an outcome
for n in 11 12 13 14 15 16; do ind "$n" 2026-11-02T00:00:00Z; done >"$tmp/six.jsonl"
CISHARE_TEST_PUB_NOMEM=3 publish 1 -n "$tmp/six.jsonl"
grep -q "dry run, nothing sent: published 2, rejected 4 (out of memory: 4)" "$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "dry run: out of memory not counted"; }
CISHARE_TEST_PUB_NOMEM=3 publish 1 "$tmp/six.jsonl"
sum="$(grep -o "published [0-9]*, rejected [0-9]* (out of memory: [0-9]*)" "$tmp/pub.err")" ||
    { cat "$tmp/pub.err"; fail "out of memory: no summary counting it"; }
read -r _ p _ r _ _ _ m <<<"${sum//[,():]/ }"
[ $((p + r)) = 6 ] && [ "$r" = "$m" ] && [ "$r" -ge 1 ] && [ "$p" -ge 2 ] ||
    fail "out of memory: '$sum' does not account for 6 records"
grep -q "ERROR: six.jsonl.*: not sent: out of memory" "$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "the failed records are not named"; }
feed
[ "$(lines)" = $((9 + p)) ] || fail "out of memory: $(lines) delivered in all, want $((9 + p))"
ok "out of memory: $p published, $r failed 'out of memory', all counted and named"
# ... and the re-run publishes the rest, the first ones are duplicates
publish 0 "$tmp/six.jsonl"
feed
[ "$(lines)" = 15 ] || fail "re-run after out of memory: $(lines) in all, want 15"
ok "the re-run completes it without duplicates"
