/*
 * The relay's rules (consumers/relay.h, RULES): what parses, and that a
 * malformed rule is refused with an error naming the key and the problem.
 * The expected texts were written from relay.h, not from the code.
 */
#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/keys.h"
#include "relay.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct {
    const char *id, *role, *sectors, *ceptoar;
} members[] = {
    {"op-src", "operator", "[finance]", "ceptoar-fin"},
    {"op-fin", "operator", "[finance]", "ceptoar-fin"},
    {"ceptoar-fin", "ceptoar", "[finance]", NULL},
    {"council", "ceptoar-council", "[]", NULL},
    {"min-fsa", "ministry", "[finance]", NULL},
    {"nco", "coordination-office", "[]", NULL},
};

static cishare_directory_t *dir;

static int setup(void **state)
{
    char *buf = malloc(65536), errstr[4096];
    size_t off = 0, i;
    cishare_keypair_t kp;
    char ed[CISHARE_PK_B64_SIZE], x[CISHARE_PK_B64_SIZE];
    cishare_err_t err;

    (void)state;
    if (!buf)
        return -1;
    off += (size_t)snprintf(buf + off, 65536 - off,
                            "version: 1\nserial: 1\n"
                            "expires: 2030-12-31T00:00:00Z\nsectors:\n"
                            "  - {code: finance, name-en: Financial services}\n"
                            "participants:\n");
    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        if (cishare_keypair_generate(&kp))
            return -1;
        cishare_pk_to_base64(kp.ed25519_pk, ed, sizeof(ed));
        cishare_pk_to_base64(kp.x25519_pk, x, sizeof(x));
        cishare_keypair_wipe(&kp);
        off += (size_t)snprintf(
            buf + off, 65536 - off,
            "  - id: %s\n    name: Test %s\n    role: %s\n    sectors: %s\n"
            "%s%s%s    principal: User:%s\n    ed25519: %s\n    x25519: "
            "%s\n",
            members[i].id, members[i].id, members[i].role, members[i].sectors,
            members[i].ceptoar ? "    ceptoar: " : "",
            members[i].ceptoar ? members[i].ceptoar : "",
            members[i].ceptoar ? "\n" : "", members[i].id, ed, x);
    }
    err = cishare_directory_load_buf("test-directory", buf, off, NULL, &dir,
                                     errstr, sizeof(errstr));
    free(buf);
    if (err) {
        fprintf(stderr, "test directory: %s\n", errstr);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_directory_destroy(dir);
    return 0;
}

/* Load rules "key=value" (NULL-terminated) as relay `me`: the error code,
 * the message in errstr, the number of rules in *cntp. */
static cishare_err_t load(const char *me, char *errstr, size_t size,
                          size_t *cntp, ...)
{
    cishare_config_t *conf = cishare_config_new();
    cishare_relay_rules_t *rules = NULL;
    const cishare_participant_t *p = cishare_directory_find(dir, me);
    const char *kv;
    cishare_err_t err;
    va_list ap;

    assert_non_null(conf);
    assert_non_null(p);
    va_start(ap, cntp);
    while ((kv = va_arg(ap, const char *)))
        if (cishare_config_set_kv(conf, kv, errstr, size))
            fail_msg("config %s: %s", kv, errstr);
    va_end(ap);
    errstr[0] = '\0';
    err = cishare_relay_rules_load(conf, dir, p, &rules, errstr, size);
    if (cntp)
        *cntp = cishare_relay_rules_count(rules);
    if (err)
        assert_null(rules);
    cishare_relay_rules_destroy(rules);
    cishare_config_destroy(conf);
    return err;
}

#define R "cishare.relay.rule."

static void test_valid(void **state)
{
    char e[1024];
    size_t n = 0;

    (void)state;
    assert_int_equal(
        load("ceptoar-fin", e, sizeof(e), &n,
             R "members=types=indicator,sighting tlp=amber,green to=members",
             R "council=types=incident to=participant:council label=amber",
             R "b=types=alert\tto=clients,sector:finance label=keep", NULL),
        CISHARE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(load("min-fsa", e, sizeof(e), &n,
                          R "nco=types=incident tlp=amber to=participant:nco",
                          NULL),
                     CISHARE_OK);
    assert_int_equal(n, 1);
    /* other cishare.* keys are not rules */
    assert_int_equal(load("nco", e, sizeof(e), &n,
                          "cishare.relay.anonymise-unit-ms=60000",
                          R "all=types=alert to=clients", NULL),
                     CISHARE_OK);
    assert_int_equal(n, 1);
}

/* Each malformed rule: CISHARE_ERR_CONFIG, the key and the problem. */
static void expect(const char *me, const char *kv, const char *key,
                   const char *problem)
{
    char e[1024];

    if (load(me, e, sizeof(e), NULL, kv, NULL) != CISHARE_ERR_CONFIG)
        fail_msg("%s accepted (%s)", kv, e);
    if (!strstr(e, key) || !strstr(e, problem))
        fail_msg("%s: error '%s' lacks '%s' or '%s'", kv, e, key, problem);
}

static void test_malformed(void **state)
{
    char e[1024];
    size_t n = 9;

    (void)state;
    assert_int_equal(load("ceptoar-fin", e, sizeof(e), &n, NULL),
                     CISHARE_ERR_CONFIG);
    assert_non_null(strstr(e, "no relay rules"));
    expect("ceptoar-fin", R "x=types=bogus to=members", R "x",
           "'bogus' is not a message type");
    expect("ceptoar-fin", R "x=types=indicator tlp=purple to=members", R "x",
           "'purple' is not a TLP label");
    expect("ceptoar-fin", R "x=types=indicator tlp=red to=members", R "x",
           "never re-shared");
    expect("ceptoar-fin", R "x=types=indicator tlp=amber+strict to=members",
           R "x", "never re-shared");
    expect("ceptoar-fin", R "x=types=indicator to=members label=loose", R "x",
           "label=loose");
    expect("ceptoar-fin", R "x=types=indicator to=members colour=red", R "x",
           "unknown field 'colour'");
    expect("ceptoar-fin", R "x=types=indicator to=members tlp", R "x",
           "expected name=value");
    expect("ceptoar-fin", R "x=types=indicator tlp=", R "x",
           "expected name=value");
    expect("ceptoar-fin", R "x=types=indicator", R "x",
           "needs types=... and to=...");
    expect("ceptoar-fin", R "x=to=members", R "x",
           "needs types=... and to=...");
    expect("ceptoar-fin", R "x=types=indicator to=sector:nowhere", R "x",
           "'sector:nowhere'");
    expect("ceptoar-fin", R "x=types=indicator to=participant:nobody", R "x",
           "'participant:nobody'");
    expect("min-fsa", R "x=types=incident to=members", R "x",
           "'members' are a CEPTOAR's operators");
    /* found missing by this test (relay.h: a label is kept or tightened,
     * and red or amber+strict are never re-shared) */
    expect("ceptoar-fin", R "x=types=indicator to=members label=red", R "x",
           "label=red");
    expect("ceptoar-fin", R "x=types=indicator to=members label=amber+strict",
           R "x", "label=amber+strict");
    /* a field given twice would silently widen or override the rule */
    expect("ceptoar-fin", R "x=types=indicator to=members types=incident",
           R "x", "types given twice");
    expect("ceptoar-fin",
           R "x=types=indicator to=members label=amber label=green", R "x",
           "label given twice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
