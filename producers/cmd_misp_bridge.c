/*
 * cishare misp-bridge: MISP's own publishing output (its Kafka plugin's
 * event publish notifications) in, signed cishare messages out, as the
 * configured participant. The MISP importer maps each event and the
 * publishing stream (pubstream.h) sends it; a MISP message's offset is
 * committed only once every cishare message made from it is acknowledged
 * by the framework's brokers, so a restart loses nothing.
 */
#include "publish_cli.h"
#include "pubstream.h"

#include "cishare/cli.h"
#include "cishare/identity.h"
#include "cishare/importer.h"
#include "cishare/kafka_errors.h"
#include "cishare/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BRIDGE_GROUP      "cishare-misp-bridge"
#define BRIDGE_TOPIC      "misp_event_publish"
#define BRIDGE_QUARANTINE "misp-bridge-rejected.jsonl"

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare misp-bridge -c CONFIG --misp-conf FILE [options]\n"
        "\n"
        "Publish the events a MISP instance publishes, as the configured\n"
        "participant: MISP's Kafka plugin writes every published event to "
        "a topic\n"
        "(Plugin.Kafka_event_publish_notifications_enable, topic\n"
        "Plugin.Kafka_event_publish_notifications_topic) as its JSON\n"
        "{\"Event\": {...}, \"action\": \"publish\"}; the bridge reads it, "
        "maps each\n"
        "event as `cishare publish --format misp` does (distribution and "
        "tlp: tags\n"
        "to labels and audiences; attributes with to_ids false are not "
        "indicators;\n"
        "producers/importers/README.md), signs and publishes.\n"
        "\n"
        "Why Kafka rather than MISP's ZeroMQ output: no new dependency "
        "(librdkafka\n"
        "is cishare's client already), and Kafka keeps what MISP wrote. "
        "The bridge\n"
        "commits a MISP message's offset only once every cishare message "
        "made from\n"
        "it is acknowledged by the framework's brokers, so a bridge that "
        "stops or\n"
        "crashes loses nothing: it resumes from the last event fully "
        "published.\n"
        "ZeroMQ PUB/SUB drops whatever is sent while the subscriber is "
        "down.\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE      the participant's config (as publish)\n"
        "  -X key=value           set one key of that config\n"
        "  -m, --misp-conf FILE   librdkafka properties of MISP's Kafka "
        "(key=value:\n"
        "                         bootstrap.servers, security.*, ssl.*, "
        "sasl.*;\n"
        "                         group.id default " BRIDGE_GROUP ",\n"
        "                         auto.offset.reset default earliest)\n"
        "  -T, --topic NAME       MISP's topic (default " BRIDGE_TOPIC ")\n"
        "  -t, --tlp LABEL        tighten every record's label (never "
        "loosen)\n"
        "  -a, --audience ITEM,.. audience of every record (default: per "
        "label)\n"
        "      --once             stop at the end of the topic (tests, "
        "catch-up)\n"
        "      --metrics ADDR:PORT Prometheus metrics at "
        "http://ADDR:PORT/metrics\n"
        "  -h, --help             show this help\n"
        "\n"
        "Output: one line per MISP message on stderr once it is done\n"
        "(\"%% <topic>[<partition>]@<offset>: event <uuid>: published N, "
        "...\"),\n"
        "every refused attribute as \"%% ERROR: <record>: <reason>\", "
        "and a summary.\n"
        "Only action \"publish\" is published (a \"delete\" is reported and "
        "skipped:\n"
        "use cishare revoke). A message that is not such an event "
        "(not JSON, no\n"
        "\"Event\" object) is reported with its topic, partition and "
        "offset, counted,\n"
        "and kept in <state-dir>/" BRIDGE_QUARANTINE
        ", and the bridge goes on.\n"
        "A message not delivered to the framework stops the bridge with "
        "its offset\n"
        "uncommitted: the next start publishes it again.\n"
        "Exit status: 0 all published; 1 something was refused, not "
        "delivered,\n"
        "or Kafka failed; 2 bad usage or config.\n");
}

/* A MISP message in flight: its outcomes come back in order, its mark
 * last. */
typedef struct inflight_s {
    int32_t partition;
    int64_t offset;
    char event[64]; /* the event's uuid, for the log line */
    size_t published, rejected, failed, skipped;
} inflight_t;

typedef struct bridge_s {
    rd_kafka_t *rk;
    const char *topic;
    cishare_pubstream_t *ps;
    cishare_stream_stats_t st;
    char quarantine[4200];
    /* FIFO of messages in flight: tag seq_first + i is fifo[i] */
    inflight_t *fifo;
    size_t nfifo, fifo_size;
    uint64_t seq_first, seq_next;
    rd_kafka_topic_partition_list_t *commit; /* offsets to commit */
    bool stop_commits; /* a message was not delivered: commit no more */
    bool fatal;
} bridge_t;

static inflight_t *inflight_of(bridge_t *b, uint64_t tag)
{
    return tag >= b->seq_first && tag - b->seq_first < b->nfifo
               ? &b->fifo[tag - b->seq_first]
               : NULL;
}

static void bridge_outcome(void *opaque, const cishare_pubstream_outcome_t *o)
{
    bridge_t *b = opaque;
    inflight_t *m = inflight_of(b, o->tag);

    cishare_stream_count(&b->st, o);
    if (!m)
        return;
    switch (o->status) {
    case CISHARE_PUBSTREAM_OK:
        m->published++;
        return;
    case CISHARE_PUBSTREAM_REJECTED:
        m->rejected++;
        cishare_cli_error("%s: %s", o->record, o->detail);
        return;
    case CISHARE_PUBSTREAM_FAILED:
        m->failed++;
        cishare_cli_error("%s: %s", o->record, o->detail);
        return;
    case CISHARE_PUBSTREAM_SKIPPED:
        m->skipped++;
        return;
    case CISHARE_PUBSTREAM_MARK:
        break;
    }
    /* the whole message is done */
    if (m->failed && !b->stop_commits) {
        b->stop_commits = true;
        cishare_cli_error("%s[%d]@%lld: not delivered: stopping, offset not "
                          "committed (the next start publishes it again)",
                          b->topic, (int)m->partition, (long long)m->offset);
    }
    cishare_cli_info("%s[%d]@%lld: event %s: published %zu, rejected %zu, "
                     "failed %zu, skipped %zu%s",
                     b->topic, (int)m->partition, (long long)m->offset,
                     m->event[0] ? m->event : "-", m->published, m->rejected,
                     m->failed, m->skipped,
                     b->stop_commits ? "" : "; committed");
    if (!b->stop_commits) {
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
            b->commit, b->topic, m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(b->commit, b->topic,
                                                  m->partition);
        p->offset = m->offset + 1;
    }
    /* the FIFO's head: marks come in order */
    memmove(b->fifo, b->fifo + 1, (b->nfifo - 1) * sizeof(*b->fifo));
    b->nfifo--;
    b->seq_first++;
}

/* Commit what is done (synchronously: the next start begins there). */
static void bridge_commit(bridge_t *b)
{
    rd_kafka_resp_err_t err;

    if (!b->commit->cnt)
        return;
    if ((err = rd_kafka_commit(b->rk, b->commit, 0)))
        cishare_cli_error("%s: cannot commit offsets: %s (these events "
                          "will be published again after a restart)",
                          b->topic, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(b->commit);
    b->commit = rd_kafka_topic_partition_list_new(4);
}

/* Keep a malformed message in the quarantine file, one JSON line:
 * {"topic","partition","offset","error","value"|"value_base64"}. */
static bool quarantine(bridge_t *b, const rd_kafka_message_t *km,
                       const char *error)
{
    json_t *o = json_object(), *v = NULL;
    char *line = NULL;
    int fd = -1;
    bool ok = false;

    if (!o)
        return false;
    json_object_set_new(o, "topic", json_string(b->topic));
    json_object_set_new(o, "partition", json_integer(km->partition));
    json_object_set_new(o, "offset", json_integer(km->offset));
    json_object_set_new(o, "error", json_string(error));
    if (km->len && km->payload && (v = json_stringn(km->payload, km->len))) {
        json_object_set_new(o, "value", v);
    } else if (km->len && km->payload) {
        size_t n =
            sodium_base64_ENCODED_LEN(km->len, sodium_base64_VARIANT_ORIGINAL);
        char *s = malloc(n);
        if (s) {
            sodium_bin2base64(s, n, km->payload, km->len,
                              sodium_base64_VARIANT_ORIGINAL);
            json_object_set_new(o, "value_base64", json_string(s));
            free(s);
        }
    }
    if (!(line = json_dumps(o, JSON_COMPACT)))
        goto out;
    fd = open(b->quarantine, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    {
        size_t len = strlen(line);
        line[len] = '\n'; /* json_dumps's NUL, replaced */
        ok = write(fd, line, len + 1) == (ssize_t)(len + 1) && !fsync(fd);
    }
out:
    if (fd >= 0 && close(fd))
        ok = false;
    free(line);
    json_decref(o);
    return ok;
}

/* One MISP message into the stream: its records, then its mark. */
static cishare_err_t bridge_message(bridge_t *b, const rd_kafka_message_t *km)
{
    cishare_import_result_t imp;
    inflight_t *m;
    json_error_t jerr;
    json_t *root = NULL, *ev = NULL;
    const char *action;
    char name[300], errstr[1024], why[1200];
    uint64_t tag = b->seq_next++;
    cishare_err_t err = CISHARE_OK;

    if (b->nfifo == b->fifo_size) {
        size_t ns = b->fifo_size ? b->fifo_size * 2 : 64;
        inflight_t *n = realloc(b->fifo, ns * sizeof(*n));
        if (!n)
            return CISHARE_ERR_NOMEM;
        b->fifo = n;
        b->fifo_size = ns;
    }
    m = &b->fifo[b->nfifo++];
    memset(m, 0, sizeof(*m));
    m->partition = km->partition;
    m->offset = km->offset;
    snprintf(name, sizeof(name), "%s[%d]@%lld", b->topic, (int)km->partition,
             (long long)km->offset);

    why[0] = '\0';
    if (!km->payload || !km->len)
        snprintf(why, sizeof(why), "empty message");
    else if (km->len > CISHARE_IMPORT_MAX_SIZE)
        snprintf(why, sizeof(why), "larger than %u bytes",
                 CISHARE_IMPORT_MAX_SIZE);
    else if (!(root = json_loadb(km->payload, km->len, JSON_REJECT_DUPLICATES,
                                 &jerr)))
        snprintf(why, sizeof(why), "not JSON: line %d, column %d: %s",
                 jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(ev = json_object_get(root, "Event")))
        snprintf(why, sizeof(why),
                 "not a MISP event publish notification (no \"Event\" "
                 "object)");
    if (why[0]) {
        bool kept = quarantine(b, km, why);
        char detail[5600];
        snprintf(detail, sizeof(detail), "malformed MISP message: %s (%s %s)",
                 why, kept ? "kept in" : "could not be kept in", b->quarantine);
        json_decref(root);
        /* not kept: fail it, so that its offset is not committed */
        if ((err = cishare_pubstream_add_issue(
                 b->ps, tag,
                 kept ? CISHARE_PUBSTREAM_REJECTED : CISHARE_PUBSTREAM_FAILED,
                 name, kept ? "malformed MISP message" : "not quarantined",
                 detail)))
            return err;
        return cishare_pubstream_add_mark(b->ps, tag);
    }
    snprintf(m->event, sizeof(m->event), "%s",
             json_string_value(json_object_get(ev, "uuid"))
                 ? json_string_value(json_object_get(ev, "uuid"))
                 : "");
    action = json_string_value(json_object_get(root, "action"));
    if (action && strcmp(action, "publish")) {
        snprintf(why, sizeof(why),
                 "MISP action '%s', not a publication (for a deleted event, "
                 "use cishare revoke)",
                 action);
        json_decref(root);
        if ((err = cishare_pubstream_add_issue(b->ps, tag,
                                               CISHARE_PUBSTREAM_SKIPPED, name,
                                               "not a publication", why)))
            return err;
        return cishare_pubstream_add_mark(b->ps, tag);
    }
    json_decref(root);
    /* The MISP importer, on the message in memory ({"Event": ...} is one
     * of its shapes): the same mapping as `publish --format misp`. */
    cishare_import_result_init(&imp);
    err = cishare_import_buf(name, km->payload, km->len, CISHARE_IMPORT_MISP,
                             &imp, errstr, sizeof(errstr));
    if (err == CISHARE_ERR_NOMEM) {
        cishare_import_result_clear(&imp);
        return err;
    }
    if (err)
        err =
            cishare_pubstream_add_issue(b->ps, tag, CISHARE_PUBSTREAM_REJECTED,
                                        name, "malformed MISP event", errstr);
    else
        err = cishare_pubstream_add_import(b->ps, tag, &imp);
    cishare_import_result_clear(&imp);
    return err ? err : cishare_pubstream_add_mark(b->ps, tag);
}

/* --once: every partition assigned to us is at its end. */
static bool at_end(bridge_t *b, const rd_kafka_topic_partition_list_t *eof)
{
    rd_kafka_topic_partition_list_t *as = NULL;
    bool end;
    int i;

    if (rd_kafka_assignment(b->rk, &as) || !as)
        return false;
    end = as->cnt > 0;
    for (i = 0; end && i < as->cnt; i++)
        end = rd_kafka_topic_partition_list_find(
                  eof, as->elems[i].topic, as->elems[i].partition) != NULL;
    rd_kafka_topic_partition_list_destroy(as);
    return end;
}

/* The consumer of MISP's Kafka. */
static int bridge_consumer(bridge_t *b, const char *misp_conf)
{
    cishare_config_t *mc = cishare_config_new();
    rd_kafka_conf_t *kc = NULL;
    rd_kafka_topic_partition_list_t *sub;
    char errstr[1024];
    int rc = CISHARE_EXIT_USAGE;

    if (!mc)
        return CISHARE_EXIT_FAIL;
    if (cishare_config_load(mc, misp_conf, errstr, sizeof(errstr))) {
        cishare_cli_error("--misp-conf: %s", errstr);
        goto out;
    }
    if (!(kc = cishare_config_kafka_conf(mc, errstr, sizeof(errstr)))) {
        cishare_cli_error("--misp-conf %s: %s", misp_conf, errstr);
        goto out;
    }
    /* offsets: committed by hand, once published (bridge_outcome) */
    if ((!cishare_config_get_kafka(mc, "group.id") &&
         rd_kafka_conf_set(kc, "group.id", BRIDGE_GROUP, errstr,
                           sizeof(errstr))) ||
        (!cishare_config_get_kafka(mc, "auto.offset.reset") &&
         rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", errstr,
                           sizeof(errstr))) ||
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                          sizeof(errstr)) ||
        rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", errstr,
                          sizeof(errstr)) ||
        rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr,
                          sizeof(errstr))) {
        cishare_cli_error("--misp-conf %s: %s", misp_conf, errstr);
        goto out;
    }
    if (!(b->rk =
              rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr)))) {
        cishare_cli_error("MISP's Kafka: %s", errstr);
        rc = CISHARE_EXIT_FAIL;
        goto out;
    }
    kc = NULL;
    rd_kafka_poll_set_consumer(b->rk);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, b->topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(b->rk, sub)) {
        cishare_cli_error("cannot subscribe to %s", b->topic);
        rd_kafka_topic_partition_list_destroy(sub);
        rc = CISHARE_EXIT_FAIL;
        goto out;
    }
    rd_kafka_topic_partition_list_destroy(sub);
    rc = CISHARE_EXIT_OK;
out:
    if (kc)
        rd_kafka_conf_destroy(kc);
    cishare_config_destroy(mc);
    return rc;
}

int cishare_cmd_misp_bridge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"misp-conf", required_argument, NULL, 'm'},
        {"topic", required_argument, NULL, 'T'},
        {"tlp", required_argument, NULL, 't'},
        {"audience", required_argument, NULL, 'a'},
        {"once", no_argument, NULL, 'O'},
        {"metrics", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_publish_conf_opts_t co = {0};
    cishare_publish_opt_t po;
    cishare_publisher_t *pub = NULL;
    cishare_metrics_t *metrics = NULL;
    rd_kafka_topic_partition_list_t *eof = NULL;
    bridge_t b;
    const char *misp_conf = NULL, *audience = NULL, *listen = NULL;
    const char *mt;
    char errstr[1024], dir[4096];
    bool once = false, warned_topic = false;
    int c, tlp = -1, rc = CISHARE_EXIT_USAGE, next = -1;
    cishare_tlp_t t;

    memset(&b, 0, sizeof(b));
    b.topic = BRIDGE_TOPIC;
    cishare_stream_stats_init(&b.st, NULL);
    if (!conf) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:m:T:t:a:h", opts, NULL)) != -1) {
        po = cishare_publish_common_opt(&co, conf, "misp-bridge", c, optarg,
                                        usage, &rc);
        if (po == CISHARE_PUBLISH_OPT_EXIT)
            goto out;
        if (po == CISHARE_PUBLISH_OPT_TAKEN)
            continue;
        switch (c) {
        case 'm':
            misp_conf = optarg;
            break;
        case 'T':
            b.topic = optarg;
            break;
        case 't':
            if (!cishare_publish_tlp_opt("misp-bridge", optarg, &t, &rc))
                goto out;
            tlp = (int)t;
            break;
        case 'a':
            audience = optarg;
            break;
        case 'O':
            once = true;
            break;
        case 'M':
            listen = optarg;
            break;
        default:
            rc = cishare_cli_usage_error("misp-bridge", "bad option");
            goto out;
        }
    }
    if (!cishare_publish_args_finish(&co, conf, "misp-bridge", argc, argv))
        goto out;
    if (co.dry_run || co.verbose || co.print_json) {
        rc = cishare_cli_usage_error("misp-bridge", "bad option");
        goto out;
    }
    if (!misp_conf) {
        rc = cishare_cli_usage_error("misp-bridge",
                                     "--misp-conf FILE is required (the "
                                     "librdkafka properties of MISP's "
                                     "Kafka)");
        goto out;
    }
    if (cishare_identity_state_dir(conf, dir, sizeof(dir), errstr,
                                   sizeof(errstr))) {
        cishare_cli_error("%s", errstr);
        goto out;
    }
    snprintf(b.quarantine, sizeof(b.quarantine), "%s/%s", dir,
             BRIDGE_QUARANTINE);
    if ((rc = cishare_cli_metrics_start("misp-bridge", listen, "misp-bridge",
                                        &metrics)) != CISHARE_EXIT_OK)
        goto out;
    b.st.metrics = metrics;
    if ((rc = cishare_publish_open(conf, false, &pub)) != CISHARE_EXIT_OK)
        goto out;
    if ((rc = bridge_consumer(&b, misp_conf)) != CISHARE_EXIT_OK)
        goto out;
    if (!(b.ps = cishare_pubstream_new(pub, tlp, audience, 256, 100)) ||
        !(b.commit = rd_kafka_topic_partition_list_new(4)) ||
        !(eof = rd_kafka_topic_partition_list_new(4)))
        goto nomem;
    cishare_cli_info("bridging MISP's %s to the framework as %s%s", b.topic,
                     cishare_publisher_me(pub)->id,
                     once ? " until its end" : "");

    while (!cishare_cli_stop && !b.stop_commits && !b.fatal) {
        rd_kafka_message_t *km;
        int timeout = next < 0 || next > 200 ? 200 : next;

        /* a bounded number in flight: MISP events can be large */
        if (cishare_pubstream_outstanding(b.ps) < 100000 &&
            (km = rd_kafka_consumer_poll(b.rk, timeout))) {
            if (km->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (!rd_kafka_topic_partition_list_find(eof, b.topic,
                                                        km->partition))
                    rd_kafka_topic_partition_list_add(eof, b.topic,
                                                      km->partition);
            } else if (km->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                       km->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
                if (once) {
                    cishare_cli_error("%s: no such topic on MISP's Kafka",
                                      b.topic);
                    b.fatal = true;
                } else if (!warned_topic) {
                    cishare_cli_info("%s: no such topic yet; waiting for "
                                     "MISP to publish",
                                     b.topic);
                    warned_topic = true;
                }
            } else if (km->err) {
                cishare_cli_error("MISP's Kafka: %s",
                                  rd_kafka_message_errstr(km));
                if (cishare_kafka_err_is_authz(km->err) ||
                    km->err == RD_KAFKA_RESP_ERR__FATAL)
                    b.fatal = true;
            } else {
                rd_kafka_topic_partition_t *e =
                    rd_kafka_topic_partition_list_find(eof, b.topic,
                                                       km->partition);
                if (e)
                    rd_kafka_topic_partition_list_del(eof, b.topic,
                                                      km->partition);
                if (bridge_message(&b, km)) {
                    rd_kafka_message_destroy(km);
                    goto nomem;
                }
            }
            rd_kafka_message_destroy(km);
        } else if (next > 0) {
            cishare_publisher_poll(pub, next > 50 ? 50 : next);
        }
        if (cishare_pubstream_run(b.ps, false, bridge_outcome, &b, &next))
            goto nomem;
        bridge_commit(&b);
        if (once && !cishare_pubstream_outstanding(b.ps) && at_end(&b, eof))
            break;
    }
    mt = cishare_config_get_kafka(conf, "message.timeout.ms");
    if (cishare_pubstream_finish(b.ps, (mt ? atoi(mt) : 30000) + 5000,
                                 bridge_outcome, &b))
        goto nomem;
    bridge_commit(&b);
    rc = cishare_stream_summary(&b.st, "misp-bridge");
    if (b.fatal || b.stop_commits)
        rc = CISHARE_EXIT_FAIL;
    goto out;
nomem:
    cishare_cli_error("out of memory");
    rc = CISHARE_EXIT_FAIL;
out:
    if (b.rk) {
        rd_kafka_consumer_close(b.rk);
        rd_kafka_destroy(b.rk);
    }
    if (b.commit)
        rd_kafka_topic_partition_list_destroy(b.commit);
    if (eof)
        rd_kafka_topic_partition_list_destroy(eof);
    cishare_pubstream_destroy(b.ps);
    cishare_publisher_destroy(pub);
    cishare_metrics_stop(metrics);
    cishare_stream_stats_clear(&b.st);
    free(b.fifo);
    cishare_config_destroy(conf);
    return rc;
}
