#!/bin/bash
# cishare inspect: exit 0 verified, 1 verification failed, 2 bad input;
# JSON and kcat input; decryption with --key. Fixtures: tests/vectors/message
# (JSON written by test_message with CISHARE_REGEN_VECTORS=1; the .kcat file
# is real kcat output of a message consumed from `cishare dev-broker`).
set -u
BIN=${CISHARE_BIN:?CISHARE_BIN not set}
SRC=${CISHARE_SRC:?CISHARE_SRC not set}
EX=$SRC/deploy/examples
M=$SRC/tests/vectors/message
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0 n=0
D=(--directory $EX/directory.yaml)

# expect CODE GREP-PATTERN args...   (pattern searched in stdout+stderr)
expect() {
    local want=$1 pat=$2 out rc
    shift 2
    n=$((n + 1))
    out=$("$BIN" "$@" 2>&1)
    rc=$?
    if [ "$rc" != "$want" ] || ! grep -qE -- "$pat" <<<"$out"; then
        echo "FAIL: cishare $*"
        echo "  want exit $want and output matching '$pat'"
        echo "  got exit $rc, output:"
        sed 's/^/    /' <<<"$out" | head -40
        fails=$((fails + 1))
    fi
}

# edit FILE OUT PYTHON-EXPR-ON-m : write a modified copy of a JSON fixture
edit() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys, base64
m = json.load(open(sys.argv[1]))
def hdr(name, val):
    for h in m["headers"]:
        if h[0] == name:
            h[1] = val
exec(sys.argv[3])
json.dump(m, open(sys.argv[2], "w"))
PY
}

expect 0 "^Usage: cishare inspect" inspect --help

# --- verified ----------------------------------------------------------
expect 0 "verification: verified: origin op-power-a" inspect "${D[@]}" $M/amber.json
expect 0 '"value": "203.0.113.45"' inspect "${D[@]}" $M/amber.json
expect 0 '"verified": true' inspect --json "${D[@]}" $M/amber.json
expect 0 "1 relay hop" inspect "${D[@]}" $M/amber-relayed.json
expect 0 "1 relay hop" inspect "${D[@]}" $M/amber-relayed.kcat
expect 0 "1 relay hop" inspect "${D[@]}" - < $M/amber-relayed.kcat
expect 0 "ceptoar-electricity" inspect --json "${D[@]}" --root-key $EX/root.pub $M/amber-relayed.kcat

# --- encrypted ---------------------------------------------------------
expect 0 '"value": "203.0.113.45"' inspect "${D[@]}" --key $EX/keys/ceptoar-electricity.key $M/red.json
expect 0 '"value": "203.0.113.45"' inspect "${D[@]}" --key $EX/keys/nco.key $M/red.json
expect 0 "not addressed to --key" inspect "${D[@]}" --key $EX/keys/op-power-a.key $M/red.json
expect 0 "give --key to decrypt" inspect "${D[@]}" $M/red.json
expect 0 "recipients: 2" inspect "${D[@]}" $M/red.json
# red.json is a v1 value (issue 17 writes v2): the layout is shown
expect 0 "seal: v1" inspect "${D[@]}" $M/red.json

# --- verification failures (exit 1) ------------------------------------
edit $M/amber.json $TMP/tlp.json 'hdr("cishare.tlp", "green")'
expect 1 "verification: FAILED: .*signature does not verify" inspect "${D[@]}" $TMP/tlp.json
edit $M/amber.json $TMP/aud.json 'hdr("cishare.audience", "all")'
expect 1 "FAILED" inspect "${D[@]}" $TMP/aud.json
edit $M/amber.json $TMP/key.json 'm["key"] = "indicator--other"'
expect 1 "FAILED" inspect "${D[@]}" $TMP/key.json
edit $M/red.json $TMP/val.json '
v = bytearray(base64.b64decode(m["value_b64"])); v[len(v)//2] ^= 1
m["value_b64"] = base64.b64encode(bytes(v)).decode()'
expect 1 "FAILED" inspect "${D[@]}" --key $EX/keys/ceptoar-electricity.key $TMP/val.json
edit $M/amber.json $TMP/nosig.json 'm["headers"] = [h for h in m["headers"] if h[0] != "cishare.sig"]'
expect 1 "no signature" inspect "${D[@]}" $TMP/nosig.json
edit $M/amber.json $TMP/origin.json 'hdr("cishare.origin", "op-nobody")'
expect 1 "not in the directory" inspect "${D[@]}" $TMP/origin.json
edit $M/amber-relayed.json $TMP/relay.json '
for h in m["headers"]:
    if h[0] == "cishare.relay": h[1] = h[1].replace(" amber ", " green ")'
expect 1 "relay hop 1" inspect "${D[@]}" $TMP/relay.json
# kcat form with a changed header
sed '2s/cishare.tlp=amber/cishare.tlp=red/' $M/amber-relayed.kcat > $TMP/t.kcat
expect 1 "FAILED" inspect "${D[@]}" $TMP/t.kcat
# no directory: shown, but not verified
expect 1 "NOT VERIFIED" inspect $M/amber.json

# --- bad input (exit 2) ------------------------------------------------
edit $M/amber.json $TMP/dup.json 'm["headers"].append(["cishare.tlp", "red"])'
expect 2 "cishare.tlp: duplicate" inspect "${D[@]}" $TMP/dup.json
edit $M/amber.json $TMP/big.json 'hdr("cishare.audience", "a" * 7000)'
expect 2 "value too long" inspect "${D[@]}" $TMP/big.json
echo 'not a message' > $TMP/garbage
expect 2 "kcat line 1" inspect "${D[@]}" $TMP/garbage
echo '{"key": 1}' > $TMP/bad.json
expect 2 '"key": expected' inspect "${D[@]}" $TMP/bad.json
expect 2 "No such file" inspect "${D[@]}" $TMP/missing.json
expect 2 "bad option" inspect --frobnicate
head -c 200 $M/amber-relayed.kcat > $TMP/short.kcat
expect 2 "kcat line" inspect "${D[@]}" $TMP/short.kcat

# --- terminal safety ---------------------------------------------------
# Everything inspect prints that comes from the message (header names and
# values, key, payload text, error details) is escaped: no control byte
# (C0 but newline, DEL, C1), no bidi control and no invalid UTF-8 reaches
# the terminal, on stdout or stderr (issue 12). Before the fix every case
# below failed: ESC, BEL, DEL, U+009B and U+202E came out raw (the
# payload's ESC was already \u001B: jansson escapes C0 in strings, and
# prints \uXXXX in upper case, which inspect follows in JSON).

# expect_safe CODE FIXED-TEXT args... : exit CODE, output contains
# FIXED-TEXT, and nothing unsafe.
expect_safe() {
    local want=$1 text=$2 rc bad
    shift 2
    n=$((n + 1))
    "$BIN" "$@" >$TMP/safe.out 2>&1
    rc=$?
    bad=$(python3 - $TMP/safe.out <<'PY'
import sys, unicodedata
b = open(sys.argv[1], "rb").read()
try:
    t = b.decode("utf-8")
except UnicodeDecodeError as e:
    print("invalid UTF-8 at byte %d" % e.start); sys.exit()
bidi = set("\u061c\u200e\u200f\u2028\u2029") | set(map(chr, range(0x202a, 0x202f))) \
    | set(map(chr, range(0x2066, 0x206a)))
for i, c in enumerate(t):
    if (unicodedata.category(c) == "Cc" and c != "\n") or c in bidi:
        print("raw U+%04X at char %d" % (ord(c), i)); sys.exit()
PY
)
    if [ "$rc" != "$want" ] || [ -n "$bad" ] || ! grep -qF -- "$text" $TMP/safe.out; then
        echo "FAIL: cishare $*"
        echo "  want exit $want, output containing '$text', nothing unsafe"
        echo "  got exit $rc${bad:+, $bad}, output:"
        cat -v $TMP/safe.out | sed 's/^/    /' | head -40
        fails=$((fails + 1))
    fi
}

# a header a producer may add (not signed): shown, escaped
edit $M/amber.json $TMP/esc-hdr.json '
m["headers"].append(["x-note\x1b[2J", "\x1b]0;pwned\x07\x1b[31mRED\u009b31m\x7f\u202etxt.exe"])'
expect_safe 0 'x-note\x1b[2J: \x1b]0;pwned\x07\x1b[31mRED\u009b31m\x7f\u202etxt.exe' \
    inspect "${D[@]}" $TMP/esc-hdr.json
# a malformed cishare header: shown and quoted in the error, escaped
edit $M/amber.json $TMP/esc-tlp.json 'hdr("cishare.tlp", "amber\x1b[31m")'
expect_safe 2 'cishare.tlp: amber\x1b[31m' inspect "${D[@]}" $TMP/esc-tlp.json
# the key, in text and JSON; a backslash is escaped too (unambiguous)
edit $M/amber.json $TMP/esc-key.json 'm["key"] = "indicator--\x1b[8m\\x1b\u0085"'
expect_safe 1 'key: indicator--\x1b[8m\\x1b\u0085' inspect "${D[@]}" $TMP/esc-key.json
expect_safe 1 '"key": "indicator--\u001B[8m\\x1b\u0085"' inspect --json "${D[@]}" $TMP/esc-key.json
# invalid UTF-8 (kcat input carries any byte)
python3 - $M/amber-relayed.kcat $TMP/esc.kcat <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n", 2)
lines[1] += b",x-note=\xff\xc3(\x1b[5m"
open(sys.argv[2], "wb").write(b"\n".join(lines))
PY
expect_safe 0 'x-note: \xff\xc3(\x1b[5m' inspect "${D[@]}" $TMP/esc.kcat
# payload text (shown unverified without --directory), text and JSON
python3 - $SRC/schemas/examples/indicator-example.json $TMP/esc-pl.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["payload"]["description"] = "a\x1b[31mb\x7fc\u009b31md\u202ee"
json.dump(m, open(sys.argv[2], "w"))
PY
if "$BIN" encode -o $TMP/esc-pl.bin $TMP/esc-pl.json; then
    edit $M/amber.json $TMP/esc-pl-msg.json "
m['value_b64'] = base64.b64encode(open('$TMP/esc-pl.bin', 'rb').read()).decode()"
    expect_safe 1 '"description": "a\u001B[31mb\u007Fc\u009B31md\u202Ee"' \
        inspect $TMP/esc-pl-msg.json
    expect_safe 1 '"description": "a\u001B[31mb\u007Fc\u009B31md\u202Ee"' \
        inspect --json $TMP/esc-pl-msg.json
else
    echo "FAIL: cishare encode of a payload with control characters"
    n=$((n + 1)) fails=$((fails + 1))
fi

# --- stateless: no trust state read or written -------------------------
# inspect only looks: it must not pin the root or serial of what it is shown
# into the admin's trust state ($XDG_STATE_HOME/cishare/admin), nor be
# refused by it.
mkdir -p $TMP/xdg $TMP/home
XDG_STATE_HOME=$TMP/xdg HOME=$TMP/home expect 0 "verification: verified" inspect "${D[@]}" $M/amber.json
n=$((n + 1))
if [ -n "$(find $TMP/xdg $TMP/home -mindepth 1 -print -quit)" ]; then
    echo "FAIL: inspect wrote a trust state: $(find $TMP/xdg $TMP/home -mindepth 1)"
    fails=$((fails + 1))
fi
mkdir -p $TMP/xdg/cishare/admin
printf 'cishare-directory-state 1\nserial 99\ncontent-blake2b %064d\nroot-ed25519 %s\n' 0 \
    "$(grep -v '^#' $EX/root.pub)" >$TMP/xdg/cishare/admin/directory.state
XDG_STATE_HOME=$TMP/xdg HOME=$TMP/home expect 0 "verification: verified" inspect "${D[@]}" $M/amber.json
# signature and expiry are still checked
exp=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ) # sign refuses the past
sed "/^# cishare-signature:/d; s/^expires: .*/expires: $exp/" $EX/directory.yaml >$TMP/expired.yaml
"$BIN" directory sign --key $EX/keys/root.key $TMP/expired.yaml >/dev/null 2>&1
sleep 3
expect 2 "expired at $exp" inspect --directory $TMP/expired.yaml --root-key $EX/root.pub $M/amber.json
sed 's/^serial: .*/serial: 77/' $EX/directory.yaml >$TMP/tampered.yaml
expect 2 "does not verify" inspect --directory $TMP/tampered.yaml --root-key $EX/root.pub $M/amber.json

echo "inspect.sh: $((n - fails))/$n passed"
[ $fails -eq 0 ]
