/*
 * cishare - command-line pieces shared by `cishare publish`, `alert`,
 * `sighting` and `revoke` (defined in cmd_publish.c, a cmd_*.c file so
 * that it stays in the CLI layer: they print).
 */
#ifndef CISHARE_PUBLISH_CLI_H
#define CISHARE_PUBLISH_CLI_H

#include "publisher.h"
#include "pubstream.h"

#include "cishare/metrics.h"

#include "cishare/config.h"
#include "cishare/importer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CISHARE_PUBLISH_MAX_X 256

/** The options every publishing command takes: -c CONFIG and
 *  -X key=value, and the flags -n (--dry-run), -v (--verbose) and
 *  -j (--json; publish has none). Zero-initialise it. */
typedef struct cishare_publish_conf_opts_s {
    const char *xs[CISHARE_PUBLISH_MAX_X]; /**< -X texts (borrowed argv) */
    size_t nx;
    bool have_conf; /**< a -c file was loaded */
    bool dry_run, verbose, print_json;
} cishare_publish_conf_opts_t;

/** What cishare_publish_common_opt() did with an option. */
typedef enum {
    CISHARE_PUBLISH_OPT_OWN = 0, /**< not a common one: the command's own */
    CISHARE_PUBLISH_OPT_TAKEN,   /**< handled: go on with the next */
    CISHARE_PUBLISH_OPT_EXIT     /**< stop with *rcp: -h printed usage
                                      (CISHARE_EXIT_OK), or a bad -c/-X
                                      was reported (CISHARE_EXIT_USAGE) */
} cishare_publish_opt_t;

/**
 * Handle getopt option c of command cmd if it is a common one: -c/-X
 * (cishare_publish_conf_opt()), -n, -v, -j into co, -h (usage(stdout)).
 * Anything else is left to the command (its own options, and its
 * "bad option" usage error).
 */
cishare_publish_opt_t
cishare_publish_common_opt(cishare_publish_conf_opts_t *co,
                           cishare_config_t *conf, const char *cmd, int c,
                           const char *arg, void (*usage)(FILE *fp), int *rcp);

/**
 * The -t/--tlp LABEL of command cmd into *tlpp (cishare_tlp_parse()).
 * false: a usage error naming arg and the labels is reported and *rcp is
 * CISHARE_EXIT_USAGE.
 */
bool cishare_publish_tlp_opt(const char *cmd, const char *arg,
                             cishare_tlp_t *tlpp, int *rcp);

/**
 * After the options of a command that takes no operand: apply every -X
 * and require -c (cishare_publish_conf_finish()), then refuse a leftover
 * argument argv[optind]. false: reported on stderr, exit with
 * CISHARE_EXIT_USAGE.
 */
bool cishare_publish_args_finish(const cishare_publish_conf_opts_t *co,
                                 cishare_config_t *conf, const char *cmd,
                                 int argc, char **argv);

/**
 * Handle getopt option c ('c' loads the file into conf now, 'X' is kept
 * for later) of command cmd. false: reported on stderr, exit with
 * CISHARE_EXIT_USAGE.
 */
bool cishare_publish_conf_opt(cishare_publish_conf_opts_t *co,
                              cishare_config_t *conf, const char *cmd, int c,
                              const char *arg);
/**
 * After the options: apply every -X over the files, then require -c.
 * false: reported on stderr, exit with CISHARE_EXIT_USAGE.
 */
bool cishare_publish_conf_finish(const cishare_publish_conf_opts_t *co,
                                 cishare_config_t *conf, const char *cmd);

/** A publisher's log line (cishare_publisher_set_log()) as "% line". */
void cishare_publish_log(void *opaque, const char *line);

/**
 * Create the publisher of a command (signal handlers, log lines, the TLS
 * identity it connects with).
 *
 * @returns CISHARE_EXIT_OK and *pubp (the caller's, see
 *          cishare_publisher_new()); else the exit status, the problem
 *          reported on stderr and nothing sent: CISHARE_EXIT_USAGE for a
 *          refused config, directory, key or certificate (the user's to
 *          fix), CISHARE_EXIT_FAIL when Kafka, the file system or memory
 *          failed.
 */
int cishare_publish_open(const cishare_config_t *conf, bool dry_run,
                         cishare_publisher_t **pubp);

/** Publish with progress on a terminal, then flush. */
void cishare_publish_flush(cishare_publisher_t *pub,
                           const cishare_config_t *conf);

/** Print failures and the summary (imp: NULL or the import's skips);
 *  returns the exit status. */
int cishare_publish_report(cishare_publisher_t *pub, bool dry_run, bool verbose,
                           const cishare_import_result_t *imp);

/* ------------------------- streams: publish --follow, misp-bridge */

#define CISHARE_STREAM_MAX_REASONS 64

/** Counts of a stream's outcomes (and their metrics, when a registry is
 *  set), for its summary. */
typedef struct cishare_stream_stats_s {
    size_t published, rejected, failed, skipped;
    struct {
        cishare_pubstream_status_t status;
        char *reason; /* owned */
        size_t cnt;
    } reasons[CISHARE_STREAM_MAX_REASONS];
    size_t nreasons;
    cishare_metrics_t *metrics; /**< borrowed; NULL: none */
} cishare_stream_stats_t;

void cishare_stream_stats_init(cishare_stream_stats_t *st,
                               cishare_metrics_t *metrics);
void cishare_stream_stats_clear(cishare_stream_stats_t *st);
/** Count one outcome (marks are not counted); the metrics
 *  cishare_published_total, cishare_rejected_total{reason},
 *  cishare_failed_total{reason}, cishare_skipped_total{reason}. */
void cishare_stream_count(cishare_stream_stats_t *st,
                          const cishare_pubstream_outcome_t *o);
/** "% [what: ]published N, rejected M, failed K, skipped S (reasons)" on
 *  stderr; returns CISHARE_EXIT_FAIL when anything was rejected or
 *  failed, else CISHARE_EXIT_OK. */
int cishare_stream_summary(const cishare_stream_stats_t *st, const char *what);

/** The options of `publish --follow`. */
typedef struct cishare_follow_opts_s {
    cishare_import_format_t fmt;
    int tlp;              /**< -1: none */
    const char *audience; /**< NULL: none */
    size_t batch;         /**< records per signed batch */
    int max_delay_ms;     /**< how long a record waits for its batch */
    const char *metrics;  /**< --metrics ADDR:PORT, or NULL */
    bool dry_run;
} cishare_follow_opts_t;

/** Run `publish --follow` (cmd_publish_follow.c); returns the exit
 *  status. */
int cishare_publish_follow(const cishare_config_t *conf,
                           const cishare_follow_opts_t *fo);

#endif
