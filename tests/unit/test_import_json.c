/*
 * The fast JSON Lines reader (import_json.c) against jansson: the same
 * value, key order and length read, or it leaves the value to jansson;
 * and the chunked import (cishare_import_open/next) of JSON Lines.
 */
#include "importers/import_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* fast must read text exactly as json_loadb(JSON_DISABLE_EOF_CHECK). */
static void same_as_jansson(const char *text)
{
    size_t len = strlen(text), used = 0;
    json_error_t jerr;
    json_t *fast = import_json_fast(text, len, &used);
    json_t *ref = json_loadb(text, len, JSON_DISABLE_EOF_CHECK, &jerr);
    char *a, *b;

    if (!fast || !ref)
        fail_msg("not read: %s (fast %p, jansson %p: %s)", text, (void *)fast,
                 (void *)ref, jerr.text);
    assert_true(json_equal(fast, ref));
    /* the same order of keys, the same types (1 is not 1.0) */
    a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
    b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_string_equal(a, b);
    assert_int_equal(used, jerr.position);
    free(a);
    free(b);
    json_decref(fast);
    json_decref(ref);
}

/* fast must leave text to jansson. */
static void left_to_jansson(const char *text)
{
    size_t used = 0;
    json_t *fast = import_json_fast(text, strlen(text), &used);

    if (fast)
        fail_msg("read, but jansson's to read: %s", text);
}

static void test_same_values(void **state)
{
    static const char *const ok[] = {
        "{}",
        "[]",
        "  \n\t{ }",
        "{\"type\":\"indicator\",\"payload\":{\"id\":\"indicator--00000000-"
        "0000-4000-8000-01be5d000000\",\"type\":\"sha256\",\"value\":"
        "\"4e3fdafd9101fc4549b68f66b3568862727eab7cf698e51e58b2073886841498\","
        "\"confidence\":80,\"kill_chain_phases\":[\"mitre-attack:initial-"
        "access\"],\"labels\":[\"loader\",\"phishing\"],\"source\":\"bench\"}}",
        "{\"a\":1,\"b\":-2,\"c\":0,\"d\":-0,\"e\":123456789012345678}",
        "{\"t\":true,\"f\":false,\"n\":null,\"a\":[true,false,null]}",
        "{\"esc\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t end\"}",
        "{\"k\\n\\\"ey\":\"v\"}",
        "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xef\xbf\xbf\"}",
        "{\"utf8 then esc\":\"\xc3\xa9\\n\xe2\x82\xac\"}",
        "{\"dup\":1,\"x\":2,\"dup\":3}",
        "[[[[{\"deep\":[1,[2,[3]]]}]]]]",
        " { \"sp\" : [ 1 , 2 ] , \"o\" : { } } ",
        "{\"a\":1}\n{\"b\":2}\n",
        "{}{}",
        "[1]x",
        "{\"del\":\"\x7f\"}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        same_as_jansson(ok[i]);
}

static void test_left_to_jansson(void **state)
{
    static const char *const hard[] = {
        "",
        "   ",
        "1",
        "\"top-level string\"",
        "true",
        "{\"u\":\"\\u00e9\"}",
        "{\"real\":1.5}",
        "{\"exp\":1e3}",
        "{\"big\":1234567890123456789}",
        "{\"lead\":01}",
        "{\"neg\":-}",
        "{\"bad utf8\":\"\xc3\x28\"}",
        "{\"overlong\":\"\xc0\x80\"}",
        "{\"overlong3\":\"\xe0\x80\x80\"}",
        "{\"surrogate\":\"\xed\xa0\x80\"}",
        "{\"too high\":\"\xf4\x90\x80\x80\"}",
        "{\"short\":\"\xe2\x82\"}",
        "{\"ctl\":\"a\tb\"}",
        "{\"bad esc\":\"\\x\"}",
        "{\"lit\":tru}",
        "{\"lit\":truex}",
        "{\"num\":12ab}",
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{a:1}",
        "{\"open\":\"no end",
        "{\"a\":1",
    };
    char deep[300];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(hard) / sizeof(hard[0]); i++)
        left_to_jansson(hard[i]);
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = '\0';
    left_to_jansson(deep); /* deeper than the fast reader goes */
}

/* A 150-line JSON Lines file, with a line jansson must read (a \u
 * escape) and an invalid line 140 that ends the stream. */
static char *write_lines(void)
{
    char *path = strdup("/tmp/cishare-test-import-json-XXXXXX");
    int fd = mkstemp(path), i;
    FILE *fp = fdopen(fd, "w");

    assert_non_null(fp);
    for (i = 1; i <= 150; i++) {
        if (i == 140)
            fprintf(fp, "{\"type\":\"indicator\",\"payload\":{\"id\":\n");
        else
            fprintf(fp,
                    "{\"type\":\"indicator\",\"payload\":{\"id\":"
                    "\"indicator--%d\",\"type\":\"domain\",\"value\":"
                    "\"%s%d.example\"}}\n",
                    i, i == 7 ? "\\u0065x" : "ex", i);
    }
    fclose(fp);
    return path;
}

static void test_chunked(void **state)
{
    char *path = write_lines(), err[1024], last[256] = "";
    cishare_import_src_t *src;
    cishare_import_result_t res, whole;
    size_t n = 0, chunks = 0, rejected = 0;
    bool done = false;
    json_t *v7 = NULL;

    (void)state;
    cishare_import_result_init(&res);
    assert_int_equal(
        cishare_import_open(path, CISHARE_IMPORT_AUTO, &src, err, sizeof(err)),
        CISHARE_OK);
    assert_true(cishare_import_bound(src) >= 140);
    while (!done) {
        assert_int_equal(
            cishare_import_next(src, 64, &res, &done, err, sizeof(err)),
            CISHARE_OK);
        assert_true(res.cnt <= 64);
        if (chunks == 0)
            v7 = json_incref(res.recs[6].msg);
        n += res.cnt;
        rejected += res.rejected_cnt;
        if (res.cnt)
            snprintf(last, sizeof(last), "%s", res.recs[res.cnt - 1].record);
        if (res.rejected_cnt)
            assert_string_equal(res.rejected[0].reason, "invalid JSON");
        chunks++;
        cishare_import_result_drop_handled(&res);
    }
    assert_int_equal(n, 139);
    assert_int_equal(rejected, 1); /* line 140 and the rest */
    assert_true(chunks >= 3);
    assert_int_equal(cishare_import_bound(src), 0);
    /* the \u line, read by jansson, in its place */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(v7, "payload"), "value")),
                        "ex7.example");
    json_decref(v7);
    assert_non_null(strstr(last, ":139: indicator--139"));
    cishare_import_close(src);

    /* the same records as the whole-file import */
    cishare_import_result_init(&whole);
    assert_int_equal(cishare_import_file(path, CISHARE_IMPORT_AUTO, &whole, err,
                                         sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(whole.cnt, 139);
    assert_int_equal(whole.rejected_cnt, 1);
    assert_string_equal(whole.recs[138].record, last);
    cishare_import_result_clear(&whole);
    cishare_import_result_clear(&res);
    unlink(path);
    free(path);
}

/* Several values on a line still fit the bound (room for outcomes is
 * reserved from it before anything is sent). */
static void test_bound(void **state)
{
    char path[] = "/tmp/cishare-test-import-bound-XXXXXX", err[1024];
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    cishare_import_src_t *src;
    cishare_import_result_t res;
    size_t bound, n = 0;
    bool done = false;

    (void)state;
    assert_non_null(fp);
    fprintf(fp, "{\"type\":\"x\",\"payload\":{\"id\":\"a\"}} "
                "{\"type\":\"x\",\"payload\":{}}[]\n[{\"a\":[]}]{}");
    fclose(fp);
    cishare_import_result_init(&res);
    assert_int_equal(
        cishare_import_open(path, CISHARE_IMPORT_JSON, &src, err, sizeof(err)),
        CISHARE_OK);
    bound = cishare_import_bound(src);
    while (!done) {
        assert_int_equal(
            cishare_import_next(src, 1, &res, &done, err, sizeof(err)),
            CISHARE_OK);
        n += res.cnt + res.rejected_cnt;
        cishare_import_result_drop_handled(&res);
    }
    assert_int_equal(n, 5);
    assert_true(bound >= n);
    cishare_import_close(src);
    cishare_import_result_clear(&res);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_values),
        cmocka_unit_test(test_left_to_jansson),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
