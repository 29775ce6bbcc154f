/*
 * cishare publish --follow: records read from standard input as they
 * arrive, one a line, each answered on stdout once its outcome is known
 * (pubstream.h); and the counting and summary shared with misp-bridge.
 */
#include "publish_cli.h"
#include "pubstream.h"

#include "cishare/cli.h"
#include "cishare/metrics.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A longer line is refused (and read to its end): an observable or a
 * record on one line is far smaller. */
#define FOLLOW_MAX_LINE (1024u * 1024u)

/* ------------------------------------------------------ counts, summary */

static const char *const status_name[] = {"ok", "rejected", "failed", "skipped",
                                          "mark"};

void cishare_stream_stats_init(cishare_stream_stats_t *st,
                               cishare_metrics_t *metrics)
{
    memset(st, 0, sizeof(*st));
    st->metrics = metrics;
}

void cishare_stream_stats_clear(cishare_stream_stats_t *st)
{
    size_t i;

    for (i = 0; i < st->nreasons; i++)
        free(st->reasons[i].reason);
    memset(st, 0, sizeof(*st));
}

void cishare_stream_count(cishare_stream_stats_t *st,
                          const cishare_pubstream_outcome_t *o)
{
    static const char *const metric[] = {
        "cishare_published_total", "cishare_rejected_total",
        "cishare_failed_total", "cishare_skipped_total"};
    static const char *const help[] = {
        "Records published and acknowledged by the brokers",
        "Records refused (bad input or a sharing rule), by reason",
        "Records not delivered (or not surely), by reason",
        "Inputs with nothing to share, by reason"};
    size_t i;

    switch (o->status) {
    case CISHARE_PUBSTREAM_OK:
        st->published++;
        cishare_metrics_add(st->metrics, metric[0], help[0], NULL, 1);
        return;
    case CISHARE_PUBSTREAM_REJECTED:
        st->rejected++;
        break;
    case CISHARE_PUBSTREAM_FAILED:
        st->failed++;
        break;
    case CISHARE_PUBSTREAM_SKIPPED:
        st->skipped++;
        break;
    default:
        return;
    }
    {
        const char *labels[] = {"reason", o->reason, NULL};
        cishare_metrics_add(st->metrics, metric[o->status], help[o->status],
                            labels, 1);
    }
    for (i = 0; i < st->nreasons; i++) {
        if (st->reasons[i].status == o->status &&
            !strcmp(st->reasons[i].reason, o->reason)) {
            st->reasons[i].cnt++;
            return;
        }
    }
    if (st->nreasons < CISHARE_STREAM_MAX_REASONS &&
        (st->reasons[st->nreasons].reason = strdup(o->reason))) {
        st->reasons[st->nreasons].status = o->status;
        st->reasons[st->nreasons++].cnt = 1;
    }
}

int cishare_stream_summary(const cishare_stream_stats_t *st, const char *what)
{
    char buf[2048];
    size_t i, off = 0;
    int s;

    buf[0] = '\0';
    for (s = CISHARE_PUBSTREAM_REJECTED; s <= CISHARE_PUBSTREAM_SKIPPED; s++)
        for (i = 0; i < st->nreasons && off < sizeof(buf); i++)
            if ((int)st->reasons[i].status == s)
                off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                        "%s%s %s: %zu", off ? ", " : "",
                                        status_name[s], st->reasons[i].reason,
                                        st->reasons[i].cnt);
    cishare_cli_info("%s%spublished %zu, rejected %zu, failed %zu, skipped "
                     "%zu%s%s%s",
                     what ? what : "", what ? ": " : "", st->published,
                     st->rejected, st->failed, st->skipped, off ? " (" : "",
                     buf, off ? ")" : "");
    return st->rejected || st->failed ? CISHARE_EXIT_FAIL : CISHARE_EXIT_OK;
}

/* ---------------------------------------------------------------- follow */

typedef struct follow_s {
    cishare_stream_stats_t st;
    bool dry_run;
} follow_t;

/* One answer line per record, flushed: scripts wait for it. */
static void follow_answer(void *opaque, const cishare_pubstream_outcome_t *o)
{
    follow_t *f = opaque;

    cishare_stream_count(&f->st, o);
    if (o->status == CISHARE_PUBSTREAM_OK)
        printf("ok %llu %s %s %s\n", (unsigned long long)o->tag,
               o->msg_id && *o->msg_id ? o->msg_id : "-", o->subject, o->tlp);
    else if (o->status != CISHARE_PUBSTREAM_MARK)
        printf("%s %llu %s: %s\n", status_name[o->status],
               (unsigned long long)o->tag, o->reason, o->detail);
    if (o->status == CISHARE_PUBSTREAM_REJECTED ||
        o->status == CISHARE_PUBSTREAM_FAILED) {
        /* JSON logs: the reason of the counters above */
        cishare_log_fields_t lf = {0};
        lf.msg_id = o->msg_id && *o->msg_id ? o->msg_id : NULL;
        lf.reason = o->reason;
        cishare_cli_error_with(&lf, "%s: %s", o->record, o->detail);
    }
    fflush(stdout);
}

typedef struct linebuf_s {
    char *buf;
    size_t len, size;
    bool overlong; /* the current line passed FOLLOW_MAX_LINE: dropped */
} linebuf_t;

/* One input line (without its newline) into the stream. */
static cishare_err_t follow_line(cishare_pubstream_t *ps,
                                 cishare_import_format_t fmt, uint64_t lineno,
                                 const char *line, size_t len,
                                 char **csv_header)
{
    cishare_import_result_t imp;
    cishare_import_format_t lf = fmt;
    char name[64], errstr[1024], *joined = NULL;
    const char *p = line;
    cishare_err_t err;

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
                   line[len - 1] == '\t'))
        len--;
    while (p < line + len && (*p == ' ' || *p == '\t'))
        p++;
    if (p == line + len)
        return CISHARE_OK; /* a blank line: nothing to answer */
    snprintf(name, sizeof(name), "stdin:%llu", (unsigned long long)lineno);
    if (fmt == CISHARE_IMPORT_CSV) {
        size_t hl;
        if (!*csv_header) {
            /* the header: named columns for every later row */
            if (!(*csv_header = strndup(line, len)))
                return CISHARE_ERR_NOMEM;
            return CISHARE_OK;
        }
        hl = strlen(*csv_header);
        if (!(joined = malloc(hl + len + 2)))
            return CISHARE_ERR_NOMEM;
        memcpy(joined, *csv_header, hl);
        joined[hl] = '\n';
        memcpy(joined + hl + 1, line, len);
        joined[hl + 1 + len] = '\0';
        line = joined;
        len += hl + 1;
    } else if (fmt == CISHARE_IMPORT_AUTO) {
        /* JSON (a cishare record, a STIX object, a MISP event) or
         * observables; never CSV, which needs its header (--format csv) */
        lf = *p == '{' || *p == '[' ? CISHARE_IMPORT_AUTO : CISHARE_IMPORT_TEXT;
    }
    cishare_import_result_init(&imp);
    err = cishare_import_buf(name, line, len, lf, &imp, errstr, sizeof(errstr));
    free(joined);
    if (err == CISHARE_ERR_NOMEM) {
        cishare_import_result_clear(&imp);
        return err;
    }
    if (err) { /* the whole line is unreadable: rejected, the stream goes on */
        size_t nl = strlen(name);
        const char *d = errstr;
        if (!strncmp(d, name, nl) && !strncmp(d + nl, ": ", 2))
            d += nl + 2; /* the answer names the line already */
        return cishare_pubstream_add_issue(
            ps, lineno, CISHARE_PUBSTREAM_REJECTED, name,
            err == CISHARE_ERR_PARSE ? "invalid input" : "unrecognised input",
            d);
    }
    if (!imp.cnt && !imp.rejected_cnt && !imp.skipped_cnt) {
        cishare_import_result_clear(&imp);
        return cishare_pubstream_add_issue(
            ps, lineno, CISHARE_PUBSTREAM_SKIPPED, name, "no observable",
            "nothing to publish in the line");
    }
    return cishare_pubstream_add_import(ps, lineno, &imp);
}

int cishare_publish_follow(const cishare_config_t *conf,
                           const cishare_follow_opts_t *fo)
{
    cishare_publisher_t *pub = NULL;
    cishare_pubstream_t *ps = NULL;
    cishare_metrics_t *metrics = NULL;
    follow_t f;
    linebuf_t lb = {0};
    char *csv_header = NULL;
    uint64_t lineno = 0;
    bool eof = false;
    int rc, next = -1;
    const char *mt = cishare_config_get_kafka(conf, "message.timeout.ms");

    memset(&f, 0, sizeof(f));
    if ((rc = cishare_cli_metrics_start("publish", fo->metrics, "publish",
                                        &metrics)) != CISHARE_EXIT_OK)
        return rc;
    cishare_stream_stats_init(&f.st, metrics);
    if ((rc = cishare_publish_open(conf, fo->dry_run, &pub)) != CISHARE_EXIT_OK)
        goto out;
    if (!(ps = cishare_pubstream_new(pub, fo->tlp, fo->audience, fo->batch,
                                     fo->max_delay_ms)) ||
        !(lb.buf = malloc(lb.size = 65536)))
        goto nomem;
    cishare_cli_info("following standard input (%s), answering each record "
                     "within %d ms of its arrival plus the brokers' "
                     "acknowledgement",
                     cishare_import_format_name(fo->fmt), fo->max_delay_ms);

    while (!eof && !cishare_cli_stop) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int n, timeout = next < 0 || next > 500 ? 500 : next;
        ssize_t got;
        char *nl;

        n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR) {
            cishare_cli_error("standard input: %s", strerror(errno));
            break;
        }
        if (n > 0) {
            if (lb.len == lb.size) {
                char *nb = realloc(lb.buf, lb.size * 2);
                if (!nb)
                    goto nomem;
                lb.buf = nb;
                lb.size *= 2;
            }
            got = read(STDIN_FILENO, lb.buf + lb.len, lb.size - lb.len);
            if (got < 0 && errno != EINTR && errno != EAGAIN) {
                cishare_cli_error("standard input: %s", strerror(errno));
                break;
            }
            if (got == 0) {
                eof = true;
                if (lb.len) /* a last line without its newline */
                    lb.buf[lb.len++] = '\n';
            }
            if (got > 0)
                lb.len += (size_t)got;
            /* every complete line */
            while ((nl = memchr(lb.buf, '\n', lb.len))) {
                size_t ll = (size_t)(nl - lb.buf);
                lineno++;
                if (lb.overlong) {
                    lb.overlong = false;
                    if (cishare_pubstream_add_issue(
                            ps, lineno, CISHARE_PUBSTREAM_REJECTED, "stdin",
                            "line too long", "longer than 1 MiB"))
                        goto nomem;
                } else if (follow_line(ps, fo->fmt, lineno, lb.buf, ll,
                                       &csv_header)) {
                    goto nomem;
                }
                memmove(lb.buf, nl + 1, lb.len - ll - 1);
                lb.len -= ll + 1;
            }
            if (lb.len > FOLLOW_MAX_LINE) {
                lb.overlong = true; /* dropped up to its newline */
                lb.len = 0;
            }
        }
        if (cishare_pubstream_run(ps, false, follow_answer, &f, &next))
            goto nomem;
    }
    if (cishare_cli_stop)
        cishare_cli_info("stopping: publishing what was read");
    if (cishare_pubstream_finish(ps, (mt ? atoi(mt) : 30000) + 5000,
                                 follow_answer, &f))
        goto nomem;
    rc = cishare_stream_summary(&f.st,
                                fo->dry_run ? "dry run, nothing sent" : NULL);
    goto out;
nomem:
    cishare_cli_error("out of memory");
    rc = CISHARE_EXIT_FAIL;
out:
    cishare_pubstream_destroy(ps);
    cishare_publisher_destroy(pub);
    cishare_metrics_stop(metrics);
    cishare_stream_stats_clear(&f.st);
    free(lb.buf);
    free(csv_header);
    return rc;
}
