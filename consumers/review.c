/*
 * cishare - the relay's review queue (review.h): items and their states
 * in one journal, kept by the sinks' subject-keyed state (sinks/sink.h),
 * so that appends, the torn-tail cut and atomic compaction are the ones
 * every sink already relies on.
 */
#include "review.h"

#include "cishare/message.h"
#include "sinks/sink.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOURNAL  "review.jsonl"
#define KEY_NEXT "next"
/** Bound on the headers kept of one record (message.c looks at 64). */
#define REVIEW_MAX_HEADERS 64

struct cishare_review_s {
    char *path;
    cishare_sink_state_t *st;
    cishare_review_item_t **items; /**< in the order of adding */
    size_t cnt, cap;
    uint64_t next; /**< number of the next id */
};

static const char *const state_names[CISHARE_REVIEW__CNT] = {
    "pending", "approved", "relayed", "rejected"};

const char *cishare_review_state_name(cishare_review_state_t st)
{
    return (unsigned)st < CISHARE_REVIEW__CNT ? state_names[st] : "?";
}

static bool state_parse(const char *s, cishare_review_state_t *stp)
{
    int i;
    for (i = 0; s && i < CISHARE_REVIEW__CNT; i++)
        if (!strcmp(s, state_names[i])) {
            *stp = (cishare_review_state_t)i;
            return true;
        }
    return false;
}

/* ---- bytes <-> base64 ------------------------------------------------- */

static json_t *b64_json(const void *buf, size_t len, bool present)
{
    size_t n;
    char *s;
    json_t *j;

    if (!present)
        return json_null();
    n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    if (!(s = malloc(n)))
        return NULL;
    sodium_bin2base64(s, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
    j = json_string(s);
    free(s);
    return j;
}

/* JSON base64 string -> malloc()ed bytes (one spare byte, NUL). null ->
 * *bufp NULL. false when malformed or out of memory. */
static bool b64_bytes(const json_t *j, uint8_t **bufp, size_t *lenp)
{
    const char *s = json_string_value(j);
    size_t slen, len = 0;
    uint8_t *buf;

    *bufp = NULL;
    *lenp = 0;
    if (json_is_null(j))
        return true;
    if (!s)
        return false;
    slen = json_string_length(j);
    if (!(buf = malloc(slen / 4 * 3 + 3)))
        return false;
    if (sodium_base642bin(buf, slen / 4 * 3 + 2, s, slen, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL)) {
        free(buf);
        return false;
    }
    buf[len] = 0;
    *bufp = buf;
    *lenp = len;
    return true;
}

/* ---- items ------------------------------------------------------------ */

static void item_free(cishare_review_item_t *it)
{
    if (!it)
        return;
    free(it->reason);
    json_decref(it->out);
    free(it->topic);
    free(it->key);
    free(it->value);
    if (it->headers)
        rd_kafka_headers_destroy(it->headers);
    json_decref(it->msg);
    free(it);
}

static const char *str_or_empty(const json_t *j)
{
    const char *s = json_string_value(j);
    return s ? s : "";
}

/* The summary members, borrowed from it->msg. */
static void item_summarise(cishare_review_item_t *it)
{
    const json_t *p = json_object_get(it->msg, "payload");
    const char *sum;

    it->origin = str_or_empty(json_object_get(it->msg, "origin"));
    it->type = str_or_empty(json_object_get(it->msg, "type"));
    it->tlp = str_or_empty(json_object_get(it->msg, "tlp"));
    it->subject = str_or_empty(json_object_get(p, "id"));
    if (!strcmp(it->type, "sighting"))
        it->subject = str_or_empty(json_object_get(p, "sighting_of"));
    else if (!strcmp(it->type, "revocation"))
        it->subject = str_or_empty(json_object_get(p, "revokes"));
    sum = json_string_value(json_object_get(p, "title"));
    if (!sum)
        sum = json_string_value(json_object_get(p, "value"));
    if (!sum)
        sum = json_string_value(json_object_get(p, "description"));
    it->summary = sum ? sum : "";
}

/* Item record of the journal ("i <id>"). New reference or NULL. */
static json_t *item_record(const cishare_review_item_t *it)
{
    json_t *h = json_array(), *rec;
    size_t i;
    const char *name;
    const void *val;
    size_t vlen;

    if (!h)
        return NULL;
    for (i = 0; it->headers &&
                !rd_kafka_header_get_all(it->headers, i, &name, &val, &vlen);
         i++)
        if (json_array_append_new(
                h, json_pack("[s, o]", name, b64_json(val, vlen, val)))) {
            json_decref(h);
            return NULL;
        }
    rec = json_pack("{s:s, s:I, s:s, s:i, s:I, s:o, s:o, s:o, s:O}", "id",
                    it->id, "received", (json_int_t)it->received_ms, "topic",
                    it->topic, "partition", (int)it->partition, "offset",
                    (json_int_t)it->offset, "key",
                    b64_json(it->key, it->key_len, it->key), "value",
                    b64_json(it->value, it->value_len, it->value), "headers", h,
                    "msg", it->msg);
    return rec;
}

/* State record ("s <id>"). New reference or NULL. */
static json_t *state_record(const cishare_review_item_t *it)
{
    json_t *rec = json_pack("{s:s, s:I, s:I}", "state",
                            cishare_review_state_name(it->state), "decided",
                            (json_int_t)it->decided_ms, "relayed",
                            (json_int_t)it->relayed_ms);
    if (rec && it->reason &&
        json_object_set_new(rec, "reason", json_string(it->reason))) {
        json_decref(rec);
        return NULL;
    }
    if (rec && it->out && json_object_set(rec, "out", it->out)) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* The item of journal record rec; NULL when it is not one. */
static cishare_review_item_t *item_load(const json_t *rec)
{
    cishare_review_item_t *it = calloc(1, sizeof(*it));
    const json_t *h = json_object_get(rec, "headers"), *e;
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *topic = json_string_value(json_object_get(rec, "topic"));
    json_t *msg = json_object_get(rec, "msg");
    size_t i;

    if (!it || !id || strlen(id) > CISHARE_REVIEW_ID_MAX || !topic ||
        !json_is_object(msg) || !json_is_array(h) ||
        json_array_size(h) > REVIEW_MAX_HEADERS ||
        !json_is_integer(json_object_get(rec, "received")) ||
        !json_is_integer(json_object_get(rec, "partition")) ||
        !json_is_integer(json_object_get(rec, "offset")))
        goto bad;
    snprintf(it->id, sizeof(it->id), "%s", id);
    it->received_ms = json_integer_value(json_object_get(rec, "received"));
    it->partition =
        (int32_t)json_integer_value(json_object_get(rec, "partition"));
    it->offset = json_integer_value(json_object_get(rec, "offset"));
    if (!(it->topic = strdup(topic)) ||
        !b64_bytes(json_object_get(rec, "key"), &it->key, &it->key_len) ||
        !b64_bytes(json_object_get(rec, "value"), &it->value, &it->value_len) ||
        !(it->headers = rd_kafka_headers_new(json_array_size(h) + 1)))
        goto bad;
    json_array_foreach(h, i, e)
    {
        const char *name = json_string_value(json_array_get(e, 0));
        uint8_t *v;
        size_t vlen;
        if (!name || !b64_bytes(json_array_get(e, 1), &v, &vlen))
            goto bad;
        rd_kafka_header_add(it->headers, name, -1, v, v ? (ssize_t)vlen : 0);
        free(v);
    }
    it->msg = json_incref(msg);
    item_summarise(it);
    return it;
bad:
    item_free(it);
    return NULL;
}

static bool item_apply_state(cishare_review_item_t *it, const json_t *rec)
{
    const char *reason = json_string_value(json_object_get(rec, "reason"));
    json_t *out = json_object_get(rec, "out");

    if (!state_parse(json_string_value(json_object_get(rec, "state")),
                     &it->state))
        return false;
    it->decided_ms = json_integer_value(json_object_get(rec, "decided"));
    it->relayed_ms = json_integer_value(json_object_get(rec, "relayed"));
    free(it->reason);
    it->reason = reason ? strdup(reason) : NULL;
    json_decref(it->out);
    it->out = out ? json_incref(out) : NULL;
    return !reason || it->reason;
}

/* ---- the queue -------------------------------------------------------- */

static bool push(cishare_review_t *q, cishare_review_item_t *it)
{
    if (q->cnt == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        cishare_review_item_t **n = realloc(q->items, cap * sizeof(*n));
        if (!n)
            return false;
        q->items = n;
        q->cap = cap;
    }
    q->items[q->cnt++] = it;
    return true;
}

/* Number of id "r<n>", or 0 when not of that form. */
static uint64_t id_number(const char *id)
{
    char *end;
    unsigned long long n;

    if (id[0] != 'r' || !isdigit((unsigned char)id[1]))
        return 0;
    errno = 0;
    n = strtoull(id + 1, &end, 10);
    return *end || errno ? 0 : (uint64_t)n;
}

static int cmp_items(const void *a, const void *b)
{
    uint64_t x = id_number((*(cishare_review_item_t *const *)a)->id);
    uint64_t y = id_number((*(cishare_review_item_t *const *)b)->id);
    return x < y ? -1 : x > y;
}

static cishare_review_item_t *find(const cishare_review_t *q, const char *id)
{
    size_t i;
    for (i = 0; id && i < q->cnt; i++)
        if (!strcmp(q->items[i]->id, id))
            return q->items[i];
    return NULL;
}

static cishare_err_t load(cishare_review_t *q, char *errstr, size_t errstr_size)
{
    json_t *all = cishare_sink_state_all(q->st), *v;
    const char *k;
    size_t i;

    json_object_foreach(all, k, v)
    {
        cishare_review_item_t *it;
        if (!strncmp(k, "i ", 2)) {
            if (!(it = item_load(v)) || strcmp(it->id, k + 2) ||
                !id_number(it->id) || !push(q, it)) {
                item_free(it);
                return cishare_err_set(CISHARE_ERR_VALIDATION, errstr,
                                       errstr_size,
                                       "%s: queued message '%s' is not a "
                                       "review record (or out of memory)",
                                       q->path, k + 2);
            }
            if (id_number(it->id) >= q->next)
                q->next = id_number(it->id) + 1;
        } else if (!strcmp(k, KEY_NEXT)) {
            json_int_t n = json_integer_value(json_object_get(v, "n"));
            if (n > 0 && (uint64_t)n > q->next)
                q->next = (uint64_t)n;
        } else if (strncmp(k, "s ", 2))
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "%s: unknown record '%s' in a review "
                                   "queue",
                                   q->path, k);
    }
    if (q->cnt > 1) /* items is NULL when empty: not for qsort */
        qsort(q->items, q->cnt, sizeof(*q->items), cmp_items);
    json_object_foreach(all, k, v)
    {
        cishare_review_item_t *it;
        if (strncmp(k, "s ", 2))
            continue;
        /* A state without its item: the item line was torn. Ignore. */
        if (!(it = find(q, k + 2)))
            continue;
        if (!item_apply_state(it, v))
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "%s: state of '%s' is not a review state",
                                   q->path, k + 2);
    }
    for (i = 0; i < q->cnt; i++)
        if (q->items[i]->state == CISHARE_REVIEW_REJECTED &&
            !q->items[i]->reason)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "%s: '%s' is rejected without a reason",
                                   q->path, q->items[i]->id);
    if (!q->next)
        q->next = 1;
    return CISHARE_OK;
}

cishare_err_t cishare_review_open(const char *dir, cishare_review_t **qp,
                                  char *errstr, size_t errstr_size)
{
    cishare_review_t *q;
    cishare_err_t err;

    *qp = NULL;
    if (!dir || !*dir)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "review queue: no folder given");
    if (cishare_mkdirs(dir))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot create: %s", dir, strerror(errno));
    if (!(q = calloc(1, sizeof(*q))) ||
        asprintf(&q->path, "%s/%s", dir, JOURNAL) < 0) {
        if (q)
            q->path = NULL;
        cishare_review_close(q);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if ((err = cishare_sink_state_open(q->path, &q->st, errstr, errstr_size)) ||
        (err = load(q, errstr, errstr_size))) {
        cishare_review_close(q);
        return err;
    }
    *qp = q;
    return CISHARE_OK;
}

void cishare_review_close(cishare_review_t *q)
{
    size_t i;

    if (!q)
        return;
    for (i = 0; i < q->cnt; i++)
        item_free(q->items[i]);
    free(q->items);
    cishare_sink_state_close(q->st);
    free(q->path);
    free(q);
}

uint64_t cishare_review_torn_bytes(const cishare_review_t *q)
{
    return cishare_sink_state_torn_bytes(q->st);
}

const char *cishare_review_path(const cishare_review_t *q)
{
    return q->path;
}

size_t cishare_review_count(const cishare_review_t *q)
{
    return q->cnt;
}

const cishare_review_item_t *cishare_review_at(const cishare_review_t *q,
                                               size_t i)
{
    return i < q->cnt ? q->items[i] : NULL;
}

cishare_err_t cishare_review_get(const cishare_review_t *q, const char *id,
                                 const cishare_review_item_t **itemp,
                                 char *errstr, size_t errstr_size)
{
    *itemp = find(q, id);
    if (!*itemp)
        return cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                               "%s: no queued message '%s'", q->path,
                               id ? id : "(null)");
    return CISHARE_OK;
}

/* Journal key "<c> <id>" -> buf. */
static const char *jkey(char *buf, size_t size, char c, const char *id)
{
    snprintf(buf, size, "%c %s", c, id);
    return buf;
}

/* Append rec under key (not yet fsynced); rec is taken. The counter,
 * the state and the item of a new entry go out in this order, with one
 * fsync: a crash can tear only the last of them, and a state without its
 * item is ignored on open. */
static cishare_err_t put(cishare_review_t *q, const char *key, json_t *rec,
                         char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    if (!rec)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    err = cishare_sink_state_put(q->st, key, rec);
    json_decref(rec);
    if (err)
        return cishare_err_set(err, errstr, errstr_size, "%s: cannot write",
                               q->path);
    return CISHARE_OK;
}

/* put() and fsync. */
static cishare_err_t put_sync(cishare_review_t *q, const char *key, json_t *rec,
                              char *errstr, size_t errstr_size)
{
    cishare_err_t err = put(q, key, rec, errstr, errstr_size);
    return err ? err : cishare_sink_state_sync(q->st, errstr, errstr_size);
}

/* Same message already queued: same origin and message id, or the same
 * record (topic, partition, offset). */
static cishare_review_item_t *find_same(const cishare_review_t *q,
                                        const char *topic, int32_t partition,
                                        int64_t offset, const json_t *msg)
{
    const char *mid = json_string_value(json_object_get(msg, "message_id"));
    const char *org = json_string_value(json_object_get(msg, "origin"));
    size_t i;

    for (i = 0; i < q->cnt; i++) {
        const cishare_review_item_t *it = q->items[i];
        const char *imid =
            json_string_value(json_object_get(it->msg, "message_id"));
        if (mid && org && imid && !strcmp(mid, imid) &&
            !strcmp(org, it->origin))
            return q->items[i];
        if (!strcmp(topic, it->topic) && partition == it->partition &&
            offset == it->offset)
            return q->items[i];
    }
    return NULL;
}

cishare_err_t
cishare_review_add(cishare_review_t *q, const char *topic, int32_t partition,
                   int64_t offset, const void *key, size_t key_len,
                   const void *value, size_t value_len,
                   const rd_kafka_headers_t *hdrs, const json_t *msg,
                   int64_t received_ms, const cishare_review_item_t **itemp,
                   bool *existedp, char *errstr, size_t errstr_size)
{
    cishare_review_item_t *it;
    char k[CISHARE_REVIEW_ID_MAX + 3];
    cishare_err_t err;

    if (itemp)
        *itemp = NULL;
    if (existedp)
        *existedp = false;
    if (!topic || !json_is_object(msg))
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "%s: a queued message needs its topic and "
                               "its decoded JSON object",
                               q->path);
    if (key_len > CISHARE_SUBJECT_MAX_LEN ||
        value_len > CISHARE_MESSAGE_MAX_VALUE)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "%s: %s [%" PRId32 "] at %" PRId64
                               ": key or value beyond the message bounds",
                               q->path, topic, partition, offset);
    if ((it = find_same(q, topic, partition, offset, msg))) {
        if (itemp)
            *itemp = it;
        if (existedp)
            *existedp = true;
        return CISHARE_OK;
    }
    if (!(it = calloc(1, sizeof(*it))))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    snprintf(it->id, sizeof(it->id), "r%" PRIu64, q->next);
    it->state = CISHARE_REVIEW_PENDING;
    it->received_ms = received_ms;
    it->partition = partition;
    it->offset = offset;
    it->key_len = key ? key_len : 0;
    it->value_len = value ? value_len : 0;
    if (!(it->topic = strdup(topic)) ||
        (key && !(it->key = malloc(key_len + 1))) ||
        (value && !(it->value = malloc(value_len + 1))) ||
        !(it->headers =
              hdrs ? rd_kafka_headers_copy(hdrs) : rd_kafka_headers_new(1)) ||
        !(it->msg = json_deep_copy(msg))) {
        item_free(it);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if (key) {
        memcpy(it->key, key, key_len);
        it->key[key_len] = 0;
    }
    if (value) {
        memcpy(it->value, value, value_len);
        it->value[value_len] = 0;
    }
    item_summarise(it);
    /* The counter first: an id is never reused, even if the item line
     * is then torn. */
    if ((err = put(q, KEY_NEXT,
                   json_pack("{s:I}", "n", (json_int_t)(q->next + 1)), errstr,
                   errstr_size)) ||
        (err = put(q, jkey(k, sizeof(k), 's', it->id), state_record(it), errstr,
                   errstr_size)) ||
        (err = put(q, jkey(k, sizeof(k), 'i', it->id), item_record(it), errstr,
                   errstr_size)) ||
        (err = cishare_sink_state_sync(q->st, errstr, errstr_size))) {
        item_free(it);
        return err;
    }
    if (!push(q, it)) {
        item_free(it);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    q->next++;
    if (itemp)
        *itemp = it;
    return CISHARE_OK;
}

static cishare_err_t write_state(cishare_review_t *q, cishare_review_item_t *it,
                                 const cishare_review_item_t *before,
                                 char *errstr, size_t errstr_size)
{
    char k[CISHARE_REVIEW_ID_MAX + 3];
    cishare_err_t err = put_sync(q, jkey(k, sizeof(k), 's', it->id),
                                 state_record(it), errstr, errstr_size);
    if (err) {
        /* Not durable: the item keeps its previous state. */
        it->state = before->state;
        it->decided_ms = before->decided_ms;
        it->relayed_ms = before->relayed_ms;
    }
    return err;
}

/* "rejected at <time>: <reason>" into buf. */
static const char *rejection(const cishare_review_item_t *it, char *buf,
                             size_t size)
{
    char t[32];
    cishare_time_format(it->decided_ms, t);
    snprintf(buf, size, "rejected at %s: %s", t, it->reason ? it->reason : "");
    return buf;
}

cishare_err_t cishare_review_approve(cishare_review_t *q, const char *id,
                                     int64_t now_ms,
                                     const cishare_review_item_t **itemp,
                                     char *errstr, size_t errstr_size)
{
    cishare_review_item_t *it = find(q, id), before;
    char why[CISHARE_REVIEW_REASON_MAX + 64];
    cishare_err_t err;

    if (itemp)
        *itemp = NULL;
    if (!it)
        return cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                               "%s: no queued message '%s'", q->path,
                               id ? id : "(null)");
    if (it->state == CISHARE_REVIEW_APPROVED ||
        it->state == CISHARE_REVIEW_RELAYED)
        return cishare_err_set(
            CISHARE_ERR_EXISTS, errstr, errstr_size, "%s: already approved%s",
            id, it->state == CISHARE_REVIEW_RELAYED ? " and relayed" : "");
    if (it->state == CISHARE_REVIEW_REJECTED)
        return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                               "%s: cannot approve: %s", id,
                               rejection(it, why, sizeof(why)));
    before = *it;
    it->state = CISHARE_REVIEW_APPROVED;
    it->decided_ms = now_ms;
    if ((err = write_state(q, it, &before, errstr, errstr_size)))
        return err;
    if (itemp)
        *itemp = it;
    return CISHARE_OK;
}

cishare_err_t cishare_review_reject(cishare_review_t *q, const char *id,
                                    const char *reason, int64_t now_ms,
                                    char *errstr, size_t errstr_size)
{
    cishare_review_item_t *it = find(q, id), before;
    char why[CISHARE_REVIEW_REASON_MAX + 64];
    cishare_err_t err;
    size_t i, len = reason ? strlen(reason) : 0;

    if (!it)
        return cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                               "%s: no queued message '%s'", q->path,
                               id ? id : "(null)");
    if (!len || len > CISHARE_REVIEW_REASON_MAX)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "%s: a rejection needs a reason of 1 to %d "
                               "bytes, got %zu",
                               id, CISHARE_REVIEW_REASON_MAX, len);
    for (i = 0; i < len; i++)
        if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
            return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                                   "%s: the reason holds a control "
                                   "character at byte %zu",
                                   id, i);
    if (it->state == CISHARE_REVIEW_REJECTED)
        return cishare_err_set(CISHARE_ERR_EXISTS, errstr, errstr_size,
                               "%s: already %s", id,
                               rejection(it, why, sizeof(why)));
    if (it->state != CISHARE_REVIEW_PENDING)
        return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                               "%s: cannot reject: already %s", id,
                               cishare_review_state_name(it->state));
    before = *it;
    if (!(it->reason = strdup(reason)))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    it->state = CISHARE_REVIEW_REJECTED;
    it->decided_ms = now_ms;
    if ((err = write_state(q, it, &before, errstr, errstr_size))) {
        free(it->reason);
        it->reason = NULL;
    }
    return err;
}

cishare_err_t cishare_review_prepare(cishare_review_t *q, const char *id,
                                     const json_t *out, char *errstr,
                                     size_t errstr_size)
{
    cishare_review_item_t *it = find(q, id), before;
    json_t *old;
    cishare_err_t err;

    if (!it)
        return cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                               "%s: no queued message '%s'", q->path,
                               id ? id : "(null)");
    if (it->state != CISHARE_REVIEW_APPROVED)
        return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                               "%s: cannot prepare a copy: %s, not approved",
                               id, cishare_review_state_name(it->state));
    before = *it;
    old = it->out;
    if (!(it->out = json_deep_copy(out))) {
        it->out = old;
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if ((err = write_state(q, it, &before, errstr, errstr_size))) {
        json_decref(it->out);
        it->out = old;
        return err;
    }
    json_decref(old);
    return CISHARE_OK;
}

cishare_err_t cishare_review_mark_relayed(cishare_review_t *q, const char *id,
                                          int64_t now_ms, char *errstr,
                                          size_t errstr_size)
{
    cishare_review_item_t *it = find(q, id), before;

    if (!it)
        return cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                               "%s: no queued message '%s'", q->path,
                               id ? id : "(null)");
    if (it->state == CISHARE_REVIEW_RELAYED)
        return cishare_err_set(CISHARE_ERR_EXISTS, errstr, errstr_size,
                               "%s: already relayed", id);
    if (it->state != CISHARE_REVIEW_APPROVED)
        return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                               "%s: cannot mark relayed: %s, not approved", id,
                               cishare_review_state_name(it->state));
    before = *it;
    it->state = CISHARE_REVIEW_RELAYED;
    it->relayed_ms = now_ms;
    return write_state(q, it, &before, errstr, errstr_size);
}
