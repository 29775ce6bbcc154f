#!/usr/bin/env bash
# cishare publish reads JSON Lines a chunk at a time (importer.h,
# cishare_import_open/next) as it publishes, with a fast reader for the
# usual record and jansson for the rest; dry runs, no broker:
# - a file of many chunks: every record in input order, a bad record and
#   an invalid line (which ends the file) named by their line, a \u
#   escape and a real number (refused by the schema) read as before;
# - a bad second file still sends nothing of the first (exit 2).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export XDG_STATE_HOME="$tmp/xdg"

ind() { # N [VALUE]: a native indicator line
    printf '{"type":"indicator","tlp":"green","payload":{"id":"indicator--00000000-0000-4000-8000-%012d","type":"domain","value":"%s","confidence":%s}}\n' \
        "$1" "${2:-h$1.example}" "${3:-80}"
}
for n in $(seq 1 300); do
    case $n in
    7) ind "$n" 'h\u0065llo.example' ;; # jansson reads it
    8) ind "$n" "h8.example" 0.5 ;;      # a real number: jansson, refused
    100) echo '{"type":"nonsense","payload":{"id":"x--1"}}' ;;
    250) echo '{"type":"indicator","payload":' ;; # ends the file
    *) ind "$n" ;;
    esac
done >"$tmp/many.jsonl"

set +e
"$B" publish -c "$EX/op-power-a.conf" -n -a sector:electricity "$tmp/many.jsonl" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$tmp/err"; fail "exit $rc, want 1"; }
grep -q "published 247, rejected 3 (invalid message: 1, unknown message type: 1, invalid JSON: 1)" "$tmp/err" ||
    { cat "$tmp/err"; fail "summary"; }
grep -q "ERROR: many.jsonl:8: .*payload.confidence: expected int" "$tmp/err" ||
    { cat "$tmp/err"; fail "line 8"; }
grep -q "ERROR: many.jsonl:100: x--1: unknown message type" "$tmp/err" || { cat "$tmp/err"; fail "line 100"; }
# (line 251 reads as the value of line 250's "payload")
grep -q "ERROR: many.jsonl:250: line 252, column 1: .*the rest of the file is not read" "$tmp/err" ||
    { cat "$tmp/err"; fail "line 250"; }
# the plan: every record, in input order, named by its line
cut -f1 "$tmp/out" | sed 's/^many.jsonl:\([0-9]*\):.*/\1/' >"$tmp/got"
seq 1 249 | grep -vx -e 8 -e 100 >"$tmp/want"
diff "$tmp/want" "$tmp/got" >/dev/null || { diff "$tmp/want" "$tmp/got" | head; fail "records"; }
grep -q "	indicator--00000000-0000-4000-8000-000000000007	green	" "$tmp/out" ||
    fail "the \\u line"
ok "JSON Lines over many chunks: every record in order, bad lines named"

printf '{"type":"indicator",\n' >"$tmp/broken.json"
set +e
"$B" publish -c "$EX/op-power-a.conf" -n -a sector:electricity "$tmp/many.jsonl" \
    "$tmp/broken.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$tmp/err"; fail "bad second file: exit $rc, want 2"; }
grep -q "ERROR: nothing was published" "$tmp/err" || { cat "$tmp/err"; fail "bad second file"; }
[ ! -s "$tmp/out" ] || fail "bad second file: a plan was printed"
ok "a bad second file sends nothing of the first"
