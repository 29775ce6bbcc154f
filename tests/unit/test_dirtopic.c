/*
 * The directory topic's decision (cishare_dirtopic_decide): apply a newer
 * valid version, ignore the version in use, refuse everything else
 * (older, same serial with other content, tampered, unknown root,
 * expired, too large, garbage). Pure: no broker, no state file.
 */
#include "cishare/codec.h"
#include "cishare/dirtopic.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

static char *base_text; /* tests/vectors/directory/valid.yaml */
static size_t base_len;
static cishare_keypair_t root, other;
static int64_t NOW; /* 2027-01-01T00:00:00Z */

#define EXP "2030-12-31T00:00:00Z"

/* valid.yaml with another serial, expiry and (when tag is not NULL, four
 * characters) another name of the first participant, signed by key.
 * Caller frees. */
static char *make(unsigned serial, const char *expires, const char *tag,
                  const cishare_keypair_t *key, size_t *lenp)
{
    const char *rest = strstr(base_text, "sectors:");
    char *text, *out = NULL;

    assert_non_null(rest);
    assert_true(asprintf(&text, "version: 1\nserial: %u\nexpires: %s\n%s",
                         serial, expires, rest) > 0);
    if (tag) {
        char *p = strstr(text, "name: Test nco");
        assert_non_null(p);
        memcpy(p + 6, tag, 4);
    }
    assert_int_equal(cishare_directory_sign_buf(text, strlen(text), key, &out,
                                                lenp, NULL, 0),
                     CISHARE_OK);
    free(text);
    return out;
}

/* A directory in use and the state that accepted it. */
static cishare_directory_t *in_use(unsigned serial, cishare_dirstate_t *st)
{
    cishare_dirstate_t empty = {0};
    cishare_directory_t *dir = NULL;
    size_t len;
    char *text = make(serial, EXP, NULL, &root, &len);

    assert_int_equal(cishare_dirstate_check(&empty, root.ed25519_pk, "f", text,
                                            len, NOW, "state", &dir, st, NULL,
                                            0),
                     CISHARE_OK);
    free(text);
    return dir;
}

static cishare_dirtopic_verdict_t decide(const cishare_dirstate_t *st,
                                         const cishare_directory_t *cur,
                                         const char *text, size_t len,
                                         char *why, size_t why_size,
                                         uint64_t *serialp)
{
    cishare_directory_t *dir = NULL;
    cishare_dirstate_t next;
    cishare_dirtopic_verdict_t v;

    why[0] = '\0';
    v = cishare_dirtopic_decide(st, root.ed25519_pk, cur, "t@0", text, len, NOW,
                                "state", &dir, &next, why, why_size);
    if (v == CISHARE_DIRTOPIC_APPLY) {
        assert_non_null(dir);
        assert_int_equal(next.serial, cishare_directory_serial(dir));
        if (serialp)
            *serialp = cishare_directory_serial(dir);
    } else {
        assert_null(dir);
    }
    cishare_directory_destroy(dir);
    return v;
}

static void test_newer_applies(void **state)
{
    cishare_dirstate_t st;
    cishare_directory_t *cur = in_use(1, &st);
    char why[1024];
    uint64_t serial = 0;
    size_t len;
    char *text = make(2, EXP, "Newx", &root, &len);

    (void)state;
    assert_int_equal(decide(&st, cur, text, len, why, sizeof(why), &serial),
                     CISHARE_DIRTOPIC_APPLY);
    assert_int_equal(serial, 2);
    /* nothing in use yet: any version the state allows applies */
    assert_int_equal(decide(&st, NULL, text, len, why, sizeof(why), &serial),
                     CISHARE_DIRTOPIC_APPLY);
    free(text);
    cishare_directory_destroy(cur);
}

static void test_same_ignored(void **state)
{
    cishare_dirstate_t st;
    cishare_directory_t *cur = in_use(3, &st);
    char why[1024];
    size_t len;
    char *text = make(3, EXP, NULL, &root, &len);

    (void)state;
    assert_int_equal(decide(&st, cur, text, len, why, sizeof(why), NULL),
                     CISHARE_DIRTOPIC_SAME);
    assert_string_equal(why, "");
    free(text);
    cishare_directory_destroy(cur);
}

static void expect_refused(const cishare_dirstate_t *st,
                           const cishare_directory_t *cur, const char *text,
                           size_t len, const char *needle)
{
    char why[2048];

    assert_int_equal(decide(st, cur, text, len, why, sizeof(why), NULL),
                     CISHARE_DIRTOPIC_REFUSE);
    if (!strstr(why, needle))
        fail_msg("refusal lacks '%s': %s", needle, why);
}

static void test_refused(void **state)
{
    cishare_dirstate_t st;
    cishare_directory_t *cur = in_use(3, &st);
    size_t len;
    char *text;

    (void)state;
    text = make(2, EXP, NULL, &root, &len); /* rollback */
    expect_refused(&st, cur, text, len, "serial 2 is older than serial 3");
    free(text);
    text = make(3, EXP, "Othr", &root, &len); /* same serial, changed */
    expect_refused(&st, cur, text, len, "other content");
    free(text);
    text = make(4, "2026-06-01T00:00:00Z", NULL, &root, &len); /* expired */
    expect_refused(&st, cur, text, len, "expire");
    free(text);
    text = make(4, EXP, NULL, &other, &len); /* unknown root */
    expect_refused(&st, cur, text, len, "t@0");
    free(text);
    text = make(4, EXP, "Good", &root, &len); /* tampered after signing */
    memcpy(strstr(text, "Good"), "Evil", 4);
    expect_refused(&st, cur, text, len, "t@0");
    free(text);
    expect_refused(&st, cur, "garbage", 7, "t@0");
    expect_refused(&st, cur, "", 0, "t@0");
    {
        char *big = calloc(1, CISHARE_DIRECTORY_MAX_SIZE + 1);
        assert_non_null(big);
        expect_refused(&st, cur, big, CISHARE_DIRECTORY_MAX_SIZE + 1, "bytes");
        free(big);
    }
    cishare_directory_destroy(cur);
}

/* A state reset under a running client: the state would take an older
 * version than the one in use; the decision still refuses it. */
static void test_not_below_in_use(void **state)
{
    cishare_dirstate_t st, empty = {0};
    cishare_directory_t *cur = in_use(5, &st);
    size_t len;
    char *text = make(4, EXP, NULL, &root, &len);

    (void)state;
    expect_refused(&empty, cur, text, len, "not newer than serial 5 in use");
    free(text);
    cishare_directory_destroy(cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newer_applies),
        cmocka_unit_test(test_same_ignored),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_not_below_in_use),
    };
    const char *v = getenv("CISHARE_VECTORS");
    char path[1024];
    int rc;

    if (cishare_crypto_init() || cishare_keypair_generate(&root) ||
        cishare_keypair_generate(&other))
        return 1;
    snprintf(path, sizeof(path), "%s/directory/valid.yaml",
             v ? v : "tests/vectors");
    base_text = test_slurp_maybe(path, &base_len);
    if (!base_text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    if (!cishare_time_parse("2027-01-01T00:00:00Z", &NOW))
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(base_text);
    return rc;
}
