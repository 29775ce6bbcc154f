/*
 * cishare dev-broker: librdkafka's mock cluster as an embedded
 * Kafka-protocol endpoint. Real clients (kcat, librdkafka, Java) connect to
 * it; it has no SASL, ACLs or admin API, so it serves demos and quick
 * starts only. Security and durability are tested on real Apache Kafka.
 */
#include "cishare/cli.h"

#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void dev_broker_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare dev-broker [options]\n"
            "\n"
            "Serve an embedded Kafka-protocol broker (librdkafka's mock "
            "cluster) on\n"
            "127.0.0.1 until interrupted, and print its bootstrap address.\n"
            "Any Kafka client (kcat, librdkafka, Java) can produce and "
            "consume.\n"
            "No SASL, ACLs or admin API: use deploy/kafka/start for those.\n"
            "\n"
            "Options:\n"
            "  -n, --brokers N          number of mock brokers (default 1)\n"
            "  -w, --write-bootstrap F  also write the bootstrap address to "
            "file F\n"
            "  -t, --duration SECS      stop by itself after SECS seconds\n"
            "  -h, --help               show this help\n");
}

int cishare_cmd_dev_broker(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'n'},
        {"write-bootstrap", required_argument, NULL, 'w'},
        {"duration", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int nbrokers = 1, c;
    long duration = 0;
    const char *bootstrap_file = NULL, *bootstraps;
    char errstr[512], *end;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    time_t deadline;

    optind = 1;
    while ((c = getopt_long(argc, argv, "n:w:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            nbrokers = (int)strtol(optarg, &end, 10);
            if (*end || nbrokers < 1 || nbrokers > 9)
                return cishare_cli_usage_error(
                    "dev-broker", "--brokers must be 1..9, not '%s'", optarg);
            break;
        case 'w':
            bootstrap_file = optarg;
            break;
        case 't':
            duration = strtol(optarg, &end, 10);
            if (*end || duration < 1)
                return cishare_cli_usage_error(
                    "dev-broker",
                    "--duration must be a positive number of "
                    "seconds, not '%s'",
                    optarg);
            break;
        case 'h':
            dev_broker_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("dev-broker", "bad option");
        }
    }
    if (optind < argc)
        return cishare_cli_usage_error("dev-broker", "unexpected argument '%s'",
                                       argv[optind]);

    /* The mock cluster lives as long as this (otherwise idle) handle. */
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        cishare_cli_error("dev-broker: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return CISHARE_EXIT_FAIL;
    }
    mcluster = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mcluster) {
        cishare_cli_error("dev-broker: could not start the mock cluster");
        rd_kafka_destroy(rk);
        return CISHARE_EXIT_FAIL;
    }
    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
    printf("%s\n", bootstraps);
    fflush(stdout);
    if (bootstrap_file) {
        char tmp[4096];
        FILE *fp;
        snprintf(tmp, sizeof(tmp), "%s.tmp", bootstrap_file);
        fp = fopen(tmp, "w");
        if (!fp || fprintf(fp, "%s\n", bootstraps) < 0 || fclose(fp) != 0 ||
            rename(tmp, bootstrap_file) != 0) {
            cishare_cli_error("dev-broker: cannot write %s", bootstrap_file);
            rd_kafka_mock_cluster_destroy(mcluster);
            rd_kafka_destroy(rk);
            return CISHARE_EXIT_FAIL;
        }
    }
    cishare_cli_info("embedded broker (%d node%s) serving on %s; Ctrl-C stops "
                     "it",
                     nbrokers, nbrokers > 1 ? "s" : "", bootstraps);

    cishare_cli_signals();
    deadline = duration ? time(NULL) + duration : 0;
    while (!cishare_cli_stop && (!deadline || time(NULL) < deadline))
        usleep(100 * 1000);

    cishare_cli_info("embedded broker stopping");
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return CISHARE_EXIT_OK;
}
