/*
 * cishare alert: the coordination office or a ministry issues an alert
 * (注意喚起) to all sectors or to selected ones, with severity, CVEs,
 * recommended actions, indicators and a validity period. Published
 * through the same pipeline as `cishare publish`.
 */
#include "publish_cli.h"

#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"
#include "cishare/importer.h"
#include "cishare/policy.h"
#include "cishare/types.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare alert -c CONFIG --severity LEVEL --title TEXT "
        "--body TEXT\n"
        "                     [--sector CODE,...|--all] [options]\n"
        "\n"
        "Issue an alert (注意喚起) as the coordination office (to all "
        "sectors or\n"
        "selected ones) or as a ministry (to its own sectors).\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE         client config (as for publish)\n"
        "  -X key=value              set one config key\n"
        "  -s, --severity LEVEL      info, low, medium, high, critical "
        "(required)\n"
        "  -T, --title TEXT          title (required)\n"
        "  -b, --body TEXT           body text (or --body-file FILE, - = "
        "stdin)\n"
        "      --body-file FILE\n"
        "  -S, --sector CODE,...     target sectors (repeatable); default: "
        "all for\n"
        "                            the coordination office, a ministry's "
        "own\n"
        "      --all                 every sector (coordination office "
        "only)\n"
        "      --cve ID,...          CVEs concerned (repeatable)\n"
        "  -r, --action TEXT         a recommended action (repeatable)\n"
        "  -i, --indicator TYPE:VALUE  an observable (repeatable), e.g. "
        "ipv4:192.0.2.1,\n"
        "                            domain:evil.example, sha256:<hex>\n"
        "      --valid-from TIME     start of validity (RFC 3339; default "
        "now)\n"
        "      --valid-until TIME    end of validity (RFC 3339); the "
        "message expires then\n"
        "      --valid-for DURATION  end of validity relative to the start: "
        "30m, 12h, 7d\n"
        "  -t, --tlp LABEL           label (default green)\n"
        "      --id ID               alert id to update (default: a new "
        "alert--<uuid>)\n"
        "  -n, --dry-run             build and check, send nothing\n"
        "  -v, --verbose             print the published record\n"
        "  -j, --json                print the alert message (native JSON) "
        "on stdout\n"
        "  -h, --help                show this help\n"
        "Exit status: 0 published, 1 refused or not delivered, or Kafka or "
        "the file\n"
        "system failed, 2 bad usage, config, directory or certificate.\n");
}

/* Append the comma-separated items of text to arr (trimmed, non-empty). */
static void add_items(json_t *arr, const char *text, bool upper)
{
    char *copy = strdup(text), *tok, *save = NULL;

    for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *e;
        while (isspace((unsigned char)*tok))
            tok++;
        e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (upper)
            for (e = tok; *e; e++)
                *e = (char)toupper((unsigned char)*e);
        if (*tok)
            json_array_append_new(arr, json_string(tok));
    }
    free(copy);
}

static bool parse_duration(const char *s, int64_t *msp)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t unit;

    if (end == s || v <= 0)
        return false;
    if (!strcmp(end, "s"))
        unit = 1000;
    else if (!strcmp(end, "m"))
        unit = 60000;
    else if (!strcmp(end, "h"))
        unit = 3600000;
    else if (!strcmp(end, "d"))
        unit = 86400000;
    else
        return false;
    if (v > 3650LL * 86400000 / unit)
        return false;
    *msp = v * unit;
    return true;
}

int cishare_cmd_alert(int argc, char **argv)
{
    enum { O_ALL = 256, O_CVE, O_FROM, O_UNTIL, O_FOR, O_ID, O_BODYFILE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"severity", required_argument, NULL, 's'},
        {"title", required_argument, NULL, 'T'},
        {"body", required_argument, NULL, 'b'},
        {"body-file", required_argument, NULL, O_BODYFILE},
        {"sector", required_argument, NULL, 'S'},
        {"all", no_argument, NULL, O_ALL},
        {"cve", required_argument, NULL, O_CVE},
        {"action", required_argument, NULL, 'r'},
        {"indicator", required_argument, NULL, 'i'},
        {"valid-from", required_argument, NULL, O_FROM},
        {"valid-until", required_argument, NULL, O_UNTIL},
        {"valid-for", required_argument, NULL, O_FOR},
        {"tlp", required_argument, NULL, 't'},
        {"id", required_argument, NULL, O_ID},
        {"dry-run", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const char *const severities[] = {"info", "low", "medium", "high",
                                             "critical"};
    cishare_config_t *conf = cishare_config_new();
    cishare_publisher_t *pub = NULL;
    json_t *msg = NULL, *payload = json_object(), *sectors = json_array();
    json_t *cves = json_array(), *actions = json_array(), *obs = json_array();
    cishare_publish_conf_opts_t co = {0};
    cishare_publish_opt_t po;
    const char *severity = NULL, *title = NULL, *from = NULL, *until = NULL,
               *dur = NULL, *id = NULL;
    char *body = NULL, *audience = NULL;
    size_t i;
    int c, rc = CISHARE_EXIT_USAGE;
    bool all = false;
    cishare_tlp_t tlp = CISHARE_TLP_GREEN;
    int64_t now = cishare_time_now_ms(), from_ms = now, until_ms = 0, dur_ms;
    char errstr[2048], tbuf[32], idbuf[64], uuid[37];
    const cishare_participant_t *me;

    if (!conf || !payload || !sectors || !cves || !actions || !obs) {
        cishare_cli_error("out of memory");
        rc = CISHARE_EXIT_FAIL;
        goto out;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:s:T:b:S:r:i:t:nvjh", opts,
                            NULL)) != -1) {
        po = cishare_publish_common_opt(&co, conf, "alert", c, optarg, usage,
                                        &rc);
        if (po != CISHARE_PUBLISH_OPT_OWN) {
            if (po == CISHARE_PUBLISH_OPT_EXIT)
                goto out; /* --help, or a bad -c/-X */
            continue;
        }
        switch (c) {
        case 's':
            severity = optarg;
            break;
        case 'T':
            title = optarg;
            break;
        case 'b':
            free(body);
            body = strdup(optarg);
            break;
        case O_BODYFILE: {
            size_t len;
            free(body);
            body = NULL;
            if (cishare_cli_read_file(optarg, 1 << 20, &body, &len, errstr,
                                      sizeof(errstr))) {
                cishare_cli_error("%s", errstr);
                goto out;
            }
            break;
        }
        case 'S':
            add_items(sectors, optarg, false);
            break;
        case O_ALL:
            all = true;
            break;
        case O_CVE:
            add_items(cves, optarg, true);
            break;
        case 'r':
            json_array_append_new(actions, json_string(optarg));
            break;
        case 'i': {
            const char *colon = strchr(optarg, ':');
            json_t *o = json_object();
            if (!colon || colon == optarg || !colon[1]) {
                json_decref(o);
                rc = cishare_cli_usage_error(
                    "alert", "--indicator '%s': expected TYPE:VALUE", optarg);
                goto out;
            }
            json_object_set_new(o, "type",
                                json_stringn(optarg, (size_t)(colon - optarg)));
            json_object_set_new(o, "value", json_string(colon + 1));
            json_array_append_new(obs, o);
            break;
        }
        case O_FROM:
            from = optarg;
            break;
        case O_UNTIL:
            until = optarg;
            break;
        case O_FOR:
            dur = optarg;
            break;
        case 't':
            if (!cishare_publish_tlp_opt("alert", optarg, &tlp, &rc))
                goto out;
            break;
        case O_ID:
            id = optarg;
            break;
        default:
            rc = cishare_cli_usage_error("alert", "bad option");
            goto out;
        }
    }
    if (!cishare_publish_args_finish(&co, conf, "alert", argc, argv))
        goto out; /* CISHARE_EXIT_USAGE */
    for (i = 0; severity && i < 5; i++)
        if (!strcasecmp(severity, severities[i]))
            break;
    if (!severity || i == 5) {
        rc = cishare_cli_usage_error(
            "alert", "--severity info|low|medium|high|critical is required");
        goto out;
    }
    if (!title || !*title || !body || !*body) {
        rc =
            cishare_cli_usage_error("alert", "--title and --body are required");
        goto out;
    }
    if (all && json_array_size(sectors)) {
        rc = cishare_cli_usage_error("alert",
                                     "--all and --sector exclude each other");
        goto out;
    }
    if (from && !cishare_time_parse(from, &from_ms)) {
        rc = cishare_cli_usage_error(
            "alert", "--valid-from '%s' is not an RFC 3339 time", from);
        goto out;
    }
    if (until && !cishare_time_parse(until, &until_ms)) {
        rc = cishare_cli_usage_error(
            "alert", "--valid-until '%s' is not an RFC 3339 time", until);
        goto out;
    }
    if (dur) {
        if (until || !parse_duration(dur, &dur_ms)) {
            rc = cishare_cli_usage_error(
                "alert",
                "--valid-for '%s': a duration such as 30m, 12h, 7d, and not "
                "with --valid-until",
                dur);
            goto out;
        }
        until_ms = from_ms + dur_ms;
    }
    if (until_ms && until_ms <= from_ms) {
        rc = cishare_cli_usage_error("alert",
                                     "the validity ends before it starts");
        goto out;
    }

    if ((rc = cishare_publish_open(conf, co.dry_run, &pub)) != CISHARE_EXIT_OK)
        goto out;
    me = cishare_publisher_me(pub);
    /* a ministry alerts its own sectors unless told which */
    if (me->role == CISHARE_ROLE_MINISTRY && !all && !json_array_size(sectors))
        for (i = 0; i < me->sector_cnt; i++)
            json_array_append_new(sectors, json_string(me->sectors[i]));
    /* audience: the selected sectors, or all */
    if (json_array_size(sectors)) {
        size_t len = 1;
        for (i = 0; i < json_array_size(sectors); i++)
            len += strlen(json_string_value(json_array_get(sectors, i))) + 8;
        if (!(audience = calloc(1, len)))
            goto nomem;
        for (i = 0; i < json_array_size(sectors); i++) {
            if (i)
                strcat(audience, ",");
            strcat(audience, "sector:");
            strcat(audience, json_string_value(json_array_get(sectors, i)));
        }
    } else if (!(audience = strdup("all"))) {
        goto nomem;
    }
    /* who may alert whom: the publish rules (policy.h P1-P8), said here
     * in plain words before anything is built (the publisher checks them
     * again, and so does every feed) */
    {
        const cishare_directory_t *dir = cishare_publisher_directory(pub);
        cishare_audience_t aud = {0};
        cishare_publish_msg_t pm = {CISHARE_MSG_ALERT,
                                    tlp,
                                    me,
                                    &aud,
                                    me->sector_cnt ? me->sectors[0] : "",
                                    0,
                                    0,
                                    NULL};
        cishare_err_t err = cishare_audience_resolve(
            dir, tlp, me, audience, &aud, errstr, sizeof(errstr));

        if (!err && cishare_policy_check_publish(dir, &pm, NULL, errstr,
                                                 sizeof(errstr)))
            err = CISHARE_ERR_POLICY;
        cishare_audience_clear(&aud);
        if (err) {
            cishare_cli_error("%s", errstr);
            rc = CISHARE_EXIT_FAIL;
            goto out;
        }
    }

    if (id) {
        snprintf(idbuf, sizeof(idbuf), "%s", id);
    } else {
        cishare_uuid_v4(uuid);
        snprintf(idbuf, sizeof(idbuf), "alert--%s", uuid);
    }
    cishare_time_format(now, tbuf);
    json_object_set_new(payload, "id", json_string(idbuf));
    json_object_set_new(payload, "created", json_string(tbuf));
    json_object_set_new(payload, "modified", json_string(tbuf));
    for (i = 0; i < 5; i++)
        if (!strcasecmp(severity, severities[i]))
            json_object_set_new(payload, "severity",
                                json_string(severities[i]));
    json_object_set_new(payload, "title", json_string(title));
    json_object_set_new(payload, "body", json_string(body));
    json_object_set(payload, "target_sectors", sectors);
    json_object_set(payload, "cves", cves);
    json_object_set(payload, "recommended_actions", actions);
    json_object_set(payload, "observables", obs);
    cishare_time_format(from_ms, tbuf);
    json_object_set_new(payload, "valid_from", json_string(tbuf));
    msg = json_object();
    if (!msg)
        goto nomem;
    json_object_set_new(msg, "type", json_string("alert"));
    json_object_set_new(msg, "tlp", json_string(cishare_tlp_name(tlp)));
    if (until_ms) {
        cishare_time_format(until_ms, tbuf);
        json_object_set_new(payload, "valid_until", json_string(tbuf));
        json_object_set_new(msg, "expires", json_string(tbuf)); /* feeds
                                                     stop delivering it */
    }
    json_object_set(msg, "payload", payload);
    if (co.print_json) {
        char *s = json_dumps(msg, JSON_INDENT(2));
        if (s)
            puts(s);
        free(s);
    }
    if (cishare_publisher_submit(pub, msg, idbuf, -1, audience))
        goto nomem;
    cishare_publish_flush(pub, conf);
    rc = cishare_publish_report(pub, co.dry_run, co.verbose, NULL);
    goto out;
nomem:
    cishare_cli_error("out of memory");
    rc = CISHARE_EXIT_FAIL;
out:
    cishare_publisher_destroy(pub);
    json_decref(msg);
    json_decref(payload);
    json_decref(sectors);
    json_decref(cves);
    json_decref(actions);
    json_decref(obs);
    free(body);
    free(audience);
    cishare_config_destroy(conf);
    return rc;
}
