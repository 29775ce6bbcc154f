/*
 * Unit tests of the quarantine writer (consumers/quarantine.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "quarantine.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256], path[300];

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make(tmpdir, sizeof(tmpdir), "quar"))
        return -1;
    snprintf(path, sizeof(path), "%s/quarantine.jsonl", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static void add(cishare_quarantine_t *q, int64_t offset)
{
    static const uint8_t sig[4] = {0x00, 0xff, 0x10, 0x80};
    const cishare_qheader_t hs[] = {
        {"cishare.type", "indicator", 9},
        {"cishare.sig", sig, sizeof(sig)},
        {"cishare.empty", NULL, 0},
    };
    const uint8_t value[] = {0xc3, 0x01, 0x00, 0x7f};
    cishare_quarantine_rec_t rec = {
        .time_ms = 1795677600000,
        .topic = "cishare.green.electricity",
        .partition = 2,
        .offset = offset,
        .reason = "bad-signature",
        .detail = "signature does not verify",
        .headers = hs,
        .header_cnt = 3,
        .key = "indicator--1",
        .key_len = 12,
        .value = value,
        .value_len = sizeof(value),
    };
    char errstr[256] = "";
    if (cishare_quarantine_add(q, &rec, errstr, sizeof(errstr)))
        fail_msg("add: %s", errstr);
}

static void test_record(void **state)
{
    cishare_quarantine_t *q = NULL;
    json_error_t jerr;
    json_t *o, *h;
    FILE *fp;
    char line[4096];
    uint64_t mark = 0;
    (void)state;

    assert_int_equal(cishare_quarantine_open(path, false, 0, &q, NULL, 0), 0);
    add(q, 41);
    assert_int_equal(cishare_quarantine_sync(q, &mark, NULL, 0), 0);
    assert_int_equal(cishare_quarantine_count(q), 1);
    cishare_quarantine_close(q);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    assert_int_equal(strlen(line), mark);
    o = json_loads(line, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "reason")),
                        "bad-signature");
    assert_string_equal(json_string_value(json_object_get(o, "topic")),
                        "cishare.green.electricity");
    assert_int_equal(json_integer_value(json_object_get(o, "offset")), 41);
    assert_int_equal(json_integer_value(json_object_get(o, "partition")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "time")),
                        "2026-11-26T07:20:00Z");
    h = json_object_get(o, "headers");
    assert_int_equal(json_array_size(h), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(h, 0), "text")),
        "indicator");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(h, 1), "base64")),
        "AP8QgA==");
    assert_true(json_is_true(json_object_get(json_array_get(h, 2), "null")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "key"), "text")),
        "indicator--1");
    assert_string_equal(json_string_value(json_object_get(o, "value_base64")),
                        "wwEAfw==");
    json_decref(o);

    /* Uncommitted records are cut back to the mark on open. */
    assert_int_equal(cishare_quarantine_open(path, true, mark, &q, NULL, 0), 0);
    add(q, 42);
    assert_int_equal(cishare_quarantine_sync(q, NULL, NULL, 0), 0);
    cishare_quarantine_close(q);
    assert_int_equal(cishare_quarantine_open(path, true, mark, &q, NULL, 0), 0);
    cishare_quarantine_close(q);
    fp = fopen(path, "r");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    assert_int_equal(ftell(fp), mark);
    fclose(fp);
}

/* A hostile message whose header name is not UTF-8 (and an error detail
 * quoting it) is still quarantined: a refusal here would stop the feed on
 * every restart (poison pill). */
static void test_hostile_text(void **state)
{
    const cishare_qheader_t hs[] = {{"cishare.\xff\xfe", "x", 1}};
    cishare_quarantine_rec_t rec = {
        .topic = "cishare.green.all",
        .reason = "malformed",
        .detail = "header cishare.\xff\xfe: unknown cishare header \xe3\x81",
        .headers = hs,
        .header_cnt = 1,
        .value = "v",
        .value_len = 1,
    };
    cishare_quarantine_t *q = NULL;
    char errstr[256] = "", line[4096];
    json_error_t jerr;
    json_t *o, *h;
    FILE *fp;
    (void)state;

    unlink(path);
    assert_int_equal(cishare_quarantine_open(path, false, 0, &q, NULL, 0), 0);
    if (cishare_quarantine_add(q, &rec, errstr, sizeof(errstr)))
        fail_msg("add: %s", errstr);
    assert_int_equal(cishare_quarantine_sync(q, NULL, NULL, 0), 0);
    cishare_quarantine_close(q);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    o = json_loads(line, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "detail")),
                        "header cishare.??: unknown cishare header ??");
    h = json_array_get(json_object_get(o, "headers"), 0);
    assert_string_equal(json_string_value(json_object_get(h, "name")),
                        "cishare.??");
    /* the exact bytes are kept too */
    assert_string_equal(json_string_value(json_object_get(h, "name_base64")),
                        "Y2lzaGFyZS7//g==");
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
