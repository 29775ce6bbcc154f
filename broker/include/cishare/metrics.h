/*
 * cishare - Prometheus metrics: a registry of series and an exporter that
 * serves them at GET /metrics in the text exposition format (version
 * 0.0.4), on a libmicrohttpd thread of its own.
 *
 * The daemons (`feed`, `relay`, `serve`, `publish --follow`) set their
 * series from their own thread after each batch; a scrape reads the
 * registry under its lock, so it never waits for a batch and never sees a
 * half-updated series. Every series name starts with "cishare_".
 *
 * A NULL registry is valid everywhere and does nothing: callers set their
 * series unconditionally and only `--metrics` creates one.
 *
 * No TLS and no authentication: bind it to loopback or a management
 * network. It exposes counts, partitions and times, never message content.
 */
#ifndef CISHARE_METRICS_H
#define CISHARE_METRICS_H

#include "cishare/err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct cishare_metrics_s cishare_metrics_t;

typedef enum {
    CISHARE_METRIC_COUNTER, /**< only grows (a process restart resets it) */
    CISHARE_METRIC_GAUGE
} cishare_metric_kind_t;

/**
 * Parse "ADDR:PORT", "[IPv6]:PORT" or ":PORT" (= 127.0.0.1:PORT: loopback
 * unless an address is named) into *ss. Names are not resolved: ADDR is
 * a numeric IPv4 or IPv6 address. PORT 0 picks a free port.
 * CISHARE_ERR_VALIDATION with errstr naming the text and the problem.
 */
cishare_err_t cishare_listen_parse(const char *text,
                                   struct sockaddr_storage *ss, socklen_t *lenp,
                                   char *errstr, size_t errstr_size);

/** True when *ss is a loopback address (127.0.0.0/8 or ::1). */
int cishare_listen_is_loopback(const struct sockaddr_storage *ss);

/**
 * Start an exporter on listen (cishare_listen_parse). `component`
 * ("feed", "relay", ...) becomes the label component="..." of
 * cishare_up. *mp receives the registry. CISHARE_ERR_VALIDATION for a bad
 * address, CISHARE_ERR_IO when it cannot listen (errstr says why).
 */
cishare_err_t cishare_metrics_start(const char *listen, const char *component,
                                    cishare_metrics_t **mp, char *errstr,
                                    size_t errstr_size);

/** The address it listens on, "ADDR:PORT" (the real port when 0 was
 *  asked for); "" for NULL. Borrowed. */
const char *cishare_metrics_address(const cishare_metrics_t *m);

/** Stop serving and free. NULL is a no-op. */
void cishare_metrics_stop(cishare_metrics_t *m);

/**
 * Set series name{labels} to value. `labels` is NULL or a NULL-terminated
 * list of name, value, name, value, ... (values are escaped here). `help`
 * is the series' HELP text; the first call for a name fixes kind and help.
 * A name used with another kind is ignored. Out of memory: the update is
 * lost (metrics never stop the daemon).
 */
void cishare_metrics_set(cishare_metrics_t *m, cishare_metric_kind_t kind,
                         const char *name, const char *help,
                         const char *const *labels, double value);

/** Add delta to a counter series (created at 0). */
void cishare_metrics_add(cishare_metrics_t *m, const char *name,
                         const char *help, const char *const *labels,
                         double delta);

/**
 * Observe v in histogram `name` (no labels) with the upper bounds
 * buckets[0..n) in ascending order (+Inf is added). The first call fixes
 * the buckets.
 */
void cishare_metrics_observe(cishare_metrics_t *m, const char *name,
                             const char *help, const double *buckets, size_t n,
                             double v);

/** Remove every series of name whose labels are not in the current
 *  generation: call cishare_metrics_generation() before setting a batch
 *  of series (consumer lag per partition), then this after, so that a
 *  partition no longer assigned leaves. */
void cishare_metrics_generation(cishare_metrics_t *m, const char *name);
void cishare_metrics_sweep(cishare_metrics_t *m, const char *name);

/** The text exposition of every series (what GET /metrics answers),
 *  malloc()ed; NULL for a NULL registry or out of memory. For tests. */
char *cishare_metrics_render(cishare_metrics_t *m);

#endif
