/*
 * cishare sighting: tell the originator of an indicator that it was seen
 * here, or that it is a false positive. The sighting goes to the
 * originator only (TLP:AMBER, its inbox), or with --anonymise to the
 * sighter's CEPTOAR for its relay to pass on without the sighter's
 * identity (sighting.h). Published through the pipeline of `cishare
 * publish`.
 */
#include "publish_cli.h"
#include "sighting.h"

#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare sighting -c CONFIG --subject ID --origin ID "
        "[--false-positive]\n"
        "                        [--count N] [--first-seen T] [--last-seen "
        "T]\n"
        "                        [--note TEXT] [--anonymise] [options]\n"
        "\n"
        "Tell the participant that published an indicator (or incident, "
        "alert) that\n"
        "it was seen here, or that it is a false positive. The sighting "
        "goes to that\n"
        "participant only, as TLP:AMBER (audience participant:<origin>, its "
        "inbox);\n"
        "the sighter's peers do not see it.\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE     client config (as for publish)\n"
        "  -X key=value          set one config key\n"
        "  -s, --subject ID      the sighted subject, e.g. "
        "indicator--<uuid> (required)\n"
        "  -o, --origin ID       the participant that published it "
        "(required)\n"
        "  -F, --false-positive  report a false positive rather than a "
        "sighting\n"
        "      --count N         how many times it was seen (default 1)\n"
        "      --first-seen T    first time seen (RFC 3339)\n"
        "      --last-seen T     last time seen (RFC 3339)\n"
        "      --note TEXT       free-text context\n"
        "      --anonymise       send it to your CEPTOAR instead, which "
        "removes your\n"
        "                        identity before passing it to the origin\n"
        "  -n, --dry-run         build and check, send nothing\n"
        "  -v, --verbose         print the published record\n"
        "  -j, --json            print the sighting message (native JSON) "
        "on stdout\n"
        "  -h, --help            show this help\n"
        "Exit status: 0 published, 1 refused or not delivered, or Kafka or "
        "the file\n"
        "system failed, 2 bad usage, config, directory or certificate.\n");
}

int cishare_cmd_sighting(int argc, char **argv)
{
    enum { O_COUNT = 256, O_FIRST, O_LAST, O_NOTE, O_ANON };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"subject", required_argument, NULL, 's'},
        {"origin", required_argument, NULL, 'o'},
        {"false-positive", no_argument, NULL, 'F'},
        {"count", required_argument, NULL, O_COUNT},
        {"first-seen", required_argument, NULL, O_FIRST},
        {"last-seen", required_argument, NULL, O_LAST},
        {"note", required_argument, NULL, O_NOTE},
        {"anonymise", no_argument, NULL, O_ANON},
        {"anonymize", no_argument, NULL, O_ANON},
        {"dry-run", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_publisher_t *pub = NULL;
    cishare_publish_conf_opts_t co = {0};
    cishare_publish_opt_t po;
    cishare_sighting_opts_t so = {0};
    json_t *msg = NULL;
    int c, rc = CISHARE_EXIT_USAGE;
    int64_t now = cishare_time_now_ms();
    char errstr[2048];
    cishare_err_t err;

    if (!conf) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:s:o:Fnvjh", opts, NULL)) != -1) {
        po = cishare_publish_common_opt(&co, conf, "sighting", c, optarg, usage,
                                        &rc);
        if (po != CISHARE_PUBLISH_OPT_OWN) {
            if (po == CISHARE_PUBLISH_OPT_EXIT)
                goto out; /* --help, or a bad -c/-X */
            continue;
        }
        switch (c) {
        case 's':
            so.subject = optarg;
            break;
        case 'o':
            so.origin = optarg;
            break;
        case 'F':
            so.false_positive = true;
            break;
        case O_COUNT:
            so.count = optarg;
            break;
        case O_FIRST:
            so.first_seen = optarg;
            break;
        case O_LAST:
            so.last_seen = optarg;
            break;
        case O_NOTE:
            so.note = optarg;
            break;
        case O_ANON:
            so.anonymise = true;
            break;
        default:
            rc = cishare_cli_usage_error("sighting", "bad option");
            goto out;
        }
    }
    if (!cishare_publish_args_finish(&co, conf, "sighting", argc, argv))
        goto out; /* CISHARE_EXIT_USAGE */
    /* the user's input first: nothing is opened for a bad option */
    if (cishare_sighting_check(&so, now, errstr, sizeof(errstr))) {
        rc = cishare_cli_usage_error("sighting", "%s", errstr);
        goto out;
    }
    if ((rc = cishare_publish_open(conf, co.dry_run, &pub)) != CISHARE_EXIT_OK)
        goto out;
    if ((err = cishare_sighting_build(cishare_publisher_directory(pub),
                                      cishare_publisher_me(pub), &so, now, &msg,
                                      errstr, sizeof(errstr)))) {
        if (err == CISHARE_ERR_NOMEM) {
            cishare_cli_error("%s", errstr);
            rc = CISHARE_EXIT_FAIL;
        } else {
            rc = cishare_cli_usage_error("sighting", "%s", errstr);
        }
        goto out;
    }
    if (co.print_json) {
        char *s = json_dumps(msg, JSON_INDENT(2));
        if (s)
            puts(s);
        free(s);
        fflush(stdout);
    }
    if (cishare_publisher_submit(pub, msg,
                                 json_string_value(json_object_get(
                                     json_object_get(msg, "payload"), "id")),
                                 -1, NULL)) {
        cishare_cli_error("out of memory");
        rc = CISHARE_EXIT_FAIL;
        goto out;
    }
    cishare_publish_flush(pub, conf);
    rc = cishare_publish_report(pub, co.dry_run, co.verbose, NULL);
out:
    cishare_publisher_destroy(pub);
    json_decref(msg);
    cishare_config_destroy(conf);
    return rc;
}
