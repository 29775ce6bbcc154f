/*
 * cishare relay: a CEPTOAR, a ministry or the coordination office passes
 * on what it received, under its relay rules. The work is in relay.c
 * (reading is the feed's, feed.c).
 */
#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"
#include "relay.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void relay_usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare relay -c CONFIG [--once] [--review] "
        "[--from-beginning]\n"
        "                     [--batch-size N] [--metrics ADDR:PORT] "
        "[-X key=value]...\n"
        "       cishare relay review list|approve ID|reject ID --reason TEXT "
        "-c CONFIG\n"
        "\n"
        "Run as a CEPTOAR, the CEPTOAR council, a ministry or the "
        "coordination office\n"
        "(cishare.participant): read what it may see, as `cishare feed` "
        "does (verify,\n"
        "TLP policy, exactly-once), and pass on what its relay rules and "
        "the re-sharing\n"
        "policy allow: the original record plus a relay hop signed by the "
        "relay (the\n"
        "origin's signature stays verifiable), or, for a report that asks "
        "for it\n"
        "(anonymise: true), an anonymised copy under the relay's own "
        "origin.\n"
        "\n"
        "Rules (in CONFIG or -X; tried in name order, the first match "
        "decides):\n"
        "  cishare.relay.rule.<name>=types=T[,T] [tlp=L[,L]] to=ITEM[,ITEM] "
        "[label=keep|L]\n"
        "    types  indicator, incident, alert, sighting, revocation\n"
        "    tlp    original labels that match (default clear,green,amber)\n"
        "    to     clients (the relay's clients), members (a CEPTOAR's "
        "operators),\n"
        "           originator (a sighting's), all, sector:<code>, "
        "role:<role>,\n"
        "           participant:<id>; a sighting goes to the originator it "
        "names only\n"
        "    label  keep (default), or a label: the copy is the stricter of "
        "it and\n"
        "           the original (never looser)\n"
        "  e.g. cishare.relay.rule.members=types=indicator tlp=amber,green "
        "to=members\n"
        "       cishare.relay.rule.feedback=types=sighting to=originator\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE    client configuration (required)\n"
        "      --once           stop at the end of every assigned partition\n"
        "      --review         hold messages in the review queue instead of "
        "relaying\n"
        "                       (cishare relay review --help: list, approve, "
        "reject)\n"
        "      --from-beginning read every partition from its beginning\n"
        "      --batch-size N   messages per batch and transaction (default "
        "1000)\n"
        "      --metrics ADDR:PORT  serve Prometheus metrics at "
        "http://ADDR:PORT/metrics\n"
        "  -X key=value         set a configuration key\n"
        "  -h, --help           show this help\n"
        "\n"
        "Folder: <state-dir>/relay (seen ids, quarantine, review queue); "
        "one relay per\n"
        "folder (it holds feed.lock there: a second one exits 2 naming "
        "the holder); consumer group\n"
        "cishare-feed-<id>.relay. Exactly-once: each batch's copies and "
        "its consumer\n"
        "offsets are committed in one Kafka transaction (transactional.id\n"
        "cishare-relay.<id>.feed: grant it with deploy/kafka/grant-relay). "
        "What is\n"
        "not relayed is counted by reason in the summary.\n"
        "\n"
        "Review: with --review, what would be relayed is held in the review "
        "queue\n"
        "(<folder>/review.jsonl) instead; `cishare relay review list|approve "
        "ID|reject ID\n"
        "--reason TEXT -c CONFIG` decides. Approved items are relayed by the "
        "running\n"
        "relay (about once a second) or the next run, with or without "
        "--review, exactly\n"
        "once: each pass commits its copies and a review counter (consumer "
        "group\n"
        "<group.id>.review) in one Kafka transaction.\n"
        "Exit status: 0 ok, 1 Kafka failure, 2 bad usage, configuration or "
        "rules.\n");
}

static void log_line(void *opaque, const char *line)
{
    (void)opaque;
    cishare_cli_info("%s", line);
}

static void review_usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare relay review list    -c CONFIG [--state S] [--json] "
        "[-X key=value]...\n"
        "       cishare relay review approve ID -c CONFIG [-X key=value]...\n"
        "       cishare relay review reject  ID --reason TEXT -c CONFIG "
        "[-X key=value]...\n"
        "\n"
        "The review queue of `cishare relay --review` (in the relay's folder "
        "<state-dir>/relay,\n"
        "review.jsonl): messages the relay rules and the re-sharing policy "
        "would relay,\n"
        "held for a decision. Ids are r1, r2, ... States: pending, approved, "
        "relayed,\n"
        "rejected (kept, with its reason).\n"
        "\n"
        "  list     every item: id, state, received, type, label, origin, "
        "subject, summary\n"
        "           (and the rejection reason); --state keeps one state; "
        "--json: JSON Lines\n"
        "  approve  build the copy as it is relayed now (hop-signed, or the "
        "anonymised\n"
        "           copy) and store it; the running relay relays it within "
        "about a second,\n"
        "           or the next `cishare relay` run does, exactly once "
        "(Kafka transaction)\n"
        "  reject   record the decision and its reason; never relayed\n"
        "\n"
        "Use the relay's CONFIG and -X keys (cishare.state-dir, group.id): "
        "the queue and\n"
        "the relay's consumer group are found from them.\n"
        "Exit status: 0 ok; 1 I/O or the queue stayed locked for 30 s; 2 bad "
        "usage or\n"
        "configuration, unknown id, an item not in a state for that "
        "decision, or not\n"
        "relayable now (it stays pending).\n");
}

/* Print s with control bytes escaped (\xNN): text from messages. */
static void put_safe(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '\\')
            fprintf(fp, "\\x%02x", c);
        else
            fputc(c, fp);
    }
}

static void review_print(const cishare_review_item_t *it, bool as_json)
{
    char t[32];

    if (as_json) {
        json_t *j = json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:i, "
            "s:I}",
            "id", it->id, "state", cishare_review_state_name(it->state),
            "received_ms", (json_int_t)it->received_ms, "decided_ms",
            (json_int_t)it->decided_ms, "relayed_ms",
            (json_int_t)it->relayed_ms, "type", it->type, "tlp", it->tlp,
            "origin", it->origin, "subject", it->subject, "summary",
            it->summary, "topic", it->topic, "partition", (int)it->partition,
            "offset", (json_int_t)it->offset);
        char *text;
        if (!j)
            return;
        if (it->reason)
            json_object_set_new(j, "reason", json_string(it->reason));
        if (it->out) {
            json_t *c = json_object();
            static const char *const keys[] = {
                "tlp", "audience", "topics", "anonymised", "copy_id", "seq"};
            size_t i;
            for (i = 0; c && i < sizeof(keys) / sizeof(keys[0]); i++)
                if (json_object_get(it->out, keys[i]))
                    json_object_set(c, keys[i],
                                    json_object_get(it->out, keys[i]));
            json_object_set_new(j, "copy", c);
        }
        if ((text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII))) {
            printf("%s\n", text);
            free(text);
        }
        json_decref(j);
        return;
    }
    cishare_time_format(it->received_ms, t);
    printf("%-5s %-9s %s  %-10s %-6s %-20s ", it->id,
           cishare_review_state_name(it->state), t, it->type, it->tlp,
           it->origin);
    put_safe(stdout, it->subject);
    if (*it->summary) {
        fputs("  ", stdout);
        put_safe(stdout, it->summary);
    }
    fputc('\n', stdout);
    if (it->reason) {
        fputs("      reason: ", stdout);
        put_safe(stdout, it->reason);
        fputc('\n', stdout);
    }
    if (it->out && json_object_get(it->out, "audience")) {
        printf("      copy: %s to %s%s\n",
               json_string_value(json_object_get(it->out, "tlp")),
               json_string_value(json_object_get(it->out, "audience")),
               json_is_true(json_object_get(it->out, "anonymised"))
                   ? " (anonymised)"
                   : "");
    }
}

/*
 * Start parsing a relay command's options: cc gets room for argc -X
 * texts and getopt starts over. CISHARE_EXIT_OK, or CISHARE_EXIT_FAIL
 * (out of memory, reported; conf destroyed).
 */
static int conf_opts_begin(cishare_config_t *conf, cishare_cli_conf_t *cc,
                           int argc, const char *cmd)
{
    if (!conf || !(cc->xs = calloc((size_t)argc + 1, sizeof(*cc->xs)))) {
        cishare_config_destroy(conf);
        cishare_cli_error("%s: out of memory", cmd);
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    return CISHARE_EXIT_OK;
}

static int review_exit(cishare_err_t err)
{
    switch (err) {
    case CISHARE_OK:
        return CISHARE_EXIT_OK;
    case CISHARE_ERR_IO:
    case CISHARE_ERR_NOMEM:
    case CISHARE_ERR_KAFKA:
        return CISHARE_EXIT_FAIL;
    default:
        return CISHARE_EXIT_USAGE;
    }
}

static int cmd_relay_review(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"reason", required_argument, NULL, 1},
        {"state", required_argument, NULL, 2},
        {"json", no_argument, NULL, 3},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_relay_review_t *rv = NULL;
    const char *reason = NULL, *action, *qid = NULL, *state = NULL;
    char errstr[1024] = "", dir[4200];
    cishare_cli_conf_t cc = {0};
    size_t i;
    bool as_json = false;
    int c, rc;
    cishare_err_t err;

    if ((rc = conf_opts_begin(conf, &cc, argc, "relay review")))
        return rc;
    while ((c = getopt_long(argc, argv, "c:X:h", lopts, NULL)) != -1) {
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case 1:
            reason = optarg;
            break;
        case 2:
            state = optarg;
            break;
        case 3:
            as_json = true;
            break;
        case 'h':
            review_usage(stdout);
            rc = CISHARE_EXIT_OK;
            goto done;
        default:
            rc = cishare_cli_usage_error("relay review", "bad option");
            goto done;
        }
    }
    if (optind >= argc) {
        rc = cishare_cli_usage_error("relay review",
                                     "expected list, approve ID or reject ID");
        goto done;
    }
    action = argv[optind++];
    if (!strcmp(action, "approve") || !strcmp(action, "reject")) {
        if (optind >= argc) {
            rc = cishare_cli_usage_error("relay review",
                                         "%s: expected an id "
                                         "(r1, r2, ...: see "
                                         "list)",
                                         action);
            goto done;
        }
        qid = argv[optind++];
    } else if (strcmp(action, "list")) {
        rc = cishare_cli_usage_error(
            "relay review", "unknown action '%s' (list, approve, reject)",
            action);
        goto done;
    }
    if (optind < argc) {
        rc = cishare_cli_usage_error("relay review", "unexpected argument '%s'",
                                     argv[optind]);
        goto done;
    }
    if (!strcmp(action, "reject") && (!reason || !*reason)) {
        rc = cishare_cli_usage_error(
            "relay review", "reject %s: --reason TEXT is required", qid);
        goto done;
    }
    if (reason && strcmp(action, "reject")) {
        rc = cishare_cli_usage_error("relay review",
                                     "--reason goes with reject only");
        goto done;
    }
    if ((state || as_json) && strcmp(action, "list")) {
        rc = cishare_cli_usage_error("relay review",
                                     "--state and --json go with list only");
        goto done;
    }
    if (state && strcmp(state, "pending") && strcmp(state, "approved") &&
        strcmp(state, "relayed") && strcmp(state, "rejected")) {
        rc = cishare_cli_usage_error("relay review",
                                     "--state %s: expected pending, approved, "
                                     "relayed or rejected",
                                     state);
        goto done;
    }
    if ((rc = cishare_cli_conf_load(&cc, conf, "relay review")))
        goto done;
    if ((err = cishare_relay_prepare_config(conf, dir, sizeof(dir), errstr,
                                            sizeof(errstr))) ||
        (err = cishare_relay_review_open(conf, log_line, NULL,
                                         !strcmp(action, "approve"), &rv,
                                         errstr, sizeof(errstr)))) {
        cishare_cli_error("relay review: %s", errstr);
        rc = review_exit(err);
        goto done;
    }
    if (!strcmp(action, "list")) {
        cishare_review_t *q = cishare_relay_review_queue(rv);
        size_t n = cishare_review_count(q), shown = 0;
        if (!as_json)
            printf("%-5s %-9s %-20s  %-10s %-6s %-20s %s\n", "ID", "STATE",
                   "RECEIVED", "TYPE", "TLP", "ORIGIN", "SUBJECT  SUMMARY");
        for (i = 0; i < n; i++) {
            const cishare_review_item_t *it = cishare_review_at(q, i);
            if (state && strcmp(state, cishare_review_state_name(it->state)))
                continue;
            review_print(it, as_json);
            shown++;
        }
        cishare_cli_info("relay review: %zu item(s) shown of %zu in %s", shown,
                         n, cishare_review_path(q));
        rc = CISHARE_EXIT_OK;
    } else if (!strcmp(action, "approve")) {
        const cishare_review_item_t *it = NULL;
        err = cishare_relay_review_approve(rv, qid, cishare_time_now_ms(), &it,
                                           errstr, sizeof(errstr));
        if (err) {
            cishare_cli_error("relay review: approve %s: %s", qid, errstr);
        } else {
            cishare_cli_info(
                "relay review: %s approved: %s %s from %s, %s to %s%s; the "
                "running relay (or the next `cishare relay` run) relays it",
                it->id, it->type, it->subject, it->origin,
                json_string_value(json_object_get(it->out, "tlp")),
                json_string_value(json_object_get(it->out, "audience")),
                json_is_true(json_object_get(it->out, "anonymised"))
                    ? " (anonymised copy)"
                    : "");
        }
        rc = review_exit(err);
    } else {
        err = cishare_review_reject(cishare_relay_review_queue(rv), qid, reason,
                                    cishare_time_now_ms(), errstr,
                                    sizeof(errstr));
        if (err)
            cishare_cli_error("relay review: reject %s: %s", qid, errstr);
        else
            cishare_cli_info("relay review: %s rejected (recorded; never "
                             "relayed)",
                             qid);
        rc = review_exit(err);
    }
done:
    cishare_relay_review_close(rv);
    cishare_config_destroy(conf);
    free(cc.xs);
    return rc;
}

int cishare_cmd_relay(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"once", no_argument, NULL, 1},
        {"from-beginning", no_argument, NULL, 2},
        {"review", no_argument, NULL, 3},
        {"batch-size", required_argument, NULL, 4},
        {"metrics", required_argument, NULL, 5},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_relay_opts_t opts = {0};
    const char *metrics_at = NULL;
    cishare_relay_stats_t stats;
    cishare_config_t *conf = cishare_config_new();
    char errstr[1024] = "", line[2048], dir[4200];
    cishare_cli_conf_t cc = {0};
    int c, rc;
    cishare_err_t err;

    if (argc >= 2 && !strcmp(argv[1], "review")) {
        cishare_config_destroy(conf);
        return cmd_relay_review(argc - 1, argv + 1);
    }
    if ((rc = conf_opts_begin(conf, &cc, argc, "relay")))
        return rc;
    while ((c = getopt_long(argc, argv, "c:X:h", lopts, NULL)) != -1) {
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case 1:
            opts.once = true;
            break;
        case 2:
            opts.from_beginning = true;
            break;
        case 3:
            opts.review = true;
            break;
        case 4:
            opts.batch_size = atoi(optarg);
            if (opts.batch_size < 1 || opts.batch_size > 100000) {
                rc = cishare_cli_usage_error(
                    "relay", "--batch-size must be 1..100000, not '%s'",
                    optarg);
                goto done;
            }
            break;
        case 5:
            metrics_at = optarg;
            break;
        case 'h':
            relay_usage(stdout);
            rc = CISHARE_EXIT_OK;
            goto done;
        default:
            rc = cishare_cli_usage_error("relay", "bad option");
            goto done;
        }
    }
    if ((rc = cishare_cli_conf_args(&cc, "relay", argc, argv)) ||
        (rc = cishare_cli_conf_load(&cc, conf, "relay")))
        goto done;
    if (cishare_relay_prepare_config(conf, dir, sizeof(dir), errstr,
                                     sizeof(errstr))) {
        cishare_cli_error("relay: %s", errstr);
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    opts.conf = conf;
    opts.stop = &cishare_cli_stop;
    opts.log = log_line;
    if ((rc = cishare_cli_metrics_start("relay", metrics_at, "relay",
                                        &opts.metrics)) != CISHARE_EXIT_OK)
        goto done;
    cishare_cli_signals();

    err = cishare_relay_run(&opts, &stats, errstr, sizeof(errstr));
    if (err != CISHARE_ERR_CONFIG) { /* it ran */
        cishare_feed_stats_format(&stats.feed, line, sizeof(line));
        cishare_cli_info("relay read: %s", line);
        cishare_relay_stats_format(&stats, line, sizeof(line));
        cishare_cli_info("relay summary: %s", line);
    }
    rc = cishare_cli_run_exit("relay", err, errstr);
done:
    cishare_metrics_stop(opts.metrics);
    cishare_config_destroy(conf);
    free(cc.xs);
    return rc;
}
