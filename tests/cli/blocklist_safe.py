"""Checks the blocklist folders of one feed (tests/cli/blocklist_safe.sh).

usage: blocklist_safe.py OUT FEED_STDERR MISP_SAMPLE...
"""
import ipaddress
import json
import os
import re
import sys

import dns.rdatatype
import dns.zone

out, feed_err, samples = sys.argv[1], sys.argv[2], sys.argv[3:]
bl = os.path.join(out, "blocklist")
LABELS = ["clear", "green", "amber", "amber-strict", "red"]
TYPES = ["ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "sha512"]
errors = []


def err(msg):
    errors.append(msg)


# Values published in blocklist_safe.sh that no list may hold.
EXCLUDED = {
    "127.0.0.1", "0.0.0.0", "10.0.0.0", "192.168.0.0/16", "169.254.1.1",
    "224.0.0.1", "255.255.255.255", "240.0.0.1", "100.64.0.1", "::1", "::",
    "fe80::1", "ff02::1", "fc00::1", "*", "*.",
    "https://old-publish.example/blog",
}


def misp_attrs(path):
    d = json.load(open(path))
    ev = d.get("Event", d)
    for a in ev.get("Attribute", []):
        yield a
    for o in ev.get("Object", []):
        for a in o.get("Attribute", []):
            yield a


# MISP values with to_ids false, unless some attribute lists them for
# detection too.
nfd, ids = set(), set()
for s in samples:
    for a in misp_attrs(s):
        parts = {a["value"]} | set(a["value"].split("|"))
        (ids if a.get("to_ids") else nfd).update(p.lower() for p in parts)
nfd -= ids
if not any(v.startswith("http") for v in nfd):
    err("the samples hold no to_ids false link: the test would prove nothing")
EXCLUDED |= nfd

# ---- read every folder -------------------------------------------------
lists = {}
for label in LABELS:
    d = os.path.join(bl, label)
    if not os.path.isdir(d):
        err("no folder %s" % d)
        continue
    for t in TYPES:
        p = os.path.join(d, t + ".txt")
        lists[label, t] = open(p).read().split("\n")[:-1] if os.path.exists(p) else None
        if lists[label, t] is None:
            err("missing %s" % p)
            lists[label, t] = []

# 1. nothing excluded, in any list, zone or set
for (label, t), vals in lists.items():
    for v in vals:
        if v.lower() in EXCLUDED:
            err("excluded value %r in %s/%s.txt" % (v, label, t))
for label in LABELS:
    for name in ("rpz.zone", "cishare.nft"):
        p = os.path.join(bl, label, name)
        text = open(p).read() if os.path.exists(p) else ""
        for v in EXCLUDED - {"*", "*.", "::"}:
            if re.search(r"(^|[\s{,])%s($|[\s},])" % re.escape(v), text, re.M | re.I):
                err("excluded value %r in %s/%s" % (v, label, name))
        if re.search(r"^\*\.? CNAME", text, re.M):
            err("a bare wildcard in %s/%s" % (label, name))

# 2. labels apart: each of these values in its own label's folder only
WHERE = {
    ("ipv4", "192.0.2.1"): "green",
    ("ipv6", "2001:db8::1"): "red",
    ("ipv4", "198.51.100.7/24"): "amber-strict",
    ("domain", "good-green.example"): "green",
    ("domain", "good-red.example"): "red",
    ("domain", "*.wild-amber.example"): "amber",
}
for (t, v), want in WHERE.items():
    got = [label for label in LABELS if v in lists[label, t]]
    if got != [want]:
        err("%s %s is in %s, expected only %s" % (t, v, got, want))

# 3. RPZ: dnspython loads it, and it holds exactly the domain list
serials = []
for label in LABELS:
    p = os.path.join(bl, label, "rpz.zone")
    try:
        z = dns.zone.from_file(p, origin="rpz.cishare.example.", relativize=True,
                               check_origin=True)
    except Exception as e:  # noqa: BLE001 - report any parse failure
        err("%s does not load: %s" % (p, e))
        continue
    names = set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.CNAME:
                for rd in rds:
                    if str(rd.target) != ".":
                        err("%s: %s CNAME %s, not ." % (p, name, rd.target))
                names.add(str(name))
    want = set()
    for d in lists[label, "domain"]:
        want.add(d)
        if not d.startswith("*."):
            want.add("*." + d)
    if names != want:
        err("%s: names %s differ from domain.txt (%s)" % (
            p, sorted(names ^ want)[:5], len(names ^ want)))
    soa = z.get_rdataset("@", dns.rdatatype.SOA)
    serials.append(soa[0].serial if soa else 0)
if not all(serials):
    err("RPZ zones without a SOA serial: %s" % serials)

# 4. nft: the sets hold exactly the address lists (as networks)
ELEM = re.compile(r"^add element inet cishare (\S+) \{ ([^}]*) \}$", re.M)
for label in LABELS:
    p = os.path.join(bl, label, "cishare.nft")
    text = open(p).read()
    base = label.replace("-", "_")
    for fam, typ in (("v4", "ipv4_addr"), ("v6", "ipv6_addr")):
        decl = "add set inet cishare %s_%s { type %s; flags interval; auto-merge; }" % (
            base, fam, typ)
        if decl not in text or ("flush set inet cishare %s_%s" % (base, fam)) not in text:
            err("%s: no set %s_%s declared and flushed" % (p, base, fam))
    got = {"v4": set(), "v6": set()}
    for m in ELEM.finditer(text):
        s, fam = m.group(1).rsplit("_", 1)
        if s != base:
            err("%s: set %s of another label" % (p, m.group(1)))
        for e in m.group(2).split(","):
            try:  # nft refuses a block with host bits set
                got[fam].add(ipaddress.ip_network(e.strip(), strict=True))
            except ValueError as x:
                err("%s: element %r: %s" % (p, e.strip(), x))
    for fam, t in (("v4", "ipv4"), ("v6", "ipv6")):
        want = {ipaddress.ip_network(v, strict=False) for v in lists[label, t]}
        if got[fam] != want:
            err("%s: %s elements %s differ from %s.txt" % (
                p, fam, sorted(map(str, got[fam] ^ want))[:5], t))

# 5. state out of the list folders
for root, _dirs, files in os.walk(bl):
    for f in files:
        if "state" in f or f.endswith(".jsonl"):
            err("state file %s under blocklist/" % os.path.join(root, f))
if not os.path.exists(os.path.join(out, ".state", "blocklist.jsonl")):
    err("no %s/.state/blocklist.jsonl" % out)

# 6. the feed's summary counts exclusions by reason
summary = [l for l in open(feed_err) if "feed summary:" in l]
if not summary:
    err("no feed summary line")
else:
    m = re.search(r"refused for blocklists \(([^)]*)\)", summary[-1])
    by = dict((k, int(n)) for k, n in
              (x.rsplit(" ", 1) for x in m.group(1).split(", "))) if m else {}
    want = {"special-range": 15, "too-wide": 2, "not-for-detection": 1}
    for k, n in want.items():
        if by.get(k, 0) < n:
            err("summary counts %s %s, expected at least %d: %s" % (
                k, by.get(k), n, summary[-1].strip()))
    if by.get("not-for-detection") != 1:
        err("not-for-detection %s: the importer let MISP to_ids false through"
            % by.get("not-for-detection"))
    logged = open(feed_err).read()
    for v in ("127.0.0.1", "192.168.0.0/16", "fe80::1"):
        if 'refused ipv4 "%s"' % v not in logged and 'refused ipv6 "%s"' % v not in logged:
            err("the refusal of %s is not logged" % v)

for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
