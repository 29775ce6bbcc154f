/*
 * The feed's archive (consumers/archive.h): rows per type, idempotent
 * re-delivery, revocation marks, receipts de-duplicated by (message,
 * recipient), and the out-of-order flags of incident notices.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_util.h"
#include "archive.h"
#include <stdio.h>
#include <string.h>

static char dir[256], path[512];

static json_t *notice(const char *mid, const char *inc, const char *stage)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:{s:s, s:s, "
        "s:s, s:s, s:s, s:s, s:s, s:s}}",
        "message_id", mid, "type", "incident", "tlp", "amber", "origin",
        "op-power-a", "sector", "electricity", "audience",
        "participant:min-meti", "created", "2026-03-01T00:00:00Z", "payload",
        "id", inc, "stage", stage, "category", "ddos", "impact", "degraded",
        "operating_mode", "normal", "legal_basis", "mandatory", "detected_at",
        "2026-02-28T23:00:00Z", "reported_at", "2026-03-01T00:00:00Z");
}

static const char *add(cishare_archive_t *a, json_t *m)
{
    cishare_archive_rec_t r = {.msg = m,
                               .me = "min-meti",
                               .delivered_ms = 1772330400000LL,
                               .appended_ms = 1772330399000LL,
                               .topic = "t",
                               .partition = 0,
                               .offset = 1};
    const char *flag = "unset";
    char err[256];
    assert_int_equal(cishare_archive_add(a, &r, &flag, err, sizeof(err)),
                     CISHARE_OK);
    json_decref(m);
    return flag;
}

static long long count(cishare_archive_t *a, const char *sql)
{
    sqlite3_stmt *st;
    long long n = -1;
    assert_int_equal(
        sqlite3_prepare_v2(cishare_archive_db(a), sql, -1, &st, NULL),
        SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_notices_and_flags(void **state)
{
    cishare_archive_t *a;
    char err[256];

    (void)state;
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    assert_null(add(a, notice("m1", "incident--a", "preliminary")));
    assert_null(add(a, notice("m2", "incident--a", "detailed")));
    assert_null(add(a, notice("m3", "incident--a", "update")));
    assert_null(add(a, notice("m4", "incident--a", "update")));
    /* a detailed notice after an update: delivered, flagged */
    assert_non_null(strstr(add(a, notice("m5", "incident--a", "detailed")),
                           "after a later stage"));
    assert_null(add(a, notice("m6", "incident--a", "closed")));
    assert_non_null(
        strstr(add(a, notice("m7", "incident--a", "update")), "closed"));
    /* an update of an incident never seen */
    assert_non_null(strstr(add(a, notice("m8", "incident--b", "update")),
                           "no earlier notice"));
    /* re-delivery of m1 after a crash: ignored, no flag */
    assert_null(add(a, notice("m1", "incident--a", "preliminary")));
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(count(a, "SELECT count(*) FROM messages"), 8);
    assert_int_equal(count(a, "SELECT count(*) FROM notices WHERE flag IS "
                              "NOT NULL"),
                     3);
    assert_int_equal(cishare_archive_added(a), 8);
    cishare_archive_close(a);
}

/* Message ids are chosen by their signers: another origin's message
 * under the id of one already archived (or archived first) is a message
 * of its own, and neither keeps the other out. */
static void test_same_id_other_origin(void **state)
{
    cishare_archive_t *a;
    char err[256];
    json_t *m;

    (void)state;
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    m = notice("m1", "incident--a", "preliminary");
    json_object_set_new(m, "origin", json_string("op-gas-a"));
    json_object_set_new(m, "sector", json_string("gas"));
    assert_null(add(a, m));
    assert_null(add(a, notice("m1", "incident--a", "preliminary")));
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(count(a, "SELECT count(*) FROM messages WHERE "
                              "origin='op-power-a' AND message_id='m1'"),
                     1);
    assert_int_equal(count(a, "SELECT count(*) FROM notices WHERE "
                              "message_id='m1'"),
                     2);
    assert_int_equal(cishare_archive_added(a), 2);
    cishare_archive_close(a);
}

static void test_receipts_revocations_sightings(void **state)
{
    cishare_archive_t *a;
    char err[256];
    json_t *r;
    int i;

    (void)state;
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    /* the same receipt sent twice (two message ids): counted once */
    for (i = 0; i < 2; i++) {
        char mid[16];
        snprintf(mid, sizeof(mid), "r%d", i);
        r = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:{s:s, s:s, "
            "s:s, s:s, s:s}}",
            "message_id", mid, "type", "receipt", "tlp", "amber", "origin",
            "nco", "sector", "", "audience", "participant:min-meti", "created",
            "2026-03-01T00:00:01Z", "payload", "id", "receipt--x", "receipt_of",
            "m1", "receipt_of_origin", "min-meti", "delivered_at",
            "2026-03-01T00:00:01Z", "appended_at", "2026-03-01T00:00:00Z");
        add(a, r);
    }
    assert_int_equal(count(a, "SELECT count(*) FROM receipts"), 1);
    assert_int_equal(count(a, "SELECT appended_at FROM receipts"),
                     1772323200000LL);
    /* a revocation marks its own origin's subject only */
    add(a, notice("n1", "incident--a", "preliminary"));
    for (i = 0; i < 2; i++) {
        r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:s, s:{s:s, s:s}}",
                      "message_id", i ? "v2" : "v1", "type", "revocation",
                      "tlp", "amber", "origin", i ? "op-power-a" : "op-gas-a",
                      "sector", "electricity", "audience", "created",
                      "2026-03-02T00:00:00Z", "payload", "id", "revocation--1",
                      "revokes", "incident--a");
        add(a, r);
        assert_int_equal(
            count(a, "SELECT count(*) FROM messages WHERE revoked"), i);
    }
    /* sightings, false positive or not */
    r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:s, s:{s:s, s:s, s:s, "
                  "s:b, s:i}}",
                  "message_id", "s1", "type", "sighting", "tlp", "amber",
                  "origin", "jpcert", "sector", "", "audience", "created",
                  "2026-03-02T00:00:00Z", "payload", "id", "sighting--1",
                  "sighting_of", "indicator--1", "sighting_of_origin",
                  "min-meti", "false_positive", 1, "count", 3);
    add(a, r);
    assert_int_equal(count(a, "SELECT count FROM sightings WHERE "
                              "false_positive"),
                     3);
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    cishare_archive_close(a);
}

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make(dir, sizeof(dir), "archive"))
        return -1;
    snprintf(path, sizeof(path), "%s/archive.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove(path);
    return test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notices_and_flags, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_id_other_origin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_receipts_revocations_sightings,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
