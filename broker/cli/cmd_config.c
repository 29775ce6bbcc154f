/*
 * cishare config: print the librdkafka part of a cishare client config with
 * certificate paths made absolute, so that kcat and other librdkafka tools
 * use exactly the connection settings cishare uses (kcat -F refuses the
 * cishare.* keys and would read relative paths from its own folder).
 */
#include "cishare/cli.h"
#include "cishare/config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void config_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare config -c FILE [-X key=value]...\n"
            "\n"
            "Print the librdkafka keys of a cishare config (bootstrap, TLS "
            "certificates, ...)\n"
            "as key=value lines, certificate paths absolute, cishare.* keys "
            "left out:\n"
            "  kcat -F <(cishare config -c deploy/examples/op-power-a.conf) "
            "-L\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   the client config\n"
            "  -X key=value        override or add a key\n"
            "  -h, --help          show this help\n");
}

int cishare_cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    char errstr[512];
    const char *path = NULL;
    int c, rc = CISHARE_EXIT_OK;
    size_t i;

    if (!conf) {
        cishare_cli_error("config: out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    /* -X values are applied after the file, so collect them first. */
    char **xs = calloc((size_t)argc, sizeof(*xs));
    size_t xcnt = 0;
    if (!xs) {
        cishare_config_destroy(conf);
        return CISHARE_EXIT_FAIL;
    }
    while ((c = getopt_long(argc, argv, "c:X:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'X':
            xs[xcnt++] = optarg;
            break;
        case 'h':
            config_usage(stdout);
            goto out;
        default:
            rc = cishare_cli_usage_error("config", "bad option");
            goto out;
        }
    }
    if (optind < argc) {
        rc = cishare_cli_usage_error("config", "unexpected argument '%s'",
                                     argv[optind]);
        goto out;
    }
    if (!path) {
        rc = cishare_cli_usage_error("config", "-c FILE is required");
        goto out;
    }
    if (cishare_config_load(conf, path, errstr, sizeof(errstr))) {
        cishare_cli_error("config: %s", errstr);
        rc = CISHARE_EXIT_USAGE;
        goto out;
    }
    for (i = 0; i < xcnt; i++) {
        if (cishare_config_set_kv(conf, xs[i], errstr, sizeof(errstr))) {
            cishare_cli_error("config: -X %s: %s", xs[i], errstr);
            rc = CISHARE_EXIT_USAGE;
            goto out;
        }
    }
    for (i = 0; i < cishare_config_kafka_cnt(conf); i++) {
        const char *v, *k = cishare_config_kafka_at(conf, i, &v);
        char abs[PATH_MAX];
        if (cishare_config_kafka_key_is_path(k) && v[0] != '/' &&
            realpath(v, abs))
            v = abs;
        printf("%s=%s\n", k, v);
    }
out:
    free(xs);
    cishare_config_destroy(conf);
    return rc;
}
