/*
 * cishare revoke: the originator withdraws a subject it published. The
 * revocation goes to the same audience, at the same label, as the
 * message it withdraws: both are read from the publication journal
 * (pubjournal.h) that the publisher writes after delivery; one
 * revocation per distinct (label, audience) the subject was published
 * under, so that every recipient of any version drops it. A subject
 * published elsewhere needs --tlp (and --audience). Only the originator
 * revokes: the command signs as the configured participant, and feeds
 * remove a subject only for a revocation of the origin that published
 * it (sinks key their state by origin).
 */
#include "publish_cli.h"
#include "pubjournal.h"
#include "sighting.h"

#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"
#include "cishare/types.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare revoke -c CONFIG --subject ID [--reason TEXT] "
            "[options]\n"
            "\n"
            "Withdraw a subject (indicator, incident, alert) that this "
            "participant\n"
            "published: every recipient removes it from its sinks. The "
            "revocation goes\n"
            "to the audience, at the label, the subject was published with, "
            "as recorded\n"
            "in <state-dir>/published.jsonl after delivery (one revocation per "
            "audience\n"
            "when it was published under several).\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE        client config (as for publish)\n"
            "  -X key=value             set one config key\n"
            "  -s, --subject ID         the subject to withdraw (required)\n"
            "  -r, --reason TEXT        why, e.g. \"false positive\"\n"
            "  -t, --tlp LABEL          for a subject not in the journal "
            "(published from\n"
            "                           elsewhere): the label it was published "
            "with\n"
            "  -a, --audience ITEM,...  with --tlp: its audience (default: the "
            "label's)\n"
            "  -n, --dry-run            build and check, send nothing\n"
            "  -v, --verbose            print every published record\n"
            "  -j, --json               print the revocation message(s) on "
            "stdout\n"
            "  -h, --help               show this help\n"
            "Exit status: 0 published, 1 refused or not delivered, or Kafka or "
            "the file\n"
            "system failed, 2 bad usage (an unknown subject without --tlp), "
            "config,\n"
            "directory or certificate.\n");
}

int cishare_cmd_revoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"subject", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'r'},
        {"tlp", required_argument, NULL, 't'},
        {"audience", required_argument, NULL, 'a'},
        {"dry-run", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_publisher_t *pub = NULL;
    cishare_publish_conf_opts_t co = {0};
    cishare_publish_opt_t po;
    cishare_pubjournal_entry_t *ents = NULL, one = {0};
    const cishare_pubjournal_entry_t *use;
    json_t **msgs = NULL;
    const char *subject = NULL, *reason = NULL, *audience = NULL, *me;
    size_t nents = 0, bad = 0, i, n;
    int c, rc = CISHARE_EXIT_USAGE;
    bool have_tlp = false;
    cishare_tlp_t tlp = CISHARE_TLP_GREEN;
    char errstr[2048], path[4200], t[32], uuid[37], id[64], rec[640];

    if (!conf) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:s:r:t:a:nvjh", opts, NULL)) !=
           -1) {
        po = cishare_publish_common_opt(&co, conf, "revoke", c, optarg, usage,
                                        &rc);
        if (po != CISHARE_PUBLISH_OPT_OWN) {
            if (po == CISHARE_PUBLISH_OPT_EXIT)
                goto out; /* --help, or a bad -c/-X */
            continue;
        }
        switch (c) {
        case 's':
            subject = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 't':
            if (!cishare_publish_tlp_opt("revoke", optarg, &tlp, &rc))
                goto out;
            have_tlp = true;
            break;
        case 'a':
            audience = optarg;
            break;
        default:
            rc = cishare_cli_usage_error("revoke", "bad option");
            goto out;
        }
    }
    if (!cishare_publish_args_finish(&co, conf, "revoke", argc, argv))
        goto out; /* CISHARE_EXIT_USAGE */
    if (cishare_subject_check("--subject", subject, errstr, sizeof(errstr))) {
        rc = cishare_cli_usage_error("revoke", "%s", errstr);
        goto out;
    }
    if (audience && !have_tlp) {
        rc = cishare_cli_usage_error(
            "revoke", "--audience needs --tlp (the label the subject was "
                      "published with)");
        goto out;
    }
    if (reason && !*reason)
        reason = NULL;
    if (reason) {
        json_t *j = json_string(reason);
        if (!j) {
            rc = cishare_cli_usage_error("revoke", "--reason: not valid UTF-8");
            goto out;
        }
        json_decref(j);
    }

    /* Where it went: given, or from the journal. */
    me = cishare_config_get(conf, CISHARE_CONF_PARTICIPANT);
    if (have_tlp) {
        one.tlp = (char *)cishare_tlp_name(tlp);
        one.audience = (char *)audience; /* NULL: the label's default */
        use = &one;
        nents = 1;
    } else {
        if (cishare_pubjournal_path(conf, path, sizeof(path), errstr,
                                    sizeof(errstr)) ||
            cishare_pubjournal_lookup(path, me ? me : "", subject, &ents,
                                      &nents, &bad, errstr, sizeof(errstr))) {
            cishare_cli_error("%s", errstr);
            rc = CISHARE_EXIT_FAIL;
            goto out;
        }
        if (bad)
            cishare_cli_info("%s: %zu unreadable line(s) skipped", path, bad);
        if (!nents) {
            rc = cishare_cli_usage_error(
                "revoke",
                "--subject %s: %s did not publish it from here (not in "
                "%s); give --tlp and --audience it was published with to "
                "revoke it anyway",
                subject, me ? me : "this participant", path);
            goto out;
        }
        use = ents;
    }

    if ((rc = cishare_publish_open(conf, co.dry_run, &pub)) != CISHARE_EXIT_OK)
        goto out;
    if (!(msgs = calloc(nents, sizeof(*msgs))))
        goto nomem;
    cishare_time_format(cishare_time_now_ms(), t);
    for (n = 0; n < nents; n++) {
        cishare_uuid_v4(uuid);
        snprintf(id, sizeof(id), "revocation--%s", uuid);
        if (!(msgs[n] = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s?}}", "type",
                                  "revocation", "tlp", use[n].tlp, "payload",
                                  "id", id, "created", t, "revokes", subject,
                                  "reason", reason)))
            goto nomem;
        if (co.print_json) {
            char *s = json_dumps(msgs[n], JSON_INDENT(2));
            if (s)
                puts(s);
            free(s);
        }
        snprintf(rec, sizeof(rec), "revocation of %.300s (%s, %.200s)", subject,
                 use[n].tlp,
                 use[n].audience ? use[n].audience : "default audience");
        if (cishare_publisher_submit(pub, msgs[n], rec, -1, use[n].audience))
            goto nomem;
    }
    fflush(stdout);
    cishare_publish_flush(pub, conf);
    rc = cishare_publish_report(pub, co.dry_run, co.verbose, NULL);
    goto out;
nomem:
    cishare_cli_error("out of memory");
    rc = CISHARE_EXIT_FAIL;
out:
    cishare_publisher_destroy(pub);
    for (i = 0; msgs && i < nents; i++)
        json_decref(msgs[i]);
    free(msgs);
    cishare_pubjournal_entries_free(ents, nents);
    cishare_config_destroy(conf);
    return rc;
}
