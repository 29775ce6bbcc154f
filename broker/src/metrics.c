/*
 * cishare - Prometheus metrics registry and exporter (metrics.h).
 *
 * Small by design: a daemon has tens of series (a few per reason and one
 * per assigned partition), so families and series are arrays searched
 * linearly under one mutex; a scrape renders them all into one buffer.
 */
#include "cishare/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series_s {
    char *labels; /* rendered: k="v",k2="v2" ("" for none) */
    double value;
    int gen;
} series_t;

typedef struct family_s {
    char *name, *help;
    int kind; /* cishare_metric_kind_t, or KIND_HISTOGRAM */
    series_t *series;
    size_t n, cap;
    int gen; /* current generation (cishare_metrics_generation) */
    /* histogram */
    double *bounds;
    uint64_t *counts; /* per bound, not cumulative; [nb] = +Inf */
    size_t nb;
    double sum;
    uint64_t count;
} family_t;

#define KIND_HISTOGRAM 2

struct cishare_metrics_s {
    pthread_mutex_t lock;
    family_t *fams;
    size_t n, cap;
    struct MHD_Daemon *d;
    char addr[80];
};

/* ---- addresses ---- */

cishare_err_t cishare_listen_parse(const char *text,
                                   struct sockaddr_storage *ss, socklen_t *lenp,
                                   char *errstr, size_t errstr_size)
{
    char host[64];
    const char *colon, *port_s;
    char *end;
    long port;
    size_t hl;

    memset(ss, 0, sizeof(*ss));
    if (!text || !*text)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "listen address is empty (want ADDR:PORT)");
    if (text[0] == '[') {
        const char *rb = strchr(text, ']');

        if (!rb || rb[1] != ':')
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "listen address '%s': want [IPv6]:PORT",
                                   text);
        hl = (size_t)(rb - text - 1);
        if (hl >= sizeof(host))
            hl = sizeof(host) - 1;
        memcpy(host, text + 1, hl);
        host[hl] = '\0';
        port_s = rb + 2;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "listen address '%s': want ADDR:PORT or "
                                   ":PORT",
                                   text);
        hl = (size_t)(colon - text);
        if (hl >= sizeof(host))
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "listen address '%s': address too long",
                                   text);
        memcpy(host, text, hl);
        host[hl] = '\0';
        if (!hl)
            strcpy(host, "127.0.0.1");
        port_s = colon + 1;
    }
    errno = 0;
    port = strtol(port_s, &end, 10);
    if (!*port_s || *end || errno || port < 0 || port > 65535)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "listen address '%s': port '%s' is not 0..65535",
                               text, port_s);
    if (strchr(host, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "listen address '%s': '%s' is not a "
                                   "numeric IPv6 address",
                                   text, host);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *lenp = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "listen address '%s': '%s' is not a "
                                   "numeric IPv4 address",
                                   text, host);
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *lenp = sizeof(*s4);
    }
    return CISHARE_OK;
}

int cishare_listen_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

        return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    }
    return 0;
}

/* ---- registry ---- */

static family_t *family(cishare_metrics_t *m, const char *name,
                        const char *help, int kind)
{
    size_t i;
    family_t *f;

    for (i = 0; i < m->n; i++)
        if (!strcmp(m->fams[i].name, name))
            return m->fams[i].kind == kind ? &m->fams[i] : NULL;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        family_t *nf = realloc(m->fams, cap * sizeof(*nf));

        if (!nf)
            return NULL;
        m->fams = nf;
        m->cap = cap;
    }
    f = &m->fams[m->n];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    f->help = strdup(help ? help : name);
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        return NULL;
    }
    f->kind = kind;
    m->n++;
    return f;
}

/* k="v",... with \, " and newline escaped; malloc()ed or NULL. */
static char *render_labels(const char *const *labels)
{
    size_t cap = 64, len = 0, i;
    char *s = malloc(cap);

    if (!s)
        return NULL;
    s[0] = '\0';
    for (i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        const char *v = labels[i + 1];
        size_t need = strlen(labels[i]) + 2 * strlen(v) + 6;

        if (len + need >= cap) {
            char *ns;

            cap = (len + need) * 2;
            if (!(ns = realloc(s, cap))) {
                free(s);
                return NULL;
            }
            s = ns;
        }
        len += (size_t)sprintf(s + len, "%s%s=\"", i ? "," : "", labels[i]);
        for (; *v; v++) {
            if (*v == '\\' || *v == '"') {
                s[len++] = '\\';
                s[len++] = *v;
            } else if (*v == '\n') {
                s[len++] = '\\';
                s[len++] = 'n';
            } else
                s[len++] = *v;
        }
        s[len++] = '"';
        s[len] = '\0';
    }
    return s;
}

static series_t *series(family_t *f, const char *const *labels)
{
    char *l = render_labels(labels);
    size_t i;

    if (!l)
        return NULL;
    for (i = 0; i < f->n; i++)
        if (!strcmp(f->series[i].labels, l)) {
            free(l);
            return &f->series[i];
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        series_t *ns = realloc(f->series, cap * sizeof(*ns));

        if (!ns) {
            free(l);
            return NULL;
        }
        f->series = ns;
        f->cap = cap;
    }
    f->series[f->n] = (series_t){l, 0, f->gen};
    return &f->series[f->n++];
}

static void update(cishare_metrics_t *m, int kind, const char *name,
                   const char *help, const char *const *labels, double v,
                   int add)
{
    family_t *f;
    series_t *s;

    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    if ((f = family(m, name, help, kind)) && (s = series(f, labels))) {
        s->value = add ? s->value + v : v;
        s->gen = f->gen;
    }
    pthread_mutex_unlock(&m->lock);
}

void cishare_metrics_set(cishare_metrics_t *m, cishare_metric_kind_t kind,
                         const char *name, const char *help,
                         const char *const *labels, double value)
{
    update(m, (int)kind, name, help, labels, value, 0);
}

void cishare_metrics_add(cishare_metrics_t *m, const char *name,
                         const char *help, const char *const *labels,
                         double delta)
{
    update(m, CISHARE_METRIC_COUNTER, name, help, labels, delta, 1);
}

void cishare_metrics_observe(cishare_metrics_t *m, const char *name,
                             const char *help, const double *buckets, size_t n,
                             double v)
{
    family_t *f;
    size_t i;

    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    f = family(m, name, help, KIND_HISTOGRAM);
    if (f && !f->counts) {
        f->bounds = malloc((n ? n : 1) * sizeof(*f->bounds));
        f->counts = calloc(n + 1, sizeof(*f->counts));
        if (!f->bounds || !f->counts) {
            free(f->bounds);
            free(f->counts);
            f->bounds = NULL;
            f->counts = NULL;
            f = NULL;
        } else {
            memcpy(f->bounds, buckets, n * sizeof(*buckets));
            f->nb = n;
        }
    }
    if (f) {
        for (i = 0; i < f->nb && v > f->bounds[i]; i++)
            ;
        f->counts[i]++;
        f->sum += v;
        f->count++;
    }
    pthread_mutex_unlock(&m->lock);
}

void cishare_metrics_generation(cishare_metrics_t *m, const char *name)
{
    size_t i;

    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->n; i++)
        if (!strcmp(m->fams[i].name, name))
            m->fams[i].gen++;
    pthread_mutex_unlock(&m->lock);
}

void cishare_metrics_sweep(cishare_metrics_t *m, const char *name)
{
    size_t i, j, k;

    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->n; i++) {
        family_t *f = &m->fams[i];

        if (strcmp(f->name, name))
            continue;
        for (j = k = 0; j < f->n; j++) {
            if (f->series[j].gen == f->gen)
                f->series[k++] = f->series[j];
            else
                free(f->series[j].labels);
        }
        f->n = k;
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- rendering ---- */

typedef struct buf_s {
    char *s;
    size_t len, cap;
    int oom;
} buf_t;

static void bprintf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bprintf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *ns = realloc(b->s, cap);

        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
}

/* HELP text: backslash and newline escaped. */
static void help_line(buf_t *b, const family_t *f)
{
    const char *p;

    bprintf(b, "# HELP %s ", f->name);
    for (p = f->help; *p; p++) {
        if (*p == '\\')
            bprintf(b, "\\\\");
        else if (*p == '\n')
            bprintf(b, "\\n");
        else
            bprintf(b, "%c", *p);
    }
    bprintf(b, "\n# TYPE %s %s\n", f->name,
            f->kind == KIND_HISTOGRAM         ? "histogram"
            : f->kind == CISHARE_METRIC_GAUGE ? "gauge"
                                              : "counter");
}

char *cishare_metrics_render(cishare_metrics_t *m)
{
    buf_t b = {malloc(4096), 0, 4096, 0};
    size_t i, j;

    if (!m || !b.s) {
        free(b.s);
        return NULL;
    }
    b.s[0] = '\0';
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->n; i++) {
        const family_t *f = &m->fams[i];

        if (f->kind != KIND_HISTOGRAM && !f->n)
            continue;
        help_line(&b, f);
        if (f->kind == KIND_HISTOGRAM) {
            uint64_t cum = 0;

            for (j = 0; j < f->nb; j++) {
                cum += f->counts[j];
                bprintf(&b, "%s_bucket{le=\"%.17g\"} %llu\n", f->name,
                        f->bounds[j], (unsigned long long)cum);
            }
            bprintf(&b, "%s_bucket{le=\"+Inf\"} %llu\n", f->name,
                    (unsigned long long)f->count);
            bprintf(&b, "%s_sum %.17g\n%s_count %llu\n", f->name, f->sum,
                    f->name, (unsigned long long)f->count);
            continue;
        }
        for (j = 0; j < f->n; j++) {
            const series_t *s = &f->series[j];

            if (*s->labels)
                bprintf(&b, "%s{%s} %.17g\n", f->name, s->labels, s->value);
            else
                bprintf(&b, "%s %.17g\n", f->name, s->value);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- HTTP ---- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    cishare_metrics_t *m = cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    unsigned status = MHD_HTTP_OK;
    char *body = NULL;
    const char *type = "text/plain; version=0.0.4; charset=utf-8";
    static const char not_found[] = "not found: the metrics are at /metrics\n";
    static const char bad_method[] = "only GET and HEAD\n";

    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        r = MHD_create_response_from_buffer(
            sizeof(bad_method) - 1, (void *)bad_method, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/metrics") && strcmp(url, "/")) {
        status = MHD_HTTP_NOT_FOUND;
        r = MHD_create_response_from_buffer(
            sizeof(not_found) - 1, (void *)not_found, MHD_RESPMEM_PERSISTENT);
    } else if (!(body = cishare_metrics_render(m))) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r = MHD_create_response_from_buffer(0, (void *)"",
                                            MHD_RESPMEM_PERSISTENT);
    } else
        r = MHD_create_response_from_buffer(strlen(body), body,
                                            MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (status == MHD_HTTP_OK)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

cishare_err_t cishare_metrics_start(const char *listen, const char *component,
                                    cishare_metrics_t **mp, char *errstr,
                                    size_t errstr_size)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    cishare_metrics_t *m;
    cishare_err_t err;
    const union MHD_DaemonInfo *info;
    char host[INET6_ADDRSTRLEN] = "";
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    const char *up[] = {"component", component, NULL};

    *mp = NULL;
    if ((err = cishare_listen_parse(listen, &ss, &sl, errstr, errstr_size)))
        return err;
    if (!(m = calloc(1, sizeof(*m))))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "metrics: out of memory");
    pthread_mutex_init(&m->lock, NULL);
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->d =
        MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)10, MHD_OPTION_END);
    if (!m->d) {
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "metrics: cannot listen on %s: %s", listen,
                              errno ? strerror(errno) : "address in use?");
        cishare_metrics_stop(m);
        return err;
    }
    info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
                  sizeof(host));
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
                  sizeof(host));
    snprintf(m->addr, sizeof(m->addr),
             ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             info ? (unsigned)info->port : 0u);
    cishare_metrics_set(m, CISHARE_METRIC_GAUGE, "cishare_up",
                        "1 while the component runs", up, 1);
    *mp = m;
    return CISHARE_OK;
}

const char *cishare_metrics_address(const cishare_metrics_t *m)
{
    return m ? m->addr : "";
}

void cishare_metrics_stop(cishare_metrics_t *m)
{
    size_t i, j;

    if (!m)
        return;
    if (m->d)
        MHD_stop_daemon(m->d);
    for (i = 0; i < m->n; i++) {
        family_t *f = &m->fams[i];

        for (j = 0; j < f->n; j++)
            free(f->series[j].labels);
        free(f->series);
        free(f->name);
        free(f->help);
        free(f->bounds);
        free(f->counts);
    }
    free(m->fams);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
