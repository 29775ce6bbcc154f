#!/usr/bin/env bash
# cishare sighting and cishare revoke without a broker (--dry-run): where
# a sighting is routed (the originator's inbox, or with --anonymise the
# sighter's CEPTOAR), the errors that name the bad option (exit 2), and
# where a revocation goes: to the label and audience the publication
# journal recorded, one revocation per distinct audience; an unknown
# subject without --tlp is a usage error.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
S=indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30
SB=(-c "$EX/op-power-b.conf" -X "cishare.state-dir=$tmp/st-b" -n)
RA=(-c "$EX/op-power-a.conf" -X "cishare.state-dir=$tmp/st-a" -n)

"$B" sighting "${SB[@]}" --subject "$S" --origin op-power-a --count 3 \
    >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "sighting"; }
grep -qP "\t$S\tamber\tcishare.inbox.op-power-a,cishare.inbox.op-power-b$" "$tmp/out" ||
    fail "sighting routed to $(cat "$tmp/out")"
ok "a sighting goes to the originator's inbox (and the sighter's own), at AMBER"

"$B" sighting "${SB[@]}" --subject "$S" --origin op-power-a --anonymise \
    >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "sighting --anonymise"; }
grep -qP "\t$S\tamber\tcishare.inbox.ceptoar-electricity,cishare.inbox.op-power-b$" "$tmp/out" ||
    fail "anonymised sighting routed to $(cat "$tmp/out")"
ok "--anonymise goes to the sighter's CEPTOAR inbox only"

bad() { # expected-text args...
    local want="$1" rc
    shift
    set +e
    "$B" "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "$*: exit $rc, $(cat "$tmp/err")"
    grep -qF -- "$want" "$tmp/err" || fail "$*: $(cat "$tmp/err")"
}
bad "--origin 'op-nowhere': no such participant" sighting "${SB[@]}" --subject "$S" --origin op-nowhere
bad "--subject 'foo': not a subject id" sighting "${SB[@]}" --subject foo --origin op-power-a
bad "--count '0'" sighting "${SB[@]}" --subject "$S" --origin op-power-a --count 0
bad "--first-seen 'soon'" sighting "${SB[@]}" --subject "$S" --origin op-power-a --first-seen soon
bad "--last-seen 2026-01-01T00:00:00Z is before --first-seen" sighting "${SB[@]}" --subject "$S" \
    --origin op-power-a --first-seen 2026-02-01T00:00:00Z --last-seen 2026-01-01T00:00:00Z
bad "--origin op-power-b: that is op-power-b itself" sighting "${SB[@]}" --subject "$S" --origin op-power-b
bad "--anonymise: nco has no CEPTOAR" sighting -c "$EX/nco.conf" -X "cishare.state-dir=$tmp/st-n" -n \
    --subject "$S" --origin op-power-a --anonymise
bad "-c CONFIG is required" sighting --subject "$S" --origin op-power-a
ok "bad sighting options are named (exit 2)"

bad "give --tlp and --audience" revoke "${RA[@]}" --subject "$S"
bad "--audience needs --tlp" revoke "${RA[@]}" --subject "$S" -a sector:electricity
bad "--subject 'x': not a subject id" revoke "${RA[@]}" --subject x
ok "revoke of a subject not in the journal, or bad options: exit 2"

mkdir -p "$tmp/st-a"
{
    echo '{"at":"2026-11-26T07:00:00Z","audience":"participant:op-power-b","origin":"op-power-a","subject":"'"$S"'","tlp":"red","type":"indicator"}'
    echo '{"at":"2026-11-26T07:00:00Z","audience":"sector:electricity","origin":"op-power-a","subject":"'"$S"'","tlp":"amber","type":"indicator"}'
    echo '{"at":"2026-11-26T08:00:00Z","audience":"sector:electricity","origin":"op-power-a","subject":"'"$S"'","tlp":"amber","type":"indicator"}'
} >"$tmp/st-a/published.jsonl"
"$B" revoke "${RA[@]}" --subject "$S" --reason "false positive" >"$tmp/out" 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "revoke"; }
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "not 2 revocations: $(cat "$tmp/out")"
grep -qP "\t$S\tred\tcishare.inbox.op-power-a,cishare.inbox.op-power-b$" "$tmp/out" ||
    fail "RED revocation: $(cat "$tmp/out")"
grep -qP "\t$S\tamber\tcishare.amber.electricity$" "$tmp/out" ||
    fail "AMBER revocation: $(cat "$tmp/out")"
ok "revoke follows the journal: one revocation per label and audience published"

"$B" revoke "${RA[@]}" --subject "$S" --tlp green -a sector:electricity >"$tmp/out" 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "revoke --tlp"; }
grep -qP "\t$S\tgreen\tcishare.green.electricity$" "$tmp/out" || fail "explicit: $(cat "$tmp/out")"
ok "revoke --tlp/--audience addresses it as told"
