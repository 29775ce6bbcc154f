/*
 * The feed's archive (consumers/archive.h): rows per type, idempotent
 * re-delivery, revocation marks, receipts de-duplicated by (message,
 * recipient), and the out-of-order flags of incident notices. Every add
 * is made twice: from the feed's JSON tree, and into a twin archive from
 * the fields and texts of the feed's line (cishare_archive_fields_t, no
 * tree); both must hold the same rows and give the same flags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_util.h"
#include "archive.h"
#include "cishare/codec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], path[512], twin_path[512];
static cishare_archive_t *twin;

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The delivery of every add (to min-meti, topic t, partition 0, offset 1)
 * of the feed's JSON tree msg, or else of fields. */
static cishare_archive_rec_t delivery(const json_t *msg,
                                      const cishare_archive_fields_t *fields)
{
    cishare_archive_rec_t r = {.msg = msg,
                               .fields = fields,
                               .me = "min-meti",
                               .delivered_ms = 1772330400000LL,
                               .appended_ms = 1772330399000LL,
                               .topic = "t",
                               .partition = 0,
                               .offset = 1};
    return r;
}

/* m added to the twin as the feed's line path does it: fields, texts */
static const char *add_as_fields(const json_t *m)
{
    const json_t *p = json_object_get(m, "payload"),
                 *by = json_object_get(m, "relayed_by");
    const char *type = jstr(m, "type"), *flag = "unset";
    char *aud = json_dumps(json_object_get(m, "audience"),
                           JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY),
         *pay = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS), err[256];
    cishare_archive_fields_t fl = {
        .id = jstr(m, "message_id"),
        .type = type,
        .tlp = jstr(m, "tlp"),
        .origin = jstr(m, "origin"),
        .sector = jstr(m, "sector"),
        .subject = !strcmp(type, "sighting")     ? jstr(p, "sighting_of")
                   : !strcmp(type, "revocation") ? jstr(p, "revokes")
                   : !strcmp(type, "receipt")    ? jstr(p, "receipt_of")
                                                 : jstr(p, "id"),
        .relayed_by =
            json_string_value(json_array_get(by, json_array_size(by) - 1)),
        .audience = aud,
        .audience_len = strlen(aud),
        .payload = pay,
        .payload_len = strlen(pay),
    };
    cishare_archive_rec_t r = delivery(NULL, &fl);

    assert_true(cishare_time_parse(jstr(m, "created"), &fl.created_ms));
    assert_int_equal(cishare_archive_add(twin, &r, &flag, err, sizeof(err)),
                     CISHARE_OK);
    free(aud);
    free(pay);
    return flag;
}

/* Every row of every table, as text in a fixed order. */
static char *tables_text(cishare_archive_t *a)
{
    static const char *const tables[] = {"messages", "notices", "receipts",
                                         "sightings"};
    size_t cap = 1 << 16, len = 0, t;
    char *out = calloc(1, cap);

    assert_non_null(out);
    for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        sqlite3_stmt *st;
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY 1, 2, 3",
                 tables[t]);
        assert_int_equal(
            sqlite3_prepare_v2(cishare_archive_db(a), sql, -1, &st, NULL),
            SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int c;
            for (c = 0; c <= sqlite3_column_count(st); c++) {
                const unsigned char *v = c < sqlite3_column_count(st)
                                             ? sqlite3_column_text(st, c)
                                             : (const unsigned char *)"\n";
                size_t n = strlen(v ? (const char *)v : "NULL") + 1;
                if (len + n + 1 > cap) {
                    cap = 2 * (len + n + 1);
                    assert_non_null(out = realloc(out, cap));
                }
                len += (size_t)snprintf(out + len, cap - len, "%s|",
                                        v ? (const char *)v : "NULL");
            }
        }
        sqlite3_finalize(st);
    }
    return out;
}

/* The twin, filled from fields, holds exactly the rows of a. */
static void check_twin(cishare_archive_t *a)
{
    char err[256], *x, *y;

    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(cishare_archive_commit(twin, err, sizeof(err)),
                     CISHARE_OK);
    x = tables_text(a);
    y = tables_text(twin);
    assert_true(strlen(x) > 0);
    assert_string_equal(x, y);
    assert_int_equal(cishare_archive_added(a), cishare_archive_added(twin));
    free(x);
    free(y);
}

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
    cishare_archive_rec_t r = delivery(m, NULL);
    const char *flag = "unset", *tflag;
    char err[256];
    assert_int_equal(cishare_archive_add(a, &r, &flag, err, sizeof(err)),
                     CISHARE_OK);
    tflag = add_as_fields(m);
    assert_true(flag == tflag || (flag && tflag && !strcmp(flag, tflag)));
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
    check_twin(a);
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
    check_twin(a);
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
    check_twin(a);
    cishare_archive_close(a);
}

/* The checkpointer copies the WAL into the database in the background
 * once it holds 1000 pages; every committed row stays readable. */
static void test_background_checkpoint(void **state)
{
    cishare_archive_t *a;
    char err[256], mid[32], pad[2001];
    int b, i, waited;

    (void)state;
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    for (b = 0; b < 20; b++) {
        for (i = 0; i < 100; i++) {
            json_t *m = notice("m", "incident--c", "update");
            snprintf(mid, sizeof(mid), "c%d-%d", b, i);
            json_object_set_new(m, "message_id", json_string(mid));
            json_object_set_new(json_object_get(m, "payload"), "pad",
                                json_string(pad));
            add(a, m);
        }
        assert_int_equal(cishare_archive_commit(a, err, sizeof(err)),
                         CISHARE_OK);
    }
    for (waited = 0; !cishare_archive_checkpoints(a) && waited < 500; waited++)
        usleep(10000);
    assert_true(cishare_archive_checkpoints(a) > 0);
    assert_int_equal(count(a, "SELECT count(*) FROM messages"), 2000);
    check_twin(a);
    cishare_archive_close(a);
    /* read back by a new connection */
    assert_int_equal(cishare_archive_open(path, false, &a, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(count(a, "SELECT count(*) FROM messages"), 2000);
    cishare_archive_close(a);
}

/* ---- staged batches, and the one fsync of a commit ---- */

/* A VFS over the default one that counts syncs of write-ahead logs (files
 * opened with SQLITE_OPEN_WAL): what makes a commit durable. */
typedef struct shim_file_s {
    sqlite3_file base;
    bool wal;
    sqlite3_file *real; /* follows this struct */
} shim_file_t;

static sqlite3_vfs *real_vfs, shim_vfs;
static int wal_syncs;

#define REAL(f) (((shim_file_t *)(f))->real)
static int s_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int s_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int s_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int s_truncate(sqlite3_file *f, sqlite3_int64 n)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int s_sync(sqlite3_file *f, int flags)
{
    if (((shim_file_t *)f)->wal)
        wal_syncs++;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int s_size(sqlite3_file *f, sqlite3_int64 *n)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int s_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int s_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int s_reserved(sqlite3_file *f, int *r)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r);
}
static int s_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int s_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int s_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int s_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p);
}
static int s_shmlock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void s_shmbarrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int s_shmunmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int s_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{
    return REAL(f)->pMethods->xFetch(REAL(f), o, n, p);
}
static int s_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}
static const sqlite3_io_methods shim_io = {
    3,         s_close,  s_read,    s_write,      s_truncate, s_sync,
    s_size,    s_lock,   s_unlock,  s_reserved,   s_fcntl,    s_sector,
    s_devchar, s_shmmap, s_shmlock, s_shmbarrier, s_shmunmap, s_fetch,
    s_unfetch};

static int s_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags,
                  int *out)
{
    shim_file_t *sf = (shim_file_t *)f;
    int rc;

    (void)v;
    sf->real = (sqlite3_file *)(sf + 1);
    sf->wal = (flags & SQLITE_OPEN_WAL) != 0;
    rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out);
    sf->base.pMethods = rc == SQLITE_OK ? &shim_io : NULL;
    return rc;
}

static void shim_install(void)
{
    if (!real_vfs) {
        real_vfs = sqlite3_vfs_find(NULL);
        shim_vfs = *real_vfs;
        shim_vfs.zName = "cishare-test-shim";
        shim_vfs.szOsFile = (int)sizeof(shim_file_t) + real_vfs->szOsFile;
        shim_vfs.xOpen = s_open;
        shim_vfs.pNext = NULL;
    }
    assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

/* Messages another connection sees in the archive at path. */
static long long rows_seen(void)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long n = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &st, NULL),
        SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void add_n(cishare_archive_t *a, int from, int n)
{
    char err[256], mid[32];
    int i;

    for (i = from; i < from + n; i++) {
        json_t *m = notice("m", "incident--s", "update");
        cishare_archive_rec_t r = delivery(m, NULL);
        snprintf(mid, sizeof(mid), "s%d", i);
        json_object_set_new(m, "message_id", json_string(mid));
        assert_int_equal(cishare_archive_add(a, &r, NULL, err, sizeof(err)),
                         CISHARE_OK);
        json_decref(m);
    }
}

/*
 * cishare_archive_stage() writes a batch begun 50 ms ago or more to the
 * WAL without syncing it; a younger batch stays open, whatever its size.
 * The commit then writes the rest and syncs the WAL once, which makes the
 * staged rows durable too. Broken either way (stage syncing, or commit
 * not syncing), the sync counts fail.
 */
static void test_stage_then_commit(void **state)
{
    cishare_archive_t *a;
    char err[256];
    int64_t t0;
    int syncs;

    (void)state;
    shim_install();
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    t0 = cishare_time_now_ms();
    add_n(a, 0, 70);
    syncs = wal_syncs;
    assert_int_equal(cishare_archive_stage(a, err, sizeof(err)), CISHARE_OK);
    if (cishare_time_now_ms() - t0 < 40)  /* (a slow machine: too late) */
        assert_int_equal(rows_seen(), 0); /* young: still open */
    usleep(60000);
    assert_int_equal(cishare_archive_stage(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(rows_seen(), 70);  /* written */
    assert_int_equal(wal_syncs, syncs); /* not synced */
    add_n(a, 70, 5);
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(wal_syncs, syncs + 1); /* one sync: all 75 durable */
    assert_int_equal(rows_seen(), 75);
    /* nothing new: no sync */
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(wal_syncs, syncs + 1);
    cishare_archive_close(a);
    assert_int_equal(sqlite3_vfs_unregister(&shim_vfs), SQLITE_OK);
}

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make(dir, sizeof(dir), "archive"))
        return -1;
    snprintf(path, sizeof(path), "%s/archive.db", dir);
    snprintf(twin_path, sizeof(twin_path), "%s/twin.db", dir);
    return cishare_archive_open(twin_path, true, &twin, NULL, 0) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_archive_close(twin);
    twin = NULL;
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
        cmocka_unit_test_setup_teardown(test_background_checkpoint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stage_then_commit, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
