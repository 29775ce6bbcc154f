/*
 * Anonymised copies (cishare/anonymise.h) on the example directory: for
 * each type, a message full of the reporter's identifying values comes out
 * without any of them, with fresh ids and coarsened times, and builds as
 * the relay's own message whose Kafka key, headers and value hold none of
 * them either.
 */
#include "cishare/anonymise.h"
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

#define MSG_ID   "9b1e4c2a-7d3f-4e8a-b5c6-0f1e2d3c4b5a"
#define INC_ID   "incident--0f6c2a1e-3d5b-4b7a-8e9f-1a2b3c4d5e6f"
#define IND_ID   "indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30"
#define SIG_ID   "sighting--3e2d1c0b-a987-4654-b321-0fedcba98765"
#define AUTHOR   "identity--c0ffee00-1111-4222-8333-444455556666"
#define SRC_FILE "/srv/power-a/exports/ioc-2026-11.csv#12"
#define OVERVIEW "Regional power company, 4 million customers"
#define SYSTEM   "SCADA historian hist-01.dispatch.local"
#define RNAME    "Power Company A"

/* The feed's JSON line of a message from op-power-a, with every free-text
 * field naming the reporter, its key and the original ids. */
static json_t *feed_msg(const char *type)
{
    const cishare_participant_t *r = P("op-power-a");
    char text[1024];
    json_t *m, *p;
    json_error_t jerr;

    /* the ids the message itself holds (no other can be known) */
    const char *own = !strcmp(type, "sighting") ? SIG_ID : INC_ID;
    const char *linked = !strcmp(type, "sighting") ? SIG_ID : IND_ID;

    snprintf(text, sizeof(text),
             "%s (%s, principal %s, key %s) saw it; see %s, %s, message %s",
             r->name, r->id, r->principal, r->key_id, own, linked, MSG_ID);
    if (!strcmp(type, "incident"))
        p = json_pack_ex(
            &jerr, 0,
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:s, "
            "s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:[s], "
            "s:s, s:s}",
            "id", INC_ID, "created", "2026-11-26T06:31:17.123Z", "modified",
            "2026-11-26T06:59:59.999Z", "title", text, "stage", "preliminary",
            "category", "ransomware", "mitre_techniques", "T1486",
            "operator_overview", OVERVIEW, "summary", text, "affected_service",
            "electricity supply", "affected_system", SYSTEM, "impact",
            "degraded", "operating_mode", "normal", "detected_at",
            "2026-11-26T05:58:41Z", "reported_at", "2026-11-26T06:30:00Z",
            "technical_details", text, "response_taken",
            "POWER COMPANY A isolated " SYSTEM, "remarks", "filed by " RNAME,
            "legal_basis", "voluntary", "consent_forward", 1, "anonymise", 1,
            "indicators", IND_ID, "created_by_ref", AUTHOR, "source", SRC_FILE);
    else if (!strcmp(type, "indicator"))
        p = json_pack_ex(
            &jerr, 0,
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
            "s:s, s:[s], s:s, s:s, s:s}",
            "id", IND_ID, "created", "2026-11-26T06:31:17Z", "modified",
            "2026-11-26T06:45:00Z", "type", "ipv4", "value", "203.0.113.45",
            "name", text, "description", text, "valid_from",
            "2026-11-26T06:31:17Z", "valid_until", "2026-12-26T06:31:17Z",
            "first_seen", "2026-11-25T23:10:00Z", "last_seen",
            "2026-11-26T06:20:00Z", "labels", text, "related_incident", INC_ID,
            "created_by_ref", AUTHOR, "source", SRC_FILE);
    else
        p = json_pack_ex(
            &jerr, 0, "{s:s, s:s, s:s, s:i, s:s, s:s, s:b, s:s, s:s, s:s}",
            "id", SIG_ID, "created", "2026-11-26T06:31:17Z", "sighting_of",
            "indicator--11111111-2222-4333-8444-"
            "555555555555",
            "count", 3, "first_seen", "2026-11-26T01:01:01Z", "last_seen",
            "2026-11-26T06:06:06Z", "false_positive", 0, "description", text,
            "created_by_ref", AUTHOR, "source", SRC_FILE);
    if (!p)
        fail_msg("pack: %s", jerr.text);
    m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o}",
                  "message_id", MSG_ID, "type", type, "tlp", "amber",
                  "audience", "participant:ceptoar-electricity", "origin",
                  r->id, "sector", "electricity", "created",
                  "2026-11-26T06:31:18.456Z", "expires",
                  "2026-12-26T06:31:18.456Z", "key_id", r->key_id, "encrypted",
                  0, "payload", p);
    assert_non_null(m);
    return m;
}

/* Case-insensitive: is needle anywhere in buf[0..len)? */
static bool has(const void *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle), i, j;
    const char *b = buf;

    for (i = 0; i + n <= len; i++) {
        for (j = 0; j < n; j++) {
            char x = b[i + j], y = needle[j];
            if (x >= 'A' && x <= 'Z')
                x = (char)(x - 'A' + 'a');
            if (y >= 'A' && y <= 'Z')
                y = (char)(y - 'A' + 'a');
            if (x != y)
                break;
        }
        if (j == n)
            return true;
    }
    return false;
}

/* None of the reporter's traces in buf. */
static void assert_no_trace(const void *buf, size_t len, const char *what,
                            bool subject_kept)
{
    const cishare_participant_t *r = P("op-power-a");
    const char *traces[] = {
        r->id,  r->name, r->principal, r->key_id, MSG_ID, INC_ID,   IND_ID,
        SIG_ID, AUTHOR,  SRC_FILE,     OVERVIEW,  SYSTEM, "power-a"};
    size_t i;

    for (i = 0; i < sizeof(traces) / sizeof(traces[0]); i++) {
        if (subject_kept && !strcmp(traces[i], IND_ID))
            continue;
        if (has(buf, len, traces[i]))
            fail_msg("%s holds '%s': %.*s", what, traces[i], (int)len,
                     (const char *)buf);
    }
}

static json_t *anonymise(const json_t *m, const cishare_anonymise_opts_t *o)
{
    json_t *out = NULL;
    char err[512] = "";

    if (cishare_anonymise(m, P("op-power-a"), dir, o, &out, err, sizeof(err)))
        fail_msg("anonymise: %s", err);
    assert_non_null(out);
    return out;
}

static const char *pstr(const json_t *m, const char *field)
{
    return json_string_value(
        json_object_get(json_object_get(m, "payload"), field));
}

/* The copy builds as ceptoar-electricity's own message, and the Kafka
 * record (key, every header, value) holds no trace. */
static void build_as_relay(const json_t *copy, bool subject_kept)
{
    cishare_keypair_t kp;
    cishare_msg_out_t out;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(16);
    char path[1024], err[512] = "";
    size_t i;
    const char *name;
    const void *val;
    size_t vlen;

    snprintf(path, sizeof(path),
             "%s/deploy/examples/keys/ceptoar-electricity.key", src());
    if (cishare_keypair_load(&kp, path, err, sizeof(err)))
        fail_msg("%s", err);
    if (cishare_message_build(codec, dir, P("ceptoar-electricity"), &kp, copy,
                              -1, "sector:electricity",
                              cishare_anonymise_time(NOW, NULL), &out, err,
                              sizeof(err)))
        fail_msg("build as relay: %s", err);
    assert_string_equal(out.env.origin, "ceptoar-electricity");
    assert_true(out.env.created_ms % CISHARE_ANONYMISE_UNIT_MS == 0);
    assert_no_trace(out.key, out.key_len, "Kafka key", subject_kept);
    assert_no_trace(out.value, out.value_len, "Kafka value", subject_kept);
    if (cishare_envelope_to_headers(&out.env, hdrs, err, sizeof(err)))
        fail_msg("headers: %s", err);
    for (i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen); i++) {
        assert_no_trace(name, strlen(name), "header name", subject_kept);
        if (val)
            assert_no_trace(val, vlen, name, subject_kept);
    }
    assert_true(i >= 2); /* layout 2: cishare and cishare.env */
    rd_kafka_headers_destroy(hdrs);
    cishare_msg_out_clear(&out);
    cishare_keypair_wipe(&kp);
}

static void check_type(const char *type, const char *prefix, bool subject_kept)
{
    json_t *m = feed_msg(type), *a, *b;
    char *text;
    size_t plen = strlen(prefix);

    a = anonymise(m, NULL);
    b = anonymise(m, NULL);
    text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    assert_non_null(text);
    assert_no_trace(text, strlen(text), "anonymised copy", subject_kept);
    free(text);
    text = json_dumps(a, JSON_COMPACT); /* UTF-8 as it is */
    assert_no_trace(text, strlen(text), "anonymised copy", subject_kept);
    free(text);

    /* Only what the relay publishes: no envelope member of the original. */
    assert_null(json_object_get(a, "message_id"));
    assert_null(json_object_get(a, "origin"));
    assert_null(json_object_get(a, "key_id"));
    assert_null(json_object_get(a, "sector"));
    assert_null(json_object_get(a, "created"));
    assert_null(json_object_get(a, "audience"));
    assert_string_equal(json_string_value(json_object_get(a, "type")), type);
    assert_string_equal(json_string_value(json_object_get(a, "tlp")), "amber");
    assert_string_equal(json_string_value(json_object_get(a, "expires")),
                        "2026-12-26T07:00:00Z");

    /* Fresh random ids of the type's prefix, another one per call. */
    assert_int_equal(strncmp(pstr(a, "id"), prefix, plen), 0);
    assert_int_equal(strlen(pstr(a, "id")), plen + 2 + 36);
    assert_string_not_equal(pstr(a, "id"), pstr(b, "id"));
    assert_string_not_equal(pstr(a, "id"),
                            json_string_value(json_object_get(
                                json_object_get(m, "payload"), "id")));

    /* Coarsened to the hour; start times down. */
    assert_string_equal(pstr(a, "created"), "2026-11-26T06:00:00Z");
    if (json_object_get(json_object_get(a, "payload"), "first_seen")) {
        const char *fs = pstr(a, "first_seen");
        assert_non_null(fs);
        assert_true(!strcmp(fs, "2026-11-25T23:00:00Z") ||
                    !strcmp(fs, "2026-11-26T01:00:00Z"));
    }
    if (json_object_get(json_object_get(a, "payload"), "anonymise"))
        assert_true(json_is_false(
            json_object_get(json_object_get(a, "payload"), "anonymise")));
    build_as_relay(a, subject_kept);
    json_decref(a);
    json_decref(b);
    json_decref(m);
}

static void test_incident(void **state)
{
    json_t *m = feed_msg("incident"), *a;
    (void)state;

    check_type("incident", "incident", false);
    a = anonymise(m, NULL);
    assert_string_equal(pstr(a, "operator_overview"),
                        "an operator in the Electric power sector");
    assert_string_equal(pstr(a, "affected_system"), "[withheld]");
    assert_string_equal(pstr(a, "modified"), "2026-11-26T06:00:00Z");
    assert_string_equal(pstr(a, "detected_at"), "2026-11-26T05:00:00Z");
    assert_string_equal(pstr(a, "reported_at"), "2026-11-26T06:00:00Z");
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(a, "payload"), "indicators")),
                     0);
    assert_true(
        json_is_null(json_object_get(json_object_get(a, "payload"), "source")));
    /* The reporter in free text reads as the pseudonym. */
    assert_non_null(strstr(pstr(a, "summary"),
                           "an operator in the Electric power sector (an "
                           "operator in the Electric power sector, principal "
                           "an operator in the Electric power sector, key "
                           "[withheld]) saw it; see [withheld], [withheld], "
                           "message [withheld]"));
    assert_string_equal(pstr(a, "response_taken"),
                        "an operator in the Electric power sector isolated "
                        "[withheld]");
    /* What is not identifying stays. */
    assert_string_equal(pstr(a, "category"), "ransomware");
    assert_string_equal(pstr(a, "affected_service"), "electricity supply");
    assert_true(json_is_true(
        json_object_get(json_object_get(a, "payload"), "consent_forward")));
    json_decref(a);
    json_decref(m);
}

static void test_indicator(void **state)
{
    json_t *m = feed_msg("indicator"), *a;
    (void)state;

    check_type("indicator", "indicator", false);
    a = anonymise(m, NULL);
    assert_string_equal(pstr(a, "value"), "203.0.113.45");
    assert_string_equal(pstr(a, "valid_from"), "2026-11-26T06:00:00Z");
    assert_string_equal(pstr(a, "valid_until"), "2026-12-26T07:00:00Z");
    assert_string_equal(pstr(a, "last_seen"), "2026-11-26T06:00:00Z");
    assert_true(json_is_null(
        json_object_get(json_object_get(a, "payload"), "related_incident")));
    json_decref(a);
    json_decref(m);
}

static void test_sighting(void **state)
{
    json_t *m = feed_msg("sighting"), *a;
    (void)state;

    /* The sighted indicator is the originator's: kept, it is the key. */
    check_type("sighting", "sighting", true);
    a = anonymise(m, NULL);
    assert_string_equal(pstr(a, "sighting_of"),
                        "indicator--11111111-2222-4333-8444-555555555555");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(a, "payload"), "count")),
                     3);
    json_decref(a);
    json_decref(m);
}

static void test_options(void **state)
{
    json_t *m = feed_msg("indicator"), *a;
    cishare_anonymise_opts_t o = {.unit_ms = 24LL * 3600 * 1000,
                                  .audience = "sector:electricity",
                                  .pseudonym = "a member"};
    char err[256] = "";
    (void)state;

    a = anonymise(m, &o);
    assert_string_equal(pstr(a, "created"), "2026-11-26T00:00:00Z");
    assert_string_equal(pstr(a, "valid_until"), "2026-12-27T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(a, "audience")),
                        "sector:electricity");
    assert_non_null(strstr(pstr(a, "description"), "a member (a member,"));
    json_decref(a);
    o = (cishare_anonymise_opts_t){.unit_ms = 1};
    a = anonymise(m, &o);
    assert_string_equal(pstr(a, "created"), "2026-11-26T06:31:17Z");
    json_decref(a);
    assert_int_equal(cishare_anonymise_time(NOW + 5, NULL), NOW);

    /* Refusals. */
    o.unit_ms = -1;
    assert_int_equal(
        cishare_anonymise(m, P("op-power-a"), dir, &o, &a, err, sizeof(err)),
        CISHARE_ERR_INVALID_ARG);
    assert_null(a);
    assert_int_equal(
        cishare_anonymise(m, P("op-power-b"), dir, NULL, &a, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "origin"));
    json_object_set_new(json_object_get(m, "payload"), "created",
                        json_string("yesterday"));
    assert_int_equal(
        cishare_anonymise(m, P("op-power-a"), dir, NULL, &a, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "payload.created"));
    json_object_set_new(m, "type", json_string("alert"));
    assert_int_equal(
        cishare_anonymise(m, P("op-power-a"), dir, NULL, &a, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "alert"));
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incident),
        cmocka_unit_test(test_indicator),
        cmocka_unit_test(test_sighting),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
