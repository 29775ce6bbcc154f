/*
 * Schema evolution: older schema versions (schemas/history/) are read by
 * fingerprint and resolved to the current schema (Avro schema
 * resolution), end to end through a real feed; every shipped history
 * version must resolve to the current one (the backward-compatibility
 * rule of schemas/README.md), so an incompatible change fails here.
 *
 * Golden vector: tests/vectors/codec/indicator-v1.bin is
 * schemas/examples/indicator-example.json's payload written with
 * schemas/history/Indicator.v1.avsc (before "anonymise" was added);
 * CISHARE_REGEN_VECTORS=1 writes it again.
 */
#include "cishare/avro_datum.h"
#include "cishare/codec.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "hostile.h"

/* The first older version of the Indicator schema (Indicator.v1). */
static uint64_t indicator_v1(const cishare_codec_t *codec)
{
    uint64_t fp = 0;
    const char *file =
        cishare_codec_version(codec, CISHARE_MSG_INDICATOR, 0, &fp);

    assert_non_null(file);
    assert_string_equal(file, "history/Indicator.v1.avsc");
    return fp;
}

static json_t *example_payload(void)
{
    json_t *m = hostile_example("indicator");
    json_t *p = json_incref(json_object_get(m, "payload"));

    json_decref(m);
    assert_non_null(p);
    return p;
}

/* A v1 message (golden bytes) decodes into the current shape: every v1
 * field as written, and the added field with its default. */
static void test_v1_golden_decodes_current_shape(void **state)
{
    const char *vec = getenv("CISHARE_VECTORS");
    cishare_codec_t *codec;
    cishare_msgtype_t type;
    cishare_avro_buf_t text = {0};
    json_t *payload = example_payload(), *got, *cur;
    uint8_t *bytes, *cbytes;
    size_t len, clen, glen, subject_len;
    const char *subject;
    char path[1200], err[512], *gold, *dumped;
    uint64_t fp;
    int i;

    (void)state;
    assert_int_equal(cishare_codec_new(&codec, err, sizeof(err)), CISHARE_OK);
    fp = indicator_v1(codec);
    assert_true(fp != cishare_codec_fingerprint(codec, CISHARE_MSG_INDICATOR));

    /* the v1 writer: the golden bytes, header fingerprint v1 */
    assert_int_equal(
        cishare_codec_set_write_version(codec, CISHARE_MSG_INDICATOR, fp),
        CISHARE_OK);
    assert_true(cishare_codec_fingerprint(codec, CISHARE_MSG_INDICATOR) == fp);
    assert_int_equal(cishare_codec_encode(codec, CISHARE_MSG_INDICATOR, payload,
                                          &bytes, &len, err, sizeof(err)),
                     CISHARE_OK);
    for (i = 0; i < 8; i++)
        assert_int_equal(bytes[2 + i], (uint8_t)(fp >> (8 * i)));
    snprintf(path, sizeof(path), "%s/codec/indicator-v1.bin",
             vec ? vec : "tests/vectors");
    if (getenv("CISHARE_REGEN_VECTORS")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, len, f), len);
        fclose(f);
    }
    gold = test_slurp(path, &glen);
    assert_non_null(gold);
    assert_int_equal(glen, len);
    assert_memory_equal(gold, bytes, len);
    /* a v1 writer cannot write the field v1 lacks */
    json_object_set_new(payload, "anonymise", json_true());
    assert_int_equal(cishare_codec_encode(codec, CISHARE_MSG_INDICATOR, payload,
                                          &cbytes, &clen, err, sizeof(err)),
                     CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "payload.anonymise: unknown field"));
    json_object_del(payload, "anonymise");
    free(bytes);

    /* the current reader: the same record as the current writer's, with
     * anonymise = false (its default) */
    assert_int_equal(
        cishare_codec_set_write_version(codec, CISHARE_MSG_INDICATOR, 0),
        CISHARE_OK);
    assert_int_equal(cishare_codec_decode(codec, (const uint8_t *)gold, glen,
                                          &type, &got, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(type, CISHARE_MSG_INDICATOR);
    assert_true(json_is_false(json_object_get(got, "anonymise")));
    assert_string_equal(json_string_value(json_object_get(got, "value")),
                        "203.0.113.45");
    assert_int_equal(cishare_codec_encode(codec, CISHARE_MSG_INDICATOR, payload,
                                          &cbytes, &clen, err, sizeof(err)),
                     CISHARE_OK);
    assert_true(clen == glen + 1); /* the boolean */
    assert_int_equal(cishare_codec_decode(codec, cbytes, clen, &type, &cur, err,
                                          sizeof(err)),
                     CISHARE_OK);
    assert_true(json_equal(got, cur));
    /* the feed's text path gives the same text, and the subject */
    assert_int_equal(
        cishare_codec_peek_type(codec, (const uint8_t *)gold, glen, &type),
        CISHARE_OK);
    assert_int_equal(cishare_codec_decode_text(codec, (const uint8_t *)gold,
                                               glen, &type, &text, &subject,
                                               &subject_len, err, sizeof(err)),
                     CISHARE_OK);
    dumped = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
    assert_int_equal(text.len, strlen(dumped));
    assert_memory_equal(text.buf, dumped, text.len);
    assert_int_equal(subject_len, strlen("indicator--5b0d3c8e-8a41-4f2e-9c1d-"
                                         "6e2f7a9b1c30"));
    assert_memory_equal(subject,
                        "indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30",
                        subject_len);
    /* an unknown fingerprint is still refused */
    json_decref(got);
    gold[2] ^= 1;
    assert_int_equal(cishare_codec_decode(codec, (const uint8_t *)gold, glen,
                                          &type, &got, err, sizeof(err)),
                     CISHARE_ERR_UNKNOWN_SCHEMA);
    free(dumped);
    free(text.buf);
    free(cbytes);
    free(gold);
    json_decref(got);
    json_decref(cur);
    json_decref(payload);
    cishare_codec_destroy(codec);
}

/* Resolution rules on two small schemas: a removed field is skipped, an
 * added one takes its default, promotions, an alias, enum default. */
static const char *writer_schema =
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t.v1\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"int\"},"
    "{\"name\":\"b\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"X\",\"Y\",\"Z\"]}},"
    "{\"name\":\"e\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
    "{\"name\":\"s\",\"type\":\"string\"}]}";
static const char *reader_schema =
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t.v1\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"long\"},"
    "{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"X\",\"Y\",\"D\"],\"default\":\"D\"}},"
    "{\"name\":\"d\",\"type\":\"string\",\"default\":\"dflt\"},"
    "{\"name\":\"e2\",\"aliases\":[\"e\"],\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"double\"}},"
    "{\"name\":\"s\",\"type\":[\"null\",\"bytes\"]},"
    "{\"name\":\"at\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"},\"default\":0}]}";

static cishare_avro_schema_t *schema(const char *text)
{
    cishare_avro_schema_t *s;
    char err[256];

    if (cishare_avro_schema_new(text, &s, err, sizeof(err)))
        fail_msg("schema: %s", err);
    return s;
}

static void test_removed_and_added_fields(void **state)
{
    cishare_avro_schema_t *w = schema(writer_schema),
                          *r = schema(reader_schema);
    cishare_avro_buf_t buf = {0};
    json_t *in, *dec, *out, *want;
    char err[256];

    (void)state;
    assert_int_equal(cishare_avro_compatible(w, r, err, sizeof(err)),
                     CISHARE_OK);
    in = json_pack("{s:i, s:[s], s:s, s:s, s:{s:i}, s:s}", "a", 7, "b", "gone",
                   "c", "Z", "e", "kept", "m", "k", 3, "s", "\xc3\xa9");
    assert_int_equal(cishare_avro_encode(w, in, "v", &buf, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(cishare_avro_decode(w, buf.buf, buf.len, NULL, "v", &dec,
                                         err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(
        cishare_avro_resolve(w, r, dec, "v", &out, err, sizeof(err)),
        CISHARE_OK);
    /* b removed, d and at added with defaults, e read as e2, Z -> D,
     * int -> long, map int -> double, string "é" -> bytes 0xC3 0xA9 */
    want = json_pack("{s:i, s:s, s:s, s:s, s:{s:f}, s:s, s:s}", "a", 7, "c",
                     "D", "d", "dflt", "e2", "kept", "m", "k", 3.0, "s",
                     "\xc3\x83\xc2\xa9", "at", "1970-01-01T00:00:00Z");
    if (!json_equal(out, want)) {
        char *t = json_dumps(out, JSON_SORT_KEYS);
        fail_msg("resolved to %s", t);
    }
    json_decref(want);
    json_decref(out);
    json_decref(dec);
    json_decref(in);
    free(buf.buf);
    cishare_avro_schema_destroy(w);
    cishare_avro_schema_destroy(r);
}

/* Changes the rule forbids are refused, naming the field. */
static void test_incompatible_changes(void **state)
{
    static const struct {
        const char *w, *r, *why;
    } cases[] = {
        /* added without a default */
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
         "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
         "{\"name\":\"x\",\"type\":\"int\"}]}",
         "R.x: not in the writer's R and no default"},
        /* a type changed other than by promotion */
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":["
         "{\"name\":\"x\",\"type\":\"long\"}]}",
         "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
         "{\"name\":\"x\",\"type\":\"int\"}]}",
         "R.x: the writer's long cannot be read as int"},
        /* an enum symbol removed, no default */
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}",
         "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}",
         "symbol 'B' of the writer's E is not in the reader's"},
        /* renamed without an alias */
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":["
         "{\"name\":\"x\",\"type\":\"int\"}]}",
         "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
         "{\"name\":\"y\",\"type\":\"int\"}]}",
         "R.y: not in the writer's R and no default"},
        /* made non-nullable: the writer's null fits no reader branch */
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":["
         "{\"name\":\"x\",\"type\":[\"null\",\"int\"]}]}",
         "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
         "{\"name\":\"x\",\"type\":\"int\"}]}",
         "R.x: the writer's null cannot be read as int"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cishare_avro_schema_t *w = schema(cases[i].w), *r = schema(cases[i].r);
        char err[256] = "";
        assert_int_equal(cishare_avro_compatible(w, r, err, sizeof(err)),
                         CISHARE_ERR_VALIDATION);
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].why);
        cishare_avro_schema_destroy(w);
        cishare_avro_schema_destroy(r);
    }
}

/* Every file in schemas/history/ is embedded as an older version of its
 * type and resolves to the current schema (cishare_codec_new() refuses
 * otherwise), so an incompatible schema change fails CI. */
static void test_every_history_version_resolves(void **state)
{
    const char *src = getenv("CISHARE_SRC");
    cishare_codec_t *codec;
    cishare_avro_schema_t *cur, *old;
    char path[1200], err[512];
    struct dirent *de;
    size_t found = 0, embedded = 0, i;
    DIR *dir;
    int t;

    (void)state;
    assert_int_equal(cishare_codec_new(&codec, err, sizeof(err)), CISHARE_OK);
    snprintf(path, sizeof(path), "%s/schemas/history", src ? src : ".");
    assert_non_null(dir = opendir(path));
    while ((de = readdir(dir))) {
        char rel[600];
        bool seen = false;
        if (!strstr(de->d_name, ".avsc"))
            continue;
        found++;
        snprintf(rel, sizeof(rel), "history/%s", de->d_name);
        for (t = 0; t < CISHARE_MSG__CNT; t++)
            for (i = 0; i < cishare_codec_version_cnt(codec, t); i++)
                if (!strcmp(cishare_codec_version(codec, t, i, NULL), rel))
                    seen = true;
        if (!seen)
            fail_msg("schemas/%s is not an embedded version of any type", rel);
    }
    closedir(dir);
    for (t = 0; t < CISHARE_MSG__CNT; t++) {
        assert_int_equal(
            cishare_avro_schema_new(cishare_codec_schema_json(codec, t), &cur,
                                    err, sizeof(err)),
            CISHARE_OK);
        for (i = 0; i < cishare_codec_version_cnt(codec, t); i++) {
            char *text, p2[1400];
            snprintf(p2, sizeof(p2), "%s/schemas/%s", src ? src : ".",
                     cishare_codec_version(codec, t, i, NULL));
            assert_non_null(text = test_slurp(p2, NULL));
            assert_int_equal(
                cishare_avro_schema_new(text, &old, err, sizeof(err)),
                CISHARE_OK);
            if (cishare_avro_compatible(old, cur, err, sizeof(err)))
                fail_msg("schemas/%s: %s", p2, err);
            cishare_avro_schema_destroy(old);
            free(text);
            embedded++;
        }
        cishare_avro_schema_destroy(cur);
    }
    assert_true(found >= 1);
    assert_int_equal(found, embedded);
    cishare_codec_destroy(codec);
}

/* A participant that has not upgraded publishes with Indicator v1 (GREEN,
 * signed; and AMBER+STRICT, sealed: the fingerprint is in the signed
 * input and the seal's AD): the real feed delivers both in the current
 * shape. */
static void test_feed_delivers_v1(void **state)
{
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    char path[1600], fphex[24], want[64], *text, *line;
    uint64_t fp = indicator_v1(h->codec);
    json_t *m;
    int n = 0;

    (void)state;
    assert_int_equal(
        cishare_codec_set_write_version(h->codec, CISHARE_MSG_INDICATOR, fp),
        CISHARE_OK);
    m = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "type", "indicator", "tlp",
                  "green", "payload", "type", "ipv4", "value", "192.0.2.101",
                  "description", "written with Indicator v1");
    hostile_publish(h, "op-power-a", m);
    json_decref(m);
    m = json_pack("{s:s, s:s, s:[s], s:{s:s, s:s}}", "type", "indicator", "tlp",
                  "amber+strict", "audience", "participant:op-bank-a",
                  "payload", "type", "ipv4", "value", "192.0.2.102");
    hostile_publish(h, "ceptoar-finance", m);
    json_decref(m);
    hostile_feed_ok(h, "op-bank-a", "jsonl,stix,blocklist", &st);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.quarantined, 0);
    snprintf(path, sizeof(path), "%s/feed.jsonl", hostile_out(h, "op-bank-a"));
    text = test_slurp(path, NULL);
    assert_non_null(text);
    snprintf(fphex, sizeof(fphex), "%016llx", (unsigned long long)fp);
    snprintf(want, sizeof(want), "\"schema\":\"%s\"", fphex);
    for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), n++) {
        /* the current shape, and the writer's (signed) fingerprint */
        assert_non_null(strstr(line, "\"anonymise\":false"));
        assert_non_null(strstr(line, want));
        assert_true(strstr(line, "192.0.2.101") || strstr(line, "192.0.2.102"));
    }
    assert_int_equal(n, 2);
    free(text);
    hostile_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_golden_decodes_current_shape),
        cmocka_unit_test(test_removed_and_added_fields),
        cmocka_unit_test(test_incompatible_changes),
        cmocka_unit_test(test_every_history_version_resolves),
        cmocka_unit_test(test_feed_delivers_v1),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
