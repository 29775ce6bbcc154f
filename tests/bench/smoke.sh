#!/usr/bin/env bash
# bench_smoke: cishare_bench --smoke runs every phase on librdkafka's mock
# cluster with tiny counts; every RESULT and RATIO line of tests/bench/run
# must be printed. Not a measurement.
set -euo pipefail
bench="$1"
src="${CISHARE_SRC:?}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/out.txt"
timeout 100 "$bench" --smoke --examples "$src/deploy/examples" \
    --cishare "${CISHARE_BIN:?}" --work "$work/w" >"$out" 2>"$work/err.txt" || {
    echo "cishare_bench --smoke failed:" >&2
    cat "$work/err.txt" "$out" >&2
    exit 1
}
fail=0
for r in crypto_sign_limit crypto_verify_limit publish_library publish_cli \
    feed_1core feed_2core encrypted_recipients encrypted_publish \
    encrypted_feed_1core encrypted_feed_2core latency_p50 latency_p99 \
    latency_max latency_raw_p50 latency_raw_p99 latency_raw_max \
    message_value_bytes message_header_bytes \
    feed_rss_history dedup_bytes_per_id baseline_raw_produce \
    baseline_raw_consume seal_decrypt_10 seal_refuse_dup_1024 serve_objects; do
    grep -Eq "^RESULT $r [0-9.]+ [^ ]+$" "$out" || {
        echo "missing: RESULT $r" >&2
        fail=1
    }
done
for r in publish_vs_sign_limit feed_vs_verify_limit \
    feed_2core_vs_verify_limit seal_refuse_dup_vs_decrypt; do
    grep -Eq "^RATIO $r [0-9.]+$" "$out" || {
        echo "missing: RATIO $r" >&2
        fail=1
    }
done
# The targets of issue 17: exactly one line each, none 0 (a missing
# denominator prints 0).
for r in feed_2core_vs_raw feed_vs_raw publish_vs_raw publish_cli_vs_library \
    latency_p99_vs_raw encrypted_publish_vs_publish encrypted_feed_vs_feed \
    header_bytes_vs_value_bytes; do
    [ "$(grep -Ec "^RATIO $r [0-9.]+$" "$out")" = 1 ] &&
        ! grep -Eq "^RATIO $r 0(\.0+)?$" "$out" || {
        echo "not exactly one non-zero line: RATIO $r" >&2
        fail=1
    }
done
grep -q '^RESULT encrypted_recipients 10.0 ' "$out" || {
    echo "the encrypted messages are not sealed to 10 recipients" >&2
    fail=1
}
[ "$fail" = 0 ] || { cat "$out" >&2; exit 1; }
echo "bench smoke: $(grep -c '^RESULT' "$out") results, $(grep -c '^RATIO' "$out") ratios"
