/*
 * Unit tests of the MISP feed sink (consumers/sinks/misp.c): grouping of
 * indicators by origin, day and label; incidents and alerts as events;
 * revocation (an attribute, a whole event); idempotent re-apply and
 * restart (no file rewritten when nothing changed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "sinks/sink.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256], mispdir[300];

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make(tmpdir, sizeof(tmpdir), "sinkmisp"))
        return -1;
    snprintf(mispdir, sizeof(mispdir), "%s/misp", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static const int64_t NOW = 1795677600000; /* 2026-11-26T07:20:00Z */

static json_t *envelope(const char *type, const char *origin, const char *tlp,
                        json_t *payload)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "type", type,
                     "origin", origin, "tlp", tlp, "sector", "electricity",
                     "message_id", "00000000-0000-4000-8000-000000000001",
                     "created", "2026-11-26T07:00:00Z", "key_id",
                     "0123456789abcdef", "payload", payload);
}

static json_t *indicator(const char *origin, const char *id, const char *tlp,
                         const char *created, const char *type,
                         const char *value, const char *label)
{
    json_t *p =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:[]}", "id", id, "created", created,
                  "modified", created, "type", type, "value", value, "labels");
    if (label)
        json_array_append_new(json_object_get(p, "labels"), json_string(label));
    return envelope("indicator", origin, tlp, p);
}

static json_t *incident(const char *origin, const char *id,
                        const char *modified, const char *stage)
{
    return envelope(
        "incident", origin, "amber",
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,"
                  "s:[s,s]}",
                  "id", id, "created", "2026-11-25T00:00:00Z", "modified",
                  modified, "title", "outage at plant", "stage", stage,
                  "category", "ddos", "operator_overview", "an operator",
                  "summary", "site down", "affected_service", "web",
                  "affected_system", "lb", "impact", "outage", "operating_mode",
                  "normal", "detected_at", "2026-11-25T00:00:00Z",
                  "legal_basis", "voluntary", "indicators", "ind-a1",
                  "ind-missing"));
}

static json_t *alert(void)
{
    return envelope(
        "alert", "nco", "green",
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:[s],s:[{s:s,s:s}]}", "id",
                  "alert-1", "created", "2026-11-25T00:00:00Z", "modified",
                  "2026-11-25T00:00:00Z", "severity", "critical", "title",
                  "patch", "body", "patch now", "cves", "CVE-2024-3400",
                  "recommended_actions", "update", "observables", "type",
                  "ipv4", "value", "192.0.2.7"));
}

static cishare_sink_t *open_misp(void)
{
    cishare_sink_opts_t opts = {.out = tmpdir};
    cishare_sink_t *s = NULL;
    char errstr[512] = "";

    if (cishare_sink_open("misp", &opts, &s, errstr, sizeof(errstr)))
        fail_msg("open misp: %s", errstr);
    return s;
}

static void write_ok(cishare_sink_t *s, json_t *m)
{
    char errstr[512] = "";
    const char *subject =
        json_string_value(json_object_get(json_object_get(m, "payload"), "id"));

    if (cishare_sink_write(s, m, subject, errstr, sizeof(errstr)))
        fail_msg("write: %s", errstr);
    json_decref(m);
}

static void revoke_ok(cishare_sink_t *s, const char *origin,
                      const char *subject)
{
    char errstr[512] = "";
    json_t *r = envelope("revocation", origin, "green",
                         json_pack("{s:s}", "revokes", subject));

    if (cishare_sink_revoke(s, subject, r, errstr, sizeof(errstr)))
        fail_msg("revoke: %s", errstr);
    json_decref(r);
}

static void sync_ok(cishare_sink_t *s, int64_t now)
{
    char errstr[512] = "";
    uint64_t mark;

    if (cishare_sink_sync(s, now, &mark, errstr, sizeof(errstr)))
        fail_msg("sync: %s", errstr);
}

static json_t *load(const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", mispdir, name);
    return json_load_file(path, 0, NULL);
}

/* The event of the manifest whose info contains `info`, loaded from its
 * file (NULL when none); *uuidp its uuid. Checks manifest and file agree
 * and that the event carries one tlp: tag. */
static json_t *event_by_info(const char *info, char *uuidp)
{
    json_t *man = load("manifest.json"), *v, *f = NULL, *ev, *t;
    const char *uuid;
    size_t i;
    int tlps = 0;

    assert_non_null(man);
    json_object_foreach(man, uuid, v)
    {
        char name[64];
        if (!strstr(json_string_value(json_object_get(v, "info")), info))
            continue;
        snprintf(name, sizeof(name), "%s.json", uuid);
        f = load(name);
        assert_non_null(f);
        ev = json_object_get(f, "Event");
        assert_string_equal(json_string_value(json_object_get(ev, "uuid")),
                            uuid);
        assert_string_equal(json_string_value(json_object_get(ev, "timestamp")),
                            json_string_value(json_object_get(v, "timestamp")));
        json_array_foreach(json_object_get(ev, "Tag"), i, t) tlps +=
            !strncmp(json_string_value(json_object_get(t, "name")), "tlp:", 4);
        assert_int_equal(tlps, 1);
        if (uuidp)
            strcpy(uuidp, uuid);
        break;
    }
    json_decref(man);
    return f;
}

static json_t *attrs(json_t *f)
{
    return json_object_get(json_object_get(f, "Event"), "Attribute");
}

static json_t *attr_by_value(json_t *f, const char *value)
{
    json_t *a;
    size_t i;

    json_array_foreach(
        attrs(f), i,
        a) if (!strcmp(json_string_value(json_object_get(a, "value")),
                       value)) return a;
    return NULL;
}

static bool has_tag(json_t *a, const char *name)
{
    json_t *t;
    size_t i;

    json_array_foreach(
        json_object_get(a, "Tag"), i,
        t) if (!strcmp(json_string_value(json_object_get(t, "name")),
                       name)) return true;
    return false;
}

static size_t manifest_size(void)
{
    json_t *man = load("manifest.json");
    size_t n = json_object_size(man);

    json_decref(man);
    return n;
}

/* "name inode mtime" of every file of the folder, one a line. */
static char *snapshot(void)
{
    DIR *d = opendir(mispdir);
    struct dirent *e;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);

    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[600];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", mispdir, e->d_name);
        assert_int_equal(stat(path, &st), 0);
        fprintf(mem, "%s %lu %ld.%09ld\n", e->d_name, (unsigned long)st.st_ino,
                (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    closedir(d);
    fclose(mem);
    return buf;
}

static void write_all(cishare_sink_t *s)
{
    /* op-power-a: two GREEN on 11-24, one AMBER on 11-24, one GREEN on
     * 11-25; op-power-b: one GREEN on 11-24. */
    write_ok(s, indicator("op-power-a", "ind-a1", "green",
                          "2026-11-24T01:00:00Z", "ipv4", "192.0.2.1", "c2"));
    write_ok(s,
             indicator("op-power-a", "ind-a2", "green", "2026-11-24T23:59:59Z",
                       "domain", "ctx.example", "to_ids:false"));
    write_ok(s, indicator("op-power-a", "ind-a3", "amber",
                          "2026-11-24T05:00:00Z", "sha256",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                          "aaaaaaaaaaaa",
                          NULL));
    write_ok(s, indicator("op-power-a", "ind-a4", "green",
                          "2026-11-25T00:00:00Z", "cve", "CVE-2024-1", NULL));
    write_ok(s,
             indicator("op-power-b", "ind-a1", "green", "2026-11-24T02:00:00Z",
                       "url", "http://b.example/", NULL));
    write_ok(
        s, incident("op-power-a", "inc-1", "2026-11-25T02:00:00Z", "detailed"));
    write_ok(s, incident("op-power-a", "inc-1", "2026-11-25T01:00:00Z",
                         "preliminary")); /* older version: loses */
    write_ok(s, alert());
}

static void test_grouping(void **state)
{
    cishare_sink_t *s = open_misp();
    json_t *f, *a;
    (void)state;

    write_all(s);
    sync_ok(s, NOW);
    /* 4 indicator groups + incident + alert */
    assert_int_equal(manifest_size(), 6);

    f = event_by_info("op-power-a, 2026-11-24, TLP:GREEN", NULL);
    assert_non_null(f);
    assert_int_equal(json_array_size(attrs(f)), 2);
    a = attr_by_value(f, "192.0.2.1");
    assert_string_equal(json_string_value(json_object_get(a, "type")),
                        "ip-dst");
    assert_true(json_is_true(json_object_get(a, "to_ids")));
    assert_true(has_tag(a, "tlp:green") && has_tag(a, "c2"));
    a = attr_by_value(f, "ctx.example");
    assert_true(json_is_false(json_object_get(a, "to_ids")));
    assert_false(has_tag(a, "to_ids:false"));
    json_decref(f);

    f = event_by_info("op-power-a, 2026-11-24, TLP:AMBER", NULL);
    assert_int_equal(json_array_size(attrs(f)), 1);
    json_decref(f);
    f = event_by_info("op-power-a, 2026-11-25, TLP:GREEN", NULL);
    a = attr_by_value(f, "CVE-2024-1");
    assert_string_equal(json_string_value(json_object_get(a, "type")),
                        "vulnerability");
    assert_true(json_is_false(json_object_get(a, "to_ids")));
    json_decref(f);
    f = event_by_info("op-power-b, 2026-11-24, TLP:GREEN", NULL);
    assert_int_equal(json_array_size(attrs(f)), 1);
    json_decref(f);

    /* The latest notice version; a GREEN linked indicator is copied in
     * the AMBER event (with its own uuid), a missing one named. */
    f = event_by_info("outage at plant", NULL);
    assert_non_null(attr_by_value(f, "detailed"));
    assert_null(attr_by_value(f, "preliminary"));
    a = attr_by_value(f, "192.0.2.1");
    assert_non_null(a);
    assert_true(has_tag(a, "tlp:green"));
    assert_non_null(attr_by_value(f, "ind-missing"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(f, "Event"), "threat_level_id")),
                        "1");
    json_decref(f);

    f = event_by_info("patch", NULL);
    a = attr_by_value(f, "192.0.2.7");
    assert_true(json_is_true(json_object_get(a, "to_ids")));
    assert_string_equal(json_string_value(json_object_get(
                            attr_by_value(f, "CVE-2024-3400"), "type")),
                        "vulnerability");
    json_decref(f);
    cishare_sink_close(s);
}

static void test_revoke(void **state)
{
    cishare_sink_t *s = open_misp();
    json_t *f;
    char uuid[40], before[40], path[600];
    long ts0;
    (void)state;

    write_all(s);
    sync_ok(s, NOW);
    f = event_by_info("op-power-a, 2026-11-24, TLP:GREEN", before);
    ts0 = atol(json_string_value(
        json_object_get(json_object_get(f, "Event"), "timestamp")));
    json_decref(f);

    /* Another origin cannot revoke op-power-a's subject. */
    revoke_ok(s, "op-power-b", "ind-a2");
    sync_ok(s, NOW);
    f = event_by_info("op-power-a, 2026-11-24, TLP:GREEN", NULL);
    assert_int_equal(json_array_size(attrs(f)), 2);
    json_decref(f);

    /* The attribute leaves; the event's timestamp moves forward. */
    revoke_ok(s, "op-power-a", "ind-a2");
    sync_ok(s, NOW);
    f = event_by_info("op-power-a, 2026-11-24, TLP:GREEN", uuid);
    assert_string_equal(uuid, before);
    assert_int_equal(json_array_size(attrs(f)), 1);
    assert_null(attr_by_value(f, "ctx.example"));
    assert_true(atol(json_string_value(json_object_get(
                    json_object_get(f, "Event"), "timestamp"))) > ts0);
    json_decref(f);

    /* The last attribute of an event: the event leaves, file and all. */
    f = event_by_info("op-power-b, 2026-11-24", uuid);
    json_decref(f);
    revoke_ok(s, "op-power-b", "ind-a1");
    revoke_ok(s, "op-power-a", "inc-1");
    sync_ok(s, NOW);
    assert_int_equal(manifest_size(), 4);
    snprintf(path, sizeof(path), "%s/%s.json", mispdir, uuid);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_null(event_by_info("outage at plant", NULL));
    cishare_sink_close(s);

    /* After a restart a late copy of a revoked subject stays out. */
    s = open_misp();
    write_ok(s,
             indicator("op-power-b", "ind-a1", "green", "2026-11-24T02:00:00Z",
                       "url", "http://b.example/", NULL));
    sync_ok(s, NOW);
    assert_int_equal(manifest_size(), 4);
    cishare_sink_close(s);
}

/* The tombstone of the last journal record of key in .state/misp.jsonl:
 * its "x" (the revoked message's expiry, ms), or -1 without one. */
static int64_t tombstone_x(const char *key)
{
    char path[600], line[4096];
    int64_t x = -1;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/.state/misp.jsonl", tmpdir);
    assert_non_null(fp = fopen(path, "r"));
    while (fgets(line, sizeof(line), fp)) {
        json_t *r = json_loads(line, 0, NULL), *v = json_object_get(r, "v");

        if (r && !strcmp(json_string_value(json_object_get(r, "s")), key) &&
            json_is_true(json_object_get(v, "revoked")))
            x = json_is_integer(json_object_get(v, "x"))
                    ? (int64_t)json_integer_value(json_object_get(v, "x"))
                    : -1;
        json_decref(r);
    }
    fclose(fp);
    return x;
}

/* A revoked indicator's tombstone lasts until the message's own expiry:
 * the earlier of the envelope's expires and payload.valid_until (after
 * it the indicator leaves the feed anyway); forever without either. */
static void test_revoke_expiry(void **state)
{
    cishare_sink_t *s = open_misp();
    json_t *m = indicator("op-power-a", "ind-vu", "green",
                          "2026-11-24T01:00:00Z", "ipv4", "192.0.2.9", NULL);
    (void)state;

    json_object_set_new(m, "expires", json_string("2027-01-01T00:00:00Z"));
    json_object_set_new(json_object_get(m, "payload"), "valid_until",
                        json_string("2026-12-01T00:00:00Z"));
    write_ok(s, m);
    write_ok(s, indicator("op-power-a", "ind-nx", "green",
                          "2026-11-24T01:00:00Z", "ipv4", "192.0.2.10", NULL));
    revoke_ok(s, "op-power-a", "ind-vu");
    revoke_ok(s, "op-power-a", "ind-nx");
    sync_ok(s, NOW);
    cishare_sink_close(s);
    assert_int_equal(tombstone_x("op-power-a ind-vu"),
                     1796083200000LL); /* 2026-12-01T00:00:00Z */
    assert_int_equal(tombstone_x("op-power-a ind-nx"), -1);
}

static void test_idempotent(void **state)
{
    cishare_sink_t *s = open_misp();
    char *a, *b, stale[600];
    FILE *fp;
    (void)state;

    write_all(s);
    sync_ok(s, NOW);
    a = snapshot();
    /* Re-applying the same messages rewrites nothing. */
    write_all(s);
    sync_ok(s, NOW + 1000);
    b = snapshot();
    assert_string_equal(a, b);
    free(b);
    cishare_sink_close(s);
    b = snapshot();
    assert_string_equal(a, b);
    free(b);

    /* Nor does a restart; a stray event file (a run that stopped before
     * its manifest) is removed. */
    snprintf(stale, sizeof(stale),
             "%s/00000000-0000-4000-8000-000000000000.json", mispdir);
    fp = fopen(stale, "w");
    assert_non_null(fp);
    fputs("{}\n", fp);
    fclose(fp);
    s = open_misp();
    assert_int_not_equal(access(stale, F_OK), 0);
    write_all(s);
    sync_ok(s, NOW + 2000);
    b = snapshot();
    assert_string_equal(a, b);
    free(b);
    cishare_sink_close(s);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grouping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
