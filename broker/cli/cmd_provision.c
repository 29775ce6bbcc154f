/*
 * cishare provision: create the topics of the layout and the ACLs of the
 * model (topics.h) on a real Kafka cluster, from the signed directory.
 *
 * Idempotent: it compares what exists with what the directory wants and
 * changes only the difference. Stale ALLOW ACLs on cishare resources
 * (a participant removed from the directory, a grant made by hand) are
 * deleted; topics are never deleted (their data belongs to someone).
 */
#include "cishare/cli.h"
#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/dirtopic.h"
#include "cishare/identity.h"
#include "cishare/kafka_errors.h"
#include "cishare/tls.h"
#include "cishare/topics.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROVISION_TIMEOUT_MS 30000

static void provision_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare provision -c ADMIN_CONFIG [--directory FILE] "
            "[--dry-run]\n"
            "\n"
            "Create the topics of the layout and the ACLs of every "
            "participant of the\n"
            "signed directory on a real Kafka cluster (see "
            "deploy/TOPICS.md). Running it\n"
            "again changes nothing; ACLs of participants no longer in the "
            "directory, and\n"
            "any other ALLOW ACL on cishare.* topics or cishare-feed-* "
            "groups, are deleted.\n"
            "Topics are never deleted.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE     admin client config (key=value; "
            "repeatable)\n"
            "  -X key=value          set one config key (after the files)\n"
            "  -d, --directory FILE  signed directory (default: "
            "cishare.directory)\n"
            "  -r, --root-key FILE   pinned root public key (default: "
            "cishare.root-key,\n"
            "                        else root.pub beside the directory)\n"
            "  -n, --dry-run         print the plan, change nothing\n"
            "  -h, --help            show this help\n"
            "\n"
            "Output: one line per change on stdout: '+ topic NAME', '+ acl "
            "...', '- acl ...'.\n"
            "Topic settings: cishare.provision.partitions, "
            ".replication-factor,\n"
            ".retention-ms, .min-insync-replicas (applied when a topic is "
            "created).\n"
            "Credentials: every participant logs in with SCRAM-SHA-512 as "
            "the user of its\n"
            "principal (User:<name>); librdkafka cannot create SCRAM users, "
            "so create them\n"
            "with deploy/kafka/add-user NAME PASSWORD or Kafka's "
            "kafka-configs tool.\n"
            "Exit status: 0 done (or nothing to change), 1 Kafka refused "
            "something,\n"
            "2 bad usage, config or directory.\n");
}

/* Last error seen by librdkafka's error callback (e.g. a failed login,
 * which otherwise only shows as a metadata time-out). */
static rd_kafka_resp_err_t last_cb_err;
/* Connection refusals (TLS or login): when every broker refused us,
 * provision stops waiting and says why in plain words. */
static cishare_kafka_watch_t conn_watch;

static void provision_error_cb(rd_kafka_t *rk, int err, const char *reason,
                               void *opaque)
{
    (void)rk;
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || !last_cb_err)
        last_cb_err = (rd_kafka_resp_err_t)err;
    cishare_kafka_watch_update(&conn_watch, (rd_kafka_resp_err_t)err, reason,
                               NULL);
}

/* librdkafka's own log lines are for debugging; provision reports every
 * failure itself, in plain words. */
static void provision_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                             const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

/* Wait for one admin result on q; NULL on time-out. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q)
{
    return rd_kafka_queue_poll(q, PROVISION_TIMEOUT_MS + 5000);
}

typedef struct {
    const char *who; /* admin user name, for messages */
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int failures;
    size_t created, added, deleted; /* what Kafka confirmed */
    int32_t brokers[64];            /* every broker, to wait for ACLs */
    int broker_cnt;
} prov_t;

static void report(prov_t *pv, rd_kafka_resp_err_t err, const char *op,
                   const char *res, const char *detail)
{
    char msg[512];

    cishare_kafka_describe_error(err, pv->who, op, res, msg, sizeof(msg));
    if (detail && *detail && !cishare_kafka_err_is_authz(err) &&
        err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        cishare_cli_error("%s (Kafka says: %s)", msg, detail);
    else
        cishare_cli_error("%s", msg);
    pv->failures++;
}

static int existing_topics(prov_t *pv, cishare_strlist_t *out, int *broker_idp)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    int i;

    /* In steps, serving error_cb in between: a refused login or TLS
     * handshake ends the wait (librdkafka would retry until the end). */
    for (i = 0; i < PROVISION_TIMEOUT_MS / 1000; i++) {
        err = rd_kafka_metadata(pv->rk, 1, NULL, &md, 1000);
        rd_kafka_poll(pv->rk, 0); /* serve error_cb: a refused login */
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT &&
            err != RD_KAFKA_RESP_ERR__TRANSPORT)
            break;
        if (conn_watch.refused && conn_watch.all_down) {
            cishare_cli_error("provision: %s", conn_watch.text);
            pv->failures++;
            return -1;
        }
    }
    if (err) {
        if (last_cb_err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
            err = last_cb_err;
        else if (err == RD_KAFKA_RESP_ERR__TRANSPORT && last_cb_err)
            err = last_cb_err;
        report(pv, err, "list topics", NULL, NULL);
        return -1;
    }
    *broker_idp = md->broker_cnt ? md->brokers[0].id : md->orig_broker_id;
    for (i = 0; i < md->broker_cnt && pv->broker_cnt < 64; i++)
        pv->brokers[pv->broker_cnt++] = md->brokers[i].id;
    for (i = 0; i < md->topic_cnt; i++)
        if (cishare_strlist_add(out, md->topics[i].topic)) {
            rd_kafka_metadata_destroy(md);
            return -1;
        }
    rd_kafka_metadata_destroy(md);
    cishare_strlist_sort(out);
    return 0;
}

/*
 * Fail before changing anything when the client is not an administrator.
 * DescribeAcls cannot tell: librdkafka 2.0.2 returns an empty list, not
 * the broker's refusal. Describing a broker's configuration needs a
 * cluster permission too, and its refusal does come back.
 */
static int check_admin(prov_t *pv, int broker_id)
{
    rd_kafka_ConfigResource_t *cr;
    rd_kafka_AdminOptions_t *opt;
    rd_kafka_event_t *ev;
    const rd_kafka_ConfigResource_t **res;
    rd_kafka_resp_err_t err;
    char id[16];
    size_t cnt = 0;

    snprintf(id, sizeof(id), "%d", broker_id);
    cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
    opt = rd_kafka_AdminOptions_new(pv->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opt, PROVISION_TIMEOUT_MS, NULL,
                                              0);
    rd_kafka_DescribeConfigs(pv->rk, &cr, 1, opt, pv->q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_ConfigResource_destroy(cr);
    ev = wait_result(pv->q);
    if (!ev) {
        report(pv, RD_KAFKA_RESP_ERR__TIMED_OUT, "describe the cluster", NULL,
               NULL);
        return -1;
    }
    err = rd_kafka_event_error(ev);
    if (!err) {
        res = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        if (cnt)
            err = rd_kafka_ConfigResource_error(res[0]);
    }
    rd_kafka_event_destroy(ev);
    if (cishare_kafka_err_is_authz(err)) {
        cishare_cli_error("%s is not authorised to manage topics and ACLs "
                          "on the cluster: provision needs an administrator "
                          "(a Kafka super user)",
                          pv->who);
        pv->failures++;
        return -1;
    }
    if (err) {
        report(pv, err, "describe the cluster", NULL, NULL);
        return -1;
    }
    return 0;
}

static int create_topics(prov_t *pv, const cishare_config_t *conf,
                         const cishare_strlist_t *names)
{
    const char *dir_topic =
        cishare_config_get(conf, CISHARE_CONF_DIRECTORY_TOPIC);
    rd_kafka_NewTopic_t **nt;
    rd_kafka_AdminOptions_t *opt;
    rd_kafka_event_t *ev;
    const rd_kafka_topic_result_t **res;
    int parts =
        (int)cishare_config_get_int(conf, "cishare.provision.partitions");
    int rf = (int)cishare_config_get_int(
        conf, "cishare.provision.replication-factor");
    int64_t ret =
        cishare_config_get_int(conf, "cishare.provision.retention-ms");
    int64_t isr =
        cishare_config_get_int(conf, "cishare.provision.min-insync-replicas");
    char errstr[256], val[32];
    size_t i, cnt = 0;

    if (!names->cnt)
        return 0;
    nt = calloc(names->cnt, sizeof(*nt));
    if (!nt)
        return -1;
    for (i = 0; i < names->cnt; i++) {
        /* the directory topic: one partition, compacted (the latest
         * version stays), room for the largest directory */
        bool dirtopic = !strcmp(names->items[i], dir_topic);
        nt[i] = rd_kafka_NewTopic_new(names->items[i], dirtopic ? 1 : parts, rf,
                                      errstr, sizeof(errstr));
        if (!nt[i]) {
            cishare_cli_error("topic %s: %s", names->items[i], errstr);
            goto out;
        }
        if (dirtopic) {
            rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy", "compact");
            snprintf(val, sizeof(val), "%u",
                     (unsigned)CISHARE_DIRTOPIC_MAX_MESSAGE_BYTES);
            rd_kafka_NewTopic_set_config(nt[i], "max.message.bytes", val);
        } else {
            snprintf(val, sizeof(val), "%" PRId64, ret);
            rd_kafka_NewTopic_set_config(nt[i], "retention.ms", val);
            /* the broker's clock on every record: feeds judge a revoked
             * key's messages by when they reached Kafka (message.h) */
            rd_kafka_NewTopic_set_config(nt[i], "message.timestamp.type",
                                         "LogAppendTime");
        }
        if (isr > 0) {
            snprintf(val, sizeof(val), "%" PRId64, isr);
            rd_kafka_NewTopic_set_config(nt[i], "min.insync.replicas", val);
        }
    }
    opt = rd_kafka_AdminOptions_new(pv->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, PROVISION_TIMEOUT_MS, NULL,
                                                0);
    rd_kafka_CreateTopics(pv->rk, nt, names->cnt, opt, pv->q);
    rd_kafka_AdminOptions_destroy(opt);
    ev = wait_result(pv->q);
    if (!ev) {
        report(pv, RD_KAFKA_RESP_ERR__TIMED_OUT, "create topics", NULL, NULL);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        report(pv, rd_kafka_event_error(ev), "create topics", NULL,
               rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        const char *name = rd_kafka_topic_result_name(res[i]);
        if (!e || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            pv->created += !e;
            printf("+ topic %s%s\n", name,
                   e ? " (already created meanwhile)" : "");
        } else
            report(pv, e, "create topic", name,
                   rd_kafka_topic_result_error_string(res[i]));
    }
    rd_kafka_event_destroy(ev);
out:
    for (i = 0; i < names->cnt; i++)
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    return 0;
}

/* Does an ACL outside cishare's resources still reach every cishare
 * topic or group (a wildcard, or a prefix of "cishare.")? */
static bool reaches_cishare(const rd_kafka_AclBinding_t *b)
{
    const char *n = rd_kafka_AclBinding_name(b);
    rd_kafka_ResourceType_t rt = rd_kafka_AclBinding_restype(b);
    const char *ours = rt == RD_KAFKA_RESOURCE_GROUP ? CISHARE_FEED_GROUP_PREFIX
                                                     : CISHARE_TOPIC_PREFIX;

    if (rt != RD_KAFKA_RESOURCE_TOPIC && rt != RD_KAFKA_RESOURCE_GROUP)
        return false;
    if (rd_kafka_AclBinding_permission_type(b) !=
        RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW)
        return false;
    if (!strcmp(n, "*"))
        return true;
    return rd_kafka_AclBinding_resource_pattern_type(b) ==
               RD_KAFKA_RESOURCE_PATTERN_PREFIXED &&
           !strncmp(ours, n, strlen(n)) && strlen(n) < strlen(ours);
}

static void binding_format(const rd_kafka_AclBinding_t *b, char *buf,
                           size_t size)
{
    snprintf(
        buf, size, "%s %s %s %s%s%s%s%s", rd_kafka_AclBinding_principal(b),
        rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(b)),
        rd_kafka_AclBinding_restype(b) == RD_KAFKA_RESOURCE_GROUP ? "group"
                                                                  : "topic",
        rd_kafka_AclBinding_resource_pattern_type(b) ==
                RD_KAFKA_RESOURCE_PATTERN_PREFIXED
            ? "prefix "
            : "",
        rd_kafka_AclBinding_name(b),
        strcmp(rd_kafka_AclBinding_host(b), "*") ? " host " : "",
        strcmp(rd_kafka_AclBinding_host(b), "*") ? rd_kafka_AclBinding_host(b)
                                                 : "",
        rd_kafka_AclBinding_permission_type(b) ==
                RD_KAFKA_ACL_PERMISSION_TYPE_DENY
            ? " (DENY)"
            : "");
}

/*
 * Read every ACL; sort cishare's ALLOW bindings into `present` (wanted
 * and there) and `stale` (there, not wanted: filters to delete).
 */
static int describe_acls(prov_t *pv, int32_t broker,
                         const cishare_acl_set_t *want,
                         cishare_acl_set_t *present,
                         rd_kafka_AclBindingFilter_t ***stalep,
                         size_t *stale_cntp)
{
    rd_kafka_AclBindingFilter_t *f, **stale = NULL;
    rd_kafka_AdminOptions_t *opt;
    rd_kafka_event_t *ev;
    const rd_kafka_AclBinding_t **acls;
    char errstr[256], line[512];
    size_t i, cnt = 0, sc = 0;

    f = rd_kafka_AclBindingFilter_new(
        RD_KAFKA_RESOURCE_ANY, NULL, RD_KAFKA_RESOURCE_PATTERN_ANY, NULL, NULL,
        RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, errstr,
        sizeof(errstr));
    if (!f) {
        cishare_cli_error("ACL filter: %s", errstr);
        return -1;
    }
    opt = rd_kafka_AdminOptions_new(pv->rk, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
    rd_kafka_AdminOptions_set_request_timeout(opt, PROVISION_TIMEOUT_MS, NULL,
                                              0);
    if (broker >= 0)
        rd_kafka_AdminOptions_set_broker(opt, broker, NULL, 0);
    rd_kafka_DescribeAcls(pv->rk, f, opt, pv->q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_AclBinding_destroy(f);
    ev = wait_result(pv->q);
    if (!ev) {
        report(pv, RD_KAFKA_RESP_ERR__TIMED_OUT, "describe ACLs", NULL, NULL);
        return -1;
    }
    if (rd_kafka_event_error(ev)) {
        report(pv, rd_kafka_event_error(ev), "describe ACLs", NULL,
               rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return -1;
    }
    acls = rd_kafka_DescribeAcls_result_acls(
        rd_kafka_event_DescribeAcls_result(ev), &cnt);
    if (cnt && !(stale = calloc(cnt, sizeof(*stale)))) {
        rd_kafka_event_destroy(ev);
        return -1;
    }
    for (i = 0; i < cnt; i++) {
        const rd_kafka_AclBinding_t *b = acls[i];
        cishare_acl_t a;
        rd_kafka_ResourceType_t rt = rd_kafka_AclBinding_restype(b);

        if (!cishare_acl_is_managed(rt, rd_kafka_AclBinding_name(b))) {
            if (reaches_cishare(b)) {
                binding_format(b, line, sizeof(line));
                cishare_cli_info(
                    "WARNING: ACL '%s' is not managed by "
                    "cishare and reaches every cishare %s",
                    line, rt == RD_KAFKA_RESOURCE_GROUP ? "group" : "topic");
            }
            continue;
        }
        if (rd_kafka_AclBinding_permission_type(b) !=
            RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW) {
            binding_format(b, line, sizeof(line));
            cishare_cli_info("kept: %s (provision never removes a DENY)", line);
            continue;
        }
        a.restype = rt;
        a.pattern = rd_kafka_AclBinding_resource_pattern_type(b);
        a.name = (char *)rd_kafka_AclBinding_name(b);
        a.principal = (char *)rd_kafka_AclBinding_principal(b);
        a.op = rd_kafka_AclBinding_operation(b);
        if (!strcmp(rd_kafka_AclBinding_host(b), "*") &&
            cishare_acl_set_has(want, &a)) {
            if (cishare_acl_set_add(present, a.restype, a.pattern, a.name,
                                    a.principal, a.op))
                goto nomem;
            continue;
        }
        stale[sc] = rd_kafka_AclBindingFilter_new(
            rt, a.name, a.pattern, a.principal, rd_kafka_AclBinding_host(b),
            a.op, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr, sizeof(errstr));
        if (!stale[sc]) {
            cishare_cli_error("ACL filter: %s", errstr);
            pv->failures++;
            continue;
        }
        sc++;
    }
    rd_kafka_event_destroy(ev);
    cishare_acl_set_sort(present);
    *stalep = stale;
    *stale_cntp = sc;
    return 0;
nomem:
    rd_kafka_event_destroy(ev);
    rd_kafka_AclBinding_destroy_array(stale, sc);
    free(stale);
    return -1;
}

static void create_acls(prov_t *pv, const cishare_acl_set_t *add)
{
    rd_kafka_AclBinding_t **nb;
    rd_kafka_AdminOptions_t *opt;
    rd_kafka_event_t *ev;
    const rd_kafka_acl_result_t **res;
    char errstr[256], line[512];
    size_t i, cnt = 0;

    if (!add->cnt)
        return;
    if (!(nb = calloc(add->cnt, sizeof(*nb)))) {
        pv->failures++;
        return;
    }
    for (i = 0; i < add->cnt; i++) {
        const cishare_acl_t *a = &add->items[i];
        nb[i] = rd_kafka_AclBinding_new(
            a->restype, a->name, a->pattern, a->principal, "*", a->op,
            RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr, sizeof(errstr));
        if (!nb[i]) {
            cishare_acl_format(a, line, sizeof(line));
            cishare_cli_error("ACL '%s': %s", line, errstr);
            pv->failures++;
            goto out;
        }
    }
    opt = rd_kafka_AdminOptions_new(pv->rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
    rd_kafka_AdminOptions_set_request_timeout(opt, PROVISION_TIMEOUT_MS, NULL,
                                              0);
    rd_kafka_CreateAcls(pv->rk, nb, add->cnt, opt, pv->q);
    rd_kafka_AdminOptions_destroy(opt);
    ev = wait_result(pv->q);
    if (!ev) {
        report(pv, RD_KAFKA_RESP_ERR__TIMED_OUT, "create ACLs", NULL, NULL);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        report(pv, rd_kafka_event_error(ev), "create ACLs", NULL,
               rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        goto out;
    }
    /* Results come back in request order. */
    res = rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev),
                                          &cnt);
    for (i = 0; i < cnt && i < add->cnt; i++) {
        const rd_kafka_error_t *e = rd_kafka_acl_result_error(res[i]);
        cishare_acl_format(&add->items[i], line, sizeof(line));
        if (!e) {
            pv->added++;
            printf("+ acl %s\n", line);
        } else
            report(pv, rd_kafka_error_code(e), "create ACL", line,
                   rd_kafka_error_string(e));
    }
    rd_kafka_event_destroy(ev);
out:
    for (i = 0; i < add->cnt; i++)
        if (nb[i])
            rd_kafka_AclBinding_destroy(nb[i]);
    free(nb);
}

static void delete_acls(prov_t *pv, rd_kafka_AclBindingFilter_t **del,
                        size_t del_cnt)
{
    rd_kafka_AdminOptions_t *opt;
    rd_kafka_event_t *ev;
    const rd_kafka_DeleteAcls_result_response_t **res;
    char line[512];
    size_t i, j, cnt = 0, mcnt;

    if (!del_cnt)
        return;
    opt = rd_kafka_AdminOptions_new(pv->rk, RD_KAFKA_ADMIN_OP_DELETEACLS);
    rd_kafka_AdminOptions_set_request_timeout(opt, PROVISION_TIMEOUT_MS, NULL,
                                              0);
    rd_kafka_DeleteAcls(pv->rk, del, del_cnt, opt, pv->q);
    rd_kafka_AdminOptions_destroy(opt);
    ev = wait_result(pv->q);
    if (!ev) {
        report(pv, RD_KAFKA_RESP_ERR__TIMED_OUT, "delete ACLs", NULL, NULL);
        return;
    }
    if (rd_kafka_event_error(ev)) {
        report(pv, rd_kafka_event_error(ev), "delete ACLs", NULL,
               rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return;
    }
    res = rd_kafka_DeleteAcls_result_responses(
        rd_kafka_event_DeleteAcls_result(ev), &cnt);
    for (i = 0; i < cnt; i++) {
        const rd_kafka_error_t *e =
            rd_kafka_DeleteAcls_result_response_error(res[i]);
        const rd_kafka_AclBinding_t **m;
        if (e) {
            binding_format(del[i < del_cnt ? i : 0], line, sizeof(line));
            report(pv, rd_kafka_error_code(e), "delete ACL", line,
                   rd_kafka_error_string(e));
            continue;
        }
        m = rd_kafka_DeleteAcls_result_response_matching_acls(res[i], &mcnt);
        for (j = 0; j < mcnt; j++) {
            binding_format(m[j], line, sizeof(line));
            printf("- acl %s\n", line);
            pv->deleted++;
        }
    }
    rd_kafka_event_destroy(ev);
}

/* The ACL half of the plan, as broker `broker` sees it (-1: any broker):
 * bindings to add and stale ones to delete. */
static int plan_acls(prov_t *pv, int32_t broker, const cishare_acl_set_t *want,
                     cishare_acl_set_t *add,
                     rd_kafka_AclBindingFilter_t ***stalep, size_t *stale_cntp)
{
    cishare_acl_set_t present = {0};
    size_t i;
    int rc = -1;

    if (describe_acls(pv, broker, want, &present, stalep, stale_cntp))
        return -1;
    for (i = 0; i < want->cnt; i++) {
        const cishare_acl_t *a = &want->items[i];
        if (!cishare_acl_set_has(&present, a) &&
            cishare_acl_set_add(add, a->restype, a->pattern, a->name,
                                a->principal, a->op))
            goto out;
    }
    rc = 0;
out:
    cishare_acl_set_clear(&present);
    return rc;
}

static void free_filters(rd_kafka_AclBindingFilter_t **f, size_t cnt)
{
    if (f) {
        rd_kafka_AclBinding_destroy_array(f, cnt);
        free(f);
    }
}

/*
 * The controller accepts ACL changes before every broker's authorizer
 * applies them, each at its own pace: wait until DescribeAcls on every
 * broker shows the new state, so that a participant connecting right after
 * provision meets the new rules whichever broker leads its partition.
 */
static void wait_applied(prov_t *pv, const cishare_acl_set_t *want)
{
    int tries, b = 0;

    for (tries = 0; tries < 100; tries++) {
        cishare_acl_set_t add = {0};
        rd_kafka_AclBindingFilter_t **stale = NULL;
        size_t stale_cnt = 0;
        int done;

        if (plan_acls(pv, pv->broker_cnt ? pv->brokers[b] : -1, want, &add,
                      &stale, &stale_cnt))
            return;
        done = !add.cnt && !stale_cnt;
        cishare_acl_set_clear(&add);
        free_filters(stale, stale_cnt);
        if (done && ++b >= pv->broker_cnt)
            return;
        if (!done)
            rd_kafka_poll(pv->rk, 200);
    }
    cishare_cli_info("WARNING: the brokers do not show every ACL change yet; "
                     "run provision again to check");
}

int cishare_cmd_provision(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"directory", required_argument, NULL, 'd'},
        {"root-key", required_argument, NULL, 'r'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_directory_t *dir = NULL;
    const char *dir_path = NULL, *root_path = NULL, *user, *dir_topic;
    char errstr[4096];
    cishare_tls_info_t tls;
    int c, dry_run = 0, rc = CISHARE_EXIT_USAGE, nconf = 0;
    cishare_strlist_t want_topics = {0}, have_topics = {0}, new_topics = {0};
    cishare_acl_set_t want = {0}, add = {0};
    rd_kafka_AclBindingFilter_t **stale = NULL;
    size_t stale_cnt = 0, i, kept = 0;
    rd_kafka_conf_t *kconf;
    prov_t pv = {0};
    int broker_id = -1;
    const char *xs[64];
    size_t xcnt = 0;

    if (!conf) {
        cishare_cli_error("provision: out of memory");
        return CISHARE_EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:d:r:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (cishare_config_load(conf, optarg, errstr, sizeof(errstr))) {
                cishare_cli_error("provision: %s", errstr);
                goto done;
            }
            nconf++;
            break;
        case 'X':
            if (xcnt == sizeof(xs) / sizeof(xs[0])) {
                cishare_cli_usage_error("provision", "too many -X options");
                goto done;
            }
            xs[xcnt++] = optarg;
            break;
        case 'd':
            dir_path = optarg;
            break;
        case 'r':
            root_path = optarg;
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'h':
            provision_usage(stdout);
            rc = CISHARE_EXIT_OK;
            goto done;
        default:
            cishare_cli_usage_error("provision", "bad option");
            goto done;
        }
    }
    if (optind < argc) {
        cishare_cli_usage_error("provision", "unexpected argument '%s'",
                                argv[optind]);
        goto done;
    }
    /* -X overrides every file, whatever the order on the command line. */
    for (i = 0; i < xcnt; i++)
        if (cishare_config_set_kv(conf, xs[i], errstr, sizeof(errstr))) {
            cishare_cli_error("provision: -X %s: %s", xs[i], errstr);
            goto done;
        }
    if (!nconf && !cishare_config_get_kafka(conf, "bootstrap.servers")) {
        cishare_cli_usage_error("provision",
                                "-c ADMIN_CONFIG is required (bootstrap "
                                "servers and admin credentials)");
        goto done;
    }
    if (!dir_path)
        dir_path = cishare_config_get(conf, CISHARE_CONF_DIRECTORY);
    if (!dir_path) {
        cishare_cli_usage_error("provision", "--directory FILE is required");
        goto done;
    }
    if (!root_path)
        root_path = cishare_config_get(conf, CISHARE_CONF_ROOT_KEY);
    if (cishare_identity_accept_directory(conf, dir_path, root_path, NULL, &dir,
                                          errstr, sizeof(errstr))) {
        cishare_cli_error("provision: %s", errstr);
        goto done;
    }
    if (cishare_topics_for_directory(dir, &want_topics, errstr,
                                     sizeof(errstr))) {
        cishare_cli_error("provision: %s: %s", dir_path, errstr);
        goto done;
    }
    /* the directory topic (dirtopic.h): every participant reads exactly
     * it, so it must be no topic of the layout (the config layer refuses
     * such a name too; this grants the ACL, so it checks again) */
    dir_topic = cishare_config_get(conf, CISHARE_CONF_DIRECTORY_TOPIC);
    if (cishare_topic_directory_check(dir_topic, errstr, sizeof(errstr))) {
        cishare_cli_usage_error("provision", "%s", errstr);
        goto done;
    }
    if (cishare_strlist_add(&want_topics, dir_topic)) {
        cishare_cli_error("provision: out of memory");
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    cishare_strlist_sort(&want_topics);
    if (cishare_acls_for_directory(dir, &want) ||
        cishare_acls_for_directory_topic(dir, dir_topic, &want)) {
        cishare_cli_error("provision: out of memory");
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    for (i = 0; i < cishare_directory_participant_cnt(dir); i++) {
        const cishare_participant_t *p = cishare_directory_participant(dir, i);
        if (strncmp(p->principal, "User:", 5))
            cishare_cli_info("WARNING: participant '%s' has principal '%s': "
                             "SCRAM and mTLS principals are 'User:<name>'",
                             p->id, p->principal);
    }

    /* A certificate the cluster would refuse: say why, change nothing. */
    if (cishare_tls_preflight(
            conf, dir, cishare_config_get(conf, CISHARE_CONF_PARTICIPANT), 0,
            &tls, errstr, sizeof(errstr))) {
        cishare_cli_error("provision: %s", errstr);
        goto done; /* CISHARE_EXIT_USAGE */
    }
    if (tls.tls || cishare_tls_plaintext_warn(conf, &tls))
        cishare_cli_info("provision: %s",
                         cishare_tls_info_format(&tls, errstr, sizeof(errstr)));
    user = cishare_config_get_kafka(conf, "sasl.username");
    pv.who = tls.principal[0] ? tls.principal : user ? user : "this client";
    rc = CISHARE_EXIT_FAIL;
    if (!(kconf = cishare_config_kafka_conf(conf, errstr, sizeof(errstr)))) {
        cishare_cli_error("provision: %s", errstr);
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    rd_kafka_conf_set_error_cb(kconf, provision_error_cb);
    if (!cishare_config_get_kafka(conf, "debug"))
        rd_kafka_conf_set_log_cb(kconf, provision_log_cb);
    if (!(pv.rk =
              rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof(errstr)))) {
        rd_kafka_conf_destroy(kconf);
        cishare_cli_error("provision: %s", errstr);
        goto done;
    }
    pv.q = rd_kafka_queue_new(pv.rk);

    /* Plan: topics. */
    if (existing_topics(&pv, &have_topics, &broker_id) ||
        check_admin(&pv, broker_id))
        goto done;
    for (i = 0; i < want_topics.cnt; i++)
        if (!cishare_strlist_has(&have_topics, want_topics.items[i]) &&
            cishare_strlist_add(&new_topics, want_topics.items[i]))
            goto done;
    for (i = 0; i < have_topics.cnt; i++)
        if (!strncmp(have_topics.items[i], CISHARE_TOPIC_PREFIX,
                     strlen(CISHARE_TOPIC_PREFIX)) &&
            !cishare_strlist_has(&want_topics, have_topics.items[i]))
            cishare_cli_info("kept: topic %s (not in the directory; "
                             "provision never deletes a topic)",
                             have_topics.items[i]);

    /* Plan: ACLs. */
    if (plan_acls(&pv, -1, &want, &add, &stale, &stale_cnt))
        goto done;

    if (dry_run) {
        char line[512];
        for (i = 0; i < new_topics.cnt; i++)
            printf("+ topic %s\n", new_topics.items[i]);
        for (i = 0; i < add.cnt; i++) {
            cishare_acl_format(&add.items[i], line, sizeof(line));
            printf("+ acl %s\n", line);
        }
        for (i = 0; i < stale_cnt; i++) {
            binding_format(stale[i], line, sizeof(line));
            printf("- acl %s\n", line);
        }
    } else {
        /* in slices: a KRaft controller refuses one request that makes
         * more than 10 000 metadata records ("excessively large batch
         * operation"); a topic makes 1 + partitions + up to 3 config
         * records, an ACL one (3 000 participants: 3 065 topics); ACLs in
         * thousands, each request answered within the timeout */
        size_t step = 9000 / (4 + (size_t)cishare_config_get_int(
                                      conf, "cishare.provision.partitions"));
        if (!step) /* partitions beyond 8 996: one topic a request */
            step = 1;
        for (i = 0; i < new_topics.cnt; i += step) {
            cishare_strlist_t slice = {
                .items = new_topics.items + i,
                .cnt = new_topics.cnt - i < step ? new_topics.cnt - i : step};
            create_topics(&pv, conf, &slice);
        }
        for (i = 0; i < add.cnt; i += 1000) {
            cishare_acl_set_t slice = add;
            slice.items = add.items + i;
            slice.cnt = add.cnt - i < 1000 ? add.cnt - i : 1000;
            create_acls(&pv, &slice);
        }
        for (i = 0; i < stale_cnt; i += 1000)
            delete_acls(&pv, stale + i,
                        stale_cnt - i < 1000 ? stale_cnt - i : 1000);
        if (!pv.failures && (add.cnt || stale_cnt))
            wait_applied(&pv, &want);
    }
    fflush(stdout);
    kept = want_topics.cnt - new_topics.cnt;
    if (!new_topics.cnt && !add.cnt && !stale_cnt)
        cishare_cli_info("provision: nothing to change (%zu topics, %zu ACLs "
                         "for %zu participants)",
                         want_topics.cnt, want.cnt,
                         cishare_directory_participant_cnt(dir));
    else if (dry_run)
        cishare_cli_info("provision --dry-run: would create %zu topics (%zu "
                         "exist), add %zu ACLs, delete %zu stale ACLs",
                         new_topics.cnt, kept, add.cnt, stale_cnt);
    else
        cishare_cli_info("provision: created %zu topics (%zu exist), added "
                         "%zu ACLs, deleted %zu stale ACLs%s",
                         pv.created, kept, pv.added, pv.deleted,
                         pv.failures ? "; some changes FAILED (see above)"
                                     : "");
    rc = pv.failures ? CISHARE_EXIT_FAIL : CISHARE_EXIT_OK;

done:
    free_filters(stale, stale_cnt);
    if (pv.q)
        rd_kafka_queue_destroy(pv.q);
    if (pv.rk)
        rd_kafka_destroy(pv.rk);
    cishare_strlist_clear(&want_topics);
    cishare_strlist_clear(&have_topics);
    cishare_strlist_clear(&new_topics);
    cishare_acl_set_clear(&want);
    cishare_acl_set_clear(&add);
    cishare_directory_destroy(dir);
    cishare_config_destroy(conf);
    return rc;
}
