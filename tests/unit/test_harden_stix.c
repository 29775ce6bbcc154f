/*
 * Hardening of the STIX sink's state (issue 12, findings 1, 3 and 6): one
 * participant, with its own key and the topics it may write, must not be
 * able to erase, take over or swamp what the STIX sink keeps of others.
 *
 * Each hostile message is built and signed through the library by a real
 * example participant (hostile.h) and runs through op-bank-a's real feed
 * on librdkafka's mock cluster. The state-journal tests at the end drive
 * the journal and the sink directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "hostile.h"
#include "sinks/sink.h"

#define VICTIM "op-bank-a"

/* Subject n of participant `who`'s indicators, a well-formed STIX id. */
static const char *subject_n(char *buf, size_t size, unsigned who, unsigned n)
{
    snprintf(buf, size, "indicator--%08x-0000-4000-8000-%012x", who, n);
    return buf;
}

/* A GREEN indicator (audience all): ipv4 value, description. */
static json_t *green_indicator(const char *id, const char *value,
                               json_t *description)
{
    json_t *m =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "type", "indicator", "tlp",
                  "green", "payload", "id", id, "type", "ipv4", "value", value);

    assert_non_null(m);
    if (description)
        json_object_set_new(json_object_get(m, "payload"), "description",
                            description);
    return m;
}

static void publish_indicator(hostile_t *h, const char *as, const char *id,
                              const char *value, json_t *description)
{
    json_t *m = green_indicator(id, value, description);

    hostile_publish(h, as, m);
    json_decref(m);
}

/* schemas/examples' incident as a GREEN one of id, linking indicator. */
static json_t *example_incident(const char *id, const char *indicator)
{
    json_t *m = hostile_example("incident"), *p;

    json_object_set_new(m, "tlp", json_string("green"));
    json_object_del(m, "audience");
    p = json_object_get(m, "payload");
    json_object_set_new(p, "id", json_string(id));
    json_object_set_new(p, "indicators", json_pack("[s]", indicator));
    /* a voluntary notice: a mandatory one is never GREEN (P7) */
    json_object_set_new(p, "legal_basis", json_string("voluntary"));
    return m;
}

static json_t *load_bundle(hostile_t *h)
{
    char path[1600];
    json_error_t jerr;
    json_t *b;

    snprintf(path, sizeof(path), "%s/stix/bundle.json", hostile_out(h, VICTIM));
    /* op-power-b's description carries U+0000 (finding 1) */
    b = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!b)
        fail_msg("%s: %s", path, jerr.text);
    return b;
}

/* The identity id of origin in bundle, or "" (none). */
static const char *identity_of(const json_t *b, const char *origin)
{
    const json_t *o;
    size_t i;

    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        if (!strcmp(json_string_value(json_object_get(o, "type")),
                    "identity") &&
            !strcmp(json_string_value(json_object_get(o, "name")), origin))
            return json_string_value(json_object_get(o, "id"));
    }
    return "";
}

/* Objects of type created by origin. */
static size_t count_by(const json_t *b, const char *type, const char *origin)
{
    const char *ident = identity_of(b, origin);
    const json_t *o;
    size_t i, n = 0;

    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *by =
            json_string_value(json_object_get(o, "created_by_ref"));
        if (!strcmp(json_string_value(json_object_get(o, "type")), type) &&
            by && !strcmp(by, ident))
            n++;
    }
    return n;
}

/* The indicator of origin whose pattern holds value, or NULL. */
static const json_t *indicator_of(const json_t *b, const char *origin,
                                  const char *value)
{
    const char *ident = identity_of(b, origin);
    const json_t *o;
    size_t i;

    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *by =
            json_string_value(json_object_get(o, "created_by_ref"));
        const char *pat = json_string_value(json_object_get(o, "pattern"));
        if (by && pat && !strcmp(by, ident) && strstr(pat, value))
            return o;
    }
    return NULL;
}

static off_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}

/*
 * Finding 1: op-power-b's GREEN indicator with U+0000 in its description,
 * between op-power-a's indicators and a revocation, must not cost anyone
 * anything across a restart: the state journal loads it (the codec keeps
 * NUL, the loader reads what the codec accepts).
 *
 * Before the fix: after the plain restart the bundle held 3 of
 * op-power-a's 5 live indicators, and the revoked one was back
 * (state_load cut state.jsonl at the poison line, tombstone included).
 */
static void test_nul_keeps_everyones_state(void **state)
{
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    char id[96], value[32], path[1600], *text;
    json_t *b, *rev;
    unsigned i;

    (void)state;
    /* One partition: the journal gets the messages in this order. */
    assert_int_equal(
        rd_kafka_mock_topic_create(h->mc, "cishare.green.all", 1, 1), 0);
    for (i = 1; i <= 3; i++) {
        snprintf(value, sizeof(value), "192.0.2.%u", i);
        publish_indicator(h, "op-power-a", subject_n(id, sizeof(id), 0xa, i),
                          value, NULL);
    }
    publish_indicator(h, "op-power-b", subject_n(id, sizeof(id), 0xb, 1),
                      "198.51.100.1", json_stringn("before\0after", 12));
    for (i = 4; i <= 6; i++) {
        snprintf(value, sizeof(value), "192.0.2.%u", i);
        publish_indicator(h, "op-power-a", subject_n(id, sizeof(id), 0xa, i),
                          value, NULL);
    }
    rev = json_pack("{s:s, s:s, s:{s:s}}", "type", "revocation", "tlp", "green",
                    "payload", "revokes", subject_n(id, sizeof(id), 0xa, 1));
    hostile_publish(h, "op-power-a", rev);
    json_decref(rev);

    hostile_feed_ok(h, VICTIM, "jsonl,stix", &st);
    assert_int_equal(st.delivered, 8);
    b = load_bundle(h);
    assert_int_equal(count_by(b, "indicator", "op-power-a"), 5);
    json_decref(b);

    /* A plain restart: everything must still be there. */
    hostile_feed_ok(h, VICTIM, "jsonl,stix", &st);
    assert_int_equal(st.delivered, 0);
    b = load_bundle(h);
    assert_int_equal(count_by(b, "indicator", "op-power-a"), 5);
    assert_null(indicator_of(b, "op-power-a", "'192.0.2.1'"));
    assert_non_null(indicator_of(b, "op-power-a", "'192.0.2.6'"));
    /* the NUL message itself is kept, attributed to its origin */
    assert_int_equal(count_by(b, "indicator", "op-power-b"), 1);
    json_decref(b);
    snprintf(path, sizeof(path), "%s/.state/stix.jsonl",
             hostile_out(h, VICTIM));
    text = test_slurp(path, NULL);
    assert_non_null(strstr(text, "before\\u0000after"));
    assert_non_null(strstr(text, "\"revoked\""));
    free(text);
    hostile_destroy(h);
}

/*
 * Finding 3: op-power-b publishes an "attacker copy" under op-power-a's
 * indicator id first. Both objects must stay in the bundle, each under
 * an id of its own origin, and op-power-a's incident report and a third
 * participant's sighting must point to the genuine one.
 *
 * Before the fix: one indicator carried the id "indicator--0000000a-...",
 * the attacker's (the genuine object was dropped as a duplicate id), so
 * indicator_of(op-power-a) was NULL.
 */
static void test_origin_cannot_take_over_stix_id(void **state)
{
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    char subj[96], incid[96], gen_id[128], att_id[128];
    const json_t *gen, *att, *o, *e;
    json_t *b, *m;
    size_t i, j;
    bool report_ok = false, sighting_ok = false;

    (void)state;
    subject_n(subj, sizeof(subj), 0xa, 1);
    snprintf(incid, sizeof(incid), "incident--0000000a-0000-4000-8000-%012x",
             1u);
    publish_indicator(h, "op-power-b", subj, "198.51.100.66",
                      json_string("attacker copy"));
    publish_indicator(h, "op-power-a", subj, "192.0.2.10",
                      json_string("genuine"));
    m = example_incident(incid, subj);
    hostile_publish(h, "op-power-a", m);
    json_decref(m);
    m = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:i}}", "type", "sighting",
                  "tlp", "green", "payload", "id",
                  "sighting--0000000c-0000-4000-8000-000000000001",
                  "sighting_of", subj, "sighting_of_origin", "op-power-a",
                  "count", 3);
    hostile_publish(h, "op-gas-a", m);
    json_decref(m);

    hostile_feed_ok(h, VICTIM, "stix", &st);
    assert_int_equal(st.delivered, 4);
    b = load_bundle(h);
    gen = indicator_of(b, "op-power-a", "192.0.2.10");
    att = indicator_of(b, "op-power-b", "198.51.100.66");
    assert_non_null(gen);
    assert_non_null(att);
    snprintf(gen_id, sizeof(gen_id), "%s",
             json_string_value(json_object_get(gen, "id")));
    snprintf(att_id, sizeof(att_id), "%s",
             json_string_value(json_object_get(att, "id")));
    assert_string_not_equal(gen_id, att_id);
    assert_string_not_equal(gen_id, subj); /* derived from (origin, subject) */
    assert_string_not_equal(att_id, subj);
    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *t = json_string_value(json_object_get(o, "type"));
        if (!strcmp(t, "report"))
            json_array_foreach(json_object_get(o, "object_refs"), j, e)
            {
                assert_string_not_equal(json_string_value(e), att_id);
                if (!strcmp(json_string_value(e), gen_id))
                    report_ok = true;
            }
        if (!strcmp(t, "sighting")) {
            const char *r =
                json_string_value(json_object_get(o, "sighting_of_ref"));
            assert_string_not_equal(r, att_id); /* names op-power-a's */
            if (!strcmp(r, gen_id))
                sighting_ok = true;
        }
    }
    assert_true(report_ok);
    assert_true(sighting_ok);
    json_decref(b);
    hostile_destroy(h);
}

/*
 * Finding 6: expired entries are forgotten (and the journal shrinks with
 * them), and no origin occupies more than
 * cishare.stix.max-state-bytes-per-origin; what goes past the bound is
 * counted and logged.
 *
 * Before the fix: the key did not exist (the feed refused it); without it
 * state.jsonl held 2.05 MB after the restart (every expired entry and all
 * three of op-power-b's 400 KB indicators).
 */
static void test_state_is_bounded(void **state)
{
    static const char *const extra[] = {
        "cishare.stix.max-state-bytes-per-origin=1048576", NULL};
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    char id[96], value[32], path[1600], errstr[1024], *big;
    int64_t expires_ms;
    json_t *m, *b;
    unsigned i;
    off_t size;

    (void)state;
    big = malloc(400 * 1024 + 1);
    assert_non_null(big);
    memset(big, 'x', 400 * 1024);
    big[400 * 1024] = '\0';
    for (i = 1; i <= 2; i++) {
        snprintf(value, sizeof(value), "192.0.2.%u", i);
        publish_indicator(h, "op-power-a", subject_n(id, sizeof(id), 0xa, i),
                          value, NULL);
    }
    /* 3 x 400 KB from op-power-b: the third is past its 1 MiB bound */
    for (i = 1; i <= 3; i++) {
        snprintf(value, sizeof(value), "198.51.100.%u", i);
        publish_indicator(h, "op-power-b", subject_n(id, sizeof(id), 0xb, i),
                          value, json_string(big));
    }
    /* 2 x 400 KB from op-gas-a that expire in 8 s */
    expires_ms = cishare_time_now_ms() + 8000;
    for (i = 1; i <= 2; i++) {
        char ts[40];
        snprintf(value, sizeof(value), "203.0.113.%u", i);
        m = green_indicator(subject_n(id, sizeof(id), 0xc, i), value,
                            json_string(big));
        cishare_time_format(expires_ms, ts);
        json_object_set_new(m, "expires", json_string(ts));
        hostile_publish(h, "op-gas-a", m);
        json_decref(m);
    }
    free(big);

    if (hostile_feed(h, VICTIM, "stix", extra, &st, errstr, sizeof(errstr)))
        fail_msg("feed: %s", errstr);
    assert_int_equal(st.delivered, 7);
    assert_int_equal(st.sink_over_bound, 1);
    assert_non_null(strstr(h->lines, "op-power-b"));
    assert_non_null(
        strstr(h->lines, "cishare.stix.max-state-bytes-per-origin"));
    b = load_bundle(h);
    assert_int_equal(count_by(b, "indicator", "op-power-a"), 2);
    assert_int_equal(count_by(b, "indicator", "op-power-b"), 2);
    json_decref(b);

    /* After the expiry, a plain restart forgets op-gas-a's entries. */
    while (cishare_time_now_ms() <= expires_ms + 200)
        usleep(100 * 1000);
    if (hostile_feed(h, VICTIM, "stix", extra, &st, errstr, sizeof(errstr)))
        fail_msg("feed: %s", errstr);
    b = load_bundle(h);
    assert_int_equal(count_by(b, "indicator", "op-gas-a"), 0);
    assert_int_equal(count_by(b, "indicator", "op-power-a"), 2);
    assert_int_equal(count_by(b, "indicator", "op-power-b"), 2);
    json_decref(b);
    snprintf(path, sizeof(path), "%s/.state/stix.jsonl",
             hostile_out(h, VICTIM));
    size = file_size(path);
    /* op-power-b's two entries and a little more */
    assert_true(size > 800 * 1024);
    assert_true(size < 1024 * 1024);
    hostile_destroy(h);
}

/* ---- the state journal itself ---- */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void log_line(void *opaque, const char *line)
{
    char *buf = opaque;
    size_t len = strlen(buf);

    snprintf(buf + len, 4096 - len, "%s\n", line);
}

/*
 * A damaged line that is not the last one stops the state open with the
 * file and line named, and the file is left as it was. An unterminated
 * last line is a torn tail: cut, and logged by the sink that owns it.
 *
 * Before the fix: the open succeeded and cut the file after line 1.
 */
static void test_journal_damage_and_torn_tail(void **state)
{
    char dir[256], path[400], errstr[512] = "", logbuf[4096] = "";
    const char *good = "{\"s\":\"op-power-a a\",\"v\":{\"x\":1}}\n";
    cishare_sink_state_t *s = NULL;
    cishare_sink_opts_t so = {0};
    cishare_sink_t *sink = NULL;
    off_t before;
    char *text;

    (void)state;
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "journal"), 0);
    snprintf(path, sizeof(path), "%s/state.jsonl", dir);

    /* damaged line 2 of 3 */
    text = NULL;
    assert_true(asprintf(&text, "%s{\"s\":\"op-power-b b\",\"v\":{oops}\n%s",
                         good,
                         "{\"s\":\"op-power-a c\",\"v\":{\"x\":3}}\n") > 0);
    write_file(path, text);
    free(text);
    before = file_size(path);
    assert_int_not_equal(
        cishare_sink_state_open(path, &s, errstr, sizeof(errstr)), CISHARE_OK);
    assert_null(s);
    assert_non_null(strstr(errstr, path));
    assert_non_null(strstr(errstr, "line 2"));
    assert_int_equal(file_size(path), before);

    /* a line with U+0000 loads (the codec lets it through) */
    write_file(path, "{\"s\":\"op-power-b n\",\"v\":{\"d\":\"a\\u0000b\"}}\n");
    assert_int_equal(cishare_sink_state_open(path, &s, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(json_string_length(json_object_get(
                         cishare_sink_state_get(s, "op-power-b n"), "d")),
                     3);
    cishare_sink_state_close(s);
    s = NULL;

    /* torn tail: cut, the rest kept */
    assert_true(
        asprintf(&text, "%s{\"s\":\"op-power-a b\",\"v\":{\"x\"", good) > 0);
    write_file(path, text);
    free(text);
    assert_int_equal(cishare_sink_state_open(path, &s, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_non_null(cishare_sink_state_get(s, "op-power-a a"));
    assert_null(cishare_sink_state_get(s, "op-power-a b"));
    assert_true(cishare_sink_state_torn_bytes(s) > 0);
    cishare_sink_state_close(s);
    assert_int_equal(file_size(path), (off_t)strlen(good));

    /* ... and through a sink, the cut is logged naming the file */
    test_tmpdir_remove(dir);
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "journal"), 0);
    snprintf(path, sizeof(path), "%s/.state", dir);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(path, sizeof(path), "%s/.state/stix.jsonl", dir);
    write_file(path, "{\"s\":\"op-power-a a\",\"v\":{\"s\":\"a\"}}\n{\"s\":");
    so.out = dir;
    so.log = log_line;
    so.log_opaque = logbuf;
    assert_int_equal(
        cishare_sink_open("stix", &so, &sink, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_non_null(strstr(logbuf, path));
    assert_non_null(strstr(logbuf, "torn"));
    cishare_sink_close(sink);
    test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_damage_and_torn_tail),
        cmocka_unit_test(test_nul_keeps_everyones_state),
        cmocka_unit_test(test_origin_cannot_take_over_stix_id),
        cmocka_unit_test(test_state_is_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
