/*
 * Messages and signing-key validity end to end: a message signed with a
 * previous key verifies during the rotation overlap and not after it; a
 * key revoked at T passes messages created up to T only; a key not yet
 * valid signs nothing. Directory times are relative to the wall clock,
 * which cishare_message_verify() uses.
 */
#include "cishare/codec.h"
#include "cishare/message.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

#define HOUR (3600LL * 1000)

static cishare_codec_t *codec;
static cishare_keypair_t cur, old;
static char *base_text;
static int64_t now;

/*
 * valid.yaml with op-power-a's keys replaced: current `cur` (valid from
 * cur_from, or unbounded when 0) and previous `old` valid until old_until,
 * revoked at old_revoked (0: not revoked).
 */
static cishare_directory_t *dir_with(int64_t cur_from, int64_t old_until,
                                     int64_t old_revoked)
{
    char ed[CISHARE_PK_B64_SIZE], x[CISHARE_PK_B64_SIZE],
        oed[CISHARE_PK_B64_SIZE], t1[32], t2[32], t3[32], *entry, *text,
        errstr[4096];
    const char *start = strstr(base_text, "  - id: op-power-a\n"), *end;
    cishare_directory_t *dir = NULL;

    assert_non_null(start);
    if (!(end = strstr(start + 1, "  - id: "))) /* the last entry */
        end = base_text + strlen(base_text);
    cishare_pk_to_base64(cur.ed25519_pk, ed, sizeof(ed));
    cishare_pk_to_base64(cur.x25519_pk, x, sizeof(x));
    cishare_pk_to_base64(old.ed25519_pk, oed, sizeof(oed));
    cishare_time_format(cur_from, t1);
    cishare_time_format(old_until, t2);
    cishare_time_format(old_revoked, t3);
    assert_true(asprintf(&entry,
                         "  - id: op-power-a\n    name: Test op-power-a\n"
                         "    role: operator\n    sectors: [electricity]\n"
                         "    ceptoar: ceptoar-electricity\n"
                         "    principal: User:op-power-a\n"
                         "    ed25519: %s\n%s%s%s    x25519: %s\n"
                         "    previous-keys:\n      - ed25519: %s\n"
                         "        valid-until: %s\n%s%s%s",
                         ed, cur_from ? "    key-valid-from: " : "",
                         cur_from ? t1 : "", cur_from ? "\n" : "", x, oed, t2,
                         old_revoked ? "        revoked: " : "",
                         old_revoked ? t3 : "", old_revoked ? "\n" : "") > 0);
    assert_true(asprintf(&text, "%.*s%s%s", (int)(start - base_text), base_text,
                         entry, end) > 0);
    if (cishare_directory_load_buf("test", text, strlen(text), NULL, &dir,
                                   errstr, sizeof(errstr)))
        fail_msg("%s\n%s", errstr, text);
    free(entry);
    free(text);
    return dir;
}

#define INDICATOR                                                              \
    "{\"type\":\"indicator\",\"payload\":{\"id\":\"indicator--6d0f3c0e-2b52-"  \
    "4a39-9a4e-1f1f7b0e0a01\",\"type\":\"ipv4\",\"value\":\"203.0.113.45\","   \
    "\"name\":\"C2\",\"confidence\":80}}"

/* Build with kp at created_ms under dir_b, verify under dir_v (with ctx:
 * what the broker says of the record, NULL: nothing). */
static cishare_err_t roundtrip_ctx(const cishare_directory_t *dir_b,
                                   const cishare_directory_t *dir_v,
                                   const cishare_keypair_t *kp,
                                   int64_t created_ms,
                                   const cishare_verify_ctx_t *ctx,
                                   char *errstr, size_t errstr_size)
{
    cishare_msg_out_t out;
    cishare_msg_in_t in;
    rd_kafka_headers_t *h;
    json_t *j = json_loads(INDICATOR, 0, NULL);
    cishare_err_t err;

    assert_non_null(j);
    memset(&in, 0, sizeof(in));
    err = cishare_message_build(
        codec, dir_b, cishare_directory_find(dir_b, "op-power-a"), kp, j, -1,
        NULL, created_ms, &out, errstr, errstr_size);
    json_decref(j);
    if (err)
        fail_msg("build refused: %s", errstr);
    h = rd_kafka_headers_new(16);
    assert_int_equal(cishare_envelope_to_headers(&out.env, h, NULL, 0),
                     CISHARE_OK);
    err = cishare_message_verify_ctx(dir_v, h, out.key, out.key_len, out.value,
                                     out.value_len, ctx, &in, errstr,
                                     errstr_size);
    rd_kafka_headers_destroy(h);
    cishare_msg_in_clear(&in);
    cishare_msg_out_clear(&out);
    return err;
}

static cishare_err_t roundtrip(const cishare_directory_t *dir_b,
                               const cishare_directory_t *dir_v,
                               const cishare_keypair_t *kp, int64_t created_ms,
                               char *errstr, size_t errstr_size)
{
    return roundtrip_ctx(dir_b, dir_v, kp, created_ms, NULL, errstr,
                         errstr_size);
}

static void expect_verify_refused(cishare_err_t err, const char *errstr,
                                  const char *needle)
{
    assert_int_equal(err, CISHARE_ERR_UNKNOWN_KEY);
    if (!strstr(errstr, needle) || !strstr(errstr, "'op-power-a'"))
        fail_msg("reason lacks '%s': %s", needle, errstr);
}

static void test_rotation_overlap(void **state)
{
    cishare_directory_t *during = dir_with(0, now + HOUR, 0);
    cishare_directory_t *after = dir_with(0, now - 60000, 0);
    char errstr[1024];
    cishare_msg_out_t out;
    json_t *j;

    (void)state;
    /* both keys verify during the overlap */
    assert_int_equal(
        roundtrip(during, during, &old, now, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_int_equal(
        roundtrip(during, during, &cur, now, errstr, sizeof(errstr)),
        CISHARE_OK);
    /* after it, a message signed with the old key during the overlap is
     * refused too: the created time is the signer's word */
    expect_verify_refused(
        roundtrip(during, after, &old, now - 2 * HOUR, errstr, sizeof(errstr)),
        errstr, "rotation overlap ended");
    assert_non_null(strstr(errstr, old.key_id));
    assert_int_equal(
        roundtrip(during, after, &cur, now, errstr, sizeof(errstr)),
        CISHARE_OK);
    /* and the old key builds nothing any more */
    j = json_loads(INDICATOR, 0, NULL);
    assert_int_equal(
        cishare_message_build(codec, after,
                              cishare_directory_find(after, "op-power-a"), &old,
                              j, -1, NULL, now, &out, errstr, sizeof(errstr)),
        CISHARE_ERR_UNKNOWN_KEY);
    json_decref(j);
    cishare_directory_destroy(during);
    cishare_directory_destroy(after);
}

static void test_revoked(void **state)
{
    cishare_directory_t *before = dir_with(0, now + HOUR, 0);
    cishare_directory_t *revoked = dir_with(0, now + HOUR, now - HOUR);
    char errstr[1024];

    (void)state;
    /* created after T: quarantined, with the reason */
    expect_verify_refused(
        roundtrip(before, revoked, &old, now, errstr, sizeof(errstr)), errstr,
        "was revoked (compromised) at");
    assert_non_null(strstr(errstr, "message created"));
    /* created before T: still good */
    assert_int_equal(roundtrip(before, revoked, &old, now - 2 * HOUR, errstr,
                               sizeof(errstr)),
                     CISHARE_OK);
    cishare_directory_destroy(before);
    cishare_directory_destroy(revoked);
}

/* A message created before T (the signer's word) that reached Kafka after
 * T + grace (the broker's clock) is refused; within the grace, or with
 * no append time known, the created time decides. */
static void test_revoked_written_late(void **state)
{
    cishare_directory_t *before = dir_with(0, now + HOUR, 0);
    cishare_directory_t *revoked = dir_with(0, now + HOUR, now - HOUR);
    cishare_verify_ctx_t late = {now - HOUR + 60000, 30000};
    cishare_verify_ctx_t in_grace = {now - HOUR + 20000, 30000};
    cishare_verify_ctx_t unknown = {0, 30000};
    char errstr[1024];

    (void)state;
    expect_verify_refused(roundtrip_ctx(before, revoked, &old, now - 2 * HOUR,
                                        &late, errstr, sizeof(errstr)),
                          errstr, "written to Kafka at");
    assert_non_null(strstr(errstr, old.key_id));
    assert_int_equal(roundtrip_ctx(before, revoked, &old, now - 2 * HOUR,
                                   &in_grace, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(roundtrip_ctx(before, revoked, &old, now - 2 * HOUR,
                                   &unknown, errstr, sizeof(errstr)),
                     CISHARE_OK);
    /* a key never revoked: the append time does not matter */
    assert_int_equal(roundtrip_ctx(before, before, &old, now - 2 * HOUR, &late,
                                   errstr, sizeof(errstr)),
                     CISHARE_OK);
    cishare_directory_destroy(before);
    cishare_directory_destroy(revoked);
}

static void test_not_yet_valid(void **state)
{
    cishare_directory_t *open_ = dir_with(0, now + HOUR, 0);
    cishare_directory_t *later = dir_with(now + HOUR, now + 2 * HOUR, 0);
    char errstr[1024];

    (void)state;
    expect_verify_refused(
        roundtrip(open_, later, &cur, now, errstr, sizeof(errstr)), errstr,
        "valid only from");
    cishare_directory_destroy(open_);
    cishare_directory_destroy(later);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_overlap),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_revoked_written_late),
        cmocka_unit_test(test_not_yet_valid),
    };
    const char *v = getenv("CISHARE_VECTORS");
    char path[1024], errstr[512];
    int rc;

    if (cishare_crypto_init() || cishare_keypair_generate(&cur) ||
        cishare_keypair_generate(&old) ||
        cishare_codec_new(&codec, errstr, sizeof(errstr)))
        return 1;
    snprintf(path, sizeof(path), "%s/directory/valid.yaml",
             v ? v : "tests/vectors");
    if (!(base_text = test_slurp_maybe(path, NULL))) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    /* whole seconds: the directory's times are written to the second */
    now = cishare_time_now_ms() / 1000 * 1000;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(base_text);
    cishare_codec_destroy(codec);
    return rc;
}
