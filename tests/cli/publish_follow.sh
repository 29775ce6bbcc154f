#!/usr/bin/env bash
# cishare publish --follow on the embedded broker: lines written slowly on
# a pipe are each answered before the next is written (the bounded
# delay), a bad line is rejected and the stream goes on, the metrics count
# them, and SIGTERM publishes what was read, prints the summary and exits
# with publish's status (1: a line was rejected).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/out "$tmp"/err; do [ -f "$f" ] && sed "s|^|#   $(basename "$f"): |" "$f" >&2; done
    exit 1
}
export XDG_STATE_HOME="$tmp/state" # the publication journal

dev_broker 120

mkfifo "$tmp/in"
# --max-delay 1000: a record is answered without more input, and a record
# written just before SIGTERM is still held when the signal comes.
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" \
    --follow --max-delay 1000 \
    --metrics 127.0.0.1:0 <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
pids+=($pid)
exec 3>"$tmp/in"

# wait_answer N PATTERN: line N is answered (PATTERN) within 15 s
wait_answer() {
    local i
    for i in $(seq 150); do
        grep -qE "^$2" "$tmp/out" && return 0
        kill -0 "$pid" 2>/dev/null || fail "publish --follow exited before answering line $1"
        sleep 0.1
    done
    fail "line $1 not answered ('$2')"
}
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
rec() { # N: a native record, its subject indicator--...-00000000000N
    printf '{"type":"indicator","payload":{"id":"indicator--6d0f3c0e-2b52-4a39-9a4e-%012d","created":"%s","modified":"%s","type":"domain","value":"follow-%d.example"}}\n' \
        "$1" "$now" "$now" "$1"
}

rec 1 >&3
wait_answer 1 "ok 1 [0-9a-f-]{36} indicator--6d0f3c0e-2b52-4a39-9a4e-000000000001 green$"
echo '{"type":"indicator","payload":' >&3
wait_answer 2 "rejected 2 invalid input: not valid JSON"
echo "198.51.100.7" >&3
wait_answer 3 "ok 3 [0-9a-f-]{36} indicator--[0-9a-f-]+ green$"
[ "$(wc -l <"$tmp/out")" -eq 3 ] || fail "not one answer per line"
ok "each line is answered before the next is written; a bad line is rejected and the stream goes on"

addr="$(sed -n 's|.*metrics at http://\([0-9.:]*\).*|\1|p' "$tmp/err")"
[ -n "$addr" ] || fail "no metrics address in the log"
python3 - "$addr" <<'EOF' || fail "metrics"
import sys, urllib.request
text = urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=10).read().decode()
want = ['cishare_published_total 2', 'cishare_rejected_total{reason="invalid input"} 1']
for w in want:
    if not any(l.startswith(w) for l in text.splitlines()):
        sys.exit("metrics lack %r:\n%s" % (w, text))
EOF
ok "--metrics counts published and rejected records"

rec 4 >&3
sleep 0.2
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
exec 3>&-
[ "$rc" -eq 1 ] || fail "exit $rc after SIGTERM with a rejected line, want 1"
grep -qE "^ok 4 [0-9a-f-]{36} indicator--6d0f3c0e-2b52-4a39-9a4e-000000000004 green$" "$tmp/out" ||
    fail "the line held when SIGTERM came was not published"
grep -q "% published 3, rejected 1, failed 0, skipped 0 (rejected invalid input: 1)" "$tmp/err" ||
    fail "no summary"
ok "SIGTERM publishes what was read, prints the summary, exits 1"

# The end of input ends the stream too; all published: exit 0.
rec 5 | "$B" publish -c "$EX/op-power-a.conf" "${X[@]}" \
    --follow >"$tmp/out" 2>"$tmp/err" || fail "exit $? at the end of input"
grep -q "^ok 1 " "$tmp/out" || fail "end of input: no answer"
ok "the end of input publishes, answers and exits 0"

set +e
"$B" publish -c "$EX/op-power-a.conf" --follow --max-delay soon </dev/null >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "max-delay: 'soon' is not a delay" "$tmp/err" || fail "bad --max-delay: exit $rc"
ok "a bad --max-delay is a usage error"
