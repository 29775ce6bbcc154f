#!/usr/bin/env bash
# cishare feed survives kill -9: exactly-once delivery per state folder
# (consumers/dedup.h, "THE INVARIANT") on the real broker.
#
#   1. op-power-a publishes 3000 GREEN/AMBER indicators that op-power-b may
#      see (its sector topics, .all, its inbox), in six publishes, plus 150
#      GREEN ones for role:ministry that op-power-b's feed reads on
#      cishare.green.all but must withhold.
#   2. op-power-b's feed (no --once, fetches kept small so the stream takes
#      a few seconds) is killed with SIGKILL twice at different points
#      (after >= 600 and >= 1800 lines, before the end), then finishes
#      with --once. Same group, same output folder.
#   3. feed.jsonl holds every message published for op-power-b exactly
#      once: set equality of subjects, no message_id twice, none of the
#      withheld ones.
#   4. a fourth run with a NEW consumer group and --from-beginning re-reads
#      everything: the seen-id store suppresses all of it (0 new lines).
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

feed_pid=""
cleanup() {
    [ -z "$feed_pid" ] || kill -9 "$feed_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
# session.timeout.ms: a member killed with SIGKILL stays in the group until
# its session times out, and the restarted feed's join waits for that
# (feed --once waits session.timeout.ms + 15 s for an assignment; the
# librdkafka default is 45 s). The broker's minimum, 6 s, keeps the test
# short.
F=("${X[@]}" -X session.timeout.ms=6000)

provision_examples
group="cishare-feed-op-power-b.crash-$nonce"
out="$tmp/out"

# ---- 1. the stream --------------------------------------------------------
# chunk-N.jsonl (6 x 525 records), want.txt (subjects for op-power-b),
# withheld.txt (subjects it must not get).
python3 - "$tmp" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" <<'EOF'
import json, sys, uuid
tmp, now = sys.argv[1], sys.argv[2]
kinds = [("green", ["sector:electricity"]), ("amber", None),
         ("green", None), ("amber", ["participant:op-power-b"]),
         ("amber+strict", ["participant:op-power-b"])]
want, withheld, n = open(f"{tmp}/want.txt", "w"), open(f"{tmp}/withheld.txt", "w"), 0
for c in range(6):
    with open(f"{tmp}/chunk-{c}.jsonl", "w") as f:
        for i in range(525):
            s = f"indicator--{uuid.uuid4()}"
            if i % 21 == 20:
                tlp, aud, dst = "green", ["role:ministry"], withheld
            else:
                tlp, aud = kinds[n % len(kinds)]
                dst, n = want, n + 1
            r = {"type": "indicator", "tlp": tlp,
                 "payload": {"id": s, "created": now, "modified": now,
                             "type": "domain", "value": f"c{c}-{i}.crash.example"}}
            if aud:
                r["audience"] = aud
            f.write(json.dumps(r) + "\n")
            dst.write(s + "\n")
EOF
[ "$(wc -l <"$tmp/want.txt")" = 3000 ] || fail "generator: $(wc -l <"$tmp/want.txt") records"
t0=$SECONDS
for c in 0 1 2 3 4 5; do
    "$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -f json "$tmp/chunk-$c.jsonl" \
        >/dev/null 2>"$tmp/pub.err" || { cat "$tmp/pub.err"; fail "publish chunk $c"; }
    grep -q "published 525, rejected 0" "$tmp/pub.err" || fail "chunk $c: $(cat "$tmp/pub.err")"
done
ok "published 3150 records in 6 publishes ($((SECONDS - t0))s)"

# ---- 2. kill -9 twice, then --once ------------------------------------------
lines() { if [ -f "$out/feed.jsonl" ]; then wc -l <"$out/feed.jsonl"; else echo 0; fi; }
# Small fetches: the feed needs a few seconds for the stream, so SIGKILL
# lands while it is consuming (and usually between a batch's sink write
# and its commit).
slow=(-X queued.max.messages.kbytes=32 -X max.partition.fetch.bytes=32768
    -X message.max.bytes=32768 -X fetch.max.bytes=32768)
crash_at() { # LINES
    local deadline=$((SECONDS + 60)) n
    "$B" feed -c "$EX/op-power-b.conf" "${F[@]}" -X "group.id=$group" \
        "${slow[@]}" --out "$out" >>"$tmp/feed.log" 2>&1 &
    feed_pid=$!
    while n="$(lines)" && [ "$n" -lt "$1" ]; do
        kill -0 "$feed_pid" 2>/dev/null || { cat "$tmp/feed.log"; fail "feed exited early"; }
        [ $SECONDS -lt $deadline ] || { cat "$tmp/feed.log"; fail "feed stuck at $n lines"; }
        sleep 0.02
    done
    kill -9 "$feed_pid"
    wait "$feed_pid" 2>/dev/null || true
    feed_pid=""
    killed="$(lines)"
    [ "$killed" -lt 3000 ] || fail "feed reached the end ($killed lines) before the kill"
}
crash_at 600
k1="$killed"
crash_at 1800
k2="$killed"
ok "feed killed with SIGKILL at $k1 and at $k2 lines"
"$B" feed -c "$EX/op-power-b.conf" "${F[@]}" -X "group.id=$group" --once \
    --out "$out" >/dev/null 2>"$tmp/once.err" || { cat "$tmp/once.err"; fail "feed --once"; }
grep "feed summary" "$tmp/once.err" | sed 's/^/# restart: /'
grep "cut" "$tmp/feed.log" "$tmp/once.err" | sed 's/^/# /' || true

# ---- 3. nothing lost, nothing twice ---------------------------------------
check() { # LABEL
    python3 - "$tmp" "$out/feed.jsonl" "$1" <<'EOF'
import collections, json, sys
tmp, path, label = sys.argv[1], sys.argv[2], sys.argv[3]
want = set(open(f"{tmp}/want.txt").read().split())
withheld = set(open(f"{tmp}/withheld.txt").read().split())
ids, subjects = collections.Counter(), collections.Counter()
for line in open(path):
    m = json.loads(line)  # a torn line would fail here
    ids[m["message_id"]] += 1
    s = m["payload"]["id"]
    if s in want or s in withheld:
        subjects[s] += 1
bad = []
dup = [i for i, n in ids.items() if n > 1]
if dup:
    bad.append(f"{len(dup)} message_id(s) delivered twice, e.g. {dup[:3]}")
missing = want - set(subjects)
if missing:
    bad.append(f"{len(missing)} published subjects missing, e.g. {sorted(missing)[:3]}")
leaked = withheld & set(subjects)
if leaked:
    bad.append(f"{len(leaked)} role:ministry subjects delivered to op-power-b")
for b in bad:
    print(f"not ok - {label}: {b}")
if not bad:
    print(f"ok - {label}: the {len(want)} subjects exactly once, "
          f"{sum(ids.values())} lines, no message_id twice")
sys.exit(1 if bad else 0)
EOF
}
check "after two crashes" || fail "delivery is not exactly-once across SIGKILL"

# ---- 4. a new group re-reads everything; dedup suppresses it ----------------
before="$(lines)"
"$B" feed -c "$EX/op-power-b.conf" "${F[@]}" -X "group.id=$group.again" \
    --once --from-beginning --out "$out" >/dev/null 2>"$tmp/again.err" ||
    { cat "$tmp/again.err"; fail "feed with a new group"; }
after="$(lines)"
summary="$(grep "feed summary" "$tmp/again.err")"
echo "# new group: $summary"
[ "$after" = "$before" ] || fail "a new group added $((after - before)) lines (dedup lost)"
echo "$summary" | grep -q "delivered 0, duplicates [0-9]*" &&
    dups="$(echo "$summary" | sed -E 's/.*duplicates ([0-9]+).*/\1/')" &&
    [ "$dups" -ge 3000 ] || fail "new group: want delivered 0, duplicates >= 3000"
ok "new group from the beginning: 0 new lines, $dups duplicates suppressed"
check "after the new group" || fail "feed.jsonl changed"
