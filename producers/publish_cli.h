/*
 * cishare - command-line pieces shared by `cishare publish` and
 * `cishare alert` (defined in cmd_publish.c; CLI layer: they print).
 */
#ifndef CISHARE_PUBLISH_CLI_H
#define CISHARE_PUBLISH_CLI_H

#include "publisher.h"

#include "cishare/config.h"
#include "cishare/importer.h"

#include <stdbool.h>
#include <stddef.h>

#define CISHARE_PUBLISH_MAX_X 256

/** The -c CONFIG and -X key=value options as both commands take them. */
typedef struct cishare_publish_conf_opts_s {
    const char *xs[CISHARE_PUBLISH_MAX_X]; /**< -X texts (borrowed argv) */
    size_t nx;
    bool have_conf; /**< a -c file was loaded */
} cishare_publish_conf_opts_t;

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

#endif
