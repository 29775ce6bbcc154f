/*
 * cishare - helpers shared by the subcommands of the `cishare` program.
 *
 * Exit codes every subcommand keeps (scripts rely on them):
 *   0  success (policy check: delivered)
 *   1  the operation ran and failed or refused something (a record not
 *      published, a message withheld, a verification failure)
 *   2  bad usage or bad input (unknown option, unreadable file, refused
 *      directory or config)
 *
 * Diagnostics go to stderr prefixed "% " as kcat does, or as JSON objects
 * with --log-format json (log.h); data goes to stdout.
 */
#ifndef CISHARE_CLI_H
#define CISHARE_CLI_H

#include "cishare/config.h"
#include "cishare/log.h"
#include "cishare/metrics.h"

#include <stdbool.h>
#include <stddef.h>

#define CISHARE_EXIT_OK    0
#define CISHARE_EXIT_FAIL  1
#define CISHARE_EXIT_USAGE 2

/** Every subcommand has this signature; argv[0] is the command name. */
typedef int(cishare_cmd_fn)(int argc, char **argv);

/** "% ERROR: <msg>\n" on stderr. */
void cishare_cli_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/**
 * cishare_cli_error() about one message or record: JSON logs (log.h) add
 * lf's fields (its msg_id, its reason code) to the line; text is the same.
 */
void cishare_cli_error_with(const cishare_log_fields_t *lf, const char *fmt,
                            ...) __attribute__((format(printf, 2, 3)));
/** "% <msg>\n" on stderr (progress, summaries). */
void cishare_cli_info(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/**
 * Report a usage error for command `cmd` ("% ERROR: cishare <cmd>: ...",
 * then "Try 'cishare <cmd> --help'.") and return CISHARE_EXIT_USAGE.
 */
int cishare_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/**
 * A multi-line text (a library's errstr listing several problems) as one
 * "% ERROR: <prefix><line>\n" on stderr per line; nothing for "".
 */
void cishare_cli_error_lines(const char *prefix, const char *text);

/**
 * Read a whole file ("-" means stdin) into a malloc()ed NUL-terminated
 * buffer, refusing files larger than max_size. Caller frees *bufp.
 * Returns 0 or -1 with a message in errstr naming the file.
 */
int cishare_cli_read_file(const char *path, size_t max_size, char **bufp,
                          size_t *lenp, char *errstr, size_t errstr_size);

/**
 * The -c CONFIG and -X key=value options of a command that reads its
 * configuration after parsing its options (feed, relay): the last -c
 * wins, every -X applies over the file in the order given.
 */
typedef struct cishare_cli_conf_s {
    const char *path; /**< -c FILE, NULL: not given (borrowed argv) */
    char **xs;        /**< -X texts, the caller's array of argc entries */
    size_t nx;
} cishare_cli_conf_t;

/** Take getopt option c ('c' or 'X') into cc: true; false for others. */
bool cishare_cli_conf_opt(cishare_cli_conf_t *cc, int c, char *arg);

/**
 * After the options of a command that takes no operand: refuse a
 * leftover argv[optind], then a missing -c (usage errors of cmd).
 * @returns CISHARE_EXIT_OK, or CISHARE_EXIT_USAGE.
 */
int cishare_cli_conf_args(const cishare_cli_conf_t *cc, const char *cmd,
                          int argc, char **argv);

/**
 * Load cc->path into conf (a missing -c is a usage error of cmd), then
 * set every -X over it. Problems go to stderr as "<cmd>: <problem>"
 * ("<cmd>: -X <kv>: <problem>").
 * @returns CISHARE_EXIT_OK, or CISHARE_EXIT_USAGE.
 */
int cishare_cli_conf_load(const cishare_cli_conf_t *cc, cishare_config_t *conf,
                          const char *cmd);

/**
 * Take the log format from conf's cishare.log.format unless
 * CISHARE_LOG_FORMAT or --log-format chose one (log.h). Every command that
 * loads a config calls it (cishare_cli_conf_load() does).
 */
void cishare_cli_log_config(const cishare_config_t *conf);

/** Process-wide flag set by SIGINT/SIGTERM once cishare_cli_signals() ran. */
extern volatile int cishare_cli_stop;
void cishare_cli_signals(void);

/**
 * The end of a long-running command (feed, relay): err from its run,
 * reported as "<cmd>: <errstr>". Exit status: CISHARE_EXIT_OK; 2
 * (CISHARE_EXIT_USAGE) for configuration and directory-driven refusals,
 * as for every command; CISHARE_EXIT_FAIL otherwise.
 */
int cishare_cli_run_exit(const char *cmd, cishare_err_t err,
                         const char *errstr);

/**
 * The --metrics ADDR:PORT of a long-running command (feed, relay, serve,
 * publish --follow, misp-bridge): start the exporter on listen
 * (cishare_metrics_start(), labelled component) into *mp and log
 * "<cmd>: metrics at http://ADDR:PORT/metrics" (scripts read the address
 * from it). NULL listen: nothing, *mp = NULL.
 * @returns CISHARE_EXIT_OK; CISHARE_EXIT_USAGE for an address that is not
 *          one (a usage error of cmd naming it); CISHARE_EXIT_FAIL when it
 *          cannot listen ("<cmd>: metrics: cannot listen on ...").
 */
int cishare_cli_metrics_start(const char *cmd, const char *listen,
                              const char *component, cishare_metrics_t **mp);

#endif
