/*
 * Sightings and revocations from the sender's side and in the STIX sink:
 * the checks and the message of `cishare sighting` (producers/sighting.c),
 * the publication journal `cishare revoke` reads (producers/pubjournal.c),
 * and which indicator a STIX sighting refers to (consumers/sinks/stix.c,
 * sightings_of()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "pubjournal.h"
#include "publisher.h"
#include "sighting.h"
#include "sinks/sink.h"

#include "cishare/codec.h"
#include "cishare/identity.h"
#include "cishare/topics.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBJ "indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30"

static char tmpdir[256];
static cishare_directory_t *dir;

static int setup(void **state)
{
    const char *src = getenv("CISHARE_SRC");
    char path[512], errstr[512];

    (void)state;
    snprintf(path, sizeof(path), "%s/deploy/examples/directory.yaml",
             src ? src : ".");
    if (cishare_identity_verify_directory(path, NULL, cishare_time_now_ms(),
                                          &dir, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s\n", errstr);
        return -1;
    }
    return test_tmpdir_make(tmpdir, sizeof(tmpdir), "sighting");
}

static int teardown(void **state)
{
    (void)state;
    cishare_directory_destroy(dir);
    return test_tmpdir_remove(tmpdir);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static const cishare_participant_t *who(const char *id)
{
    const cishare_participant_t *p = cishare_directory_find(dir, id);
    assert_non_null(p);
    return p;
}

/* Build must fail with an error naming `needle`. */
static void build_fails(const cishare_sighting_opts_t *o, const char *me,
                        const char *needle)
{
    json_t *m = NULL;
    char errstr[512] = "";

    assert_int_equal(cishare_sighting_build(dir, who(me), o,
                                            cishare_time_now_ms(), &m, errstr,
                                            sizeof(errstr)),
                     CISHARE_ERR_VALIDATION);
    assert_null(m);
    if (!strstr(errstr, needle))
        fail_msg("error '%s' does not name '%s'", errstr, needle);
}

static void test_build_default_goes_to_originator(void **state)
{
    cishare_sighting_opts_t o = {.subject = SUBJ,
                                 .origin = "op-power-a",
                                 .count = "14",
                                 .first_seen = "2026-01-02T03:04:05Z",
                                 .last_seen = "2026-01-03T00:00:00+09:00",
                                 .note = "two hosts",
                                 .false_positive = true};
    json_t *m = NULL, *p;
    char errstr[512];

    (void)state;
    assert_int_equal(cishare_sighting_build(dir, who("op-power-b"), &o,
                                            cishare_time_now_ms(), &m, errstr,
                                            sizeof(errstr)),
                     CISHARE_OK);
    assert_string_equal(json_string_value(json_object_get(m, "type")),
                        "sighting");
    assert_string_equal(json_string_value(json_object_get(m, "tlp")), "amber");
    assert_int_equal(json_array_size(json_object_get(m, "audience")), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(m, "audience"), 0)),
        "participant:op-power-a");
    p = json_object_get(m, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "sighting_of")),
                        SUBJ);
    assert_string_equal(
        json_string_value(json_object_get(p, "sighting_of_origin")),
        "op-power-a");
    assert_int_equal(json_integer_value(json_object_get(p, "count")), 14);
    assert_true(json_is_true(json_object_get(p, "false_positive")));
    assert_true(json_is_false(json_object_get(p, "anonymise")));
    assert_string_equal(json_string_value(json_object_get(p, "first_seen")),
                        "2026-01-02T03:04:05Z");
    assert_string_equal(json_string_value(json_object_get(p, "last_seen")),
                        "2026-01-02T15:00:00Z");
    assert_string_equal(json_string_value(json_object_get(p, "description")),
                        "two hosts");
    assert_non_null(
        strstr(json_string_value(json_object_get(p, "id")), "sighting--"));
    json_decref(m);
}

static void test_build_anonymise_goes_to_own_ceptoar(void **state)
{
    cishare_sighting_opts_t o = {
        .subject = SUBJ, .origin = "op-power-a", .anonymise = true};
    json_t *m = NULL;
    char errstr[512];

    (void)state;
    assert_int_equal(cishare_sighting_build(dir, who("op-gas-a"), &o,
                                            cishare_time_now_ms(), &m, errstr,
                                            sizeof(errstr)),
                     CISHARE_OK);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(m, "audience"), 0)),
        "participant:ceptoar-gas");
    assert_int_equal(json_array_size(json_object_get(m, "audience")), 1);
    assert_true(json_is_true(
        json_object_get(json_object_get(m, "payload"), "anonymise")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "payload"),
                                          "sighting_of_origin")),
        "op-power-a");
    json_decref(m);
    /* nobody to anonymise it */
    build_fails(&o, "nco", "--anonymise");
}

static void test_build_refuses_bad_input(void **state)
{
    cishare_sighting_opts_t o;

    (void)state;
#define RESET()                                                                \
    memset(&o, 0, sizeof(o));                                                  \
    o.subject = SUBJ;                                                          \
    o.origin = "op-power-a"
    RESET();
    o.origin = "op-nowhere";
    build_fails(&o, "op-power-b", "--origin 'op-nowhere'");
    RESET();
    o.origin = NULL;
    build_fails(&o, "op-power-b", "--origin");
    RESET();
    build_fails(&o, "op-power-a", "--origin op-power-a"); /* itself */
    RESET();
    o.subject = "5b0d3c8e";
    build_fails(&o, "op-power-b", "--subject '5b0d3c8e'");
    RESET();
    o.subject = "indicator--";
    build_fails(&o, "op-power-b", "--subject");
    RESET();
    o.subject = "indicator--a b";
    build_fails(&o, "op-power-b", "--subject");
    RESET();
    o.subject = NULL;
    build_fails(&o, "op-power-b", "--subject");
    RESET();
    o.count = "0";
    build_fails(&o, "op-power-b", "--count '0'");
    RESET();
    o.count = "-3";
    build_fails(&o, "op-power-b", "--count");
    RESET();
    o.count = "3x";
    build_fails(&o, "op-power-b", "--count");
    RESET();
    o.count = "99999999999";
    build_fails(&o, "op-power-b", "--count");
    RESET();
    o.first_seen = "yesterday";
    build_fails(&o, "op-power-b", "--first-seen 'yesterday'");
    RESET();
    o.last_seen = "2999-01-01T00:00:00Z";
    build_fails(&o, "op-power-b", "--last-seen");
    RESET();
    o.first_seen = "2026-02-01T00:00:00Z";
    o.last_seen = "2026-01-01T00:00:00Z";
    build_fails(&o, "op-power-b", "--last-seen");
    RESET();
    o.note = "\xff\xfe";
    build_fails(&o, "op-power-b", "--note");
#undef RESET
}

/* ---- the publication journal ---- */

static void test_journal_lookup(void **state)
{
    char path[512], errstr[512];
    cishare_pubjournal_rec_t recs[] = {
        {"op-power-a", SUBJ, "indicator", "amber", "sector:electricity", 0},
        {"op-power-a", "indicator--other", "indicator", "green", "all", 0},
        {"op-power-a", SUBJ, "revocation", "amber", "x", 0}, /* not kept */
        {"op-power-b", SUBJ, "indicator", "red", "participant:nco", 0},
        {"op-power-a", SUBJ, "indicator", "red", "participant:op-power-b",
         1900000000000},
        {"op-power-a", SUBJ, "indicator", "amber", "sector:electricity",
         1800000000000},
    };
    cishare_pubjournal_entry_t *e = NULL;
    size_t n = 0, bad = 0;
    FILE *fp;

    (void)state;
    snprintf(path, sizeof(path), "%s/published.jsonl", tmpdir);
    /* no journal yet: nothing known */
    assert_int_equal(cishare_pubjournal_lookup(path, "op-power-a", SUBJ, &e, &n,
                                               &bad, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(
        cishare_pubjournal_append(path, recs, 4, 1000, errstr, sizeof(errstr)),
        CISHARE_OK);
    fp = fopen(path, "a"); /* a torn or foreign line is skipped */
    assert_non_null(fp);
    fputs("{\"subject\": \n", fp);
    fclose(fp);
    assert_int_equal(cishare_pubjournal_append(path, recs + 4, 2, 2000, errstr,
                                               sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_pubjournal_lookup(path, "op-power-a", SUBJ, &e, &n,
                                               &bad, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(bad, 1);
    /* distinct (label, audience), first-published order; op-power-b's
     * line and the revocation are not op-power-a's publications */
    assert_int_equal(n, 2);
    assert_string_equal(e[0].tlp, "amber");
    assert_string_equal(e[0].audience, "sector:electricity");
    assert_string_equal(e[0].type, "indicator");
    assert_true(e[0].expires_ms == 0); /* one copy never expires */
    assert_string_equal(e[1].tlp, "red");
    assert_string_equal(e[1].audience, "participant:op-power-b");
    assert_true(e[1].expires_ms == 1900000000000);
    cishare_pubjournal_entries_free(e, n);
    assert_int_equal(cishare_pubjournal_lookup(path, "op-power-b", SUBJ, &e, &n,
                                               NULL, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].audience, "participant:nco");
    cishare_pubjournal_entries_free(e, n);
    assert_int_equal(cishare_pubjournal_lookup(path, "op-power-a",
                                               "indicator--nope", &e, &n, NULL,
                                               errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(n, 0);
    /* every line is exactly jansson's sorted, compact dump of the record
     * (the format older releases wrote and lookups parse) */
    {
        static const cishare_pubjournal_rec_t odd = {
            "op-power-a",      "indicator--\"q\"\\\u00e9\t\x7f",
            "indicator",       "amber",
            "participant:nco", 1900000000001};
        char line[1024], *dump;
        json_t *o;
        snprintf(path, sizeof(path), "%s/odd.jsonl", tmpdir);
        assert_int_equal(cishare_pubjournal_append(path, &odd, 1, 1000, errstr,
                                                   sizeof(errstr)),
                         CISHARE_OK);
        fp = fopen(path, "r");
        assert_non_null(fp);
        assert_non_null(fgets(line, sizeof(line), fp));
        fclose(fp);
        o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "at",
                      "1970-01-01T00:00:01Z", "origin", odd.origin, "subject",
                      odd.subject, "type", odd.type, "tlp", odd.tlp, "audience",
                      odd.audience, "expires", "2030-03-17T17:46:40.001Z");
        dump = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        line[strcspn(line, "\n")] = '\0';
        assert_string_equal(line, dump);
        free(dump);
        json_decref(o);
    }
    /* a folder that does not exist: an error naming the file */
    snprintf(path, sizeof(path), "%s/no/such/published.jsonl", tmpdir);
    assert_int_equal(
        cishare_pubjournal_append(path, recs, 1, 1, errstr, sizeof(errstr)),
        CISHARE_ERR_IO);
    assert_non_null(strstr(errstr, path));
}

/*
 * The publisher journals what the broker acknowledged (mock cluster): a
 * delivered AMBER indicator with its audience and expiry; not a refused
 * record, not a sighting; and a dry run journals nothing.
 */
static void test_publisher_journals_delivered(void **state)
{
    const char *src = getenv("CISHARE_SRC");
    char ex[512], path[700], key[600], root[600], sdir[600], errstr[1024];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_t *mrk;
    rd_kafka_mock_cluster_t *mc;
    cishare_config_t *c = cishare_config_new();
    cishare_publisher_t *pub = NULL;
    cishare_strlist_t topics = {0};
    cishare_pubjournal_entry_t *e = NULL;
    json_t *m[3];
    size_t i, n = 0;

    (void)state;
    snprintf(ex, sizeof(ex), "%s/deploy/examples", src ? src : ".");
    snprintf(path, sizeof(path), "%s/directory.yaml", ex);
    snprintf(key, sizeof(key), "%s/keys/op-power-a.key", ex);
    snprintf(root, sizeof(root), "%s/root.pub", ex);
    snprintf(sdir, sizeof(sdir), "%s/pubstate", tmpdir);
    assert_int_equal(mkdir(sdir, 0700), 0);
    rd_kafka_conf_set(kc, "log_level", "2", NULL, 0);
    mrk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    assert_non_null(mrk);
    mc = rd_kafka_mock_cluster_new(mrk, 1);
    assert_non_null(mc);
    if (cishare_topics_for_directory(dir, &topics, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
    for (i = 0; i < topics.cnt; i++)
        rd_kafka_mock_topic_create(mc, topics.items[i], 1, 1);
    rd_kafka_mock_topic_create(mc, "cishare.directory", 1, 1);
    cishare_strlist_clear(&topics);
    if (cishare_config_set(c, "bootstrap.servers",
                           rd_kafka_mock_cluster_bootstraps(mc), errstr,
                           sizeof(errstr)) ||
        cishare_config_set(c, "security.protocol", "plaintext", errstr,
                           sizeof(errstr)) ||
        cishare_config_set(c, "log_level", "2", errstr, sizeof(errstr)) ||
        cishare_config_set(c, "cishare.participant", "op-power-a", errstr,
                           sizeof(errstr)) ||
        cishare_config_set(c, "cishare.key", key, errstr, sizeof(errstr)) ||
        cishare_config_set(c, "cishare.directory", path, errstr,
                           sizeof(errstr)) ||
        cishare_config_set(c, "cishare.root-key", root, errstr,
                           sizeof(errstr)) ||
        cishare_config_set(c, "cishare.state-dir", sdir, errstr,
                           sizeof(errstr)))
        fail_msg("config: %s", errstr);

    m[0] =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "type", "indicator", "tlp",
                  "amber", "expires", "2099-01-01T00:00:00Z", "payload", "id",
                  SUBJ, "type", "ipv4", "value", "192.0.2.7");
    m[1] = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "type", "indicator", "tlp",
                     "red", "payload", "id", "indicator--refused", "type",
                     "ipv4", "value", "192.0.2.8"); /* RED, nobody named */
    m[2] = json_pack("{s:s,s:s,s:[s],s:{s:s,s:s}}", "type", "sighting", "tlp",
                     "amber", "audience", "participant:op-power-b", "payload",
                     "sighting_of", "indicator--theirs", "sighting_of_origin",
                     "op-power-b");
    /* a dry run journals nothing */
    if (cishare_publisher_new(c, true, &pub, errstr, sizeof(errstr)))
        fail_msg("publisher: %s", errstr);
    for (i = 0; i < 3; i++)
        assert_int_equal(cishare_publisher_submit(pub, m[i], "r", -1, NULL),
                         CISHARE_OK);
    cishare_publisher_flush(pub, 10000);
    cishare_publisher_destroy(pub);
    snprintf(path, sizeof(path), "%s/%s", sdir, CISHARE_PUBJOURNAL_FILE);
    assert_int_not_equal(access(path, F_OK), 0);

    if (cishare_publisher_new(c, false, &pub, errstr, sizeof(errstr)))
        fail_msg("publisher: %s", errstr);
    for (i = 0; i < 3; i++)
        assert_int_equal(cishare_publisher_submit(pub, m[i], "r", -1, NULL),
                         CISHARE_OK);
    cishare_publisher_flush(pub, 10000);
    assert_false(cishare_publisher_rec(pub, 0)->failed);
    assert_true(cishare_publisher_rec(pub, 1)->failed);
    assert_false(cishare_publisher_rec(pub, 2)->failed);
    cishare_publisher_destroy(pub);
    for (i = 0; i < 3; i++)
        json_decref(m[i]);

    assert_int_equal(cishare_pubjournal_lookup(path, "op-power-a", SUBJ, &e, &n,
                                               NULL, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].type, "indicator");
    assert_string_equal(e[0].tlp, "amber");
    assert_string_equal(e[0].audience, "sector:electricity");
    assert_true(e[0].expires_ms == 4070908800000);
    cishare_pubjournal_entries_free(e, n);
    {
        char *text = test_slurp(path, NULL);
        assert_int_equal(count_char(text, '\n'), 1); /* nothing else */
        free(text);
    }
    cishare_config_destroy(c);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
}

/* ---- STIX: the sighted indicator ---- */

static json_t *env(json_t *m, const char *origin)
{
    static int seq;
    char mid[64];

    snprintf(mid, sizeof(mid), "00000000-0000-4000-8000-%012d", ++seq);
    json_object_set_new(m, "message_id", json_string(mid));
    json_object_set_new(m, "origin", json_string(origin));
    json_object_set_new(m, "sector", json_string("electricity"));
    json_object_set_new(m, "created", json_string("2026-11-26T07:05:13Z"));
    json_object_set_new(m, "key_id", json_string("0123456789abcdef"));
    return m;
}

static json_t *indicator(const char *origin, const char *value)
{
    return env(json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s}}", "type",
                         "indicator", "tlp", "amber", "payload", "id", SUBJ,
                         "created", "2026-11-26T07:00:00Z", "modified",
                         "2026-11-26T07:00:00Z", "type", "ipv4", "value",
                         value),
               origin);
}

/* A sighting of SUBJ by `by`, naming origin `of` (NULL: none). */
static json_t *sighting(const char *by, const char *of, int n)
{
    char id[64];
    json_t *m;

    snprintf(id, sizeof(id), "sighting--00000000-0000-4000-8000-%012d", n);
    m = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:i}}", "type", "sighting", "tlp",
                  "amber", "payload", "id", id, "created",
                  "2026-11-26T08:00:00Z", "sighting_of", SUBJ, "count", 2);
    if (of)
        json_object_set_new(json_object_get(m, "payload"), "sighting_of_origin",
                            json_string(of));
    return env(m, by);
}

/* Write msgs (taken) to a fresh STIX sink in out, close it, return the
 * bundle. */
static json_t *bundle_of(const char *out, json_t **msgs, size_t n)
{
    cishare_sink_opts_t opts = {.out = out};
    cishare_sink_t *s = NULL;
    char errstr[512] = "", path[600];
    json_error_t jerr;
    uint64_t mark;
    json_t *b;
    size_t i;

    if (cishare_sink_open("stix", &opts, &s, errstr, sizeof(errstr)))
        fail_msg("open: %s", errstr);
    for (i = 0; i < n; i++) {
        if (cishare_sink_write(s, msgs[i], SUBJ, errstr, sizeof(errstr)))
            fail_msg("write: %s", errstr);
        json_decref(msgs[i]);
    }
    if (cishare_sink_sync(s, cishare_time_now_ms(), &mark, errstr,
                          sizeof(errstr)))
        fail_msg("sync: %s", errstr);
    cishare_sink_close(s);
    snprintf(path, sizeof(path), "%s/stix/bundle.json", out);
    if (!(b = json_load_file(path, 0, &jerr)))
        fail_msg("%s: %s", path, jerr.text);
    return b;
}

/* The id of the indicator whose pattern holds value. */
static const char *indicator_id(const json_t *b, const char *value)
{
    const json_t *o;
    size_t i;

    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *p = json_string_value(json_object_get(o, "pattern"));
        if (p && strstr(p, value))
            return json_string_value(json_object_get(o, "id"));
    }
    fail_msg("no indicator of %s", value);
    return NULL;
}

/* How many sightings refer to target (NULL: any). */
static int sightings_to(const json_t *b, const char *target)
{
    const json_t *o;
    size_t i;
    int n = 0;

    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *t = json_string_value(json_object_get(o, "type"));
        const char *r =
            json_string_value(json_object_get(o, "sighting_of_ref"));
        if (t && !strcmp(t, "sighting") && (!target || !strcmp(r, target)))
            n++;
    }
    return n;
}

/*
 * op-power-b holds a hostile copy under op-power-a's subject. op-gas-a's
 * sighting names op-power-a: it refers to op-power-a's indicator only.
 * Before the fix (a sighter without its own indicator of the subject was
 * linked to every origin's) the bundle said "op-gas-a sighted the
 * attacker's indicator" too: 2 sightings, 1 to the copy.
 */
static void test_stix_sighting_names_one_indicator(void **state)
{
    char out[512];
    json_t *msgs[4], *b;
    const char *gen, *att;

    (void)state;
    snprintf(out, sizeof(out), "%s/named", tmpdir);
    msgs[0] = indicator("op-power-b", "198.51.100.66");
    msgs[1] = indicator("op-power-a", "192.0.2.10");
    msgs[2] = sighting("op-gas-a", "op-power-a", 1);
    msgs[3] = sighting("op-bank-a", "op-power-b", 2);
    b = bundle_of(out, msgs, 4);
    gen = indicator_id(b, "192.0.2.10");
    att = indicator_id(b, "198.51.100.66");
    assert_int_equal(sightings_to(b, gen), 1);
    assert_int_equal(sightings_to(b, att), 1); /* op-bank-a's, named so */
    assert_int_equal(sightings_to(b, NULL), 2);
    json_decref(b);
}

/* A sighting that names no origin (imported, older messages): linked only
 * when exactly one origin holds the subject. */
static void test_stix_unnamed_sighting(void **state)
{
    char out[512];
    json_t *msgs[3], *b;

    (void)state;
    snprintf(out, sizeof(out), "%s/unnamed-two", tmpdir);
    msgs[0] = indicator("op-power-b", "198.51.100.66");
    msgs[1] = indicator("op-power-a", "192.0.2.10");
    msgs[2] = sighting("op-gas-a", NULL, 1);
    b = bundle_of(out, msgs, 3);
    assert_int_equal(sightings_to(b, NULL), 0);
    json_decref(b);

    snprintf(out, sizeof(out), "%s/unnamed-one", tmpdir);
    msgs[0] = indicator("op-power-a", "192.0.2.10");
    msgs[1] = sighting("op-gas-a", NULL, 1);
    b = bundle_of(out, msgs, 2);
    assert_int_equal(sightings_to(b, indicator_id(b, "192.0.2.10")), 1);
    assert_int_equal(sightings_to(b, NULL), 1);
    json_decref(b);

    /* naming an origin that holds no such indicator: nothing */
    snprintf(out, sizeof(out), "%s/named-absent", tmpdir);
    msgs[0] = indicator("op-power-a", "192.0.2.10");
    msgs[1] = sighting("op-gas-a", "op-power-b", 1);
    b = bundle_of(out, msgs, 2);
    assert_int_equal(sightings_to(b, NULL), 0);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_default_goes_to_originator),
        cmocka_unit_test(test_build_anonymise_goes_to_own_ceptoar),
        cmocka_unit_test(test_build_refuses_bad_input),
        cmocka_unit_test(test_journal_lookup),
        cmocka_unit_test(test_publisher_journals_delivered),
        cmocka_unit_test(test_stix_sighting_names_one_indicator),
        cmocka_unit_test(test_stix_unnamed_sighting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
