/*
 * cishare feed: participant P's verified, TLP-filtered feed into sinks
 * (JSON Lines, STIX 2.1 bundle, blocklists). The work is in feed.c.
 */
#include "cishare/cli.h"
#include "cishare/config.h"
#include "feed.h"
#include "sinks/sink.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void feed_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare feed -c CONFIG "
            "[--format jsonl|stix|blocklist|misp]... [--out DIR|-]\n"
            "                    [--once] [--from-beginning] [--threads N] "
            "[--metrics ADDR:PORT]\n"
            "                    [--standby]\n"
            "                    [-X key=value]...\n"
            "\n"
            "Read the topics participant P (cishare.participant) may read, "
            "verify every\n"
            "message, apply the TLP rules, decrypt, remove duplicates and "
            "write what P may\n"
            "see into the sinks. Invalid messages go to "
            "DIR/quarantine.jsonl with a reason.\n"
            "Delivery is exactly-once per state folder: offsets are "
            "committed only after\n"
            "the sinks and the seen-id log are on disk. With --out - it is "
            "at-least-once\n"
            "on stdout (see below).\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE    client configuration (required)\n"
            "  -f, --format NAME    sink: jsonl (default), stix, blocklist, "
            "misp (a MISP\n"
            "                       feed folder); repeatable\n"
            "  -o, --out DIR|-      output folder (default .); '-' writes "
            "JSON Lines to\n"
            "                       stdout (then set cishare.state-dir)\n"
            "      --once           stop at the end of every assigned "
            "partition\n"
            "      --from-beginning read every partition from its beginning\n"
            "      --standby        if another feed runs on this state "
            "folder, wait as its\n"
            "                       hot standby and take over when it "
            "stops or dies\n"
            "      --threads N      verification threads (default "
            "cishare.feed.threads)\n"
            "      --metrics ADDR:PORT  serve Prometheus metrics at "
            "http://ADDR:PORT/metrics\n"
            "                       (':PORT' = loopback; no TLS: keep it on "
            "a management network)\n"
            "  -X key=value         set a configuration key\n"
            "  -h, --help           show this help\n"
            "\n"
            "Outputs: DIR/feed.jsonl, DIR/stix/bundle.json, "
            "DIR/blocklist/<label>/{<type>.txt,rpz.zone,cishare.nft},\n"
            "DIR/misp/{manifest.json,hashes.csv,<uuid>.json}, "
            "DIR/quarantine.jsonl;\n"
            "state: <state-dir>/seen.log and "
            "archive.db.\n"
            "A new state folder (no seen.log) reads every partition from its "
            "beginning,\n"
            "whatever the consumer group committed for another folder: "
            "nothing is skipped\n"
            "(a further instance of a feed scaled out over one group: "
            "-X cishare.feed.new-state-folder=group).\n"
            "One feed per state folder: it holds <state-dir>/feed.lock "
            "while it runs. A\n"
            "second one exits 2 naming the holder's pid; with --standby it "
            "logs\n"
            "\"standby: another feed holds <path> (pid N); waiting\", "
            "takes the lock\n"
            "within 200 ms of the holder's end (kill -9 included) and "
            "resumes from the\n"
            "folder's committed offsets and seen ids: nothing lost or "
            "repeated. Start both\n"
            "of a pair with --standby: they then share one static group "
            "membership\n"
            "(group.instance.id), so the takeover does not wait for the "
            "dead one's\n"
            "session.timeout.ms.\n"
            "--out -: each batch is written to stdout and flushed before "
            "its offsets are\n"
            "committed; a crash (or a closed pipe) between the two "
            "writes that batch\n"
            "again on the next run: at-least-once. Lines repeated this way "
            "carry the\n"
            "same message_id (the consumer drops them by it); the files of "
            "--out DIR\n"
            "are cut back to the last commit instead, so they are "
            "exactly-once.\n"
            "A stats line is printed every cishare.feed.stats-interval-ms "
            "and a summary on\n"
            "exit. SIGINT/SIGTERM stop cleanly after a final commit.\n"
            "Exit status: 0 ok, 1 Kafka or sink failure, 2 bad usage or "
            "configuration, or\n"
            "refused by the directory: at start (older than accepted, "
            "expired, bad\n"
            "signature), or while running (a new version removed P or its "
            "key, or the\n"
            "directory in use expired).\n\n");
    cishare_config_print_help(fp);
}

static void log_line(void *opaque, const char *line)
{
    (void)opaque;
    cishare_cli_info("%s", line);
}

int cishare_cmd_feed(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},
        {"once", no_argument, NULL, 1},
        {"from-beginning", no_argument, NULL, 2},
        {"threads", required_argument, NULL, 3},
        {"metrics", required_argument, NULL, 4},
        {"standby", no_argument, NULL, 5},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_feed_opts_t opts = {0};
    cishare_feed_stats_t stats;
    cishare_config_t *conf = cishare_config_new();
    cishare_cli_conf_t cc = {NULL, calloc((size_t)argc + 1, sizeof(char *)), 0};
    char errstr[1024] = "", line[1024];
    size_t i, j;
    int c, threads = 0, rc;
    const char *metrics_at = NULL;
    cishare_metrics_t *metrics = NULL;
    cishare_err_t err;

    if (!conf || !cc.xs) {
        cishare_config_destroy(conf);
        free(cc.xs);
        cishare_cli_error("feed: out of memory");
        return CISHARE_EXIT_FAIL;
    }
    opts.out = ".";
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:o:X:h", lopts, NULL)) != -1) {
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case 'f':
            if (!cishare_sink_plugin_find(optarg)) {
                rc = cishare_cli_usage_error(
                    "feed",
                    "unknown format '%s' (jsonl, stix, blocklist, misp)",
                    optarg);
                goto done;
            }
            for (j = 0; j < opts.sink_cnt; j++)
                if (!strcmp(opts.sinks[j], optarg))
                    break;
            if (j == opts.sink_cnt) {
                if (opts.sink_cnt == CISHARE_FEED_MAX_SINKS) {
                    rc = cishare_cli_usage_error("feed", "too many formats");
                    goto done;
                }
                opts.sinks[opts.sink_cnt++] = optarg;
            }
            break;
        case 'o':
            opts.out = optarg;
            break;
        case 1:
            opts.once = true;
            break;
        case 2:
            opts.from_beginning = true;
            break;
        case 3:
            threads = atoi(optarg);
            if (threads < 1 || threads > 64) {
                rc = cishare_cli_usage_error(
                    "feed", "--threads must be 1..64, not '%s'", optarg);
                goto done;
            }
            break;
        case 4:
            metrics_at = optarg;
            break;
        case 5:
            opts.standby = true;
            break;
        case 'h':
            feed_usage(stdout);
            rc = CISHARE_EXIT_OK;
            goto done;
        default:
            rc = cishare_cli_usage_error("feed", "bad option");
            goto done;
        }
    }
    if ((rc = cishare_cli_conf_args(&cc, "feed", argc, argv)))
        goto done;
    if (!opts.sink_cnt)
        opts.sinks[opts.sink_cnt++] = "jsonl";
    if (!strcmp(opts.out, "-"))
        for (i = 0; i < opts.sink_cnt; i++)
            if (strcmp(opts.sinks[i], "jsonl")) {
                rc = cishare_cli_usage_error(
                    "feed", "--out - works with --format jsonl only");
                goto done;
            }
    if ((rc = cishare_cli_conf_load(&cc, conf, "feed")) != CISHARE_EXIT_OK)
        goto done;
    opts.conf = conf;
    opts.threads =
        threads ? threads
                : (int)cishare_config_get_int(conf, "cishare.feed.threads");
    opts.stats_interval_ms =
        cishare_config_get_int(conf, "cishare.feed.stats-interval-ms");
    opts.stop = &cishare_cli_stop;
    opts.log = log_line;
    if ((rc = cishare_cli_metrics_start("feed", metrics_at, "feed",
                                        &metrics)) != CISHARE_EXIT_OK)
        goto done;
    opts.metrics = metrics;
    cishare_cli_signals();

    err = cishare_feed_run(&opts, &stats, errstr, sizeof(errstr));
    cishare_feed_stats_format(&stats, line, sizeof(line));
    cishare_cli_info("feed summary: %s", line);
    rc = cishare_cli_run_exit("feed", err, errstr);
done:
    cishare_metrics_stop(metrics);
    cishare_config_destroy(conf);
    free(cc.xs);
    return rc;
}
