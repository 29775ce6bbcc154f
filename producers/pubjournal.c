/*
 * cishare - the publication journal (see pubjournal.h): appended by the
 * publisher after delivery, read by `cishare revoke`.
 */
#include "pubjournal.h"

#include "cishare/avro_datum.h"
#include "cishare/codec.h"
#include "cishare/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest line read back (an audience text is at most 4095 bytes). */
#define LINE_MAX_BYTES 16384
/* One write(2) holds whole lines, at most about this many bytes. */
#define WRITE_CHUNK 65536

cishare_err_t cishare_pubjournal_path(const cishare_config_t *conf, char *out,
                                      size_t out_size, char *errstr,
                                      size_t errstr_size)
{
    char dir[4096];
    cishare_err_t err;
    int n;

    if ((err = cishare_identity_state_dir(conf, dir, sizeof(dir), errstr,
                                          errstr_size)))
        return err;
    n = snprintf(out, out_size, "%s/%s", dir, CISHARE_PUBJOURNAL_FILE);
    if (n < 0 || (size_t)n >= out_size)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s: path too long", CISHARE_CONF_STATE_DIR);
    return CISHARE_OK;
}

static bool recorded_type(const char *type)
{
    return type && (!strcmp(type, "indicator") || !strcmp(type, "incident") ||
                    !strcmp(type, "alert"));
}

/* write(2) all of buf (one call unless interrupted or short). */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* One journal line: the keys sorted, escaped as jansson dumps them (the
 * lines were json_dumps(JSON_COMPACT | JSON_SORT_KEYS) of an object; a
 * tree per record was most of the journal's cost). */
static int journal_line(cishare_avro_buf_t *b, const char *at,
                        const cishare_pubjournal_rec_t *r)
{
#define JPUT(lit) cishare_avro_buf_put(b, lit, sizeof(lit) - 1)
#define JSTR(s)   cishare_avro_json_string(b, s, strlen(s))
    char ex[32];
    int e = JPUT("{\"at\":") || JSTR(at) || JPUT(",\"audience\":") ||
            JSTR(r->audience);

    if (!e && r->expires_ms) {
        cishare_time_format(r->expires_ms, ex);
        e = JPUT(",\"expires\":") || JSTR(ex);
    }
    return e || JPUT(",\"origin\":") || JSTR(r->origin) ||
           JPUT(",\"subject\":") || JSTR(r->subject) || JPUT(",\"tlp\":") ||
           JSTR(r->tlp) || JPUT(",\"type\":") || JSTR(r->type) || JPUT("}\n");
#undef JPUT
#undef JSTR
}

cishare_err_t cishare_pubjournal_append(const char *path,
                                        const cishare_pubjournal_rec_t *recs,
                                        size_t n, int64_t now_ms, char *errstr,
                                        size_t errstr_size)
{
    cishare_avro_buf_t b = {0};
    char at[32];
    size_t i;
    int fd = -1;
    cishare_err_t err = CISHARE_OK;

    cishare_time_format(now_ms, at);
    for (i = 0; i <= n; i++) {
        const cishare_pubjournal_rec_t *r = i < n ? &recs[i] : NULL;

        /* flush whole lines before the buffer grows past a chunk */
        if (b.len && (!r || b.len >= WRITE_CHUNK)) {
            if (fd < 0 &&
                (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                           0600)) < 0) {
                err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                                      "%s: %s", path, strerror(errno));
                goto out;
            }
            if (write_all(fd, (const char *)b.buf, b.len)) {
                err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                                      "%s: cannot write: %s", path,
                                      strerror(errno));
                goto out;
            }
            b.len = 0;
        }
        if (!r)
            break;
        if (!r->origin || !r->subject || !r->tlp || !r->audience ||
            !recorded_type(r->type))
            continue;
        if (!cishare_avro_utf8_valid(r->subject, strlen(r->subject)) ||
            !cishare_avro_utf8_valid(r->origin, strlen(r->origin)) ||
            !cishare_avro_utf8_valid(r->audience, strlen(r->audience))) {
            err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                  "%s: subject %.64s: not UTF-8", path,
                                  r->subject);
            goto out;
        }
        if (journal_line(&b, at, r)) {
            err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                  "out of memory");
            goto out;
        }
    }
    if (fd >= 0 && fsync(fd))
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot sync: %s", path, strerror(errno));
out:
    if (fd >= 0 && close(fd) && !err)
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot close: %s", path, strerror(errno));
    free(b.buf);
    return err;
}

void cishare_pubjournal_entries_free(cishare_pubjournal_entry_t *entries,
                                     size_t cnt)
{
    size_t i;

    for (i = 0; entries && i < cnt; i++) {
        free(entries[i].type);
        free(entries[i].tlp);
        free(entries[i].audience);
    }
    free(entries);
}

cishare_err_t cishare_pubjournal_lookup(const char *path, const char *origin,
                                        const char *subject,
                                        cishare_pubjournal_entry_t **entriesp,
                                        size_t *cntp, size_t *badp,
                                        char *errstr, size_t errstr_size)
{
    cishare_pubjournal_entry_t *v = NULL;
    size_t cnt = 0, bad = 0, cap = 0, i;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    FILE *fp;
    cishare_err_t err = CISHARE_OK;

    *entriesp = NULL;
    *cntp = 0;
    if (badp)
        *badp = 0;
    if (!(fp = fopen(path, "re"))) {
        if (errno == ENOENT)
            return CISHARE_OK;
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                               path, strerror(errno));
    }
    while ((ll = getline(&line, &lcap, fp)) > 0) {
        json_t *o;
        const char *s, *type, *tlp, *aud, *ex, *org;
        int64_t x = 0;

        if (ll > LINE_MAX_BYTES ||
            !(o = json_loadb(line, (size_t)ll, JSON_DISABLE_EOF_CHECK, NULL))) {
            bad++;
            continue;
        }
        org = json_string_value(json_object_get(o, "origin"));
        s = json_string_value(json_object_get(o, "subject"));
        type = json_string_value(json_object_get(o, "type"));
        tlp = json_string_value(json_object_get(o, "tlp"));
        aud = json_string_value(json_object_get(o, "audience"));
        ex = json_string_value(json_object_get(o, "expires"));
        if (!org || !s || !type || !tlp || !aud ||
            (ex && !cishare_time_parse(ex, &x))) {
            bad++;
            json_decref(o);
            continue;
        }
        if (strcmp(s, subject) || strcmp(org, origin)) {
            json_decref(o);
            continue;
        }
        for (i = 0; i < cnt; i++)
            if (!strcmp(v[i].tlp, tlp) && !strcmp(v[i].audience, aud))
                break;
        if (i == cnt) {
            if (cnt == cap) {
                size_t nc = cap ? cap * 2 : 4;
                cishare_pubjournal_entry_t *nv = realloc(v, nc * sizeof(*v));
                if (!nv)
                    goto nomem;
                v = nv;
                cap = nc;
            }
            memset(&v[cnt], 0, sizeof(v[cnt]));
            cnt++;
            if (!(v[i].tlp = strdup(tlp)) || !(v[i].audience = strdup(aud)))
                goto nomem;
            v[i].expires_ms = x;
        } else if (!x || !v[i].expires_ms) {
            v[i].expires_ms = 0; /* one copy never expires */
        } else if (x > v[i].expires_ms) {
            v[i].expires_ms = x;
        }
        free(v[i].type);
        if (!(v[i].type = strdup(type)))
            goto nomem;
        json_decref(o);
        continue;
    nomem:
        json_decref(o);
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
        break;
    }
    if (!err && ferror(fp))
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot read: %s", path, strerror(errno));
    free(line);
    fclose(fp);
    if (err) {
        cishare_pubjournal_entries_free(v, cnt);
        return err;
    }
    *entriesp = v;
    *cntp = cnt;
    if (badp)
        *badp = bad;
    return CISHARE_OK;
}
