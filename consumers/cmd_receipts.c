/*
 * cishare receipts: for each message this participant sent that calls for
 * receipts, who received it and when (their signed receipts, from the
 * feed's archive), and who has not yet. The work is in receipts.c.
 */
#include "archive.h"
#include "receipts.h"

#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare receipts -c CONFIG [--message ID] [--pending] "
            "[--json]\n"
            "                        [--archive FILE] [-X key=value]...\n"
            "\n"
            "For each message participant P (cishare.participant) sent "
            "that calls for\n"
            "receipts (TLP:RED, TLP:AMBER+STRICT, a mandatory incident "
            "notice; TLP:AMBER\n"
            "ones that got a receipt), show who received it and when, from "
            "their signed\n"
            "receipts, and who has not yet. The expected recipients are the "
            "directory's\n"
            "participants the TLP rules deliver the message to. Reads the "
            "archive the\n"
            "feed of P keeps (cishare feed, cishare.feed.archive=1); Kafka "
            "is not read.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   client configuration (required)\n"
            "  -m, --message ID    only the message with this id (the "
            "envelope's\n"
            "                      message_id, as in feed.jsonl)\n"
            "  -p, --pending       exit 1 when any expected receipt is "
            "missing (cron)\n"
            "  -j, --json          one JSON document on stdout\n"
            "  -a, --archive FILE  the archive (default: "
            "<cishare.state-dir>/archive.db,\n"
            "                      else ./archive.db, as the feed writes "
            "it)\n"
            "  -X key=value        set a configuration key\n"
            "  -h, --help          show this help\n"
            "\n"
            "A receipt shows the recipient's delivery time and the broker's "
            "append time of\n"
            "the record it read (its filing time on the broker's clock).\n"
            "Exit status: 0 ok, 1 missing receipts (with --pending), an "
            "unknown --message,\n"
            "or no archive, 2 bad usage, configuration or directory.\n");
}

/* "TLP:AMBER+STRICT" from "amber+strict". */
static void tlp_upper(const char *tlp, char *buf, size_t size)
{
    size_t i = 0;

    snprintf(buf, size, "TLP:%s", tlp);
    for (i = 4; buf[i]; i++)
        buf[i] = (char)toupper((unsigned char)buf[i]);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "unknown";
}

static void print_text(const json_t *doc)
{
    const json_t *m, *r;
    size_t i, j;
    char label[32];

    json_array_foreach(json_object_get(doc, "messages"), i, m)
    {
        const json_t *rs = json_object_get(m, "recipients"),
                     *us = json_object_get(m, "unexpected");

        tlp_upper(str(m, "tlp"), label, sizeof(label));
        printf("%s  %s %s  %s  sent %s\n", str(m, "message_id"), str(m, "type"),
               str(m, "subject"), label, str(m, "sent"));
        if (!json_is_true(json_object_get(m, "receipts_due")))
            printf("    (no receipts are due for this label)\n");
        json_array_foreach(rs, j, r)
        {
            if (json_is_true(json_object_get(r, "received")))
                printf("    %-24s received %s (broker time %s)\n",
                       str(r, "participant"), str(r, "delivered_at"),
                       str(r, "appended_at"));
            else
                printf("    %-24s not yet\n", str(r, "participant"));
        }
        json_array_foreach(us, j, r)
            printf("    %-24s received %s (broker time %s), unexpected: "
                   "not a recipient under the current directory\n",
                   str(r, "participant"), str(r, "delivered_at"),
                   str(r, "appended_at"));
    }
}

int cishare_cmd_receipts(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"message", required_argument, NULL, 'm'},
        {"pending", no_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"archive", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_cli_conf_t cc = {NULL, calloc((size_t)argc + 1, sizeof(char *)), 0};
    cishare_directory_t *dir = NULL;
    cishare_archive_t *a = NULL;
    const cishare_participant_t *me;
    const char *message = NULL, *archive = NULL;
    bool pending = false, as_json = false;
    char errstr[1024] = "";
    json_t *doc = NULL;
    json_int_t missing;
    cishare_err_t err;
    int c, rc;

    if (!conf || !cc.xs) {
        cishare_config_destroy(conf);
        free(cc.xs);
        cishare_cli_error("receipts: out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:m:pja:X:h", lopts, NULL)) != -1) {
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case 'm':
            message = optarg;
            break;
        case 'p':
            pending = true;
            break;
        case 'j':
            as_json = true;
            break;
        case 'a':
            archive = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = CISHARE_EXIT_OK;
            goto done;
        default:
            rc = cishare_cli_usage_error("receipts", "unknown option");
            goto done;
        }
    }
    if ((rc = cishare_cli_conf_args(&cc, "receipts", argc, argv)) ||
        (rc = cishare_cli_conf_load(&cc, conf, "receipts")))
        goto done;
    if (message && !*message) {
        rc = cishare_cli_usage_error("receipts",
                                     "--message: a message id is required");
        goto done;
    }
    if ((rc = cishare_archive_cli_open("receipts", conf, archive, &dir, &me,
                                       &a)))
        goto done;
    if ((err =
             cishare_receipts_report(a, dir, me, message, cishare_time_now_ms(),
                                     &doc, errstr, sizeof(errstr)))) {
        cishare_cli_error("receipts: %s", errstr);
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    missing = json_integer_value(json_object_get(doc, "pending"));
    if (as_json) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else {
        print_text(doc);
        cishare_cli_info("%zu message(s) of %s; %lld expected receipt(s) "
                         "missing",
                         json_array_size(json_object_get(doc, "messages")),
                         me->id, (long long)missing);
    }
    rc = pending && missing > 0 ? CISHARE_EXIT_FAIL : CISHARE_EXIT_OK;
done:
    json_decref(doc);
    cishare_archive_close(a);
    cishare_directory_destroy(dir);
    cishare_config_destroy(conf);
    free(cc.xs);
    return rc;
}
