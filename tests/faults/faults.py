#!/usr/bin/env python3
"""Helper of tests/faults/run: input generation, cluster look-ups and the
final reconciliation.

  gen DIR ORIGIN SEQ N       DIR/in/ORIGIN-SEQ.json (N records, unique
                             subjects) and DIR/in/ORIGIN-SEQ.classes
                             (subject TAB class), classes from CLASSES
  reconcile DIR              published (acknowledged) vs delivered, per feed;
                             prints the RESULT lines, exit 0 when all are 0

What was acknowledged is the publish runs' -v output (DIR/pub/*.out of runs
that exited 0: "record TAB subject TAB tlp TAB topics", printed once every
delivery was acknowledged). Who must receive a class is asked of the
policy engine (`cishare policy check`, the feed's own decision), plus the
relay's rule for the classes the relay passes on.
"""
import collections
import glob
import json
import os
import subprocess
import sys
import time
import uuid

# class -> (origin, type, tlp, audience list)
CLASSES = {
    "pa-green": ("op-power-a", "indicator", "green", ["sector:electricity"]),
    "pa-amber": ("op-power-a", "indicator", "amber", ["sector:electricity"]),
    "pa-red": ("op-power-a", "indicator", "red", ["participant:op-power-b"]),
    "pa-strict": ("op-power-a", "indicator", "amber+strict",
                  ["participant:op-power-b", "participant:nco"]),
    "pa-to-ceptoar": ("op-power-a", "indicator", "amber",
                      ["participant:ceptoar-electricity"]),
    "pa-incident": ("op-power-a", "incident", "amber",
                    ["participant:nco", "participant:ceptoar-electricity"]),
    "pb-green": ("op-power-b", "indicator", "green", ["all"]),
    "pb-strict": ("op-power-b", "indicator", "amber+strict",
                  ["participant:ceptoar-electricity"]),
    "ba-green": ("op-bank-a", "indicator", "green", ["all"]),
    "ba-amber": ("op-bank-a", "indicator", "amber", ["sector:finance"]),
    "ba-red": ("op-bank-a", "indicator", "red", ["participant:nco"]),
    "nco-alert": ("nco", "alert", "green", ["all"]),
    "nco-strict": ("nco", "indicator", "amber+strict",
                   ["participant:ceptoar-electricity", "participant:op-bank-a"]),
}
# The relay of the run: ceptoar-electricity, rule
# "types=indicator tlp=amber to=members".
RELAY = "ceptoar-electricity"
RELAY_TYPES, RELAY_TLPS = {"indicator"}, {"amber"}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record(cls, subject, seq, i):
    origin, typ, tlp, aud = CLASSES[cls]
    t = now()
    p = {"id": subject, "created": t, "modified": t}
    if typ == "indicator":
        p.update(type="domain", value=f"{origin}-{seq}-{i}.faults.example")
    elif typ == "incident":
        p.update(title=f"faults {seq}-{i}", stage="preliminary",
                 category="ddos", operator_overview="o", summary="s",
                 affected_service="a", affected_system="b", impact="none",
                 operating_mode="normal", detected_at=t, reported_at=t,
                 legal_basis="voluntary", consent_forward=False)
    else:  # alert
        p.update(severity="medium", title=f"faults alert {seq}-{i}",
                 body="fault-injection run", target_sectors=["electricity",
                                                             "finance"],
                 valid_from=t)
    return {"type": typ, "tlp": tlp, "audience": aud, "payload": p}


def gen(d, origin, seq, n):
    classes = [c for c, v in CLASSES.items() if v[0] == origin]
    if not classes:
        sys.exit(f"faults.py gen: no classes for origin {origin}")
    os.makedirs(f"{d}/in", exist_ok=True)
    base = f"{d}/in/{origin}-{seq}"
    with open(base + ".json.tmp", "w") as f, open(base + ".classes", "w") as m:
        for i in range(n):
            cls = classes[(int(seq) * n + i) % len(classes)]
            typ = CLASSES[cls][1]
            s = f"{typ}--{uuid.uuid4()}"
            f.write(json.dumps(record(cls, s, seq, i)) + "\n")
            m.write(f"{s}\t{cls}\n")
    os.rename(base + ".json.tmp", base + ".json")
    try:
        print(base + ".json")
    except BrokenPipeError:  # the driver stopped meanwhile
        sys.exit(1)


def policy(cishare, directory, cls, who, relay=None):
    origin, typ, tlp, aud = CLASSES[cls]
    cmd = [cishare, "policy", "check", "--directory", directory,
           "--participant", who, "--tlp", tlp, "--origin", origin,
           "--audience", ",".join(aud), "--type", typ]
    if relay:
        cmd += ["--relay", relay]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"faults.py: policy check failed: {' '.join(cmd)}: "
                 f"{r.stderr.strip()}")
    return r.returncode == 0


def expected(cishare, directory, cls, who, relay_on):
    if policy(cishare, directory, cls, who):
        return True
    _, typ, tlp, _ = CLASSES[cls]
    return (relay_on and typ in RELAY_TYPES and tlp in RELAY_TLPS
            and who != RELAY
            and policy(cishare, directory, cls, RELAY)
            and policy(cishare, directory, cls, who, relay=RELAY))


def reconcile(d):
    cishare = os.environ["CISHARE_BIN"]
    directory = os.environ["FAULTS_DIRECTORY"]
    relay_on = os.path.exists(f"{d}/relay.on")
    cls_of = {}
    for m in glob.glob(f"{d}/in/*.classes"):
        for line in open(m):
            s, c = line.rstrip("\n").split("\t")
            cls_of[s] = c
    # acknowledged: -v lines of every publish run that exited 0
    acked = collections.Counter()  # subject -> runs that acknowledged it
    for rc in glob.glob(f"{d}/pub/*.rc"):
        if open(rc).read().strip() != "0":
            continue
        for line in open(rc[:-3] + ".out"):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 2:
                acked[f[1]] += 1
    unknown = [s for s in acked if s not in cls_of]
    if unknown:
        sys.exit(f"faults.py: {len(unknown)} acknowledged subjects not "
                 f"generated by this run, e.g. {unknown[:3]}")
    feeds = sorted(os.path.basename(p) for p in glob.glob(f"{d}/feed/*")
                   if os.path.isdir(p))
    lost = dup = mis = 0
    ids_per_key = collections.defaultdict(set)  # over all feeds
    report = []
    for who in feeds:
        want_cls = {c: expected(cishare, directory, c, who, relay_on)
                    for c in CLASSES}
        want = {s for s in acked if want_cls[cls_of[s]]}
        keys, ids = collections.Counter(), collections.Counter()
        got, bad, relayed = set(), [], 0
        foreign = collections.Counter()
        path = f"{d}/feed/{who}/feed.jsonl"
        lines = open(path).read().splitlines() if os.path.exists(path) else []
        for line in lines:
            m = json.loads(line)
            s = m["payload"]["id"]
            if s not in cls_of:
                foreign[m.get("type")] += 1  # receipts: not records
                continue
            relayed += bool(m.get("relayed_by"))
            key = (m["origin"], s, m["payload"].get("modified"))
            keys[key] += 1
            ids[m["message_id"]] += 1
            ids_per_key[key].add(m["message_id"])
            got.add(s)
            if not want_cls[cls_of[s]]:
                bad.append(s)
        miss = want - got
        # a line that repeats a message id or a record version
        d_ids = sum(n - 1 for n in ids.values() if n > 1)
        d_keys = sum(n - 1 for n in keys.values() if n > 1)
        nd = max(d_ids, d_keys)
        lost += len(miss)
        dup += nd
        mis += len(bad)
        report.append(
            f"feed {who}: {len(lines)} lines, {len(got)} of this run's "
            f"records, expected {len(want)}; lost {len(miss)}, duplicated "
            f"{nd} (by message id {d_ids}, by origin+subject+modified "
            f"{d_keys}), misdelivered {len(bad)}; {relayed} relayed; "
            f"other lines: {dict(foreign) or 0}")
        for s in sorted(miss)[:5]:
            report.append(f"  lost: {s} ({cls_of[s]})")
        for s in bad[:5]:
            report.append(f"  misdelivered: {s} ({cls_of[s]})")
        for k, n in list(keys.items()):
            if n > 1 and len(report) < 200:
                report.append(f"  duplicated: {k} x{n}")
    per_origin = collections.Counter(CLASSES[cls_of[s]][0] for s in acked)
    print("published (acknowledged): " + ", ".join(
        f"{o} {n}" for o, n in sorted(per_origin.items())))
    gen_total = len(cls_of)
    print(f"generated {gen_total} records; acknowledged {len(acked)}; "
          f"acknowledged by more than one run (re-published) "
          f"{sum(1 for n in acked.values() if n > 1)}")
    multi = sum(1 for v in ids_per_key.values() if len(v) > 1)
    print(f"re-published records seen in feeds under more than one message "
          f"id: {multi}")
    for r in report:
        print(r)
    print(f"RESULT lost {lost}")
    print(f"RESULT duplicated {dup}")
    print(f"RESULT misdelivered {mis}")
    return 0 if lost == dup == mis == 0 else 1


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "gen":
        gen(a[1], a[2], a[3], int(a[4]))
        return 0
    if len(a) == 2 and a[0] == "reconcile":
        return reconcile(a[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
