#!/usr/bin/env bash
# A hot standby feed (consumers/folderlock.h) on the real broker:
#   1. op-power-b's feed A runs with --standby on a state folder while
#      op-power-a publishes a stream (6 publishes, one every half second);
#      a second instance without --standby exits 2 naming A's pid; feed B
#      (--standby, same folder) logs that it waits.
#   2. A is killed with SIGKILL mid-stream; B takes over (same static
#      group membership: no wait for A's session to time out) and delivers
#      the rest (again within 25 s of the kill).
#   3. feed.jsonl holds every message published for op-power-b exactly
#      once: nothing lost, nothing repeated across the takeover.
# Needs the broker of tests/run: CISHARE_KAFKA_BOOTSTRAP,
# CISHARE_KAFKA_ADMIN_CONF; CISHARE_BIN, CISHARE_SRC.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

provision_examples
group="cishare-feed-op-power-b.standby-$nonce"
out="$tmp/out"
N=6 PER=150

# ---- the stream: N chunks, PER records each, all for op-power-b ----------
python3 - "$tmp" "$N" "$PER" "$nonce" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" <<'EOF'
import json, sys, uuid
tmp, n, per, nonce, now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
kinds = [("green", ["sector:electricity"]), ("amber", None),
         ("amber", ["participant:op-power-b"])]
with open(f"{tmp}/want.txt", "w") as want:
    for c in range(n):
        with open(f"{tmp}/chunk-{c}.jsonl", "w") as f:
            for i in range(per):
                s = f"indicator--{uuid.uuid4()}"
                tlp, aud = kinds[(c * per + i) % len(kinds)]
                r = {"type": "indicator", "tlp": tlp,
                     "payload": {"id": s, "created": now, "modified": now,
                                 "type": "domain",
                                 "value": f"s{c}-{i}.{nonce}.standby.example"}}
                if aud:
                    r["audience"] = aud
                f.write(json.dumps(r) + "\n")
                want.write(s + "\n")
EOF
total=$((N * PER))
# this run's lines (a new folder also reads what earlier runs published)
lines() { if [ -f "$out/feed.jsonl" ]; then grep -c "\.$nonce\.standby\.example" "$out/feed.jsonl" || true; else echo 0; fi; }
# Small fetches: the feed needs a few seconds for the stream, so SIGKILL
# lands while it is consuming.
slow=(-X queued.max.messages.kbytes=32 -X max.partition.fetch.bytes=32768
    -X message.max.bytes=32768 -X fetch.max.bytes=32768)
feed() { # LOG [ARGS]: a feed of op-power-b on the shared folder, in the background
    local log="$1"
    shift
    "$B" feed -c "$EX/op-power-b.conf" "${X[@]}" -X "group.id=$group" "${slow[@]}" \
        --out "$out" "$@" >>"$log" 2>&1 &
    pids+=($!)
}
wait_for() { # SECONDS DESCRIPTION CONDITION...
    local deadline=$((SECONDS + $1)) what="$2"
    shift 2
    until "$@"; do
        [ $SECONDS -lt $deadline ] || { tail -n 5 "$tmp"/*.log || true; fail "timed out: $what"; }
        sleep 0.05
    done
}

# ---- 1. active, refused, standby -------------------------------------------
feed "$tmp/a.log" --standby
a=${pids[-1]}
wait_for 30 "A holds the lock" test -s "$out/feed.lock"
set +e
"$B" feed -c "$EX/op-power-b.conf" "${X[@]}" -X "group.id=$group" --once \
    --out "$out" >/dev/null 2>"$tmp/third.err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "another feed holds $out/feed.lock (pid $a)" "$tmp/third.err" ||
    { cat "$tmp/third.err"; fail "a second feed without --standby: exit $rc, want 2 naming pid $a"; }
ok "a second feed on the folder without --standby exits 2 naming the holder (pid $a)"
feed "$tmp/b.log" --standby
b=${pids[-1]}
wait_for 30 "B says it waits" grep -q "standby: another feed holds $out/feed.lock (pid $a); waiting" "$tmp/b.log"
ok "feed B waits as a standby"

(for c in $(seq 0 $((N - 1))); do
    "$B" publish -c "$EX/op-power-a.conf" "${X[@]}" -f json "$tmp/chunk-$c.jsonl" \
        >/dev/null 2>"$tmp/pub-$c.err" || exit 1
    sleep 0.5
done) &
pub=$!
pids+=("$pub")

# ---- 2. kill -9 A mid-stream -----------------------------------------------
ge() { [ "$(lines)" -ge "$1" ]; }
wait_for 90 "A delivers $((total / 3)) lines" ge $((total / 3))
kill -9 "$a"
killed="$(lines)"
t0=$SECONDS
[ "$killed" -lt "$total" ] || fail "A reached the end ($killed lines) before the kill"
wait_for 20 "B takes over" grep -q "standby: took over" "$tmp/b.log"
# B delivers again well within the librdkafka default session.timeout.ms
# (45 s): it replaces A's static membership, it does not wait for A's
# session to expire
wait_for 25 "B delivers past line $killed" ge $((killed + 1))
resumed=$((SECONDS - t0))
wait "$pub" || { cat "$tmp"/pub-*.err; fail "publish"; }
for c in $(seq 0 $((N - 1))); do
    grep -q "published $PER, rejected 0" "$tmp/pub-$c.err" || fail "chunk $c: $(cat "$tmp/pub-$c.err")"
done
wait_for 90 "B delivers all $total" ge "$total"
took=$((SECONDS - t0))
kill -TERM "$b"
wait "$b" 2>/dev/null || true
ok "A killed at $killed lines; B delivered again after ${resumed}s, caught up after ${took}s"
grep -E "cut|summary" "$tmp/b.log" | sed 's/^/# B: /' || true

# ---- 3. nothing lost, nothing twice ----------------------------------------
python3 - "$tmp/want.txt" "$out/feed.jsonl" <<'EOF' || fail "the takeover lost or repeated messages"
import collections, json, sys
want = set(open(sys.argv[1]).read().split())
ids, subjects = collections.Counter(), collections.Counter()
for line in open(sys.argv[2]):
    m = json.loads(line)  # a torn line would fail here
    ids[m["message_id"]] += 1
    if m["payload"]["id"] in want:
        subjects[m["payload"]["id"]] += 1
bad = []
dup = [i for i, n in ids.items() if n > 1]
if dup:
    bad.append(f"{len(dup)} message_id(s) twice, e.g. {dup[:3]}")
twice = [s for s, n in subjects.items() if n > 1]
if twice:
    bad.append(f"{len(twice)} subjects delivered twice, e.g. {twice[:3]}")
missing = want - set(subjects)
if missing:
    bad.append(f"{len(missing)} subjects missing, e.g. {sorted(missing)[:3]}")
for b in bad:
    print(f"not ok - {b}")
if not bad:
    print(f"ok - the {len(want)} messages exactly once across the takeover")
sys.exit(1 if bad else 0)
EOF
