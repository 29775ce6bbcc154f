"""A fake MISP publisher for tests/kafka/misp_bridge.sh: what MISP's Kafka
plugin writes to Plugin.Kafka_event_publish_notifications_topic when an
event is published (KafkaPubTool::publishJson: json_encode of the fetched
event, {"Event": {...}}, with "action": "publish"; no key), built from the
real MISP samples. Every uuid is remapped per run (uuid5 of the nonce), so
that runs on one broker do not mix.

Arguments: the admin client config (key=value), the topic, the samples
folder, the nonce, and the file to write the expectations to (JSON:
subject ids per event, with their to_ids).
"""
import json
import sys
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

conf_file, topic, samples, nonce, expect_file = sys.argv[1:6]
conf = {}
for line in open(conf_file):
    line = line.strip()
    if line and not line.startswith("#") and "=" in line:
        k, v = line.split("=", 1)
        conf[k.strip()] = v.strip()

ns = uuid.uuid5(uuid.NAMESPACE_URL, "cishare-misp-bridge-test-" + nonce)


def remap(v):
    """Every "uuid" in the event, replaced by a per-run one."""
    if isinstance(v, dict):
        return {k: (str(uuid.uuid5(ns, x)) if k == "uuid" and isinstance(x, str)
                    else remap(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [remap(x) for x in v]
    return v


def event(name):
    return remap(json.load(open(f"{samples}/misp/{name}"))["Event"])


def indicators(ev):
    """(indicator id, to_ids) of every observable attribute, objects too."""
    out = []
    attrs = list(ev.get("Attribute", []))
    for o in ev.get("Object", []):
        attrs += o.get("Attribute", [])
    for a in attrs:
        if a.get("type") in ("comment", "text", "other") or a.get("deleted"):
            continue
        out.append(("indicator--" + a["uuid"], bool(a.get("to_ids"))))
    return out


admin = AdminClient(conf)
for f in admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]).values():
    f.result(timeout=30)

# 1. GREEN-ish public event (tlp:white): CLEAR, audience all.
clear = event("circl-osint-xorist-ransomware.json")
# 2. The same kind of event kept to MISP's "your organisation only"
#    (distribution 0): AMBER+STRICT, its sector only (electricity).
strict = event("circl-m2m-dridex.json")
strict["distribution"] = "0"
# 3. A deletion notification (MISP writes those to the same topic).
deleted = event("circl-osint-qakbot-emotet.json")

msgs = [
    json.dumps({"Event": clear, "action": "publish"}).encode(),
    json.dumps({"Event": strict, "action": "publish"}).encode(),
    json.dumps({"Event": deleted, "action": "delete"}).encode(),
    b'{"Event": {"uuid": "truncated',            # not JSON
    json.dumps({"Attribute": []}).encode(),       # no "Event"
]
p = Producer(conf)
errors = []
for m in msgs:
    # MISP produces to RD_KAFKA_PARTITION_UA without a key; one partition
    # here so that the order below is the topic's order
    p.produce(topic, m, partition=0,
              on_delivery=lambda e, _m: errors.append(e) if e else None)
p.flush(30)
if errors:
    sys.exit(f"produce failed: {errors}")
json.dump({"clear": indicators(clear), "strict": indicators(strict),
           "deleted": indicators(deleted), "n": len(msgs)},
          open(expect_file, "w"))
print(f"ok - fake MISP published {len(msgs)} messages to {topic}")
