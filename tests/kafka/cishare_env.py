"""Helpers of the kafka tests' Python snippets (tests/kafka/*.sh are the
tests): envelope fields of a Kafka message's headers, in either header
layout (schemas/README.md, "Envelope headers"): layout 1 (one text header
per field, what releases before issue 17 write) and layout 2 (text
"cishare": "<type> <tlp> <origin>", binary "cishare.env"); and every
record of a topic, read with confluent-kafka, an outside client.

    import os, sys
    sys.path.insert(0, os.environ["CISHARE_SRC"] + "/tests/kafka")
    from cishare_env import fields, records
    for m in records(conf_path, "cishare.inbox.nco"):
        f = fields(m.headers())   # f["id"], f["type"], f["origin"], ...
"""
import struct
import uuid

ALGS = {1: "ed25519", 2: "ed25519-merkle"}


def rdkafka_conf(path):
    """A librdkafka properties file (admin.rdkafka.conf, a kcat conf) as a
    dict."""
    c = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            c[k] = v
    return c


def records(conf_path, topic, group="cishare-test", timeout=20):
    """Every record of topic, from the start of each partition to its end,
    in partition order. A group of its own (group + a uuid: the
    participant's ACLs name the prefix), nothing committed."""
    from confluent_kafka import Consumer, TopicPartition
    c = dict(rdkafka_conf(conf_path), **{
        "group.id": f"{group}-{uuid.uuid4()}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "enable.partition.eof": True})
    cons = Consumer(c)
    md = cons.list_topics(topic, timeout=timeout).topics[topic]
    parts = [TopicPartition(topic, p, 0) for p in md.partitions]
    cons.assign(parts)
    left, out = len(parts), []
    while left:
        m = cons.poll(timeout)
        if m is None:
            cons.close()
            raise TimeoutError(f"timeout reading {topic}")
        if m.error():
            left -= 1
            continue
        out.append(m)
    cons.close()
    return out


def body(env):
    """The body of a cishare.env value: tag 0x02, 2 length bytes
    (0x80 | 7 bits each), then COBS of the body (no 0x00 byte)."""
    assert env[0] == 2, f"cishare.env layout {env[0]}"
    assert ((env[1] & 0x7f) << 7 | (env[2] & 0x7f)) == len(env) - 3
    out, i, e = bytearray(), 3, env
    while i < len(e):
        code = e[i]
        out += e[i + 1:i + code]
        i += code
        if i < len(e) and code != 0xff:
            out.append(0)
    return bytes(out)


def fields(headers):
    """dict: layout (1 or 2), id, type, tlp, origin, sector, audience,
    kid (16 hex), alg, created_ms, expires_ms (0: never), encrypted."""
    h = {}
    for k, v in headers or []:
        if k.startswith("cishare") and k != "cishare.relay":
            h[k] = v or b""
    if "cishare.env" not in h:
        f = {k[len("cishare."):]: v.decode() for k, v in h.items()}
        f["layout"] = 1
        f["encrypted"] = "enc" in f
        return f
    typ, tlp, origin = h["cishare"].decode().split(" ")
    e = body(h["cishare.env"])
    flags = e[1]
    mid = e[2:18]
    (schema,) = struct.unpack(">Q", e[18:26])
    created = int.from_bytes(e[26:32], "big")
    o = 32
    expires = 0
    if flags & 1:
        expires = int.from_bytes(e[o:o + 6], "big")
        o += 6
    kid = e[o:o + 8]
    o += 8
    sl = e[o]
    sector = e[o + 1:o + 1 + sl].decode()
    o += 1 + sl
    (al,) = struct.unpack(">H", e[o:o + 2])
    audience = e[o + 2:o + 2 + al].decode()
    return {"layout": 2, "id": str(uuid.UUID(bytes=mid)), "type": typ,
            "tlp": tlp, "origin": origin, "sector": sector,
            "audience": audience, "schema": "%016x" % schema,
            "kid": kid.hex(), "alg": ALGS.get(e[0], "?"),
            "created_ms": created, "expires_ms": expires,
            "encrypted": bool(flags & 6)}
