/*
 * cishare - sink registry, wrappers and the helpers the sinks share:
 * time text, atomic file replacement, the subject-keyed state journal,
 * the frame of the sinks that rewrite a view from that journal.
 */
#include "sinks/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const cishare_sink_plugin_t *const plugins[] = {
    &cishare_sink_jsonl,
    &cishare_sink_stix,
    &cishare_sink_blocklist,
    &cishare_sink_misp,
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
        return cishare_err_set(
            CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
            "unknown sink '%s' (jsonl, stix, blocklist, misp)", name);
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

void cishare_sink_flush(cishare_sink_t *sink)
{
    if (sink->plugin->flush)
        sink->plugin->flush(sink->ctx);
}

uint64_t cishare_sink_over_bound(const cishare_sink_t *sink)
{
    return sink->plugin->over_bound ? sink->plugin->over_bound(sink->ctx) : 0;
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
    FILE *fp;            /* journal, appending */
    json_t *all;         /* subject -> value */
    json_t *sizes;       /* subject -> bytes of its journal line */
    json_t *owners;      /* owner -> bytes of its subjects' lines */
    size_t lines;        /* records in the journal */
    uint64_t bytes;      /* length of the journal */
    uint64_t live_bytes; /* bytes of the live subjects' lines */
    uint64_t torn;       /* bytes of a torn last line cut on open */
    bool broken;         /* a write failed: nothing more is appended */
};

/* Bound on one journal line: a message is at most 1 MiB of Avro, which
 * JSON escaping can grow at most sixfold. */
#define STATE_LINE_MAX (16u * 1024u * 1024u)
/* Compact when what the journal holds beyond the live lines is more
 * than half of them plus this, so that forgotten large entries leave the
 * disk soon (rewriting costs at most twice what was appended). */
#define STATE_COMPACT_SLACK (64u * 1024u)

/* The journal line of subject -> value (value NULL: forget), without the
 * newline, malloc()ed; NULL when out of memory. */
static char *state_render(const char *subject, const json_t *value,
                          size_t *lenp)
{
    json_t *rec =
        json_pack("{s:s,s:O}", "s", subject, "v", value ? value : json_null());
    char *line;

    if (!rec)
        return NULL;
    line = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (line)
        *lenp = strlen(line);
    return line;
}

/* The owner of a subject: its key up to the first space (the origin of
 * "<origin> <subject>" keys). */
static size_t owner_len(const char *subject)
{
    const char *sp = strchr(subject, ' ');

    return sp ? (size_t)(sp - subject) : strlen(subject);
}

static uint64_t state_size_of(const cishare_sink_state_t *s,
                              const char *subject)
{
    return (uint64_t)json_integer_value(json_object_get(s->sizes, subject));
}

/* Book subject's line as `bytes` long (0: forgotten) for its owner. */
static void state_account(cishare_sink_state_t *s, const char *subject,
                          uint64_t bytes)
{
    uint64_t old = state_size_of(s, subject), owned;
    size_t olen = owner_len(subject);
    json_t *ov = json_object_getn(s->owners, subject, olen);

    owned = (uint64_t)json_integer_value(ov) - old + bytes;
    s->live_bytes = s->live_bytes - old + bytes;
    if (bytes)
        json_object_set_new(s->sizes, subject, json_integer((json_int_t)bytes));
    else
        json_object_del(s->sizes, subject);
    if (owned)
        json_object_setn_new(s->owners, subject, olen,
                             json_integer((json_int_t)owned));
    else
        json_object_deln(s->owners, subject, olen);
}

/*
 * Load the journal. Every line but the last must be a complete record:
 * records are appended in order and made durable by one fsync per batch,
 * so a crash can only tear the last line (no newline yet). That one is
 * cut and counted (s->torn); any other line that does not load stops the
 * open with its file and line named, and nothing is cut: cutting it would
 * lose every record after it, other origins' and tombstones included.
 * Strings may hold U+0000 (the codec lets it through; JSON_ALLOW_NUL).
 */
static cishare_err_t state_load(cishare_sink_state_t *s, char *errstr,
                                size_t errstr_size)
{
    FILE *fp = fopen(s->path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    uint64_t good = 0;
    cishare_err_t err = CISHARE_OK;

    if (!fp) {
        if (errno == ENOENT)
            return CISHARE_OK;
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot read: %s", s->path, strerror(errno));
    }
    while ((n = getline(&line, &cap, fp)) > 0) {
        json_t *rec, *v;
        json_error_t jerr;
        const char *subj;

        lineno++;
        if (line[n - 1] != '\n') {
            s->torn = (uint64_t)n; /* the last line: never completed */
            break;
        }
        if ((size_t)n > STATE_LINE_MAX) {
            err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                  "%s: line %zu is damaged (%zd bytes, more "
                                  "than any record); not loading the file, "
                                  "nor cutting it there (that would lose "
                                  "every later line): repair or remove that "
                                  "line",
                                  s->path, lineno, n);
            break;
        }
        rec = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);
        subj = json_string_value(json_object_get(rec, "s"));
        v = json_object_get(rec, "v");
        if (!rec || !subj || !v) {
            err = cishare_err_set(
                CISHARE_ERR_VALIDATION, errstr, errstr_size,
                "%s: line %zu is damaged (%s); not loading the file, nor "
                "cutting it there (that would lose every later line): "
                "repair or remove that line",
                s->path, lineno,
                rec ? "not a {\"s\",\"v\"} record" : jerr.text);
            json_decref(rec);
            break;
        }
        if (json_is_null(v)) {
            json_object_del(s->all, subj);
            state_account(s, subj, 0);
        } else {
            json_object_set(s->all, subj, v);
            state_account(s, subj, (uint64_t)n);
        }
        json_decref(rec);
        s->lines++;
        good += (uint64_t)n;
    }
    if (!err && n < 0 && ferror(fp))
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot read: %s", s->path, strerror(errno));
    free(line);
    fclose(fp);
    if (err)
        return err;
    s->bytes = good;
    /* Cut the torn line so appends start on a line boundary. */
    if (s->torn && truncate(s->path, (off_t)good))
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
        !(s->all = json_object()) || !(s->sizes = json_object()) ||
        !(s->owners = json_object())) {
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

cishare_err_t cishare_sink_state_put_bounded(cishare_sink_state_t *s,
                                             const char *subject, json_t *value,
                                             uint64_t max_owner_bytes,
                                             uint64_t *line_bytesp)
{
    size_t len = 0;
    char *line;
    uint64_t old, owned;

    if (line_bytesp)
        *line_bytesp = 0;
    if (s->broken)
        return CISHARE_ERR_IO;
    if (!(line = state_render(subject, value, &len)))
        return CISHARE_ERR_NOMEM;
    if (line_bytesp)
        *line_bytesp = len + 1;
    old = state_size_of(s, subject);
    owned = cishare_sink_state_owner_bytes(s, subject, owner_len(subject));
    if (value && max_owner_bytes && len + 1 > old &&
        owned - old + len + 1 > max_owner_bytes) {
        free(line);
        return CISHARE_ERR_TOO_LARGE;
    }
    if (fwrite(line, 1, len, s->fp) != len || fputc('\n', s->fp) == EOF) {
        free(line);
        s->broken = true; /* a partial line may be out: append no more */
        return CISHARE_ERR_IO;
    }
    free(line);
    s->lines++;
    s->bytes += len + 1;
    if (value)
        json_object_set(s->all, subject, value);
    else
        json_object_del(s->all, subject);
    state_account(s, subject, value ? len + 1 : 0);
    return CISHARE_OK;
}

cishare_err_t cishare_sink_state_put(cishare_sink_state_t *s,
                                     const char *subject, json_t *value)
{
    return cishare_sink_state_put_bounded(s, subject, value, 0, NULL);
}

uint64_t cishare_sink_state_owner_bytes(const cishare_sink_state_t *s,
                                        const char *owner, size_t owner_len)
{
    return (uint64_t)json_integer_value(
        json_object_getn(s->owners, owner, owner_len));
}

uint64_t cishare_sink_state_torn_bytes(const cishare_sink_state_t *s)
{
    return s->torn;
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
    uint64_t bytes = 0;

    if (cishare_atomic_begin(&af, s->path))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot compact: %s", s->path,
                               strerror(errno));
    json_object_foreach(s->all, subj, v)
    {
        size_t len = 0;
        char *line = state_render(subj, v, &len);
        if (!line || fwrite(line, 1, len, af.fp) != len ||
            fputc('\n', af.fp) == EOF) {
            free(line);
            cishare_atomic_abort(&af);
            return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                                   "%s: cannot compact", s->path);
        }
        free(line);
        bytes += len + 1;
    }
    if (cishare_atomic_commit(&af))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot compact: %s", s->path,
                               strerror(errno));
    if (!(nfp = fopen(s->path, "a"))) {
        s->broken = true; /* s->fp is the replaced file now */
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot reopen: %s", s->path,
                               strerror(errno));
    }
    fclose(s->fp);
    s->fp = nfp;
    s->lines = json_object_size(s->all);
    s->bytes = bytes;
    return CISHARE_OK;
}

cishare_err_t cishare_sink_state_sync(cishare_sink_state_t *s, char *errstr,
                                      size_t errstr_size)
{
    if (s->broken)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: an earlier write failed", s->path);
    if (fflush(s->fp) || fsync(fileno(s->fp))) {
        s->broken = true;
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot write: %s", s->path,
                               strerror(errno));
    }
    if ((s->lines > 1024 && s->lines > 2 * json_object_size(s->all)) ||
        s->bytes - s->live_bytes > s->live_bytes / 2 + STATE_COMPACT_SLACK)
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
    json_decref(s->sizes);
    json_decref(s->owners);
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

static void view_log(const cishare_view_sink_t *vs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void view_log(const cishare_view_sink_t *vs, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!vs->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    vs->log(vs->log_opaque, line);
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

/* Move the journal of an older layout, <dir>/state.jsonl, to statepath
 * (outside the folder a firewall or web server is pointed at), durably.
 * Nothing to do when there is none; an error when both exist (which one
 * is current cannot be told: the operator removes one). */
static cishare_sink_status_t view_state_migrate(cishare_view_sink_t *vs,
                                                const char *statepath,
                                                char *errstr,
                                                size_t errstr_size)
{
    char *old = NULL;
    struct stat st;
    cishare_sink_status_t ret = CISHARE_SINK_ERROR;

    if (asprintf(&old, "%s/state.jsonl", vs->dir) < 0)
        return CISHARE_SINK_ERROR;
    if (lstat(old, &st)) {
        ret = CISHARE_SINK_OK; /* nothing of the older layout */
    } else if (!lstat(statepath, &st)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s and %s both exist: the older layout's journal "
                        "cannot be moved over the current one; remove the "
                        "one that is not current",
                        old, statepath);
    } else if (rename(old, statepath) || cishare_fsync_parent(statepath) ||
               cishare_fsync_parent(old)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "cannot move %s to %s: %s", old, statepath,
                        strerror(errno));
    } else {
        view_log(vs, "moved %s to %s (state is kept out of the output folder)",
                 old, statepath);
        ret = CISHARE_SINK_OK;
    }
    free(old);
    return ret;
}

cishare_sink_status_t
cishare_view_sink_open(cishare_view_sink_t *vs, const char *name,
                       const cishare_sink_opts_t *opts, const char *bound_key,
                       cishare_view_regen_fn regen, void *ctx, char *errstr,
                       size_t errstr_size)
{
    char *statepath = NULL, *statedir = NULL;
    cishare_err_t err;

    if ((vs->bound_key = bound_key))
        vs->max_origin_bytes =
            opts->conf ? (uint64_t)cishare_config_get_int(opts->conf, bound_key)
                       : CISHARE_VIEW_SINK_BOUND_DEFAULT;
    vs->view_interval_ms = opts->view_interval_ms;
    vs->next_expiry_ms = INT64_MAX;
    vs->regen = regen;
    vs->ctx = ctx;
    vs->log = opts->log;
    vs->log_opaque = opts->log_opaque;
    if (!(vs->over_by_origin = json_object())) {
        cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                        "out of memory");
        return CISHARE_SINK_ERROR;
    }
    if (!strcmp(opts->out, "-")) {
        cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                        "the %s sink needs an output folder, not '-'", name);
        return CISHARE_SINK_ERROR;
    }
    if (asprintf(&vs->dir, "%s/%s", opts->out, name) < 0) {
        vs->dir = NULL;
        return CISHARE_SINK_ERROR;
    }
    if (asprintf(&statedir, "%s/.state", opts->out) < 0)
        return CISHARE_SINK_ERROR;
    if (asprintf(&statepath, "%s/%s.jsonl", statedir, name) < 0) {
        free(statedir);
        return CISHARE_SINK_ERROR;
    }
    vs->state_path = statepath;
    if (cishare_mkdirs(vs->dir) || cishare_mkdirs(statedir)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s or %s: cannot create folder: %s", vs->dir, statedir,
                        strerror(errno));
        free(statedir);
        return CISHARE_SINK_ERROR;
    }
    free(statedir);
    if (view_state_migrate(vs, statepath, errstr, errstr_size))
        return CISHARE_SINK_ERROR;
    err = cishare_sink_state_open(statepath, &vs->state, errstr, errstr_size);
    if (!err && cishare_sink_state_torn_bytes(vs->state))
        view_log(vs,
                 "%s: cut %llu bytes of a torn last line (a write the "
                 "crash interrupted; its batch was never committed and is "
                 "read again)",
                 statepath,
                 (unsigned long long)cishare_sink_state_torn_bytes(vs->state));
    if (err)
        return CISHARE_SINK_ERROR;
    /* The view is made from the state: make it match the state now, and
     * make durable what it forgot (expired entries). */
    if (view_regen(vs, cishare_time_now_ms(), errstr, errstr_size) ||
        cishare_sink_state_sync(vs->state, errstr, errstr_size))
        return CISHARE_SINK_ERROR;
    return CISHARE_SINK_OK;
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
    uint64_t line_bytes = 0;
    cishare_err_t err = CISHARE_ERR_NOMEM;

    if (key && rec)
        err = cishare_sink_state_put_bounded(vs->state, key, rec,
                                             vs->max_origin_bytes, &line_bytes);
    if (err == CISHARE_ERR_TOO_LARGE) {
        size_t olen = strcspn(key, " ");
        uint64_t held, n;

        /* The origin's earlier version of key is superseded: forget it
         * rather than show it as current. */
        if (cishare_sink_state_get(vs->state, key))
            err = cishare_sink_state_put(vs->state, key, NULL);
        else
            err = CISHARE_OK;
        held = cishare_sink_state_owner_bytes(vs->state, key, olen);
        n = (uint64_t)json_integer_value(
                json_object_getn(vs->over_by_origin, key, olen)) +
            1;
        json_object_setn_new(vs->over_by_origin, key, olen,
                             json_integer((json_int_t)n));
        vs->over_bound++;
        if (!(n & (n - 1))) /* 1, 2, 4, 8, ...: count, never flood */
            view_log(vs,
                     "%s: origin %.*s is at its bound (%s = "
                     "%llu bytes, %llu held): %s'%.200s' (%llu bytes) left "
                     "out; %llu left out of %.*s so far",
                     vs->state_path, (int)olen, key,
                     vs->bound_key ? vs->bound_key : "bound",
                     (unsigned long long)vs->max_origin_bytes,
                     (unsigned long long)held, what, subject,
                     (unsigned long long)line_bytes, (unsigned long long)n,
                     (int)olen, key);
    }
    if (err) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot record %s'%s'", vs->state_path, what,
                        subject);
        st = CISHARE_SINK_ERROR;
    }
    json_decref(rec);
    vs->dirty = true;
    return st;
}

cishare_sink_status_t
cishare_view_sink_put_latest(cishare_view_sink_t *vs, const char *key,
                             const char *subject, const json_t *msg,
                             char *errstr, size_t errstr_size)
{
    const json_t *old = cishare_sink_state_get(vs->state, key);
    int64_t mod = cishare_sink_json_time(
        json_object_get(json_object_get(msg, "payload"), "modified"));

    if (old && (json_is_true(json_object_get(old, "revoked")) ||
                cishare_sink_json_time(json_object_get(
                    json_object_get(json_object_get(old, "m"), "payload"),
                    "modified")) > mod))
        return CISHARE_SINK_OK;
    return cishare_view_sink_record(
        vs, key, json_pack("{s:s,s:O}", "s", subject, "m", msg), "", subject,
        errstr, errstr_size);
}

cishare_sink_status_t cishare_view_sink_tombstone(
    cishare_view_sink_t *vs, const char *origin, const char *subject,
    int64_t (*expiry)(const json_t *msg), char *errstr, size_t errstr_size)
{
    char *key = cishare_view_sink_key(origin, subject);
    const json_t *old, *m;
    json_t *tomb;
    int64_t x;
    cishare_sink_status_t st;

    if (!key)
        return CISHARE_SINK_ERROR;
    /* The message itself is forgotten now; the tombstone outlives it
     * only as long as a copy of it can still be delivered. */
    old = cishare_sink_state_get(vs->state, key);
    m = json_object_get(old, "m");
    x = expiry ? expiry(m)
               : cishare_sink_json_time(json_object_get(m, "expires"));
    if (!x)
        x = json_integer_value(json_object_get(old, "x"));
    tomb = json_pack("{s:s,s:b}", "s", subject, "revoked", 1);
    if (tomb && x)
        json_object_set_new(tomb, "x", json_integer((json_int_t)x));
    st = cishare_view_sink_record(vs, key, tomb, "revocation of ", subject,
                                  errstr, errstr_size);
    free(key);
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
    json_decref(vs->over_by_origin);
    vs->over_by_origin = NULL;
    free(vs->dir);
    vs->dir = NULL;
    free(vs->state_path);
    vs->state_path = NULL;
}
