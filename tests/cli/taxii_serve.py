"""cishare serve seen by taxii2-client (PyPI), the outside TAXII 2.1
client: run by taxii_serve.sh against a server of op-power-b's feed.

  taxii_serve.py BASE PHASE N_INDICATORS [REVOKED_SUBJECT]

PHASE "read": collections, paging through every object with limit/next
(nothing missing or repeated), match[type], added_after, 401, 403, 400
with a TAXII error body, 406. PHASE "tls": client certificates (made in folder argv[4]). PHASE
"revoked": the object of a revoked
subject is served with "revoked": true as its latest version (waits for
the server to index the new feed output).
"""
import hashlib
import os
import sys
import time
import uuid

import requests
from taxii2client.v21 import Server, as_pages

base, phase, n_ind = sys.argv[1], sys.argv[2], int(sys.argv[3])
USER, PASS = "op-power-b", "op-power-b-example-password"
fails = 0


def check(cond, what):
    global fails
    if cond:
        print("ok - " + what)
    else:
        print("FAIL: " + what)
        fails += 1


def collections(user=USER, password=PASS):
    server = Server(base + "/taxii2/", user=user, password=password)
    root = server.api_roots[0]
    return {c.alias: c for c in root.collections}


def stix_id(typ, origin, subject):
    """The id cishare derives for (type, origin, subject) (sinks/stix.c)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(b"cishare-stix\0" + typ.encode() + b"\0" + origin.encode() +
             b"\0" + subject.encode())
    b = bytearray(h.digest())
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return "%s--%s" % (typ, uuid.UUID(bytes=bytes(b)))


def status_of(fn):
    try:
        fn()
    except requests.exceptions.HTTPError as e:
        return e.response.status_code
    return 200


if phase == "read":
    cols = collections()
    check(set(cols) == {"feed", "tlp-clear", "tlp-green", "tlp-amber"},
          "collections: feed and one per label present (%s)" % sorted(cols))
    feed = cols["feed"]
    check(feed.can_read and not feed.can_write, "feed: can_read, not can_write")

    # every object, 997 at a time (not a divisor of the total)
    seen, pages, revisits = {}, 0, 0
    for env in as_pages(feed.get_objects, per_request=997):
        pages += 1
        for o in env.get("objects", []):
            if o["id"] in seen:
                revisits += 1
            seen[o["id"]] = o
    types = {}
    for o in seen.values():
        types[o["type"]] = types.get(o["type"], 0) + 1
    check(revisits == 0, "paging: no object repeated (%d repeats)" % revisits)
    check(types.get("indicator") == n_ind,
          "paging: all %d indicators in %d pages (%s)" % (n_ind, pages, types))
    check(types.get("marking-definition") == 3 and types.get("identity") == 1
          and types.get("extension-definition") == 1,
          "the markings of the 3 labels, the TLP extension, the origin")
    marks = {m["id"]: m["name"] for m in seen.values()
             if m["type"] == "marking-definition"}
    unmarked = [o["id"] for o in seen.values() if o["type"] == "indicator"
                and len(o.get("object_marking_refs", [])) != 1]
    check(not unmarked and len(marks) == 3,
          "every indicator carries one TLP 2.0 marking (%d without)" % len(unmarked))

    # manifest, paged with next too: same ids
    man = []
    for env in as_pages(feed.get_manifest, per_request=1000):
        man.extend(env.get("objects", []))
    check(len(man) == len(seen) and {m["id"] for m in man} == set(seen),
          "manifest pages list the same %d objects" % len(seen))

    # match[type]
    got = []
    for env in as_pages(feed.get_objects, per_request=1000, type="indicator"):
        got.extend(env.get("objects", []))
    check(len(got) == n_ind and all(o["type"] == "indicator" for o in got),
          "match[type]=indicator: %d indicators only" % len(got))
    env = feed.get_objects(type=["identity", "marking-definition"])
    check(sorted(o["type"] for o in env["objects"]) ==
          ["identity"] + ["marking-definition"] * 3,
          "match[type] comma list")

    # added_after: strictly later date_added than the cut
    added = sorted(m["date_added"] for m in man)
    cut = added[len(added) // 2]
    want = sum(1 for a in added if a > cut)
    got = []
    for env in as_pages(feed.get_manifest, per_request=1000, added_after=cut):
        got.extend(env.get("objects", []))
    check(len(got) == want and all(m["date_added"] > cut for m in got),
          "added_after=%s: %d of %d objects" % (cut, len(got), want))
    env = feed.get_objects(added_after="2999-01-01T00:00:00.000Z")
    check(not env.get("objects") and env.get("more") is False,
          "added_after in the future: an empty envelope")

    # a label's collection holds only that label (plus shared objects)
    green = marks and [k for k, v in marks.items() if v == "TLP:GREEN"][0]
    gobj = []
    for env in as_pages(cols["tlp-green"].get_objects, per_request=1000):
        gobj.extend(env.get("objects", []))
    bad = [o["id"] for o in gobj if o["type"] == "indicator"
           and o.get("object_marking_refs") != [green]]
    check(gobj and not bad and sum(1 for o in gobj if o["type"] == "indicator")
          == sum(1 for o in seen.values() if o["type"] == "indicator"
                 and o["object_marking_refs"] == [green]),
          "tlp-green holds exactly the GREEN indicators")

    # object by id and its versions
    some = next(o for o in seen.values() if o["type"] == "indicator")
    env = feed.get_object(some["id"])
    check([o["id"] for o in env["objects"]] == [some["id"]], "objects/<id>/")
    vers = feed.object_versions(some["id"])
    check(vers.get("versions") == [some["modified"]], "objects/<id>/versions/")
    check(status_of(lambda: feed.get_object("indicator--00000000-0000-4000-8000-"
                                            "ffffffffffff")) == 404,
          "an unknown object: 404")

    # credentials
    check(status_of(lambda: collections(USER, "wrong")) == 401,
          "wrong password: 401")
    check(status_of(lambda: collections("nobody", "x")) == 401,
          "unknown user: 401")
    check(status_of(lambda: collections("nco", "nco-example-password")) == 403,
          "a user of another participant: 403")
    r = requests.get(base + "/taxii2/")
    check(r.status_code == 401 and "Basic" in r.headers.get("WWW-Authenticate", ""),
          "no credentials: 401 with WWW-Authenticate")

    # malformed parameters: 400 with a TAXII error body
    url = feed.url + "objects/"
    for q in ("limit=abc", "limit=0", "limit=-5", "added_after=yesterday",
              "added_after=2026-13-01T00:00:00Z", "match[version]=newest",
              "match[version]=last,", "next=xyz", "match[type]=Bad Type"):
        r = requests.get(url + "?" + q, auth=(USER, PASS),
                         headers={"Accept": "application/taxii+json;version=2.1"})
        body = r.json() if r.headers.get("Content-Type", "").startswith(
            "application/taxii+json") else {}
        check(r.status_code == 400 and body.get("http_status") == "400"
              and body.get("title") and body.get("description"),
              "%s: 400 with a TAXII error (%s)" % (q, body.get("description")))
    r = requests.get(url, auth=(USER, PASS), headers={"Accept": "text/html"})
    check(r.status_code == 406, "Accept: text/html: 406")
    r = requests.get(base + "/cishare/collections/00000000-0000-4000-8000-"
                     "000000000000/objects/", auth=(USER, PASS))
    check(r.status_code == 404, "an unknown collection: 404")

    # the MISP feed folder, same credentials, plain file names only
    r = requests.get(base + "/misp/manifest.json", auth=(USER, PASS))
    check(r.status_code == 200 and "5f0c0000-0000-4000-8000-000000000001" in r.json(),
          "/misp/manifest.json: the MISP feed's file")
    check(requests.get(base + "/misp/manifest.json").status_code == 401,
          "/misp/ without credentials: 401")
    for bad in ("..%2Fsecret.txt", "%2E%2E/secret.txt", ".hidden", "nope.json"):
        r = requests.get(base + "/misp/" + bad, auth=(USER, PASS))
        check(r.status_code == 404 and "secret" not in r.text,
              "/misp/%s: 404" % bad)
    s = requests.Session()
    req = requests.Request("GET", base + "/misp/../secret.txt", auth=(USER, PASS)).prepare()
    req.url = base + "/misp/../secret.txt"  # as sent, not normalised
    r = s.send(req)
    check(r.status_code == 404 and "secret" not in r.text, "/misp/../secret.txt: 404")

elif phase == "revoked":
    feed = collections()["feed"]
    rid, last = stix_id("indicator", "op-power-a", sys.argv[4]), None
    for _ in range(300):  # the server indexes new feed output every second
        last = feed.get_object(rid)["objects"][0]
        if last.get("revoked"):
            break
        time.sleep(0.2)
    check(last.get("revoked") is True, "the revoked indicator is served revoked")
    vers = feed.object_versions(rid)["versions"]
    check(len(vers) == 2 and vers[1] > vers[0] and last["modified"] == vers[1],
          "as a new, later version (%s)" % vers)
    env = feed.get_object(rid, version="first")
    check(not env["objects"][0].get("revoked"), "match[version]=first: the original")
    env = feed.get_objects(id=rid, version="all")
    check(len(env["objects"]) == 2, "match[id] with match[version]=all: both versions")

elif phase == "tls":
    # certificates made by taxii_serve.sh in folder argv[4]
    d = sys.argv[4]
    url = base + "/taxii2/"

    def get(cert=None, auth=None):
        return requests.get(url, cert=cert, auth=auth, verify=d + "/ca.crt",
                            headers={"Accept": "application/taxii+json;version=2.1"})
    r = get((d + "/b.crt", d + "/b.key"))
    check(r.status_code == 200 and r.json()["api_roots"][0].startswith("https://"),
          "TLS: a client certificate of the CA naming op-power-b: 200")
    check(get((d + "/a.crt", d + "/a.key")).status_code == 403,
          "TLS: a client certificate naming another participant: 403")
    check(get((d + "/self.crt", d + "/self.key")).status_code == 401,
          "TLS: a certificate the CA did not issue: 401")
    check(get(None, (USER, PASS)).status_code == 200,
          "TLS: basic authentication over TLS: 200")
    # the api root's own connection verifies with requests' defaults
    os.environ["REQUESTS_CA_BUNDLE"] = d + "/ca.crt"
    cols = Server(url, user=USER, password=PASS).api_roots[0].collections
    check(len(cols) == 4, "TLS: taxii2-client lists the collections")

sys.exit(1 if fails else 0)
