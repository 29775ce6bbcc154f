/*
 * cishare - the feed's archive in SQLite (see archive.h).
 */
#include "archive.h"

#include "cishare/codec.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCHIVE_SCHEMA "1"

/* WAL pages after which the checkpointer copies them into the database
 * (SQLite's own default), and after which the writer does it itself
 * because the checkpointer cannot keep up (about 256 MiB). */
#define CKPT_PAGES     1000
#define CKPT_MAX_PAGES 65536

/* An open batch is written to the WAL (not synced) once it is this old:
 * the durable commit then writes only the rest and fsyncs. Writing a
 * second's 1 000 rows inside the commit held the feed's delivery for 5-17
 * ms (docs/PERFORMANCE.md "Issue 17, fourth increment"). By age only: a
 * busy feed commits its 1 000 rows sooner, and writing a batch in parts
 * writes its partly filled pages twice (the feed's throughput fell by a
 * fifth with a part every 64 rows). */
#define STAGE_US 50000

struct cishare_archive_s {
    sqlite3 *db;
    char *path;
    bool in_batch;
    bool unsynced;    /* staged batches not yet fsynced */
    bool ckpt_self;   /* the WAL passed CKPT_MAX_PAGES */
    int64_t batch_us; /* when it was begun */
    uint64_t added;
    /* prepared statements of the write path */
    sqlite3_stmt *ins_msg, *ins_notice, *ins_receipt, *ins_sighting, *revoke,
        *last_stage;
    /* The checkpointer: a thread with its own connection copies the WAL
     * into the database after commits, so the feed's commit only appends
     * to the WAL and fsyncs it (a checkpoint inside COMMIT stalled a
     * batch for up to 700 ms: docs/PERFORMANCE.md "Latency"). */
    pthread_t ckpt_th;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    bool ckpt_started, ckpt_want, ckpt_quit;
    uint64_t checkpoints;
};

static void *ckpt_main(void *arg)
{
    cishare_archive_t *a = arg;
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(a->path, &db, SQLITE_OPEN_READWRITE, NULL) !=
        SQLITE_OK) {
        sqlite3_close(db);
        db = NULL; /* the writer's hook checkpoints itself past the cap */
    } else {
        sqlite3_busy_timeout(db, 1000);
        /* synchronous is SQLite's default, FULL: its checkpoints sync
         * the WAL, then the database file (setting it again here cost
         * the archived feed a fifth of its rate, measured, not
         * understood) */
    }
    pthread_mutex_lock(&a->ckpt_mu);
    for (;;) {
        while (!a->ckpt_want && !a->ckpt_quit)
            pthread_cond_wait(&a->ckpt_cv, &a->ckpt_mu);
        if (a->ckpt_quit)
            break;
        a->ckpt_want = false;
        pthread_mutex_unlock(&a->ckpt_mu);
        /* PASSIVE: never blocks the writer; what a commit appends while it
         * runs is copied next time */
        if (db && sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                            NULL, NULL) == SQLITE_OK)
            __atomic_add_fetch(&a->checkpoints, 1, __ATOMIC_RELAXED);
        pthread_mutex_lock(&a->ckpt_mu);
    }
    pthread_mutex_unlock(&a->ckpt_mu);
    sqlite3_close(db);
    return NULL;
}

/* After every commit (the writer's thread): wake the checkpointer. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    cishare_archive_t *a = arg;

    (void)db;
    (void)name;
    if (pages >= CKPT_MAX_PAGES) /* not keeping up: the writer, synced */
        a->ckpt_self = true;
    else if (pages >= CKPT_PAGES && a->ckpt_started) {
        pthread_mutex_lock(&a->ckpt_mu);
        a->ckpt_want = true;
        pthread_cond_signal(&a->ckpt_cv);
        pthread_mutex_unlock(&a->ckpt_mu);
    }
    return SQLITE_OK;
}

uint64_t cishare_archive_checkpoints(cishare_archive_t *a)
{
    return __atomic_load_n(&a->checkpoints, __ATOMIC_RELAXED);
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS messages("
    " message_id TEXT NOT NULL, type TEXT NOT NULL, tlp TEXT NOT NULL,"
    " origin TEXT NOT NULL, sector TEXT NOT NULL, audience TEXT NOT NULL,"
    " subject TEXT NOT NULL, created INTEGER NOT NULL,"
    " delivered INTEGER NOT NULL, appended INTEGER, topic TEXT,"
    " part INTEGER, off INTEGER, relayed_by TEXT, sent INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0, payload TEXT,"
    " PRIMARY KEY(origin, message_id));"
    "CREATE INDEX IF NOT EXISTS messages_created ON messages(created);"
    "CREATE INDEX IF NOT EXISTS messages_subject ON messages(origin, subject);"
    "CREATE TABLE IF NOT EXISTS notices("
    " message_id TEXT NOT NULL, origin TEXT NOT NULL,"
    " incident_id TEXT NOT NULL, stage TEXT NOT NULL, stage_no INTEGER NOT "
    "NULL,"
    " category TEXT, impact TEXT, mode TEXT, legal_basis TEXT,"
    " detected_at INTEGER, reported_at INTEGER, modified INTEGER,"
    " sector TEXT NOT NULL, tlp TEXT NOT NULL, created INTEGER NOT NULL,"
    " appended INTEGER, delivered INTEGER NOT NULL, sent INTEGER NOT NULL,"
    " flag TEXT, PRIMARY KEY(origin, message_id));"
    "CREATE INDEX IF NOT EXISTS notices_incident ON notices(origin, "
    "incident_id);"
    "CREATE TABLE IF NOT EXISTS receipts("
    " receipt_of TEXT NOT NULL, recipient TEXT NOT NULL,"
    " message_id TEXT NOT NULL, receipt_of_origin TEXT NOT NULL,"
    " delivered_at INTEGER NOT NULL, appended_at INTEGER,"
    " received INTEGER NOT NULL,"
    " PRIMARY KEY(receipt_of_origin, receipt_of, recipient));"
    "CREATE TABLE IF NOT EXISTS sightings("
    " message_id TEXT NOT NULL, origin TEXT NOT NULL,"
    " sighting_of TEXT NOT NULL, sighting_of_origin TEXT,"
    " false_positive INTEGER NOT NULL, count INTEGER NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY(origin, message_id));";

static cishare_err_t db_err(cishare_archive_t *a, const char *what,
                            char *errstr, size_t errstr_size)
{
    int sys = sqlite3_system_errno(a->db);

    /* the operating system's words first: SQLite says "database or disk
     * is full" where the other state files say "No space left on
     * device" */
    if (sqlite3_errcode(a->db) == SQLITE_FULL)
        sys = ENOSPC;
    if (sys)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: %s: %s (%s)", a->path, what, strerror(sys),
                               sqlite3_errmsg(a->db));
    return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s: %s",
                           a->path, what, sqlite3_errmsg(a->db));
}

void cishare_archive_close(cishare_archive_t *a)
{
    if (!a)
        return;
    if (a->ckpt_started) {
        pthread_mutex_lock(&a->ckpt_mu);
        a->ckpt_quit = true;
        pthread_cond_signal(&a->ckpt_cv);
        pthread_mutex_unlock(&a->ckpt_mu);
        pthread_join(a->ckpt_th, NULL);
        pthread_cond_destroy(&a->ckpt_cv);
        pthread_mutex_destroy(&a->ckpt_mu);
    }
    if (a->in_batch)
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    /* the last connection's close checkpoints and deletes the WAL: the
     * database file is synced first */
    sqlite3_exec(a->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    sqlite3_finalize(a->ins_msg);
    sqlite3_finalize(a->ins_notice);
    sqlite3_finalize(a->ins_receipt);
    sqlite3_finalize(a->ins_sighting);
    sqlite3_finalize(a->revoke);
    sqlite3_finalize(a->last_stage);
    sqlite3_close(a->db);
    free(a->path);
    free(a);
}

static int prep(cishare_archive_t *a, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(a->db, sql, -1, st, NULL);
}

cishare_err_t cishare_archive_open(const char *path, bool create,
                                   cishare_archive_t **ap, char *errstr,
                                   size_t errstr_size)
{
    cishare_archive_t *a = calloc(1, sizeof(*a));
    sqlite3_stmt *st = NULL;
    const char *ver = NULL;
    int rc;

    *ap = NULL;
    if (!a || !(a->path = strdup(path))) {
        free(a);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    rc = sqlite3_open_v2(path, &a->db,
                         create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                : SQLITE_OPEN_READONLY,
                         NULL);
    if (rc != SQLITE_OK) {
        cishare_err_t e = cishare_err_set(
            create ? CISHARE_ERR_IO : CISHARE_ERR_NOT_FOUND, errstr,
            errstr_size,
            create ? "%s: cannot open the archive: %s"
                   : "%s: cannot open the archive (%s); the feed writes it "
                     "(cishare feed with the same cishare.state-dir, or "
                     "--out when that is not set)",
            path, a->db ? sqlite3_errmsg(a->db) : "out of memory");
        cishare_archive_close(a);
        return e;
    }
    sqlite3_busy_timeout(a->db, 10000);
    /* A batch of 1000 messages dirties more pages than the default 2 MiB
     * cache: SQLite then spilled them to the WAL mid-transaction. A 32 MiB
     * cache (allocated as used) keeps a batch in memory until its one
     * commit (docs/PERFORMANCE.md "Archive"). */
    sqlite3_exec(a->db, "PRAGMA cache_size=-32768", NULL, NULL, NULL);
    if (create &&
        (sqlite3_exec(a->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;",
                      NULL, NULL, NULL) != SQLITE_OK ||
         sqlite3_exec(a->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
         sqlite3_exec(a->db,
                      "INSERT OR IGNORE INTO meta VALUES('schema', "
                      "'" ARCHIVE_SCHEMA "')",
                      NULL, NULL, NULL) != SQLITE_OK)) {
        cishare_err_t e = cishare_err_set(
            CISHARE_ERR_VALIDATION, errstr, errstr_size,
            "%s: not a cishare archive (%s)", path, sqlite3_errmsg(a->db));
        cishare_archive_close(a);
        return e;
    }
    if (prep(a, "SELECT v FROM meta WHERE k='schema'", &st) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ver = (const char *)sqlite3_column_text(st, 0);
    if (!ver || strcmp(ver, ARCHIVE_SCHEMA)) {
        cishare_err_t e = cishare_err_set(
            CISHARE_ERR_VALIDATION, errstr, errstr_size,
            ver ? "%s: archive schema %s, this cishare reads %s"
                : "%s: not a cishare archive%.0s (%s)",
            path, ver ? ver : "", ver ? ARCHIVE_SCHEMA : sqlite3_errmsg(a->db));
        sqlite3_finalize(st);
        cishare_archive_close(a);
        return e;
    }
    sqlite3_finalize(st);
    if (create &&
        (prep(a,
              "INSERT OR IGNORE INTO messages VALUES(?1,?2,?3,?4,?5,?6,?7,?8,"
              "?9,?10,?11,?12,?13,?14,?15,0,?16)",
              &a->ins_msg) ||
         prep(a,
              "INSERT OR IGNORE INTO notices VALUES(?1,?2,?3,?4,?5,?6,?7,?8,"
              "?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
              &a->ins_notice) ||
         prep(a, "INSERT OR IGNORE INTO receipts VALUES(?1,?2,?3,?4,?5,?6,?7)",
              &a->ins_receipt) ||
         prep(a, "INSERT OR IGNORE INTO sightings VALUES(?1,?2,?3,?4,?5,?6,?7)",
              &a->ins_sighting) ||
         prep(a,
              "UPDATE messages SET revoked=1 WHERE origin=?1 AND subject=?2 "
              "AND type<>'revocation'",
              &a->revoke) ||
         prep(a,
              "SELECT count(*), max(stage_no) FROM notices WHERE origin=?1 "
              "AND incident_id=?2",
              &a->last_stage))) {
        cishare_err_t e = db_err(a, "prepare", errstr, errstr_size);
        cishare_archive_close(a);
        return e;
    }
    if (create) {
        /* checkpoints move to the checkpointer (wal_hook replaces
         * SQLite's automatic checkpoint) */
        pthread_mutex_init(&a->ckpt_mu, NULL);
        pthread_cond_init(&a->ckpt_cv, NULL);
        if (pthread_create(&a->ckpt_th, NULL, ckpt_main, a) == 0) {
            a->ckpt_started = true;
        } else { /* the hook checkpoints itself past CKPT_MAX_PAGES */
            pthread_cond_destroy(&a->ckpt_cv);
            pthread_mutex_destroy(&a->ckpt_mu);
        }
        sqlite3_wal_hook(a->db, wal_hook, a);
    }
    *ap = a;
    return CISHARE_OK;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ms of an RFC 3339 field; 0 when absent or bad */
static int64_t tm(const json_t *o, const char *k)
{
    int64_t ms = 0;
    const char *s = str(o, k);
    return s && cishare_time_parse(s, &ms) ? ms : 0;
}

/* Not copied: every statement is stepped while its strings live, and
 * step_done() clears its bindings. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_ms(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms > 0)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

static void bind_json(sqlite3_stmt *st, int i, const json_t *v)
{
    char *s =
        v && !json_is_null(v)
            ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
            : NULL;
    if (s)
        sqlite3_bind_text(st, i, s, -1, free);
    else
        sqlite3_bind_null(st, i);
}

static const char *const stages[] = {"preliminary", "detailed", "update",
                                     "closed"};

static int stage_no(const char *s)
{
    int i;
    for (i = 0; s && i < 4; i++)
        if (!strcmp(s, stages[i]))
            return i;
    return -1;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The flag of an incident notice of stage `no`, given the notices of the
 * same incident already archived. */
static const char *notice_flag(cishare_archive_t *a, const char *origin,
                               const char *incident, int no)
{
    static const char *const after[] = {
        "out-of-order: preliminary notice after a later stage",
        "out-of-order: detailed notice after a later stage",
        "out-of-order: update after the incident was closed",
        "out-of-order: closed again after being closed"};
    const char *flag = NULL;
    sqlite3_int64 cnt = 0;
    int max = -1;

    bind_text(a->last_stage, 1, origin);
    bind_text(a->last_stage, 2, incident);
    if (sqlite3_step(a->last_stage) == SQLITE_ROW) {
        cnt = sqlite3_column_int64(a->last_stage, 0);
        if (sqlite3_column_type(a->last_stage, 1) != SQLITE_NULL)
            max = sqlite3_column_int(a->last_stage, 1);
    }
    sqlite3_reset(a->last_stage);
    sqlite3_clear_bindings(a->last_stage);
    if (!cnt && no > 0)
        flag = "out-of-order: no earlier notice of this incident";
    else if (cnt && (no < max || (max == 3 && no >= 2)) && no >= 0)
        flag = after[no];
    return flag;
}

/* The rows of types that read payload fields (a plain indicator or alert
 * needs none: its payload is stored as text). */
static bool reads_payload(const char *type)
{
    return !strcmp(type, "revocation") || !strcmp(type, "incident") ||
           !strcmp(type, "receipt") || !strcmp(type, "sighting");
}

static cishare_err_t add_(cishare_archive_t *a,
                          const cishare_archive_rec_t *rec,
                          const cishare_archive_fields_t *fl, const json_t *p,
                          const char **flagp, char *errstr, size_t errstr_size);

cishare_err_t cishare_archive_add(cishare_archive_t *a,
                                  const cishare_archive_rec_t *rec,
                                  const char **flagp, char *errstr,
                                  size_t errstr_size)
{
    const json_t *m = rec->msg, *by;
    cishare_archive_fields_t fl;
    json_t *parsed = NULL;
    cishare_err_t err;

    if (flagp)
        *flagp = NULL;
    if (!m && rec->fields) {
        fl = *rec->fields;
        if (fl.type && reads_payload(fl.type) &&
            !(parsed = json_loadb(fl.payload, fl.payload_len, 0, NULL)))
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "%s: message %s: payload is not JSON",
                                   a->path, fl.id ? fl.id : "(no id)");
        err = add_(a, rec, &fl, parsed, flagp, errstr, errstr_size);
        json_decref(parsed);
        return err;
    }
    memset(&fl, 0, sizeof(fl));
    fl.id = str(m, "message_id");
    fl.type = str(m, "type");
    fl.origin = str(m, "origin");
    fl.tlp = str(m, "tlp");
    fl.sector = str(m, "sector");
    fl.created_ms = tm(m, "created");
    by = json_object_get(m, "relayed_by");
    fl.relayed_by =
        json_string_value(json_array_get(by, json_array_size(by) - 1));
    return add_(a, rec, &fl, json_object_get(m, "payload"), flagp, errstr,
                errstr_size);
}

/* Bind a JSON value: the tree's compact dump, or the text as given (not
 * copied: every add binds it again before the statement runs). */
static void bind_json_or_text(sqlite3_stmt *st, int i, const json_t *v,
                              const char *text, size_t len)
{
    if (text)
        sqlite3_bind_text(st, i, text, (int)len, SQLITE_STATIC);
    else
        bind_json(st, i, v);
}

static cishare_err_t add_(cishare_archive_t *a,
                          const cishare_archive_rec_t *rec,
                          const cishare_archive_fields_t *fl, const json_t *p,
                          const char **flagp, char *errstr, size_t errstr_size)
{
    const json_t *m = rec->msg;
    const char *id = fl->id, *type = fl->type, *origin = fl->origin,
               *tlp = fl->tlp, *sector = fl->sector, *subject = NULL,
               *flag = NULL;
    int64_t created = fl->created_ms;
    int sent;

    if (!id || !type || !origin || !tlp || !sector || !created)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s: message %s lacks an envelope field",
                               a->path, id ? id : "(no id)");
    if (!a->ins_msg)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "%s: opened read-only", a->path);
    if (!a->in_batch) {
        if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
            return db_err(a, "begin", errstr, errstr_size);
        a->in_batch = true;
        a->batch_us = cishare_time_mono_us();
    }
    sent = rec->me && !strcmp(origin, rec->me);
    if (!m)
        subject = fl->subject;
    else if (p && json_is_object(p)) {
        subject = !strcmp(type, "sighting")     ? str(p, "sighting_of")
                  : !strcmp(type, "revocation") ? str(p, "revokes")
                  : !strcmp(type, "receipt")    ? str(p, "receipt_of")
                                                : str(p, "id");
    }
    bind_text(a->ins_msg, 1, id);
    bind_text(a->ins_msg, 2, type);
    bind_text(a->ins_msg, 3, tlp);
    bind_text(a->ins_msg, 4, origin);
    bind_text(a->ins_msg, 5, sector);
    bind_json_or_text(a->ins_msg, 6, json_object_get(m, "audience"),
                      m ? NULL : fl->audience, fl->audience_len);
    bind_text(a->ins_msg, 7, subject ? subject : "");
    sqlite3_bind_int64(a->ins_msg, 8, created);
    sqlite3_bind_int64(a->ins_msg, 9, rec->delivered_ms);
    bind_ms(a->ins_msg, 10, rec->appended_ms);
    bind_text(a->ins_msg, 11, rec->topic);
    sqlite3_bind_int(a->ins_msg, 12, rec->partition);
    sqlite3_bind_int64(a->ins_msg, 13, rec->offset);
    bind_text(a->ins_msg, 14, fl->relayed_by);
    sqlite3_bind_int(a->ins_msg, 15, sent);
    bind_json_or_text(a->ins_msg, 16, p, m ? NULL : fl->payload,
                      fl->payload_len);
    if (step_done(a->ins_msg))
        return db_err(a, "insert message", errstr, errstr_size);
    if (!sqlite3_changes(a->db))
        return CISHARE_OK; /* archived before: re-delivered after a crash */
    a->added++;
    if (!p || !json_is_object(p) || !subject)
        return CISHARE_OK;

    if (!strcmp(type, "revocation")) {
        bind_text(a->revoke, 1, origin);
        bind_text(a->revoke, 2, subject);
        if (step_done(a->revoke))
            return db_err(a, "revoke", errstr, errstr_size);
    } else if (!strcmp(type, "incident") && subject) {
        int no = stage_no(str(p, "stage"));
        flag = notice_flag(a, origin, subject, no);
        bind_text(a->ins_notice, 1, id);
        bind_text(a->ins_notice, 2, origin);
        bind_text(a->ins_notice, 3, subject);
        bind_text(a->ins_notice, 4, str(p, "stage"));
        sqlite3_bind_int(a->ins_notice, 5, no);
        bind_text(a->ins_notice, 6, str(p, "category"));
        bind_text(a->ins_notice, 7, str(p, "impact"));
        bind_text(a->ins_notice, 8, str(p, "operating_mode"));
        bind_text(a->ins_notice, 9, str(p, "legal_basis"));
        bind_ms(a->ins_notice, 10, tm(p, "detected_at"));
        bind_ms(a->ins_notice, 11, tm(p, "reported_at"));
        bind_ms(a->ins_notice, 12, tm(p, "modified"));
        bind_text(a->ins_notice, 13, sector);
        bind_text(a->ins_notice, 14, tlp);
        sqlite3_bind_int64(a->ins_notice, 15, created);
        bind_ms(a->ins_notice, 16, rec->appended_ms);
        sqlite3_bind_int64(a->ins_notice, 17, rec->delivered_ms);
        sqlite3_bind_int(a->ins_notice, 18, sent);
        bind_text(a->ins_notice, 19, flag);
        if (step_done(a->ins_notice))
            return db_err(a, "insert notice", errstr, errstr_size);
    } else if (!strcmp(type, "receipt") && subject &&
               str(p, "receipt_of_origin")) {
        bind_text(a->ins_receipt, 1, subject);
        bind_text(a->ins_receipt, 2, origin);
        bind_text(a->ins_receipt, 3, id);
        bind_text(a->ins_receipt, 4, str(p, "receipt_of_origin"));
        sqlite3_bind_int64(a->ins_receipt, 5, tm(p, "delivered_at"));
        bind_ms(a->ins_receipt, 6, tm(p, "appended_at"));
        sqlite3_bind_int64(a->ins_receipt, 7, rec->delivered_ms);
        if (step_done(a->ins_receipt))
            return db_err(a, "insert receipt", errstr, errstr_size);
    } else if (!strcmp(type, "sighting") && subject) {
        json_t *c = json_object_get(p, "count");
        bind_text(a->ins_sighting, 1, id);
        bind_text(a->ins_sighting, 2, origin);
        bind_text(a->ins_sighting, 3, subject);
        bind_text(a->ins_sighting, 4, str(p, "sighting_of_origin"));
        sqlite3_bind_int(a->ins_sighting, 5,
                         json_is_true(json_object_get(p, "false_positive")));
        sqlite3_bind_int64(a->ins_sighting, 6,
                           json_is_integer(c) ? json_integer_value(c) : 1);
        sqlite3_bind_int64(a->ins_sighting, 7, created);
        if (step_done(a->ins_sighting))
            return db_err(a, "insert sighting", errstr, errstr_size);
    }
    if (flagp)
        *flagp = flag;
    return CISHARE_OK;
}

/* COMMIT the open batch: written to the WAL, not synced (the writer's
 * connection is synchronous=OFF). */
static cishare_err_t write_batch(cishare_archive_t *a, char *errstr,
                                 size_t errstr_size)
{
    if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_err(a, "commit", errstr, errstr_size);
    a->in_batch = false;
    a->unsynced = true;
    return CISHARE_OK;
}

cishare_err_t cishare_archive_stage(cishare_archive_t *a, char *errstr,
                                    size_t errstr_size)
{
    if (!a->in_batch || cishare_time_mono_us() - a->batch_us < STAGE_US)
        return CISHARE_OK;
    return write_batch(a, errstr, errstr_size);
}

cishare_err_t cishare_archive_commit(cishare_archive_t *a, char *errstr,
                                     size_t errstr_size)
{
    sqlite3_file *wal = NULL;
    cishare_err_t err;
    int rc;

    if (a->in_batch && (err = write_batch(a, errstr, errstr_size)))
        return err;
    if (!a->unsynced)
        return CISHARE_OK;
    /* One fsync of the WAL makes every batch written since the last one
     * durable: SQLite's own (synchronous=FULL) syncs the same file. */
    rc =
        sqlite3_file_control(a->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
    if (rc == SQLITE_OK && wal && wal->pMethods)
        rc = wal->pMethods->xSync(wal, SQLITE_SYNC_FULL);
    else if (rc == SQLITE_OK)
        rc = SQLITE_IOERR_FSYNC;
    if (rc != SQLITE_OK) {
        int sys = sqlite3_system_errno(a->db);
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: sync of the write-ahead log: %s", a->path,
                               sys ? strerror(sys) : sqlite3_errstr(rc));
    }
    a->unsynced = false;
    if (a->ckpt_self) {
        /* The checkpointer is behind: copy the WAL here, synced (a
         * checkpoint of an unsynced connection would let the WAL's
         * durable frames be overwritten before the database file is). */
        a->ckpt_self = false;
        sqlite3_exec(a->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
        sqlite3_wal_checkpoint_v2(a->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
        sqlite3_exec(a->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    }
    return CISHARE_OK;
}

uint64_t cishare_archive_added(const cishare_archive_t *a)
{
    return a->added;
}

sqlite3 *cishare_archive_db(cishare_archive_t *a)
{
    return a->db;
}

const char *cishare_archive_path(const cishare_archive_t *a)
{
    return a->path;
}

bool cishare_archive_default_path(const cishare_config_t *conf, const char *out,
                                  char *buf, size_t size)
{
    const char *state = cishare_config_get(conf, CISHARE_CONF_STATE_DIR);
    int n;

    if (!state || !*state)
        state = out && strcmp(out, "-") ? out : ".";
    n = snprintf(buf, size, "%s/archive.db", state);
    return n > 0 && (size_t)n < size;
}
