/*
 * cishare - the one command-line program. Each subcommand's code lives with
 * its side of the system (broker/, producers/, consumers/); this file only
 * dispatches, like git.
 */
#include "cishare/cli.h"
#include "cishare/log.h"
#include "cishare/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cishare_cmd_fn cishare_cmd_dev_broker, cishare_cmd_demo, cishare_cmd_keys,
    cishare_cmd_encode, cishare_cmd_decode, cishare_cmd_inspect,
    cishare_cmd_schema, cishare_cmd_directory, cishare_cmd_policy,
    cishare_cmd_publish, cishare_cmd_alert, cishare_cmd_feed,
    cishare_cmd_provision, cishare_cmd_config, cishare_cmd_relay;
cishare_cmd_fn cishare_cmd_sighting, cishare_cmd_revoke;
cishare_cmd_fn cishare_cmd_incidents, cishare_cmd_receipts, cishare_cmd_report;
cishare_cmd_fn cishare_cmd_serve, cishare_cmd_misp_bridge, cishare_cmd_doctor;

static const struct {
    const char *name;
    cishare_cmd_fn *fn;
    const char *summary;
} commands[] = {
    {"demo", cishare_cmd_demo,
     "run the sharing scenario on the embedded broker and show who got what"},
    {"dev-broker", cishare_cmd_dev_broker,
     "serve an embedded Kafka-protocol broker (librdkafka mock cluster)"},
    {"publish", cishare_cmd_publish,
     "sign, encrypt and publish indicators, incidents, ... "
     "(JSON/STIX/MISP/CSV)"},
    {"alert", cishare_cmd_alert,
     "issue an alert (注意喚起) to all sectors or selected ones"},
    {"sighting", cishare_cmd_sighting,
     "tell an indicator's originator it was seen, or is a false positive"},
    {"revoke", cishare_cmd_revoke,
     "withdraw a subject you published, to the audience it went to"},
    {"feed", cishare_cmd_feed,
     "verify, decrypt and filter a participant's feed into sinks"},
    {"serve", cishare_cmd_serve,
     "serve a participant's feed over TAXII 2.1 (and its MISP feed) on HTTPS"},
    {"misp-bridge", cishare_cmd_misp_bridge,
     "publish what a MISP instance publishes to Kafka, signed, into cishare"},
    {"relay", cishare_cmd_relay,
     "pass on what a CEPTOAR, ministry or the office received, by its rules"},
    {"incidents", cishare_cmd_incidents,
     "list incidents by stage, with reporting deadlines met or overdue"},
    {"receipts", cishare_cmd_receipts,
     "show who received each message you sent, and who has not yet"},
    {"report", cishare_cmd_report,
     "the evaluation report of a period (text, JSON, CSV or HTML)"},
    {"provision", cishare_cmd_provision,
     "create topics and ACLs on a real Kafka cluster from the directory"},
    {"directory", cishare_cmd_directory,
     "validate, sign or show the participant directory"},
    {"policy", cishare_cmd_policy,
     "ask the TLP policy engine whether a participant receives a message"},
    {"doctor", cishare_cmd_doctor,
     "check a participant's config, directory, certificate, brokers, ACLs"},
    {"keys", cishare_cmd_keys, "generate a participant's key pair"},
    {"config", cishare_cmd_config,
     "print a config's Kafka connection keys for kcat (-F)"},
    {"encode", cishare_cmd_encode,
     "native JSON message -> Avro single-object bytes"},
    {"decode", cishare_cmd_decode, "Avro single-object bytes -> native JSON"},
    {"inspect", cishare_cmd_inspect,
     "show envelope, verification result and payload of a message"},
    {"schema", cishare_cmd_schema, "list the message schemas and fingerprints"},
};

static void usage(FILE *fp)
{
    size_t i;

    fprintf(fp, "Usage: cishare <command> [options]\n"
                "\n"
                "TLP-enforcing threat-information sharing over Apache Kafka.\n"
                "\n"
                "Commands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(fp, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n"
                "Options:\n"
                "  -h, --help     show this help\n"
                "  -V, --version  show the version\n"
                "  --log-format json|text\n"
                "                 stderr as text (\"%% ...\" lines, the "
                "default) or one JSON\n"
                "                 object per line; anywhere on the command "
                "line, over\n"
                "                 CISHARE_LOG_FORMAT=json|text and the "
                "config key\n"
                "                 cishare.log.format (README \"Logs\")\n"
                "\n"
                "Run 'cishare <command> --help' for a command's options.\n"
                "Exit status: 0 success, 1 failure or refusal, 2 bad usage "
                "or input.\n");
}

/*
 * The log format (log.h): CISHARE_LOG_FORMAT, then --log-format X or
 * --log-format=X taken out of argv wherever it is before "--", so every
 * command accepts it before or after its name. The last one given wins.
 * Returns CISHARE_EXIT_OK or CISHARE_EXIT_USAGE (said why).
 */
static int log_format_args(int *argcp, char **argv)
{
    const char *env = getenv("CISHARE_LOG_FORMAT"), *val;
    cishare_log_format_t fmt;
    int i, o, argc = *argcp;

    if (env && *env) {
        if (cishare_log_format_parse(env, &fmt)) {
            cishare_cli_error("CISHARE_LOG_FORMAT: expected json or text, "
                              "not '%s'",
                              env);
            return CISHARE_EXIT_USAGE;
        }
        cishare_log_set_format(fmt, CISHARE_LOG_SRC_ENV);
    }
    for (i = o = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            while (i < argc)
                argv[o++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--log-format")) {
            if (i + 1 == argc) {
                cishare_cli_error("--log-format: expected json or text");
                return CISHARE_EXIT_USAGE;
            }
            val = argv[++i];
        } else if (!strncmp(argv[i], "--log-format=", 13))
            val = argv[i] + 13;
        else {
            argv[o++] = argv[i];
            continue;
        }
        if (cishare_log_format_parse(val, &fmt)) {
            cishare_cli_error("--log-format: expected json or text, not '%s'",
                              val);
            fprintf(stderr, "%% Try 'cishare --help'.\n");
            return CISHARE_EXIT_USAGE;
        }
        cishare_log_set_format(fmt, CISHARE_LOG_SRC_OPTION);
    }
    argv[o] = NULL;
    *argcp = o;
    return CISHARE_EXIT_OK;
}

int main(int argc, char **argv)
{
    size_t i;
    int rc;

    if ((rc = log_format_args(&argc, argv)))
        return rc;
    if (argc < 2) {
        usage(stderr);
        return CISHARE_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return CISHARE_EXIT_OK;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("cishare %s\n", CISHARE_VERSION);
        return CISHARE_EXIT_OK;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) {
            cishare_log_set_component(commands[i].name);
            return commands[i].fn(argc - 1, argv + 1);
        }

    if (argv[1][0] == '-')
        cishare_cli_error("unknown option '%s'", argv[1]);
    else
        cishare_cli_error("unknown command '%s'", argv[1]);
    fprintf(stderr, "%% Try 'cishare --help'.\n");
    return CISHARE_EXIT_USAGE;
}
