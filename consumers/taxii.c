/*
 * cishare - the TAXII 2.1 index of cishare serve (see taxii.h).
 */
#include "taxii.h"

#include "cishare/codec.h"
#include "sinks/stix.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages per update transaction: bounds the writer's lock and memory. */
#define TAXII_CHUNK 2000

static const char *const tlp_order[] = {"clear", "green", "amber",
                                        "amber+strict", "red"};

struct cishare_taxii_s {
    sqlite3 *db;   /* taxii.db */
    sqlite3 *arch; /* archive.db, read-only; NULL for readers */
    char *path;
    int64_t last_added; /* largest date_added so far */
    sqlite3_stmt *ins, *maxver, *exists;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects(seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL, type TEXT NOT NULL, version TEXT NOT NULL,"
    " date_added INTEGER NOT NULL, tlp TEXT NOT NULL, json TEXT NOT NULL,"
    " UNIQUE(id, version));"
    "CREATE INDEX IF NOT EXISTS objects_tlp ON objects(tlp, seq);"
    "CREATE INDEX IF NOT EXISTS objects_type ON objects(type, seq);";

static cishare_err_t db_err(cishare_taxii_t *t, sqlite3 *db, const char *what,
                            char *errstr, size_t errstr_size)
{
    return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s: %s",
                           db == t->arch ? "archive.db" : t->path, what,
                           sqlite3_errmsg(db));
}

void cishare_taxii_close(cishare_taxii_t *t)
{
    if (!t)
        return;
    sqlite3_finalize(t->ins);
    sqlite3_finalize(t->maxver);
    sqlite3_finalize(t->exists);
    sqlite3_close(t->db);
    sqlite3_close(t->arch);
    free(t->path);
    free(t);
}

void cishare_taxii_time(int64_t ms, char out[32])
{
    size_t len;

    cishare_time_format(ms, out);
    len = strlen(out);
    if (len == 20 && out[19] == 'Z')
        memcpy(out + 19, ".000Z", 6);
}

cishare_err_t cishare_taxii_open(const char *path, const char *archive_path,
                                 bool writer, cishare_taxii_t **tp,
                                 char *errstr, size_t errstr_size)
{
    cishare_taxii_t *t = calloc(1, sizeof(*t));
    sqlite3_stmt *st = NULL;
    cishare_err_t err;

    *tp = NULL;
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if (writer &&
        sqlite3_open_v2(archive_path, &t->arch, SQLITE_OPEN_READONLY, NULL)) {
        err = cishare_err_set(
            CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
            "%s: cannot open the archive (%s); the feed writes it (cishare "
            "feed with the same cishare.state-dir, or --state)",
            archive_path, t->arch ? sqlite3_errmsg(t->arch) : "out of memory");
        cishare_taxii_close(t);
        return err;
    }
    if (t->arch) {
        sqlite3_busy_timeout(t->arch, 10000);
        /* fails on a file that is not an archive */
        if (sqlite3_prepare_v2(t->arch, "SELECT max(rowid) FROM messages", -1,
                               &st, NULL)) {
            err = cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                                  "%s: not a cishare archive (%s)",
                                  archive_path, sqlite3_errmsg(t->arch));
            cishare_taxii_close(t);
            return err;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (sqlite3_open_v2(path, &t->db,
                        writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                               : SQLITE_OPEN_READONLY,
                        NULL)) {
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot open: %s", path,
                              t->db ? sqlite3_errmsg(t->db) : "out of memory");
        cishare_taxii_close(t);
        return err;
    }
    sqlite3_busy_timeout(t->db, 10000);
    /* The index is rebuilt from the archive if lost: NORMAL is enough. */
    if (writer &&
        (sqlite3_exec(t->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                      NULL, NULL, NULL) ||
         sqlite3_exec(t->db, schema_sql, NULL, NULL, NULL))) {
        err = db_err(t, t->db, "create", errstr, errstr_size);
        cishare_taxii_close(t);
        return err;
    }
    if (sqlite3_prepare_v2(t->db, "SELECT max(date_added) FROM objects", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        t->last_added = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (writer &&
        (sqlite3_prepare_v2(t->db,
                            "INSERT OR IGNORE INTO objects(id, type, version,"
                            " date_added, tlp, json) VALUES(?1,?2,?3,?4,?5,?6)",
                            -1, &t->ins, NULL) ||
         sqlite3_prepare_v2(t->db,
                            "SELECT version, json FROM objects WHERE id=?1 "
                            "ORDER BY version DESC LIMIT 1",
                            -1, &t->maxver, NULL) ||
         sqlite3_prepare_v2(t->db, "SELECT 1 FROM objects WHERE id=?1 LIMIT 1",
                            -1, &t->exists, NULL))) {
        err = db_err(t, t->db, "prepare", errstr, errstr_size);
        cishare_taxii_close(t);
        return err;
    }
    *tp = t;
    return CISHARE_OK;
}

/* ---- the writer ---- */

static int64_t meta_rowid(cishare_taxii_t *t)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;

    if (sqlite3_prepare_v2(t->db, "SELECT v FROM meta WHERE k='archive_rowid'",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static bool id_exists(cishare_taxii_t *t, const char *id)
{
    bool yes;

    sqlite3_bind_text(t->exists, 1, id, -1, SQLITE_TRANSIENT);
    yes = sqlite3_step(t->exists) == SQLITE_ROW;
    sqlite3_reset(t->exists);
    return yes;
}

/* Insert one object version; 1 added, 0 known, -1 error. */
static int put(cishare_taxii_t *t, json_t *o, const char *tlp, int64_t added)
{
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *ver = json_string_value(json_object_get(o, "modified"));
    char *js;
    int rc;

    if (!ver)
        ver = json_string_value(json_object_get(o, "created"));
    if (!id || !type || !ver)
        return 0;
    if (!(js = json_dumps(o, JSON_COMPACT)))
        return -1;
    sqlite3_bind_text(t->ins, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(t->ins, 2, type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(t->ins, 3, ver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(t->ins, 4, added);
    sqlite3_bind_text(t->ins, 5, tlp, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(t->ins, 6, js, -1, free);
    rc = sqlite3_step(t->ins);
    sqlite3_reset(t->ins);
    sqlite3_clear_bindings(t->ins);
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite3_changes(t->db) ? 1 : 0;
}

/* The marking-definition of tlp (and the extension-definition), once. */
static int put_marking(cishare_taxii_t *t, const char *tlp, int64_t added)
{
    const char *mid = cishare_stix_marking_id(tlp);
    json_t *arr;
    size_t i;
    int n = 0, r;

    if (!mid || id_exists(t, mid))
        return 0;
    arr = json_array();
    cishare_stix_marking(tlp, arr);
    cishare_stix_tlp_extension(arr);
    for (i = 0; i < json_array_size(arr); i++) {
        r = put(t, json_array_get(arr, i), i == 0 ? tlp : "", added);
        if (r < 0) {
            n = -1;
            break;
        }
        n += r;
    }
    json_decref(arr);
    return n;
}

/* Insert the objects of arr: identities for every collection, the rest
 * under tlp. With revoked_ms > 0, a revoked version of each (not of the
 * identities) instead. Returns objects added, -1 on error. */
static int put_all(cishare_taxii_t *t, json_t *arr, const char *tlp,
                   int64_t added, int64_t revoked_ms)
{
    size_t i;
    json_t *o;
    int n = 0, r;

    json_array_foreach(arr, i, o)
    {
        const char *type = json_string_value(json_object_get(o, "type"));
        bool ident = type && !strcmp(type, "identity");

        if (revoked_ms > 0) {
            const char *id = json_string_value(json_object_get(o, "id"));
            const char *cur = NULL, *js = NULL;
            bool done = false;
            int64_t ms = 0;
            char buf[32];
            if (ident || !id)
                continue;
            sqlite3_bind_text(t->maxver, 1, id, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(t->maxver) == SQLITE_ROW) {
                cur = (const char *)sqlite3_column_text(t->maxver, 0);
                js = (const char *)sqlite3_column_text(t->maxver, 1);
            }
            if (cur && !cishare_time_parse(cur, &ms))
                ms = 0;
            /* already revoked (several messages of one subject); in the
             * compact JSON a quote inside a string is escaped, so this
             * is the property */
            done = js && strstr(js, "\"revoked\":true");
            sqlite3_reset(t->maxver);
            if (done)
                continue;
            cishare_taxii_time(ms + 1 > revoked_ms ? ms + 1 : revoked_ms, buf);
            json_object_set_new(o, "modified", json_string(buf));
            json_object_set_new(o, "revoked", json_true());
        }
        r = put(t, o, ident ? "" : tlp, added);
        if (r < 0)
            return -1;
        n += r;
    }
    return n;
}

/* The archived message of a row (stmt columns from col) as the mapping
 * takes it: type, origin, tlp, created, payload. */
static json_t *row_msg(sqlite3_stmt *st, int col)
{
    const char *payload = (const char *)sqlite3_column_text(st, col + 4);
    char created[32];
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;

    if (!p)
        return NULL;
    cishare_time_format(sqlite3_column_int64(st, col + 3), created);
    return json_pack("{s:s,s:s,s:s,s:s,s:o}", "type",
                     (const char *)sqlite3_column_text(st, col), "origin",
                     (const char *)sqlite3_column_text(st, col + 1), "tlp",
                     (const char *)sqlite3_column_text(st, col + 2), "created",
                     created, "payload", p);
}

/* The indicator a sighting refers to, as the STIX sink chooses it: that
 * of the origin it names, else of the one origin holding the subject. */
static bool sighting_target(cishare_taxii_t *t, const json_t *msg,
                            const char *subject, int64_t rowid, char *out,
                            size_t size)
{
    const char *named = json_string_value(
        json_object_get(json_object_get(msg, "payload"), "sighting_of_origin"));
    sqlite3_stmt *st = NULL;
    int n = 0;

    if (named) {
        cishare_stix_id("indicator", named, subject, out, size);
        return id_exists(t, out);
    }
    if (sqlite3_prepare_v2(t->arch,
                           "SELECT DISTINCT origin FROM messages WHERE "
                           "type='indicator' AND subject=?1 AND rowid<?2",
                           -1, &st, NULL))
        return false;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, rowid);
    while (sqlite3_step(st) == SQLITE_ROW && n++ < 1)
        cishare_stix_id("indicator", (const char *)sqlite3_column_text(st, 0),
                        subject, out, size);
    sqlite3_finalize(st);
    return n == 1;
}

/* Revoke, at `added`, what the messages of (origin, subject) before
 * rowid mapped to. */
static int revoke_subject(cishare_taxii_t *t, const char *origin,
                          const char *subject, int64_t rowid, int64_t rev_ms,
                          int64_t added)
{
    sqlite3_stmt *st = NULL;
    int n = 0, r;

    if (sqlite3_prepare_v2(t->arch,
                           "SELECT type, origin, tlp, created, payload, rowid "
                           "FROM messages WHERE origin=?1 AND subject=?2 AND "
                           "type NOT IN ('revocation','sighting','receipt') "
                           "AND rowid<?3 ORDER BY rowid",
                           -1, &st, NULL))
        return -1;
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, subject, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, rowid);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *msg = row_msg(st, 0), *arr = json_array();
        if (msg)
            cishare_stix_map(msg, subject, NULL, arr);
        r = put_all(t, arr, (const char *)sqlite3_column_text(st, 2), added,
                    rev_ms);
        json_decref(msg);
        json_decref(arr);
        if (r < 0) {
            n = -1;
            break;
        }
        n += r;
    }
    sqlite3_finalize(st);
    return n;
}

/* ms of the revocation of (origin, subject) archived before rowid; 0:
 * none. */
static int64_t revoked_before(cishare_taxii_t *t, const char *origin,
                              const char *subject, int64_t rowid)
{
    sqlite3_stmt *st = NULL;
    int64_t ms = 0;

    if (sqlite3_prepare_v2(t->arch,
                           "SELECT max(created) FROM messages WHERE "
                           "type='revocation' AND origin=?1 AND subject=?2 "
                           "AND rowid<?3",
                           -1, &st, NULL))
        return 0;
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, subject, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, rowid);
    if (sqlite3_step(st) == SQLITE_ROW)
        ms = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return ms;
}

cishare_err_t cishare_taxii_update(cishare_taxii_t *t, uint64_t *messagesp,
                                   uint64_t *objectsp, char *errstr,
                                   size_t errstr_size)
{
    sqlite3_stmt *st = NULL, *setmeta = NULL;
    uint64_t msgs = 0, objs = 0;
    int64_t from = meta_rowid(t), rowid = from;
    cishare_err_t err = CISHARE_OK;
    int got;

    if (messagesp)
        *messagesp = 0;
    if (objectsp)
        *objectsp = 0;
    if (!t->arch || !t->ins)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "%s: opened read-only", t->path);
    if (sqlite3_prepare_v2(t->arch,
                           "SELECT type, origin, tlp, created, payload, rowid,"
                           " subject, delivered FROM messages WHERE rowid>?1"
                           " ORDER BY rowid LIMIT " /**/ "2000",
                           -1, &st, NULL))
        return db_err(t, t->arch, "read messages", errstr, errstr_size);
    if (sqlite3_prepare_v2(t->db,
                           "INSERT OR REPLACE INTO meta VALUES"
                           "('archive_rowid', ?1)",
                           -1, &setmeta, NULL)) {
        sqlite3_finalize(st);
        return db_err(t, t->db, "prepare", errstr, errstr_size);
    }
    do {
        got = 0;
        /* one read snapshot of the archive per chunk, one write
         * transaction of the index */
        if (sqlite3_exec(t->arch, "BEGIN", NULL, NULL, NULL) ||
            sqlite3_exec(t->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) {
            err = db_err(t, t->db, "begin", errstr, errstr_size);
            sqlite3_exec(t->arch, "ROLLBACK", NULL, NULL, NULL);
            break;
        }
        sqlite3_bind_int64(st, 1, rowid);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *type = (const char *)sqlite3_column_text(st, 0);
            const char *origin = (const char *)sqlite3_column_text(st, 1);
            const char *tlp = (const char *)sqlite3_column_text(st, 2);
            const char *subject = (const char *)sqlite3_column_text(st, 6);
            int64_t created = sqlite3_column_int64(st, 3);
            int64_t added = sqlite3_column_int64(st, 7), rev;
            json_t *msg, *arr;
            char target[100];
            int r = 0;

            rowid = sqlite3_column_int64(st, 5);
            got++;
            msgs++;
            if (added < t->last_added)
                added = t->last_added;
            t->last_added = added;
            if (!type || !origin || !tlp || !subject || !*subject)
                continue;
            if (!strcmp(type, "revocation")) {
                r = revoke_subject(t, origin, subject, rowid, created, added);
            } else if ((msg = row_msg(st, 0))) {
                arr = json_array();
                if (!strcmp(type, "sighting")
                        ? sighting_target(t, msg, subject, rowid, target,
                                          sizeof(target)) &&
                              cishare_stix_map(msg, subject, target, arr)
                        : cishare_stix_map(msg, subject, NULL, arr) > 0) {
                    r = put_marking(t, tlp, added);
                    if (r >= 0) {
                        int r2 = put_all(t, arr, tlp, added, 0);
                        r = r2 < 0 ? -1 : r + r2;
                    }
                    /* a late copy of a revoked subject */
                    if (r >= 0 && strcmp(type, "sighting") &&
                        (rev = revoked_before(t, origin, subject, rowid))) {
                        int r2 = put_all(t, arr, tlp, added, rev);
                        r = r2 < 0 ? -1 : r + r2;
                    }
                }
                json_decref(arr);
                json_decref(msg);
            }
            if (r < 0) {
                err = db_err(t, t->db, "insert", errstr, errstr_size);
                break;
            }
            objs += (uint64_t)r;
        }
        sqlite3_reset(st);
        if (!err) {
            sqlite3_bind_int64(setmeta, 1, rowid);
            if (sqlite3_step(setmeta) != SQLITE_DONE)
                err = db_err(t, t->db, "meta", errstr, errstr_size);
            sqlite3_reset(setmeta);
        }
        if (!err && sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL))
            err = db_err(t, t->db, "commit", errstr, errstr_size);
        if (err)
            sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_exec(t->arch, "COMMIT", NULL, NULL, NULL);
    } while (!err && got == TAXII_CHUNK);
    sqlite3_finalize(st);
    sqlite3_finalize(setmeta);
    if (err) /* the next update starts from what was committed */
        t->last_added = 0;
    if (messagesp)
        *messagesp = msgs;
    if (objectsp)
        *objectsp = objs;
    return err;
}

/* ---- readers ---- */

uint64_t cishare_taxii_count(cishare_taxii_t *t, const char *tlp)
{
    sqlite3_stmt *st = NULL;
    uint64_t n = 0;

    if (sqlite3_prepare_v2(t->db,
                           tlp ? "SELECT count(*) FROM objects WHERE tlp=?1 OR "
                                 "tlp=''"
                               : "SELECT count(*) FROM objects",
                           -1, &st, NULL) == SQLITE_OK) {
        if (tlp)
            sqlite3_bind_text(st, 1, tlp, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

json_t *cishare_taxii_labels(cishare_taxii_t *t)
{
    json_t *out = json_array();
    sqlite3_stmt *st = NULL;
    size_t i;

    if (!out ||
        sqlite3_prepare_v2(t->db, "SELECT 1 FROM objects WHERE tlp=?1 LIMIT 1",
                           -1, &st, NULL)) {
        json_decref(out);
        return NULL;
    }
    for (i = 0; i < sizeof(tlp_order) / sizeof(tlp_order[0]); i++) {
        sqlite3_bind_text(st, 1, tlp_order[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(out, json_string(tlp_order[i]));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return out;
}

void cishare_taxii_query_clear(cishare_taxii_query_t *q)
{
    json_decref(q->types);
    json_decref(q->ids);
    json_decref(q->versions);
    q->types = q->ids = q->versions = NULL;
}

/* A TAXII timestamp: RFC 3339 in UTC ("Z"). */
static bool taxii_ts(const char *s, int64_t *msp)
{
    size_t len = strlen(s);

    return len >= 20 && s[len - 1] == 'Z' && cishare_time_parse(s, msp);
}

/* Split a comma list into a JSON array, each item checked by ok(). */
static json_t *split(const char *v, bool (*ok)(const char *))
{
    json_t *arr = json_array();
    const char *p = v;

    while (arr) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        char item[256];
        if (!n || n >= sizeof(item)) {
            json_decref(arr);
            return NULL;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (!ok(item)) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, json_string(item));
        if (!c)
            break;
        p = c + 1;
    }
    return arr;
}

/* STIX type names: lowercase letters, digits, '-' (3-250). */
static bool type_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 3 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* STIX ids: "<type>--<uuid>" */
static bool id_ok(const char *s)
{
    const char *d = strstr(s, "--");
    char type[256];

    if (!d || (size_t)(d - s) >= sizeof(type) || strlen(d + 2) != 36 ||
        strspn(d + 2, "0123456789abcdefABCDEF-") != 36)
        return false;
    memcpy(type, s, (size_t)(d - s));
    type[d - s] = '\0';
    return type_ok(type);
}

static bool version_ok(const char *s)
{
    int64_t ms;
    return !strcmp(s, "last") || !strcmp(s, "first") || !strcmp(s, "all") ||
           taxii_ts(s, &ms);
}

cishare_err_t
cishare_taxii_query_parse(cishare_taxii_query_t *q, cishare_taxii_kind_t kind,
                          const char *(*get)(void *opaque, const char *name),
                          void *opaque, char *errstr, size_t errstr_size)
{
    const char *v;
    size_t i;

    q->added_after = -1;
    q->after_seq = 0;
    q->limit = CISHARE_TAXII_LIMIT_DEFAULT;
    q->types = q->ids = q->versions = NULL;
    q->vmask = 0;
    if ((v = get(opaque, "added_after")) && !taxii_ts(v, &q->added_after))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "added_after '%.64s': not a timestamp (RFC "
                               "3339 in UTC, e.g. 2026-01-01T00:00:00.000Z)",
                               v);
    if ((v = get(opaque, "limit"))) {
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        if (!*v || *end || *v == '-' || *v == '+' || n == 0)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "limit '%.64s': not a positive integer", v);
        q->limit =
            n > CISHARE_TAXII_LIMIT_MAX ? CISHARE_TAXII_LIMIT_MAX : (size_t)n;
    }
    if ((v = get(opaque, "next"))) {
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        if (!*v || *end || *v == '-' || *v == '+' || n > INT64_MAX)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "next '%.64s': not a token this server "
                                   "gave",
                                   v);
        q->after_seq = (int64_t)n;
    }
    if (kind != CISHARE_TAXII_VERSIONS && (v = get(opaque, "match[type]")) &&
        !(q->types = split(v, type_ok)))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "match[type] '%.64s': not a comma list of "
                               "STIX types",
                               v);
    if (kind != CISHARE_TAXII_VERSIONS && (v = get(opaque, "match[id]")) &&
        !(q->ids = split(v, id_ok)))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "match[id] '%.64s': not a comma list of STIX "
                               "ids",
                               v);
    if ((v = get(opaque, "match[spec_version]")) && strcmp(v, "2.1"))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "match[spec_version] '%.64s': this server "
                               "holds STIX 2.1 only",
                               v);
    if (kind == CISHARE_TAXII_VERSIONS) {
        q->vmask = CISHARE_TAXII_V_ALL;
        return CISHARE_OK;
    }
    if (!(v = get(opaque, "match[version]"))) {
        q->vmask = CISHARE_TAXII_V_LAST;
        return CISHARE_OK;
    }
    if (!(q->versions = split(v, version_ok)))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "match[version] '%.64s': not a comma list of "
                               "last, first, all or timestamps",
                               v);
    for (i = json_array_size(q->versions); i-- > 0;) {
        const char *s = json_string_value(json_array_get(q->versions, i));
        unsigned bit = !strcmp(s, "last")    ? CISHARE_TAXII_V_LAST
                       : !strcmp(s, "first") ? CISHARE_TAXII_V_FIRST
                       : !strcmp(s, "all")   ? CISHARE_TAXII_V_ALL
                                             : 0;
        if (bit) {
            q->vmask |= bit;
            json_array_remove(q->versions, i);
        } else {
            /* stored as ".sssZ": compare in that form */
            int64_t ms = 0;
            char buf[32];
            taxii_ts(s, &ms);
            cishare_taxii_time(ms, buf);
            json_array_set_new(q->versions, i, json_string(buf));
        }
    }
    return CISHARE_OK;
}

/* A growing output buffer. */
typedef struct buf_s {
    char *p;
    size_t len, cap;
    bool oom;
} buf_t;

static void put_bytes(buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_str(buf_t *b, const char *s)
{
    put_bytes(b, s, strlen(s));
}

/* s as a JSON string (ids, types, times: no escaping needed, but keep it
 * safe) */
static void put_jstr(buf_t *b, const char *s)
{
    json_t *j = json_string(s);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

    if (d)
        put_str(b, d);
    else
        b->oom = true;
    free(d);
    json_decref(j);
}

/* "col IN (?N,...)" for n terms numbered from *next (numbered: an
 * anonymous ? after ?4 would be numbered from the largest seen) */
static void put_in(buf_t *b, const char *col, size_t n, int *next)
{
    char num[24];
    size_t i;

    put_str(b, col);
    put_str(b, " IN (");
    for (i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "%s?%d", i ? "," : "", (*next)++);
        put_str(b, num);
    }
    put_str(b, ")");
}

cishare_err_t cishare_taxii_query(cishare_taxii_t *t,
                                  const cishare_taxii_query_t *q,
                                  cishare_taxii_kind_t kind,
                                  cishare_taxii_page_t *page, char *errstr,
                                  size_t errstr_size)
{
    buf_t sql = {0}, out = {0};
    sqlite3_stmt *st = NULL;
    const char *coll = q->tlp ? "(tlp=?1 OR tlp='')" : "(?1 IS NULL)";
    size_t n = 0, i;
    int bi = 5, pn = 5, rc;
    int64_t last_seq = 0;
    char ts[32], num[32];

    memset(page, 0, sizeof(*page));
    put_str(&sql,
            "SELECT seq, id, version, date_added, json FROM objects o WHERE ");
    put_str(&sql, coll);
    put_str(&sql, " AND seq>?2 AND date_added>?3");
    if (q->types) {
        put_str(&sql, " AND ");
        put_in(&sql, "type", json_array_size(q->types), &pn);
    }
    if (q->ids) {
        put_str(&sql, " AND ");
        put_in(&sql, "id", json_array_size(q->ids), &pn);
    }
    if (!(q->vmask & CISHARE_TAXII_V_ALL)) {
        bool or = false;
        put_str(&sql, " AND (");
        if (q->vmask & CISHARE_TAXII_V_LAST) {
            put_str(&sql, "version=(SELECT max(version) FROM objects p WHERE "
                          "p.id=o.id AND ");
            put_str(&sql, q->tlp ? "(p.tlp=?1 OR p.tlp=''))" : "(?1 IS NULL))");
            or = true;
        }
        if (q->vmask & CISHARE_TAXII_V_FIRST) {
            put_str(&sql, or ? " OR " : "");
            put_str(&sql, "version=(SELECT min(version) FROM objects p WHERE "
                          "p.id=o.id AND ");
            put_str(&sql, q->tlp ? "(p.tlp=?1 OR p.tlp=''))" : "(?1 IS NULL))");
            or = true;
        }
        if (json_array_size(q->versions)) {
            put_str(&sql, or ? " OR " : "");
            put_in(&sql, "version", json_array_size(q->versions), &pn);
            or = true;
        }
        if (! or)
            put_str(&sql, "0");
        put_str(&sql, ")");
    }
    put_str(&sql, " ORDER BY seq LIMIT ?4");
    if (sql.oom) {
        free(sql.p);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    rc = sqlite3_prepare_v2(t->db, sql.p, -1, &st, NULL);
    free(sql.p);
    if (rc)
        return db_err(t, t->db, "query", errstr, errstr_size);
    if (q->tlp)
        sqlite3_bind_text(st, 1, q->tlp, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, q->after_seq);
    sqlite3_bind_int64(st, 3, q->added_after);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)q->limit + 1);
    for (i = 0; i < json_array_size(q->types); i++)
        sqlite3_bind_text(st, bi++,
                          json_string_value(json_array_get(q->types, i)), -1,
                          SQLITE_TRANSIENT);
    for (i = 0; i < json_array_size(q->ids); i++)
        sqlite3_bind_text(st, bi++,
                          json_string_value(json_array_get(q->ids, i)), -1,
                          SQLITE_TRANSIENT);
    if (!(q->vmask & CISHARE_TAXII_V_ALL))
        for (i = 0; i < json_array_size(q->versions); i++)
            sqlite3_bind_text(st, bi++,
                              json_string_value(json_array_get(q->versions, i)),
                              -1, SQLITE_TRANSIENT);
    put_str(&out, kind == CISHARE_TAXII_OBJECTS    ? "{\"objects\":["
                  : kind == CISHARE_TAXII_MANIFEST ? "{\"objects\":["
                                                   : "{\"versions\":[");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t added = sqlite3_column_int64(st, 3);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        const char *ver = (const char *)sqlite3_column_text(st, 2);
        if (n == q->limit) {
            page->more = true;
            break;
        }
        if (n++)
            put_str(&out, ",");
        if (kind == CISHARE_TAXII_OBJECTS) {
            put_bytes(&out, (const char *)sqlite3_column_text(st, 4),
                      (size_t)sqlite3_column_bytes(st, 4));
        } else if (kind == CISHARE_TAXII_MANIFEST) {
            cishare_taxii_time(added, ts);
            put_str(&out, "{\"id\":");
            put_jstr(&out, id);
            put_str(&out, ",\"date_added\":");
            put_jstr(&out, ts);
            put_str(&out, ",\"version\":");
            put_jstr(&out, ver);
            put_str(&out, ",\"media_type\":"
                          "\"application/stix+json;version=2.1\"}");
        } else {
            put_jstr(&out, ver);
        }
        if (!page->first_ms)
            page->first_ms = added;
        page->last_ms = added;
        last_seq = sqlite3_column_int64(st, 0);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cishare_err_t err = db_err(t, t->db, "query", errstr, errstr_size);
        sqlite3_finalize(st);
        free(out.p);
        return err;
    }
    sqlite3_finalize(st);
    if (!n) {
        /* an empty envelope: no objects (versions) property */
        out.len = 0;
        put_str(&out, "{");
    } else
        put_str(&out, "],");
    put_str(&out, page->more ? "\"more\":true" : "\"more\":false");
    if (page->more) {
        snprintf(num, sizeof(num), "%lld", (long long)last_seq);
        put_str(&out, ",\"next\":\"");
        put_str(&out, num);
        put_str(&out, "\"");
    }
    put_str(&out, "}");
    if (out.oom) {
        free(out.p);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    page->body = out.p;
    page->len = out.len;
    page->count = n;
    return CISHARE_OK;
}
