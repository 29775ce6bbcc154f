/* Topic layout and ACL model (topics.h) on the example directory, and the
 * model checked against routing and the policy engine: every recipient can
 * read a topic the message is routed to, and at AMBER no one else can. */
#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/policy.h"
#include "cishare/routing.h"
#include "cishare/topics.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static cishare_directory_t *dir;
static cishare_acl_set_t acls;

static int setup(void **state)
{
    char path[4096], err[1024];
    (void)state;
    snprintf(path, sizeof(path), "%s/deploy/examples/directory.yaml",
             getenv("CISHARE_SRC") ? getenv("CISHARE_SRC") : ".");
    if (cishare_directory_load(path, NULL, &dir, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return cishare_acls_for_directory(dir, &acls) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_acl_set_clear(&acls);
    cishare_directory_destroy(dir);
    return 0;
}

static bool can(const char *id, rd_kafka_AclOperation_t op, const char *t)
{
    char pr[128];
    snprintf(pr, sizeof(pr), "User:%s", id);
    return cishare_acl_allows(&acls, pr, RD_KAFKA_RESOURCE_TOPIC, t, op);
}
#define R RD_KAFKA_ACL_OPERATION_READ
#define W RD_KAFKA_ACL_OPERATION_WRITE

static void test_names(void **state)
{
    char b[CISHARE_TOPIC_MAX];
    cishare_strlist_t l = {0};
    (void)state;
    assert_int_equal(
        cishare_topic_sector(CISHARE_TLP_AMBER_STRICT, "gas", b, sizeof(b)),
        CISHARE_OK);
    assert_string_equal(b, "cishare.amber-strict.gas");
    assert_int_not_equal(
        cishare_topic_sector(CISHARE_TLP_RED, "gas", b, sizeof(b)), CISHARE_OK);
    assert_int_not_equal(cishare_topic_inbox("nco", b, 10), CISHARE_OK);
    assert_int_equal(cishare_topics_for_directory(dir, &l, NULL, 0),
                     CISHARE_OK);
    /* 4 labels x (15 sectors + all) + 12 inboxes */
    assert_int_equal(l.cnt, 4 * 16 + 12);
    assert_true(cishare_strlist_has(&l, "cishare.inbox.ceptoar-council"));
    assert_true(cishare_strlist_has(&l, "cishare.inbox.op-bank-a"));
    assert_true(cishare_strlist_has(&l, "cishare.green.all"));
    cishare_strlist_clear(&l);
}

static void test_matrix(void **state)
{
    (void)state;
    /* the table */
    assert_false(can("op-power-a", R, "cishare.amber.finance"));
    assert_false(can("op-power-a", R, "cishare.inbox.op-bank-a"));
    assert_false(can("op-power-a", W, "cishare.green.finance"));
    assert_false(can("op-power-a", W, "cishare.amber.all"));
    assert_true(can("op-power-a", R, "cishare.amber.electricity"));
    assert_true(can("op-power-a", R, "cishare.green.finance"));
    assert_true(can("op-power-a", W, "cishare.amber-strict.electricity"));
    assert_true(can("op-power-a", W, "cishare.inbox.nco"));
    /* amber. prefix never covers amber-strict. */
    assert_true(can("nco", W, "cishare.amber.gas"));
    assert_true(can("nco", W, "cishare.amber-strict.gas"));
    assert_false(can("nco", R, "cishare.amber.gas"));
    assert_true(can("min-meti", R, "cishare.amber-strict.petroleum"));
    assert_false(can("min-meti", R, "cishare.amber.finance"));
    assert_true(can("jpcert", W, "cishare.green.all"));
    /* GREEN defaults to `all`: every participant writes the community
     * topics. */
    assert_true(can("op-power-a", W, "cishare.green.all"));
    assert_true(can("op-bank-a", W, "cishare.clear.all"));
    assert_false(can("jpcert", W, "cishare.amber.all"));
    assert_false(can("jpcert", W, "cishare.green.electricity"));
    /* the council: its inbox, the community topics, no sector's AMBER */
    assert_true(can("ceptoar-council", R, "cishare.inbox.ceptoar-council"));
    assert_true(can("ceptoar-council", R, "cishare.green.all"));
    assert_true(can("ceptoar-council", W, "cishare.inbox.ceptoar-gas"));
    assert_false(can("ceptoar-council", R, "cishare.amber.gas"));
    assert_false(can("ceptoar-council", R, "cishare.inbox.ceptoar-gas"));
    assert_true(can("ceptoar-gas", W, "cishare.inbox.ceptoar-council"));
    /* credit is METI's */
    assert_true(can("min-meti", R, "cishare.amber.credit"));
    assert_false(can("min-fsa", R, "cishare.amber.credit"));
    assert_true(cishare_acl_is_managed(RD_KAFKA_RESOURCE_TOPIC, "cishare.x"));
    assert_false(cishare_acl_is_managed(RD_KAFKA_RESOURCE_TOPIC, "other"));
}

/* For audience text at tlp from origin: each member reads a routed topic;
 * at AMBER (not encrypted) nobody else reads any routed topic. */
static void check(const char *origin_id, cishare_tlp_t tlp, const char *text)
{
    const cishare_participant_t *o = cishare_directory_find(dir, origin_id);
    const cishare_participant_t *mem[64];
    cishare_audience_t aud = {0};
    cishare_strlist_t topics = {0};
    cishare_policy_msg_t pm;
    char err[512], pr[128];
    size_t i, j, n;

    assert_non_null(o);
    assert_int_equal(
        cishare_audience_resolve(dir, tlp, o, text, &aud, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(
        cishare_routing_topics(dir, o, tlp, &aud, &topics, err, sizeof(err)),
        CISHARE_OK);
    pm.tlp = tlp;
    pm.origin = o->id;
    pm.audience = &aud;
    pm.expires_ms = 0;
    n = cishare_policy_members(dir, &pm, 0, mem, 64);
    for (i = 0; i < cishare_directory_participant_cnt(dir); i++) {
        const cishare_participant_t *p = cishare_directory_participant(dir, i);
        bool member = false, reads = false;
        for (j = 0; j < n; j++)
            member |= mem[j] == p;
        snprintf(pr, sizeof(pr), "%s", p->principal);
        for (j = 0; j < topics.cnt; j++)
            reads |= cishare_acl_allows(&acls, pr, RD_KAFKA_RESOURCE_TOPIC,
                                        topics.items[j],
                                        RD_KAFKA_ACL_OPERATION_READ);
        if (member && !reads && p != o)
            fail_msg("%s %s from %s: member %s reads no routed topic",
                     cishare_tlp_name(tlp), text, origin_id, p->id);
        if (tlp >= CISHARE_TLP_AMBER && reads && !member)
            fail_msg("%s %s from %s: non-member %s can read a routed topic",
                     cishare_tlp_name(tlp), text, origin_id, p->id);
    }
    /* and the origin may write every routed topic */
    snprintf(pr, sizeof(pr), "%s", o->principal);
    for (j = 0; j < topics.cnt; j++)
        if (!cishare_acl_allows(&acls, pr, RD_KAFKA_RESOURCE_TOPIC,
                                topics.items[j], RD_KAFKA_ACL_OPERATION_WRITE))
            fail_msg("%s may not write %s", origin_id, topics.items[j]);
    cishare_strlist_clear(&topics);
    cishare_audience_clear(&aud);
}

static void test_routing_vs_acls(void **state)
{
    (void)state;
    check("op-power-a", CISHARE_TLP_AMBER, NULL);
    check("op-power-a", CISHARE_TLP_AMBER_STRICT, "sector:electricity");
    check("op-power-a", CISHARE_TLP_AMBER, "participant:min-meti");
    check("op-power-a", CISHARE_TLP_RED,
          "participant:nco,participant:op-bank-a");
    check("op-power-a", CISHARE_TLP_GREEN, "sector:electricity");
    check("min-meti", CISHARE_TLP_AMBER, "sector:gas,participant:nco");
    check("nco", CISHARE_TLP_AMBER, "all");
    check("nco", CISHARE_TLP_AMBER, "sector:finance,sector:gas");
    check("nco", CISHARE_TLP_GREEN, "all");
    check("jpcert", CISHARE_TLP_GREEN, "all");
    check("ceptoar-gas", CISHARE_TLP_AMBER, "participant:op-gas-a");
    /* CEPTOAR <-> CEPTOAR council */
    check("ceptoar-gas", CISHARE_TLP_AMBER, "participant:ceptoar-council");
    check("ceptoar-council", CISHARE_TLP_AMBER, "role:ceptoar");
    check("ceptoar-council", CISHARE_TLP_AMBER,
          "participant:ceptoar-gas,participant:ceptoar-finance");
    check("ceptoar-council", CISHARE_TLP_GREEN, "all");
}

/* Role items: at AMBER and stricter they must reach only the role's
 * members, never .all, which every participant reads (deploy/TOPICS.md). */
static void test_role_routing(void **state)
{
    (void)state;
    check("nco", CISHARE_TLP_AMBER, "role:ceptoar");
    check("nco", CISHARE_TLP_AMBER_STRICT, "role:ministry");
    check("op-power-a", CISHARE_TLP_AMBER, "role:ceptoar,sector:electricity");
    check("nco", CISHARE_TLP_GREEN, "role:operator");
}

/* The directory topic: every participant reads exactly that topic, and
 * its configurable name can never reach a topic of the layout
 * (deploy/TOPICS.md). */
static void test_directory_topic(void **state)
{
    static const char *const good[] = {"cishare.directory",
                                       "cishare.directory.test-1a2b",
                                       "cishare.directory.x_y.Z-9"};
    static const char *const bad[] = {"cishare.amber",
                                      "cishare.amber-strict",
                                      "cishare.inbox",
                                      "cishare.inbox.op-bank-a",
                                      "cishare.green.all",
                                      "cishare.",
                                      "cishare",
                                      "",
                                      "cishare.directoryx",
                                      "cishare.directory.",
                                      "cishare.directory.a b",
                                      "cishare.directory.a/b",
                                      "Cishare.directory",
                                      "other.directory"};
    cishare_strlist_t layout = {0};
    cishare_acl_set_t set = {0};
    cishare_config_t *conf;
    char err[1024], longname[300];
    size_t i, j;
    cishare_tlp_t t;
    (void)state;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(
            cishare_topic_directory_check(good[i], err, sizeof(err)),
            CISHARE_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (cishare_topic_directory_check(bad[i], err, sizeof(err)) !=
            CISHARE_ERR_CONFIG)
            fail_msg("'%s' accepted as the directory topic", bad[i]);
        /* names the key, the value and the rule */
        assert_non_null(strstr(err, "cishare.directory.topic: '"));
        assert_non_null(strstr(err, bad[i]));
        assert_non_null(strstr(err, "must be 'cishare.directory' or "
                                    "'cishare.directory.<name>'"));
    }
    assert_int_not_equal(cishare_topic_directory_check(NULL, NULL, 0),
                         CISHARE_OK);
    /* Kafka's limit: 249 characters */
    memset(longname, 'x', sizeof(longname));
    memcpy(longname, "cishare.directory.", 18);
    longname[CISHARE_TOPIC_NAME_MAX_LEN] = '\0';
    assert_int_equal(cishare_topic_directory_check(longname, NULL, 0),
                     CISHARE_OK);
    longname[CISHARE_TOPIC_NAME_MAX_LEN] = 'x';
    longname[CISHARE_TOPIC_NAME_MAX_LEN + 1] = '\0';
    assert_int_not_equal(cishare_topic_directory_check(longname, NULL, 0),
                         CISHARE_OK);

    /* no topic of the layout (nor a label's prefix) is a directory topic */
    assert_int_equal(cishare_topics_for_directory(dir, &layout, NULL, 0),
                     CISHARE_OK);
    for (i = 0; i < layout.cnt; i++)
        if (!cishare_topic_directory_check(layout.items[i], NULL, 0))
            fail_msg("layout topic %s accepted as the directory topic",
                     layout.items[i]);
    for (t = 0; t < CISHARE_TLP__CNT; t++)
        assert_string_not_equal(cishare_tlp_topic_name(t), "directory");

    /* the bindings: LITERAL READ on exactly the topic, for everyone */
    assert_int_equal(
        cishare_acls_for_directory_topic(dir, "cishare.directory", &set),
        CISHARE_OK);
    assert_int_equal(set.cnt, cishare_directory_participant_cnt(dir));
    for (i = 0; i < set.cnt; i++) {
        assert_int_equal(set.items[i].pattern,
                         RD_KAFKA_RESOURCE_PATTERN_LITERAL);
        assert_int_equal(set.items[i].op, RD_KAFKA_ACL_OPERATION_READ);
        assert_string_equal(set.items[i].name, "cishare.directory");
    }
    assert_true(cishare_acl_allows(&set, "User:op-power-a",
                                   RD_KAFKA_RESOURCE_TOPIC, "cishare.directory",
                                   RD_KAFKA_ACL_OPERATION_READ));
    assert_false(cishare_acl_allows(
        &set, "User:op-power-a", RD_KAFKA_RESOURCE_TOPIC,
        "cishare.directory.other", RD_KAFKA_ACL_OPERATION_READ));
    for (i = 0; i < layout.cnt; i++)
        for (j = 0; j < set.cnt; j++)
            if (cishare_acl_allows(&set, set.items[j].principal,
                                   RD_KAFKA_RESOURCE_TOPIC, layout.items[i],
                                   RD_KAFKA_ACL_OPERATION_READ))
                fail_msg("the directory topic's ACL opens %s to %s",
                         layout.items[i], set.items[j].principal);
    cishare_acl_set_clear(&set);

    /* the attack of the review: a name that is a label's prefix grants
     * nothing */
    assert_int_not_equal(
        cishare_acls_for_directory_topic(dir, "cishare.amber", &set),
        CISHARE_OK);
    assert_int_equal(set.cnt, 0);
    assert_false(cishare_acl_allows(
        &set, "User:op-power-a", RD_KAFKA_RESOURCE_TOPIC,
        "cishare.amber.finance", RD_KAFKA_ACL_OPERATION_READ));
    assert_int_not_equal(
        cishare_acls_for_directory_topic(dir, "cishare.inbox", &set),
        CISHARE_OK);
    assert_int_equal(set.cnt, 0);
    cishare_acl_set_clear(&set);
    cishare_strlist_clear(&layout);

    /* the config layer refuses such a name for every command */
    conf = cishare_config_new();
    assert_non_null(conf);
    assert_int_equal(cishare_config_set(conf, CISHARE_CONF_DIRECTORY_TOPIC,
                                        "cishare.amber", err, sizeof(err)),
                     CISHARE_ERR_CONFIG);
    assert_non_null(strstr(err, "cishare.directory.topic: 'cishare.amber' is "
                                "not allowed"));
    assert_int_equal(cishare_config_set_kv(conf,
                                           "cishare.directory.topic=cishare."
                                           "inbox",
                                           err, sizeof(err)),
                     CISHARE_ERR_CONFIG);
    assert_string_equal(cishare_config_get(conf, CISHARE_CONF_DIRECTORY_TOPIC),
                        "cishare.directory");
    assert_int_equal(cishare_config_set(conf, CISHARE_CONF_DIRECTORY_TOPIC,
                                        "cishare.directory.test-x", err,
                                        sizeof(err)),
                     CISHARE_OK);
    assert_string_equal(cishare_config_get(conf, CISHARE_CONF_DIRECTORY_TOPIC),
                        "cishare.directory.test-x");
    cishare_config_destroy(conf);
}

/* No participant's bindings reach another participant's feed groups or
 * inbox (issue 12, finding 8): `cishare-feed-<id>.` is a PREFIXED group
 * binding, so with '.' in ids participant x read x.y's group. Returns the
 * number of overlaps, each reported on stderr. */
static size_t group_overlaps(const char *what, const cishare_directory_t *d)
{
    cishare_acl_set_t set = {0};
    const cishare_participant_t *p, *q;
    char pr[128], grp[CISHARE_TOPIC_MAX + 16], inbox[CISHARE_TOPIC_MAX];
    size_t i, j, bad = 0, n = cishare_directory_participant_cnt(d);

    assert_int_equal(cishare_acls_for_directory(d, &set), CISHARE_OK);
    for (i = 0; i < n; i++) {
        p = cishare_directory_participant(d, i);
        snprintf(pr, sizeof(pr), "%s", p->principal);
        for (j = 0; j < n; j++) {
            q = cishare_directory_participant(d, j);
            if (i == j)
                continue;
            assert_int_equal(cishare_topic_feed_group(q->id, grp, sizeof(grp)),
                             CISHARE_OK);
            assert_int_equal(cishare_topic_inbox(q->id, inbox, sizeof(inbox)),
                             CISHARE_OK);
            if (cishare_acl_allows(&set, pr, RD_KAFKA_RESOURCE_GROUP, grp, R) ||
                cishare_acl_allows(&set, pr, RD_KAFKA_RESOURCE_GROUP,
                                   strcat(grp, ".extra"), R) ||
                cishare_acl_allows(&set, pr, RD_KAFKA_RESOURCE_TOPIC, inbox,
                                   R)) {
                fprintf(stderr, "%s: %s reads %s's feed group or inbox\n", what,
                        p->id, q->id);
                bad++;
            }
        }
    }
    cishare_acl_set_clear(&set);
    return bad;
}

/* Every directory the loader accepts (the example and every test vector)
 * gives each participant its own groups: no prefix reaches another's.
 * Before the fix: id-dot-prefix.yaml (ids x and x.y) loaded, and x read
 * x.y's feed group ("id-dot-prefix.yaml: x reads x.y's feed group or
 * inbox", 0x1 != 0). */
static void test_group_prefixes_disjoint(void **state)
{
    const char *vec = getenv("CISHARE_VECTORS");
    char path[4096], err[4096];
    cishare_directory_t *d;
    struct dirent *de;
    DIR *dp;
    size_t bad = 0, loaded = 0, len;

    (void)state;
    bad += group_overlaps("deploy/examples/directory.yaml", dir);
    snprintf(path, sizeof(path), "%s/directory", vec ? vec : "tests/vectors");
    assert_non_null(dp = opendir(path));
    while ((de = readdir(dp))) {
        len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".yaml"))
            continue;
        snprintf(path, sizeof(path), "%s/directory/%s",
                 vec ? vec : "tests/vectors", de->d_name);
        if (cishare_directory_load_unsigned(path, &d, err, sizeof(err)))
            continue; /* refused: grants nothing */
        loaded++;
        bad += group_overlaps(de->d_name, d);
        cishare_directory_destroy(d);
    }
    closedir(dp);
    assert_true(loaded >= 2); /* valid.yaml, valid-rotation.yaml at least */
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_routing_vs_acls),
        cmocka_unit_test(test_role_routing),
        cmocka_unit_test(test_directory_topic),
        cmocka_unit_test(test_group_prefixes_disjoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
