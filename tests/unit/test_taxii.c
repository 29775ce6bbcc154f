/*
 * The TAXII index of cishare serve (consumers/taxii.h): request parameter
 * parsing (400 cases), incremental tailing of the archive (only new rows
 * on the next update), date_added never going back, revocations served
 * as a later revoked version, paging by next without loss or repeat.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_util.h"
#include "archive.h"
#include "taxii.h"
#include <stdio.h>
#include <string.h>

static char dir[256], apath[512], tpath[512];

/* ---- parameters ---- */

static const char *params[16][2];

static const char *get(void *opaque, const char *name)
{
    size_t i;

    (void)opaque;
    for (i = 0; i < 16 && params[i][0]; i++)
        if (!strcmp(params[i][0], name))
            return params[i][1];
    return NULL;
}

/* parse with one parameter name=value (NULL: none) */
static cishare_err_t parse1(cishare_taxii_query_t *q, const char *name,
                            const char *value)
{
    char err[256];
    cishare_err_t e;

    memset(params, 0, sizeof(params));
    params[0][0] = name;
    params[0][1] = value;
    e = cishare_taxii_query_parse(q, CISHARE_TAXII_OBJECTS, get, NULL, err,
                                  sizeof(err));
    if (e)
        assert_non_null(strstr(err, name)); /* the error names it */
    return e;
}

static void test_parse(void **state)
{
    static const char *const bad[][2] = {
        {"limit", "0"},
        {"limit", "-1"},
        {"limit", "ten"},
        {"limit", ""},
        {"added_after", "2026-01-01"},
        {"added_after", "2026-01-01T00:00:00+09:00"},
        {"added_after", "yesterday"},
        {"next", "abc"},
        {"match[version]", "newest"},
        {"match[version]", "last,,first"},
        {"match[type]", "Indicator"},
        {"match[id]", "indicator--nope"},
        {"match[spec_version]", "2.0"},
    };
    cishare_taxii_query_t q = {0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse1(&q, bad[i][0], bad[i][1]),
                         CISHARE_ERR_VALIDATION);
        cishare_taxii_query_clear(&q);
    }
    assert_int_equal(parse1(&q, NULL, NULL), CISHARE_OK);
    assert_int_equal(q.limit, CISHARE_TAXII_LIMIT_DEFAULT);
    assert_int_equal(q.vmask, CISHARE_TAXII_V_LAST);
    assert_true(q.added_after < 0);
    cishare_taxii_query_clear(&q);
    assert_int_equal(parse1(&q, "limit", "999999"), CISHARE_OK);
    assert_int_equal(q.limit, CISHARE_TAXII_LIMIT_MAX);
    assert_int_equal(
        parse1(&q, "match[version]", "first,2026-01-01T00:00:00Z,all"),
        CISHARE_OK);
    assert_int_equal(q.vmask, CISHARE_TAXII_V_FIRST | CISHARE_TAXII_V_ALL);
    assert_int_equal(json_array_size(q.versions), 1);
    /* compared as stored, to the millisecond */
    assert_string_equal(json_string_value(json_array_get(q.versions, 0)),
                        "2026-01-01T00:00:00.000Z");
    cishare_taxii_query_clear(&q);
    assert_int_equal(parse1(&q, "match[type]", "indicator,identity"),
                     CISHARE_OK);
    assert_int_equal(json_array_size(q.types), 2);
    cishare_taxii_query_clear(&q);
}

/* ---- the index ---- */

static void add(cishare_archive_t *a, const char *mid, const char *type,
                const char *subject, int64_t delivered)
{
    char err[256];
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[s], s:s}", "message_id", mid, "type",
        type, "tlp", "green", "origin", "op-power-a", "sector", "electricity",
        "audience", "sector:electricity", "created", "2026-03-01T00:00:00Z");
    cishare_archive_rec_t r = {
        .msg = m, .me = "op-power-b", .delivered_ms = delivered};

    if (!strcmp(type, "revocation"))
        json_object_set_new(m, "payload",
                            json_pack("{s:s}", "revokes", subject));
    else
        json_object_set_new(m, "payload",
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", subject,
                                      "type", "ipv4", "value", "198.51.100.7",
                                      "created", "2026-03-01T00:00:00Z",
                                      "modified", "2026-03-01T00:00:00Z"));
    assert_int_equal(cishare_archive_add(a, &r, NULL, err, sizeof(err)),
                     CISHARE_OK);
    json_decref(m);
}

/* every object of the feed collection, limit per page: ids in *all */
static size_t page_all(cishare_taxii_t *t, size_t limit, json_t *all)
{
    cishare_taxii_query_t q = {0};
    cishare_taxii_page_t p;
    size_t pages = 0;
    char err[256];

    q.added_after = -1;
    q.limit = limit;
    q.vmask = CISHARE_TAXII_V_ALL;
    do {
        json_t *body, *o;
        size_t i;
        assert_int_equal(cishare_taxii_query(t, &q, CISHARE_TAXII_OBJECTS, &p,
                                             err, sizeof(err)),
                         CISHARE_OK);
        assert_non_null(body = json_loads(p.body, 0, NULL));
        assert_true(p.count <= limit);
        json_array_foreach(json_object_get(body, "objects"), i, o)
            json_array_append(all, o);
        if (p.more)
            q.after_seq =
                atoll(json_string_value(json_object_get(body, "next")));
        json_decref(body);
        free(p.body);
        pages++;
    } while (p.more);
    return pages;
}

static void test_index(void **state)
{
    cishare_archive_t *a;
    cishare_taxii_t *t, *rd;
    uint64_t msgs, objs;
    json_t *all;
    char err[256];
    size_t i, revoked = 0;
    json_t *o;

    (void)state;
    assert_int_equal(cishare_archive_open(apath, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    add(a, "m1", "indicator", "indicator--1", 2000);
    add(a, "m2", "indicator", "indicator--2", 1000); /* clock stepped back */
    add(a, "m3", "indicator", "indicator--3", 3000);
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);

    assert_int_equal(
        cishare_taxii_open(tpath, apath, true, &t, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(cishare_taxii_update(t, &msgs, &objs, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(msgs, 3);
    /* 3 indicators, 1 identity, the GREEN marking, the extension */
    assert_int_equal(objs, 6);
    assert_int_equal(cishare_taxii_update(t, &msgs, &objs, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(msgs, 0); /* nothing new: nothing read again */

    add(a, "m4", "indicator", "indicator--4", 4000);
    add(a, "m5", "revocation", "indicator--2", 5000);
    add(a, "m6", "indicator", "indicator--2", 6000); /* a late copy */
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(cishare_taxii_update(t, &msgs, &objs, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(msgs, 3);
    assert_int_equal(objs, 2); /* indicator 4, indicator 2 revoked, once */

    assert_int_equal(
        cishare_taxii_open(tpath, NULL, false, &rd, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(cishare_taxii_count(rd, NULL), 8);
    all = json_array();
    assert_int_equal(page_all(rd, 3, all), 3);
    assert_int_equal(json_array_size(all), 8);
    json_array_foreach(all, i,
                       o) if (json_is_true(json_object_get(o, "revoked")))
    {
        revoked++;
        assert_string_equal(json_string_value(json_object_get(o, "name")),
                            "198.51.100.7");
        assert_true(strcmp(json_string_value(json_object_get(o, "modified")),
                           "2026-03-01T00:00:00.000Z") > 0);
    }
    assert_int_equal(revoked, 1);
    json_decref(all);

    /* date_added follows seq even when the feed's clock went back */
    {
        sqlite3 *db;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open(tpath, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(db,
                               "SELECT count(*) FROM objects a JOIN objects b"
                               " ON b.seq > a.seq WHERE b.date_added < "
                               "a.date_added",
                               -1, &st, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    cishare_taxii_close(rd);
    cishare_taxii_close(t);
    cishare_archive_close(a);
}

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make(dir, sizeof(dir), "taxii"))
        return -1;
    snprintf(apath, sizeof(apath), "%s/archive.db", dir);
    snprintf(tpath, sizeof(tpath), "%s/taxii.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_index, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
