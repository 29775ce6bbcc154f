/*
 * Deterministic message ids (schemas/README.md, "Message ids"): the same
 * record version gets the same id whenever it is built, any field of the
 * rule changes it. On the example directory (deploy/examples).
 */
#include "cishare/envelope.h"
#include "cishare/message.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

/* The id of the rule's fields; each differs from the base in one place. */
static void derive(char out[37], const char *origin, cishare_msgtype_t type,
                   const char *subject, const char *rid, const char *ver,
                   cishare_tlp_t tlp, const char *aud)
{
    cishare_envelope_t env;

    cishare_envelope_init(&env);
    cishare_envelope_derive_id(&env, origin, type, subject, strlen(subject),
                               rid, ver, tlp, aud);
    memcpy(out, env.id, 37);
}

static void test_derive_id(void **state)
{
    static const char S[] = "indicator--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a01";
    static const char V[] = "2026-11-26T07:00:00.000Z";
    char base[37], again[37], other[8][37];
    size_t i, j;

    (void)state;
    derive(base, "op-power-a", CISHARE_MSG_INDICATOR, S, S, V,
           CISHARE_TLP_AMBER, "sector:energy");
    derive(again, "op-power-a", CISHARE_MSG_INDICATOR, S, S, V,
           CISHARE_TLP_AMBER, "sector:energy");
    assert_string_equal(base, again);
    assert_int_equal(strlen(base), 36);
    assert_int_equal(base[14], '8'); /* version 8: name-based */
    assert_true(strchr("89ab", base[19]) != NULL);

    derive(other[0], "op-power-b", CISHARE_MSG_INDICATOR, S, S, V,
           CISHARE_TLP_AMBER, "sector:energy");
    derive(other[1], "op-power-a", CISHARE_MSG_ALERT, S, S, V,
           CISHARE_TLP_AMBER, "sector:energy");
    derive(other[2], "op-power-a", CISHARE_MSG_INDICATOR, "indicator--x", S, V,
           CISHARE_TLP_AMBER, "sector:energy");
    derive(other[3], "op-power-a", CISHARE_MSG_INDICATOR, S, "indicator--x", V,
           CISHARE_TLP_AMBER, "sector:energy");
    derive(other[4], "op-power-a", CISHARE_MSG_INDICATOR, S, S,
           "2026-11-26T07:00:00.001Z", CISHARE_TLP_AMBER, "sector:energy");
    derive(other[5], "op-power-a", CISHARE_MSG_INDICATOR, S, S, V,
           CISHARE_TLP_RED, "sector:energy");
    derive(other[6], "op-power-a", CISHARE_MSG_INDICATOR, S, S, V,
           CISHARE_TLP_AMBER, "sector:water");
    /* length prefixes: moving a byte between fields is another id */
    derive(other[7], "op-power-", CISHARE_MSG_INDICATOR, S, S, V,
           CISHARE_TLP_AMBER, "asector:energy");
    for (i = 0; i < 8; i++) {
        assert_string_not_equal(base, other[i]);
        for (j = 0; j < i; j++)
            assert_string_not_equal(other[i], other[j]);
    }
}

static void build(const char *as, const char *text, int64_t now, char id[37])
{
    char path[1024], err[1024] = "";
    cishare_keypair_t kp;
    cishare_msg_out_t out;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    snprintf(path, sizeof(path), "%s/deploy/examples/keys/%s.key", src(), as);
    if (cishare_keypair_load(&kp, path, err, sizeof(err)) != CISHARE_OK)
        fail_msg("%s", err);
    memset(&out, 0, sizeof(out));
    if (cishare_message_build(codec, dir, cishare_directory_find(dir, as), &kp,
                              j, -1, NULL, now, &out, err, sizeof(err)))
        fail_msg("build: %s", err);
    memcpy(id, out.env.id, 37);
    cishare_msg_out_clear(&out);
    cishare_keypair_wipe(&kp);
    json_decref(j);
}

#define IND(tlp, mod)                                                          \
    "{\"type\":\"indicator\",\"tlp\":\"" tlp "\",\"payload\":{\"id\":"         \
    "\"indicator--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a01\",\"type\":\"ipv4\","   \
    "\"value\":\"203.0.113.45\",\"created\":\"2026-11-20T00:00:00Z\","         \
    "\"modified\":\"" mod "\"}}"

#define SIGHTING(id)                                                           \
    "{\"type\":\"sighting\",\"tlp\":\"amber\",\"payload\":{\"id\":"            \
    "\"sighting--" id "\",\"sighting_of\":\"indicator--6d0f3c0e-2b52-4a39-"    \
    "9a4e-1f1f7b0e0a01\",\"count\":1}}"

/* What a re-run after a crash does: the same input built again, later. */
static void test_build_rerun(void **state)
{
    char a[37], b[37], c[37];

    (void)state;
    build("op-power-a", IND("green", "2026-11-25T00:00:00Z"), NOW, a);
    build("op-power-a", IND("green", "2026-11-25T00:00:00Z"), NOW + 60000, b);
    assert_string_equal(a, b);
    /* the same instant written another way is the same version */
    build("op-power-a", IND("green", "2026-11-25T00:00:00.000Z"), NOW, b);
    assert_string_equal(a, b);
    /* a new version, another label: new messages */
    build("op-power-a", IND("green", "2026-11-25T00:00:01Z"), NOW, b);
    assert_string_not_equal(a, b);
    build("op-power-a", IND("clear", "2026-11-25T00:00:00Z"), NOW, c);
    assert_string_not_equal(a, c);
    assert_string_not_equal(b, c);
    /* a correction that kept its modified time is still another message
     * (the payload digest), never dropped as a duplicate of the first */
    {
        char d[37];
        const char *orig = IND("green", "2026-11-25T00:00:00Z");
        char *fixed = strdup(orig);
        char *v = strstr(fixed, "203.0.113.45");

        assert_non_null(v);
        v[11] = '6'; /* 203.0.113.46 */
        build("op-power-a", fixed, NOW, d);
        assert_string_not_equal(a, d);
        free(fixed);
    }

    /* immutable records: their own id tells them apart, not the time */
    build("op-power-a", SIGHTING("0f8fad5b-d9cb-469f-a165-70867728950e"), NOW,
          a);
    build("op-power-a", SIGHTING("0f8fad5b-d9cb-469f-a165-70867728950e"),
          NOW + 60000, b);
    assert_string_equal(a, b);
    build("op-power-a", SIGHTING("7c9e6679-7425-40de-944b-e07fc1f90ae7"), NOW,
          c);
    assert_string_not_equal(a, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive_id),
        cmocka_unit_test(test_build_rerun),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
