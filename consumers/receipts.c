/*
 * cishare - the receipts report of `cishare receipts`: messages this
 * participant sent, who the policy delivers each to, and who sent a
 * signed receipt (see receipts.h).
 */
#include "receipts.h"

#include "cishare/codec.h"
#include "cishare/message.h"
#include "cishare/policy.h"
#include "cishare/types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cishare_err_t db_err(cishare_archive_t *a, const char *what,
                            char *errstr, size_t errstr_size)
{
    return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s: %s",
                           cishare_archive_path(a), what,
                           sqlite3_errmsg(cishare_archive_db(a)));
}

/* An RFC 3339 time, or null for a column that is NULL or <= 0. */
static json_t *time_col(sqlite3_stmt *st, int col)
{
    char t[32];
    int64_t ms;

    if (sqlite3_column_type(st, col) == SQLITE_NULL ||
        (ms = sqlite3_column_int64(st, col)) <= 0)
        return json_null();
    cishare_time_format(ms, t);
    return json_string(t);
}

static const char *text_col(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? (const char *)s : "";
}

/* The stored audience (a JSON array of items, archive.c) as the header's
 * comma-joined text, parsed. */
static cishare_err_t audience_of(const char *stored, cishare_audience_t *aud,
                                 char *why, size_t why_size)
{
    json_t *arr = json_loads(stored, 0, NULL), *v;
    char text[CISHARE_AUDIENCE_TEXT_LEN + 1] = "";
    size_t i, off = 0;
    cishare_err_t err;

    if (!json_is_array(arr)) {
        json_decref(arr);
        snprintf(why, why_size, "stored audience is not a list");
        return CISHARE_ERR_VALIDATION;
    }
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        int n = snprintf(text + off, sizeof(text) - off, "%s%s", off ? "," : "",
                         s ? s : "");
        if (n < 0 || (size_t)n >= sizeof(text) - off) {
            json_decref(arr);
            snprintf(why, why_size, "stored audience too long");
            return CISHARE_ERR_VALIDATION;
        }
        off += (size_t)n;
    }
    json_decref(arr);
    err = cishare_audience_parse(text, aud, why, why_size);
    return err;
}

/* Do messages with this label (and payload) call for receipts?
 * (feed.h, "Receipts"; AMBER only at recipients that opted in, seen by
 * the receipts that came.) */
static bool receipts_due(cishare_msgtype_t type, cishare_tlp_t tlp,
                         const char *payload_text)
{
    cishare_payload_flags_t fl;
    json_t *p;

    if (tlp == CISHARE_TLP_RED || tlp == CISHARE_TLP_AMBER_STRICT)
        return true;
    if (type != CISHARE_MSG_INCIDENT || !payload_text)
        return false;
    p = json_loads(payload_text, 0, NULL);
    cishare_message_payload_flags(type, p, &fl);
    json_decref(p);
    return fl.mandatory == 1;
}

/* One message: its expected recipients and its receipts. */
static cishare_err_t one_message(cishare_archive_t *a, sqlite3_stmt *rst,
                                 const cishare_directory_t *dir,
                                 const cishare_participant_t *me,
                                 sqlite3_stmt *mst, bool only, int64_t now_ms,
                                 json_t *messages, json_int_t *pendingp,
                                 char *errstr, size_t errstr_size)
{
    const char *id = text_col(mst, 0), *type_s = text_col(mst, 1),
               *tlp_s = text_col(mst, 2), *aud_s = text_col(mst, 3);
    const char *payload = (const char *)sqlite3_column_text(mst, 7);
    cishare_msgtype_t type = CISHARE_MSG_INDICATOR;
    cishare_tlp_t tlp = CISHARE_TLP_GREEN;
    cishare_audience_t aud = {0};
    json_t *m = NULL, *recips = json_array(), *unexp = json_array(),
           *got = NULL;
    bool due, any = false;
    json_int_t pending = 0;
    char why[256];
    size_t i;
    int rc;

    if (!recips || !unexp || !(got = json_object()))
        goto nomem;
    cishare_msgtype_parse(type_s, &type);
    cishare_tlp_parse(tlp_s, &tlp);
    due = receipts_due(type, tlp, payload);

    /* the receipts that came, by recipient (one each: archive.h) */
    sqlite3_bind_text(rst, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(rst, 2, me->id, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(rst)) == SQLITE_ROW) {
        json_t *r = json_pack("{s:o, s:o, s:s}", "delivered_at",
                              time_col(rst, 1), "appended_at", time_col(rst, 2),
                              "receipt_id", text_col(rst, 3));
        if (!r || json_object_set_new(got, text_col(rst, 0), r))
            goto nomem_reset;
        any = true;
    }
    sqlite3_reset(rst);
    sqlite3_clear_bindings(rst);
    if (rc != SQLITE_DONE) {
        json_decref(got);
        json_decref(recips);
        json_decref(unexp);
        return db_err(a, "read receipts", errstr, errstr_size);
    }
    /* AMBER and looser: listed when a recipient sent a receipt anyway */
    if (!due && !any && !only)
        goto skip;

    if (due && !audience_of(aud_s, &aud, why, sizeof(why))) {
        cishare_policy_msg_t pm = {.tlp = tlp,
                                   .origin = me->id,
                                   .audience = &aud,
                                   .expires_ms = 0,
                                   .consent = CISHARE_CONSENT_NA,
                                   .sighting_of = NULL};
        for (i = 0; i < cishare_directory_participant_cnt(dir); i++) {
            const cishare_participant_t *p =
                cishare_directory_participant(dir, i);
            json_t *r, *e;
            if (!p || !strcmp(p->id, me->id) ||
                !cishare_policy_decide(dir, &pm, p, now_ms).deliver)
                continue;
            if ((e = json_object_get(got, p->id))) {
                r = json_deep_copy(e);
                if (r)
                    json_object_set_new(r, "received", json_true());
                json_object_del(got, p->id);
            } else {
                r = json_pack("{s:b, s:n, s:n, s:n}", "received", 0,
                              "delivered_at", "appended_at", "receipt_id");
                pending++;
            }
            if (!r ||
                json_object_set_new(r, "participant", json_string(p->id)) ||
                json_array_append_new(recips, r))
                goto nomem;
        }
    }
    cishare_audience_clear(&aud);
    {
        const char *k;
        json_t *v;
        json_object_foreach(got, k, v)
        {
            json_t *r = json_deep_copy(v);
            if (!r || json_object_set_new(r, "participant", json_string(k)) ||
                json_array_append_new(unexp, r))
                goto nomem;
        }
    }
    m = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:I, s:o, s:o}",
                  "message_id", id, "type", type_s, "subject", text_col(mst, 4),
                  "tlp", tlp_s, "sent", time_col(mst, 5), "sent_appended_at",
                  time_col(mst, 6), "receipts_due", due, "pending", pending,
                  "recipients", recips, "unexpected", unexp);
    recips = unexp = NULL;
    if (!m || json_array_append_new(messages, m))
        goto nomem;
    *pendingp += pending;
skip:
    json_decref(got);
    json_decref(recips);
    json_decref(unexp);
    return CISHARE_OK;
nomem_reset:
    sqlite3_reset(rst);
    sqlite3_clear_bindings(rst);
nomem:
    cishare_audience_clear(&aud);
    json_decref(got);
    json_decref(recips);
    json_decref(unexp);
    return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                           "out of memory");
}

cishare_err_t cishare_receipts_report(cishare_archive_t *a,
                                      const cishare_directory_t *dir,
                                      const cishare_participant_t *me,
                                      const char *message_id, int64_t now_ms,
                                      json_t **docp, char *errstr,
                                      size_t errstr_size)
{
    sqlite3 *db = cishare_archive_db(a);
    sqlite3_stmt *mst = NULL, *rst = NULL;
    json_t *doc = NULL, *messages = json_array();
    json_int_t pending = 0;
    cishare_err_t err = CISHARE_OK;
    size_t found = 0;
    int rc;

    *docp = NULL;
    if (!messages)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    /* my messages (not my receipts), in the order they were sent; a
     * receipt counts only when it acknowledges a message of mine */
    if (sqlite3_prepare_v2(
            db,
            "SELECT message_id, type, tlp, audience, subject, created, "
            "appended, payload FROM messages WHERE sent=1 AND "
            "type<>'receipt' AND (?1 IS NULL OR message_id=?1) "
            "ORDER BY created, message_id",
            -1, &mst, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT recipient, delivered_at, appended_at, "
                           "message_id FROM receipts WHERE receipt_of=?1 AND "
                           "receipt_of_origin=?2 ORDER BY recipient",
                           -1, &rst, NULL) != SQLITE_OK) {
        err = db_err(a, "query", errstr, errstr_size);
        goto out;
    }
    if (message_id)
        sqlite3_bind_text(mst, 1, message_id, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(mst)) == SQLITE_ROW) {
        found++;
        if ((err = one_message(a, rst, dir, me, mst, message_id != NULL, now_ms,
                               messages, &pending, errstr, errstr_size)))
            goto out;
    }
    if (rc != SQLITE_DONE) {
        err = db_err(a, "read messages", errstr, errstr_size);
        goto out;
    }
    if (message_id && !found) {
        err = cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                              "--message %s: no message of %s with that id "
                              "in %s (message ids are the envelope's "
                              "message_id, as the feed writes it)",
                              message_id, me->id, cishare_archive_path(a));
        goto out;
    }
    doc = json_pack("{s:s, s:s, s:I, s:O}", "participant", me->id, "archive",
                    cishare_archive_path(a), "pending", pending, "messages",
                    messages);
    if (!doc)
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
out:
    sqlite3_finalize(mst);
    sqlite3_finalize(rst);
    json_decref(messages);
    *docp = err ? NULL : doc;
    if (err)
        json_decref(doc);
    return err;
}
