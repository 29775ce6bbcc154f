"""Interop check with an independent Avro library (fastavro), driven by
tests/cli/interop_fastavro.sh. Uses only schemas/*.avsc and the cishare
binary: fingerprints and canonical forms must agree, fastavro must decode
every example's bytes and re-encode them to the same bytes, and every field
of every schema must have a doc."""
import datetime
import io
import json
import os
import struct
import subprocess
import sys

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

BIN = os.environ["CISHARE_BIN"]
SRC = os.environ["CISHARE_SRC"]
TYPES = {"indicator": "Indicator", "incident": "IncidentNotice",
         "alert": "Alert", "sighting": "Sighting",
         "revocation": "Revocation", "receipt": "Receipt"}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def check_docs(name, node, where):
    if isinstance(node, list):
        for b in node:
            check_docs(name, b, where)
    elif isinstance(node, dict):
        t = node.get("type")
        if t in ("record", "error"):
            if not node.get("doc"):
                fail(f"{name}: record {node.get('name')} has no doc")
            for f in node.get("fields", []):
                if not f.get("doc"):
                    fail(f"{name}: field {where}{f['name']} has no doc")
                check_docs(name, f["type"], f"{where}{f['name']}.")
        elif t == "enum":
            if not node.get("doc"):
                fail(f"{name}: enum {node.get('name')} has no doc")
        elif t == "array":
            check_docs(name, node["items"], where)
        elif t == "map":
            check_docs(name, node["values"], where)
        elif isinstance(t, (dict, list)):
            check_docs(name, t, where)


def run(*args, stdin=None):
    return subprocess.run([BIN, *args], input=stdin, capture_output=True,
                          check=True).stdout


def to_ms(v):
    if isinstance(v, datetime.datetime):
        return int(v.timestamp() * 1000 + 0.5) if v.timestamp() >= 0 else \
            round(v.timestamp() * 1000)
    return v


# Spec vector (schema-tests.txt): "null" has fingerprint 7195948357588979594.
assert int.from_bytes(bytes.fromhex(fingerprint('"null"', "CRC-64-AVRO")),
                      "little") == 7195948357588979594

listing = run("schema", "list").decode().splitlines()[1:]
# current schemas; older versions (schemas/history/) are listed after them
ours = {l.split()[0]: (l.split()[1], l.split()[2], l.split()[3])
        for l in listing if not l.split()[1].startswith("history/")}
for l in listing:
    t, name, fp_hex = l.split()[:3]
    if name.startswith("history/"):
        with open(os.path.join(SRC, "schemas", name), encoding="utf-8") as fh:
            pcf = to_parsing_canonical_form(fastavro.parse_schema(json.load(fh)))
        fp = int.from_bytes(bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO")), "little")
        if fp_hex != "%016x" % fp:
            fail(f"{name}: fingerprint ours {fp_hex} fastavro {fp:016x}")
        else:
            print(f"ok {name}: fingerprint {fp_hex} (an older version)")
checked = 0
for t, base in TYPES.items():
    path = os.path.join(SRC, "schemas", base + ".avsc")
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    check_docs(base + ".avsc", raw, "")
    parsed = fastavro.parse_schema(raw)
    pcf = to_parsing_canonical_form(parsed)
    # fastavro gives the fingerprint as the hex of its 8 little-endian bytes
    # (the wire order); checked on the spec's vector for "null" below.
    fp_wire = bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO"))
    fp = int.from_bytes(fp_wire, "little")
    name, our_fp, our_header = ours[t]
    if name != raw["namespace"] + "." + raw["name"]:
        fail(f"{t}: schema name {name}")
    if our_fp != "%016x" % fp:
        fail(f"{t}: fingerprint ours {our_fp} fastavro {fp:016x}")
    header = b"\xc3\x01" + struct.pack("<Q", fp)
    if our_header != header.hex():
        fail(f"{t}: header ours {our_header} expected {header.hex()}")
    our_pcf = run("schema", "show", t).decode().strip()
    if our_pcf != pcf:
        fail(f"{t}: canonical form differs\n ours {our_pcf}\n fast {pcf}")

    example = os.path.join(SRC, "schemas", "examples", t + "-example.json")
    value = run("encode", example)
    if value[:10] != header:
        fail(f"{t}: encoded header {value[:10].hex()} != {header.hex()}")
    body = value[10:]
    record = fastavro.schemaless_reader(io.BytesIO(body), parsed, None)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record)
    if out.getvalue() != body:
        fail(f"{t}: fastavro re-encoding differs")
    # fastavro's record and our decode agree field by field.
    ours_json = json.loads(run("decode", "-c", "-", stdin=value))["payload"]
    for k, v in record.items():
        ov = ours_json[k]
        if isinstance(v, datetime.datetime):
            ov = int(datetime.datetime.fromisoformat(
                ov.replace("Z", "+00:00")).timestamp() * 1000)
            v = to_ms(v)
        if ov != v:
            fail(f"{t}: field {k}: ours {ov!r} fastavro {v!r}")
    # And fastavro's own encoding of the record decodes with cishare.
    back = json.loads(run("decode", "-c", "-", stdin=header + out.getvalue()))
    if back["payload"] != ours_json:
        fail(f"{t}: cishare decode of fastavro bytes differs")
    checked += 1
    print(f"ok {t}: fingerprint {our_fp}, {len(value)} bytes")

# The decode example of schemas/README.md ("Byte order") runs as written:
# exec it from the README and decode each example with it.
readme = open(os.path.join(SRC, "schemas", "README.md"), encoding="utf-8").read()
snippet = readme.split("**Byte order.**", 1)[1].split("```python", 1)[1]
snippet = "\n".join(l[2:] for l in snippet.split("```", 1)[0].splitlines())
cwd = os.getcwd()
os.chdir(SRC)
ns = {}
exec(snippet, ns)
os.chdir(cwd)
for t in TYPES:
    value = run("encode", os.path.join(SRC, "schemas", "examples",
                                       t + "-example.json"))
    fp_hdr = [ours[t][1]]
    rec = ns["decode"](value, {"cishare.schema": fp_hdr[0].encode()})
    if not isinstance(rec, dict) or not rec:
        fail(f"{t}: the README's decode example did not decode it")
print("ok the README's fastavro decode example decodes every example")

if checked != len(TYPES) or failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("fastavro interop: all", checked, "types agree")
