#!/usr/bin/env bash
# Prometheus metrics of `cishare feed --metrics`: a feed on the embedded
# broker delivers indicators and quarantines a record that is not a
# cishare message; the prometheus-client text parser (the outside client,
# from $CISHARE_VENV) reads /metrics and the counters match the feed's.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="${CISHARE_VENV:?}/bin/python"

dev_broker 300
X+=(-X "cishare.state-dir=$tmp/state-a")

# Bad usage: a listen address that is not one.
set +e
"$B" feed -c "$EX/op-power-b.conf" --metrics nonsense >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "--metrics nonsense: exit $rc, want 2"
grep -q "nonsense" "$tmp/err" || fail "--metrics nonsense: error does not name it"
ok "a bad --metrics address is a usage error naming it"

printf '198.51.100.%d\n' 1 2 3 4 5 >"$tmp/ips.txt"
"$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -f text --tlp green \
    -a sector:electricity "$tmp/ips.txt" 2>"$tmp/pub.err" ||
    { cat "$tmp/pub.err"; fail "publish"; }
# Not a cishare message: the feed must quarantine it (reason malformed).
"$PY" - "$bs" <<'PY'
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1]})
p.produce("cishare.green.electricity", key=b"x", value=b"not a cishare message")
assert p.flush(10) == 0
PY

"$B" feed -c "$EX/op-power-b.conf" -X "bootstrap.servers=$bs" \
    -X security.protocol=plaintext -X "cishare.state-dir=$tmp/state-b" \
    --out "$tmp/out" --metrics 127.0.0.1:0 2>"$tmp/feed.err" &
pids+=($!)
url=""
for _ in $(seq 100); do
    url="$(sed -n 's|.*metrics at \(http://[^ ]*\).*|\1|p' "$tmp/feed.err")"
    [ -n "$url" ] && grep -q "delivered\|quarantined" "$tmp/feed.err" && break
    sleep 0.2
done
[ -n "$url" ] || { cat "$tmp/feed.err"; fail "no 'metrics at' line"; }
# Wait until the feed has committed both the indicators and the bad record.
for _ in $(seq 100); do
    [ -s "$tmp/out/feed.jsonl" ] && [ "$(wc -l <"$tmp/out/feed.jsonl")" -ge 5 ] &&
        [ -s "$tmp/out/quarantine.jsonl" ] && break
    sleep 0.2
done
sleep 1.5 # the idle commit (about once a second) sets the series
"$PY" - "$url" <<'PY'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
body = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
fams = {f.name: f for f in text_string_to_metric_families(body)}
def val(name, **labels):
    for s in fams[name].samples:
        if all(s.labels.get(k) == v for k, v in labels.items()) and \
                s.name == name + ("_total" if fams[name].type == "counter" else ""):
            return s.value
    raise AssertionError(f"no sample {name} {labels}:\n{body}")
# prometheus-client strips _total from counter family names
assert val("cishare_feed_delivered") == 5, body
assert val("cishare_feed_quarantined", reason="malformed") == 1, body
assert val("cishare_feed_quarantined", reason="bad-signature") == 0, body
assert val("cishare_feed_duplicates") == 0, body
assert val("cishare_up", component="feed") == 1, body
assert val("cishare_directory_serial") >= 1, body
assert val("cishare_feed_last_message_timestamp_seconds") > 1.6e9, body
lag = [s for s in fams["cishare_feed_consumer_lag"].samples]
assert lag and all(s.value == 0 for s in lag), body
assert any(s.labels.get("topic") == "cishare.green.electricity" for s in lag), body
h = fams["cishare_feed_batch_seconds"]
assert h.type == "histogram", body
cnt = [s.value for s in h.samples if s.name == "cishare_feed_batch_seconds_count"]
assert cnt and cnt[0] >= 1, body
print("ok - prometheus-client parses /metrics: delivered 5, quarantined "
      "malformed 1, lag 0 per partition, a batch histogram")
PY
# Its port is taken now: a second exporter cannot listen there (exit 1,
# the run failed; not a usage error: the address is one).
set +e
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" -X "cishare.state-dir=$tmp/state-c" \
    --out "$tmp/out-c" --metrics "$(sed 's|^http://||; s|/metrics$||' <<<"$url")" \
    >/dev/null 2>"$tmp/busy.err"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "feed: metrics: cannot listen on " "$tmp/busy.err" ||
    { cat "$tmp/busy.err"; fail "--metrics on a taken port: exit $rc, want 1"; }
ok "--metrics on a taken port fails (exit 1) saying so"
kill "${pids[1]}"
wait "${pids[1]}" || fail "feed did not stop cleanly on SIGTERM"
grep -q "feed summary: delivered 5, .*quarantined 1 (malformed 1)" "$tmp/feed.err" ||
    { cat "$tmp/feed.err"; fail "summary"; }
ok "the summary names the quarantine reason"
