#!/bin/sh
# Writes the man pages cishare(1) and cishare-<command>(1) from the built
# binary's own --help text, so that the pages cannot drift from the program.
# The help text is kept as it is (no-fill blocks): it is already laid out
# for a terminal, and reflowing it would garble its tables.
#
# usage: help2man.sh [--gzip] CISHARE_BINARY OUTDIR
set -eu

gzip=0
if [ "${1:-}" = --gzip ]; then
    gzip=1
    shift
fi
if [ $# -ne 2 ]; then
    echo "usage: help2man.sh [--gzip] CISHARE_BINARY OUTDIR" >&2
    exit 2
fi
bin="$1" out="$2"
mkdir -p "$out"

version="$("$bin" --version)" || {
    echo "help2man.sh: $bin --version failed" >&2
    exit 1
}
top="$("$bin" --help)" || {
    echo "help2man.sh: $bin --help failed" >&2
    exit 1
}

# roff-safe text: backslashes escaped, a leading . or ' made literal.
escape() {
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/-/\\-/g'
}

# The " name  description" lines of the Commands: section.
commands="$(printf '%s\n' "$top" | awk '
    /^Commands:/ { on = 1; next }
    on && /^[[:space:]]*$/ { exit }
    on { print }')"
if [ -z "$commands" ]; then
    echo "help2man.sh: no Commands: section in $bin --help" >&2
    exit 1
fi

# page NAME DESCRIPTION HELP-TEXT SEE-ALSO > file
page() {
    name="$1" desc="$2" help="$3" see="$4"
    upper="$(printf '%s' "$name" | tr 'a-z' 'A-Z')"
    printf '.TH "%s" "1" "" "%s" "User Commands"\n' "$upper" "$version"
    printf '.SH NAME\n%s \\- %s\n' "$name" "$(printf '%s' "$desc" | escape)"
    # SYNOPSIS: the Usage: lines (up to the first blank line), "Usage: "
    # dropped; DESCRIPTION: the rest.
    printf '.SH SYNOPSIS\n.nf\n'
    printf '%s\n' "$help" | awk '/^[[:space:]]*$/ { exit } { sub(/^Usage: /, ""); sub(/^       /, ""); print }' | escape
    printf '.fi\n.SH DESCRIPTION\n.nf\n'
    printf '%s\n' "$help" | awk 'seen { print; next } /^[[:space:]]*$/ { seen = 1 }' |
        sed -e '1{/^$/d;}' | escape
    printf '.fi\n.SH "SEE ALSO"\n%s\n' "$see"
}

write() { # FILE: stdin to FILE or FILE.gz
    if [ "$gzip" = 1 ]; then
        gzip -9n >"$1.gz"
    else
        cat >"$1"
    fi
}

see_top=""
names="$(printf '%s\n' "$commands" | awk '{ print $1 }')"
for c in $names; do
    see_top="$see_top${see_top:+,
}.BR cishare\\-$c (1)"
done

desc="$(printf '%s\n' "$top" | awk 'NR == 3')"
page cishare "$desc" "$top" "$see_top" | write "$out/cishare.1"

printf '%s\n' "$commands" | while read -r c d; do
    help="$("$bin" "$c" --help)" || {
        echo "help2man.sh: $bin $c --help failed" >&2
        exit 1
    }
    page "cishare-$c" "$d" "$help" ".BR cishare (1)" | write "$out/cishare-$c.1"
done
