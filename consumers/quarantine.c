/*
 * cishare - quarantine writer (see quarantine.h).
 */
#include "quarantine.h"
#include "sinks/sink.h"

#include "cishare/codec.h"

#include <jansson.h>
#include <sodium.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cishare_quarantine_s {
    char *path;
    FILE *fp;
    uint64_t count;
    long synced; /* position at the last fsync; -1: none yet */
};

cishare_err_t cishare_quarantine_open(const char *path, bool has_mark,
                                      uint64_t mark, cishare_quarantine_t **qp,
                                      char *errstr, size_t errstr_size)
{
    cishare_quarantine_t *q;
    struct stat st;

    *qp = NULL;
    if (!(q = calloc(1, sizeof(*q))) || !(q->path = strdup(path))) {
        free(q);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    q->synced = -1;
    if (has_mark && stat(path, &st) == 0 && (uint64_t)st.st_size > mark &&
        truncate(path, (off_t)mark)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot cut uncommitted records: %s", path,
                        strerror(errno));
        cishare_quarantine_close(q);
        return CISHARE_ERR_IO;
    }
    if (!(q->fp = cishare_fopen_append(path))) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot open: %s", path, strerror(errno));
        cishare_quarantine_close(q);
        return CISHARE_ERR_IO;
    }
    *qp = q;
    return CISHARE_OK;
}

static json_t *b64(const void *p, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *buf = malloc(cap);
    json_t *s;

    if (!buf)
        return NULL;
    sodium_bin2base64(buf, cap, p, len, sodium_base64_VARIANT_ORIGINAL);
    s = json_string(buf);
    free(buf);
    return s;
}

/* {"text": ...} for UTF-8 without NUL, else {"base64": ...}. */
static json_t *bytes_obj(json_t *o, const void *p, size_t len)
{
    json_t *t = memchr(p, 0, len) ? NULL : json_stringn(p, len);

    if (t)
        json_object_set_new(o, "text", t);
    else
        json_object_set_new(o, "base64", b64(p, len));
    return o;
}

/* Text from an untrusted message (a header name, an error detail quoting
 * one) as a JSON string: jansson refuses invalid UTF-8, and a refusal here
 * must not stop the feed (a poison pill), so such text is kept with every
 * byte outside printable ASCII replaced by '?'. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s ? s : "");
    char *copy;
    size_t i;

    if (j)
        return j;
    if (!(copy = strdup(s)))
        return NULL;
    for (i = 0; copy[i]; i++)
        if ((unsigned char)copy[i] < 0x20 || (unsigned char)copy[i] > 0x7e)
            copy[i] = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

cishare_err_t cishare_quarantine_add(cishare_quarantine_t *q,
                                     const cishare_quarantine_rec_t *rec,
                                     char *errstr, size_t errstr_size)
{
    char when[32];
    json_t *o, *hs;
    size_t i;
    int r;

    cishare_time_format(rec->time_ms ? rec->time_ms : cishare_time_now_ms(),
                        when);
    hs = json_array();
    for (i = 0; i < rec->header_cnt; i++) {
        const cishare_qheader_t *h = &rec->headers[i];
        json_t *name = json_string(h->name ? h->name : "");
        json_t *ho =
            json_pack("{s:o}", "name", name ? name : safe_string(h->name));
        /* a name that is not UTF-8 is also kept exactly */
        if (ho && !name)
            json_object_set_new(ho, "name_base64",
                                b64(h->name, strlen(h->name)));
        if (!h->value)
            json_object_set_new(ho, "null", json_true());
        else
            bytes_obj(ho, h->value, h->len);
        json_array_append_new(hs, ho);
    }
    o = json_pack("{s:s,s:o,s:i,s:I,s:s,s:o,s:o}", "time", when, "topic",
                  safe_string(rec->topic), "partition", (int)rec->partition,
                  "offset", (json_int_t)rec->offset, "reason",
                  rec->reason ? rec->reason : "invalid", "detail",
                  safe_string(rec->detail), "headers", hs);
    if (!o)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    json_object_set_new(o, "key",
                        rec->key
                            ? bytes_obj(json_object(), rec->key, rec->key_len)
                            : json_null());
    json_object_set_new(o, "value_base64",
                        b64(rec->value ? rec->value : "", rec->value_len));
    r = json_dumpf(o, q->fp, JSON_COMPACT);
    json_decref(o);
    if (r || fputc('\n', q->fp) == EOF)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot write: %s", q->path,
                               strerror(errno));
    q->count++;
    return CISHARE_OK;
}

cishare_err_t cishare_quarantine_sync(cishare_quarantine_t *q, uint64_t *markp,
                                      char *errstr, size_t errstr_size)
{
    long pos;

    /* Nothing written since the last fsync: nothing to make durable (an
     * fsync of an unchanged file still cost up to 29 ms a feed batch on a
     * busy disk). */
    if (fflush(q->fp) || (pos = ftell(q->fp)) < 0 ||
        (pos != q->synced && fsync(fileno(q->fp))))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot write: %s", q->path,
                               strerror(errno));
    q->synced = pos;
    if (markp)
        *markp = (uint64_t)pos;
    return CISHARE_OK;
}

uint64_t cishare_quarantine_count(const cishare_quarantine_t *q)
{
    return q->count;
}

void cishare_quarantine_close(cishare_quarantine_t *q)
{
    if (!q)
        return;
    if (q->fp)
        fclose(q->fp);
    free(q->path);
    free(q);
}
