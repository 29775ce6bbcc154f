/*
 * cishare - JSON Lines sink: <out>/feed.jsonl, or stdout for out "-".
 *
 * One delivered message per line, envelope plus payload, keys sorted.
 * Append-only: a revocation is appended as its own message line (a delete
 * event); readers drop the revoked subject of the revocation's origin only
 * (payload.revokes published by the same "origin": another participant
 * cannot withdraw it, as the STIX and blocklist sinks key their state by
 * origin and subject). The mark is the file length
 * after each sync: on open the file is cut back to the committed mark, so
 * lines of a batch that was synced but never committed (crash between
 * sink sync and dedup commit) are not left behind to be written twice.
 * A file shorter than the mark (rotated away while stopped) is kept.
 */
#include "sinks/sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct jsonl_s {
    FILE *fp;
    bool is_stdout;
    char *path;
} jsonl_t;

static void jsonl_close(void *ctx)
{
    jsonl_t *j = ctx;

    if (!j)
        return;
    if (j->fp && !j->is_stdout)
        fclose(j->fp);
    else if (j->fp)
        fflush(j->fp);
    free(j->path);
    free(j);
}

static cishare_sink_status_t jsonl_open(const cishare_sink_opts_t *opts,
                                        void **ctxp, char *errstr,
                                        size_t errstr_size)
{
    jsonl_t *j = calloc(1, sizeof(*j));
    struct stat st;

    if (!j) {
        cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                        "out of memory");
        return CISHARE_SINK_ERROR;
    }
    if (!strcmp(opts->out, "-")) {
        j->fp = stdout;
        j->is_stdout = true;
        *ctxp = j;
        return CISHARE_SINK_OK;
    }
    if (cishare_mkdirs(opts->out) ||
        asprintf(&j->path, "%s/feed.jsonl", opts->out) < 0) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot create folder: %s", opts->out,
                        strerror(errno));
        j->path = NULL;
        jsonl_close(j);
        return CISHARE_SINK_ERROR;
    }
    if (opts->has_mark && stat(j->path, &st) == 0 &&
        (uint64_t)st.st_size > opts->mark && truncate(j->path, opts->mark)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot cut uncommitted lines: %s", j->path,
                        strerror(errno));
        jsonl_close(j);
        return CISHARE_SINK_ERROR;
    }
    if (!(j->fp = cishare_fopen_append(j->path))) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot open: %s", j->path, strerror(errno));
        jsonl_close(j);
        return CISHARE_SINK_ERROR;
    }
    *ctxp = j;
    return CISHARE_SINK_OK;
}

static cishare_sink_status_t jsonl_line(jsonl_t *j, const json_t *msg,
                                        char *errstr, size_t errstr_size)
{
    if (json_dumpf(msg, j->fp, JSON_COMPACT | JSON_SORT_KEYS) ||
        fputc('\n', j->fp) == EOF) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: write: %s",
                        j->path ? j->path : "stdout", strerror(errno));
        return CISHARE_SINK_ERROR;
    }
    return CISHARE_SINK_OK;
}

/* The feed's fast path: the line is already rendered; a revocation is
 * its own line, as jsonl_revoke() writes it. */
static cishare_sink_status_t jsonl_write_line(void *ctx, const char *line,
                                              size_t len, const char *subject,
                                              bool revoke, char *errstr,
                                              size_t errstr_size)
{
    jsonl_t *j = ctx;

    (void)subject;
    (void)revoke;
    if (fwrite(line, 1, len, j->fp) != len || putc('\n', j->fp) == EOF) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: write: %s",
                        j->path ? j->path : "stdout", strerror(errno));
        return CISHARE_SINK_ERROR;
    }
    return CISHARE_SINK_OK;
}

static cishare_sink_status_t jsonl_write(void *ctx, const json_t *msg,
                                         const char *subject, char *errstr,
                                         size_t errstr_size)
{
    (void)subject;
    return jsonl_line(ctx, msg, errstr, errstr_size);
}

static cishare_sink_status_t jsonl_revoke(void *ctx, const char *subject,
                                          const json_t *rev, char *errstr,
                                          size_t errstr_size)
{
    cishare_sink_status_t st;
    json_t *synth;

    if (rev)
        return jsonl_line(ctx, rev, errstr, errstr_size);
    /* A revocation decided locally: write a minimal delete event. */
    if (!(synth = json_pack("{s:s,s:{s:s}}", "type", "revocation", "payload",
                            "revokes", subject)))
        return CISHARE_SINK_ERROR;
    st = jsonl_line(ctx, synth, errstr, errstr_size);
    json_decref(synth);
    return st;
}

/* A pipe's reader sees each batch's lines as they are delivered; a file
 * is written out at sync (its readers wait for the commit anyway). */
static void jsonl_flush(void *ctx)
{
    jsonl_t *j = ctx;

    if (j->is_stdout)
        fflush(j->fp);
}

static cishare_sink_status_t jsonl_sync(void *ctx, int64_t now_ms,
                                        uint64_t *markp, char *errstr,
                                        size_t errstr_size)
{
    jsonl_t *j = ctx;
    long pos;

    (void)now_ms;
    if (fflush(j->fp)) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: write: %s",
                        j->path ? j->path : "stdout", strerror(errno));
        return CISHARE_SINK_ERROR;
    }
    *markp = 0;
    if (j->is_stdout)
        return CISHARE_SINK_OK; /* a pipe: nothing to make durable */
    if (fsync(fileno(j->fp)) || (pos = ftell(j->fp)) < 0) {
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: fsync: %s",
                        j->path, strerror(errno));
        return CISHARE_SINK_ERROR;
    }
    *markp = (uint64_t)pos;
    return CISHARE_SINK_OK;
}

const cishare_sink_plugin_t cishare_sink_jsonl = {
    .name = "jsonl",
    .description = "JSON Lines: one message per line (feed.jsonl or stdout)",
    .open = jsonl_open,
    .write = jsonl_write,
    .revoke = jsonl_revoke,
    .write_line = jsonl_write_line,
    .sync = jsonl_sync,
    .flush = jsonl_flush,
    .close = jsonl_close,
};
