/*
 * cishare incidents: the incidents this participant knows, from its
 * feed's archive (archive.h), by stage, with the mandatory reporting
 * deadlines of the signed directory met, late, pending or overdue
 * (incidents.h). --overdue is for cron and monitoring: exit 1 when a
 * report is overdue.
 */
#include "archive.h"
#include "incidents.h"

#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cishare_cmd_incidents(int argc, char **argv);

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare incidents -c CONFIG [--open|--overdue|--all] "
        "[--json]\n"
        "                         [--archive FILE] [-X key=value]...\n"
        "\n"
        "List the incidents participant P (cishare.participant) knows, from "
        "the archive\n"
        "its feed keeps: an operator's own incidents and those shared with "
        "it, a\n"
        "ministry's and the coordination office's received ones. For each: "
        "reporter\n"
        "(or \"anonymised\"), the stage reached, category, impact and mode, "
        "detected-at,\n"
        "every notice (stage, times, out-of-order flag) and, for mandatory "
        "incidents,\n"
        "the reporting deadlines of the signed directory (`reporting:`):\n"
        "  met / late     filed (the first notice at that stage or later) "
        "by / after\n"
        "                 the due time, on the broker's append time; for "
        "P's own\n"
        "                 incidents the competent ministry's signed receipt "
        "is the\n"
        "                 evidence\n"
        "  unconfirmed    P's own report, filed, but no ministry receipt "
        "yet\n"
        "  pending        not filed, not due yet\n"
        "  overdue        not filed, past due\n"
        "  n/a            voluntary, or no deadline in the directory\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE   client configuration (required)\n"
        "      --open          incidents not closed (default)\n"
        "      --overdue       only incidents with an overdue report; exit 1 "
        "when any\n"
        "      --all           every incident\n"
        "  -j, --json          one JSON array on stdout\n"
        "      --archive FILE  the archive (default <cishare.state-dir>/"
        "archive.db,\n"
        "                      else ./archive.db: the feed's --out)\n"
        "  -X key=value        set a configuration key\n"
        "  -h, --help          show this help\n"
        "Exit status: 0 ok (--overdue: none overdue), 1 an overdue report "
        "(--overdue),\n"
        "or the archive is missing or unreadable, 2 bad usage, "
        "configuration or\n"
        "directory.\n");
}

typedef enum { SHOW_OPEN, SHOW_OVERDUE, SHOW_ALL } show_t;

static json_t *jtime(int64_t ms)
{
    char buf[32];

    if (ms <= 0)
        return json_null();
    cishare_time_format(ms, buf);
    return json_string(buf);
}

static void ptime(char buf[32], int64_t ms)
{
    if (ms <= 0)
        snprintf(buf, 32, "-");
    else
        cishare_time_format(ms, buf);
}

static const char *const dl_label[CISHARE_DEADLINE__CNT] = {"preliminary",
                                                            "detailed"};

static json_t *to_json(const cishare_incident_t *inc)
{
    json_t *o = json_object(), *ns = json_array(), *ds = json_object();
    size_t i;
    int k;

    if (!o || !ns || !ds) {
        json_decref(o);
        json_decref(ns);
        json_decref(ds);
        return NULL;
    }
    for (i = 0; i < inc->notice_cnt; i++) {
        const cishare_incident_notice_t *n = &inc->notices[i];
        json_array_append_new(
            ns,
            json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "message_id",
                      n->message_id, "stage", n->stage, "created",
                      jtime(n->created_ms), "appended", jtime(n->appended_ms),
                      "delivered", jtime(n->delivered_ms), "reported_at",
                      jtime(n->reported_ms), "flag",
                      n->flag ? json_string(n->flag) : json_null()));
    }
    for (k = 0; k < CISHARE_DEADLINE__CNT; k++) {
        const cishare_incident_deadline_t *d = &inc->deadline[k];
        json_object_set_new(ds, dl_label[k],
                            json_pack("{s:s, s:o, s:o, s:s}", "status",
                                      cishare_dl_status_name(d->status), "due",
                                      jtime(d->due_ms), "filed",
                                      jtime(d->filed_ms), "evidence",
                                      d->evidence));
    }
    json_object_set_new(o, "origin", json_string(inc->origin));
    json_object_set_new(o, "incident_id", json_string(inc->incident_id));
    json_object_set_new(o, "title", json_string(inc->title));
    json_object_set_new(o, "reporter", json_string(inc->reporter));
    json_object_set_new(o, "sector", json_string(inc->sector));
    json_object_set_new(o, "stage", json_string(inc->stage));
    json_object_set_new(o, "category", json_string(inc->category));
    json_object_set_new(o, "impact", json_string(inc->impact));
    json_object_set_new(o, "operating_mode", json_string(inc->mode));
    json_object_set_new(o, "legal_basis", json_string(inc->legal_basis));
    json_object_set_new(o, "mandatory", json_boolean(inc->mandatory));
    json_object_set_new(o, "mine", json_boolean(inc->mine));
    json_object_set_new(o, "open", json_boolean(cishare_incident_open(inc)));
    json_object_set_new(o, "overdue",
                        json_boolean(cishare_incident_overdue(inc)));
    json_object_set_new(o, "flagged", json_boolean(inc->flagged));
    json_object_set_new(o, "detected_at", jtime(inc->detected_ms));
    json_object_set_new(o, "nco_received_at", jtime(inc->nco_received_ms));
    json_object_set_new(o, "notices", ns);
    json_object_set_new(o, "deadlines", ds);
    return o;
}

static void print_text(FILE *fp, const cishare_incident_t *inc)
{
    char t1[32], t2[32], t3[32];
    size_t i;
    int k;

    fprintf(fp, "%s  %s%s%s\n", inc->incident_id, inc->stage,
            cishare_incident_open(inc) ? "" : " (closed)",
            inc->flagged ? "  FLAGGED" : "");
    if (inc->title && *inc->title)
        fprintf(fp, "  title:     %s\n", inc->title);
    if (strcmp(inc->reporter, inc->origin))
        fprintf(fp, "  reporter:  %s (from %s)  sector: %s\n", inc->reporter,
                inc->origin, inc->sector);
    else
        fprintf(fp, "  reporter:  %s%s  sector: %s\n", inc->reporter,
                inc->mine ? " (this participant)" : "", inc->sector);
    fprintf(fp, "  category:  %s  impact: %s  mode: %s  legal basis: %s\n",
            inc->category, inc->impact, inc->mode, inc->legal_basis);
    ptime(t1, inc->detected_ms);
    fprintf(fp, "  detected:  %s\n", t1);
    if (inc->nco_received_ms) {
        ptime(t1, inc->nco_received_ms);
        fprintf(fp, "  office received: %s\n", t1);
    }
    fprintf(fp, "  notices:\n");
    for (i = 0; i < inc->notice_cnt; i++) {
        const cishare_incident_notice_t *n = &inc->notices[i];
        ptime(t1, n->appended_ms);
        ptime(t2, n->delivered_ms);
        fprintf(fp, "    %-11s appended %s  delivered %s  %s%s%s\n", n->stage,
                t1, t2, n->message_id, n->flag ? "  " : "",
                n->flag ? n->flag : "");
    }
    fprintf(fp, "  deadlines:\n");
    for (k = 0; k < CISHARE_DEADLINE__CNT; k++) {
        const cishare_incident_deadline_t *d = &inc->deadline[k];
        ptime(t1, d->due_ms);
        ptime(t3, d->filed_ms);
        fprintf(fp, "    %-11s %-11s due %s  filed %s%s%s\n", dl_label[k],
                cishare_dl_status_name(d->status), t1, t3,
                *d->evidence ? "  " : "", d->evidence);
    }
}

int cishare_cmd_incidents(int argc, char **argv)
{
    enum { O_OPEN = 256, O_OVERDUE, O_ALL, O_ARCHIVE };
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"open", no_argument, NULL, O_OPEN},
        {"overdue", no_argument, NULL, O_OVERDUE},
        {"all", no_argument, NULL, O_ALL},
        {"json", no_argument, NULL, 'j'},
        {"archive", required_argument, NULL, O_ARCHIVE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_cli_conf_t cc = {NULL, calloc((size_t)argc + 1, sizeof(char *)), 0};
    cishare_directory_t *dir = NULL;
    cishare_archive_t *a = NULL;
    cishare_incident_list_t l = {0};
    const char *archive = NULL, *me;
    const cishare_participant_t *mep;
    char errstr[2048];
    json_t *arr = NULL;
    show_t show = SHOW_OPEN;
    bool json = false;
    size_t i, shown = 0, overdue = 0;
    int c, rc = CISHARE_EXIT_USAGE, modes = 0;
    cishare_err_t err;

    if (!conf || !cc.xs) {
        cishare_cli_error("incidents: out of memory");
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:jh", lopts, NULL)) != -1) {
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case O_OPEN:
            show = SHOW_OPEN;
            modes++;
            break;
        case O_OVERDUE:
            show = SHOW_OVERDUE;
            modes++;
            break;
        case O_ALL:
            show = SHOW_ALL;
            modes++;
            break;
        case 'j':
            json = true;
            break;
        case O_ARCHIVE:
            archive = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = CISHARE_EXIT_OK;
            goto done;
        default:
            rc = cishare_cli_usage_error("incidents", "bad option");
            goto done;
        }
    }
    if (modes > 1) {
        rc = cishare_cli_usage_error(
            "incidents", "--open, --overdue and --all exclude each other");
        goto done;
    }
    if ((rc = cishare_cli_conf_args(&cc, "incidents", argc, argv)) ||
        (rc = cishare_cli_conf_load(&cc, conf, "incidents")))
        goto done;
    if ((rc = cishare_archive_cli_open("incidents", conf, archive, &dir, &mep,
                                       &a)))
        goto done;
    rc = CISHARE_EXIT_FAIL;
    me = mep->id;
    if ((err = cishare_incidents_load(a, dir, me, cishare_time_now_ms(), 0, 0,
                                      &l, errstr, sizeof(errstr)))) {
        cishare_cli_error("incidents: %s", errstr);
        goto done;
    }
    if (json && !(arr = json_array())) {
        cishare_cli_error("incidents: out of memory");
        goto done;
    }
    for (i = 0; i < l.cnt; i++) {
        const cishare_incident_t *inc = &l.items[i];
        bool od = cishare_incident_overdue(inc);

        overdue += od;
        if ((show == SHOW_OPEN && !cishare_incident_open(inc)) ||
            (show == SHOW_OVERDUE && !od))
            continue;
        shown++;
        if (json) {
            json_t *o = to_json(inc);
            if (!o || json_array_append_new(arr, o)) {
                cishare_cli_error("incidents: out of memory");
                goto done;
            }
        } else {
            if (shown > 1)
                putchar('\n');
            print_text(stdout, inc);
        }
    }
    if (json && json_dumpf(arr, stdout, JSON_INDENT(2)) == 0)
        putchar('\n');
    fflush(stdout);
    cishare_cli_info("incidents: %zu shown of %zu in %s; %zu with an overdue "
                     "report",
                     shown, l.cnt, cishare_archive_path(a), overdue);
    rc = show == SHOW_OVERDUE && overdue ? CISHARE_EXIT_FAIL : CISHARE_EXIT_OK;
done:
    json_decref(arr);
    cishare_incident_list_clear(&l);
    cishare_archive_close(a);
    cishare_directory_destroy(dir);
    cishare_config_destroy(conf);
    free(cc.xs);
    return rc;
}
