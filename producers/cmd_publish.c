/*
 * cishare publish: import files (native JSON, STIX 2.1, MISP, CSV, text),
 * check the publish rules, sign/encrypt, route and produce every record;
 * report each failed record by name and end with a summary line.
 */
#include "publish_cli.h"

#include "cishare/cli.h"
#include "cishare/config.h"
#include "cishare/importer.h"
#include "cishare/types.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare publish -c CONFIG [options] FILE...|-\n"
        "       cishare publish -c CONFIG --follow [options]\n"
        "\n"
        "Sign, encrypt (TLP:RED, TLP:AMBER+STRICT) and publish every record "
        "of\n"
        "the input files as the configured participant, routed to the "
        "topics\n"
        "its audience needs (idempotent producer, acks=all, every delivery\n"
        "checked).\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE        client config (key=value; librdkafka keys "
        "and\n"
        "                           cishare.* keys, see below)\n"
        "  -X key=value             set one config key (overrides the file; "
        "other\n"
        "                           than cishare.* keys go to librdkafka)\n"
        "  -f, --format FMT         auto (default), json, stix, misp, csv, "
        "text\n"
        "  -t, --tlp LABEL          label for records without one, and the "
        "least any\n"
        "                           record gets: a looser record is "
        "tightened to it,\n"
        "                           a stricter one keeps its own marking\n"
        "  -a, --audience ITEM,...  all, sector:<code>, role:<role>, "
        "participant:<id>\n"
        "                           (default: per label; RED needs "
        "participants)\n"
        "  -n, --dry-run            do everything except sending; print the "
        "plan\n"
        "  -v, --verbose            print every published record on stdout\n"
        "      --follow             read standard input as it arrives, one "
        "record a\n"
        "                           line, and answer each on stdout (below)\n"
        "      --max-delay MS       --follow: a record waits at most MS for "
        "its\n"
        "                           batch to fill before it is signed and "
        "sent\n"
        "                           (default 200; 0: at once)\n"
        "      --batch N            --follow: records per signed batch "
        "(default 256)\n"
        "      --metrics ADDR:PORT  --follow: Prometheus metrics at\n"
        "                           http://ADDR:PORT/metrics (no TLS: "
        "loopback or a\n"
        "                           management network)\n"
        "  -h, --help               show this help\n"
        "\n"
        "Output: failed records on stderr (\"%% ERROR: <record>: <reason>\"), "
        "then\n"
        "\"%% published N, rejected M (reason: count, ...)\". The dry run "
        "prints\n"
        "<record> TAB <subject> TAB <tlp> TAB <topics> per record on stdout.\n"
        "Formats and their mappings: producers/importers/README.md.\n"
        "\n"
        "--follow: each line is a JSON record (cishare message, STIX object "
        "or\n"
        "MISP event on one line) or observables (text); with --format csv "
        "the\n"
        "first line is the header. Blank lines are ignored. Every record "
        "gets one\n"
        "line on stdout, flushed, once the brokers acknowledged it (within "
        "--max-delay\n"
        "plus their acknowledgement):\n"
        "  ok <line> <message-id> <subject> <tlp>\n"
        "  rejected <line> <reason>: <detail>   (bad input, a sharing rule)\n"
        "  failed <line> <reason>: <detail>     (not delivered, or not "
        "surely)\n"
        "  skipped <line> <reason>: <detail>    (nothing to share in it)\n"
        "A bad line is answered and the stream goes on. At the end of input, "
        "or on\n"
        "SIGTERM/SIGINT, what was read is published, the delivery reports "
        "are\n"
        "awaited and the summary is printed; the exit status is as below.\n"
        "\n"
        "Exit status: 0 all published, 1 a record was refused or not "
        "delivered, or\n"
        "Kafka or the file system failed, 2 bad usage, config, directory, "
        "certificate\n"
        "or input file (then nothing is sent).\n"
        "\n"
        "Config keys:\n");
    cishare_config_print_help(fp);
}

/* Records parsed and queued at a time: small, so that parsing and the
 * signer thread take turns finely, and a 64 MB file never sits parsed in
 * memory. */
#define PUBLISH_CHUNK 64
/* The last PUBLISH_KEEP records submitted stay referenced here: the
 * signer drops its reference first (its ring, 512 slots unless batches
 * are larger, is smaller), so a message is freed on this thread, which
 * allocated it, not on the signer's, which would hand the memory back to
 * this thread's malloc arena under the arena's lock. */
#define PUBLISH_KEEP 1024

typedef struct reason_cnt_s {
    const char *reason;
    size_t cnt;
} reason_cnt_t;

/* "reason: n, reason: n" into buf. */
static void count_add(reason_cnt_t *v, size_t *n, size_t max,
                      const char *reason)
{
    size_t i;

    for (i = 0; i < *n; i++) {
        if (!strcmp(v[i].reason, reason)) {
            v[i].cnt++;
            return;
        }
    }
    if (*n < max) {
        v[*n].reason = reason;
        v[*n].cnt = 1;
        (*n)++;
    }
}

static void counts_format(const reason_cnt_t *v, size_t n, char *buf,
                          size_t size)
{
    size_t i, off = 0;

    buf[0] = '\0';
    for (i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s: %zu",
                                i ? ", " : "", v[i].reason, v[i].cnt);
}

int cishare_publish_report(cishare_publisher_t *pub, bool dry_run, bool verbose,
                           const cishare_import_result_t *imp)
{
    reason_cnt_t rej[64], skip[64];
    size_t nrej = 0, nskip = 0, i, published = 0, rejected = 0;
    char buf[2048];

    for (i = 0; i < cishare_publisher_cnt(pub); i++) {
        const cishare_pub_rec_t *r = cishare_publisher_rec(pub, i);
        if (r->failed) {
            cishare_log_fields_t lf = {0};
            lf.msg_id = r->msg_id;
            lf.reason = r->reason;
            cishare_cli_error_with(&lf, "%s: %s", r->record, r->detail);
            count_add(rej, &nrej, 64, r->reason);
            rejected++;
            continue;
        }
        published++;
        if (dry_run || verbose)
            printf("%s\t%s\t%s\t%s\n", r->record, r->subject, r->tlp,
                   r->topics);
    }
    fflush(stdout);
    for (i = 0; imp && i < imp->skipped_cnt; i++)
        count_add(skip, &nskip, 64, imp->skipped[i].reason);
    if (nskip) {
        counts_format(skip, nskip, buf, sizeof(buf));
        cishare_cli_info("skipped %zu input objects that are not shared "
                         "(%s)",
                         imp->skipped_cnt, buf);
    }
    counts_format(rej, nrej, buf, sizeof(buf));
    cishare_cli_info("%spublished %zu, rejected %zu%s%s%s",
                     dry_run ? "dry run, nothing sent: " : "", published,
                     rejected, nrej ? " (" : "", buf, nrej ? ")" : "");
    return rejected ? CISHARE_EXIT_FAIL : CISHARE_EXIT_OK;
}

bool cishare_publish_conf_opt(cishare_publish_conf_opts_t *co,
                              cishare_config_t *conf, const char *cmd, int c,
                              const char *arg)
{
    char errstr[2048];

    if (c == 'c') {
        if (cishare_config_load(conf, arg, errstr, sizeof(errstr))) {
            cishare_cli_error("%s", errstr);
            return false;
        }
        co->have_conf = true;
        return true;
    }
    if (co->nx == CISHARE_PUBLISH_MAX_X) {
        cishare_cli_usage_error(cmd, "too many -X");
        return false;
    }
    co->xs[co->nx++] = arg;
    return true;
}

bool cishare_publish_conf_finish(const cishare_publish_conf_opts_t *co,
                                 cishare_config_t *conf, const char *cmd)
{
    char errstr[2048];
    size_t i;

    for (i = 0; i < co->nx; i++) {
        if (cishare_config_set_kv(conf, co->xs[i], errstr, sizeof(errstr))) {
            cishare_cli_error("-X %s: %s", co->xs[i], errstr);
            return false;
        }
    }
    if (!co->have_conf) {
        cishare_cli_usage_error(cmd, "-c CONFIG is required");
        return false;
    }
    cishare_cli_log_config(conf);
    return true;
}

bool cishare_publish_tlp_opt(const char *cmd, const char *arg,
                             cishare_tlp_t *tlpp, int *rcp)
{
    if (cishare_tlp_parse(arg, tlpp))
        return true;
    *rcp = cishare_cli_usage_error(cmd,
                                   "'%s' is not a TLP label (clear, green, "
                                   "amber, amber+strict, red)",
                                   arg);
    return false;
}

cishare_publish_opt_t
cishare_publish_common_opt(cishare_publish_conf_opts_t *co,
                           cishare_config_t *conf, const char *cmd, int c,
                           const char *arg, void (*usage)(FILE *fp), int *rcp)
{
    switch (c) {
    case 'c':
    case 'X':
        if (cishare_publish_conf_opt(co, conf, cmd, c, arg))
            return CISHARE_PUBLISH_OPT_TAKEN;
        *rcp = CISHARE_EXIT_USAGE;
        return CISHARE_PUBLISH_OPT_EXIT;
    case 'n':
        co->dry_run = true;
        return CISHARE_PUBLISH_OPT_TAKEN;
    case 'v':
        co->verbose = true;
        return CISHARE_PUBLISH_OPT_TAKEN;
    case 'j':
        co->print_json = true;
        return CISHARE_PUBLISH_OPT_TAKEN;
    case 'h':
        usage(stdout);
        *rcp = CISHARE_EXIT_OK;
        return CISHARE_PUBLISH_OPT_EXIT;
    default:
        return CISHARE_PUBLISH_OPT_OWN;
    }
}

bool cishare_publish_args_finish(const cishare_publish_conf_opts_t *co,
                                 cishare_config_t *conf, const char *cmd,
                                 int argc, char **argv)
{
    if (!cishare_publish_conf_finish(co, conf, cmd))
        return false;
    if (optind < argc) {
        cishare_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        return false;
    }
    return true;
}

/* The exit status for an error of cishare_publisher_new(): a refusal is
 * the user's to fix (2); a failure of Kafka, the file system or memory is
 * 1 (publisher.h returns CISHARE_ERR_CONFIG for certificate refusals). */
static int publish_open_status(cishare_err_t err)
{
    switch (err) {
    case CISHARE_OK:
        return CISHARE_EXIT_OK;
    case CISHARE_ERR_KAFKA: /* rd_kafka_new(), the directory consumer */
    case CISHARE_ERR_IO:    /* e.g. the directory state cannot be written */
    case CISHARE_ERR_NOMEM:
    case CISHARE_ERR_CRYPTO:
    case CISHARE_ERR_AUTH:
        return CISHARE_EXIT_FAIL;
    default: /* CONFIG (certificates too), DIRECTORY, a bad key file, ... */
        return CISHARE_EXIT_USAGE;
    }
}

int cishare_publish_open(const cishare_config_t *conf, bool dry_run,
                         cishare_publisher_t **pubp)
{
    char errstr[1024];
    cishare_err_t err;

    cishare_cli_signals();
    if ((err = cishare_publisher_new(conf, dry_run, pubp, errstr,
                                     sizeof(errstr)))) {
        cishare_cli_error("%s", errstr);
        return publish_open_status(err);
    }
    cishare_publisher_set_log(*pubp, cishare_publish_log, NULL);
    if (!dry_run) {
        const cishare_tls_info_t *tls = cishare_publisher_tls(*pubp);
        if (tls->tls || cishare_tls_plaintext_warn(conf, tls))
            cishare_cli_info(
                "%s", cishare_tls_info_format(tls, errstr, sizeof(errstr)));
    }
    return CISHARE_EXIT_OK;
}

void cishare_publish_log(void *opaque, const char *line)
{
    (void)opaque;
    cishare_cli_info("%s", line);
}

void cishare_publish_flush(cishare_publisher_t *pub,
                           const cishare_config_t *conf)
{
    const char *mt = cishare_config_get_kafka(conf, "message.timeout.ms");
    int timeout = (mt ? atoi(mt) : 30000) + 5000;
    /* progress on a terminal; never among JSON lines */
    bool tty =
        isatty(STDERR_FILENO) && cishare_log_format() == CISHARE_LOG_TEXT;

    while (cishare_publisher_inflight(pub) && timeout > 0 &&
           !cishare_cli_stop) {
        cishare_publisher_poll(pub, 200);
        timeout -= 200;
        if (tty)
            fprintf(stderr, "\r%% delivered %zu, waiting for %zu   ",
                    cishare_publisher_delivered(pub),
                    cishare_publisher_inflight(pub));
    }
    if (tty)
        fprintf(stderr, "\r%60s\r", "");
    cishare_publisher_flush(pub, timeout > 0 ? 1000 : 0);
}

int cishare_cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"tlp", required_argument, NULL, 't'},
        {"audience", required_argument, NULL, 'a'},
        {"dry-run", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"follow", no_argument, NULL, 'F'},
        {"max-delay", required_argument, NULL, 'D'},
        {"batch", required_argument, NULL, 'B'},
        {"metrics", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_import_format_t fmt = CISHARE_IMPORT_AUTO;
    cishare_import_result_t imp;
    cishare_publisher_t *pub = NULL;
    cishare_import_src_t **srcs = NULL;
    json_t **keep = NULL; /* PUBLISH_KEEP */
    size_t nsrc = 0, bound = 0, built = 0, k;
    const char *stop_reason = NULL; /* out of memory: nothing more sent */
    cishare_publish_conf_opts_t co = {0};
    cishare_publish_opt_t po;
    const char *audience = NULL;
    size_t i;
    int c, tlp = -1, rc = CISHARE_EXIT_USAGE;
    /* progress on a terminal; never among JSON lines */
    bool tty =
        isatty(STDERR_FILENO) && cishare_log_format() == CISHARE_LOG_TEXT;
    char errstr[2048];
    cishare_tlp_t t;
    cishare_follow_opts_t fo = {.batch = 256, .max_delay_ms = 200};
    bool follow = false;
    char *end;
    long v;

    cishare_import_result_init(&imp);
    if (!conf) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:f:t:a:nvh", opts, NULL)) != -1) {
        po = cishare_publish_common_opt(&co, conf, "publish", c, optarg, usage,
                                        &rc);
        if (po != CISHARE_PUBLISH_OPT_OWN) {
            if (po == CISHARE_PUBLISH_OPT_EXIT)
                goto out; /* --help, or a bad -c/-X */
            continue;
        }
        switch (c) {
        case 'f':
            if (!cishare_import_format_parse(optarg, &fmt)) {
                rc = cishare_cli_usage_error(
                    "publish",
                    "unknown format '%s' (json, stix, misp, csv, text)",
                    optarg);
                goto out;
            }
            break;
        case 't':
            if (!cishare_publish_tlp_opt("publish", optarg, &t, &rc))
                goto out;
            tlp = (int)t;
            break;
        case 'a':
            audience = optarg;
            break;
        case 'F':
            follow = true;
            break;
        case 'D':
        case 'B':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < (c == 'D' ? 0 : 1) ||
                v > (c == 'D' ? 3600000 : 100000)) {
                rc = cishare_cli_usage_error(
                    "publish", "--%s: '%s' is not %s",
                    c == 'D' ? "max-delay" : "batch", optarg,
                    c == 'D' ? "a delay in ms (0-3600000)"
                             : "a batch size (1-100000)");
                goto out;
            }
            if (c == 'D')
                fo.max_delay_ms = (int)v;
            else
                fo.batch = (size_t)v;
            break;
        case 'M':
            fo.metrics = optarg;
            break;
        default:
            rc = cishare_cli_usage_error("publish", "bad option");
            goto out;
        }
    }
    if (!cishare_publish_conf_finish(&co, conf, "publish"))
        goto out; /* CISHARE_EXIT_USAGE */
    if (follow) {
        if (optind < argc && strcmp(argv[optind], "-")) {
            rc = cishare_cli_usage_error(
                "publish", "--follow reads standard input, not '%s'",
                argv[optind]);
            goto out;
        }
        fo.fmt = fmt;
        fo.tlp = tlp;
        fo.audience = audience;
        fo.dry_run = co.dry_run;
        rc = cishare_publish_follow(conf, &fo);
        goto out;
    }
    if (fo.metrics) {
        rc = cishare_cli_usage_error("publish",
                                     "--metrics is for --follow only");
        goto out;
    }
    if (optind >= argc) {
        rc = cishare_cli_usage_error("publish",
                                     "no input file (use - for stdin)");
        goto out;
    }

    /* Open (read and check) every file first: a bad file sends nothing.
     * JSON Lines are then parsed a chunk at a time as they are sent, so
     * the parsing overlaps the signer and Kafka, and memory stays flat. */
    nsrc = (size_t)(argc - optind);
    if (!(srcs = calloc(nsrc, sizeof(*srcs)))) {
        cishare_cli_error("out of memory: nothing was published");
        rc = CISHARE_EXIT_FAIL;
        goto out;
    }
    for (i = 0; i < nsrc; i++) {
        if (cishare_import_open(argv[optind + (int)i], fmt, &srcs[i], errstr,
                                sizeof(errstr))) {
            cishare_cli_error("%s", errstr);
            cishare_cli_error("nothing was published");
            goto out;
        }
        bound += cishare_import_bound(srcs[i]);
    }
    if (!(keep = calloc(PUBLISH_KEEP, sizeof(*keep)))) {
        cishare_cli_error("out of memory: nothing was published");
        rc = CISHARE_EXIT_FAIL;
        goto out;
    }
    if ((rc = cishare_publish_open(conf, co.dry_run, &pub)) != CISHARE_EXIT_OK)
        goto out;
    /* every record's outcome has its place before the first is sent (a
     * file's bound: its records, or its lines; +1 per file for a note
     * that it was not read to the end) */
    if (cishare_publisher_reserve(pub, bound + nsrc))
        goto nomem;
    for (k = 0; k < nsrc; k++) {
        bool done = false;
        while (!done) {
            if (cishare_cli_stop || stop_reason) {
                /* what was not read has no record name: the file's place */
                if (cishare_publisher_reject(
                        pub, cishare_import_where(srcs[k]),
                        stop_reason ? stop_reason : "interrupted",
                        stop_reason ? "not read: out of memory"
                                    : "not read: interrupted"))
                    goto nomem;
                break;
            }
            if (cishare_import_next(srcs[k], PUBLISH_CHUNK, &imp, &done, errstr,
                                    sizeof(errstr))) {
                cishare_cli_error("%s", errstr);
                stop_reason = "out of memory";
                done = false; /* the rest is reported as not read */
            }
            for (i = 0; i < imp.rejected_cnt; i++)
                if (cishare_publisher_reject(pub, imp.rejected[i].record,
                                             imp.rejected[i].reason,
                                             imp.rejected[i].detail))
                    goto nomem;
            for (i = 0; i < imp.cnt && !cishare_cli_stop && !stop_reason; i++) {
                if (cishare_publisher_submit(pub, imp.recs[i].msg,
                                             imp.recs[i].record, tlp,
                                             audience)) {
                    /* record i failed "out of memory"; so do the rest,
                     * counted in the summary, after what was queued is
                     * delivered */
                    cishare_cli_error("out of memory: the records after %s "
                                      "were not sent",
                                      imp.recs[i].record);
                    stop_reason = "out of memory";
                    i++;
                    break;
                }
                json_decref(keep[built % PUBLISH_KEEP]);
                keep[built % PUBLISH_KEEP] = json_incref(imp.recs[i].msg);
                built++;
                if (tty && built % 100 == 0)
                    fprintf(stderr, "\r%% built %zu   ", built);
            }
            for (; i < imp.cnt; i++) /* interrupted, or out of memory */
                if (cishare_publisher_reject(
                        pub, imp.recs[i].record,
                        stop_reason ? stop_reason : "interrupted",
                        stop_reason ? "not sent: out of memory"
                                    : "not sent: interrupted"))
                    goto nomem;
            /* the publisher holds its own references */
            cishare_import_result_drop_handled(&imp);
        }
    }
    if (tty && built)
        fprintf(stderr, "\r%% built %zu   \n", built);
    cishare_publish_flush(pub, conf);
    rc = cishare_publish_report(pub, co.dry_run, co.verbose, &imp);
    goto out;
nomem:
    /* only before anything was sent: the room for outcomes is reserved */
    cishare_cli_error("out of memory: nothing was published");
    rc = CISHARE_EXIT_FAIL;
out:
    cishare_publisher_destroy(pub);
    for (k = 0; keep && k < PUBLISH_KEEP; k++)
        json_decref(keep[k]);
    free(keep);
    for (k = 0; srcs && k < nsrc; k++)
        cishare_import_close(srcs[k]);
    free(srcs);
    cishare_import_result_clear(&imp);
    cishare_config_destroy(conf);
    return rc;
}
