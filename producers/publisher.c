/*
 * cishare - the publishing pipeline (see publisher.h).
 *
 * Every record has one entry in `recs`; each topic copy produced carries
 * the record's index as its opaque, so the delivery report callback (run
 * from rd_kafka_poll/flush on our thread) can mark the record failed with
 * the broker's reason in plain words.
 */
#include "publisher.h"
#include "pubjournal.h"

#include "cishare/codec.h"
#include "cishare/dirtopic.h"
#include "cishare/identity.h"
#include "cishare/kafka_errors.h"
#include "cishare/message.h"
#include "cishare/policy.h"
#include "cishare/routing.h"
#include "cishare/topics.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Checking, building, routing and signing run on the signer thread so
 * that the caller's thread (whose produce calls and delivery reports are
 * the rest of the work) is free. The ring holds submissions in order:
 *
 *   tail <= signed <= head,  head - tail <= ring_n
 *   [tail, signed)  done (signed, or refused), to produce (caller's thread)
 *   [signed, head)  to check, build and sign (signer thread)
 *   slot head       being queued (caller's thread)
 *
 * Whoever signs advances `signed` (under lock): the signer thread, or the
 * caller's thread when it needs messages now, at most a batch is queued
 * and the signer is idle or lingering (it then signs them itself,
 * `caller_signing`, and the signer waits: waking the signer cost a
 * scheduler tick, 4 ms, whenever both cores were busy: docs/PERFORMANCE.md
 * "Issue 17, fourth increment").
 * Only the caller's thread advances head and tail. The signer never touches
 * `recs` (submit reallocates it, delivery reports update it): it leaves each
 * outcome in the slot, which the caller's thread moves into the record as it
 * produces the slot. Messages are produced in submission order, so
 * per-subject order in Kafka is the order of submit() calls.
 *
 * Batches (scheme ed25519-merkle, the default): the signer signs up to
 * pub->batch (cishare.sign.batch) queued messages (the ones built; a
 * refused one is in no batch) with one Ed25519 signature. So that batches
 * are full when records come fast, it waits until a batch is queued, or
 * SIGN_LINGER_US after the first one, or until the caller needs them
 * (poll, flush, destroy, a full ring: sign_to), whichever comes first.
 * The ring holds at least two batches, so the caller queues the next
 * batch while one is signed.
 */
#define SIGN_RING      512 /* at least; 2 batches when batches are larger */
#define SIGN_BATCH_MAX CISHARE_MERKLE_MAX_LEAVES
#define SIGN_LINGER_US 1000

typedef struct slot_s {
    /* the submission (caller's thread, before head passes the slot) */
    json_t *msg;    /* a reference to the caller's message (signer drops) */
    char *audience; /* the caller's audience text, or NULL (signer frees) */
    int tlp_override;
    size_t idx; /* record */
    /* the outcome (signer thread, before signed passes the slot); the
     * caller's thread moves it into the record when it produces */
    cishare_msg_out_t out;
    cishare_strlist_t topics;
    char *topics_str, *tlp;   /* the record's, when built */
    bool built;               /* routed: subject, topics and tlp are set */
    bool nomem;               /* the signer ran out of memory */
    const char *reason;       /* refused or failed: the category, else NULL */
    rd_kafka_headers_t *hdrs; /* signed envelope as headers */
    /* an encrypted message sealed per topic (message.h
     * cishare_msg_topic_t): topic i's signed envelope, NULL once taken */
    rd_kafka_headers_t **thdrs;
    char errstr[1024];
} slot_t;

/* Free what a slot owns, without zeroing its 27 KB envelope (build
 * initialises the envelope of the next message in the slot). */
static void slot_release(slot_t *sl)
{
    if (sl->msg)
        json_decref(sl->msg);
    sl->msg = NULL;
    free(sl->audience);
    sl->audience = NULL;
    free(sl->out.key);
    free(sl->out.value);
    cishare_audience_clear(&sl->out.audience);
    sl->out.key = NULL;
    sl->out.value = NULL;
    sl->out.key_len = sl->out.value_len = 0;
    cishare_strlist_clear(&sl->topics);
    free(sl->topics_str);
    free(sl->tlp);
    sl->topics_str = sl->tlp = NULL;
    if (sl->hdrs)
        rd_kafka_headers_destroy(sl->hdrs);
    sl->hdrs = NULL;
    for (size_t i = 0; i < sl->out.topic_cnt; i++) {
        free(sl->out.topics[i].value);
        if (sl->thdrs && sl->thdrs[i])
            rd_kafka_headers_destroy(sl->thdrs[i]);
    }
    free(sl->out.topics);
    free(sl->thdrs);
    sl->out.topics = NULL;
    sl->out.topic_cnt = 0;
    sl->thdrs = NULL;
    sl->built = sl->nomem = false;
    sl->reason = NULL;
}

struct cishare_publisher_s {
    cishare_identity_t id;
    slot_t *ring; /* NULL in a dry run */
    size_t head, tail, signed_cnt;
    size_t sign_to;     /* the caller waits for [.., sign_to): no lingering */
    const char *scheme; /* cishare.alg of what we publish */
    size_t batch;       /* cishare.sign.batch: messages per signature */
    size_t ring_n;      /* slots in ring: max(SIGN_RING, 2 batches) */
    uint8_t wire;       /* cishare.envelope.version */
    pthread_t signer;
    bool signer_started, quit;
    bool signer_idle, main_waiting; /* wake only who sleeps */
    bool signer_lingering;          /* waiting for a batch to fill */
    bool caller_signing;            /* the caller's thread signs a batch */
    size_t signed_here;             /* batches it signed */
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    cishare_codec_t *codec;
    /* epochs of encrypted messages (seal.h): keys wrapped once per
     * recipient set and epoch; the signer thread seals */
    cishare_sealer_t *sealer;
    /* the signer's envelopes of per-topic copies (sign_topics), allocated
     * once: an envelope is 27 KB, a fresh one per copy costs page faults */
    cishare_envelope_t *tenv;
    rd_kafka_t *rk;          /* NULL in a dry run */
    cishare_pub_rec_t *recs; /* recs[0] is record `base` */
    size_t cnt, size;
    size_t base; /* records forgotten (cishare_publisher_forget) */
    size_t inflight, delivered;
    bool nomem;             /* the signer ran out of memory: submit fails */
    size_t test_nomem_at;   /* test hook CISHARE_TEST_PUB_NOMEM: 1-based */
    char last_error[768];   /* last client-level error (error_cb) */
    char purge_detail[900]; /* why queued messages were purged (flush) */
    char principal[128];    /* who Kafka sees: sasl.username, else our id */
    char journal[4200];     /* publication journal; "" in a dry run */
    cishare_tls_info_t tls; /* what the TLS preflight found */
    cishare_kafka_watch_t watch; /* connection refusals (error_cb) */
    /* directory versions (dirtopic.h); caller's thread only */
    cishare_dirtopic_t *dirw;
    bool dir_synced;        /* the topic was read to its end once */
    int64_t dir_checked_ms; /* last look at the topic */
    /* why every later record fails (the directory refuses this
     * publisher: it was removed, or the directory in use expired): a
     * short reason and its detail; NULL while publishing */
    const char *stopped;
    char *stopped_detail;
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
    cishare_strlist_t early_log; /* lines before _set_log(), in order */
};

/* Texts a record keeps when not even its copy of a text could be made:
 * the outcome must not depend on memory (never freed). */
static char oom_text[] = "out of memory";
static char oom_name[] = "(a record whose name could not be kept: out of "
                         "memory)";

static void rec_str_free(char *s)
{
    if (s != oom_text && s != oom_name)
        free(s);
}

static void rec_fail(cishare_pub_rec_t *r, const char *reason,
                     const char *detail)
{
    if (r->failed)
        return; /* the first reason is the one reported */
    r->failed = true;
    if (!(r->reason = strdup(reason)))
        r->reason = oom_text;
    if (!(r->detail = strdup(detail)))
        r->detail = oom_text;
}

/* Out of memory while this record was handled: it fails, never left
 * without an outcome. */
static void rec_fail_nomem(cishare_pub_rec_t *r)
{
    rec_fail(r, "out of memory", "not sent: out of memory");
}

/* A failure on the way to Kafka, not a refusal of the record. */
static void rec_fail_kafka(cishare_pub_rec_t *r, const char *reason,
                           const char *detail)
{
    if (!r->failed)
        r->not_delivered = true;
    rec_fail(r, reason, detail);
}

static void rec_free(cishare_pub_rec_t *r)
{
    rec_str_free(r->record);
    free(r->subject);
    free(r->topics);
    free(r->tlp);
    rec_str_free(r->reason);
    rec_str_free(r->detail);
    free(r->audience);
    free(r->msg_id);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    cishare_publisher_t *pub = opaque;
    size_t idx = (size_t)(uintptr_t)m->_private;
    cishare_pub_rec_t *r;
    char buf[512];

    (void)rk;
    if (idx < pub->base || idx - pub->base >= pub->cnt)
        return;
    r = &pub->recs[idx - pub->base];
    if (r->pending)
        r->pending--;
    if (pub->inflight)
        pub->inflight--;
    if (!m->err) {
        pub->delivered++;
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE) { /* never sent */
        rec_fail_kafka(r, "not delivered", pub->purge_detail);
        return;
    }
    cishare_kafka_describe_error(m->err, pub->principal, "write to",
                                 rd_kafka_topic_name(m->rkt), buf, sizeof(buf));
    rec_fail_kafka(r,
                   cishare_kafka_err_is_authz(m->err) ? "not authorised"
                                                      : "delivery failed",
                   buf);
}

/* Client-level errors (from rd_kafka_poll/flush, on the caller's thread):
 * kept in plain words for the records they fail, and watched for a
 * refusal that no retry fixes (see cishare_publisher_poll). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cishare_publisher_t *pub = opaque;

    (void)rk;
    cishare_kafka_explain_conn((rd_kafka_resp_err_t)err, reason, pub->principal,
                               pub->last_error, sizeof(pub->last_error));
    cishare_kafka_watch_update(&pub->watch, (rd_kafka_resp_err_t)err, reason,
                               pub->principal);
}

static cishare_err_t prepare(cishare_publisher_t *pub, const json_t *msg,
                             int tlp_override, const char *audience, bool sign,
                             cishare_msg_out_t *o, cishare_strlist_t *topics,
                             const char **reason, char *errstr,
                             size_t errstr_size);
static char *join(const cishare_strlist_t *l);
static const char *build_reason(cishare_err_t err);

/* Per-topic copies signed per batch (sign_topics). */
#define TOPIC_BATCH 128

/* Sign the per-topic copies of encrypted messages (message.h
 * cishare_msg_topic_t) in batches, each with a copy of its message's
 * envelope, and turn each into its headers, as sign_slots() does for the
 * others: each copy's value differs, so each carries its own signature.
 * A refused batch is signed again copy by copy, so that the records get
 * their own error. */
/* A per-topic copy: message tk[i], its topic j. */
typedef struct copy_s {
    slot_t *sl;
    size_t i, j;
} copy_t;

/* By topic, then in submission order. */
static int copy_cmp(const void *a, const void *b)
{
    const copy_t *x = a, *y = b;
    int c =
        strcmp(x->sl->out.topics[x->j].topic, y->sl->out.topics[y->j].topic);

    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void sign_topics(cishare_publisher_t *pub, slot_t *const *tk, size_t tn)
{
    cishare_envelope_t *envs[TOPIC_BATCH];
    const char *subj[TOPIC_BATCH];
    const uint8_t *vals[TOPIC_BATCH];
    size_t subj_len[TOPIC_BATCH], val_len[TOPIC_BATCH], i, j, k, m, n = 0, c;
    /* batches of cishare.sign.batch, as the originals: the path length,
     * so the header bytes, follow the setting */
    size_t cap = pub->batch < TOPIC_BATCH ? pub->batch : TOPIC_BATCH;
    struct {
        slot_t *sl;
        size_t j;
    } who[TOPIC_BATCH];
    copy_t *order = NULL;
    char errstr[512];

    if (!pub->tenv && !(pub->tenv = malloc(TOPIC_BATCH * sizeof(*pub->tenv))))
        goto nomem;
    for (i = 0; i < tn; i++) {
        if (!(tk[i]->thdrs =
                  calloc(tk[i]->out.topic_cnt, sizeof(*tk[i]->thdrs))))
            goto nomem;
        n += tk[i]->out.topic_cnt;
    }
    /* Each batch holds copies of one topic, where possible: a topic's
     * readers then see every leaf of its batches, and verify one Ed25519
     * signature per batch instead of one per few messages (mixed batches
     * spread each root over every topic). */
    if (!(order = malloc(n * sizeof(*order))))
        goto nomem;
    for (i = c = 0; i < tn; i++)
        for (j = 0; j < tk[i]->out.topic_cnt; j++, c++) {
            order[c].sl = tk[i];
            order[c].i = i;
            order[c].j = j;
        }
    qsort(order, n, sizeof(*order), copy_cmp);
    for (c = 0; c < n;) {
        const char *topic = order[c].sl->out.topics[order[c].j].topic;
        for (m = 0; m < cap && c < n &&
                    !strcmp(order[c].sl->out.topics[order[c].j].topic, topic);
             c++) {
            slot_t *sl = order[c].sl;
            cishare_envelope_t *e = &pub->tenv[m];
            j = order[c].j;
            /* the head only: an origin's message has no relay hop */
            memcpy(e, &sl->out.env, offsetof(cishare_envelope_t, relay));
            e->relay_cnt = 0;
            envs[m] = e;
            subj[m] = sl->out.key;
            subj_len[m] = sl->out.key_len;
            vals[m] = sl->out.topics[j].value;
            val_len[m] = sl->out.topics[j].value_len;
            who[m].sl = sl;
            who[m].j = j;
            m++;
        }
        /* a refused batch leaves its envelopes unsigned: signed alone */
        (void)cishare_envelope_sign_batch(envs, subj, subj_len, vals, val_len,
                                          m, &pub->id.kp, pub->scheme, errstr,
                                          sizeof(errstr));
        for (k = 0; k < m; k++) {
            slot_t *sl = who[k].sl;
            rd_kafka_headers_t **h = &sl->thdrs[who[k].j];
            cishare_err_t err;

            if (sl->reason)
                continue;
            if (!envs[k]->sig_len &&
                (err = cishare_envelope_sign(
                     envs[k], &pub->id.kp, pub->scheme, subj[k], subj_len[k],
                     vals[k], val_len[k], sl->errstr, sizeof(sl->errstr)))) {
                sl->reason = build_reason(err);
                continue;
            }
            if (!(*h = rd_kafka_headers_new(16))) {
                sl->nomem = true;
                sl->reason = "out of memory";
                snprintf(sl->errstr, sizeof(sl->errstr),
                         "not sent: out of memory");
            } else if (cishare_envelope_to_headers(envs[k], *h, sl->errstr,
                                                   sizeof(sl->errstr)))
                sl->reason = "invalid message";
        }
    }
    free(order);
    return;
nomem:
    free(order);
    for (i = 0; i < tn; i++) {
        tk[i]->nomem = true;
        tk[i]->reason = "out of memory";
        snprintf(tk[i]->errstr, sizeof(tk[i]->errstr),
                 "not sent: out of memory");
    }
}

/* Check, build and route ring slots [from, to), then sign the ones built
 * as one batch and turn them into headers (signer thread, unlocked; it
 * touches no record: the outcome stays in the slot). A refused batch is
 * signed again message by message, so that each record gets its own
 * error. */
static void sign_slots(cishare_publisher_t *pub, size_t from, size_t to)
{
    /* zeroed: the compiler cannot see that k <= SIGN_BATCH_MAX */
    cishare_envelope_t *envs[SIGN_BATCH_MAX] = {0};
    const char *subj[SIGN_BATCH_MAX] = {0};
    const uint8_t *vals[SIGN_BATCH_MAX] = {0};
    size_t subj_len[SIGN_BATCH_MAX] = {0}, val_len[SIGN_BATCH_MAX] = {0}, i,
           k = 0, n = to - from;
    slot_t *ok[SIGN_BATCH_MAX] = {0}, *tk[SIGN_BATCH_MAX] = {0};
    size_t tn = 0;
    char errstr[512];

    for (i = 0; i < n; i++) {
        slot_t *sl = &pub->ring[(from + i) % pub->ring_n];
        cishare_err_t err =
            pub->test_nomem_at == sl->idx + 1
                ? CISHARE_ERR_NOMEM
                : prepare(pub, sl->msg, sl->tlp_override, sl->audience, false,
                          &sl->out, &sl->topics, &sl->reason, sl->errstr,
                          sizeof(sl->errstr));
        json_decref(sl->msg);
        sl->msg = NULL;
        free(sl->audience);
        sl->audience = NULL;
        if (!err && !sl->reason) {
            if (!(sl->topics_str = join(&sl->topics)) ||
                !(sl->tlp = strdup(cishare_tlp_name(sl->out.env.tlp))))
                err = CISHARE_ERR_NOMEM;
            else
                sl->built = true;
        }
        if (err) {
            sl->nomem = true;
            sl->reason = "out of memory";
            snprintf(sl->errstr, sizeof(sl->errstr), "not sent: out of memory");
        }
        if (sl->reason)
            continue; /* not in the batch */
        if (sl->out.topic_cnt) {
            tk[tn++] = sl; /* sealed per topic: sign_topics() */
            continue;
        }
        ok[k] = sl;
        envs[k] = &sl->out.env;
        subj[k] = sl->out.key;
        subj_len[k] = sl->out.key_len;
        vals[k] = sl->out.value;
        val_len[k] = sl->out.value_len;
        k++;
    }
    if (k && cishare_envelope_sign_batch(envs, subj, subj_len, vals, val_len, k,
                                         &pub->id.kp, pub->scheme, errstr,
                                         sizeof(errstr)))
        for (i = 0; i < k; i++) {
            slot_t *sl = ok[i];
            cishare_err_t err = cishare_envelope_sign(
                &sl->out.env, &pub->id.kp, pub->scheme, sl->out.key,
                sl->out.key_len, sl->out.value, sl->out.value_len, sl->errstr,
                sizeof(sl->errstr));
            if (err)
                sl->reason = build_reason(err);
        }
    /* The headers too: the caller's thread, which produces, is the busier
     * one (base64 of the signature, 13 header values). */
    for (i = 0; i < k; i++) {
        slot_t *sl = ok[i];
        if (sl->reason)
            continue;
        if (!(sl->hdrs = rd_kafka_headers_new(16))) {
            sl->nomem = true;
            sl->reason = "out of memory";
            snprintf(sl->errstr, sizeof(sl->errstr), "not sent: out of memory");
            continue;
        }
        if (cishare_envelope_to_headers(&sl->out.env, sl->hdrs, sl->errstr,
                                        sizeof(sl->errstr)))
            sl->reason = "invalid message";
    }
    if (tn)
        sign_topics(pub, tk, tn);
}

static void *signer_main(void *arg)
{
    cishare_publisher_t *pub = arg;

    pthread_mutex_lock(&pub->lock);
    for (;;) {
        size_t from, to;

        while ((!pub->quit && pub->signed_cnt == pub->head) ||
               pub->caller_signing) {
            pub->signer_idle = true;
            pthread_cond_wait(&pub->work, &pub->lock);
            pub->signer_idle = false;
        }
        if (pub->signed_cnt == pub->head)
            break; /* quit, and nothing left to sign */
        if (!pub->quit && pub->head - pub->signed_cnt < pub->batch &&
            pub->sign_to <= pub->signed_cnt) {
            /* linger: let the batch fill, unless someone needs it */
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_nsec += SIGN_LINGER_US * 1000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pub->signer_lingering = true;
            while (!pub->quit && pub->head - pub->signed_cnt < pub->batch &&
                   pub->sign_to <= pub->signed_cnt && !pub->caller_signing &&
                   pthread_cond_timedwait(&pub->work, &pub->lock, &dl) == 0)
                ;
            pub->signer_lingering = false;
            if (pub->caller_signing || pub->signed_cnt == pub->head)
                continue; /* the caller took them */
        }
        from = pub->signed_cnt;
        to = pub->head - from > pub->batch ? from + pub->batch : pub->head;
        pthread_mutex_unlock(&pub->lock);
        sign_slots(pub, from, to);
        pthread_mutex_lock(&pub->lock);
        pub->signed_cnt = to;
        if (pub->main_waiting)
            pthread_cond_signal(&pub->done);
    }
    pthread_mutex_unlock(&pub->lock);
    return NULL;
}

static void produce_slot(cishare_publisher_t *pub, slot_t *sl);

/* Produce signed messages in order until tail >= target (waiting for the
 * signer as needed), then whatever else is already signed. */
static void drain_to(cishare_publisher_t *pub, size_t target)
{
    size_t upto;

    if (!pub->ring)
        return;
    for (;;) {
        bool raised;

        pthread_mutex_lock(&pub->lock);
        raised = pub->sign_to < target;
        if (raised)
            pub->sign_to = target; /* needed now: stop lingering */
        if (pub->signed_cnt < target &&
            pub->head - pub->signed_cnt <= pub->batch &&
            (pub->signer_idle || pub->signer_lingering)) {
            /* needed now, the signer is not signing, and nothing is
             * queued behind this batch for it to sign meanwhile (a
             * deeper queue keeps the two threads in a pipeline): sign
             * here */
            size_t from = pub->signed_cnt, to = pub->head - from > pub->batch
                                                    ? from + pub->batch
                                                    : pub->head;
            pub->caller_signing = true;
            pthread_mutex_unlock(&pub->lock);
            sign_slots(pub, from, to);
            pthread_mutex_lock(&pub->lock);
            pub->signed_cnt = to;
            pub->caller_signing = false;
            pub->signed_here++;
            if (pub->signer_idle) /* more queued, or quit */
                pthread_cond_signal(&pub->work);
        } else if (raised && pub->signed_cnt < target &&
                   (pub->signer_idle || pub->signer_lingering)) {
            pthread_cond_signal(&pub->work); /* the signer signs them */
        }
        while (pub->signed_cnt < target && pub->signed_cnt == pub->tail) {
            pub->main_waiting = true;
            pthread_cond_wait(&pub->done, &pub->lock);
            pub->main_waiting = false;
        }
        upto = pub->signed_cnt;
        pthread_mutex_unlock(&pub->lock);
        if (pub->tail == upto)
            break;
        while (pub->tail < upto) {
            slot_t *sl = &pub->ring[pub->tail % pub->ring_n];
            produce_slot(pub, sl);
            slot_release(sl);
            pub->tail++;
        }
        if (pub->tail >= target)
            break;
    }
}

/* ---- directory versions (dirtopic.h) ---- */

/* How long the first submission reads the directory topic to its end. */
#define DIRTOPIC_SYNC_MS 10000

static void dirtopic_log(void *opaque, const char *line)
{
    cishare_publisher_t *pub = opaque;
    char *copy;

    if (pub->log) {
        pub->log(pub->log_opaque, line);
        return;
    }
    /* from _new(): kept for _set_log(); the list sorts only when asked */
    if (pub->early_log.cnt < 16 && (copy = strdup(line))) {
        char **items = realloc(pub->early_log.items,
                               (pub->early_log.cnt + 1) * sizeof(*items));
        if (!items) {
            free(copy);
            return;
        }
        items[pub->early_log.cnt++] = copy;
        pub->early_log.items = items;
        pub->early_log.cap = pub->early_log.cnt;
    }
}

void cishare_publisher_set_log(cishare_publisher_t *pub,
                               void (*log)(void *opaque, const char *line),
                               void *opaque)
{
    size_t i;

    pub->log = log;
    pub->log_opaque = opaque;
    for (i = 0; log && i < pub->early_log.cnt; i++)
        log(opaque, pub->early_log.items[i]);
    cishare_strlist_clear(&pub->early_log);
}

static int64_t mono_ms(void)
{
    return cishare_time_mono_us() / 1000;
}

/* Every later record fails with reason (a constant) and detail (logged
 * once). */
static cishare_err_t publisher_stop(cishare_publisher_t *pub,
                                    const char *reason, const char *detail)
{
    if (pub->stopped)
        return CISHARE_OK;
    dirtopic_log(pub, detail);
    if (!(pub->stopped_detail = strdup(detail)))
        return CISHARE_ERR_NOMEM;
    pub->stopped = reason;
    return CISHARE_OK;
}

/*
 * Look at the directory topic (caller's thread, at most once a second)
 * and apply a newer version. Before the swap every submitted record is
 * built and produced: the signer then sleeps until head moves, and the
 * slots, released, keep no pointer into the old directory.
 */
static cishare_err_t directory_check(cishare_publisher_t *pub)
{
    cishare_directory_t *nd = NULL;
    char errstr[2048], why[1024];
    int64_t now = mono_ms();
    cishare_err_t err;

    if (pub->dir_synced && now - pub->dir_checked_ms < 1000)
        return CISHARE_OK;
    pub->dir_checked_ms = now;
    if (pub->stopped)
        return CISHARE_OK;
    err = pub->dir_synced
              ? cishare_dirtopic_poll(pub->dirw, pub->id.dir, &nd, errstr,
                                      sizeof(errstr))
              : cishare_dirtopic_sync(pub->dirw, pub->id.dir, DIRTOPIC_SYNC_MS,
                                      &nd, errstr, sizeof(errstr));
    pub->dir_synced = true;
    if (err) {
        dirtopic_log(pub, errstr); /* the state file: not applied */
        if (err == CISHARE_ERR_NOMEM)
            return err;
    } else if (nd) {
        drain_to(pub, pub->head);
        if (cishare_identity_swap_directory(&pub->id, nd, why, sizeof(why))) {
            snprintf(errstr, sizeof(errstr),
                     "directory on %s: %s; nothing more is published",
                     cishare_dirtopic_topic(pub->dirw), why);
            return publisher_stop(pub, "removed from the directory", errstr);
        }
    }
    return CISHARE_OK;
}

/* The directory in use must still be in force (no newer version arrived
 * before its expiry): else every later record is refused. One clock read
 * per record. */
static cishare_err_t directory_in_force(cishare_publisher_t *pub)
{
    char errstr[1200], why[1024];

    if (pub->stopped ||
        !cishare_dirstate_check_in_force(pub->id.dir, cishare_time_now_ms(),
                                         why, sizeof(why)))
        return CISHARE_OK;
    snprintf(errstr, sizeof(errstr), "%s; nothing more is published", why);
    return publisher_stop(pub, "directory expired", errstr);
}

cishare_err_t cishare_publisher_new(const cishare_config_t *conf, bool dry_run,
                                    cishare_publisher_t **pubp, char *errstr,
                                    size_t errstr_size)
{
    cishare_publisher_t *pub = calloc(1, sizeof(*pub));
    rd_kafka_conf_t *kc = NULL;
    cishare_err_t err;
    char kerr[512];

    *pubp = NULL;
    if (!pub)
        return CISHARE_ERR_NOMEM;
    {
        /* test hook: record N (1-based) runs out of memory as it is built,
         * so tests can see every record still get an outcome */
        const char *t = getenv("CISHARE_TEST_PUB_NOMEM");
        pub->test_nomem_at = t ? strtoul(t, NULL, 10) : 0;
    }
    pub->scheme = cishare_config_get(conf, "cishare.sign.scheme");
    if (!pub->scheme || (strcmp(pub->scheme, CISHARE_SIG_ED25519_MERKLE) &&
                         strcmp(pub->scheme, CISHARE_SIG_ED25519))) {
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "cishare.sign.scheme: unknown scheme '%s' "
                              "(%s, %s)",
                              pub->scheme ? pub->scheme : "",
                              CISHARE_SIG_ED25519_MERKLE, CISHARE_SIG_ED25519);
        goto fail;
    }
    pub->scheme = strcmp(pub->scheme, CISHARE_SIG_ED25519)
                      ? CISHARE_SIG_ED25519_MERKLE
                      : CISHARE_SIG_ED25519; /* a constant: conf may go first */
    /* The batch bounds the audit path each message carries (32 bytes per
     * level): schemas/README.md, "Batch signatures", has the trade-off. */
    pub->batch = (size_t)cishare_config_get_int(conf, "cishare.sign.batch");
    if (pub->batch < 1 || pub->batch > SIGN_BATCH_MAX)
        pub->batch = 32; /* the table's bounds make this unreachable */
    pub->ring_n = pub->batch * 2 > SIGN_RING ? pub->batch * 2 : SIGN_RING;
    pub->wire =
        (uint8_t)cishare_config_get_int(conf, "cishare.envelope.version");
    if ((err = cishare_identity_load(conf, &pub->id, errstr, errstr_size)) ||
        (err = cishare_codec_new(&pub->codec, errstr, errstr_size)) ||
        (err = cishare_sealer_new(
             (int)cishare_config_get_int(conf, "cishare.seal.version"),
             (uint64_t)cishare_config_get_int(conf,
                                              "cishare.seal.epoch-messages"),
             cishare_config_get_int(conf, "cishare.seal.epoch-seconds") * 1000,
             &pub->sealer, errstr, errstr_size)))
        goto fail;
    cishare_sealer_set_per_topic(
        pub->sealer,
        (int)cishare_config_get_int(conf, "cishare.seal.per-topic"));
    if (pub->id.dir_note[0]) /* the kept copy, newer than the file */
        dirtopic_log(pub, pub->id.dir_note);
    if (!dry_run &&
        (err = cishare_pubjournal_path(conf, pub->journal, sizeof(pub->journal),
                                       errstr, errstr_size)))
        goto fail;
    snprintf(pub->principal, sizeof(pub->principal), "%s",
             cishare_config_get_kafka(conf, "sasl.username")
                 ? cishare_config_get_kafka(conf, "sasl.username")
                 : pub->id.me->id);
    if (!dry_run) {
        /* A newer version on the directory topic applies before the
         * first record (same trust state as the identity: the default
         * one), and before the producer exists. */
        cishare_directory_t *nd = NULL;
        char why[1024];
        /* a certificate the cluster would refuse: say why before any
         * connection (the directory reader's too), send nothing */
        if ((err = cishare_tls_preflight(conf, pub->id.dir, pub->id.me->id, 0,
                                         &pub->tls, errstr, errstr_size)))
            goto fail;
        if ((err = cishare_dirtopic_new(conf, NULL, dirtopic_log, pub,
                                        &pub->dirw, errstr, errstr_size)) ||
            (err =
                 cishare_dirtopic_sync(pub->dirw, pub->id.dir, DIRTOPIC_SYNC_MS,
                                       &nd, errstr, errstr_size)))
            goto fail;
        pub->dir_synced = true;
        pub->dir_checked_ms = mono_ms();
        if (nd &&
            cishare_identity_swap_directory(&pub->id, nd, why, sizeof(why))) {
            err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                  "directory on %s: %s; nothing published",
                                  cishare_dirtopic_topic(pub->dirw), why);
            goto fail;
        }
        if (!(kc = cishare_config_kafka_conf(conf, errstr, errstr_size))) {
            err = CISHARE_ERR_CONFIG;
            goto fail;
        }
        if (rd_kafka_conf_set(kc, "enable.idempotence", "true", kerr,
                              sizeof(kerr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(kc, "acks", "all", kerr, sizeof(kerr)) !=
                RD_KAFKA_CONF_OK ||
            (!cishare_config_get_kafka(conf, "message.timeout.ms") &&
             rd_kafka_conf_set(kc, "message.timeout.ms", "30000", kerr,
                               sizeof(kerr)) != RD_KAFKA_CONF_OK)) {
            err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                  "producer config: %s", kerr);
            goto fail;
        }
        rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
        rd_kafka_conf_set_error_cb(kc, error_cb);
        rd_kafka_conf_set_opaque(kc, pub);
        if (!(pub->rk =
                  rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof(kerr)))) {
            err = cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                                  "cannot create the Kafka producer: %s", kerr);
            goto fail; /* kc is still ours */
        }
        kc = NULL; /* owned by rk */
        pthread_mutex_init(&pub->lock, NULL);
        {
            /* the signer's linger deadline is on the monotonic clock */
            pthread_condattr_t ca;
            pthread_condattr_init(&ca);
            pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
            pthread_cond_init(&pub->work, &ca);
            pthread_condattr_destroy(&ca);
        }
        pthread_cond_init(&pub->done, NULL);
        if (!(pub->ring = calloc(pub->ring_n, sizeof(*pub->ring)))) {
            err = CISHARE_ERR_NOMEM;
            goto fail;
        }
        if (pthread_create(&pub->signer, NULL, signer_main, pub)) {
            err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                  "cannot start the signing thread");
            goto fail;
        }
        pub->signer_started = true;
    }
    *pubp = pub;
    return CISHARE_OK;
fail:
    if (kc)
        rd_kafka_conf_destroy(kc);
    cishare_publisher_destroy(pub);
    return err;
}

void cishare_publisher_destroy(cishare_publisher_t *pub)
{
    size_t i;

    if (!pub)
        return;
    if (pub->signer_started) {
        drain_to(pub, pub->head); /* what was submitted is produced */
        pthread_mutex_lock(&pub->lock);
        pub->quit = true;
        pthread_cond_signal(&pub->work);
        pthread_mutex_unlock(&pub->lock);
        pthread_join(pub->signer, NULL);
    }
    cishare_dirtopic_destroy(pub->dirw);
    free(pub->stopped_detail);
    cishare_strlist_clear(&pub->early_log);
    if (pub->rk)
        rd_kafka_destroy(pub->rk);
    if (pub->ring) {
        for (i = pub->tail; i < pub->head; i++)
            slot_release(&pub->ring[i % pub->ring_n]);
        slot_release(&pub->ring[pub->head % pub->ring_n]);
        free(pub->ring);
        pthread_mutex_destroy(&pub->lock);
        pthread_cond_destroy(&pub->work);
        pthread_cond_destroy(&pub->done);
    }
    for (i = 0; i < pub->cnt; i++)
        rec_free(&pub->recs[i]);
    free(pub->recs);
    cishare_codec_destroy(pub->codec);
    cishare_sealer_destroy(pub->sealer);
    free(pub->tenv);
    cishare_identity_clear(&pub->id);
    free(pub);
}

const cishare_participant_t *
cishare_publisher_me(const cishare_publisher_t *pub)
{
    return pub->id.me;
}

const cishare_directory_t *
cishare_publisher_directory(const cishare_publisher_t *pub)
{
    return pub->id.dir;
}

const cishare_tls_info_t *cishare_publisher_tls(const cishare_publisher_t *pub)
{
    return &pub->tls;
}

size_t cishare_publisher_cnt(const cishare_publisher_t *pub)
{
    return pub->base + pub->cnt;
}

const cishare_pub_rec_t *cishare_publisher_rec(const cishare_publisher_t *pub,
                                               size_t i)
{
    return i >= pub->base && i - pub->base < pub->cnt
               ? &pub->recs[i - pub->base]
               : NULL;
}

size_t cishare_publisher_inflight(const cishare_publisher_t *pub)
{
    /* deliveries outstanding, plus messages not produced yet */
    return pub->inflight + (pub->head - pub->tail);
}

size_t cishare_publisher_signed_here(const cishare_publisher_t *pub)
{
    return pub->signed_here;
}

size_t cishare_publisher_delivered(const cishare_publisher_t *pub)
{
    return pub->delivered;
}

/* A new record entry; NULL on allocation failure. */
static cishare_pub_rec_t *rec_new(cishare_publisher_t *pub, const char *record)
{
    cishare_pub_rec_t *r;

    if (pub->cnt == pub->size) {
        size_t ns = pub->size ? pub->size * 2 : 64;
        cishare_pub_rec_t *n = realloc(pub->recs, ns * sizeof(*n));
        if (!n)
            return NULL;
        pub->recs = n;
        pub->size = ns;
    }
    r = &pub->recs[pub->cnt];
    memset(r, 0, sizeof(*r));
    if (!(r->record = strdup(record)))
        r->record = oom_name; /* still a record with an outcome */
    pub->cnt++;
    return r;
}

cishare_err_t cishare_publisher_reserve(cishare_publisher_t *pub, size_t n)
{
    cishare_pub_rec_t *nr;

    if (pub->size - pub->cnt >= n)
        return CISHARE_OK;
    if (n > SIZE_MAX / sizeof(*nr) - pub->cnt ||
        !(nr = realloc(pub->recs, (pub->cnt + n) * sizeof(*nr))))
        return CISHARE_ERR_NOMEM;
    pub->recs = nr;
    pub->size = pub->cnt + n;
    return CISHARE_OK;
}

cishare_err_t cishare_publisher_reject(cishare_publisher_t *pub,
                                       const char *record, const char *reason,
                                       const char *detail)
{
    cishare_pub_rec_t *r = rec_new(pub, record);

    if (!r)
        return CISHARE_ERR_NOMEM;
    rec_fail(r, reason, detail);
    return CISHARE_OK;
}

/* Reason category of a build error. */
static const char *build_reason(cishare_err_t err)
{
    switch (err) {
    case CISHARE_ERR_POLICY:
        return "refused by the sharing rules";
    case CISHARE_ERR_UNKNOWN_KEY:
        return "wrong key";
    case CISHARE_ERR_TOO_LARGE:
        return "too large";
    default:
        return "invalid message";
    }
}

/* Category of a publish-rule refusal (policy.h P1-P8), for the summary. */
static const char *publish_rule_reason(cishare_reason_t reason)
{
    switch (reason) {
    case CISHARE_REASON_ALERT_NOT_ISSUER:
        return "alert from a non-issuer";
    case CISHARE_REASON_OUTSIDE_OWN_SECTORS:
        return "outside own sectors";
    case CISHARE_REASON_MANDATORY_NOT_ADDRESSED:
        return "mandatory incident not addressed";
    case CISHARE_REASON_MANDATORY_LABEL:
        return "mandatory incident below TLP:AMBER";
    case CISHARE_REASON_ANONYMISE_AUDIENCE:
        return "anonymised report beyond its anonymiser";
    default:
        return "refused by the sharing rules";
    }
}

/* Comma-joined list. */
static char *join(const cishare_strlist_t *l)
{
    size_t i, len = 1;
    char *s;

    for (i = 0; i < l->cnt; i++)
        len += strlen(l->items[i]) + 1;
    if (!(s = malloc(len)))
        return NULL;
    s[0] = '\0';
    for (i = 0; i < l->cnt; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, l->items[i]);
    }
    return s;
}

/* Produce one signed message to each of its topics (caller's thread). */
static void produce_slot(cishare_publisher_t *pub, slot_t *sl)
{
    cishare_msg_out_t *o = &sl->out;
    size_t idx = sl->idx, i;
    cishare_pub_rec_t *r = &pub->recs[idx - pub->base];
    const char *key = o->key;

    /* the signer's outcome becomes the record's (moved) */
    if (sl->nomem)
        pub->nomem = true;
    if (sl->built) {
        r->subject = o->key;
        r->topics = sl->topics_str;
        r->tlp = sl->tlp;
        r->audience = strdup(o->env.audience); /* NULL: not journaled */
        r->msg_id = strdup(o->env.id);
        r->type = o->env.type;
        r->expires_ms = o->env.expires_ms;
        o->key = sl->topics_str = sl->tlp = NULL;
    }
    if (sl->reason) {
        rec_fail(r, sl->reason, sl->errstr);
        return;
    }
    for (i = 0; i < sl->topics.cnt; i++) {
        /* a message sealed per topic: topic i's own value and headers
         * (prepare() listed the copies' topics in order); else the last
         * topic takes the slot's headers, the others a copy */
        const cishare_msg_topic_t *mt = o->topic_cnt ? &o->topics[i] : NULL;
        rd_kafka_headers_t *hdrs = mt ? sl->thdrs[i]
                                   : i + 1 == sl->topics.cnt
                                       ? sl->hdrs
                                       : rd_kafka_headers_copy(sl->hdrs);
        rd_kafka_resp_err_t kerr;

        if (mt)
            sl->thdrs[i] = NULL; /* producev takes it, or we destroy it */
        else if (hdrs == sl->hdrs)
            sl->hdrs = NULL;
        while (1) {
            kerr = rd_kafka_producev(
                pub->rk, RD_KAFKA_V_TOPIC(sl->topics.items[i]),
                RD_KAFKA_V_KEY(key, o->key_len),
                RD_KAFKA_V_VALUE(mt ? mt->value : o->value,
                                 mt ? mt->value_len : o->value_len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADERS(hdrs),
                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)idx), RD_KAFKA_V_END);
            if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(pub->rk, 100); /* make room */
            r = &pub->recs[idx - pub->base];
        }
        if (kerr) {
            char buf[512];
            rd_kafka_headers_destroy(hdrs); /* not taken on failure */
            cishare_kafka_describe_error(kerr, pub->principal, "write to",
                                         sl->topics.items[i], buf, sizeof(buf));
            rec_fail_kafka(r,
                           cishare_kafka_err_is_authz(kerr) ? "not authorised"
                                                            : "delivery failed",
                           buf);
            continue;
        }
        r->pending++;
        pub->inflight++;
    }
}

/*
 * Check the publish rules, build and route one message into o and topics
 * (signed only when `sign`: a dry run, else the signer signs batches).
 * A refusal sets *reason (its category) and errstr. With a producer this
 * runs on the signer thread, so it touches no record. Returns
 * CISHARE_ERR_NOMEM only; o and topics are the caller's to free.
 */
static cishare_err_t prepare(cishare_publisher_t *pub, const json_t *msg,
                             int tlp_override, const char *audience, bool sign,
                             cishare_msg_out_t *o, cishare_strlist_t *topics,
                             const char **reason, char *errstr,
                             size_t errstr_size)
{
    const cishare_participant_t *me = pub->id.me;
    json_t *copy = NULL;
    const char *origin, *tlps;
    cishare_tlp_t rec_tlp;
    cishare_err_t err = CISHARE_OK;

    *reason = NULL;
    /* only as itself; the "origin" field goes (build refuses unknown
     * fields), on a copy: msg is only read, and build copies the payload
     * itself, so a record without it needs no copy of its own */
    if (json_object_get(msg, "origin") ? !(copy = json_deep_copy(msg))
                                       : !(copy = json_incref((json_t *)msg)))
        return CISHARE_ERR_NOMEM;
    origin = json_string_value(json_object_get(copy, "origin"));
    if (origin && strcmp(origin, me->id)) {
        snprintf(errstr, errstr_size,
                 "the record names origin '%s'; %s may publish only as "
                 "itself",
                 origin, me->id);
        *reason = "not own identity";
        goto done;
    }
    if (origin)
        json_object_del(copy, "origin");

    /* --tlp tightens, never loosens: a record's own stricter marking is
     * kept as it is (what the source file says stays true). */
    tlps = json_string_value(json_object_get(copy, "tlp"));
    if (tlps && cishare_tlp_parse(tlps, &rec_tlp) && tlp_override >= 0 &&
        (cishare_tlp_t)tlp_override < rec_tlp)
        tlp_override = -1;

    err = cishare_message_build_sealer(
        pub->codec, pub->id.dir, me, &pub->id.kp, copy, tlp_override, audience,
        cishare_time_now_ms(), pub->sealer, o, errstr, errstr_size);
    if (!err)
        o->env.wire_version = pub->wire; /* the header layout written */
    if (!err && sign)
        err = cishare_envelope_sign(&o->env, &pub->id.kp, pub->scheme, o->key,
                                    o->key_len, o->value, o->value_len, errstr,
                                    errstr_size);
    if (err) {
        if (err != CISHARE_ERR_NOMEM) {
            *reason = build_reason(err);
            err = CISHARE_OK;
        }
        goto done;
    }

    /* the publish rules (policy.h P1-P8), as every feed checks them */
    {
        cishare_payload_flags_t flags;
        cishare_publish_msg_t pm;
        cishare_reason_t why;

        cishare_message_payload_flags(o->env.type,
                                      json_object_get(copy, "payload"), &flags);
        pm.type = o->env.type;
        pm.tlp = o->env.tlp;
        pm.origin = me;
        pm.audience = &o->audience;
        pm.sector = o->env.sector;
        pm.mandatory = flags.mandatory;
        pm.anonymise = flags.anonymise;
        pm.sighting_of =
            o->env.type == CISHARE_MSG_SIGHTING
                ? json_string_value(json_object_get(
                      json_object_get(copy, "payload"), "sighting_of_origin"))
            : o->env.type == CISHARE_MSG_RECEIPT
                ? json_string_value(json_object_get(
                      json_object_get(copy, "payload"), "receipt_of_origin"))
                : NULL;

        if (cishare_policy_check_publish(pub->id.dir, &pm, &why, errstr,
                                         errstr_size)) {
            *reason = publish_rule_reason(why);
            goto done;
        }
    }

    /* a message sealed per topic was routed by the build (the same
     * cishare_routing_topics()): its copies' topics, in their order, as
     * produce_slot() takes copy i to topic i */
    if (o->topic_cnt) {
        size_t i;
        for (i = 0; !err && i < o->topic_cnt; i++)
            err = cishare_strlist_add(topics, o->topics[i].topic);
    } else if ((err = cishare_routing_topics(pub->id.dir, me, o->env.tlp,
                                             &o->audience, topics, errstr,
                                             errstr_size)) &&
               err != CISHARE_ERR_NOMEM) {
        *reason = "no topic";
        err = CISHARE_OK;
    }
done:
    json_decref(copy);
    return err;
}

cishare_err_t cishare_publisher_submit(cishare_publisher_t *pub,
                                       const json_t *msg, const char *record,
                                       int tlp_override, const char *audience)
{
    cishare_pub_rec_t *r;
    size_t idx;
    slot_t *sl;

    if (!(r = rec_new(pub, record)))
        return CISHARE_ERR_NOMEM;
    idx = pub->base + pub->cnt - 1;
    if (pub->nomem) {
        /* an earlier record ran out of memory: this one is not sent */
        rec_fail_nomem(r);
        return CISHARE_ERR_NOMEM;
    }
    if (!pub->ring) {
        /* a dry run: all here, signed alone (a batch of one) */
        cishare_msg_out_t o;
        cishare_strlist_t topics = {0};
        const char *reason;
        char errstr[1024];
        cishare_err_t err;

        cishare_msg_out_init(&o);
        err = pub->test_nomem_at == idx + 1
                  ? CISHARE_ERR_NOMEM
                  : prepare(pub, msg, tlp_override, audience, true, &o, &topics,
                            &reason, errstr, sizeof(errstr));
        if (!err && reason)
            rec_fail(r, reason, errstr);
        else if (!err && (!(r->subject = strdup(o.key)) ||
                          !(r->topics = join(&topics)) ||
                          !(r->tlp = strdup(cishare_tlp_name(o.env.tlp)))))
            err = CISHARE_ERR_NOMEM;
        if (err) {
            /* the record fails; what was kept of it is not reported */
            free(r->subject);
            free(r->topics);
            free(r->tlp);
            r->subject = r->topics = r->tlp = NULL;
            rec_fail_nomem(r);
            pub->nomem = true;
        }
        cishare_msg_out_clear(&o);
        cishare_strlist_clear(&topics);
        return err;
    }

    /* every 64th submission: the directory topic (at most once a second);
     * every submission: the expiry of the directory in use */
    if ((pub->dirw && !(pub->head & 63) && directory_check(pub)) ||
        directory_in_force(pub)) {
        rec_fail_nomem(&pub->recs[idx - pub->base]);
        pub->nomem = true;
        return CISHARE_ERR_NOMEM;
    }
    if (pub->stopped) {
        rec_fail_kafka(&pub->recs[idx - pub->base], pub->stopped,
                       pub->stopped_detail);
        return CISHARE_OK;
    }
    /* room in the ring: the oldest signed message goes out */
    if (pub->head - pub->tail == pub->ring_n)
        drain_to(pub, pub->tail + 1);
    /* The signer thread checks, builds, routes and signs it: the caller's
     * thread only queues it here and produces it in order. A reference
     * is enough: msg is only read, and left alone until it is built. */
    sl = &pub->ring[pub->head % pub->ring_n];
    if (audience && !(sl->audience = strdup(audience))) {
        rec_fail_nomem(&pub->recs[idx - pub->base]);
        pub->nomem = true;
        return CISHARE_ERR_NOMEM;
    }
    sl->msg = json_incref((json_t *)msg);
    sl->tlp_override = tlp_override;
    sl->idx = idx;
    pthread_mutex_lock(&pub->lock);
    pub->head++;
    if (pub->signer_idle ||
        (pub->signer_lingering && pub->head - pub->signed_cnt >= pub->batch))
        pthread_cond_signal(&pub->work);
    pthread_mutex_unlock(&pub->lock);
    drain_to(pub, pub->tail); /* what is signed already */
    rd_kafka_poll(pub->rk, 0);
    return CISHARE_OK;
}

void cishare_publisher_poll(cishare_publisher_t *pub, int timeout_ms)
{
    drain_to(pub, pub->head);
    if (!pub->rk)
        return;
    rd_kafka_poll(pub->rk, timeout_ms);
    if (pub->watch.refused && pub->watch.all_down && pub->inflight) {
        /* Every broker refused us (TLS or login): librdkafka would retry
         * until message.timeout.ms. Nothing queued was sent, so it is
         * purged and reported not delivered, with the refusal. */
        snprintf(pub->purge_detail, sizeof(pub->purge_detail), "not sent: %s",
                 pub->watch.text);
        rd_kafka_purge(pub->rk, RD_KAFKA_PURGE_F_QUEUE);
        rd_kafka_poll(pub->rk, 0);
    }
}

/* Append the records delivered to every topic since the last call to
 * the publication journal (pubjournal.h); a failure is logged. */
static void journal_delivered(cishare_publisher_t *pub)
{
    cishare_pubjournal_rec_t *v;
    size_t i, n = 0;
    char errstr[1024], line[1200];

    if (!pub->journal[0] || !pub->cnt || !(v = calloc(pub->cnt, sizeof(*v))))
        return;
    for (i = 0; i < pub->cnt; i++) {
        cishare_pub_rec_t *r = &pub->recs[i];
        if (r->journaled || r->pending)
            continue;
        r->journaled = true;
        if (r->failed || !r->subject || !r->audience)
            continue;
        v[n].origin = pub->id.me->id;
        v[n].subject = r->subject;
        v[n].type = cishare_msgtype_name(r->type);
        v[n].tlp = r->tlp;
        v[n].audience = r->audience;
        v[n].expires_ms = r->expires_ms;
        n++;
    }
    if (n &&
        cishare_pubjournal_append(pub->journal, v, n, cishare_time_now_ms(),
                                  errstr, sizeof(errstr))) {
        snprintf(line, sizeof(line),
                 "WARNING: published, but not recorded for 'cishare "
                 "revoke' (it will need --tlp and --audience): %s",
                 errstr);
        dirtopic_log(pub, line);
    }
    free(v);
}

void cishare_publisher_flush(cishare_publisher_t *pub, int timeout_ms)
{
    size_t i;
    char buf[1024];

    if (!pub->rk)
        return;
    drain_to(pub, pub->head);
    rd_kafka_flush(pub->rk, timeout_ms);
    rd_kafka_poll(pub->rk, 0);
    if (!pub->inflight) {
        journal_delivered(pub);
        return;
    }
    /* Still queued: never sent, so purged and reported not delivered (by
     * dr_cb). Still in flight: the broker may have written it, and
     * publishing it again would make a duplicate under a new message id,
     * so its outcome is reported as unknown, not as a failure. */
    snprintf(pub->purge_detail, sizeof(pub->purge_detail),
             "not sent within %d ms%s%s", timeout_ms,
             pub->last_error[0] ? ": " : "", pub->last_error);
    rd_kafka_purge(pub->rk, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_poll(pub->rk, 100);
    snprintf(buf, sizeof(buf),
             "sent but not acknowledged within %d ms; it may have been "
             "published%s%s",
             timeout_ms, pub->last_error[0] ? ": " : "", pub->last_error);
    for (i = 0; i < pub->cnt; i++)
        if (pub->recs[i].pending)
            rec_fail_kafka(&pub->recs[i], "outcome unknown", buf);
    /* reported: stop waiting for them, so that destroy does not block */
    rd_kafka_purge(pub->rk, RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(pub->rk, 100);
    journal_delivered(pub); /* those delivered before the timeout */
}

void cishare_publisher_forget(cishare_publisher_t *pub, size_t upto)
{
    size_t n = 0, i;

    if (!pub)
        return;
    drain_to(pub, pub->head); /* no slot refers to a record any more */
    if (pub->rk)
        journal_delivered(pub);
    while (n < pub->cnt && pub->base + n < upto && !pub->recs[n].pending)
        n++;
    if (!n)
        return;
    for (i = 0; i < n; i++)
        rec_free(&pub->recs[i]);
    memmove(pub->recs, pub->recs + n, (pub->cnt - n) * sizeof(*pub->recs));
    pub->cnt -= n;
    pub->base += n;
}
