/*
 * cishare report: the evaluation report of a period (report.h), from the
 * feed's archive, as text, JSON, CSV or one self-contained HTML page.
 */
#include "archive.h"
#include "report.h"
#include "sinks/sink.h"

#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare report -c CONFIG --from DATE --to DATE "
            "[--format text|json|csv|html]\n"
            "                      [--out FILE] [--archive FILE] [-X "
            "key=value]...\n"
            "\n"
            "The evaluation report of a period for participant P "
            "(cishare.participant):\n"
            "messages received and sent by type, TLP label, sector and month; "
            "incidents\n"
            "by category, impact and mode, stage reached, time from detection "
            "to the\n"
            "preliminary report and to the NCO's receipt (median, 90th "
            "percentile),\n"
            "deadlines met, late and overdue; relayed volumes; sightings and "
            "the\n"
            "false-positive rate per originating sector. The figures come from "
            "the feed's\n"
            "archive (<cishare.state-dir>/archive.db), not from Kafka.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE    client configuration (required)\n"
            "      --from DATE      start of the period (required)\n"
            "      --to DATE        end of the period (required)\n"
            "                       DATE is YYYY-MM-DD (UTC; --to includes "
            "that whole day)\n"
            "                       or an RFC 3339 time such as "
            "2025-04-01T00:00:00Z\n"
            "                       (--to excluded)\n"
            "  -f, --format NAME    text (default), json, csv or html (one "
            "self-contained\n"
            "                       page: charts as inline SVG, nothing "
            "loaded from the\n"
            "                       network)\n"
            "  -o, --out FILE       write there (atomically: temporary file, "
            "rename);\n"
            "                       default stdout\n"
            "  -a, --archive FILE   the archive (default: archive.db in "
            "cishare.state-dir)\n"
            "  -X key=value         set a configuration key\n"
            "  -h, --help           show this help\n"
            "\n"
            "Deadlines are judged now, against the directory's `reporting:`. "
            "An empty\n"
            "period prints zeros.\n"
            "Exit status: 0 ok, 1 the archive is missing or unreadable, or "
            "writing failed,\n"
            "2 bad usage, bad date, configuration or directory.\n");
}

static int write_out(const json_t *rep, cishare_report_format_t fmt,
                     const char *out)
{
    cishare_atomic_t af;

    if (!out || !strcmp(out, "-")) {
        if (cishare_report_render(rep, fmt, stdout)) {
            cishare_cli_error("report: writing to stdout: %s", strerror(errno));
            return CISHARE_EXIT_FAIL;
        }
        return CISHARE_EXIT_OK;
    }
    if (cishare_atomic_begin(&af, out)) {
        cishare_cli_error("report: %s: cannot write: %s", out, strerror(errno));
        return CISHARE_EXIT_FAIL;
    }
    if (cishare_report_render(rep, fmt, af.fp) || cishare_atomic_commit(&af)) {
        cishare_cli_error("report: %s: write failed: %s", out, strerror(errno));
        cishare_atomic_abort(&af);
        return CISHARE_EXIT_FAIL;
    }
    return CISHARE_EXIT_OK;
}

int cishare_cmd_report(int argc, char **argv)
{
    enum { O_FROM = 256, O_TO };
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"archive", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const char form[] =
        "YYYY-MM-DD or an RFC 3339 time such as 2025-04-01T00:00:00Z";
    cishare_config_t *conf = cishare_config_new();
    cishare_cli_conf_t cc = {NULL, calloc((size_t)argc + 1, sizeof(char *)), 0};
    cishare_report_format_t fmt = CISHARE_REPORT_TEXT;
    cishare_directory_t *dir = NULL;
    cishare_archive_t *a = NULL;
    const char *from = NULL, *to = NULL, *out = NULL, *apath = NULL;
    const cishare_participant_t *mep;
    char errstr[2048];
    int64_t from_ms = 0, to_ms = 0;
    json_t *rep = NULL;
    cishare_err_t err;
    int c, rc = CISHARE_EXIT_USAGE;

    if (!conf || !cc.xs) {
        cishare_config_destroy(conf);
        free(cc.xs);
        cishare_cli_error("report: out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:f:o:a:h", lopts, NULL)) != -1) {
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case O_FROM:
            from = optarg;
            break;
        case O_TO:
            to = optarg;
            break;
        case 'f':
            if (!cishare_report_format_parse(optarg, &fmt)) {
                rc = cishare_cli_usage_error(
                    "report",
                    "--format: unknown format '%s' (text, json, "
                    "csv, html)",
                    optarg);
                goto done;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'a':
            apath = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = CISHARE_EXIT_OK;
            goto done;
        default:
            rc = cishare_cli_usage_error("report", "bad option");
            goto done;
        }
    }
    if ((rc = cishare_cli_conf_args(&cc, "report", argc, argv)))
        goto done;
    /* the user's input first: nothing is opened for a bad date */
    rc = CISHARE_EXIT_USAGE;
    if (!from || !to) {
        rc = cishare_cli_usage_error("report", "%s is required (%s)",
                                     from ? "--to" : "--from", form);
        goto done;
    }
    if (!cishare_report_date_parse(from, false, &from_ms)) {
        rc = cishare_cli_usage_error("report", "--from '%s': not a date (%s)",
                                     from, form);
        goto done;
    }
    if (!cishare_report_date_parse(to, true, &to_ms)) {
        rc = cishare_cli_usage_error("report", "--to '%s': not a date (%s)", to,
                                     form);
        goto done;
    }
    if (from_ms > to_ms) {
        rc = cishare_cli_usage_error(
            "report", "--from %s is after --to %s: the period is empty", from,
            to);
        goto done;
    }
    if ((rc = cishare_cli_conf_load(&cc, conf, "report")) != CISHARE_EXIT_OK)
        goto done;
    if ((rc = cishare_archive_cli_open("report", conf, apath, &dir, &mep, &a)))
        goto done;
    rc = CISHARE_EXIT_FAIL;
    if ((err = cishare_report_build(a, dir, mep->id, from_ms, to_ms,
                                    cishare_time_now_ms(), &rep, errstr,
                                    sizeof(errstr)))) {
        cishare_cli_error("report: %s", errstr);
        goto done;
    }
    rc = write_out(rep, fmt, out);
done:
    json_decref(rep);
    cishare_archive_close(a);
    cishare_directory_destroy(dir);
    cishare_config_destroy(conf);
    free(cc.xs);
    return rc;
}
