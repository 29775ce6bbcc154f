"""Check a MISP feed folder (cishare feed --format misp) against the
feed.jsonl the same feed wrote: PyMISP loads every event file the manifest
lists; events, attributes (type, value, to_ids, tags), tlp tags, manifest
entries and hashes.csv match what the JSON Lines delivered, with the
mapping written from the issue and the importer's table (not the code).

Usage: misp_feed.py FEED.jsonl MISPDIR"""
import hashlib
import json
import os
import sys
from collections import Counter
from datetime import datetime, timezone

from pymisp import MISPEvent

feed_path, misp_dir = sys.argv[1], sys.argv[2]

# cishare type -> (MISP type, detection type: to_ids true by default)
TYPES = {
    "ipv4": ("ip-dst", True), "ipv6": ("ip-dst", True),
    "domain": ("domain", True), "url": ("url", True),
    "email": ("email-src", True), "md5": ("md5", True),
    "sha1": ("sha1", True), "sha256": ("sha256", True),
    "sha512": ("sha512", True), "cve": ("vulnerability", False),
    "asn": ("AS", False), "ja3": ("ja3-fingerprint-md5", True),
    "yara": ("yara", True), "sigma": ("sigma", True),
    "stix": ("stix2-pattern", True), "other": ("text", False),
}
RANK = {"clear": 0, "green": 1, "amber": 2, "amber+strict": 3, "red": 4}
INCIDENT_FIELDS = ["stage", "category", "summary", "operator_overview",
                   "affected_service", "affected_system", "impact",
                   "operating_mode", "technical_details", "response_taken",
                   "remarks", "legal_basis"]


def ms(t):
    if not t:
        return 0
    return int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000)


now = datetime.now(timezone.utc).timestamp() * 1000

# The feed's current state: latest version per (origin, subject); a
# revocation removes the subject for good.
state, revoked = {}, set()
for line in open(feed_path):
    m = json.loads(line)
    key = (m["origin"], None)
    if m["type"] == "revocation":
        revoked.add((m["origin"], m["payload"]["revokes"]))
        continue
    if m["type"] not in ("indicator", "incident", "alert"):
        continue
    key = (m["origin"], m["payload"]["id"])
    old = state.get(key)
    if old and ms(old["payload"]["modified"]) > ms(m["payload"]["modified"]):
        continue
    state[key] = m
for k in revoked:
    state.pop(k, None)


def expired(m):
    xs = [ms(m.get("expires")), ms(m["payload"].get("valid_until"))]
    xs = [x for x in xs if x]
    return bool(xs) and min(xs) <= now


state = {k: m for k, m in state.items() if not expired(m)}
assert any(m["type"] == "incident" for m in state.values()), "no incident"
assert any(m["type"] == "alert" for m in state.values()), "no alert"
assert revoked, "no revocation delivered"


def tlp_tag(label):
    return "tlp:" + label


def ind_attr(m):
    p = m["payload"]
    mtype, detect = TYPES[p["type"]]
    labels = p.get("labels") or []
    tags = {tlp_tag(m["tlp"])} | {
        l for l in labels if l != "to_ids:false" and not l.lower().startswith("tlp:")}
    return (mtype, p["value"], detect and "to_ids:false" not in labels,
            frozenset(tags))


def text(value, label):
    return ("text", value, False, frozenset({tlp_tag(label)}))


expected = {}  # (kind, origin, key) -> (tlp, [attributes])
for (origin, subject), m in state.items():
    p, label = m["payload"], m["tlp"]
    if m["type"] == "indicator":
        day = p["created"][:10]
        ev = expected.setdefault(("indicators", origin, day, label), (label, []))
        ev[1].append(ind_attr(m))
    elif m["type"] == "incident":
        attrs = [text(subject, label)]
        attrs += [text(p[f], label) for f in INCIDENT_FIELDS if p.get(f)]
        attrs += [text(t, label) for t in p.get("mitre_techniques") or []]
        for i in p.get("indicators") or []:
            im = state.get((origin, i))
            if im and im["type"] == "indicator" and RANK[im["tlp"]] <= RANK[label]:
                attrs.append(ind_attr(im))
            else:
                attrs.append(text(i, label))
        expected[("incident", origin, subject)] = (label, attrs)
    else:
        attrs = [text(subject, label), text(p["severity"], label)]
        if p.get("body"):
            attrs.append(text(p["body"], label))
        attrs += [text(a, label) for a in p.get("recommended_actions") or []]
        tags = frozenset({tlp_tag(label)})
        attrs += [("vulnerability", c, False, tags) for c in p.get("cves") or []]
        for o in p.get("observables") or []:
            mtype, detect = TYPES[o["type"]]
            attrs.append((mtype, o["value"], detect, tags))
        expected[("alert", origin, subject)] = (label, attrs)

errors = []
manifest = json.load(open(os.path.join(misp_dir, "manifest.json")))
files = {f for f in os.listdir(misp_dir) if f.endswith(".json") and f != "manifest.json"}
if files != {u + ".json" for u in manifest}:
    errors.append("event files %s != manifest %s" % (sorted(files), sorted(manifest)))

got, hashes, attr_uuids = [], set(), Counter()
for uuid, entry in manifest.items():
    ev = MISPEvent()
    ev.load_file(os.path.join(misp_dir, uuid + ".json"))
    if ev.uuid != uuid:
        errors.append("%s: event uuid %s" % (uuid, ev.uuid))
    tlps = [t.name for t in ev.tags if t.name.startswith("tlp:")]
    if len(tlps) != 1:
        errors.append("%s: event tlp tags %s" % (uuid, tlps))
        continue
    label = tlps[0][4:]
    for k in ("info", "date", "analysis", "threat_level_id"):
        if str(entry[k]) != str(getattr(ev, k) if k != "date" else ev.date.isoformat()):
            errors.append("%s: manifest %s %r, event %r" % (uuid, k, entry[k], getattr(ev, k)))
    if int(entry["timestamp"]) != int(ev.timestamp.timestamp()):
        errors.append("%s: manifest timestamp %s != event's" % (uuid, entry["timestamp"]))
    if entry["Orgc"]["name"] != ev.Orgc.name or [t["name"] for t in entry["Tag"]] != [t.name for t in ev.tags]:
        errors.append("%s: manifest Orgc/Tag differ from the event's" % uuid)
    attrs = []
    for a in ev.attributes:
        attr_uuids[a.uuid] += 1
        tags = frozenset(t.name for t in a.tags)
        atlps = [t for t in tags if t.startswith("tlp:")]
        if len(atlps) != 1 or RANK[atlps[0][4:]] > RANK[label]:
            errors.append("%s: attribute %s tlp tags %s under event %s" % (uuid, a.value, atlps, label))
        if a.type not in a.describe_types["types"] or a.category not in a.describe_types["categories"]:
            errors.append("%s: unknown type/category %s/%s" % (uuid, a.type, a.category))
        elif a.type not in a.describe_types["category_type_mappings"][a.category]:
            errors.append("%s: type %s not valid in category %s" % (uuid, a.type, a.category))
        attrs.append((a.type, a.value, bool(a.to_ids), tags))
        hashes.add("%s,%s" % (hashlib.md5(a.value.encode()).hexdigest(), uuid))
    got.append((ev.Orgc.name, label, sorted(attrs, key=repr)))

want = [(k[1], v[0], sorted(v[1], key=repr)) for k, v in expected.items()]
if sorted(got, key=repr) != sorted(want, key=repr):
    g, w = Counter(map(repr, got)), Counter(map(repr, want))
    for x in (g - w):
        errors.append("unexpected event: %s" % x[:600])
    for x in (w - g):
        errors.append("missing event: %s" % x[:600])
dups = [u for u, n in attr_uuids.items() if n > 1]
if dups:
    errors.append("attribute uuids used twice: %s" % dups[:5])
lines = set(open(os.path.join(misp_dir, "hashes.csv")).read().split())
if lines != hashes:
    errors.append("hashes.csv: %d lines, want %d (%s)" % (len(lines), len(hashes), sorted(lines ^ hashes)[:3]))

kinds = Counter(k[0] for k in expected)
n_attr = sum(len(v[1]) for v in expected.values())
to_ids = Counter(a[2] for v in expected.values() for a in v[1])
labels = Counter(v[0] for v in expected.values())
print("%d events (%s), %d attributes (to_ids %d true, %d false), labels %s"
      % (len(expected), dict(kinds), n_attr, to_ids[True], to_ids[False], dict(labels)))
# The data must exercise what is checked.
if kinds["indicators"] < 3 or len(labels) < 4 or not to_ids[True] or not to_ids[False]:
    errors.append("test data too narrow: %s %s %s" % (kinds, labels, to_ids))
for e in errors:
    print("MISMATCH:", e)
sys.exit(1 if errors else 0)
