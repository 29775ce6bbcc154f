"""What an outside Kafka client (confluent-kafka for Python, its own
librdkafka) may do with a participant's certificate on cishare's cluster:
exactly what the ACLs from `cishare provision` allow, and nothing without a
certificate. Arguments: the kcat-style config files (key=value) of
op-power-a and of a client without a certificate, the subject of a message
cishare published to cishare.amber.electricity, and the run nonce."""
import sys

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

conf_file, nocert_file, subject, nonce = sys.argv[1:5]
fails = 0


def ok(msg):
    print(f"ok - {msg}")


def bad(msg):
    global fails
    fails += 1
    print(f"not ok - {msg}")


def load(path):
    conf = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            conf[k.strip()] = v.strip()
    return conf


def read_all(conf, topic, group):
    """Every message of topic, or the KafkaError that stopped the read."""
    c = Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=20)
        t = md.topics[topic]
        if t.error is not None:
            return t.error
        c.assign([TopicPartition(topic, p, 0) for p in t.partitions])
        out, idle = [], 0
        while idle < 3:
            m = c.poll(2.0)
            if m is None:
                idle += 1
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                return m.error()
            out.append(m)
        return out
    except KafkaException as e:
        return e.args[0]
    finally:
        c.close()


conf = load(conf_file)
# 1 allowed: its own sector's AMBER topic, with cishare's envelope headers.
got = read_all(conf, "cishare.amber.electricity", f"cishare-feed-op-power-a.interop-{nonce}-1")
if isinstance(got, list) and any(m.key() == subject.encode() for m in got):
    m = next(m for m in got if m.key() == subject.encode())
    hdrs = dict(m.headers() or [])
    # layout 2: "<type> <tlp> <origin>" in plain text (layout 1: one each)
    label = hdrs.get("cishare", b"").split(b" ")
    if (label[1:] == [b"amber", b"op-power-b"] or
            (hdrs.get("cishare.origin") == b"op-power-b"
             and hdrs.get("cishare.tlp") == b"amber")):
        ok("op-power-a reads cishare's message on cishare.amber.electricity, headers intact")
    else:
        bad(f"headers of {subject}: {hdrs}")
else:
    bad(f"op-power-a could not read its sector's AMBER topic: {got}")

# 2 denied: another sector's AMBER topic and another participant's inbox.
for topic in ("cishare.amber.finance", "cishare.inbox.op-bank-a"):
    got = read_all(conf, topic, f"cishare-feed-op-power-a.interop-{nonce}-2")
    if isinstance(got, KafkaError) and got.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
        ok(f"op-power-a reading {topic}: topic authorization failed")
    else:
        bad(f"op-power-a reading {topic}: {got if not isinstance(got, list) else f'{len(got)} messages'}")

# 3 denied write: another sector's topic. Allowed write: jpcert's inbox.
for topic, want in (("cishare.green.finance", KafkaError.TOPIC_AUTHORIZATION_FAILED),
                    ("cishare.inbox.jpcert", None)):
    res = []
    p = Producer({**conf, "message.timeout.ms": 20000})
    p.produce(topic, value=f"interop-{nonce}".encode(), on_delivery=lambda e, m: res.append(e))
    p.flush(30)
    err = res[0] if res else "no delivery report"
    code = err.code() if isinstance(err, KafkaError) else err
    if code == want:
        ok(f"op-power-a writing {topic}: {'denied' if want else 'allowed'}")
    else:
        bad(f"op-power-a writing {topic}: {err}")

# 4 no certificate: no metadata at all.
try:
    c = Consumer({**load(nocert_file), "group.id": f"interop-{nonce}-4"})
    c.list_topics(timeout=10)
    bad("a client without a certificate got metadata")
except KafkaException as e:
    ok(f"without a certificate: no metadata ({e.args[0].name()})")

print(f"# {fails} failure(s)")
sys.exit(1 if fails else 0)
