/*
 * cishare - the directory topic watcher: reads signed directory versions
 * from the compacted topic and decides, against the trust state, which one
 * a running client applies (see cishare/dirtopic.h).
 */
#include "cishare/dirtopic.h"
#include "cishare/codec.h"
#include "cishare/identity.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Decision
 * ------------------------------------------------------------------ */

cishare_dirtopic_verdict_t
cishare_dirtopic_decide(const cishare_dirstate_t *st,
                        const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES],
                        const cishare_directory_t *current, const char *name,
                        const char *buf, size_t len, int64_t now_ms,
                        const char *state_label, cishare_directory_t **dirp,
                        cishare_dirstate_t *next, char *errstr,
                        size_t errstr_size)
{
    cishare_directory_t *dir = NULL;
    uint64_t serial, cur;

    *dirp = NULL;
    if (len > CISHARE_DIRECTORY_MAX_SIZE) {
        cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                        "%s: %zu bytes, more than the %u a directory may "
                        "have",
                        name, len, CISHARE_DIRECTORY_MAX_SIZE);
        return CISHARE_DIRTOPIC_REFUSE;
    }
    /* signature, root, expiry, rollback against the recorded state */
    if (cishare_dirstate_check(st, pinned_root, name, buf, len, now_ms,
                               state_label, &dir, next, errstr, errstr_size))
        return CISHARE_DIRTOPIC_REFUSE;
    if (!current) {
        *dirp = dir;
        return CISHARE_DIRTOPIC_APPLY;
    }
    serial = cishare_directory_serial(dir);
    cur = cishare_directory_serial(current);
    if (serial == cur && !memcmp(cishare_directory_content_hash(dir),
                                 cishare_directory_content_hash(current),
                                 CISHARE_DIRECTORY_HASH_BYTES)) {
        cishare_directory_destroy(dir);
        return CISHARE_DIRTOPIC_SAME;
    }
    /* The state is never below the directory in use, so this holds only
     * when the state was reset under a running client: still refused. */
    if (serial <= cur) {
        cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                        "%s: directory serial %llu is not newer than serial "
                        "%llu in use: refused as a rollback",
                        name, (unsigned long long)serial,
                        (unsigned long long)cur);
        cishare_directory_destroy(dir);
        return CISHARE_DIRTOPIC_REFUSE;
    }
    *dirp = dir;
    return CISHARE_DIRTOPIC_APPLY;
}

/* ---------------------------------------------------------------------
 * Watcher
 * ------------------------------------------------------------------ */

struct cishare_dirtopic_s {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *topic;
    char state_path[4200];
    uint8_t pinned[CISHARE_ED25519_PK_BYTES];
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
    uint64_t refused;
    rd_kafka_resp_err_t last_err; /* last consumer error said (once) */
};

static void wlog(const cishare_dirtopic_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wlog(const cishare_dirtopic_t *w, const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    if (!w->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    w->log(w->log_opaque, line);
}

/* librdkafka's own log lines: the client's main Kafka handle reports
 * connection problems already; this one stays quiet. */
static void quiet_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

static void quiet_error_cb(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
    (void)rk, (void)err, (void)reason, (void)opaque;
}

cishare_err_t cishare_dirtopic_new(const cishare_config_t *conf,
                                   const char *state_dir,
                                   void (*log)(void *opaque, const char *line),
                                   void *log_opaque, cishare_dirtopic_t **wp,
                                   char *errstr, size_t errstr_size)
{
    cishare_dirtopic_t *w = calloc(1, sizeof(*w));
    const char *topic = cishare_config_get(conf, CISHARE_CONF_DIRECTORY_TOPIC);
    const char *path = cishare_config_get(conf, CISHARE_CONF_DIRECTORY);
    char sdir[4096], kerr[512];
    rd_kafka_conf_t *kc = NULL;
    cishare_err_t err;

    *wp = NULL;
    if (!w)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    w->log = log;
    w->log_opaque = log_opaque;
    if (!topic || !*topic)
        topic = CISHARE_DIRTOPIC_DEFAULT;
    if (!(w->topic = strdup(topic))) {
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
        goto fail;
    }
    if (!path) {
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "%s is not set in the config",
                              CISHARE_CONF_DIRECTORY);
        goto fail;
    }
    if ((err = cishare_directory_root_pub_load(
             path, cishare_config_get(conf, CISHARE_CONF_ROOT_KEY), w->pinned,
             errstr, errstr_size)))
        goto fail;
    if (!state_dir || !*state_dir) {
        if ((err = cishare_identity_state_dir(conf, sdir, sizeof(sdir), errstr,
                                              errstr_size)))
            goto fail;
        state_dir = sdir;
    }
    snprintf(w->state_path, sizeof(w->state_path), "%s/%s", state_dir,
             CISHARE_DIRSTATE_FILE);
    if (!(kc = cishare_config_kafka_conf(conf, errstr, errstr_size))) {
        err = CISHARE_ERR_CONFIG;
        goto fail;
    }
    /* no group: one partition read from the beginning, nothing committed;
     * a large version must fit a fetch */
    if (rd_kafka_conf_set(kc, "enable.auto.commit", "false", kerr,
                          sizeof(kerr)) ||
        rd_kafka_conf_set(kc, "enable.partition.eof", "false", kerr,
                          sizeof(kerr)) ||
        rd_kafka_conf_set(kc, "client.id", "cishare-directory-watch", kerr,
                          sizeof(kerr)) ||
        rd_kafka_conf_set(kc, "allow.auto.create.topics", "false", kerr,
                          sizeof(kerr))) {
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "directory topic consumer: %s", kerr);
        goto fail;
    }
    rd_kafka_conf_set_log_cb(kc, quiet_log_cb);
    rd_kafka_conf_set_error_cb(kc, quiet_error_cb);
    if (!(w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, kerr, sizeof(kerr)))) {
        err = cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                              "directory topic consumer: %s", kerr);
        goto fail;
    }
    kc = NULL; /* owned by rk */
    if (!(w->rkt = rd_kafka_topic_new(w->rk, w->topic, NULL)) ||
        rd_kafka_consume_start(w->rkt, 0, RD_KAFKA_OFFSET_BEGINNING) == -1) {
        err = cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                              "directory topic %s: %s", w->topic,
                              rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    *wp = w;
    return CISHARE_OK;
fail:
    if (kc)
        rd_kafka_conf_destroy(kc);
    cishare_dirtopic_destroy(w);
    return err;
}

void cishare_dirtopic_destroy(cishare_dirtopic_t *w)
{
    if (!w)
        return;
    if (w->rkt) {
        rd_kafka_consume_stop(w->rkt, 0);
        rd_kafka_topic_destroy(w->rkt);
    }
    if (w->rk)
        rd_kafka_destroy(w->rk);
    free(w->topic);
    free(w);
}

const char *cishare_dirtopic_topic(const cishare_dirtopic_t *w)
{
    return w->topic;
}

uint64_t cishare_dirtopic_refused(const cishare_dirtopic_t *w)
{
    return w->refused;
}

/* A consumer error: said once per kind, never fatal (the file-based
 * directory stays). */
static void consumer_error(cishare_dirtopic_t *w, rd_kafka_resp_err_t err)
{
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF || err == w->last_err)
        return;
    w->last_err = err;
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        wlog(w,
             "directory topic %s does not exist (yet): the directory file "
             "stays in use",
             w->topic);
    else if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        wlog(w,
             "directory topic %s: not authorised to read it (run cishare "
             "provision): the directory file stays in use",
             w->topic);
    else
        wlog(w, "directory topic %s: %s", w->topic, rd_kafka_err2str(err));
}

/*
 * Decide on one version (offset `off`) against *cur; on APPLY record it
 * in the state and make it *cur (freeing a directory this watcher applied
 * before in the same call: *owned).
 */
static cishare_err_t consider(cishare_dirtopic_t *w, const void *buf,
                              size_t len, int64_t off, bool quiet,
                              const cishare_directory_t **cur,
                              cishare_directory_t **owned, char *errstr,
                              size_t errstr_size)
{
    cishare_dirstate_t st, next;
    cishare_directory_t *dir = NULL, *rec = NULL;
    char name[512], why[2048] = "";
    cishare_dirtopic_verdict_t v;
    uint64_t was = *cur ? cishare_directory_serial(*cur) : 0;
    cishare_err_t err;

    snprintf(name, sizeof(name), "%s@%lld", w->topic, (long long)off);
    if ((err = cishare_dirstate_read(w->state_path, &st, why, sizeof(why)))) {
        v = CISHARE_DIRTOPIC_REFUSE;
    } else {
        v = cishare_dirtopic_decide(&st, w->pinned, *cur, name, buf, len,
                                    cishare_time_now_ms(), w->state_path, &dir,
                                    &next, why, sizeof(why));
    }
    if (v == CISHARE_DIRTOPIC_SAME)
        return CISHARE_OK;
    if (v == CISHARE_DIRTOPIC_APPLY) {
        /* record it: read-check-write again under the state's lock */
        cishare_directory_destroy(dir);
        err = cishare_dirstate_accept(w->state_path, w->pinned, name, buf, len,
                                      cishare_time_now_ms(), &rec, why,
                                      sizeof(why));
        if (err == CISHARE_ERR_IO || err == CISHARE_ERR_NOMEM)
            return cishare_err_set(err, errstr, errstr_size, "%s", why);
        if (!err) {
            wlog(w, "directory serial %llu applied (was %llu)",
                 (unsigned long long)cishare_directory_serial(rec),
                 (unsigned long long)was);
            cishare_directory_destroy(*owned);
            *owned = rec;
            *cur = rec;
            return CISHARE_OK;
        }
    }
    if (quiet)
        return CISHARE_OK;
    w->refused++;
    wlog(w, "directory on %s refused: %s", w->topic, why);
    return CISHARE_OK;
}

cishare_err_t cishare_dirtopic_sync(cishare_dirtopic_t *w,
                                    const cishare_directory_t *current,
                                    int timeout_ms, cishare_directory_t **newp,
                                    char *errstr, size_t errstr_size)
{
    int64_t lo = 0, hi = 0, deadline = cishare_time_now_ms() + timeout_ms,
            last_off = -1;
    rd_kafka_resp_err_t kerr;
    void *last = NULL;
    size_t last_len = 0;
    cishare_directory_t *owned = NULL;
    const cishare_directory_t *cur = current;
    cishare_err_t err = CISHARE_OK;

    *newp = NULL;
    kerr = rd_kafka_query_watermark_offsets(w->rk, w->topic, 0, &lo, &hi,
                                            timeout_ms);
    if (kerr) {
        consumer_error(w, kerr);
        return CISHARE_OK;
    }
    while (!err && hi > lo && last_off < hi - 1) {
        int64_t left = deadline - cishare_time_now_ms();
        rd_kafka_message_t *m;

        if (left <= 0) {
            wlog(w,
                 "directory topic %s: not read to its end within %d ms; "
                 "later versions apply when they arrive",
                 w->topic, timeout_ms);
            break;
        }
        if (!(m = rd_kafka_consume(w->rkt, 0, (int)left)))
            continue;
        if (m->err) {
            consumer_error(w, m->err);
        } else {
            /* versions before the last, still in the uncompacted head:
             * applied when newer, never reported */
            if (last)
                err = consider(w, last, last_len, last_off, true, &cur, &owned,
                               errstr, errstr_size);
            free(last);
            last = malloc(m->len ? m->len : 1);
            if (!last) {
                rd_kafka_message_destroy(m);
                cishare_directory_destroy(owned);
                return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                       "out of memory");
            }
            if (m->len)
                memcpy(last, m->payload, m->len);
            last_len = m->len;
            last_off = m->offset;
        }
        rd_kafka_message_destroy(m);
    }
    if (last && !err)
        err = consider(w, last, last_len, last_off, false, &cur, &owned, errstr,
                       errstr_size);
    free(last);
    if (err) {
        cishare_directory_destroy(owned);
        return err;
    }
    *newp = owned;
    return CISHARE_OK;
}

cishare_err_t cishare_dirtopic_poll(cishare_dirtopic_t *w,
                                    const cishare_directory_t *current,
                                    cishare_directory_t **newp, char *errstr,
                                    size_t errstr_size)
{
    const cishare_directory_t *cur = current;
    cishare_directory_t *owned = NULL;
    rd_kafka_message_t *m;
    cishare_err_t err = CISHARE_OK;

    *newp = NULL;
    while (!err && (m = rd_kafka_consume(w->rkt, 0, 0))) {
        if (m->err)
            consumer_error(w, m->err);
        else
            err = consider(w, m->payload ? m->payload : "", m->len, m->offset,
                           false, &cur, &owned, errstr, errstr_size);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(w->rk, 0); /* serve the error and log callbacks */
    if (err) {
        cishare_directory_destroy(owned);
        return err;
    }
    *newp = owned;
    return CISHARE_OK;
}
