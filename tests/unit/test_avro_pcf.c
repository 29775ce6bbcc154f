/*
 * Parsing Canonical Form and CRC-64-AVRO against the Avro specification's
 * vectors (tests/vectors/avro/schema-tests.txt) and the messageV1
 * single-object message produced by the Java implementation.
 */
#include "cishare/avro_pcf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *rel, size_t *lenp)
{
    const char *dir = getenv("CISHARE_VECTORS");
    char path[1024];

    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return test_slurp(path, lenp);
}

static void test_crc64_empty(void **state)
{
    (void)state;
    assert_true(cishare_avro_crc64("", 0) == CISHARE_AVRO_CRC64_EMPTY);
}

/* Every case of schema-tests.txt: canonical form, and fingerprint when the
 * file gives one (a signed 64-bit decimal). */
static void test_schema_vectors(void **state)
{
    char *text = slurp("avro/schema-tests.txt", NULL);
    char *save = NULL, *line;
    char input[8192] = "";
    bool in_multi = false, have_input = false;
    int cases = 0, fingerprints = 0;
    char *form = NULL;
    char err[256];

    (void)state;
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (in_multi) {
            if (!strcmp(line, "INPUT")) {
                in_multi = false;
                have_input = true;
            } else {
                strncat(input, line, sizeof(input) - strlen(input) - 2);
                strcat(input, "\n");
            }
            continue;
        }
        if (!strncmp(line, "<<INPUT", 7)) {
            free(form);
            form = NULL;
            input[0] = '\0';
            if (line[7] == '\0') {
                in_multi = true;
            } else {
                snprintf(input, sizeof(input), "%s", line + 8);
                have_input = true;
            }
        } else if (!strncmp(line, "<<canonical ", 12)) {
            assert_true(have_input);
            form = cishare_avro_canonical_form(input, err, sizeof(err));
            if (!form)
                fail_msg("%s: %s", input, err);
            if (strcmp(form, line + 12))
                fail_msg("input %s\n got %s\nwant %s", input, form, line + 12);
            cases++;
        } else if (!strncmp(line, "<<fingerprint ", 14)) {
            int64_t want = strtoll(line + 14, NULL, 10);
            assert_non_null(form);
            if ((int64_t)cishare_avro_crc64(form, strlen(form)) != want)
                fail_msg("fingerprint of %s: got %lld want %lld", form,
                         (long long)cishare_avro_crc64(form, strlen(form)),
                         (long long)want);
            assert_true((int64_t)cishare_avro_fingerprint(input, NULL, 0) ==
                        want);
            fingerprints++;
        }
    }
    free(form);
    free(text);
    /* The file has 34 cases, 26 with fingerprints: all must have run. */
    assert_int_equal(cases, 34);
    assert_int_equal(fingerprints, 26);
}

/* messageV1: the 8 bytes after C3 01 are the LE fingerprint of the PCF of
 * test_schema.avsc (a nested, namespaced record schema). */
static void test_message_v1_fingerprint(void **state)
{
    size_t len;
    uint8_t *bin = (uint8_t *)slurp("avro/messageV1/test_message.bin", &len);
    char *schema = slurp("avro/messageV1/test_schema.avsc", NULL);
    char *form = cishare_avro_canonical_form(schema, NULL, 0);
    uint64_t fp, wire = 0;
    int i;

    (void)state;
    assert_non_null(form);
    assert_string_equal(
        form, "{\"name\":\"org.apache.avro.TestMessage\",\"type\":\"record\","
              "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":"
              "\"name\",\"type\":\"string\"},{\"name\":\"tags\",\"type\":{"
              "\"type\":\"array\",\"items\":\"string\"}}]}");
    fp = cishare_avro_crc64(form, strlen(form));
    assert_true(len > 10);
    assert_int_equal(bin[0], 0xC3);
    assert_int_equal(bin[1], 0x01);
    for (i = 0; i < 8; i++)
        wire |= (uint64_t)bin[2 + i] << (8 * i);
    assert_true(wire == fp);
    free(form);
    free(schema);
    free(bin);
}

static void test_errors(void **state)
{
    char err[128];

    (void)state;
    assert_null(cishare_avro_canonical_form("{", err, sizeof(err)));
    assert_non_null(strstr(err, "not JSON"));
    assert_null(
        cishare_avro_canonical_form("{\"type\":\"record\"}", err, sizeof(err)));
    assert_null(cishare_avro_canonical_form("42", err, sizeof(err)));
    assert_null(cishare_avro_canonical_form(
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\"}]}",
        err, sizeof(err)));
}

/* Repeated named types are written once, then by name; namespaces nest. */
static void test_named_reuse(void **state)
{
    char *form = cishare_avro_canonical_form(
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\","
        "\"fields\":[{\"name\":\"x\",\"type\":{\"type\":\"enum\",\"name\":"
        "\"E\",\"symbols\":[\"A\"]}},{\"name\":\"y\",\"type\":\"E\"},"
        "{\"name\":\"z\",\"type\":{\"type\":\"fixed\",\"name\":\"c.F\","
        "\"size\":4}},{\"name\":\"w\",\"type\":{\"type\":\"long\","
        "\"logicalType\":\"timestamp-millis\"}}]}",
        NULL, 0);

    (void)state;
    assert_non_null(form);
    assert_string_equal(
        form, "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":"
              "\"x\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\","
              "\"symbols\":[\"A\"]}},{\"name\":\"y\",\"type\":\"a.b.E\"},{"
              "\"name\":\"z\",\"type\":{\"name\":\"c.F\",\"type\":\"fixed\","
              "\"size\":4}},{\"name\":\"w\",\"type\":\"long\"}]}");
    free(form);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64_empty),
        cmocka_unit_test(test_schema_vectors),
        cmocka_unit_test(test_message_v1_fingerprint),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_named_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
