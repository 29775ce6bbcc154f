#!/usr/bin/env bash
# cishare report: the exit codes and messages scripts rely on (malformed
# --from/--to name the option and the expected form, --from after --to,
# a missing archive names the file), an empty period prints zeros with
# exit 0, every --format runs, --out writes the file, and the figures
# over the synthetic year that tests/unit/test_report.c generates (its
# archive, through CISHARE_REPORT_ARCHIVE) equal what that generator
# counted (messages, relayed, sightings: the incident deadlines depend on
# the time the report is run).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
GEN="${CISHARE_TEST_REPORT:-$(dirname "$B")/tests/test_report}"
C=(-c "$EX/op-power-a.conf" -X "cishare.state-dir=$tmp/st")

[ -x "$GEN" ] || fail "no generator at $GEN (set CISHARE_TEST_REPORT)"
CISHARE_REPORT_ARCHIVE="$tmp/year.db" CISHARE_REPORT_EXPECTED="$tmp/expected.json" \
    "$GEN" >"$tmp/gen.out" 2>&1 || { cat "$tmp/gen.out"; fail "generator"; }
mkdir -p "$tmp/st"
cp "$tmp/year.db" "$tmp/st/archive.db"

run() { # expected-exit args...
    local want="$1" rc
    shift
    set +e
    "$B" report "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    [ "$rc" -eq "$want" ] || fail "report $*: exit $rc (want $want): $(cat "$tmp/err")"
}

run 2 "${C[@]}" --from 2025-13-01 --to 2025-12-31
grep -qF -- "--from '2025-13-01': not a date (YYYY-MM-DD or an RFC 3339 time" "$tmp/err" ||
    fail "bad --from: $(cat "$tmp/err")"
run 2 "${C[@]}" --from 2025-01-01 --to 31/12/2025
grep -qF -- "--to '31/12/2025': not a date (YYYY-MM-DD" "$tmp/err" ||
    fail "bad --to: $(cat "$tmp/err")"
run 2 "${C[@]}" --from 2025-02-29 --to 2025-12-31
grep -qF -- "--from '2025-02-29'" "$tmp/err" || fail "2025-02-29: $(cat "$tmp/err")"
ok "a malformed date names the option and the expected form (exit 2)"

run 2 "${C[@]}" --from 2025-12-31 --to 2025-01-01
grep -qF -- "--from 2025-12-31 is after --to 2025-01-01" "$tmp/err" ||
    fail "from after to: $(cat "$tmp/err")"
run 2 "${C[@]}" --to 2025-01-01
grep -qF -- "--from is required" "$tmp/err" || fail "no --from: $(cat "$tmp/err")"
run 2 "${C[@]}" --from 2025-01-01 --to 2025-12-31 --format pdf
grep -qF -- "--format: unknown format 'pdf'" "$tmp/err" || fail "pdf: $(cat "$tmp/err")"
ok "--from after --to, a missing --from, an unknown --format: exit 2"

run 1 "${C[@]}" --from 2025-01-01 --to 2025-12-31 --archive "$tmp/nope.db"
grep -qF "$tmp/nope.db" "$tmp/err" || fail "missing archive: $(cat "$tmp/err")"
run 1 -c "$EX/op-power-a.conf" -X "cishare.state-dir=$tmp/empty" \
    --from 2025-01-01 --to 2025-12-31
grep -qF "$tmp/empty/archive.db" "$tmp/err" ||
    fail "missing default archive: $(cat "$tmp/err")"
ok "a missing archive names the file (exit 1)"

run 0 "${C[@]}" --from 2030-01-01 --to 2030-01-31 --format json
python3 - "$tmp/out" <<'EOF' || fail "empty period: $(cat "$tmp/out")"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["messages"]
assert m["received"]["total"] == 0 and m["sent"]["total"] == 0, m
assert m["received"]["by_month"] == {"2030-01": 0}, m
assert all(v == 0 for v in m["received"]["by_type"].values())
assert r["incidents"]["total"] == 0 and r["incidents"]["to_preliminary"]["n"] == 0
assert r["sightings"]["total"] == 0 and r["relayed"]["received_via_relay"] == 0
EOF
run 0 "${C[@]}" --from 2030-01-01 --to 2030-01-31
grep -qE "^  total +0 +0$" "$tmp/out" || fail "empty text: $(cat "$tmp/out")"
ok "an empty period prints zeros (exit 0)"

# the year, from the default archive (state dir) and from --archive
run 0 "${C[@]}" --from 2025-01-01 --to 2025-12-31 --format json
cp "$tmp/out" "$tmp/year.json"
python3 - "$tmp/year.json" "$tmp/expected.json" <<'EOF' || fail "year figures differ"
import json, sys
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k in ("messages", "relayed", "sightings"):
    if got[k] != want[k]:
        print(k, "differs:\n got ", json.dumps(got[k], sort_keys=True),
              "\n want", json.dumps(want[k], sort_keys=True))
        sys.exit(1)
assert got["period"] == {"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
assert got["participant"]["id"] == "op-power-a"
assert got["incidents"]["total"] > 0
EOF
run 0 "${C[@]}" --from 2025-01-01T00:00:00Z --to 2026-01-01T00:00:00Z \
    --format json --archive "$tmp/year.db"
python3 - "$tmp/out" "$tmp/year.json" <<'EOF' || fail "RFC 3339 period differs"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["messages"] == b["messages"] and a["sightings"] == b["sightings"]
EOF
ok "the year's figures equal the generator's counts (default archive and --archive)"

for f in text json csv html; do
    run 0 "${C[@]}" --from 2025-01-01 --to 2025-12-31 --format "$f" --out "$tmp/r.$f"
    [ -s "$tmp/r.$f" ] || fail "--format $f --out wrote nothing"
    [ ! -s "$tmp/out" ] || fail "--out $f also wrote stdout"
    ls "$tmp"/r.$f.tmp.* >/dev/null 2>&1 && fail "temporary file left for $f"
done
head -1 "$tmp/r.csv" | grep -qx "section,group,key,value" || fail "csv header"
grep -q '^messages,received.by_type,indicator,[0-9]*$' "$tmp/r.csv" || fail "csv rows"
grep -q '^== Sightings ==$' "$tmp/r.text" || fail "text sections"
grep -q '<svg' "$tmp/r.html" || fail "html without a chart"
! grep -qiE '<script|https?://|<link|@import|url\(' "$tmp/r.html" ||
    fail "html loads or runs something"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/r.json" || fail "json"
ok "every --format runs, --out writes the file (no temporary left)"

run 1 "${C[@]}" --from 2025-01-01 --to 2025-12-31 --out "$tmp/no/such/dir/r.txt"
grep -qF "$tmp/no/such/dir/r.txt" "$tmp/err" || fail "bad --out: $(cat "$tmp/err")"
ok "an --out that cannot be written names the file (exit 1)"

"$B" report --help | grep -qF -- "--from DATE" || fail "--help"
ok "--help"
