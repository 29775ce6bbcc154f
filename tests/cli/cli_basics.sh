#!/bin/bash
# The cishare program's contract with scripts: --help and --version exit 0,
# every subcommand has --help, unknown commands and options exit 2 with a
# message naming them.
set -u
BIN=${CISHARE_BIN:?CISHARE_BIN not set}
fails=0 n=0
check() { # WANT-EXIT PATTERN args...
    local want=$1 pat=$2 out rc
    shift 2
    n=$((n + 1))
    out=$("$BIN" "$@" 2>&1)
    rc=$?
    if [ $rc -ne "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
        echo "FAIL: cishare $* -> exit $rc (want $want), output lacks '$pat'"
        fails=$((fails + 1))
    fi
}
check 0 "Usage: cishare <command>" --help
check 0 "^cishare [0-9]" --version
check 2 "Usage: cishare" # no command
check 2 "unknown command 'frobnicate'" frobnicate
check 2 "unknown option '--frobnicate'" --frobnicate
for c in $("$BIN" --help | awk '/^Commands:/ {f=1; next} f && NF==0 {exit} f {print $1}'); do
    check 0 "Usage: cishare $c" "$c" --help
    check 2 "ERROR" "$c" --no-such-option
done
[ "$n" -gt 20 ] || { echo "FAIL: only $n checks: command list not parsed"; fails=$((fails + 1)); }
echo "cli_basics: $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
