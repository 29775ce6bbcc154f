/*
 * The payload codec: round trips of every example message, golden byte
 * vectors (tests/vectors/codec/<type>-example.bin; regenerate with
 * CISHARE_REGEN_VECTORS=1 after a deliberate schema change), hostile
 * input, field-naming validation errors, defaults, time helpers, and an
 * independent cross-check with avro-c (it must read our bytes and write
 * the same bytes back).
 */
#include "cishare/avro_datum.h"
#include "cishare/avro_pcf.h"
#include "cishare/codec.h"
#include "cishare/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <avro.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const example_types[] = {
    "indicator", "incident", "alert", "sighting", "revocation", "receipt"};
_Static_assert(sizeof(example_types) / sizeof(example_types[0]) ==
                   CISHARE_MSG__CNT,
               "an example per message type");

static cishare_codec_t *codec;

static int setup(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(cishare_crypto_init(), CISHARE_OK);
    if (cishare_codec_new(&codec, err, sizeof(err)))
        fail_msg("codec_new: %s", err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_codec_destroy(codec);
    return 0;
}

static char *path_of(const char *envvar, const char *rel)
{
    static char path[1024];
    const char *dir = getenv(envvar);

    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return path;
}

static uint8_t *slurp(const char *path, size_t *lenp)
{
    return (uint8_t *)test_slurp_maybe(path, lenp);
}

/* The example message of type i: its payload (new reference). */
static json_t *example_payload(int i, cishare_msgtype_t *typep)
{
    char rel[128];
    json_error_t jerr;
    json_t *msg, *payload;

    snprintf(rel, sizeof(rel), "schemas/examples/%s-example.json",
             example_types[i]);
    msg = json_load_file(path_of("CISHARE_SRC", rel), 0, &jerr);
    if (!msg)
        fail_msg("%s: %s", rel, jerr.text);
    assert_true(cishare_msgtype_parse(
        json_string_value(json_object_get(msg, "type")), typep));
    payload = json_incref(json_object_get(msg, "payload"));
    json_decref(msg);
    assert_non_null(payload);
    return payload;
}

/* The golden bytes of example i (malloc()ed). */
static uint8_t *golden(int i, size_t *lenp)
{
    char rel[128];
    uint8_t *b;

    snprintf(rel, sizeof(rel), "codec/%s-example.bin", example_types[i]);
    b = slurp(path_of("CISHARE_VECTORS", rel), lenp);
    if (!b)
        fail_msg("missing golden vector %s", rel);
    return b;
}

static void test_fingerprints(void **state)
{
    int t;

    (void)state;
    for (t = 0; t < CISHARE_MSG__CNT; t++) {
        const char *json = cishare_codec_schema_json(codec, t);
        char *form = cishare_avro_canonical_form(json, NULL, 0);
        assert_non_null(form);
        assert_string_equal(form, cishare_codec_canonical_form(codec, t));
        assert_true(cishare_codec_fingerprint(codec, t) ==
                    cishare_avro_crc64(form, strlen(form)));
        free(form);
    }
    assert_string_equal(cishare_codec_schema_name(codec, CISHARE_MSG_INDICATOR),
                        "jp.cishare.v1.Indicator");
    assert_string_equal(cishare_codec_schema_name(codec, CISHARE_MSG_INCIDENT),
                        "jp.cishare.v1.IncidentNotice");
}

/* JSON -> bytes == golden; bytes -> JSON has every input field unchanged;
 * JSON -> bytes again is identical. */
static void test_examples_round_trip(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < CISHARE_MSG__CNT; i++) {
        cishare_msgtype_t type, dtype;
        json_t *payload = example_payload(i, &type), *back = NULL, *v;
        uint8_t *bytes, *bytes2, *gold;
        size_t len, len2, glen;
        const char *key;
        char err[256];
        char rel[128];

        if (cishare_codec_encode(codec, type, payload, &bytes, &len, err,
                                 sizeof(err)))
            fail_msg("%s: %s", example_types[i], err);
        if (getenv("CISHARE_REGEN_VECTORS")) {
            FILE *fp;
            snprintf(rel, sizeof(rel), "codec/%s-example.bin",
                     example_types[i]);
            fp = fopen(path_of("CISHARE_VECTORS", rel), "wb");
            assert_non_null(fp);
            fwrite(bytes, 1, len, fp);
            fclose(fp);
        }
        gold = golden(i, &glen);
        assert_int_equal(len, glen);
        assert_memory_equal(bytes, gold, len);

        if (cishare_codec_decode(codec, bytes, len, &dtype, &back, err,
                                 sizeof(err)))
            fail_msg("%s: %s", example_types[i], err);
        assert_int_equal(dtype, type);
        json_object_foreach(payload, key, v)
        {
            if (!json_equal(v, json_object_get(back, key)))
                fail_msg("%s: field %s changed in the round trip",
                         example_types[i], key);
        }
        if (cishare_codec_encode(codec, type, back, &bytes2, &len2, err,
                                 sizeof(err)))
            fail_msg("%s: re-encode: %s", example_types[i], err);
        assert_int_equal(len, len2);
        assert_memory_equal(bytes, bytes2, len);
        assert_string_equal(cishare_payload_subject(type, back),
                            cishare_payload_subject(type, payload));
        free(bytes);
        free(bytes2);
        free(gold);
        json_decref(back);
        json_decref(payload);
    }
}

/* ---- the JSON text decoder equals decode + json_dumps ---- */

/* Decode buf both ways (tree + jansson dump, and straight to text): the
 * same error code and message, or the same bytes. Returns the code. */
static cishare_err_t same_text_schema(const cishare_avro_schema_t *s,
                                      const uint8_t *buf, size_t len,
                                      const char *what)
{
    cishare_avro_limits_t lim = {.max_items = 1000, .max_depth = 16};
    cishare_avro_buf_t out = {0};
    char e1[256] = "", e2[256] = "";
    cishare_err_t r1, r2;
    json_t *v = NULL;
    char *dump;

    r1 = cishare_avro_decode(s, buf, len, &lim, "v", &v, e1, sizeof(e1));
    /* text already in the buffer stays */
    out.buf = malloc(8);
    assert_non_null(out.buf);
    memcpy(out.buf, "pre", 3);
    out.len = 3;
    out.cap = 8;
    r2 = cishare_avro_decode_text(s, buf, len, &lim, "v", &out, NULL, 0, e2,
                                  sizeof(e2));
    if (r1 != r2 || strcmp(e1, e2))
        fail_msg("%s: decode %d (%s), text %d (%s)", what, r1, e1, r2, e2);
    if (!r1) {
        dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        assert_non_null(dump);
        if (out.len != 3 + strlen(dump) || memcmp(out.buf, "pre", 3) ||
            memcmp(out.buf + 3, dump, strlen(dump)))
            fail_msg("%s:\n jansson %s\n text    %.*s", what, dump,
                     (int)out.len, (const char *)out.buf);
        free(dump);
    } else {
        assert_int_equal(out.len, 3); /* restored */
    }
    json_decref(v);
    free(out.buf);
    return r1;
}

/* Every example, every truncation, every byte changed (a cheap fuzz):
 * the text decoder agrees with the tree decoder on output and errors. */
static void test_text_examples(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < CISHARE_MSG__CNT; i++) {
        size_t glen, k, cut;
        uint8_t *gold = golden(i, &glen);
        cishare_avro_schema_t *s;
        cishare_msgtype_t type, t2;
        const char *subj;
        size_t subj_len;
        cishare_avro_buf_t out = {0};
        json_t *tree;
        char err[256], what[64], *dump;
        int d;

        assert_int_equal(
            cishare_avro_schema_new(
                cishare_codec_schema_json(codec, (cishare_msgtype_t)i), &s, err,
                sizeof(err)),
            CISHARE_OK);
        snprintf(what, sizeof(what), "%s", example_types[i]);
        assert_int_equal(same_text_schema(s, gold + 10, glen - 10, what),
                         CISHARE_OK);
        for (cut = 0; cut < glen - 10; cut++) {
            snprintf(what, sizeof(what), "%s cut %zu", example_types[i], cut);
            same_text_schema(s, gold + 10, cut, what);
        }
        for (k = 10; k < glen; k++) {
            uint8_t keep = gold[k];
            static const int deltas[] = {1, -1, 0x40, 0x80, 0x7f};
            for (d = 0; d < 5; d++) {
                gold[k] = (uint8_t)(keep + deltas[d]);
                snprintf(what, sizeof(what), "%s byte %zu %+d",
                         example_types[i], k, deltas[d]);
                same_text_schema(s, gold + 10, glen - 10, what);
            }
            gold[k] = keep;
        }
        /* the codec level: type, subject, and the same text */
        assert_int_equal(cishare_codec_decode_text(codec, gold, glen, &type,
                                                   &out, &subj, &subj_len, err,
                                                   sizeof(err)),
                         CISHARE_OK);
        assert_int_equal(cishare_codec_decode(codec, gold, glen, &t2, &tree,
                                              err, sizeof(err)),
                         CISHARE_OK);
        assert_int_equal(type, t2);
        assert_non_null(subj);
        assert_int_equal(subj_len, strlen(cishare_payload_subject(t2, tree)));
        assert_memory_equal(subj, cishare_payload_subject(t2, tree), subj_len);
        dump = json_dumps(tree, JSON_COMPACT | JSON_SORT_KEYS);
        assert_int_equal(out.len, strlen(dump));
        assert_memory_equal(out.buf, dump, out.len);
        free(dump);
        json_decref(tree);
        free(out.buf);
        cishare_avro_schema_destroy(s);
        free(gold);
    }
}

/* Every Avro type, and the strings and numbers whose JSON text is easy
 * to get wrong: escapes, control characters, NUL, non-ASCII, reals,
 * timestamps out of the RFC 3339 range, map keys out of order. */
static void test_text_edge_cases(void **state)
{
    static const char *schema =
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
        "{\"name\":\"z\",\"type\":\"null\"},"
        "{\"name\":\"b\",\"type\":\"boolean\"},"
        "{\"name\":\"i\",\"type\":\"int\"},"
        "{\"name\":\"l\",\"type\":\"long\"},"
        "{\"name\":\"f\",\"type\":\"float\"},"
        "{\"name\":\"d\",\"type\":\"double\"},"
        "{\"name\":\"by\",\"type\":\"bytes\"},"
        "{\"name\":\"s\",\"type\":\"string\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
        "\"symbols\":[\"A\",\"B_c\"]}},"
        "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":"
        "[\"null\",\"string\",\"double\"]}},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
        "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
        "\"size\":4}},"
        "{\"name\":\"ts\",\"type\":{\"type\":\"array\",\"items\":{\"type\":"
        "\"long\",\"logicalType\":\"timestamp-millis\"}}},"
        "{\"name\":\"Upper\",\"type\":[\"null\",{\"type\":\"record\","
        "\"name\":\"In\",\"fields\":[{\"name\":\"y\",\"type\":\"int\"},"
        "{\"name\":\"x\",\"type\":\"string\"}]}]},"
        "{\"name\":\"_u\",\"type\":{\"type\":\"map\",\"values\":\"In\"}}]}";
    static const char *values[] = {
        /* plain */
        "{\"z\":null,\"b\":true,\"i\":-2147483648,\"l\":9223372036854775807,"
        "\"f\":0.1,\"d\":0.1,\"by\":\"\",\"s\":\"\",\"e\":\"A\",\"a\":[],"
        "\"m\":{},\"fx\":\"abcd\",\"ts\":[],\"Upper\":null,\"_u\":{}}",
        /* strings: quotes, backslash, slash, every control character,
         * DEL, NUL, 2-, 3- and 4-byte UTF-8 */
        "{\"z\":null,\"b\":false,\"i\":0,\"l\":-1,\"f\":-0.0,\"d\":1e300,"
        "\"by\":\"\\u0000\\u0001\\n\\\"\\\\/\\u007f\\u0080\\u00ff\","
        "\"s\":\"q\\\"b\\\\s/\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005"
        "\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011"
        "\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a"
        "\\u001b\\u001c\\u001d\\u001e\\u001f\\u007f é 日本語 \\ud83d\\ude00"
        " \\u2028\",\"e\":\"B_c\",\"a\":[null,\"x\",1.5,2.0,-0.0,1e-7,"
        "123456789012345678901234567890.0,5e-324,1.7976931348623157e308,"
        "0.30000000000000004],"
        "\"m\":{\"zeta\":1,\"Alpha\":2,\"\":3,\"é\":4,\"a\\\"b\":5,"
        "\"alpha\":-6},"
        "\"fx\":\"\\u0000\\u00ff\\n\\\"\","
        "\"ts\":[0,1,-1,1795676400000,1795676400123,253402300799999,"
        "253402300800000,-62135596800000,-62135596800001,"
        "-9223372036854775807],"
        "\"Upper\":{\"y\":7,\"x\":\"in\"},"
        "\"_u\":{\"k2\":{\"y\":1,\"x\":\"\"},\"k1\":{\"y\":2,\"x\":\"\\t\"}}}",
    };
    cishare_avro_schema_t *s;
    cishare_avro_buf_t enc = {0};
    json_error_t je;
    char err[256];
    size_t i;

    (void)state;
    assert_int_equal(cishare_avro_schema_new(schema, &s, err, sizeof(err)),
                     CISHARE_OK);
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        json_t *v = json_loads(values[i], JSON_ALLOW_NUL, &je);
        if (!v)
            fail_msg("value %zu: %s", i, je.text);
        enc.len = 0;
        if (cishare_avro_encode(s, v, "v", &enc, err, sizeof(err)))
            fail_msg("value %zu: %s", i, err);
        assert_int_equal(same_text_schema(s, enc.buf, enc.len, "edge"),
                         CISHARE_OK);
        json_decref(v);
    }
    cishare_avro_schema_destroy(s);
    /* a map with a repeated key (the last wins), a key cut at a NUL, a
     * key that is not UTF-8, a string that is not UTF-8 (overlong,
     * surrogate, past U+10FFFF, cut short) */
    assert_int_equal(
        cishare_avro_schema_new("{\"type\":\"map\",\"values\":\"int\"}", &s,
                                err, sizeof(err)),
        CISHARE_OK);
    same_text_schema(s,
                     (const uint8_t *)"\x06\x02\x62\x02\x02\x61\x04\x02\x62"
                                      "\x06\x00",
                     11, "repeated key");
    same_text_schema(s,
                     (const uint8_t *)"\x04\x06\x61\x00\x62\x02\x02\x61"
                                      "\x04\x00",
                     10, "NUL in key");
    same_text_schema(s, (const uint8_t *)"\x02\x02\xff\x02\x00", 5,
                     "key not UTF-8");
    cishare_avro_schema_destroy(s);
    assert_int_equal(
        cishare_avro_schema_new("\"string\"", &s, err, sizeof(err)),
        CISHARE_OK);
    {
        static const char *bad[] = {"\xc0\xaf",
                                    "\xe0\x80\xaf",
                                    "\xed\xa0\x80",
                                    "\xf4\x90\x80\x80",
                                    "\xe6\x97",
                                    "\x80",
                                    "\xf8\x88\x80\x80\x80"};
        uint8_t b[16];
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            size_t n = strlen(bad[i]);
            b[0] = (uint8_t)(n * 2);
            memcpy(b + 1, bad[i], n);
            assert_int_equal(same_text_schema(s, b, n + 1, bad[i]),
                             CISHARE_ERR_PARSE);
        }
    }
    cishare_avro_schema_destroy(s);
    free(enc.buf);
}

/* avro-c, an independent implementation, reads our bytes with the shipped
 * schema and writes back exactly the same bytes. */
static void test_avro_c_interop(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < CISHARE_MSG__CNT; i++) {
        cishare_msgtype_t type;
        json_t *p = example_payload(i, &type);
        size_t glen;
        uint8_t *gold = golden(i, &glen);
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value;
        avro_reader_t rd;
        avro_writer_t wr;
        char *out = malloc(glen);

        assert_int_equal(avro_schema_from_json_length(
                             cishare_codec_schema_json(codec, type),
                             strlen(cishare_codec_schema_json(codec, type)),
                             &schema),
                         0);
        iface = avro_generic_class_from_schema(schema);
        assert_non_null(iface);
        assert_int_equal(avro_generic_value_new(iface, &value), 0);
        rd = avro_reader_memory((const char *)gold + 10, (int64_t)glen - 10);
        if (avro_value_read(rd, &value))
            fail_msg("avro-c cannot read %s: %s", example_types[i],
                     avro_strerror());
        wr = avro_writer_memory(out, (int64_t)glen);
        assert_int_equal(avro_value_write(wr, &value), 0);
        assert_int_equal(avro_writer_tell(wr), (int64_t)glen - 10);
        assert_memory_equal(out, gold + 10, glen - 10);
        avro_reader_free(rd);
        avro_writer_free(wr);
        avro_value_decref(&value);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        free(out);
        free(gold);
        json_decref(p);
    }
}

/* The Java-produced messageV1 vector through the generic datum codec. */
static void test_message_v1(void **state)
{
    size_t blen, slen;
    uint8_t *bin = slurp(
        path_of("CISHARE_VECTORS", "avro/messageV1/test_message.bin"), &blen);
    char *sj = (char *)slurp(
        path_of("CISHARE_VECTORS", "avro/messageV1/test_schema.avsc"), &slen);
    cishare_avro_schema_t *s;
    cishare_avro_buf_t out = {0};
    json_t *v, *want;
    char err[256];

    (void)state;
    assert_non_null(bin);
    sj = realloc(sj, slen + 1);
    sj[slen] = '\0';
    if (cishare_avro_schema_new(sj, &s, err, sizeof(err)))
        fail_msg("%s", err);
    if (cishare_avro_decode(s, bin + 10, blen - 10, NULL, "m", &v, err,
                            sizeof(err)))
        fail_msg("%s", err);
    want = json_pack("{s:i,s:s,s:[s,s]}", "id", 42, "name", "Bill", "tags",
                     "dog_lover", "cat_hater");
    assert_true(json_equal(v, want));
    assert_int_equal(cishare_avro_encode(s, v, "m", &out, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(out.len, blen - 10);
    assert_memory_equal(out.buf, bin + 10, out.len);
    free(out.buf);
    json_decref(v);
    json_decref(want);
    cishare_avro_schema_destroy(s);
    free(sj);
    free(bin);
}

static cishare_err_t dec(const uint8_t *b, size_t len, char *err,
                         size_t errsize)
{
    cishare_msgtype_t type;
    json_t *p = NULL;
    cishare_err_t e =
        cishare_codec_decode(codec, b, len, &type, &p, err, errsize);

    if (e)
        assert_null(p);
    json_decref(p);
    return e;
}

static void test_decode_errors(void **state)
{
    char err[256];
    size_t glen, cut;
    uint8_t *gold;
    uint8_t buf[64], *big;
    uint64_t fp = cishare_codec_fingerprint(codec, CISHARE_MSG_INDICATOR);
    cishare_msgtype_t type;
    int i;

    (void)state;
    /* Truncated at every length, trailing byte. */
    for (i = 0; i < CISHARE_MSG__CNT; i++) {
        gold = golden(i, &glen);
        for (cut = 0; cut < glen; cut++)
            if (dec(gold, cut, err, sizeof(err)) != CISHARE_ERR_TRUNCATED)
                fail_msg("%s cut at %zu: not reported as truncated: %s",
                         example_types[i], cut, err);
        assert_int_equal(dec(gold, glen, err, sizeof(err)), CISHARE_OK);
        big = malloc(glen + 1);
        memcpy(big, gold, glen);
        big[glen] = 0;
        assert_int_equal(dec(big, glen + 1, err, sizeof(err)),
                         CISHARE_ERR_TRAILING);
        assert_non_null(strstr(err, "1 trailing byte"));
        /* Bad magic, unknown fingerprint. */
        big[0] = 0xC2;
        assert_int_equal(dec(big, glen, err, sizeof(err)), CISHARE_ERR_PARSE);
        assert_int_equal(cishare_codec_peek_type(codec, big, glen, &type),
                         CISHARE_ERR_PARSE);
        big[0] = 0xC3;
        big[5] ^= 0x40;
        assert_int_equal(dec(big, glen, err, sizeof(err)),
                         CISHARE_ERR_UNKNOWN_SCHEMA);
        assert_non_null(strstr(err, "unknown schema fingerprint"));
        free(big);
        free(gold);
    }

    /* Header of an indicator, then hostile datums. */
    buf[0] = 0xC3;
    buf[1] = 0x01;
    for (i = 0; i < 8; i++)
        buf[2 + i] = (uint8_t)(fp >> (8 * i));
    assert_int_equal(cishare_codec_peek_type(codec, buf, 10, &type),
                     CISHARE_OK);
    assert_int_equal(type, CISHARE_MSG_INDICATOR);

    /* id length 2^40 (zigzag 2^41 as varint) */
    memcpy(buf + 10, "\x80\x80\x80\x80\x80\x40", 6);
    assert_int_equal(dec(buf, 16, err, sizeof(err)), CISHARE_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "payload.id"));
    /* id length -1 */
    buf[10] = 0x01;
    assert_int_equal(dec(buf, 11, err, sizeof(err)), CISHARE_ERR_PARSE);
    assert_non_null(strstr(err, "negative"));
    /* varint that never ends */
    memset(buf + 10, 0xFF, 20);
    assert_int_equal(dec(buf, 30, err, sizeof(err)), CISHARE_ERR_PARSE);
    /* Minimal valid indicator: id "a", created 0, modified 0, type ipv4,
     * value "v", 9 nulls, two empty arrays, 3 nulls, anonymise false. */
    memcpy(buf + 10,
           "\x02"
           "a\x00\x00\x00\x02"
           "v\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
           "\x00",
           21);
    assert_int_equal(dec(buf, 31, err, sizeof(err)), CISHARE_OK);
    buf[14] = 0x7E; /* enum index 63 */
    assert_int_equal(dec(buf, 31, err, sizeof(err)), CISHARE_ERR_PARSE);
    assert_non_null(strstr(err, "payload.type: enum index 63"));
    buf[14] = 0x00;
    buf[17] = 0x04; /* union branch 2 of [null, string] */
    assert_int_equal(dec(buf, 31, err, sizeof(err)), CISHARE_ERR_PARSE);
    assert_non_null(strstr(err, "payload.pattern: union branch 2"));
    buf[17] = 0x00;
    buf[12] = 0x01; /* created = -1 ms: fine */
    assert_int_equal(dec(buf, 31, err, sizeof(err)), CISHARE_OK);
    /* ... and the encoder writes exactly these bytes (zigzag of -1). */
    {
        json_t *mp = json_pack("{s:s,s:s,s:i,s:s,s:s}", "id", "a", "created",
                               "1969-12-31T23:59:59.999Z", "modified", 0,
                               "type", "ipv4", "value", "v");
        uint8_t *mb;
        size_t ml;
        assert_int_equal(cishare_codec_encode(codec, CISHARE_MSG_INDICATOR, mp,
                                              &mb, &ml, err, sizeof(err)),
                         CISHARE_OK);
        assert_int_equal(ml, 31);
        assert_memory_equal(mb, buf, 31);
        free(mb);
        json_decref(mp);
    }
    buf[12] = 0x00;
    buf[11] = 0xFF; /* id "\xff": not UTF-8 */
    assert_int_equal(dec(buf, 30, err, sizeof(err)), CISHARE_ERR_PARSE);
    assert_non_null(strstr(err, "UTF-8"));
    buf[11] = 'a';
    buf[25] = 0x7F; /* kill_chain_phases: -64 items, then a block size */
    assert_int_equal(dec(buf, 30, err, sizeof(err)), CISHARE_ERR_TRUNCATED);
    assert_non_null(strstr(err, "payload.kill_chain_phases"));
    buf[25] = 0x00;

    /* Decode refuses what encode refuses (found by fuzz_decode): a
     * sighting with count -1. */
    {
        json_t *sp = json_pack("{s:s,s:i,s:s}", "id", "s", "created", 0,
                               "sighting_of", "i");
        uint8_t *sb;
        size_t sl;
        assert_int_equal(cishare_codec_encode(codec, CISHARE_MSG_SIGHTING, sp,
                                              &sb, &sl, err, sizeof(err)),
                         CISHARE_OK);
        assert_int_equal(sb[15], 0x02); /* count = 1 */
        sb[15] = 0x01;                  /* count = -1 */
        assert_int_equal(dec(sb, sl, err, sizeof(err)), CISHARE_ERR_VALIDATION);
        assert_non_null(strstr(err, "payload.count"));
        free(sb);
        json_decref(sp);
    }

    /* Message beyond 1 MiB. */
    big = calloc(1, CISHARE_CODEC_MAX_MSG_SIZE + 1);
    memcpy(big, buf, 30);
    assert_int_equal(dec(big, CISHARE_CODEC_MAX_MSG_SIZE + 1, err, sizeof(err)),
                     CISHARE_ERR_TOO_LARGE);
    free(big);
    assert_int_equal(dec(NULL, 0, err, sizeof(err)), CISHARE_ERR_TRUNCATED);
}

/* Bounds of the generic datum decoder: item counts and nesting. */
static void test_datum_bounds(void **state)
{
    cishare_avro_schema_t *s;
    cishare_avro_limits_t lim = {.max_items = 1000, .max_depth = 16};
    uint8_t b[64];
    json_t *v;
    char err[256];
    int i;

    (void)state;
    assert_int_equal(
        cishare_avro_schema_new("{\"type\":\"array\",\"items\":\"null\"}", &s,
                                err, sizeof(err)),
        CISHARE_OK);
    /* 10^9 nulls in zero bytes: refused by the item bound. */
    memcpy(b, "\x80\xa8\xd6\xb9\x07\x00", 6);
    assert_int_equal(
        cishare_avro_decode(s, b, 6, &lim, "v", &v, err, sizeof(err)),
        CISHARE_ERR_TOO_LARGE);
    assert_null(v);
    b[0] = 0x04; /* 2 nulls */
    b[1] = 0x00;
    assert_int_equal(
        cishare_avro_decode(s, b, 2, &lim, "v", &v, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    cishare_avro_schema_destroy(s);

    /* 1000 strings announced in 3 bytes. */
    assert_int_equal(
        cishare_avro_schema_new("{\"type\":\"array\",\"items\":\"string\"}", &s,
                                err, sizeof(err)),
        CISHARE_OK);
    memcpy(b, "\xd0\x0f\x00", 3);
    assert_int_equal(
        cishare_avro_decode(s, b, 3, &lim, "v", &v, err, sizeof(err)),
        CISHARE_ERR_TRUNCATED);
    cishare_avro_schema_destroy(s);

    /* A recursive schema nested deeper than the bound. */
    assert_int_equal(cishare_avro_schema_new(
                         "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{"
                         "\"name\":\"n\",\"type\":[\"null\",\"L\"]}]}",
                         &s, err, sizeof(err)),
                     CISHARE_OK);
    memset(b, 0x02, sizeof(b));
    b[sizeof(b) - 1] = 0x00;
    assert_int_equal(
        cishare_avro_decode(s, b, sizeof(b), &lim, "v", &v, err, sizeof(err)),
        CISHARE_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "nested too deeply"));
    for (i = 0; i < 5; i++)
        b[i] = 0x02;
    b[5] = 0x00;
    assert_int_equal(
        cishare_avro_decode(s, b, 6, &lim, "v", &v, err, sizeof(err)),
        CISHARE_OK);
    json_decref(v);
    cishare_avro_schema_destroy(s);

    /* Bad schemas. */
    assert_int_equal(
        cishare_avro_schema_new("{\"type\":\"nope\"}", &s, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    assert_int_equal(cishare_avro_schema_new(
                         "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{"
                         "\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}"
                         "]}",
                         &s, err, sizeof(err)),
                     CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "R.a"));
}

/* Encode payload text as type t, expect err and a message containing
 * `want`. */
static void expect_invalid(cishare_msgtype_t t, const char *text,
                           const char *want)
{
    json_error_t jerr;
    json_t *p = json_loads(text, 0, &jerr);
    uint8_t *out = (uint8_t *)"x";
    size_t len;
    char err[512];

    if (!p)
        fail_msg("bad test JSON: %s", jerr.text);
    assert_int_equal(
        cishare_codec_encode(codec, t, p, &out, &len, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    assert_null(out);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    json_decref(p);
}

#define IND_BASE                                                               \
    "\"id\":\"indicator--1\",\"created\":\"2026-11-26T00:00:00Z\","            \
    "\"modified\":\"2026-11-26T00:00:00Z\",\"value\":\"192.0.2.1\""

static void test_validation_errors(void **state)
{
    (void)state;
    expect_invalid(CISHARE_MSG_INDICATOR,
                   "{" IND_BASE ",\"type\":\"ipv4\",\"confidence\":\"high\"}",
                   "payload.confidence: expected int 0-100 or null, got "
                   "string");
    expect_invalid(CISHARE_MSG_INDICATOR,
                   "{" IND_BASE ",\"type\":\"ipv4\",\"confidence\":101}",
                   "payload.confidence: expected int 0-100");
    expect_invalid(CISHARE_MSG_INDICATOR, "{" IND_BASE ",\"type\":\"foo\"}",
                   "payload.type: 'foo' is not one of ipv4, ipv6, domain");
    expect_invalid(CISHARE_MSG_INDICATOR, "{" IND_BASE "}",
                   "payload.type: missing required field");
    expect_invalid(CISHARE_MSG_INDICATOR,
                   "{" IND_BASE ",\"type\":\"ipv4\",\"colour\":\"red\"}",
                   "payload.colour: unknown field");
    expect_invalid(CISHARE_MSG_INDICATOR,
                   "{" IND_BASE ",\"type\":\"ipv4\",\"labels\":[\"a\",3]}",
                   "payload.labels[1]: expected string, got integer");
    expect_invalid(CISHARE_MSG_INDICATOR,
                   "{" IND_BASE ",\"type\":\"ipv4\",\"valid_from\":"
                   "\"yesterday\"}",
                   "payload.valid_from: 'yesterday' is not an RFC 3339 "
                   "time");
    expect_invalid(CISHARE_MSG_INDICATOR,
                   "{" IND_BASE ",\"type\":\"ipv4\",\"valid_from\":true}",
                   "payload.valid_from: expected null or RFC 3339 time "
                   "string, got boolean");
    expect_invalid(CISHARE_MSG_INDICATOR,
                   "{\"id\":\"i\",\"created\":\"2026-13-01T00:00:00Z\","
                   "\"modified\":0,\"type\":\"ipv4\",\"value\":\"v\"}",
                   "payload.created: '2026-13-01T00:00:00Z' is not an RFC "
                   "3339 time");
    expect_invalid(CISHARE_MSG_ALERT,
                   "{\"id\":\"a\",\"created\":0,\"modified\":0,\"severity\":"
                   "\"high\",\"body\":\"b\"}",
                   "payload.title: missing required field");
    expect_invalid(CISHARE_MSG_ALERT,
                   "{\"id\":\"a\",\"created\":0,\"modified\":0,\"severity\":"
                   "\"high\",\"title\":\"t\",\"body\":\"b\",\"observables\":"
                   "[{\"type\":\"ipv4\",\"value\":\"x\"},{\"type\":\"ip\","
                   "\"value\":\"y\"}]}",
                   "payload.observables[1].type: 'ip' is not one of");
    expect_invalid(CISHARE_MSG_SIGHTING,
                   "{\"id\":\"s\",\"created\":0,\"sighting_of\":\"i\","
                   "\"count\":3000000000}",
                   "payload.count: 3000000000 is out of the int range");
    expect_invalid(CISHARE_MSG_REVOCATION, "[]", "payload: expected object");
}

static void test_fill_defaults(void **state)
{
    json_t *p = json_pack("{s:s,s:s}", "type", "ipv4", "value", "192.0.2.7");
    const char *id;
    uint8_t *out;
    size_t len;
    char err[256];

    (void)state;
    assert_int_equal(cishare_payload_fill_defaults(CISHARE_MSG_INDICATOR, p,
                                                   1796108400123LL, err,
                                                   sizeof(err)),
                     CISHARE_OK);
    id = json_string_value(json_object_get(p, "id"));
    assert_non_null(id);
    assert_int_equal(strlen(id), strlen("indicator--") + 36);
    assert_memory_equal(id, "indicator--", 11);
    assert_int_equal(id[11 + 14], '4'); /* version 4 */
    assert_string_equal(json_string_value(json_object_get(p, "created")),
                        "2026-12-01T07:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(p, "modified")),
                        "2026-12-01T07:00:00.123Z");
    assert_string_equal(cishare_payload_subject(CISHARE_MSG_INDICATOR, p), id);
    if (cishare_codec_encode(codec, CISHARE_MSG_INDICATOR, p, &out, &len, err,
                             sizeof(err)))
        fail_msg("%s", err);
    free(out);
    json_decref(p);

    /* Existing values are kept; sightings have no "modified". */
    p = json_pack("{s:s,s:s,s:s}", "id", "sighting--x", "created",
                  "2026-01-01T00:00:00Z", "sighting_of", "indicator--y");
    assert_int_equal(cishare_payload_fill_defaults(CISHARE_MSG_SIGHTING, p, 0,
                                                   err, sizeof(err)),
                     CISHARE_OK);
    assert_string_equal(json_string_value(json_object_get(p, "id")),
                        "sighting--x");
    assert_string_equal(json_string_value(json_object_get(p, "created")),
                        "2026-01-01T00:00:00Z");
    assert_null(json_object_get(p, "modified"));
    assert_string_equal(cishare_payload_subject(CISHARE_MSG_SIGHTING, p),
                        "indicator--y");
    json_decref(p);
    assert_string_equal(cishare_payload_id_prefix(CISHARE_MSG_REVOCATION),
                        "revocation");
}

/* Encoding beside the defaults gives the bytes of filling them in: the
 * payload is not changed, a null field takes the default, a given one
 * keeps its value, and an unknown field is still refused. */
static void test_encode_with_defaults(void **state)
{
    json_t *p =
        json_pack("{s:s,s:s,s:n,s:s}", "type", "ipv4", "value", "192.0.2.7",
                  "created", "modified", "2026-02-01T00:00:00Z");
    json_t *x, *filled;
    uint8_t *a, *b;
    size_t alen, blen;
    char err[256];

    (void)state;
    assert_int_equal(cishare_payload_defaults(CISHARE_MSG_INDICATOR, p,
                                              1796108400123LL, &x, err,
                                              sizeof(err)),
                     CISHARE_OK);
    assert_non_null(x);
    assert_int_equal(json_object_size(x), 2); /* id, created */
    assert_int_equal(json_object_size(p), 4); /* untouched */
    assert_true(json_is_null(json_object_get(p, "created")));
    if (cishare_codec_encode_with(codec, CISHARE_MSG_INDICATOR, p, x, &a, &alen,
                                  err, sizeof(err)))
        fail_msg("%s", err);
    filled = json_deep_copy(p);
    assert_int_equal(json_object_update(filled, x), 0);
    assert_string_equal(json_string_value(json_object_get(filled, "modified")),
                        "2026-02-01T00:00:00Z");
    if (cishare_codec_encode(codec, CISHARE_MSG_INDICATOR, filled, &b, &blen,
                             err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);
    json_decref(filled);

    /* nothing missing: no extra object */
    json_decref(x);
    filled = json_deep_copy(p);
    json_object_set_new(filled, "id", json_string("indicator--z"));
    json_object_set_new(filled, "created", json_string("2026-01-01T00:00:00Z"));
    assert_int_equal(cishare_payload_defaults(CISHARE_MSG_INDICATOR, filled, 0,
                                              &x, err, sizeof(err)),
                     CISHARE_OK);
    assert_null(x);
    json_decref(filled);

    /* the extra object does not hide an unknown field */
    json_object_set_new(p, "colour", json_string("red"));
    assert_int_equal(cishare_payload_defaults(CISHARE_MSG_INDICATOR, p, 0, &x,
                                              err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(cishare_codec_encode_with(codec, CISHARE_MSG_INDICATOR, p,
                                               x, &a, &alen, err, sizeof(err)),
                     CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "payload.colour: unknown field"));
    json_decref(x);
    json_decref(p);
}

static void test_time(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-26T07:00:00Z", 1795676400000LL},
        {"2026-11-26T07:00:00.5Z", 1795676400500LL},
        {"2026-11-26T16:00:00.123456+09:00", 1795676400123LL},
        {"2026-11-26t07:00:00z", 1795676400000LL},
        {"2024-02-29T00:00:00-01:30", 1709170200000LL},
        {"1969-12-31T23:59:59.999Z", -1},
        {"0001-01-01T00:00:00Z", CISHARE_TIME_MIN_MS},
        {"9999-12-31T23:59:59.999Z", CISHARE_TIME_MAX_MS},
    };
    static const char *const bad[] = {"",
                                      "2026-11-26",
                                      "2026-11-26T07:00:00",
                                      "2026-11-26 07:00:00Z",
                                      "2026-02-30T00:00:00Z",
                                      "2025-02-29T00:00:00Z",
                                      "2026-11-26T24:00:00Z",
                                      "2026-11-26T07:00:00.Z",
                                      "2026-11-26T07:00:00+0900",
                                      "2026-11-26T07:00:00Zjunk",
                                      "0000-01-01T00:00:00Z"};
    char out[32];
    int64_t ms;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!cishare_time_parse(ok[i].text, &ms))
            fail_msg("'%s' refused", ok[i].text);
        if (ms != ok[i].ms)
            fail_msg("'%s' -> %lld, want %lld", ok[i].text, (long long)ms,
                     (long long)ok[i].ms);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cishare_time_parse(bad[i], &ms))
            fail_msg("'%s' accepted", bad[i]);
    cishare_time_format(1795676400000LL, out);
    assert_string_equal(out, "2026-11-26T07:00:00Z");
    cishare_time_format(1795676400007LL, out);
    assert_string_equal(out, "2026-11-26T07:00:00.007Z");
    cishare_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    cishare_time_format(CISHARE_TIME_MAX_MS + 1, out);
    assert_string_equal(out, "253402300800000");
    /* Format/parse agree over a spread of times. */
    for (ms = -62135596800000LL; ms < 253402300799999LL;
         ms += 86400000LL * 997 + 12345) {
        int64_t back;
        cishare_time_format(ms, out);
        assert_true(cishare_time_parse(out, &back));
        assert_true(back == ms);
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Not a pass/fail benchmark: prints the cost per message so regressions
 * show in the log (tests/bench holds the real benchmark). */
static void test_cost(void **state)
{
    cishare_msgtype_t type, dtype;
    json_t *p = example_payload(0, &type), *back;
    uint8_t *bytes;
    size_t len;
    const int n = 20000;
    double t0, enc_us, dec_us;
    int i;

    (void)state;
    t0 = now_s();
    for (i = 0; i < n; i++) {
        assert_int_equal(
            cishare_codec_encode(codec, type, p, &bytes, &len, NULL, 0), 0);
        free(bytes);
    }
    enc_us = (now_s() - t0) * 1e6 / n;
    assert_int_equal(
        cishare_codec_encode(codec, type, p, &bytes, &len, NULL, 0), 0);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        assert_int_equal(
            cishare_codec_decode(codec, bytes, len, &dtype, &back, NULL, 0), 0);
        json_decref(back);
    }
    dec_us = (now_s() - t0) * 1e6 / n;
    printf("codec cost, indicator example (%zu bytes): encode %.2f us, "
           "decode %.2f us\n",
           len, enc_us, dec_us);
    free(bytes);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_examples_round_trip),
        cmocka_unit_test(test_text_examples),
        cmocka_unit_test(test_text_edge_cases),
        cmocka_unit_test(test_avro_c_interop),
        cmocka_unit_test(test_message_v1),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_datum_bounds),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_fill_defaults),
        cmocka_unit_test(test_encode_with_defaults),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
