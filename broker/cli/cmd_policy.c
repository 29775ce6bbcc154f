/*
 * cishare policy check: ask the TLP policy engine about one delivery, as a
 * feed decides it: the publish rules (P1-P8) on the origin's message, then
 * direct delivery (rules 1-6) or, with --relay, re-sharing (rules a-i).
 * The rules are in cishare/policy.h.
 */
#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/directory.h"
#include "cishare/policy.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRBUF_SIZE 16384

static void policy_usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare policy check --directory FILE --participant ID "
        "--tlp LABEL\n"
        "                            --origin ID [--audience ITEM,...] "
        "[--relay ID]\n"
        "                            [--relay-tlp LABEL] [--type TYPE]\n"
        "                            [--consent-forward yes|no] "
        "[--anonymise]\n"
        "                            [--root-key FILE]\n"
        "\n"
        "Does participant ID receive a message of label LABEL from ORIGIN?\n"
        "Prints 'deliver' or 'withhold: <reason>' on the first line and "
        "'reason: <code>'\n"
        "on the second; when the origin may not publish the message at all "
        "(publish\n"
        "rules, checked first as every feed does), a third line 'rule: "
        "<details>'.\n"
        "\n"
        "Options:\n"
        "  -d, --directory FILE    signed participant directory\n"
        "  -r, --root-key FILE     pinned root public key (default: "
        "root.pub beside it)\n"
        "  -p, --participant ID    the receiving participant\n"
        "  -t, --tlp LABEL         clear, green, amber, amber+strict, red "
        "(any case,\n"
        "                          optional 'TLP:' prefix; white = clear)\n"
        "  -o, --origin ID         the publishing participant\n"
        "  -a, --audience ITEMS    comma-separated: all, sector:<code>, "
        "role:<role>,\n"
        "                          participant:<id> (default: all for "
        "CLEAR/GREEN,\n"
        "                          the origin's first sector for AMBER; RED "
        "has none)\n"
        "  -R, --relay ID          ask instead whether the participant "
        "receives the\n"
        "                          message when relay ID re-shares it\n"
        "  -T, --relay-tlp LABEL   label of the relayed copy (default: the "
        "same label)\n"
        "  -y, --type TYPE         indicator (default), incident, alert, "
        "sighting,\n"
        "                          revocation\n"
        "  -c, --consent-forward yes|no\n"
        "                          an incident notice's consent_forward "
        "(implies\n"
        "                          --type incident; default no, as in the "
        "schema):\n"
        "                          without consent no relay forwards it; with "
        "it the\n"
        "                          origin's ministry may forward it to the "
        "coordination\n"
        "                          office\n"
        "  -A, --anonymise         the payload asks for anonymisation: the "
        "audience must\n"
        "                          be the one participant that anonymises it "
        "(the\n"
        "                          origin's CEPTOAR, its ministry or the "
        "coordination\n"
        "                          office)\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: 0 deliver, 1 withhold, 2 bad input (unknown "
        "participant or\n"
        "label, refused audience, refused directory).\n");
}

static int lookup(const cishare_directory_t *dir, const char *id,
                  const char *what, const cishare_participant_t **pp)
{
    *pp = cishare_directory_find(dir, id);
    if (!*pp) {
        cishare_cli_error("policy check: unknown %s '%s' (not in the "
                          "directory)",
                          what, id);
        return -1;
    }
    return 0;
}

static int policy_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"directory", required_argument, NULL, 'd'},
        {"root-key", required_argument, NULL, 'r'},
        {"participant", required_argument, NULL, 'p'},
        {"tlp", required_argument, NULL, 't'},
        {"origin", required_argument, NULL, 'o'},
        {"audience", required_argument, NULL, 'a'},
        {"relay", required_argument, NULL, 'R'},
        {"relay-tlp", required_argument, NULL, 'T'},
        {"type", required_argument, NULL, 'y'},
        {"consent-forward", required_argument, NULL, 'c'},
        {"anonymise", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *file = NULL, *root_key = NULL, *pid = NULL, *label = NULL,
               *origin_id = NULL, *audience = NULL, *relay_id = NULL,
               *relay_label = NULL, *type_name = NULL, *consent = NULL;
    const cishare_participant_t *p, *origin, *relay = NULL;
    cishare_directory_t *dir = NULL;
    cishare_audience_t aud = {NULL, 0};
    cishare_policy_msg_t msg;
    cishare_publish_msg_t pub;
    cishare_reason_t why = CISHARE_REASON_INVALID;
    cishare_msgtype_t type = CISHARE_MSG_INDICATOR;
    cishare_decision_t d;
    bool anonymise = false;
    cishare_tlp_t tlp, relay_tlp;
    char *errstr;
    int c, rc = CISHARE_EXIT_USAGE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:r:p:t:o:a:R:T:y:c:Ah", opts,
                            NULL)) != -1) {
        switch (c) {
        case 'd':
            file = optarg;
            break;
        case 'r':
            root_key = optarg;
            break;
        case 'p':
            pid = optarg;
            break;
        case 't':
            label = optarg;
            break;
        case 'o':
            origin_id = optarg;
            break;
        case 'a':
            audience = optarg;
            break;
        case 'R':
            relay_id = optarg;
            break;
        case 'T':
            relay_label = optarg;
            break;
        case 'y':
            type_name = optarg;
            break;
        case 'c':
            consent = optarg;
            break;
        case 'A':
            anonymise = true;
            break;
        case 'h':
            policy_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("policy", "bad option");
        }
    }
    if (optind < argc)
        return cishare_cli_usage_error(
            "policy",
            "unexpected argument '%s' (does the --directory glob match "
            "several files?)",
            argv[optind]);
    if (!file || !pid || !label || !origin_id)
        return cishare_cli_usage_error(
            "policy", "check needs --directory, --participant, --tlp and "
                      "--origin");
    if (!cishare_tlp_parse(label, &tlp))
        return cishare_cli_usage_error("policy", "unknown TLP label '%s'",
                                       label);
    relay_tlp = tlp;
    if (relay_label && !cishare_tlp_parse(relay_label, &relay_tlp))
        return cishare_cli_usage_error("policy", "unknown TLP label '%s'",
                                       relay_label);
    if (relay_label && !relay_id)
        return cishare_cli_usage_error("policy", "--relay-tlp needs --relay");
    if (type_name && !cishare_msgtype_parse(type_name, &type))
        return cishare_cli_usage_error(
            "policy",
            "--type: unknown message type '%s' (expected indicator, "
            "incident, alert, sighting or revocation)",
            type_name);
    if (consent && strcmp(consent, "yes") && strcmp(consent, "no"))
        return cishare_cli_usage_error(
            "policy", "--consent-forward: expected yes or no, not '%s'",
            consent);
    if (consent && !type_name)
        type = CISHARE_MSG_INCIDENT;
    if (consent && type != CISHARE_MSG_INCIDENT)
        return cishare_cli_usage_error(
            "policy",
            "--consent-forward is a field of incident notices, "
            "not of a %s",
            cishare_msgtype_name(type));
    if (anonymise && type != CISHARE_MSG_INCIDENT &&
        type != CISHARE_MSG_INDICATOR && type != CISHARE_MSG_SIGHTING)
        return cishare_cli_usage_error(
            "policy", "--anonymise: a %s has no anonymise field",
            cishare_msgtype_name(type));

    errstr = malloc(ERRBUF_SIZE);
    if (!errstr) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    /* a what-if tool: no trust state, but never an expired directory */
    if (cishare_directory_load(file, root_key, &dir, errstr, ERRBUF_SIZE) ||
        cishare_directory_check_expiry(dir, file, cishare_time_now_ms(), errstr,
                                       ERRBUF_SIZE)) {
        cishare_cli_error_lines("policy check: ", errstr);
        goto done;
    }
    if (lookup(dir, pid, "participant", &p) ||
        lookup(dir, origin_id, "origin", &origin) ||
        (relay_id && lookup(dir, relay_id, "relay", &relay)))
        goto done;
    if (cishare_audience_resolve(dir, tlp, origin, audience, &aud, errstr,
                                 ERRBUF_SIZE)) {
        cishare_cli_error("policy check: %s", errstr);
        goto done;
    }
    /* the publish rules first, as the feed applies them */
    pub.type = type;
    pub.tlp = tlp;
    pub.origin = origin;
    pub.audience = &aud;
    pub.sector = origin->sector_cnt ? origin->sectors[0] : "";
    pub.mandatory = 0;
    pub.anonymise = anonymise;
    pub.sighting_of = NULL;
    if (cishare_policy_check_publish(dir, &pub, &why, errstr, ERRBUF_SIZE)) {
        printf("withhold: %s\nreason: %s\nrule: %s\n", cishare_reason_text(why),
               cishare_reason_code(why), errstr);
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    msg.tlp = tlp;
    msg.origin = origin->id;
    msg.audience = &aud;
    msg.expires_ms = 0;
    msg.consent = type != CISHARE_MSG_INCIDENT         ? CISHARE_CONSENT_NA
                  : consent && !strcmp(consent, "yes") ? CISHARE_CONSENT_YES
                                                       : CISHARE_CONSENT_NO;
    msg.sighting_of = NULL; /* rule j needs a sighting's payload */
    d = relay ? cishare_policy_decide_reshare(dir, &msg, relay, relay_tlp, p, 0)
              : cishare_policy_decide(dir, &msg, p, 0);
    if (d.deliver)
        printf("deliver\n");
    else
        printf("withhold: %s\n", d.text);
    printf("reason: %s\n", cishare_reason_code(d.reason));
    rc = d.deliver ? CISHARE_EXIT_OK : CISHARE_EXIT_FAIL;
done:
    cishare_audience_clear(&aud);
    cishare_directory_destroy(dir);
    free(errstr);
    return rc;
}

int cishare_cmd_policy(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        policy_usage(stdout);
        return CISHARE_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check"))
        return cishare_cli_usage_error(
            "policy", "expected the subcommand 'check'%s%s",
            argc >= 2 ? ", not " : "", argc >= 2 ? argv[1] : "");
    return policy_check(argc - 1, argv + 1);
}
