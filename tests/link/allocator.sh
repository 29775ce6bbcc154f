#!/usr/bin/env bash
# The programs allocate with mimalloc when the build links it
# (CISHARE_MIMALLOC, docs/PERFORMANCE.md): malloc and free of the program
# and of jansson, librdkafka and SQLite bind to libmimalloc, none to libc.
# A dropped link flag would fall back to glibc's malloc without a word.
#   allocator.sh PROGRAM...
set -u
fails=0
for bin in "$@"; do
    b="$(LD_BIND_NOW=1 LD_DEBUG=bindings "$bin" --help 2>&1 >/dev/null |
        grep -E "normal symbol \`(malloc|free)'" |
        grep -E "(libjansson|librdkafka|libsqlite3)[^ ]* \[|file $bin \[" || true)"
    for who in libjansson librdkafka libsqlite3 "$bin"; do
        for sym in malloc free; do
            grep -F "$who" <<<"$b" | grep -q "libmimalloc.*\`$sym'" || {
                echo "FAIL: $bin: $sym of $who is not bound to libmimalloc"
                fails=$((fails + 1))
            }
        done
    done
    if grep "libc\.so[^ ]* \[0\]: normal symbol" <<<"$b" | grep -q " to "; then
        echo "FAIL: $bin: some malloc or free bound to libc:"
        grep "to [^ ]*libc\.so" <<<"$b"
        fails=$((fails + 1))
    fi
done
[ "$fails" = 0 ] && echo "allocator: mimalloc in $*"
[ "$fails" = 0 ]
