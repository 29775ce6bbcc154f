/*
 * cishare - the feed daemon (see feed.h; the delivery invariant is in
 * dedup.h).
 */
#include "feed.h"

#include "cishare/codec.h"
#include "cishare/identity.h"
#include "cishare/message.h"
#include "cishare/policy.h"
#include "cishare/topics.h"
#include "dedup.h"
#include "quarantine.h"
#include "sinks/sink.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SINK_RETRIES 5

typedef struct feed_s {
    const cishare_feed_opts_t *opts;
    cishare_feed_stats_t *stats;
    cishare_identity_t id;
    cishare_codec_t *codec;
    cishare_dedup_t *dedup;
    cishare_quarantine_t *quar;
    cishare_sink_t *sinks[CISHARE_FEED_MAX_SINKS];
    size_t sink_cnt;
    rd_kafka_t *rk;
    /* Assignment and end-of-partition tracking (for --once). */
    rd_kafka_topic_partition_list_t *assigned;
    rd_kafka_topic_partition_list_t *eof;
    bool ever_assigned;
    /* Offsets to commit after the current batch. */
    rd_kafka_topic_partition_list_t *offsets;
    cishare_strlist_t warned_topics;
} feed_t;

static void feed_log(const feed_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void feed_log(const feed_t *f, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!f->opts->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    f->opts->log(f->opts->log_opaque, line);
}

void cishare_feed_stats_format(const cishare_feed_stats_t *st, char *buf,
                               size_t size)
{
    size_t off = 0, r;
    bool first = true;
    int n;

    n = snprintf(buf, size, "delivered %llu, duplicates %llu, withheld %llu",
                 (unsigned long long)st->delivered,
                 (unsigned long long)st->duplicates,
                 (unsigned long long)st->withheld);
    off = n > 0 ? (size_t)n : 0;
    for (r = 0; r < CISHARE_REASON__CNT && off < size; r++) {
        if (!st->withheld_by[r])
            continue;
        n = snprintf(buf + off, size - off, "%s%s %llu", first ? " (" : ", ",
                     cishare_reason_code((cishare_reason_t)r),
                     (unsigned long long)st->withheld_by[r]);
        off += n > 0 ? (size_t)n : 0;
        first = false;
    }
    if (!first && off < size)
        off += (size_t)snprintf(buf + off, size - off, ")");
    if (off < size)
        snprintf(buf + off, size - off, ", quarantined %llu, revocations %llu",
                 (unsigned long long)st->quarantined,
                 (unsigned long long)st->revocations);
}

/* ---- Kafka: subscription, rebalance, EOF ---- */

static cishare_err_t subscription(const feed_t *f, cishare_strlist_t *topics,
                                  char *errstr, size_t errstr_size)
{
    static const cishare_tlp_t labels[] = {CISHARE_TLP_CLEAR, CISHARE_TLP_GREEN,
                                           CISHARE_TLP_AMBER,
                                           CISHARE_TLP_AMBER_STRICT};
    const cishare_participant_t *me = f->id.me;
    char t[CISHARE_TOPIC_MAX];
    size_t i, s;

    for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        for (s = 0; s < me->sector_cnt; s++)
            if (cishare_topic_sector(labels[i], me->sectors[s], t, sizeof(t)) ==
                    CISHARE_OK &&
                cishare_strlist_add(topics, t))
                goto nomem;
        if (cishare_topic_sector(labels[i], CISHARE_TOPIC_ALL, t, sizeof(t)) ==
                CISHARE_OK &&
            cishare_strlist_add(topics, t))
            goto nomem;
    }
    if (cishare_topic_inbox(me->id, t, sizeof(t)) == CISHARE_OK &&
        cishare_strlist_add(topics, t))
        goto nomem;
    cishare_strlist_sort(topics);
    return CISHARE_OK;
nomem:
    return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                           "out of memory");
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    feed_t *f = opaque;
    int i;

    if (f->assigned)
        rd_kafka_topic_partition_list_destroy(f->assigned);
    f->assigned = NULL;
    if (f->eof)
        rd_kafka_topic_partition_list_destroy(f->eof);
    f->eof = rd_kafka_topic_partition_list_new(8);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (f->opts->from_beginning)
            for (i = 0; i < parts->cnt; i++)
                parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        f->assigned = rd_kafka_topic_partition_list_copy(parts);
        f->ever_assigned = true;
        rd_kafka_assign(rk, parts);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static void eof_set(feed_t *f, const char *topic, int32_t part, bool at_end)
{
    rd_kafka_topic_partition_t *tp;

    if (!f->eof)
        return;
    tp = rd_kafka_topic_partition_list_find(f->eof, topic, part);
    if (at_end && !tp)
        rd_kafka_topic_partition_list_add(f->eof, topic, part);
    else if (!at_end && tp)
        rd_kafka_topic_partition_list_del(f->eof, topic, part);
}

static bool all_at_end(const feed_t *f)
{
    /* An empty assignment (no topic of ours exists) is at its end too. */
    return f->assigned && f->eof && f->eof->cnt >= f->assigned->cnt;
}

/* ---- one message ---- */

static const char *quarantine_reason(cishare_err_t err)
{
    switch (err) {
    case CISHARE_ERR_BAD_SIGNATURE:
        return "bad-signature";
    case CISHARE_ERR_UNKNOWN_KEY:
        return "unknown-origin-or-key";
    case CISHARE_ERR_DECRYPT:
    case CISHARE_ERR_NOT_RECIPIENT:
        return "cannot-decrypt";
    case CISHARE_ERR_POLICY:
        return "relay-loosened-label";
    default:
        return "malformed";
    }
}

static cishare_err_t quarantine(feed_t *f, const rd_kafka_message_t *m,
                                cishare_err_t why, const char *detail,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *hdrs = NULL;
    cishare_qheader_t qh[64];
    cishare_quarantine_rec_t rec = {0};
    size_t n = 0, idx;
    const char *name;
    const void *val;
    size_t sz;

    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (idx = 0;
             n < 64 && !rd_kafka_header_get_all(hdrs, idx, &name, &val, &sz);
             idx++) {
            qh[n].name = name;
            qh[n].value = val;
            qh[n++].len = sz;
        }
    rec.topic = rd_kafka_topic_name(m->rkt);
    rec.partition = m->partition;
    rec.offset = m->offset;
    rec.reason = quarantine_reason(why);
    rec.detail = detail;
    rec.headers = qh;
    rec.header_cnt = n;
    rec.key = m->key;
    rec.key_len = m->key_len;
    rec.value = m->payload;
    rec.value_len = m->len;
    f->stats->quarantined++;
    feed_log(f, "quarantined %s [%d] @%lld: %s: %s",
             rd_kafka_topic_name(m->rkt), (int)m->partition,
             (long long)m->offset, rec.reason, detail);
    return cishare_quarantine_add(f->quar, &rec, errstr, errstr_size);
}

/* Call a sink with retries on RETRY. */
static cishare_err_t to_sinks(feed_t *f, const json_t *msg, const char *subject,
                              bool revoke, char *errstr, size_t errstr_size)
{
    size_t i;
    int tries;

    for (i = 0; i < f->sink_cnt; i++) {
        cishare_sink_status_t st = CISHARE_SINK_RETRY;
        for (tries = 0; tries < SINK_RETRIES && st == CISHARE_SINK_RETRY;
             tries++) {
            if (tries)
                usleep(100000u << tries);
            st = revoke ? cishare_sink_revoke(f->sinks[i], subject, msg, errstr,
                                              errstr_size)
                        : cishare_sink_write(f->sinks[i], msg, subject, errstr,
                                             errstr_size);
        }
        if (st != CISHARE_SINK_OK)
            return CISHARE_ERR_IO;
    }
    return CISHARE_OK;
}

static cishare_err_t handle(feed_t *f, const rd_kafka_message_t *m,
                            char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *hdrs = NULL;
    cishare_msg_in_t in;
    cishare_policy_msg_t pm;
    cishare_decision_t d;
    uint8_t idb[CISHARE_DEDUP_ID_BYTES];
    char why[512] = "";
    cishare_err_t err;
    json_t *js = NULL;

    memset(&in, 0, sizeof(in));
    rd_kafka_message_headers(m, &hdrs);
    err = cishare_message_verify(f->id.dir, hdrs, m->key, m->key_len,
                                 m->payload, m->len, &in, why, sizeof(why));
    if (err || !in.verified) {
        cishare_msg_in_clear(&in);
        return quarantine(f, m, err ? err : CISHARE_ERR_BAD_SIGNATURE, why,
                          errstr, errstr_size);
    }
    cishare_message_policy_msg(&in, &pm);
    d = cishare_policy_decide(f->id.dir, &pm, f->id.me, cishare_time_now_ms());
    if (!d.deliver) {
        f->stats->withheld++;
        if ((size_t)d.reason < 32)
            f->stats->withheld_by[d.reason]++;
        cishare_msg_in_clear(&in);
        return CISHARE_OK;
    }
    cishare_dedup_id_from_text(in.env.id, idb);
    if (cishare_dedup_seen(f->dedup, idb)) {
        f->stats->duplicates++;
        cishare_msg_in_clear(&in);
        return CISHARE_OK;
    }
    err = cishare_message_decode(f->codec, &f->id.kp, m->key, m->key_len,
                                 m->payload, m->len, &in, why, sizeof(why));
    if (err) {
        cishare_msg_in_clear(&in);
        return quarantine(f, m, err, why, errstr, errstr_size);
    }
    if (!(js = cishare_message_to_json(&in))) {
        cishare_msg_in_clear(&in);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if (in.env.type == CISHARE_MSG_REVOCATION) {
        const char *subj = json_string_value(
            json_object_get(json_object_get(js, "payload"), "revokes"));
        /* Sinks remove the subject only if the revocation's origin
         * published it (they key their state by origin). */
        err = subj ? to_sinks(f, js, subj, true, errstr, errstr_size)
                   : CISHARE_OK;
        f->stats->revocations++;
    } else {
        char subject[1024];
        size_t kl =
            m->key_len < sizeof(subject) - 1 ? m->key_len : sizeof(subject) - 1;
        memcpy(subject, m->key ? (const char *)m->key : "", m->key ? kl : 0);
        subject[m->key ? kl : 0] = '\0';
        err = to_sinks(f, js, subject, false, errstr, errstr_size);
    }
    json_decref(js);
    cishare_msg_in_clear(&in);
    if (err)
        return err;
    if (cishare_dedup_add(f->dedup, idb))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    f->stats->delivered++;
    return CISHARE_OK;
}

/* ---- batch commit: sinks, quarantine, dedup, Kafka ---- */

static cishare_err_t commit_batch(feed_t *f, bool kafka, char *errstr,
                                  size_t errstr_size)
{
    int64_t now = cishare_time_now_ms();
    uint64_t mark;
    size_t i;
    cishare_err_t err;
    rd_kafka_resp_err_t kerr;

    for (i = 0; i < f->sink_cnt; i++) {
        if (cishare_sink_sync(f->sinks[i], now, &mark, errstr, errstr_size))
            return CISHARE_ERR_IO;
        if ((err = cishare_dedup_set_mark(f->dedup, f->sinks[i]->plugin->name,
                                          mark)))
            return cishare_err_set(err, errstr, errstr_size,
                                   "dedup: cannot set mark");
    }
    if ((err = cishare_quarantine_sync(f->quar, &mark, errstr, errstr_size)) ||
        (err = cishare_dedup_set_mark(f->dedup, "quarantine", mark)))
        return err;
    if ((err = cishare_dedup_commit(f->dedup, errstr, errstr_size)))
        return err;
    if (!kafka || !f->offsets || f->offsets->cnt == 0)
        return CISHARE_OK;
    kerr = rd_kafka_commit(f->rk, f->offsets, 0);
    rd_kafka_topic_partition_list_destroy(f->offsets);
    f->offsets = NULL;
    /* Not fatal: what was not committed is re-read and recognised as
     * seen by the dedup store. */
    if (kerr && kerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        feed_log(f,
                 "offset commit failed (messages will be re-read and "
                 "skipped as duplicates): %s",
                 rd_kafka_err2str(kerr));
    return CISHARE_OK;
}

static void offset_track(feed_t *f, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_t *tp;

    if (!f->offsets)
        f->offsets = rd_kafka_topic_partition_list_new(8);
    tp = rd_kafka_topic_partition_list_find(
        f->offsets, rd_kafka_topic_name(m->rkt), m->partition);
    if (!tp)
        tp = rd_kafka_topic_partition_list_add(
            f->offsets, rd_kafka_topic_name(m->rkt), m->partition);
    tp->offset = m->offset + 1;
}

/* ---- setup ---- */

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static cishare_err_t feed_open(feed_t *f, char *errstr, size_t errstr_size)
{
    const cishare_feed_opts_t *o = f->opts;
    const char *state = cishare_config_get(o->conf, CISHARE_CONF_STATE_DIR);
    const char *qdir;
    char path[4096], group[CISHARE_TOPIC_MAX];
    cishare_sink_opts_t so = {0};
    cishare_strlist_t topics = {0};
    rd_kafka_conf_t *kc;
    rd_kafka_topic_partition_list_t *sub;
    uint64_t mark;
    size_t i;
    cishare_err_t err;
    rd_kafka_resp_err_t kerr;

    if ((err = cishare_identity_load(o->conf, &f->id, errstr, errstr_size)))
        return CISHARE_ERR_CONFIG;
    if ((err = cishare_codec_new(&f->codec, errstr, errstr_size)))
        return err;
    if (!state || !*state) {
        if (!strcmp(o->out, "-"))
            return cishare_err_set(
                CISHARE_ERR_CONFIG, errstr, errstr_size,
                "with --out - set cishare.state-dir (where the feed keeps "
                "the ids it has delivered)");
        state = o->out;
    }
    if (cishare_mkdirs(state) ||
        (strcmp(o->out, "-") && cishare_mkdirs(o->out)))
        return cishare_err_set(
            CISHARE_ERR_IO, errstr, errstr_size, "%s: cannot create folder: %s",
            strcmp(o->out, "-") ? o->out : state, strerror(errno));
    snprintf(path, sizeof(path), "%s/seen.log", state);
    if ((err = cishare_dedup_open(path, &f->dedup, errstr, errstr_size)))
        return err;
    if (cishare_dedup_torn_bytes(f->dedup))
        feed_log(f, "%s: cut %llu bytes of a batch never committed", path,
                 (unsigned long long)cishare_dedup_torn_bytes(f->dedup));
    /* First run with this state: the files as they are now are the
     * committed state (so a crash before the first commit cuts back to
     * them, not to nothing). */
    qdir = strcmp(o->out, "-") ? o->out : state;
    if (!cishare_dedup_get_mark(f->dedup, "quarantine", &mark)) {
        snprintf(path, sizeof(path), "%s/feed.jsonl", o->out);
        if (cishare_dedup_set_mark(f->dedup, "jsonl",
                                   strcmp(o->out, "-") ? file_size(path) : 0))
            return CISHARE_ERR_INVALID_ARG;
        snprintf(path, sizeof(path), "%s/quarantine.jsonl", qdir);
        if (cishare_dedup_set_mark(f->dedup, "quarantine", file_size(path)) ||
            (err = cishare_dedup_commit(f->dedup, errstr, errstr_size)))
            return err ? err : CISHARE_ERR_INVALID_ARG;
    }
    snprintf(path, sizeof(path), "%s/quarantine.jsonl", qdir);
    cishare_dedup_get_mark(f->dedup, "quarantine", &mark);
    if ((err = cishare_quarantine_open(path, true, mark, &f->quar, errstr,
                                       errstr_size)))
        return err;
    so.out = o->out;
    so.view_interval_ms = o->once ? 0 : 1000;
    for (i = 0; i < o->sink_cnt; i++) {
        so.has_mark = cishare_dedup_get_mark(f->dedup, o->sinks[i], &so.mark);
        if ((err = cishare_sink_open(o->sinks[i], &so, &f->sinks[i], errstr,
                                     errstr_size)))
            return err;
        f->sink_cnt++;
    }

    /* Kafka consumer. */
    if (!(kc = cishare_config_kafka_conf(o->conf, errstr, errstr_size)))
        return CISHARE_ERR_CONFIG;
    if (!cishare_config_get_kafka(o->conf, "group.id")) {
        cishare_topic_feed_group(f->id.me->id, group, sizeof(group));
        rd_kafka_conf_set(kc, "group.id", group, NULL, 0);
    }
    if (rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr,
                          errstr_size) ||
        (!cishare_config_get_kafka(o->conf, "auto.offset.reset") &&
         rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", errstr,
                           errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_CONFIG;
    }
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_opaque(kc, f);
    if (!(f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_KAFKA;
    }
    rd_kafka_poll_set_consumer(f->rk);
    if ((err = subscription(f, &topics, errstr, errstr_size)))
        return err;
    sub = rd_kafka_topic_partition_list_new((int)topics.cnt);
    for (i = 0; i < topics.cnt; i++)
        rd_kafka_topic_partition_list_add(sub, topics.items[i],
                                          RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(f->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    feed_log(f, "feed of %s: %zu topics, group %s, sinks %zu, out %s",
             f->id.me->id, topics.cnt,
             cishare_config_get_kafka(o->conf, "group.id")
                 ? cishare_config_get_kafka(o->conf, "group.id")
                 : group,
             f->sink_cnt, o->out);
    cishare_strlist_clear(&topics);
    if (kerr)
        return cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                               "subscribe: %s", rd_kafka_err2str(kerr));
    return CISHARE_OK;
}

static void feed_close(feed_t *f)
{
    size_t i;

    if (f->rk) {
        rd_kafka_consumer_close(f->rk);
        rd_kafka_destroy(f->rk);
    }
    if (f->offsets)
        rd_kafka_topic_partition_list_destroy(f->offsets);
    if (f->assigned)
        rd_kafka_topic_partition_list_destroy(f->assigned);
    if (f->eof)
        rd_kafka_topic_partition_list_destroy(f->eof);
    for (i = 0; i < f->sink_cnt; i++)
        cishare_sink_close(f->sinks[i]);
    cishare_quarantine_close(f->quar);
    cishare_dedup_close(f->dedup);
    cishare_codec_destroy(f->codec);
    cishare_identity_clear(&f->id);
    cishare_strlist_clear(&f->warned_topics);
}

/* A consumer error event: fatal or not. */
static cishare_err_t consumer_error(feed_t *f, const rd_kafka_message_t *m,
                                    char *errstr, size_t errstr_size)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        eof_set(f, topic, m->partition, true);
        return CISHARE_OK;
    }
    if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        /* A topic of the layout not created (yet) or not granted: the
         * rest of the feed goes on. Say it once per topic. */
        if (topic && !cishare_strlist_has(&f->warned_topics, topic)) {
            cishare_strlist_add(&f->warned_topics, topic);
            cishare_strlist_sort(&f->warned_topics);
            feed_log(f, "topic %s: %s", topic, rd_kafka_message_errstr(m));
        }
        return CISHARE_OK;
    }
    if (rd_kafka_fatal_error(f->rk, NULL, 0) ||
        m->err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
        m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
        return cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size, "%s",
                               rd_kafka_message_errstr(m));
    feed_log(f, "kafka: %s", rd_kafka_message_errstr(m));
    return CISHARE_OK;
}

cishare_err_t cishare_feed_run(const cishare_feed_opts_t *opts,
                               cishare_feed_stats_t *stats, char *errstr,
                               size_t errstr_size)
{
    feed_t f;
    cishare_err_t err;
    int batch_size = opts->batch_size > 0 ? opts->batch_size : 1000;
    int64_t last_stats = cishare_time_now_ms(), started = last_stats,
            last_sync = last_stats;
    char line[1024];

    memset(&f, 0, sizeof(f));
    memset(stats, 0, sizeof(*stats));
    f.opts = opts;
    f.stats = stats;
    if ((err = feed_open(&f, errstr, errstr_size)))
        goto out;
    while (!(opts->stop && *opts->stop)) {
        int n = 0;
        int64_t now, deadline = cishare_time_now_ms() + 100;

        /* One batch: up to batch_size messages or 100 ms. */
        while (n < batch_size && !(opts->stop && *opts->stop)) {
            int64_t left = deadline - cishare_time_now_ms();
            rd_kafka_message_t *m;

            if (left <= 0)
                break;
            if (!(m = rd_kafka_consumer_poll(f.rk, (int)left)))
                continue;
            if (m->err) {
                err = consumer_error(&f, m, errstr, errstr_size);
                rd_kafka_message_destroy(m);
                if (err)
                    goto out;
                if (opts->once && all_at_end(&f))
                    break;
                continue;
            }
            eof_set(&f, rd_kafka_topic_name(m->rkt), m->partition, false);
            err = handle(&f, m, errstr, errstr_size);
            offset_track(&f, m);
            rd_kafka_message_destroy(m);
            if (err)
                goto out; /* nothing of this batch is committed */
            n++;
        }
        now = cishare_time_now_ms();
        /* Sync also when idle, so expired indicators leave the views. */
        if (n || (f.offsets && f.offsets->cnt) || now - last_sync >= 1000) {
            if ((err = commit_batch(&f, true, errstr, errstr_size)))
                goto out;
            last_sync = now;
        }
        if (opts->stats_interval_ms > 0 && !opts->once &&
            now - last_stats >= opts->stats_interval_ms) {
            cishare_feed_stats_format(stats, line, sizeof(line));
            feed_log(&f, "feed: %s", line);
            last_stats = now;
        }
        if (opts->once && all_at_end(&f))
            break;
        /* --once and the group never formed: Kafka is not answering. */
        if (opts->once && !f.ever_assigned && now - started > 30000) {
            err = cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                                  "no partition assigned after 30 s (is "
                                  "the broker reachable?)");
            goto out;
        }
    }
    err = commit_batch(&f, true, errstr, errstr_size);
out:
    feed_close(&f);
    return err;
}
