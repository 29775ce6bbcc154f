/*
 * cishare - sink registry, wrappers and the helpers the sinks share:
 * time text, atomic file replacement, the subject-keyed state journal,
 * the frame of the sinks that rewrite a view from that journal.
 */
#include "sinks/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const cishare_sink_plugin_t *const plugins[] = {
    &cishare_sink_jsonl,
    &cishare_sink_stix,
    &cishare_sink_blocklist,
};

const cishare_sink_plugin_t *cishare_sink_plugin_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
        if (!strcmp(plugins[i]->name, name))
            return plugins[i];
    return NULL;
}

cishare_err_t cishare_sink_open(const char *name,
                                const cishare_sink_opts_t *opts,
                                cishare_sink_t **sinkp, char *errstr,
                                size_t errstr_size)
{
    const cishare_sink_plugin_t *pl = cishare_sink_plugin_find(name);
    cishare_sink_t *sink;

    *sinkp = NULL;
    if (!pl)
        return cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                               "unknown sink '%s' (jsonl, stix, blocklist)",
                               name);
    if (!(sink = calloc(1, sizeof(*sink))))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    sink->plugin = pl;
    if (pl->open(opts, &sink->ctx, errstr, errstr_size) != CISHARE_SINK_OK) {
        free(sink);
        return CISHARE_ERR_IO;
    }
    *sinkp = sink;
    return CISHARE_OK;
}

cishare_sink_status_t cishare_sink_write(cishare_sink_t *sink,
                                         const json_t *msg, const char *subject,
                                         char *errstr, size_t errstr_size)
{
    cishare_sink_status_t st =
        sink->plugin->write(sink->ctx, msg, subject, errstr, errstr_size);
    if (st == CISHARE_SINK_OK)
        sink->written++;
    return st;
}

cishare_sink_status_t cishare_sink_revoke(cishare_sink_t *sink,
                                          const char *subject,
                                          const json_t *rev, char *errstr,
                                          size_t errstr_size)
{
    cishare_sink_status_t st =
        sink->plugin->revoke(sink->ctx, subject, rev, errstr, errstr_size);
    if (st == CISHARE_SINK_OK)
        sink->revoked++;
    return st;
}

bool cishare_sink_takes_line(const cishare_sink_t *sink)
{
    return sink->plugin->write_line != NULL;
}

cishare_sink_status_t cishare_sink_write_line(cishare_sink_t *sink,
                                              const char *line, size_t len,
                                              const char *subject, bool revoke,
                                              char *errstr, size_t errstr_size)
{
    cishare_sink_status_t st = sink->plugin->write_line(
        sink->ctx, line, len, subject, revoke, errstr, errstr_size);
    if (st == CISHARE_SINK_OK) {
        if (revoke)
            sink->revoked++;
        else
            sink->written++;
    }
    return st;
}

cishare_sink_status_t cishare_sink_sync(cishare_sink_t *sink, int64_t now_ms,
                                        uint64_t *markp, char *errstr,
                                        size_t errstr_size)
{
    uint64_t mark = 0;
    cishare_sink_status_t st =
        sink->plugin->sync(sink->ctx, now_ms, &mark, errstr, errstr_size);
    if (markp)
        *markp = mark;
    return st;
}

void cishare_sink_close(cishare_sink_t *sink)
{
    if (!sink)
        return;
    sink->plugin->close(sink->ctx);
    free(sink);
}

/* ------------------------------------------------------------------ */

int cishare_mkdirs(const char *path)
{
    char buf[4096], *p;
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    /* a folder made here is fsynced into its parent, so that files
     * committed in it later cannot vanish with it */
    for (p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) == 0) {
            if (cishare_fsync_parent(buf))
                return -1;
        } else if (errno != EEXIST) {
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0750) == 0)
        return cishare_fsync_parent(buf);
    return errno == EEXIST ? 0 : -1;
}

FILE *cishare_fopen_append(const char *path)
{
    bool existed = access(path, F_OK) == 0;
    FILE *fp = fopen(path, "a");

    if (fp && !existed && cishare_fsync_parent(path)) {
        int e = errno;
        fclose(fp);
        errno = e;
        return NULL;
    }
    return fp;
}

int cishare_fsync_parent(const char *path)
{
    char *copy = strdup(path);
    int fd, r = -1;

    if (!copy)
        return -1;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        r = fsync(fd);
        close(fd);
    }
    free(copy);
    return r;
}

int cishare_atomic_begin(cishare_atomic_t *af, const char *path)
{
    int fd;

    memset(af, 0, sizeof(*af));
    if (!(af->path = strdup(path)) ||
        asprintf(&af->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        free(af->path);
        af->path = af->tmp = NULL;
        errno = ENOMEM;
        return -1;
    }
    fd = open(af->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || !(af->fp = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        cishare_atomic_abort(af);
        errno = e;
        return -1;
    }
    return 0;
}

int cishare_atomic_commit(cishare_atomic_t *af)
{
    int r = -1, e;

    if (fflush(af->fp) == 0 && !ferror(af->fp) && fsync(fileno(af->fp)) == 0)
        r = 0;
    if (fclose(af->fp) != 0)
        r = -1;
    af->fp = NULL;
    if (r == 0 && rename(af->tmp, af->path) == 0 &&
        cishare_fsync_parent(af->path) == 0)
        r = 0;
    else
        r = -1;
    e = errno;
    if (r)
        unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    errno = e;
    return r;
}

void cishare_atomic_abort(cishare_atomic_t *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp)
        unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof(*af));
}

/* ------------------------------------------------------------------ */

struct cishare_sink_state_s {
    char *path;
    FILE *fp;     /* journal, appending */
    json_t *all;  /* subject -> value */
    size_t lines; /* records in the journal */
};

/* Bound on one journal line (a message is bounded well below this). */
#define STATE_LINE_MAX (8u * 1024u * 1024u)

static cishare_err_t state_load(cishare_sink_state_t *s, char *errstr,
                                size_t errstr_size)
{
    FILE *fp = fopen(s->path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    off_t good = 0;

    if (!fp) {
        if (errno == ENOENT)
            return CISHARE_OK;
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot read: %s", s->path, strerror(errno));
    }
    while ((n = getline(&line, &cap, fp)) > 0) {
        json_t *rec, *v;
        const char *subj;

        if (line[n - 1] != '\n' || (size_t)n > STATE_LINE_MAX)
            break; /* torn tail */
        if (!(rec = json_loadb(line, (size_t)n, 0, NULL)))
            break;
        subj = json_string_value(json_object_get(rec, "s"));
        v = json_object_get(rec, "v");
        if (!subj || !v) {
            json_decref(rec);
            break;
        }
        if (json_is_null(v))
            json_object_del(s->all, subj);
        else
            json_object_set(s->all, subj, v);
        json_decref(rec);
        s->lines++;
        good += n;
    }
    free(line);
    fclose(fp);
    /* Cut what did not parse so appends start on a line boundary. */
    if (truncate(s->path, good))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot cut torn tail: %s", s->path,
                               strerror(errno));
    return CISHARE_OK;
}

cishare_err_t cishare_sink_state_open(const char *path,
                                      cishare_sink_state_t **sp, char *errstr,
                                      size_t errstr_size)
{
    cishare_sink_state_t *s;
    cishare_err_t err;

    *sp = NULL;
    if (!(s = calloc(1, sizeof(*s))) || !(s->path = strdup(path)) ||
        !(s->all = json_object())) {
        cishare_sink_state_close(s);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if ((err = state_load(s, errstr, errstr_size))) {
        cishare_sink_state_close(s);
        return err;
    }
    if (!(s->fp = cishare_fopen_append(path))) {
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot open: %s", path, strerror(errno));
        cishare_sink_state_close(s);
        return err;
    }
    *sp = s;
    return CISHARE_OK;
}

cishare_err_t cishare_sink_state_put(cishare_sink_state_t *s,
                                     const char *subject, json_t *value)
{
    json_t *rec =
        json_pack("{s:s,s:O}", "s", subject, "v", value ? value : json_null());
    int r;

    if (!rec)
        return CISHARE_ERR_NOMEM;
    r = json_dumpf(rec, s->fp, JSON_COMPACT);
    json_decref(rec);
    if (r || fputc('\n', s->fp) == EOF)
        return CISHARE_ERR_IO;
    s->lines++;
    if (value)
        json_object_set(s->all, subject, value);
    else
        json_object_del(s->all, subject);
    return CISHARE_OK;
}

json_t *cishare_sink_state_get(const cishare_sink_state_t *s,
                               const char *subject)
{
    return json_object_get(s->all, subject);
}

json_t *cishare_sink_state_all(const cishare_sink_state_t *s)
{
    return s->all;
}

static cishare_err_t state_compact(cishare_sink_state_t *s, char *errstr,
                                   size_t errstr_size)
{
    cishare_atomic_t af;
    const char *subj;
    json_t *v;
    FILE *nfp;

    if (cishare_atomic_begin(&af, s->path))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot compact: %s", s->path,
                               strerror(errno));
    json_object_foreach(s->all, subj, v)
    {
        json_t *rec = json_pack("{s:s,s:O}", "s", subj, "v", v);
        if (!rec || json_dumpf(rec, af.fp, JSON_COMPACT) ||
            fputc('\n', af.fp) == EOF) {
            json_decref(rec);
            cishare_atomic_abort(&af);
            return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                                   "%s: cannot compact", s->path);
        }
        json_decref(rec);
    }
    if (cishare_atomic_commit(&af))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot compact: %s", s->path,
                               strerror(errno));
    if (!(nfp = fopen(s->path, "a")))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot reopen: %s", s->path,
                               strerror(errno));
    fclose(s->fp);
    s->fp = nfp;
    s->lines = json_object_size(s->all);
    return CISHARE_OK;
}

cishare_err_t cishare_sink_state_sync(cishare_sink_state_t *s, char *errstr,
                                      size_t errstr_size)
{
    if (fflush(s->fp) || fsync(fileno(s->fp)))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot write: %s", s->path,
                               strerror(errno));
    if (s->lines > 1024 && s->lines > 2 * json_object_size(s->all))
        return state_compact(s, errstr, errstr_size);
    return CISHARE_OK;
}

void cishare_sink_state_close(cishare_sink_state_t *s)
{
    if (!s)
        return;
    if (s->fp)
        fclose(s->fp);
    json_decref(s->all);
    free(s->path);
    free(s);
}

/* ------------------------------------------------------------------ */

int64_t cishare_sink_json_time(const json_t *v)
{
    int64_t ms = 0;
    const char *s = json_string_value(v);

    if (s && cishare_time_parse(s, &ms))
        return ms;
    return 0;
}

static cishare_sink_status_t view_regen(cishare_view_sink_t *vs, int64_t now_ms,
                                        char *errstr, size_t errstr_size)
{
    vs->next_expiry_ms = INT64_MAX;
    if (vs->regen(vs->ctx, now_ms, errstr, errstr_size) != CISHARE_SINK_OK)
        return CISHARE_SINK_ERROR;
    vs->dirty = false;
    vs->last_view_ms = now_ms;
    return CISHARE_SINK_OK;
}

cishare_sink_status_t cishare_view_sink_open(
    cishare_view_sink_t *vs, const char *name, const cishare_sink_opts_t *opts,
    cishare_view_regen_fn regen, void *ctx, char *errstr, size_t errstr_size)
{
    char *statepath = NULL;
    cishare_err_t err;

    vs->view_interval_ms = opts->view_interval_ms;
    vs->next_expiry_ms = INT64_MAX;
    vs->regen = regen;
    vs->ctx = ctx;
    if (!strcmp(opts->out, "-")) {
        cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                        "the %s sink needs an output folder, not '-'", name);
        return CISHARE_SINK_ERROR;
    }
    if (asprintf(&vs->dir, "%s/%s", opts->out, name) < 0) {
        vs->dir = NULL;
        return CISHARE_SINK_ERROR;
    }
    if (asprintf(&statepath, "%s/state.jsonl", vs->dir) < 0)
        return CISHARE_SINK_ERROR;
    if (cishare_mkdirs(vs->dir)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot create folder: %s", vs->dir,
                        strerror(errno));
        free(statepath);
        return CISHARE_SINK_ERROR;
    }
    err = cishare_sink_state_open(statepath, &vs->state, errstr, errstr_size);
    free(statepath);
    if (err)
        return CISHARE_SINK_ERROR;
    /* The view is made from the state: make it match the state now. */
    return view_regen(vs, cishare_time_now_ms(), errstr, errstr_size);
}

char *cishare_view_sink_key(const char *origin, const char *subject)
{
    char *key;

    if (asprintf(&key, "%s %s", origin ? origin : "", subject) < 0)
        return NULL;
    return key;
}

cishare_sink_status_t cishare_view_sink_record(cishare_view_sink_t *vs,
                                               const char *key, json_t *rec,
                                               const char *what,
                                               const char *subject,
                                               char *errstr, size_t errstr_size)
{
    cishare_sink_status_t st = CISHARE_SINK_OK;

    if (!key || !rec || cishare_sink_state_put(vs->state, key, rec)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s/state.jsonl: cannot record %s'%s'", vs->dir, what,
                        subject);
        st = CISHARE_SINK_ERROR;
    }
    json_decref(rec);
    vs->dirty = true;
    return st;
}

cishare_sink_status_t cishare_view_sink_sync(cishare_view_sink_t *vs,
                                             int64_t now_ms, uint64_t *markp,
                                             char *errstr, size_t errstr_size)
{
    *markp = 0;
    if (cishare_sink_state_sync(vs->state, errstr, errstr_size))
        return CISHARE_SINK_ERROR;
    if ((vs->dirty || now_ms >= vs->next_expiry_ms) &&
        (vs->view_interval_ms <= 0 || now_ms < vs->last_view_ms ||
         now_ms - vs->last_view_ms >= vs->view_interval_ms)) {
        if (view_regen(vs, now_ms, errstr, errstr_size))
            return CISHARE_SINK_ERROR;
        /* A regen may forget expired entries: make that durable too. */
        if (cishare_sink_state_sync(vs->state, errstr, errstr_size))
            return CISHARE_SINK_ERROR;
    }
    return CISHARE_SINK_OK;
}

void cishare_view_sink_close(cishare_view_sink_t *vs)
{
    if (vs->state && vs->dirty) {
        view_regen(vs, cishare_time_now_ms(), NULL, 0);
        cishare_sink_state_sync(vs->state, NULL, 0);
    }
    cishare_sink_state_close(vs->state);
    vs->state = NULL;
    free(vs->dir);
    vs->dir = NULL;
}
