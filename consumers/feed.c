/*
 * cishare - the feed daemon (see feed.h; the delivery invariant is in
 * dedup.h).
 */
#include "feed.h"
#include "archive.h"

#include "cishare/codec.h"
#include "cishare/dirtopic.h"
#include "cishare/identity.h"
#include "cishare/kafka_errors.h"
#include "cishare/log.h"
#include "cishare/message.h"
#include "cishare/policy.h"
#include "cishare/routing.h"
#include "cishare/tls.h"
#include "cishare/topics.h"
#include "dedup.h"
#include "folderlock.h"
#include "quarantine.h"
#include "sinks/sink.h"
#include "sinks/blocklist.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SINK_RETRIES 5
/* A feed that delivered nothing for this long is quiet: it syncs its sinks
 * (expired indicators leave the views) and confirms, synchronously, the
 * offsets that its batches committed asynchronously. */
#define FEED_QUIET_MS 1000

typedef struct feed_s {
    const cishare_feed_opts_t *opts;
    cishare_feed_stats_t *stats;
    cishare_identity_t id;
    cishare_codec_t *codec;
    /* opened encryption epochs (seal.h), shared by the workers: one
     * sealed box per epoch, not per message */
    cishare_unsealer_t *unsealer;
    cishare_dedup_t *dedup;
    cishare_quarantine_t *quar;
    cishare_sink_t *sinks[CISHARE_FEED_MAX_SINKS];
    size_t sink_cnt;
    cishare_archive_t *archive; /* NULL: cishare.feed.archive=0 */
    /* What the sinks take: the JSON line (jsonl: written straight from
     * the Avro bytes and the envelope) and/or the JSON tree (stix,
     * blocklist). Only what some sink takes is built. */
    bool need_line, need_tree;
    rd_kafka_t *rk;
    /* Assignment and end-of-partition tracking (for --once). */
    rd_kafka_topic_partition_list_t *assigned;
    rd_kafka_topic_partition_list_t *eof;
    bool ever_assigned;
    bool fresh_state; /* no seen.log before this run: read from the start */
    /* <state-dir>/feed.lock (folderlock.h), held while running; -1 none.
     * standby_stopped: stopped while waiting for it, nothing was run. */
    int lock_fd;
    bool standby_stopped;
    /* --once gives up when no partition is assigned after this long: a
     * feed killed a moment ago stays in the group until its session times
     * out, so the wait covers session.timeout.ms with a margin. */
    int64_t assign_wait_ms;
    /* Offsets to commit after the current batch. */
    rd_kafka_topic_partition_list_t *offsets;
    /* Offsets committed asynchronously (COMMIT_ASYNC) since the last
     * synchronous commit, which commits them again: a request still in
     * flight when the feed stops or a partition is revoked is not lost. */
    rd_kafka_topic_partition_list_t *async_offsets;
    cishare_strlist_t warned_topics;
    cishare_kafka_watch_t watch; /* connection refusals (consumer errors) */
    cishare_dirtopic_t *dirw;    /* directory versions (dirtopic.h) */
    int64_t revocation_grace_ms; /* cishare.feed.revocation-grace-ms */
    /* For rebalance_cb, which runs inside rd_kafka_consumer_poll() on the
     * feed's thread: the run loop's batches (the one being polled, the
     * one prepared or being prepared) and preparing threads. NULL outside
     * the run loop (rd_kafka_consumer_close() then only unassigns). */
    struct batch_s **curp, **pendp;
    struct pool_s *pool;
    /* An error of rebalance_cb, returned by poll_batch. */
    cishare_err_t cb_err;
    char cb_errstr[512];
    /* Signed receipts (feed.h, "Receipts"): the producer (NULL when
     * cishare.feed.receipts=0 or with a plugged-in output), and the
     * delivery reports of the batch being delivered, checked by
     * commit_batch() before the dedup commit. Feed's thread only (the
     * reports are served by rd_kafka_poll/flush there). */
    rd_kafka_t *rcpt_rk;
    bool rcpt_amber;         /* cishare.feed.receipts-amber */
    int64_t rcpt_timeout_ms; /* the producer's message.timeout.ms */
    size_t rcpt_inflight;    /* topic copies produced, no report yet */
    uint64_t rcpt_batch;     /* receipts produced since the last commit */
    /* Messages delivered and not yet committed, and when the first of them
     * was polled (mono_us). They are committed (sinks synced, archive,
     * dedup, offsets) once batch_size of them are waiting, when a poll
     * finds nothing new, or commit_us after the first was polled: a slow
     * fsync then holds up one commit a second, not one per poll
     * (cishare.feed.commit-ms; docs/PERFORMANCE.md "Latency"). */
    size_t unc_cnt;
    int64_t unc_first_us, commit_us;
    size_t batch_size;
    uint64_t rcpt_failed; /* reports with an error since then */
    /* Receipts built and not yet signed: signed as one batch (the
     * publisher's scheme, cishare.sign.scheme: one Ed25519 signature per
     * batch with the default) and produced when the batch is full or
     * committed. */
    cishare_msg_out_t *rcpt_pend; /* CISHARE_MERKLE_MAX_LEAVES of them */
    size_t rcpt_pend_cnt;
    char rcpt_errstr[512]; /* the first of them */
} feed_t;

_Static_assert(CISHARE_REASON__CNT <=
                   sizeof(((cishare_feed_stats_t *)0)->withheld_by) /
                       sizeof(((cishare_feed_stats_t *)0)->withheld_by[0]),
               "cishare_feed_stats_t.withheld_by has a slot per reason");

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

/* feed_log() with what JSON logs say beyond the text (log.h). */
static void feed_log_with(const feed_t *f, const cishare_log_fields_t *lf,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void feed_log_with(const feed_t *f, const cishare_log_fields_t *lf,
                          const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cishare_log_with(lf, f->opts->log, f->opts->log_opaque, line);
}

static const char *const qreason_names[CISHARE_FEED_QREASON__CNT] = {
    "malformed", "bad-signature", "unknown-origin-or-key", "cannot-decrypt",
    "relay-loosened-label"};

const char *cishare_feed_quarantine_reason_name(cishare_feed_qreason_t r)
{
    return (unsigned)r < CISHARE_FEED_QREASON__CNT ? qreason_names[r]
                                                   : "malformed";
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
    if (off < size) {
        n = snprintf(buf + off, size - off, ", quarantined %llu",
                     (unsigned long long)st->quarantined);
        off += n > 0 ? (size_t)n : 0;
    }
    first = true;
    for (r = 0; r < CISHARE_FEED_QREASON__CNT && off < size; r++) {
        if (!st->quarantined_by[r])
            continue;
        n = snprintf(buf + off, size - off, "%s%s %llu", first ? " (" : ", ",
                     qreason_names[r],
                     (unsigned long long)st->quarantined_by[r]);
        off += n > 0 ? (size_t)n : 0;
        first = false;
    }
    if (!first && off < size)
        off += (size_t)snprintf(buf + off, size - off, ")");
    if (off < size) {
        n = snprintf(buf + off, size - off, ", revocations %llu",
                     (unsigned long long)st->revocations);
        off += n > 0 ? (size_t)n : 0;
    }
    if (off < size && (st->directory_applied || st->directory_refused)) {
        n = snprintf(buf + off, size - off,
                     ", directory versions applied %llu, refused %llu",
                     (unsigned long long)st->directory_applied,
                     (unsigned long long)st->directory_refused);
        off += n > 0 ? (size_t)n : 0;
    }
    if (off < size && (st->receipts_sent || st->receipts_refused)) {
        n = snprintf(buf + off, size - off, ", receipts sent %llu",
                     (unsigned long long)st->receipts_sent);
        off += n > 0 ? (size_t)n : 0;
        if (off < size && st->receipts_refused) {
            n = snprintf(buf + off, size - off, " (refused by the rules %llu)",
                         (unsigned long long)st->receipts_refused);
            off += n > 0 ? (size_t)n : 0;
        }
    }
    if (off < size && st->incident_flagged) {
        n = snprintf(buf + off, size - off,
                     ", incident notices out of order (delivered, flagged) "
                     "%llu",
                     (unsigned long long)st->incident_flagged);
        off += n > 0 ? (size_t)n : 0;
    }
    if (off < size && st->sink_over_bound) {
        n = snprintf(buf + off, size - off,
                     ", left out of sink state past an origin's bound %llu",
                     (unsigned long long)st->sink_over_bound);
        off += n > 0 ? (size_t)n : 0;
    }
    first = true;
    for (r = 1; r < CISHARE_INDICATOR__CNT && off < size; r++) {
        if (!st->blocklist_refused_by[r])
            continue;
        n = snprintf(
            buf + off, size - off, "%s%s %llu",
            first ? ", refused for blocklists (" : ", ",
            cishare_indicator_reason_name((cishare_indicator_reason_t)r),
            (unsigned long long)st->blocklist_refused_by[r]);
        off += n > 0 ? (size_t)n : 0;
        first = false;
    }
    if (!first && off < size)
        snprintf(buf + off, size - off, ")");
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
                         rd_kafka_topic_partition_list_t *parts, void *opaque);

/* The answer to an offset commit (feed's thread, from
 * rd_kafka_consumer_poll): a batch's commit is sent async, so its failure
 * is told here. Not fatal, as in commit_batch_(). */
static void feed_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *offsets,
                           void *opaque)
{
    (void)rk;
    (void)offsets;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        feed_log(opaque,
                 "offset commit failed (messages will be re-read and "
                 "skipped as duplicates): %s",
                 rd_kafka_err2str(err));
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

/* ---- directory versions (dirtopic.h) ---- */

/* How long a starting feed reads the directory topic to its end. */
#define DIRTOPIC_SYNC_MS 10000

static void dirtopic_log(void *opaque, const char *line)
{
    feed_log(opaque, "%s", line);
}

static bool strlist_equal(const cishare_strlist_t *a,
                          const cishare_strlist_t *b)
{
    size_t i;

    if (a->cnt != b->cnt)
        return false;
    for (i = 0; i < a->cnt; i++)
        if (strcmp(a->items[i], b->items[i]))
            return false;
    return true;
}

static cishare_err_t subscription(const feed_t *f, cishare_strlist_t *topics,
                                  char *errstr, size_t errstr_size);

/*
 * Make nd (taken) the feed's directory. The caller guarantees that no
 * preparing thread runs: prepare() is the only reader of the directory
 * besides this thread, items keep no pointer into it once prepared
 * (cishare_msg_in_reset), and the sinks, dedup store and quarantine hold
 * none. A version without this participant or its key stops the feed.
 * When the participant's topics changed (sectors), the subscription
 * follows.
 */
static cishare_err_t directory_swap(feed_t *f, cishare_directory_t *nd,
                                    char *errstr, size_t errstr_size)
{
    cishare_strlist_t before = {0}, after = {0};
    char why[1024];
    cishare_err_t err;

    if (f->rk && (err = subscription(f, &before, errstr, errstr_size))) {
        cishare_directory_destroy(nd);
        return err;
    }
    if (cishare_identity_swap_directory(&f->id, nd, why, sizeof(why))) {
        cishare_strlist_clear(&before);
        return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                               "directory on %s: %s; the feed stops rather "
                               "than run as a participant the directory no "
                               "longer has",
                               cishare_dirtopic_topic(f->dirw), why);
    }
    f->stats->directory_applied++;
    err = CISHARE_OK;
    if (f->rk && !(err = subscription(f, &after, errstr, errstr_size)) &&
        !strlist_equal(&before, &after)) {
        rd_kafka_topic_partition_list_t *sub =
            rd_kafka_topic_partition_list_new((int)after.cnt);
        rd_kafka_resp_err_t kerr;
        size_t i;

        for (i = 0; i < after.cnt; i++)
            rd_kafka_topic_partition_list_add(sub, after.items[i],
                                              RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(f->rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (kerr)
            err = cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                                  "subscribe: %s", rd_kafka_err2str(kerr));
        else
            feed_log(f, "feed of %s: %zu topics after the new directory",
                     f->id.me->id, after.cnt);
    }
    cishare_strlist_clear(&before);
    cishare_strlist_clear(&after);
    return err;
}

/* Between batches (no preparing thread running): apply what arrived,
 * then make sure the directory in use has not expired meanwhile (a
 * frozen copy must not keep a long-running feed going): the feed then
 * stops with CISHARE_ERR_DIRECTORY. */
static cishare_err_t directory_poll(feed_t *f, int64_t now, char *errstr,
                                    size_t errstr_size)
{
    cishare_directory_t *nd = NULL;
    char why[1024];
    cishare_err_t err;

    err = cishare_dirtopic_poll(f->dirw, f->id.dir, &nd, errstr, errstr_size);
    f->stats->directory_refused = cishare_dirtopic_refused(f->dirw);
    if (!err && nd)
        err = directory_swap(f, nd, errstr, errstr_size);
    if (err)
        return err;
    if (cishare_dirstate_check_in_force(f->id.dir, now, why, sizeof(why)))
        return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                               "%s; the feed stops (what was delivered is "
                               "committed)",
                               why);
    return CISHARE_OK;
}

/* ---- one message ---- */

static cishare_feed_qreason_t quarantine_reason(cishare_err_t err)
{
    switch (err) {
    case CISHARE_ERR_BAD_SIGNATURE:
        return CISHARE_FEED_QREASON_BAD_SIGNATURE;
    case CISHARE_ERR_UNKNOWN_KEY:
        return CISHARE_FEED_QREASON_UNKNOWN_KEY;
    case CISHARE_ERR_DECRYPT:
    case CISHARE_ERR_NOT_RECIPIENT:
        return CISHARE_FEED_QREASON_CANNOT_DECRYPT;
    case CISHARE_ERR_POLICY:
        return CISHARE_FEED_QREASON_RELAY_LOOSENED;
    default:
        return CISHARE_FEED_QREASON_MALFORMED;
    }
}

static cishare_err_t quarantine(feed_t *f, const rd_kafka_message_t *m,
                                cishare_err_t why, const char *detail,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *hdrs = NULL;
    cishare_qheader_t qh[64];
    cishare_quarantine_rec_t rec = {0};
    cishare_log_fields_t lf = {0};
    cishare_feed_qreason_t qr;
    /* the id and origin it claims (unverified), for JSON logs */
    char msg_id[CISHARE_MSG_ID_LEN + 1] = "";
    char origin[CISHARE_ENV_NAME_LEN + 1] = "";
    size_t n = 0, idx;
    const char *name;
    const void *val;
    size_t sz;
    uint8_t rkey[CISHARE_DEDUP_ID_BYTES];
    cishare_err_t err;

    /* Read again (its offset's commit was refused or lost): it is in the
     * quarantine already. */
    cishare_dedup_record_key(rd_kafka_topic_name(m->rkt), m->partition,
                             m->offset, rkey);
    if (cishare_dedup_seen(f->dedup, rkey)) {
        f->stats->duplicates++;
        return CISHARE_OK;
    }
    if ((err = cishare_dedup_add(f->dedup, rkey)))
        return cishare_err_set(err, errstr, errstr_size, "out of memory");
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (idx = 0;
             n < 64 && !rd_kafka_header_get_all(hdrs, idx, &name, &val, &sz);
             idx++) {
            qh[n].name = name;
            qh[n].value = val;
            qh[n++].len = sz;
            cishare_envelope_claims(name, val, sz, msg_id, origin);
        }
    rec.topic = rd_kafka_topic_name(m->rkt);
    rec.partition = m->partition;
    rec.offset = m->offset;
    qr = quarantine_reason(why);
    rec.reason = qreason_names[qr];
    rec.detail = detail;
    rec.headers = qh;
    rec.header_cnt = n;
    rec.key = m->key;
    rec.key_len = m->key_len;
    rec.value = m->payload;
    rec.value_len = m->len;
    f->stats->quarantined++;
    f->stats->quarantined_by[qr]++;
    lf.level = CISHARE_LOG_WARN;
    lf.reason = rec.reason;
    lf.msg_id = msg_id[0] ? msg_id : NULL;
    lf.origin = origin[0] ? origin : NULL;
    lf.topic = rec.topic;
    lf.partition = m->partition;
    lf.offset = m->offset;
    feed_log_with(f, &lf, "quarantined %s [%d] @%lld: %s: %s",
                  rd_kafka_topic_name(m->rkt), (int)m->partition,
                  (long long)m->offset, rec.reason, detail);
    return cishare_quarantine_add(f->quar, &rec, errstr, errstr_size);
}

/* Call a sink with retries on RETRY: the line to those that take it,
 * the tree to the others. */
static cishare_err_t to_sinks(feed_t *f, const json_t *msg,
                              const cishare_avro_buf_t *line,
                              const char *subject, bool revoke, char *errstr,
                              size_t errstr_size)
{
    size_t i;
    int tries;

    for (i = 0; i < f->sink_cnt; i++) {
        cishare_sink_status_t st = CISHARE_SINK_RETRY;
        for (tries = 0; tries < SINK_RETRIES && st == CISHARE_SINK_RETRY;
             tries++) {
            if (tries)
                usleep(100000u << tries);
            if (cishare_sink_takes_line(f->sinks[i]))
                st = cishare_sink_write_line(
                    f->sinks[i], (const char *)line->buf, line->len, subject,
                    revoke, errstr, errstr_size);
            else if (revoke)
                st = cishare_sink_revoke(f->sinks[i], subject, msg, errstr,
                                         errstr_size);
            else
                st = cishare_sink_write(f->sinks[i], msg, subject, errstr,
                                        errstr_size);
        }
        if (st != CISHARE_SINK_OK)
            return CISHARE_ERR_IO;
    }
    return CISHARE_OK;
}

/* ---- one batch: prepare (parallel), then deliver (in order) ---- */

/*
 * A polled message and what a worker found out about it. Workers fill
 * everything but m; the main thread then reads the items in poll order.
 * Preparing is pure with respect to the feed's state (directory, identity
 * and `now` are shared and read-only; each worker has its own codec and
 * scratch envelope), so the result does not depend on the thread.
 */
enum { ITEM_QUARANTINE, ITEM_WITHHELD, ITEM_UNDECODABLE, ITEM_DELIVER };

typedef struct item_s {
    rd_kafka_message_t *m;
    int state;
    cishare_err_t err;       /* why quarantined or undecodable */
    char *why;               /* detail of err (malloc()ed) */
    cishare_reason_t reason; /* withheld */
    bool revocation;
    uint8_t id[CISHARE_DEDUP_ID_BYTES];
    /* the message as delivered (ITEM_DELIVER): its JSON line when a sink
     * takes lines (the buffer is kept from batch to batch), its JSON tree
     * when a sink takes trees */
    cishare_avro_buf_t line;
    json_t *js;
    /* ITEM_DELIVER and a receipt is due (feed.h, "Receipts"): what the
     * receipt names, copied from the envelope before it is reset */
    bool receipt;
    cishare_msgtype_t rc_type;
    cishare_tlp_t rc_tlp; /* effective label, as delivered */
    char rc_id[CISHARE_MSG_ID_LEN + 1];
    char rc_origin[CISHARE_ENV_NAME_LEN + 1];
    /* ITEM_DELIVER by the line path with the archive on: what its row
     * takes, so that no JSON tree is built for it (to_archive) */
    bool arch;
    cishare_msgtype_t a_type;
    cishare_tlp_t a_tlp; /* effective label, as in the line */
    int64_t a_created_ms;
    char a_id[CISHARE_MSG_ID_LEN + 1];
    char a_origin[CISHARE_ENV_NAME_LEN + 1];
    char a_sector[CISHARE_ENV_NAME_LEN + 1];
    char a_by[CISHARE_ENV_NAME_LEN + 1]; /* last relay hop; "" if none */
    cishare_line_spans_t a_spans;
} item_t;

/* One preparing thread's own state. */
typedef struct worker_s {
    cishare_codec_t *codec;
    cishare_msg_in_t *in; /* scratch: an envelope is large */
} worker_t;

static int line_set(cishare_avro_buf_t *b, const char *s, size_t n)
{
    if (n > b->cap) {
        uint8_t *nb = realloc(b->buf, n);
        if (!nb)
            return -1;
        b->buf = nb;
        b->cap = n;
    }
    memcpy(b->buf, s, n);
    b->len = n;
    return 0;
}

/* Release what the item holds; its line buffer is kept for reuse. */
static void item_clear(item_t *it)
{
    cishare_avro_buf_t line = it->line;

    if (it->m)
        rd_kafka_message_destroy(it->m);
    free(it->why);
    json_decref(it->js);
    memset(it, 0, sizeof(*it));
    line.len = 0;
    it->line = line;
}

static void item_free(item_t *it)
{
    item_clear(it);
    free(it->line.buf);
    memset(&it->line, 0, sizeof(it->line));
}

static void item_fail(item_t *it, int state, cishare_err_t err, const char *why)
{
    it->state = state;
    it->err = err;
    it->why = strdup(why);
}

/* ---- signed receipts (feed.h, "Receipts") ---- */

/*
 * Is a receipt due for a message this feed delivers? Not for one of its
 * own, never for a receipt (no receipt for a receipt, so no loop); for
 * TLP:RED, TLP:AMBER+STRICT (the effective label, as delivered), a
 * mandatory incident notice (its payload is decoded before the decision),
 * and TLP:AMBER with cishare.feed.receipts-amber=1. Any thread: reads
 * the feed's settings and the message only.
 */
static bool receipt_due(const feed_t *f, const cishare_msg_in_t *in)
{
    cishare_payload_flags_t fl;

    if (!f->rcpt_rk || in->env.type == CISHARE_MSG_RECEIPT ||
        !strcmp(in->env.origin, f->id.me->id))
        return false;
    if (in->tlp == CISHARE_TLP_RED || in->tlp == CISHARE_TLP_AMBER_STRICT ||
        (in->tlp == CISHARE_TLP_AMBER && f->rcpt_amber))
        return true;
    cishare_message_payload_flags(in->env.type, in->payload, &fl);
    return fl.mandatory == 1;
}

/* src into dst[size], cut to fit (snprintf "%s" did it at several
 * times the cost, six times per message) */
static void copy_cut(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Verify, policy, decode and render one message (any thread). */
static void prepare(const feed_t *f, worker_t *w, item_t *it, int64_t now_ms)
{
    const rd_kafka_message_t *m = it->m;
    rd_kafka_headers_t *hdrs = NULL;
    cishare_msg_in_t *in = w->in;
    cishare_decision_t d;
    char why[512] = "";
    cishare_err_t err;

    rd_kafka_message_headers(m, &hdrs);
    {
        rd_kafka_timestamp_type_t tst;
        cishare_verify_ctx_t ctx = {0, f->revocation_grace_ms};
        int64_t ts = rd_kafka_message_timestamp(m, &tst);
        /* only the broker's own clock: a CreateTime is the producer's */
        if (tst == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
            ctx.append_ms = ts;
        err = cishare_message_verify_ctx(f->id.dir, hdrs, m->key, m->key_len,
                                         m->payload, m->len, &ctx, in, why,
                                         sizeof(why));
    }
    if (err || !in->verified) {
        item_fail(it, ITEM_QUARANTINE, err ? err : CISHARE_ERR_BAD_SIGNATURE,
                  why);
        goto out;
    }
    /* Rules that read the payload (policy.h P7 mandatory, P8 anonymise,
     * b/i consent to forward of incident notices; P3 and j, a sighting's
     * originator): decode incidents and sightings first (they are rare).
     * Failing here is judged below (withheld by the audience or for want
     * of consent, or undecodable when delivered). */
    if ((in->env.type == CISHARE_MSG_INCIDENT ||
         in->env.type == CISHARE_MSG_SIGHTING ||
         /* a receipt's P3 exemption reads receipt_of_origin */
         in->env.type == CISHARE_MSG_RECEIPT) &&
        cishare_message_decode_unsealer(w->codec, &f->id.kp, f->unsealer,
                                        m->key, m->key_len, m->payload, m->len,
                                        in, why, sizeof(why)))
        why[0] = '\0';
    d = cishare_message_decide(f->id.dir, in, f->id.me, now_ms);
    if (!d.deliver) {
        it->state = ITEM_WITHHELD;
        it->reason = d.reason;
        goto out;
    }
    /* Keys of verified messages only, by origin and id: neither a forged
     * copy nor another participant's signed message under the same id
     * suppresses the genuine one. Duplicates are told apart in order, by
     * the main thread; decoding one is wasted work, not a wrong result. */
    cishare_dedup_key(in->env.origin, in->env.id, it->id);
    it->revocation = in->env.type == CISHARE_MSG_REVOCATION;
    it->state = ITEM_DELIVER;
    if ((it->receipt = receipt_due(f, in))) {
        it->rc_type = in->env.type;
        it->rc_tlp = in->tlp;
        copy_cut(it->rc_id, sizeof(it->rc_id), in->env.id);
        copy_cut(it->rc_origin, sizeof(it->rc_origin), in->env.origin);
    }
    if (f->need_tree) {
        char *dump = NULL;
        err = in->payload
                  ? CISHARE_OK /* decoded above */
                  : cishare_message_decode_unsealer(
                        w->codec, &f->id.kp, f->unsealer, m->key, m->key_len,
                        m->payload, m->len, in, why, sizeof(why));
        if (err) {
            item_fail(it, ITEM_UNDECODABLE, err, why);
            goto out;
        }
        it->js = cishare_message_to_json(in);
        if (it->js && f->need_line &&
            (dump = json_dumps(it->js, JSON_COMPACT | JSON_SORT_KEYS))) {
            it->line.len = 0;
            if (line_set(&it->line, dump, strlen(dump)))
                json_decref(it->js), it->js = NULL;
            free(dump);
        } else if (f->need_line) {
            json_decref(it->js);
            it->js = NULL;
        }
        if (!it->js)
            item_fail(it, ITEM_UNDECODABLE, CISHARE_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* only sinks that take lines: no JSON tree at all (the archive's row
     * takes the line's texts and the envelope's fields) */
    it->line.len = 0;
    err = cishare_message_render_line_spans(
        w->codec, &f->id.kp, f->unsealer, m->key, m->key_len, m->payload,
        m->len, in, &it->line, f->archive ? &it->a_spans : NULL, why,
        sizeof(why));
    if (err)
        item_fail(it, ITEM_UNDECODABLE, err, why);
    else if (f->archive) {
        const cishare_envelope_t *env = &in->env;
        it->arch = true;
        it->a_type = env->type;
        it->a_tlp = env->relay_cnt ? in->tlp : env->tlp;
        it->a_created_ms = env->created_ms;
        copy_cut(it->a_id, sizeof(it->a_id), env->id);
        copy_cut(it->a_origin, sizeof(it->a_origin), env->origin);
        copy_cut(it->a_sector, sizeof(it->a_sector), env->sector);
        copy_cut(it->a_by, sizeof(it->a_by),
                 env->relay_cnt ? env->relay[env->relay_cnt - 1].by : "");
    }
out:
    /* the next verify overwrites the envelope: not zeroed here */
    cishare_msg_in_reset(in);
}

/* The archive (archive.h) takes every delivered message in the batch's
 * transaction; an incident notice out of its incident's order is
 * delivered, flagged there, logged and counted. */
static cishare_err_t to_archive(feed_t *f, const item_t *it,
                                const char *subject, char *errstr,
                                size_t errstr_size)
{
    const rd_kafka_message_t *m = it->m;
    const json_t *js = it->js;
    rd_kafka_timestamp_type_t tst;
    int64_t ts = rd_kafka_message_timestamp(m, &tst);
    const char *line = (const char *)it->line.buf;
    cishare_archive_fields_t fl = {
        .id = it->a_id,
        .type = cishare_msgtype_name(it->a_type),
        .tlp = cishare_tlp_name(it->a_tlp),
        .origin = it->a_origin,
        .sector = it->a_sector,
        .subject = subject,
        .relayed_by = it->a_by[0] ? it->a_by : NULL,
        .created_ms = it->a_created_ms,
        .audience = line + it->a_spans.audience_off,
        .audience_len = it->a_spans.audience_len,
        .payload = line + it->a_spans.payload_off,
        .payload_len = it->a_spans.payload_len,
    };
    cishare_archive_rec_t rec = {
        .msg = js,
        .fields = js ? NULL : &fl,
        .me = f->id.me->id,
        .delivered_ms = cishare_time_now_ms(),
        .appended_ms = tst == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? ts : 0,
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->offset,
    };
    const char *flag = NULL;
    cishare_err_t err =
        cishare_archive_add(f->archive, &rec, &flag, errstr, errstr_size);

    if (!err && flag) {
        f->stats->incident_flagged++;
        feed_log(f, "incident notice %s of %s (%s [%d] @%lld) delivered, %s",
                 js ? json_string_value(json_object_get(js, "message_id"))
                    : it->a_id,
                 js ? json_string_value(json_object_get(js, "origin"))
                    : it->a_origin,
                 rd_kafka_topic_name(m->rkt), (int)m->partition,
                 (long long)m->offset, flag);
    }
    return err;
}

/* A receipt's delivery report (feed's thread, from rd_kafka_poll/flush):
 * the first failure of the batch is kept for commit_batch(). */
static void receipt_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                          void *opaque)
{
    feed_t *f = opaque;
    char why[384];

    (void)rk;
    if (f->rcpt_inflight)
        f->rcpt_inflight--;
    if (!m->err || f->rcpt_failed++)
        return;
    cishare_kafka_describe_error(m->err, f->id.me->id, "write to",
                                 rd_kafka_topic_name(m->rkt), why, sizeof(why));
    snprintf(f->rcpt_errstr, sizeof(f->rcpt_errstr),
             "receipt for message %.*s not delivered to %s: %s",
             m->key ? (int)m->key_len : 0, m->key ? (const char *)m->key : "",
             rd_kafka_topic_name(m->rkt), why);
}

/*
 * Build, sign (as this feed's participant, cishare_message_build) and
 * produce the receipt of a delivered message (main thread, in deliver(),
 * before its id is added to the dedup set): TLP:AMBER to
 * participant:<origin>, routed as the publisher routes (the origin's
 * inbox, and this participant's own: every origin receives its own
 * messages). Its delivery is checked by commit_batch() before the dedup
 * commit. A receipt the publish rules refuse (it could not be delivered
 * anyway) is logged and counted, and the feed goes on; anything else
 * that goes wrong stops the feed (the batch is read again and its
 * receipts re-sent).
 */
static cishare_err_t receipts_produce(feed_t *f, char *errstr,
                                      size_t errstr_size);

static cishare_err_t receipt_send(feed_t *f, const item_t *it,
                                  const char *subject, char *errstr,
                                  size_t errstr_size)
{
    const rd_kafka_message_t *m = it->m;
    rd_kafka_timestamp_type_t tst;
    int64_t ts = rd_kafka_message_timestamp(m, &tst);
    int64_t now = cishare_time_now_ms();
    char uuid[37], id[48], why[512];
    cishare_receipt_fields_t r;
    cishare_msg_out_t *out;
    cishare_err_t err;

    if (f->rcpt_pend_cnt == CISHARE_MERKLE_MAX_LEAVES &&
        (err = receipts_produce(f, errstr, errstr_size)))
        return err;
    {
        /* one receipt per (recipient, message): a batch re-read after a
         * crash re-sends the same receipt, which the origin's feed then
         * drops as a duplicate (schemas/README.md, "Message ids") */
        const char *rf[3] = {f->id.me->id, it->rc_origin, it->rc_id};
        cishare_uuid_name(uuid, "cishare/receipt/v1", rf, NULL, 3);
    }
    snprintf(id, sizeof(id), "receipt--%s", uuid);
    r = (cishare_receipt_fields_t){
        .id = id,
        .created_ms = now,
        .of_id = it->rc_id,
        .of_origin = it->rc_origin,
        .of_type = it->rc_type,
        .of_subject = subject,
        .of_tlp = it->rc_tlp,
        .delivered_ms = now,
        /* the broker's clock only: a CreateTime is the sender's */
        .appended_ms = tst == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? ts : -1,
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = (int)m->partition,
        .offset = m->offset,
    };
    /* built in its place in the queue (a message is 27 KB: no copy) */
    out = &f->rcpt_pend[f->rcpt_pend_cnt];
    if ((err = cishare_message_build_receipt(f->codec, f->id.dir, f->id.me,
                                             &f->id.kp, &r, now, out, why,
                                             sizeof(why))))
        return cishare_err_set(err, errstr, errstr_size,
                               "receipt for message %s of %s: cannot build: "
                               "%s",
                               it->rc_id, it->rc_origin, why);
    {
        /* the publish rules (policy.h) as the origin's feed judges them:
         * P3 lets anyone send a receipt at AMBER to exactly the origin */
        cishare_publish_msg_t pm = {
            .type = CISHARE_MSG_RECEIPT,
            .tlp = out->env.tlp,
            .origin = f->id.me,
            .audience = &out->audience,
            .sector = out->env.sector,
            .mandatory = 0,
            .anonymise = 0,
            .sighting_of = it->rc_origin,
        };
        cishare_reason_t reason;
        if (cishare_policy_check_publish(f->id.dir, &pm, &reason, why,
                                         sizeof(why))) {
            f->stats->receipts_refused++;
            feed_log(f, "receipt for message %s of %s not sent: %s (%s)",
                     it->rc_id, it->rc_origin, why,
                     cishare_reason_code(reason));
            cishare_msg_out_clear(out);
            return CISHARE_OK;
        }
    }
    f->rcpt_pend_cnt++; /* taken */
    return CISHARE_OK;
}

/* Sign the queued receipts as one batch and produce each to the origin's
 * inbox. The queue is emptied whatever happens; an error stops the feed
 * (the batch is read again and its receipts built again). */
static cishare_err_t receipts_produce(feed_t *f, char *errstr,
                                      size_t errstr_size)
{
    cishare_envelope_t *envs[CISHARE_MERKLE_MAX_LEAVES];
    const char *subj[CISHARE_MERKLE_MAX_LEAVES];
    const uint8_t *vals[CISHARE_MERKLE_MAX_LEAVES];
    size_t subj_len[CISHARE_MERKLE_MAX_LEAVES],
        val_len[CISHARE_MERKLE_MAX_LEAVES];
    size_t n = f->rcpt_pend_cnt, k, i;
    cishare_strlist_t topics = {0};
    char why[512];
    cishare_err_t err = CISHARE_OK;

    if (!n)
        return CISHARE_OK;
    for (k = 0; k < n; k++) {
        cishare_msg_out_t *o = &f->rcpt_pend[k];
        envs[k] = &o->env;
        subj[k] = o->key;
        subj_len[k] = o->key_len;
        vals[k] = o->value;
        val_len[k] = o->value_len;
    }
    if ((err = cishare_envelope_sign_batch(
             envs, subj, subj_len, vals, val_len, n, &f->id.kp,
             cishare_config_get(f->opts->conf, "cishare.sign.scheme"), why,
             sizeof(why)))) {
        cishare_err_set(err, errstr, errstr_size,
                        "receipts: cannot sign %zu: %s", n, why);
        goto done;
    }
    for (k = 0; k < n && !err; k++) {
        cishare_msg_out_t *o = &f->rcpt_pend[k];
        /* the receipt's key is the acknowledged message's id */
        const char *rid = o->key;

        o->env.wire_version = (uint8_t)cishare_config_get_int(
            f->opts->conf, "cishare.envelope.version");

        cishare_strlist_clear(&topics);
        if ((err = cishare_routing_topics(f->id.dir, f->id.me, o->env.tlp,
                                          &o->audience, &topics, why,
                                          sizeof(why)))) {
            cishare_err_set(err, errstr, errstr_size,
                            "receipt for message %s: no topic: %s", rid, why);
            break;
        }
        for (i = 0; i < topics.cnt && !err; i++) {
            rd_kafka_headers_t *hdrs;
            rd_kafka_resp_err_t kerr;
            char own[CISHARE_TOPIC_MAX];

            /* Not to our own inbox, where "every origin receives its own"
             * would put it: each run of this feed would then deliver the
             * previous run's receipts as new messages. */
            if (!cishare_topic_inbox(f->id.me->id, own, sizeof(own)) &&
                !strcmp(topics.items[i], own))
                continue;
            hdrs = rd_kafka_headers_new(16);
            if (!hdrs ||
                cishare_envelope_to_headers(&o->env, hdrs, why, sizeof(why))) {
                if (hdrs)
                    rd_kafka_headers_destroy(hdrs);
                err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                      "receipt for message %s: headers: %s",
                                      rid, hdrs ? why : "out of memory");
                break;
            }
            while ((kerr = rd_kafka_producev(
                        f->rcpt_rk, RD_KAFKA_V_TOPIC(topics.items[i]),
                        RD_KAFKA_V_KEY(o->key, o->key_len),
                        RD_KAFKA_V_VALUE(o->value, o->value_len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)) ==
                   RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(f->rcpt_rk, 100); /* make room */
            if (kerr) {
                rd_kafka_headers_destroy(hdrs); /* not taken on failure */
                cishare_kafka_describe_error(kerr, f->id.me->id, "write to",
                                             topics.items[i], why, sizeof(why));
                err = cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                                      "receipt for message %s: %s", rid, why);
                break;
            }
            f->rcpt_inflight++;
        }
        if (!err)
            f->rcpt_batch++;
    }
    rd_kafka_poll(f->rcpt_rk, 0); /* serve reports already in */
done:
    cishare_strlist_clear(&topics);
    for (k = 0; k < n; k++)
        cishare_msg_out_clear(&f->rcpt_pend[k]);
    f->rcpt_pend_cnt = 0;
    return err;
}

/*
 * The batch's receipts are in Kafka before the batch is committed (called
 * by commit_batch() after the sinks, the quarantine and the archive are
 * durable, before the dedup commit). A receipt not delivered stops the
 * feed: the batch is not committed, so its messages are read again and
 * their receipts sent again (the origin's archive counts one per
 * recipient and message).
 */
static cishare_err_t receipts_flush(feed_t *f, char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    if (!f->rcpt_rk)
        return CISHARE_OK;
    if ((err = receipts_produce(f, errstr, errstr_size)))
        return err;
    if (!f->rcpt_inflight && !f->rcpt_failed && !f->rcpt_batch)
        return CISHARE_OK;
    /* message.timeout.ms bounds every delivery: flush waits that long at
     * most, with a margin */
    rd_kafka_flush(f->rcpt_rk, f->rcpt_timeout_ms + 5000);
    if (f->rcpt_failed || f->rcpt_inflight)
        return cishare_err_set(
            CISHARE_ERR_KAFKA, errstr, errstr_size,
            "%s%s; the feed stops without committing the batch: its "
            "messages are read again and their receipts re-sent on the "
            "next run (set cishare.feed.receipts=0 to send none)",
            f->rcpt_failed ? f->rcpt_errstr
                           : "receipts not delivered within message.timeout.ms",
            f->rcpt_failed > 1 ? " (and more)" : "");
    f->stats->receipts_sent += f->rcpt_batch;
    f->rcpt_batch = 0;
    return CISHARE_OK;
}

/* Deliver one prepared message (main thread, poll order). */
static cishare_err_t deliver(feed_t *f, item_t *it, char *errstr,
                             size_t errstr_size)
{
    const rd_kafka_message_t *m = it->m;
    cishare_err_t err;

    switch (it->state) {
    case ITEM_QUARANTINE:
        return quarantine(f, m, it->err, it->why, errstr, errstr_size);
    case ITEM_WITHHELD:
        f->stats->withheld++;
        if ((size_t)it->reason < CISHARE_REASON__CNT)
            f->stats->withheld_by[it->reason]++;
        return CISHARE_OK;
    default:
        break;
    }
    if (cishare_dedup_seen(f->dedup, it->id)) {
        f->stats->duplicates++;
        return CISHARE_OK;
    }
    if (it->state == ITEM_UNDECODABLE) {
        if (it->err == CISHARE_ERR_NOMEM)
            return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                   "out of memory");
        return quarantine(f, m, it->err, it->why, errstr, errstr_size);
    }
    {
        /* The subject is the key: verify bounded it, decode checked that
         * it is the payload's subject id (payload.revokes of a
         * revocation). */
        char subject[CISHARE_SUBJECT_MAX_LEN + 1];
        size_t kl = m->key ? m->key_len : 0;
        memcpy(subject, kl ? (const char *)m->key : "", kl);
        subject[kl] = '\0';
        /* Sinks remove a revoked subject only if the revocation's origin
         * published it (they key their state by origin). */
        err = to_sinks(f, it->js, &it->line, subject, it->revocation, errstr,
                       errstr_size);
        /* The plugged-in delivery step (feed.h: cishare_feed_output_t,
         * the relay) takes the message where the sinks do: before its id
         * is added to the dedup set, so the same commit covers both. */
        if (!err && f->opts->output && f->opts->output->deliver)
            err = f->opts->output->deliver(f->opts->output->opaque, &f->id, m,
                                           it->js, errstr, errstr_size);
        if (!err && f->archive) {
            if (!it->js && !it->arch)
                err = cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr,
                                      errstr_size,
                                      "archive: message %s has no fields",
                                      rd_kafka_topic_name(m->rkt));
            else
                err = to_archive(f, it, subject, errstr, errstr_size);
        }
        /* delivered: its signed receipt, when one is due */
        if (!err && it->receipt && f->rcpt_rk)
            err = receipt_send(f, it, subject, errstr, errstr_size);
        if (it->revocation)
            f->stats->revocations++;
    }
    if (err)
        return err;
    if (cishare_dedup_add(f->dedup, it->id))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    f->stats->delivered++;
    {
        rd_kafka_timestamp_type_t tst;
        int64_t ts = rd_kafka_message_timestamp(m, &tst);
        if (ts > 0)
            f->stats->last_message_ms = ts;
    }
    return CISHARE_OK;
}

/* ---- the preparing threads ---- */

/*
 * The main thread hands one batch at a time to the pool and, while the
 * workers prepare it, delivers and commits the previous batch and polls
 * the next one. Workers take items by an atomic index, so the batch is
 * shared out without a lock per message.
 */
typedef struct pool_s {
    pthread_t *th;
    worker_t *w; /* w[0..n-1] for the threads */
    int n;
    const feed_t *f;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    /* The current job (under lock; next is atomic). */
    item_t *items;
    size_t cnt;
    size_t next;     /* atomic: next item to take */
    size_t finished; /* items prepared */
    int active;      /* workers that took this job and have not reported:
                        one may still be about to take an item of it, so
                        the job is done only when this is 0 too */
    uint64_t job;    /* job number, to wake workers once per job */
    int64_t now_ms;
    bool quit;
} pool_t;

static cishare_err_t worker_init(worker_t *w, char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    if ((err = cishare_codec_new(&w->codec, errstr, errstr_size)))
        return err;
    if (!(w->in = calloc(1, sizeof(*w->in))))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    return CISHARE_OK;
}

static void worker_clear(worker_t *w)
{
    cishare_codec_destroy(w->codec);
    free(w->in);
    memset(w, 0, sizeof(*w));
}

static void *pool_main(void *arg)
{
    void **a = arg;
    pool_t *p = a[0];
    worker_t *w = a[1];
    uint64_t seen = 0;

    free(arg);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        size_t i, mine = 0, cnt;
        item_t *items;
        int64_t now;

        while (!p->quit && p->job == seen)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->quit)
            break;
        seen = p->job;
        items = p->items;
        cnt = p->cnt;
        now = p->now_ms;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < cnt) {
            prepare(p->f, w, &items[i], now);
            mine++;
        }
        pthread_mutex_lock(&p->lock);
        p->finished += mine;
        p->active--;
        if (p->finished == p->cnt && p->active == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void pool_destroy(pool_t *p)
{
    int i;

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->n; i++)
        pthread_join(p->th[i], NULL);
    for (i = 0; i < p->n; i++)
        worker_clear(&p->w[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p->w);
    free(p);
}

static cishare_err_t pool_new(const feed_t *f, int n, pool_t **pp, char *errstr,
                              size_t errstr_size)
{
    pool_t *p = calloc(1, sizeof(*p));
    cishare_err_t err;
    int i;

    *pp = NULL;
    if (!p || !(p->th = calloc((size_t)n, sizeof(*p->th))) ||
        !(p->w = calloc((size_t)n, sizeof(*p->w)))) {
        if (p)
            free(p->th);
        free(p);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    p->f = f;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (i = 0; i < n; i++) {
        void **arg = malloc(2 * sizeof(*arg));
        if ((err = worker_init(&p->w[i], errstr, errstr_size)))
            goto fail;
        if (!arg) {
            err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                  "out of memory");
            goto fail;
        }
        arg[0] = p;
        arg[1] = &p->w[i];
        if (pthread_create(&p->th[i], NULL, pool_main, arg)) {
            free(arg);
            err = cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                                  "cannot start a verification thread");
            worker_clear(&p->w[i]);
            goto fail;
        }
        p->n++;
    }
    *pp = p;
    return CISHARE_OK;
fail:
    pool_destroy(p);
    return err;
}

/* Start preparing items[0..cnt-1]; the previous job must be finished. */
static void pool_submit(pool_t *p, item_t *items, size_t cnt, int64_t now_ms)
{
    pthread_mutex_lock(&p->lock);
    p->items = items;
    p->cnt = cnt;
    p->finished = 0;
    p->now_ms = now_ms;
    __atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
    p->job++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
}

static void pool_wait(pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->finished < p->cnt || p->active > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

/* ---- batch commit: sinks, quarantine, dedup, Kafka ---- */

static bool tp_in(const rd_kafka_topic_partition_list_t *l, const char *topic,
                  int32_t partition)
{
    return l && rd_kafka_topic_partition_list_find(
                    (rd_kafka_topic_partition_list_t *)l, topic, partition);
}

/* Only partitions assigned now are committed: an offset of a partition
 * another member owns would move its position (forward or back). The
 * revoke path removes what it revokes first; this is the backstop. */
static void offsets_keep_assigned(feed_t *f)
{
    int i, dropped = 0;

    for (i = f->offsets->cnt - 1; i >= 0; i--) {
        const rd_kafka_topic_partition_t *tp = &f->offsets->elems[i];
        if (!tp_in(f->assigned, tp->topic, tp->partition)) {
            rd_kafka_topic_partition_list_del_by_idx(f->offsets, i);
            dropped++;
        }
    }
    if (dropped)
        feed_log(f,
                 "offsets of %d partition(s) no longer assigned to this feed "
                 "not committed (their new owner reads them again)",
                 dropped);
}

/* The Prometheus series of the feed (feed.h, "Metrics"), from its stats:
 * called on the feed's thread after each commit. */
static void metrics_update(feed_t *f)
{
    cishare_metrics_t *mt = f->opts->metrics;
    const cishare_feed_stats_t *st = f->stats;
    rd_kafka_topic_partition_list_t *parts = NULL;
    size_t r;
    int i;

    if (!mt)
        return;
    cishare_metrics_set(mt, CISHARE_METRIC_COUNTER,
                        "cishare_feed_delivered_total",
                        "Messages delivered to the sinks (revocations too)",
                        NULL, (double)st->delivered);
    cishare_metrics_set(mt, CISHARE_METRIC_COUNTER,
                        "cishare_feed_duplicates_total",
                        "Messages already delivered (seen-id set)", NULL,
                        (double)st->duplicates);
    cishare_metrics_set(
        mt, CISHARE_METRIC_COUNTER, "cishare_feed_revocations_total",
        "Verified revocations applied", NULL, (double)st->revocations);
    for (r = 0; r < CISHARE_REASON__CNT; r++) {
        const char *l[] = {"reason", cishare_reason_code((cishare_reason_t)r),
                           NULL};
        if (st->withheld_by[r])
            cishare_metrics_set(mt, CISHARE_METRIC_COUNTER,
                                "cishare_feed_withheld_total",
                                "Messages the TLP rules withheld, by reason", l,
                                (double)st->withheld_by[r]);
    }
    for (r = 0; r < CISHARE_FEED_QREASON__CNT; r++) {
        const char *l[] = {"reason", qreason_names[r], NULL};
        cishare_metrics_set(mt, CISHARE_METRIC_COUNTER,
                            "cishare_feed_quarantined_total",
                            "Messages quarantined, by reason", l,
                            (double)st->quarantined_by[r]);
    }
    for (r = 1; r < CISHARE_INDICATOR__CNT; r++) {
        const char *l[] = {
            "reason",
            cishare_indicator_reason_name((cishare_indicator_reason_t)r), NULL};
        if (st->blocklist_refused_by[r])
            cishare_metrics_set(mt, CISHARE_METRIC_COUNTER,
                                "cishare_feed_blocklist_excluded_total",
                                "Observables kept out of the blocklists, by "
                                "reason",
                                l, (double)st->blocklist_refused_by[r]);
    }
    cishare_metrics_set(mt, CISHARE_METRIC_GAUGE, "cishare_directory_serial",
                        "Serial of the participant directory in use", NULL,
                        (double)cishare_directory_serial(f->id.dir));
    if (st->last_message_ms)
        cishare_metrics_set(mt, CISHARE_METRIC_GAUGE,
                            "cishare_feed_last_message_timestamp_seconds",
                            "Kafka timestamp of the last message delivered",
                            NULL, (double)st->last_message_ms / 1000.0);
    /* Lag from what the consumer already knows (no broker round trip):
     * the high watermark of its last fetch minus its position. */
    cishare_metrics_generation(mt, "cishare_feed_consumer_lag");
    if (!rd_kafka_assignment(f->rk, &parts) && parts &&
        !rd_kafka_position(f->rk, parts)) {
        for (i = 0; i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &parts->elems[i];
            int64_t lo = -1, hi = -1;
            char pn[16];
            const char *l[] = {"topic", tp->topic, "partition", pn, NULL};

            if (rd_kafka_get_watermark_offsets(f->rk, tp->topic, tp->partition,
                                               &lo, &hi) ||
                hi < 0)
                continue;
            snprintf(pn, sizeof(pn), "%d", (int)tp->partition);
            cishare_metrics_set(
                mt, CISHARE_METRIC_GAUGE, "cishare_feed_consumer_lag",
                "Messages behind the high watermark, per assigned partition", l,
                (double)(tp->offset >= 0 ? hi - tp->offset : hi - lo));
        }
    }
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    cishare_metrics_sweep(mt, "cishare_feed_consumer_lag");
}

/* commit_batch()'s kafka argument: leave the offsets for later, commit
 * them and wait for the broker's answer, or send the commit and go on. */
#define COMMIT_NO_KAFKA 0
#define COMMIT_SYNC     1
#define COMMIT_ASYNC    2

static cishare_err_t commit_batch_(feed_t *f, int kafka, char *errstr,
                                   size_t errstr_size);

static cishare_err_t commit_batch(feed_t *f, int kafka, char *errstr,
                                  size_t errstr_size)
{
    cishare_err_t err = commit_batch_(f, kafka, errstr, errstr_size);

    if (err)
        return err;
    if (f->unc_cnt) {
        f->stats->commits++;
        f->stats->busy_last_us = cishare_time_mono_us();
        if (f->opts->metrics) {
            static const double bounds[] = {
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
            cishare_metrics_observe(
                f->opts->metrics, "cishare_feed_batch_seconds",
                "Time from the first poll of a commit's messages to the end "
                "of that commit",
                bounds, sizeof(bounds) / sizeof(bounds[0]),
                (double)(f->stats->busy_last_us - f->unc_first_us) / 1e6);
        }
        f->unc_cnt = 0;
    }
    metrics_update(f);
    return CISHARE_OK;
}

/* Set dst's offset of every partition of src (added when missing). */
static void offsets_merge(rd_kafka_topic_partition_list_t *dst,
                          const rd_kafka_topic_partition_list_t *src)
{
    int i;

    for (i = 0; i < src->cnt; i++) {
        const rd_kafka_topic_partition_t *s = &src->elems[i];
        rd_kafka_topic_partition_t *d =
            rd_kafka_topic_partition_list_find(dst, s->topic, s->partition);
        if (!d)
            d = rd_kafka_topic_partition_list_add(dst, s->topic, s->partition);
        d->offset = s->offset;
    }
}

static cishare_err_t commit_batch_(feed_t *f, int kafka, char *errstr,
                                   size_t errstr_size)
{
    int64_t now = cishare_time_now_ms();
    uint64_t mark;
    size_t i;
    cishare_err_t err;
    rd_kafka_resp_err_t kerr;

    f->stats->sink_over_bound = 0;
    for (i = 0; i < f->sink_cnt; i++) {
        if (cishare_sink_sync(f->sinks[i], now, &mark, errstr, errstr_size))
            return CISHARE_ERR_IO;
        f->stats->sink_over_bound += cishare_sink_over_bound(f->sinks[i]);
        if (cishare_sink_blocklist_refused(f->sinks[i], NULL))
            f->stats->blocklist_refused = cishare_sink_blocklist_refused(
                f->sinks[i], f->stats->blocklist_refused_by);
        if ((err = cishare_dedup_set_mark(f->dedup, f->sinks[i]->plugin->name,
                                          mark)))
            return cishare_err_set(err, errstr, errstr_size,
                                   "dedup: cannot set mark");
    }
    if ((err = cishare_quarantine_sync(f->quar, &mark, errstr, errstr_size)) ||
        (err = cishare_dedup_set_mark(f->dedup, "quarantine", mark)))
        return err;
    if (f->archive &&
        (err = cishare_archive_commit(f->archive, errstr, errstr_size)))
        return err;
    /* The plugged-in delivery step makes its output durable with the
     * sinks (dedup.h step 1), before the dedup commit; it may commit the
     * offsets itself, atomically with its output (the relay's Kafka
     * transaction), so it is given those the feed commits below. */
    if (f->opts->output && f->opts->output->commit) {
        if (kafka && f->offsets)
            offsets_keep_assigned(f);
        if ((err = f->opts->output->commit(f->opts->output->opaque, &f->id,
                                           f->rk, kafka ? f->offsets : NULL,
                                           errstr, errstr_size)))
            return err;
    }
    /* The batch's receipts are delivered before it is committed (a
     * failure stops the feed; the batch is re-delivered, and its
     * receipts re-sent). */
    if ((err = receipts_flush(f, errstr, errstr_size)))
        return err;
    if ((err = cishare_dedup_commit(f->dedup, errstr, errstr_size)))
        return err;
    if (!kafka)
        return CISHARE_OK;
    /* The offsets come last, after the sinks and the dedup commit, and
     * only tell where to resume: a commit lost in a crash only makes the
     * feed re-read messages that the dedup store skips. So a batch sends
     * its commit without waiting for the broker's answer (a round trip
     * every batch was the largest part of the p99 latency,
     * docs/PERFORMANCE.md "Latency"); an idle feed, a revoke and the end
     * of a run commit synchronously, including those sent before. The
     * relay's output commits offsets in its transaction: synchronous. */
    if (kafka == COMMIT_ASYNC && f->opts->output && f->opts->output->commit)
        kafka = COMMIT_SYNC;
    if (kafka == COMMIT_SYNC && f->async_offsets) {
        if (f->offsets)
            offsets_merge(f->async_offsets, f->offsets);
        else
            f->offsets = rd_kafka_topic_partition_list_new(8);
        offsets_merge(f->offsets, f->async_offsets);
        rd_kafka_topic_partition_list_destroy(f->async_offsets);
        f->async_offsets = NULL;
    }
    if (!f->offsets)
        return CISHARE_OK;
    offsets_keep_assigned(f);
    if (f->offsets->cnt == 0)
        return CISHARE_OK;
    if (kafka == COMMIT_ASYNC) {
        if (!f->async_offsets)
            f->async_offsets = rd_kafka_topic_partition_list_new(8);
        offsets_merge(f->async_offsets, f->offsets);
    }
    /* an async commit's failure is logged by feed_commit_cb */
    kerr = rd_kafka_commit(f->rk, f->offsets, kafka == COMMIT_ASYNC);
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

static void feed_error_cb(rd_kafka_t *rk, int err, const char *reason,
                          void *opaque);

/* The receipts' producer (feed_open(), receipts on). */
static cishare_err_t receipts_open(feed_t *f, char *errstr, size_t errstr_size)
{
    const cishare_config_t *conf = f->opts->conf;
    rd_kafka_conf_t *kc;
    char v[32];
    size_t vlen = sizeof(v);

    f->rcpt_amber = cishare_config_get_int(conf, "cishare.feed.receipts-amber");
    if (!(kc = cishare_config_kafka_conf(conf, errstr, errstr_size)))
        return CISHARE_ERR_CONFIG;
    if (rd_kafka_conf_set(kc, "enable.idempotence", "true", errstr,
                          errstr_size) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(kc, "acks", "all", errstr, errstr_size) !=
            RD_KAFKA_CONF_OK ||
        /* every batch commit flushes the receipts: lingering only delays
         * that flush (5 ms a batch: 4 times slower on RED feeds) */
        rd_kafka_conf_set(kc, "linger.ms", "0", errstr, errstr_size) !=
            RD_KAFKA_CONF_OK ||
        (!cishare_config_get_kafka(conf, "message.timeout.ms") &&
         rd_kafka_conf_set(kc, "message.timeout.ms", "30000", errstr,
                           errstr_size) != RD_KAFKA_CONF_OK)) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_CONFIG;
    }
    f->rcpt_timeout_ms = 30000;
    if (rd_kafka_conf_get(kc, "message.timeout.ms", v, &vlen) ==
        RD_KAFKA_CONF_OK)
        f->rcpt_timeout_ms = strtoll(v, NULL, 10);
    rd_kafka_conf_set_dr_msg_cb(kc, receipt_dr_cb);
    rd_kafka_conf_set_opaque(kc, f);
    if (!(f->rcpt_pend =
              calloc(CISHARE_MERKLE_MAX_LEAVES, sizeof(*f->rcpt_pend)))) {
        rd_kafka_conf_destroy(kc);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if (!(f->rcpt_rk =
              rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_KAFKA;
    }
    /* Ask for the inboxes' metadata now, while the consumer joins its
     * group: the first receipts' flush would otherwise wait for it. */
    {
        size_t i, n = cishare_directory_participant_cnt(f->id.dir);
        char topic[CISHARE_TOPIC_MAX];
        for (i = 0; i < n; i++) {
            const cishare_participant_t *p =
                cishare_directory_participant(f->id.dir, i);
            rd_kafka_topic_t *rkt;
            if (p == f->id.me ||
                cishare_topic_inbox(p->id, topic, sizeof(topic)) ||
                !(rkt = rd_kafka_topic_new(f->rcpt_rk, topic, NULL)))
                continue;
            rd_kafka_topic_destroy(rkt); /* librdkafka keeps it known */
        }
    }
    return CISHARE_OK;
}

static cishare_err_t feed_open(feed_t *f, char *errstr, size_t errstr_size)
{
    const cishare_feed_opts_t *o = f->opts;
    const char *state = cishare_config_get(o->conf, CISHARE_CONF_STATE_DIR);
    const char *qdir;
    char path[4096], group[CISHARE_TOPIC_MAX];
    cishare_sink_opts_t so = {0};
    cishare_strlist_t topics = {0};
    cishare_tls_info_t tls;
    rd_kafka_conf_t *kc;
    rd_kafka_topic_partition_list_t *sub;
    uint64_t mark;
    size_t i;
    cishare_err_t err;
    rd_kafka_resp_err_t kerr;

    f->revocation_grace_ms =
        cishare_config_get_int(o->conf, "cishare.feed.revocation-grace-ms");
    if (!state || !*state) {
        if (!strcmp(o->out, "-"))
            return cishare_err_set(
                CISHARE_ERR_CONFIG, errstr, errstr_size,
                "with --out - set cishare.state-dir (where the feed keeps "
                "the ids it has delivered)");
        state = o->out;
    }
    /* One feed per folder, before anything in it is opened: a second one
     * refuses, or waits as a hot standby (folderlock.h). A plugged-in
     * output's owner (the relay) holds the lock of its folder itself. */
    if (!o->output) {
        if (cishare_mkdirs(state))
            return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                                   "%s: cannot create folder: %s", state,
                                   strerror(errno));
        if ((err = cishare_folder_lock(state, "feed", o->standby, o->stop,
                                       o->log, o->log_opaque, &f->lock_fd,
                                       errstr, errstr_size)))
            return err;
        if (f->lock_fd < 0) {
            f->standby_stopped = true; /* stopped while waiting */
            return CISHARE_OK;
        }
    }
    /* the directory's trust state lives beside the feed's own state */
    if ((err = cishare_identity_load_at(o->conf, state, &f->id, errstr,
                                        errstr_size)))
        return CISHARE_ERR_CONFIG;
    if (f->id.dir_note[0]) /* the kept copy, newer than the file */
        feed_log(f, "%s", f->id.dir_note);
    /* A certificate the cluster would refuse: say why before any folder,
     * state file or consumer is made. */
    if ((err = cishare_tls_preflight(o->conf, f->id.dir, f->id.me->id, 0, &tls,
                                     errstr, errstr_size)))
        return err;
    if (tls.tls || cishare_tls_plaintext_warn(o->conf, &tls))
        feed_log(f, "%s", cishare_tls_info_format(&tls, path, sizeof(path)));
    /* A newer version on the directory topic applies before the first
     * message is verified (and before the topics are chosen). */
    {
        cishare_directory_t *nd = NULL;
        if ((err = cishare_dirtopic_new(o->conf, state, dirtopic_log, f,
                                        &f->dirw, errstr, errstr_size)) ||
            (err = cishare_dirtopic_sync(f->dirw, f->id.dir, DIRTOPIC_SYNC_MS,
                                         &nd, errstr, errstr_size)))
            return err;
        f->stats->directory_refused = cishare_dirtopic_refused(f->dirw);
        if (nd && (err = directory_swap(f, nd, errstr, errstr_size)))
            return err;
    }
    if ((err = cishare_codec_new(&f->codec, errstr, errstr_size)))
        return err;
    if (cishare_unsealer_new(CISHARE_UNSEALER_EPOCHS, &f->unsealer))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    if (cishare_mkdirs(state) ||
        (strcmp(o->out, "-") && cishare_mkdirs(o->out)))
        return cishare_err_set(
            CISHARE_ERR_IO, errstr, errstr_size, "%s: cannot create folder: %s",
            strcmp(o->out, "-") ? o->out : state, strerror(errno));
    snprintf(path, sizeof(path), "%s/seen.log", state);
    /* A new state folder has delivered nothing: the consumer group's
     * committed offsets (if any) were committed for another folder, and
     * resuming from them would silently skip history. It reads every
     * partition from its beginning instead; the seen set keeps that
     * exactly-once from then on. A further member of a feed scaled out
     * over one group sets cishare.feed.new-state-folder=group. */
    {
        const char *ns =
            cishare_config_get(o->conf, "cishare.feed.new-state-folder");
        if (ns && strcmp(ns, "beginning") && strcmp(ns, "group"))
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "cishare.feed.new-state-folder: '%s' is "
                                   "not beginning or group",
                                   ns);
        f->fresh_state = (!ns || !strcmp(ns, "beginning")) &&
                         access(path, F_OK) != 0 && errno == ENOENT;
    }
    if ((err = cishare_dedup_open(path, &f->dedup, errstr, errstr_size)))
        return err;
    if (f->fresh_state && !o->from_beginning)
        feed_log(f,
                 "%s: new state folder: reading every partition from its "
                 "beginning (the consumer group's committed offsets are not "
                 "this folder's)",
                 state);
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
    so.conf = o->conf;
    so.log = o->log;
    so.log_opaque = o->log_opaque;
    for (i = 0; i < o->sink_cnt; i++) {
        so.has_mark = cishare_dedup_get_mark(f->dedup, o->sinks[i], &so.mark);
        if ((err = cishare_sink_open(o->sinks[i], &so, &f->sinks[i], errstr,
                                     errstr_size)))
            return err;
        f->sink_cnt++;
        if (cishare_sink_takes_line(f->sinks[i]))
            f->need_line = true;
        else
            f->need_tree = true;
    }

    /* the plugged-in delivery step (the relay) takes the JSON tree */
    if (o->output && o->output->deliver)
        f->need_tree = true;
    f->commit_us =
        cishare_config_get_int(o->conf, "cishare.feed.commit-ms") * 1000;
    if (cishare_config_get_int(o->conf, "cishare.feed.archive")) {
        /* where cishare_archive_default_path() finds it */
        snprintf(path, sizeof(path), "%s/archive.db", state);
        if ((err = cishare_archive_open(path, true, &f->archive, errstr,
                                        errstr_size)))
            return err;
        /* the line path gives the archive its row without a tree */
        if (!f->need_line)
            f->need_tree = true;
    }

    /* Signed receipts: a producer of their own, as the publisher's
     * (idempotent, acks=all, the participant's TLS settings). None when
     * a plugged-in output (the relay) runs the feed: the participant's
     * own feed sends them. */
    if (cishare_config_get_int(o->conf, "cishare.feed.receipts") &&
        !o->output && (err = receipts_open(f, errstr, errstr_size)))
        return err;

    /* Kafka consumer. */
    if (!(kc = cishare_config_kafka_conf(o->conf, errstr, errstr_size)))
        return CISHARE_ERR_CONFIG;
    if (!cishare_config_get_kafka(o->conf, "group.id")) {
        cishare_topic_feed_group(f->id.me->id, group, sizeof(group));
        rd_kafka_conf_set(kc, "group.id", group, NULL, 0);
    }
    /* A hot pair on one folder: one static member, so the standby's join
     * replaces a killed active at once (KIP-345) rather than after its
     * session times out; the old member, if it lived, is fenced. */
    if (o->standby && !cishare_config_get_kafka(o->conf, "group.instance.id")) {
        char real[4096], inst[CISHARE_TOPIC_MAX + 40];
        const char *g = cishare_config_get_kafka(o->conf, "group.id");
        const char *fields[2] = {g ? g : group,
                                 realpath(state, real) ? real : state};
        char uuid[37];
        cishare_uuid_name(uuid, "cishare/feed-instance/v1", fields, NULL, 2);
        snprintf(inst, sizeof(inst), "%s.%.8s%.4s", f->id.me->id, uuid,
                 uuid + 9);
        if (rd_kafka_conf_set(kc, "group.instance.id", inst, errstr,
                              errstr_size)) {
            rd_kafka_conf_destroy(kc);
            return CISHARE_ERR_CONFIG;
        }
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
    {
        char v[32];
        size_t vlen = sizeof(v);
        f->assign_wait_ms = 45000;
        if (rd_kafka_conf_get(kc, "session.timeout.ms", v, &vlen) ==
            RD_KAFKA_CONF_OK)
            f->assign_wait_ms = strtoll(v, NULL, 10);
        f->assign_wait_ms += 15000;
    }
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_error_cb(kc, feed_error_cb);
    rd_kafka_conf_set_offset_commit_cb(kc, feed_commit_cb);
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
    if (f->rcpt_rk) {
        /* Receipts still queued belong to a batch not committed (a
         * committed batch flushed them): it is read again and they are
         * re-sent, so they are purged rather than waited for. */
        rd_kafka_purge(f->rcpt_rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(f->rcpt_rk, 0);
        rd_kafka_destroy(f->rcpt_rk);
    }
    while (f->rcpt_pend && f->rcpt_pend_cnt)
        cishare_msg_out_clear(&f->rcpt_pend[--f->rcpt_pend_cnt]);
    free(f->rcpt_pend);
    cishare_dirtopic_destroy(f->dirw);
    if (f->offsets)
        rd_kafka_topic_partition_list_destroy(f->offsets);
    if (f->async_offsets)
        rd_kafka_topic_partition_list_destroy(f->async_offsets);
    if (f->assigned)
        rd_kafka_topic_partition_list_destroy(f->assigned);
    if (f->eof)
        rd_kafka_topic_partition_list_destroy(f->eof);
    for (i = 0; i < f->sink_cnt; i++)
        cishare_sink_close(f->sinks[i]);
    cishare_archive_close(f->archive);
    cishare_quarantine_close(f->quar);
    cishare_dedup_close(f->dedup);
    cishare_codec_destroy(f->codec);
    cishare_unsealer_destroy(f->unsealer);
    cishare_identity_clear(&f->id);
    cishare_strlist_clear(&f->warned_topics);
    if (f->lock_fd >= 0)
        close(f->lock_fd); /* last: the folder is consistent now */
}

/* Client-level errors (served by rd_kafka_consumer_poll on the feed's
 * thread): logged in plain words, and watched for a refusal (TLS or
 * login) from every broker, which ends the feed in poll_batch: librdkafka
 * would retry forever. */
static void feed_error_cb(rd_kafka_t *rk, int err, const char *reason,
                          void *opaque)
{
    feed_t *f = opaque;
    cishare_log_fields_t lf = {0};
    char buf[768];

    (void)rk;
    lf.level = CISHARE_LOG_WARN; /* librdkafka retries; the watch stops it */
    lf.reason = cishare_kafka_conn_code(cishare_kafka_explain_conn(
        (rd_kafka_resp_err_t)err, reason, f->id.me->id, buf, sizeof(buf)));
    lf.kafka_error = rd_kafka_err2name((rd_kafka_resp_err_t)err);
    feed_log_with(f, &lf, "kafka: %s", buf);
    cishare_kafka_watch_update(&f->watch, (rd_kafka_resp_err_t)err, reason,
                               f->id.me->id);
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
            cishare_log_fields_t lf = {0};
            lf.level = CISHARE_LOG_WARN;
            lf.reason = m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                            ? "topic-unknown"
                            : "topic-not-authorised";
            lf.topic = topic;
            lf.partition = m->partition;
            lf.offset = -1;
            lf.kafka_error = rd_kafka_err2name(m->err);
            feed_log_with(f, &lf, "topic %s: %s", topic,
                          rd_kafka_message_errstr(m));
        }
        return CISHARE_OK;
    }
    if (rd_kafka_fatal_error(f->rk, NULL, 0) ||
        m->err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
        m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
        cishare_kafka_explain_conn(m->err, rd_kafka_message_errstr(m),
                                   f->id.me->id, errstr, errstr_size);
        return CISHARE_ERR_KAFKA;
    }
    {
        char buf[768];
        cishare_log_fields_t lf = {0};
        lf.level = CISHARE_LOG_WARN;
        lf.reason = cishare_kafka_conn_code(
            cishare_kafka_explain_conn(m->err, rd_kafka_message_errstr(m),
                                       f->id.me->id, buf, sizeof(buf)));
        lf.kafka_error = rd_kafka_err2name(m->err);
        feed_log_with(f, &lf, "kafka: %s", buf);
    }
    return CISHARE_OK;
}

typedef struct batch_s {
    item_t *items;
    size_t cnt;
    int64_t polled_us; /* cishare_time_mono_us() of its first message */
} batch_t;

/* Poll up to cap messages: wait up to 100 ms for the first (not at all
 * with nowait: a prepared batch is waiting to be delivered), then take
 * only what is already queued, so that a quiet feed delivers at once and
 * a busy one fills its batches. Consumer errors are handled here. */
static cishare_err_t poll_batch(feed_t *f, batch_t *b, size_t cap, bool nowait,
                                char *errstr, size_t errstr_size)
{
    const cishare_feed_opts_t *opts = f->opts;
    int64_t deadline = cishare_time_now_ms() + 100;
    cishare_err_t err;

    b->cnt = 0;
    while (b->cnt < cap && !(opts->stop && *opts->stop)) {
        rd_kafka_message_t *m;
        int timeout = 0;

        if (!b->cnt && !nowait) {
            int64_t left = deadline - cishare_time_now_ms();
            if (left <= 0)
                break;
            timeout = (int)left;
        }
        m = rd_kafka_consumer_poll(f->rk, timeout);
        if (f->cb_err) { /* rebalance_cb could not deliver or commit */
            if (m)
                rd_kafka_message_destroy(m);
            return cishare_err_set(f->cb_err, errstr, errstr_size, "%s",
                                   f->cb_errstr);
        }
        if (f->watch.refused && f->watch.all_down) { /* feed_error_cb */
            if (m)
                rd_kafka_message_destroy(m);
            return cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size, "%s",
                                   f->watch.text);
        }
        if (!m) {
            if (b->cnt || nowait)
                break;
            continue;
        }
        if (m->err) {
            err = consumer_error(f, m, errstr, errstr_size);
            rd_kafka_message_destroy(m);
            if (err)
                return err;
            if (opts->once && all_at_end(f))
                break;
            continue;
        }
        eof_set(f, rd_kafka_topic_name(m->rkt), m->partition, false);
        if (!f->stats->busy_first_us)
            f->stats->busy_first_us = cishare_time_mono_us();
        if (!b->cnt)
            b->polled_us = cishare_time_mono_us();
        b->items[b->cnt++].m = m;
    }
    return CISHARE_OK;
}

/* Deliver a batch in poll order, then commit it (dedup.h). On error
 * nothing of the batch is committed. Items are cleared. With w (one
 * thread, no pool) each item is prepared just before its delivery, not
 * the whole batch first: after a stall the feed catches up with a batch
 * of up to 1000, and its first lines then reach the sinks at once instead
 * of after the batch's last verification (docs/PERFORMANCE.md
 * "Latency"). Without w the batch is prepared. */
static cishare_err_t deliver_batch(feed_t *f, batch_t *b, worker_t *w,
                                   int64_t now_ms, char *errstr,
                                   size_t errstr_size)
{
    cishare_err_t err = CISHARE_OK;
    size_t i;

    for (i = 0; i < b->cnt; i++) {
        if (!err && w)
            prepare(f, w, &b->items[i], now_ms);
        if (!err && !(err = deliver(f, &b->items[i], errstr, errstr_size)))
            offset_track(f, b->items[i].m);
        item_clear(&b->items[i]);
    }
    if (!b->cnt || err)
        return err;
    /* readers of a pipe see the lines now, before the commit */
    for (i = 0; i < f->sink_cnt; i++)
        cishare_sink_flush(f->sinks[i]);
    f->stats->batches++;
    if (!f->unc_cnt)
        f->unc_first_us = b->polled_us;
    f->unc_cnt += b->cnt;
    b->cnt = 0;
    if (f->unc_cnt < f->batch_size &&
        cishare_time_mono_us() - f->unc_first_us < f->commit_us)
        /* committed with the next batch, or when quiet; the archive
         * writes its rows meanwhile, so that the commit is short */
        return f->archive
                   ? cishare_archive_stage(f->archive, errstr, errstr_size)
                   : CISHARE_OK;
    return commit_batch(f, COMMIT_ASYNC, errstr, errstr_size);
}

static void batch_clear(batch_t *b)
{
    size_t i;

    for (i = 0; i < b->cnt; i++)
        item_clear(&b->items[i]);
    b->cnt = 0;
}

/* ---- rebalances ---- */

/* Drop the polled, not yet prepared items of partitions in `parts` from
 * b, keeping the others in poll order (and every item's line buffer).
 * Returns how many were dropped. */
static size_t batch_drop(batch_t *b,
                         const rd_kafka_topic_partition_list_t *parts)
{
    size_t i, j = 0, dropped = 0;

    for (i = 0; i < b->cnt; i++) {
        item_t *it = &b->items[i];
        if (tp_in(parts, rd_kafka_topic_name(it->m->rkt), it->m->partition)) {
            item_clear(it);
            dropped++;
            continue;
        }
        if (i != j) {
            item_t t = b->items[j];
            b->items[j] = *it;
            *it = t;
        }
        j++;
    }
    b->cnt = j;
    return dropped;
}

static void tp_list_remove(rd_kafka_topic_partition_list_t *l,
                           const rd_kafka_topic_partition_list_t *parts)
{
    int i;

    for (i = 0; l && i < parts->cnt; i++)
        rd_kafka_topic_partition_list_del(l, parts->elems[i].topic,
                                          parts->elems[i].partition);
}

/*
 * Partitions `parts` are taken away (feed's thread, inside
 * rd_kafka_consumer_poll(), before they are unassigned). While they are
 * still ours: wait for the preparing threads, deliver the prepared batch
 * and commit it (and anything delivered and not yet committed)
 * synchronously. Then drop what is left of them: polled messages not yet
 * prepared (their new owner reads them from the committed offset), their
 * offsets, their end-of-partition marks. Nothing of a revoked partition
 * is delivered or committed afterwards. When the assignment is lost (the
 * group moved on without us), nothing is delivered or committed: the
 * partitions may already be someone else's.
 */
static void partitions_revoked(feed_t *f,
                               const rd_kafka_topic_partition_list_t *parts)
{
    batch_t *cur = f->curp ? *f->curp : NULL;
    batch_t *pend = f->pendp ? *f->pendp : NULL;
    bool lost = rd_kafka_assignment_lost(f->rk);
    size_t delivered = 0, dropped = 0;
    cishare_err_t err = CISHARE_OK;

    if (f->pool)
        pool_wait(f->pool); /* pend is prepared; no worker reads it */
    if (pend && pend->cnt) {
        delivered = pend->cnt;
        if (lost || f->cb_err)
            batch_clear(pend);
        else if ((err = deliver_batch(f, pend, NULL, 0, f->cb_errstr,
                                      sizeof(f->cb_errstr))))
            batch_clear(pend);
    }
    /* synchronously, with the offsets of earlier batches sent async: the
     * new owner starts from them */
    if (!err && !lost && !f->cb_err && f->curp &&
        ((f->offsets && f->offsets->cnt) || f->async_offsets))
        err = commit_batch(f, COMMIT_SYNC, f->cb_errstr, sizeof(f->cb_errstr));
    if (err && !f->cb_err)
        f->cb_err = err;
    if (cur)
        dropped = batch_drop(cur, parts);
    tp_list_remove(f->offsets, parts);
    tp_list_remove(f->async_offsets, parts);
    tp_list_remove(f->eof, parts);
    tp_list_remove(f->assigned, parts);
    if (delivered || dropped || lost)
        feed_log(f,
                 "rebalance: %d partition(s) revoked%s; %zu prepared "
                 "message(s) %s, %zu polled message(s) left to their next "
                 "owner",
                 parts->cnt, lost ? " (assignment lost)" : "", delivered,
                 lost || err ? "dropped" : "delivered and committed", dropped);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    feed_t *f = opaque;
    const char *proto = rd_kafka_rebalance_protocol(rk); /* NULL: none yet */
    bool coop = proto && !strcmp(proto, "COOPERATIVE");
    rd_kafka_error_t *error = NULL;
    int i;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (f->opts->from_beginning || f->fresh_state)
            for (i = 0; i < parts->cnt; i++)
                parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        if (!coop || !f->assigned) {
            if (f->assigned)
                rd_kafka_topic_partition_list_destroy(f->assigned);
            f->assigned = rd_kafka_topic_partition_list_copy(parts);
        } else {
            for (i = 0; i < parts->cnt; i++)
                rd_kafka_topic_partition_list_add(f->assigned,
                                                  parts->elems[i].topic,
                                                  parts->elems[i].partition);
        }
        if (!coop || !f->eof) {
            if (f->eof)
                rd_kafka_topic_partition_list_destroy(f->eof);
            f->eof = rd_kafka_topic_partition_list_new(8);
        }
        f->ever_assigned = true;
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        partitions_revoked(f, parts);
        if (coop) {
            error = rd_kafka_incremental_unassign(rk, parts);
        } else {
            rd_kafka_assign(rk, NULL);
            if (f->assigned)
                rd_kafka_topic_partition_list_destroy(f->assigned);
            f->assigned = NULL; /* until the next assignment */
        }
    }
    if (error) {
        feed_log(f, "rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

cishare_err_t cishare_feed_run(const cishare_feed_opts_t *opts,
                               cishare_feed_stats_t *stats, char *errstr,
                               size_t errstr_size)
{
    feed_t f;
    cishare_err_t err;
    size_t batch_size = opts->batch_size > 0 ? (size_t)opts->batch_size : 1000;
    int64_t last_stats = cishare_time_now_ms(), started = last_stats,
            last_sync = last_stats;
    char line[1024];
    pool_t *pool = NULL;
    worker_t w0 = {0};
    batch_t bufs[2] = {{0}}, *cur = &bufs[0], *pend = &bufs[1], *tmp;
    size_t i;

    memset(&f, 0, sizeof(f));
    memset(stats, 0, sizeof(*stats));
    f.opts = opts;
    f.stats = stats;
    f.lock_fd = -1;
    f.batch_size = batch_size;
    if ((err = feed_open(&f, errstr, errstr_size)) || f.standby_stopped)
        goto out;
    if (!(bufs[0].items = calloc(batch_size, sizeof(item_t))) ||
        !(bufs[1].items = calloc(batch_size, sizeof(item_t)))) {
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
        goto out;
    }
    /* One thread prepares in line; more prepare batch k on a pool while
     * this thread delivers and commits batch k-1 and polls batch k+1. */
    if (opts->threads > 1)
        err = pool_new(&f, opts->threads, &pool, errstr, errstr_size);
    else
        err = worker_init(&w0, errstr, errstr_size);
    if (err)
        goto out;
    /* rebalance_cb delivers or drops these when partitions are revoked */
    f.curp = &cur;
    f.pendp = &pend;
    f.pool = pool;
    while (!(opts->stop && *opts->stop)) {
        int64_t now;

        if ((err = poll_batch(&f, cur, batch_size, pend->cnt > 0, errstr,
                              errstr_size)))
            goto out;
        now = cishare_time_now_ms();
        if (pool)
            pool_wait(pool); /* pend is prepared */
        /* No preparing thread runs here: a new directory may replace the
         * old one before cur is prepared. */
        if ((err = directory_poll(&f, now, errstr, errstr_size))) {
            /* a directory-driven stop: what was delivered is committed
             * (deliver_batch does after each batch; once more for the
             * sinks' marks), a polled or prepared batch is not: it is
             * read again by the next run */
            char cerr[512];
            if (err == CISHARE_ERR_DIRECTORY &&
                commit_batch(&f, COMMIT_SYNC, cerr, sizeof(cerr)))
                feed_log(&f, "final commit: %s", cerr);
            goto out;
        }
        if (pool) {
            if (cur->cnt)
                pool_submit(pool, cur->items, cur->cnt, now);
            tmp = pend;
            pend = cur;
            cur = tmp; /* the prepared batch, delivered now */
        }
        /* Sync also when idle, so expired indicators leave the views. */
        if (cur->cnt) {
            if ((err = deliver_batch(&f, cur, pool ? NULL : &w0, now, errstr,
                                     errstr_size)))
                goto out;
            last_sync = now;
        } else if (f.unc_cnt) {
            /* nothing new: what was delivered is committed now */
            if ((err = commit_batch(&f, COMMIT_ASYNC, errstr, errstr_size)))
                goto out;
        } else if ((f.offsets && f.offsets->cnt) ||
                   now - last_sync >= FEED_QUIET_MS) {
            /* quiet: confirms the offsets sent async. Not at the first
             * empty poll: a busy feed has those between two bursts, and
             * the round trip (27-500 ms on a loaded broker) held up the
             * next burst (docs/PERFORMANCE.md "Latency"). */
            if ((err = commit_batch(&f, COMMIT_SYNC, errstr, errstr_size)))
                goto out;
            last_sync = now;
        }
        if (opts->stats_interval_ms > 0 && !opts->once &&
            now - last_stats >= opts->stats_interval_ms) {
            cishare_feed_stats_format(stats, line, sizeof(line));
            feed_log(&f, "feed: %s", line);
            last_stats = now;
        }
        if (opts->once && all_at_end(&f) && !pend->cnt)
            break;
        /* --once and the group never formed: Kafka is not answering. */
        if (opts->once && !f.ever_assigned &&
            now - started > f.assign_wait_ms) {
            err = cishare_err_set(
                CISHARE_ERR_KAFKA, errstr, errstr_size,
                "no partition assigned after %lld s (is the broker "
                "reachable? does another member of the group still hold "
                "its session?)",
                (long long)(f.assign_wait_ms / 1000));
            goto out;
        }
    }
    if (pool) {
        pool_wait(pool);
        if ((err = deliver_batch(&f, pend, NULL, 0, errstr, errstr_size)))
            goto out;
    }
    err = commit_batch(&f, COMMIT_SYNC, errstr, errstr_size);
out:
    /* from here on a revoke (rd_kafka_consumer_close()) only unassigns:
     * what was not committed is read again */
    f.curp = f.pendp = NULL;
    f.pool = NULL;
    if (pool)
        pool_wait(pool); /* no worker touches the items any more */
    batch_clear(&bufs[0]);
    batch_clear(&bufs[1]);
    for (i = 0; i < batch_size; i++) {
        if (bufs[0].items)
            item_free(&bufs[0].items[i]);
        if (bufs[1].items)
            item_free(&bufs[1].items[i]);
    }
    free(bufs[0].items);
    free(bufs[1].items);
    pool_destroy(pool);
    worker_clear(&w0);
    feed_close(&f);
    return err;
}
