#!/bin/bash
# The Debian package (deploy/package/package.cmake): its dependencies are
# Debian's library packages; unpacked into a temporary root (dpkg -x: no
# root needed) it runs (cishare --version, doctor --help), has its man
# pages, schemas, headers and a pkg-config file a C program builds with,
# and systemd-analyze verify accepts its units without a word; the units'
# command lines run against the embedded broker and stop with exit 0 on
# SIGTERM. The maintainer scripts run against that root with stubbed
# adduser, chown, getent and systemctl. Uses the .deb in the build folder (CISHARE_BUILD,
# default: the folder of CISHARE_BIN) if it is newer than the binary and
# the package sources, else runs cpack there.
set -u
BIN=${CISHARE_BIN:?CISHARE_BIN not set}
SRC=${CISHARE_SRC:?CISHARE_SRC not set}
BUILD=${CISHARE_BUILD:-$(dirname "$BIN")}
fails=0 n=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
ok() { n=$((n + 1)); }
tmp=$(mktemp -d)
trap 'kill $broker 2>/dev/null; rm -rf "$tmp"' EXIT
broker=""

deb=$(ls -t "$BUILD"/cishare_*.deb 2>/dev/null | head -n1)
fresh=1
if [ -z "$deb" ]; then
    fresh=0
else
    for f in "$BIN" "$SRC"/deploy/package/* "$SRC"/deploy/systemd/*; do
        [ "$f" -nt "$deb" ] && fresh=0
    done
fi
if [ "$fresh" = 0 ]; then
    echo "% cpack -G DEB in $BUILD"
    # cpack installs what is built: the man pages first (from this binary)
    (cd "$BUILD" && cmake --build . --target cishare_man >"$tmp/cpack.log" 2>&1 &&
        cpack -G DEB >>"$tmp/cpack.log" 2>&1) || {
        cat "$tmp/cpack.log"
        echo "FAIL: cpack -G DEB in $BUILD"
        exit 1
    }
    deb=$(ls -t "$BUILD"/cishare_*.deb | head -n1)
fi
echo "% $deb"

# Dependencies: from dpkg-shlibdeps, so Debian's library packages.
info=$(dpkg-deb -I "$deb") || fail "dpkg-deb -I $deb"
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
for p in librdkafka1 libsodium23 libjansson4 libssl3 libc6 adduser; do
    if grep -Eq "(^|, )$p( |,|$)" <<<"$depends"; then ok; else fail "Depends lacks $p: $depends"; fi
done
for s in postinst prerm postrm conffiles; do
    grep -q " $s" <<<"$info" && ok || fail "control archive lacks $s"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$tmp/conffiles"
grep -qx /etc/cishare/README "$tmp/conffiles" && ok || fail "conffiles lacks /etc/cishare/README"

root="$tmp/root"
mkdir -p "$root"
dpkg -x "$deb" "$root" || {
    echo "FAIL: dpkg -x $deb"
    exit 1
}
for f in usr/bin/cishare etc/cishare/README usr/lib/libcishare.a \
    usr/include/cishare/version.h usr/include/cishare/envelope.h \
    usr/share/cishare/schemas/Indicator.avsc usr/share/cishare/schemas/README.md \
    usr/share/cishare/schemas/history/Indicator.v1.avsc \
    usr/share/doc/cishare/examples/participant.conf.example \
    lib/systemd/system/cishare-feed@.service lib/systemd/system/cishare-relay@.service \
    lib/systemd/system/cishare-serve@.service; do
    [ -e "$root/$f" ] && ok || fail "package lacks /$f"
done

# The installed binary runs.
v=$("$root/usr/bin/cishare" --version) && grep -q '^cishare [0-9]' <<<"$v" && ok ||
    fail "installed cishare --version: $v"
# the installed demo (the main job) runs on the installed examples
out=$("$root/usr/bin/cishare" demo --help 2>&1) &&
    grep -q "default $root/usr/bin/../share/cishare/examples" <<<"$out" && ok ||
    fail "installed cishare demo does not default to the installed examples: $out"
out=$(cd "$tmp" && timeout 120 "$root/usr/bin/cishare" demo 2>&1) && ok ||
    fail "installed cishare demo: exit $?: $(tail -5 <<<"$out")"
out=$("$root/usr/bin/cishare" doctor --help 2>&1) && grep -q 'Usage: cishare doctor' <<<"$out" && ok ||
    fail "installed cishare doctor --help: exit $?: $out"

# Man pages: one per command of --help, each with the sections and
# rendering without warnings.
man1="$root/usr/share/man/man1"
cmds=$("$root/usr/bin/cishare" --help | awk '/^Commands:/ {f=1; next} f && NF==0 {exit} f {print $1}')
[ "$(wc -w <<<"$cmds")" -gt 10 ] || fail "command list of --help not parsed: $cmds"
for p in cishare $(sed 's/^/cishare-/' <<<"$cmds"); do
    f="$man1/$p.1.gz"
    if [ ! -f "$f" ]; then
        fail "no man page $p(1)"
        continue
    fi
    page=$(gzip -dc "$f")
    for h in '^\.TH "' '^\.SH NAME' '^\.SH SYNOPSIS' '^\.SH DESCRIPTION' "^$p "; do
        grep -q "$h" <<<"$(sed 's/\\-/-/g' <<<"$page")" && ok || fail "$p(1) lacks $h"
    done
    if command -v man >/dev/null; then
        w=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
        [ -z "$w" ] && ok || fail "man -l $p(1): $w"
    fi
done
gzip -dc "$man1/cishare-feed.1.gz" | grep -q 'from\\-beginning' && ok ||
    fail "cishare-feed(1) lacks the --from-beginning option of feed --help"

# A C program builds against the installed headers and library, through
# the installed (relocatable) cishare.pc.
cat >"$tmp/t.c" <<'EOF'
#include <cishare/config.h>
#include <cishare/types.h>
#include <cishare/version.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    cishare_config_t *conf = cishare_config_new();
    int ok = conf && !strcmp(cishare_tlp_name(CISHARE_TLP_AMBER), "amber");

    printf("%s %s\n", CISHARE_VERSION, ok ? "ok" : "bad");
    cishare_config_destroy(conf);
    return !ok;
}
EOF
export PKG_CONFIG_PATH="$root/usr/lib/pkgconfig"
flags=""
grep -q '^CISHARE_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null &&
    flags="-fsanitize=address,undefined"
# shellcheck disable=SC2046,SC2086
if cc -std=c11 -Wall -Werror $flags -o "$tmp/t" "$tmp/t.c" \
    $(pkg-config --cflags cishare) $(pkg-config --libs cishare) 2>"$tmp/cc.log"; then
    ok
    out=$("$tmp/t") && grep -q ' ok$' <<<"$out" && ok || fail "program built with cishare.pc: $out"
else
    fail "cc with pkg-config cishare: $(cat "$tmp/cc.log")"
fi
grep -q "I$root/usr/lib/pkgconfig/../../include" <<<"$(pkg-config --cflags cishare)" && ok ||
    fail "cishare.pc is not relocatable: $(pkg-config --cflags cishare)"

# systemd-analyze verify on an instance of each template. The binary must
# exist where ExecStart says, so a copy points at the unpacked one; any
# output (a warning included) fails.
if ! command -v systemd-analyze >/dev/null; then
    fail "systemd-analyze not installed (deploy/install-deps installs systemd)"
else
    mkdir -p "$tmp/units"
    for k in feed relay serve; do
        u="$root/lib/systemd/system/cishare-$k@.service"
        grep -q "^ExecStart=/usr/bin/cishare $k -c /etc/cishare/%i.conf" "$u" && ok ||
            fail "cishare-$k@.service: ExecStart: $(grep ^ExecStart "$u")"
        for want in User=cishare ProtectSystem=strict StateDirectory=cishare/%i \
            NoNewPrivileges=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
            Restart=on-failure KillSignal=SIGTERM Environment=CISHARE_LOG_FORMAT=json; do
            grep -qx "$want" "$u" && ok || fail "cishare-$k@.service lacks $want"
        done
        sed "s|^ExecStart=/usr/bin/|ExecStart=$root/usr/bin/|" "$u" >"$tmp/units/cishare-$k@.service"
        out=$(MANPATH="$root/usr/share/man" SYSTEMD_LOG_COLOR=0 \
            systemd-analyze verify "$tmp/units/cishare-$k@op-power-a.service" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && [ -z "$out" ] && ok ||
            fail "systemd-analyze verify cishare-$k@op-power-a.service: exit $rc: $out"
    done
fi

# The units' command lines, as systemd would run them (%S, %i, /etc/cishare
# and the binary mapped into $tmp; the examples are the /etc/cishare
# layout: <id>.conf) with the units' Environment=, against the embedded
# broker: they start, log JSON (CISHARE_LOG_FORMAT=json) and exit 0 on SIGTERM, which
# systemd counts as a clean stop (no restart).
etc="$tmp/etc/cishare"
mkdir -p "$etc" "$tmp/var"
for f in "$SRC"/deploy/examples/*; do ln -s "$f" "$etc/"; done
rm "$etc/ceptoar-electricity.conf"
{
    cat "$SRC/deploy/examples/ceptoar-electricity.conf"
    echo "cishare.relay.rule.members=types=indicator to=members"
} >"$etc/ceptoar-electricity.conf"
"$root/usr/bin/cishare" dev-broker -w "$tmp/bs" -t 120 >"$tmp/broker.log" 2>&1 &
broker=$!
for _ in $(seq 100); do [ -s "$tmp/bs" ] && break; sleep 0.1; done
bs=$(cat "$tmp/bs" 2>/dev/null)
[ -n "$bs" ] || fail "dev-broker did not start: $(cat "$tmp/broker.log")"
kx="-X bootstrap.servers=$bs -X security.protocol=plaintext -X session.timeout.ms=6000"
run_unit() { # KIND ID EXTRA-ARGS
    local k=$1 id=$2 unit var line p rc i
    var="CISHARE_$(tr a-z A-Z <<<"$k")_ARGS"
    unit="$root/lib/systemd/system/cishare-$k@.service"
    line=$(sed -n 's/^ExecStart=//p' "$unit" |
        sed -e "s|^/usr/bin/|$root/usr/bin/|" -e "s|/etc/cishare|$etc|g" \
            -e "s|%S|$tmp/var|g" -e "s|%i|$id|g")
    mkdir -p "$tmp/var/cishare/$id" # StateDirectory=
    : >"$tmp/$k.err"
    # systemd splits $VAR on white space: so does the unquoted expansion.
    # shellcheck disable=SC2086
    # exec all the way: $! is the cishare process itself.
    # shellcheck disable=SC2046
    (cd "$tmp/var/cishare/$id" && exec env $(sed -n 's/^Environment=//p' "$unit") "$var=$3" \
        bash -c "exec $line" 2>"$tmp/$k.err") &
    p=$!
    for i in $(seq 200); do [ -s "$tmp/$k.err" ] || ! kill -0 $p 2>/dev/null && break; sleep 0.1; done
    sleep 1
    kill -TERM $p 2>/dev/null
    for i in $(seq 300); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
    kill -KILL $p 2>/dev/null
    wait $p
    rc=$?
    [ $rc -eq 0 ] && ok || fail "cishare-$k@$id: $line: exit $rc on SIGTERM: $(cat "$tmp/$k.err")"
    [ -s "$tmp/$k.err" ] && ! grep -qv '^{"time":' "$tmp/$k.err" && ok ||
        fail "cishare-$k@$id: log lines not JSON: $(cat "$tmp/$k.err")"
}
if [ -n "$bs" ]; then
    run_unit feed op-power-a "$kx"
    [ -f "$tmp/var/cishare/op-power-a/seen.log" ] && [ -f "$tmp/var/cishare/op-power-a/directory.state" ] &&
        ok || fail "cishare-feed@op-power-a: no seen.log and directory.state in its StateDirectory"
    run_unit relay ceptoar-electricity "$kx"
    [ -d "$tmp/var/cishare/ceptoar-electricity/relay" ] && ok ||
        fail "cishare-relay@ceptoar-electricity: no relay/ in its StateDirectory"
    run_unit serve op-power-a "-X cishare.serve.users=$etc/serve-users --listen 127.0.0.1:0"
fi
kill $broker 2>/dev/null
wait $broker 2>/dev/null

# Maintainer scripts against the unpacked root (DPKG_ROOT), the system
# commands stubbed: they log their arguments.
stubs="$tmp/stubs"
mkdir -p "$stubs"
for c in adduser chown systemctl; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$c" "$tmp" >"$stubs/$c"
done
printf '#!/bin/sh\n[ -f "%s/user" ]\n' "$tmp" >"$stubs/getent"
chmod +x "$stubs"/*
ctl="$tmp/ctl"
mkdir -p "$ctl"
dpkg-deb -e "$deb" "$ctl"
mscript() { DPKG_ROOT="$root" PATH="$stubs:$PATH" sh "$ctl/$1" "${@:2}"; }
: >"$tmp/calls"
mscript postinst configure "" || fail "postinst configure exit $?"
grep -q '^adduser --system --group .*cishare$' "$tmp/calls" && ok ||
    fail "postinst did not add the system user: $(cat "$tmp/calls")"
grep -q "^chown root:cishare $root/var/lib/cishare$" "$tmp/calls" && ok ||
    fail "postinst did not chown /var/lib/cishare: $(cat "$tmp/calls")"
[ "$(stat -c %a "$root/var/lib/cishare" 2>/dev/null)" = 750 ] && ok ||
    fail "postinst: /var/lib/cishare not 0750"
touch "$tmp/user" # the user exists now: an upgrade adds no second one
: >"$tmp/calls"
mscript postinst configure 0.0.9 || fail "postinst configure (upgrade) exit $?"
grep -q '^adduser' "$tmp/calls" && fail "postinst added the user again" || ok
mkdir -p "$root/var/lib/cishare/op-power-a" && touch "$root/var/lib/cishare/op-power-a/seen.log"
mscript prerm remove || fail "prerm remove exit $?"
mscript postrm remove || fail "postrm remove exit $?"
[ -f "$root/var/lib/cishare/op-power-a/seen.log" ] && ok || fail "postrm remove deleted the state"
mscript postrm purge || fail "postrm purge exit $?"
[ ! -e "$root/var/lib/cishare" ] && ok || fail "postrm purge left /var/lib/cishare"

echo "package: $n passed, $fails failed"
[ $fails -eq 0 ] && [ $n -gt 50 ]
