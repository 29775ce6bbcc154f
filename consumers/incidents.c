/*
 * cishare - incidents over their life, read from the feed's archive (see
 * incidents.h): the notices of each (origin, incident id) grouped in
 * delivery order, then each mandatory deadline judged from the broker's
 * append times, or, for the origin itself, from its ministries' receipts.
 */
#include "incidents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dl_names[CISHARE_DL__CNT] = {
    "n/a", "pending", "met", "late", "overdue", "unconfirmed"};

const char *cishare_dl_status_name(cishare_dl_status_t s)
{
    return (unsigned)s < CISHARE_DL__CNT ? dl_names[s] : "?";
}

static const char *const stage_names[] = {"preliminary", "detailed", "update",
                                          "closed"};

/* Every notice of every incident, in delivery order within each incident
 * (notices' rowid is the feed's poll order). Revoked notices are out. */
static const char notices_sql[] =
    "SELECT n.origin, n.incident_id, n.message_id, n.stage, n.stage_no,"
    " n.category, n.impact, n.mode, n.legal_basis, n.detected_at,"
    " n.reported_at, n.modified, n.sector, n.created, n.appended,"
    " n.delivered, n.flag, json_extract(m.payload, '$.title')"
    " FROM notices n JOIN messages m"
    " ON m.origin = n.origin AND m.message_id = n.message_id"
    " WHERE m.revoked = 0 ORDER BY n.origin, n.incident_id, n.rowid";

static const char receipts_sql[] =
    "SELECT recipient, appended_at, delivered_at FROM receipts"
    " WHERE receipt_of = ?1 AND receipt_of_origin = ?2";

/* Per-incident working data that the public struct does not keep. */
typedef struct work_s {
    int max_stage_no;
    int64_t latest_mod; /* modified of the notice the fields come from */
    int64_t first_created;
    int *stage_no; /* per notice */
} work_t;

static char *dup(const unsigned char *s)
{
    return strdup(s ? (const char *)s : "");
}

static int64_t col_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? 0
               : (int64_t)sqlite3_column_int64(st, i);
}

static void notice_clear(cishare_incident_notice_t *n)
{
    free(n->message_id);
    free(n->stage);
    free(n->flag);
}

static void incident_clear(cishare_incident_t *inc)
{
    size_t i;

    free(inc->origin);
    free(inc->incident_id);
    free(inc->title);
    free(inc->sector);
    free(inc->stage);
    free(inc->category);
    free(inc->impact);
    free(inc->mode);
    free(inc->legal_basis);
    free(inc->reporter);
    for (i = 0; i < inc->notice_cnt; i++)
        notice_clear(&inc->notices[i]);
    free(inc->notices);
    memset(inc, 0, sizeof(*inc));
}

void cishare_incident_list_clear(cishare_incident_list_t *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->cnt; i++)
        incident_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->cnt = 0;
}

bool cishare_incident_overdue(const cishare_incident_t *inc)
{
    int i;

    for (i = 0; i < CISHARE_DEADLINE__CNT; i++)
        if (inc->deadline[i].status == CISHARE_DL_OVERDUE)
            return true;
    return false;
}

bool cishare_incident_open(const cishare_incident_t *inc)
{
    return !inc->stage || strcmp(inc->stage, "closed");
}

/* Replace *dst by a copy of column i (NULL stays NULL-free: ""). */
static int set_col(char **dst, sqlite3_stmt *st, int i)
{
    char *s = dup(sqlite3_column_text(st, i));

    if (!s)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

/* Add the current row of st to inc (a new incident when it has none). */
static int add_notice(cishare_incident_t *inc, work_t *w, sqlite3_stmt *st)
{
    cishare_incident_notice_t *n, *ns;
    int *nos, no = sqlite3_column_int(st, 4);
    int64_t detected = col_ms(st, 9), mod = col_ms(st, 11),
            created = col_ms(st, 13);
    const unsigned char *lb = sqlite3_column_text(st, 8);

    ns = realloc(inc->notices, (inc->notice_cnt + 1) * sizeof(*ns));
    if (!ns)
        return -1;
    inc->notices = ns;
    nos = realloc(w->stage_no, (inc->notice_cnt + 1) * sizeof(*nos));
    if (!nos)
        return -1;
    w->stage_no = nos;
    n = &ns[inc->notice_cnt];
    memset(n, 0, sizeof(*n));
    nos[inc->notice_cnt] = no;
    inc->notice_cnt++;
    if (!(n->message_id = dup(sqlite3_column_text(st, 2))) ||
        !(n->stage = dup(sqlite3_column_text(st, 3))))
        return -1;
    n->reported_ms = col_ms(st, 10);
    n->created_ms = created;
    n->appended_ms = col_ms(st, 14);
    n->delivered_ms = col_ms(st, 15);
    if (sqlite3_column_type(st, 16) != SQLITE_NULL &&
        !(n->flag = dup(sqlite3_column_text(st, 16))))
        return -1;
    if (n->flag)
        inc->flagged = true;
    if (lb && !strcmp((const char *)lb, "mandatory"))
        inc->mandatory = true;
    if (detected > 0 && (!inc->detected_ms || detected < inc->detected_ms))
        inc->detected_ms = detected;
    if (!w->first_created || created < w->first_created)
        w->first_created = created;
    if (no > w->max_stage_no && no <= 3) {
        w->max_stage_no = no;
        free(inc->stage);
        if (!(inc->stage = strdup(stage_names[no])))
            return -1;
    } else if (!inc->stage && w->max_stage_no < 0 &&
               !(inc->stage = dup(sqlite3_column_text(st, 3)))) {
        return -1;
    }
    /* The fields of the latest version: the greatest modified (a later
     * value supersedes); on a tie, the later delivered. */
    if (inc->notice_cnt == 1 || mod >= w->latest_mod) {
        w->latest_mod = mod;
        if (set_col(&inc->category, st, 5) || set_col(&inc->impact, st, 6) ||
            set_col(&inc->mode, st, 7) || set_col(&inc->legal_basis, st, 8) ||
            set_col(&inc->sector, st, 12) || set_col(&inc->title, st, 17))
            return -1;
    }
    return 0;
}

/* A receipt row's attested filing time: the append time the recipient
 * read, else its delivery time (said in the evidence). */
typedef struct receipt_best_s {
    int64_t filed_ms;
    bool append_known;
    char who[64];
} receipt_best_t;

/* Look at the receipts of one notice: the earliest from a competent
 * ministry of sector into *min, the earliest delivery by the office into
 * *nco_ms. */
static int scan_receipts(sqlite3_stmt *rs, const cishare_directory_t *dir,
                         const char *origin, const char *notice_id,
                         const char *sector, receipt_best_t *min,
                         int64_t *nco_ms)
{
    int rc;

    sqlite3_bind_text(rs, 1, notice_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(rs, 2, origin, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(rs)) == SQLITE_ROW) {
        const char *who = (const char *)sqlite3_column_text(rs, 0);
        const cishare_participant_t *p =
            who ? cishare_directory_find(dir, who) : NULL;
        int64_t app = col_ms(rs, 1), del = col_ms(rs, 2),
                t = app > 0 ? app : del;

        if (!p)
            continue; /* not (or no longer) in the directory */
        if (p->role == CISHARE_ROLE_COORDINATION_OFFICE && del > 0 &&
            (!*nco_ms || del < *nco_ms))
            *nco_ms = del;
        if (p->role == CISHARE_ROLE_MINISTRY &&
            cishare_participant_in_sector(p, sector) && t > 0 &&
            (!min->filed_ms || t < min->filed_ms)) {
            min->filed_ms = t;
            min->append_known = app > 0;
            snprintf(min->who, sizeof(min->who), "%s", who);
        }
    }
    sqlite3_reset(rs);
    sqlite3_clear_bindings(rs);
    return rc == SQLITE_DONE ? 0 : -2;
}

/* Judge deadline `which` of inc at now_ms. 0, -1 out of memory, -2
 * SQLite (as finish()). */
static int judge(cishare_incident_t *inc, const work_t *w,
                 const cishare_directory_t *dir, sqlite3_stmt *rs,
                 cishare_deadline_t which, int64_t now_ms, int64_t *nco_ms)
{
    cishare_incident_deadline_t *d = &inc->deadline[which];
    int64_t within = cishare_directory_deadline_ms(dir, which);
    int need = which == CISHARE_DEADLINE_PRELIMINARY ? 0 : 1;
    const cishare_incident_notice_t *first = NULL;
    receipt_best_t best = {0};
    size_t i;

    memset(d, 0, sizeof(*d));
    if (!inc->mandatory || within <= 0 || !inc->detected_ms) {
        d->status = CISHARE_DL_NA;
        snprintf(d->evidence, sizeof(d->evidence), "%s",
                 !inc->mandatory ? "voluntary"
                 : within <= 0   ? "no deadline in the directory"
                                 : "no detected-at");
        return 0;
    }
    d->due_ms = inc->detected_ms + within;
    /* The first notice at this stage or later, on the broker's clock
     * (the delivery time when the append time is unknown). */
    for (i = 0; i < inc->notice_cnt; i++) {
        const cishare_incident_notice_t *n = &inc->notices[i];
        int64_t t = n->appended_ms > 0 ? n->appended_ms : n->delivered_ms;
        if (w->stage_no[i] < need)
            continue;
        if (!first || t < d->filed_ms) {
            first = n;
            d->filed_ms = t;
        }
        if (inc->mine && scan_receipts(rs, dir, inc->origin, n->message_id,
                                       inc->sector, &best, nco_ms))
            return -2;
    }
    if (!first) {
        d->status =
            now_ms > d->due_ms ? CISHARE_DL_OVERDUE : CISHARE_DL_PENDING;
        return 0;
    }
    if (inc->mine) {
        /* The operator's word is not evidence: the competent ministry's
         * signed receipt is. */
        if (!best.filed_ms) {
            d->status = CISHARE_DL_UNCONFIRMED;
            snprintf(d->evidence, sizeof(d->evidence),
                     "no receipt from a competent ministry yet");
            return 0;
        }
        d->filed_ms = best.filed_ms;
        /* ids are <= 63 characters: it fits */
        if (snprintf(d->evidence, sizeof(d->evidence), "receipt from %s%s",
                     best.who,
                     best.append_known ? "" : " (its delivery time)") >=
            (int)sizeof(d->evidence))
            d->evidence[sizeof(d->evidence) - 1] = '\0';
    } else {
        snprintf(d->evidence, sizeof(d->evidence), "%s",
                 first->appended_ms > 0
                     ? "broker"
                     : "delivery (broker append time unknown)");
    }
    d->status = d->filed_ms <= d->due_ms ? CISHARE_DL_MET : CISHARE_DL_LATE;
    return 0;
}

/* Reporter, deadlines and the office's receipt of a complete incident.
 * 0, -1 out of memory, -2 SQLite. */
static int finish(cishare_incident_t *inc, work_t *w,
                  const cishare_directory_t *dir, const char *me,
                  sqlite3_stmt *rs, int64_t now_ms)
{
    const cishare_participant_t *o = cishare_directory_find(dir, inc->origin);
    const cishare_participant_t *self =
        me ? cishare_directory_find(dir, me) : NULL;
    int64_t nco = 0;
    size_t i;
    int k, rc;

    inc->mine = me && !strcmp(inc->origin, me);
    /* A relay's anonymised copy carries the relay (or a pseudonym) as
     * origin: only an operator origin is a reporter. */
    if (!(inc->reporter =
              strdup(o && o->role == CISHARE_ROLE_OPERATOR ? inc->origin
                                                           : "anonymised")))
        return -1;
    if (!inc->stage && !(inc->stage = strdup("")))
        return -1;
    for (k = 0; k < CISHARE_DEADLINE__CNT; k++)
        if ((rc = judge(inc, w, dir, rs, (cishare_deadline_t)k, now_ms, &nco)))
            return rc;
    if (inc->mine) {
        /* judge() saw no receipt when nothing was due: look at all */
        for (i = 0; i < inc->notice_cnt; i++) {
            receipt_best_t b = {0};
            if (scan_receipts(rs, dir, inc->origin, inc->notices[i].message_id,
                              inc->sector, &b, &nco))
                return -2;
        }
        inc->nco_received_ms = nco;
    } else if (self && self->role == CISHARE_ROLE_COORDINATION_OFFICE) {
        for (i = 0; i < inc->notice_cnt; i++)
            if (!inc->nco_received_ms ||
                inc->notices[i].delivered_ms < inc->nco_received_ms)
                inc->nco_received_ms = inc->notices[i].delivered_ms;
    }
    return 0;
}

static int by_detection(const void *a, const void *b)
{
    const cishare_incident_t *x = a, *y = b;
    int c;

    if (x->detected_ms != y->detected_ms)
        return x->detected_ms < y->detected_ms ? -1 : 1;
    if ((c = strcmp(x->origin, y->origin)))
        return c;
    return strcmp(x->incident_id, y->incident_id);
}

cishare_err_t cishare_incidents_load(cishare_archive_t *a,
                                     const cishare_directory_t *dir,
                                     const char *me, int64_t now_ms,
                                     int64_t from_ms, int64_t to_ms,
                                     cishare_incident_list_t *out, char *errstr,
                                     size_t errstr_size)
{
    sqlite3 *db = cishare_archive_db(a);
    sqlite3_stmt *st = NULL, *rs = NULL;
    cishare_incident_t *items = NULL, *cur = NULL;
    work_t w = {0};
    size_t cnt = 0, cap = 0;
    cishare_err_t err = CISHARE_OK;
    int rc;

    out->items = NULL;
    out->cnt = 0;
    if (sqlite3_prepare_v2(db, notices_sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, receipts_sql, -1, &rs, NULL) != SQLITE_OK)
        goto db_fail;
    for (;;) {
        const char *origin, *incid;
        bool same;

        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            goto db_fail;
        origin =
            rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        incid =
            rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 1) : NULL;
        same = cur && origin && incid && !strcmp(cur->origin, origin) &&
               !strcmp(cur->incident_id, incid);
        if (cur && !same) {
            /* the previous incident is complete */
            bool keep = !(from_ms < to_ms) ||
                        (w.first_created >= from_ms && w.first_created < to_ms);
            int f = keep ? finish(cur, &w, dir, me, rs, now_ms) : 0;
            if (f == -2)
                goto db_fail;
            if (f)
                goto nomem;
            if (keep)
                cnt++;
            else
                incident_clear(cur);
            free(w.stage_no);
            memset(&w, 0, sizeof(w));
            cur = NULL;
        }
        if (rc == SQLITE_DONE)
            break;
        if (!cur) {
            if (cnt == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                cishare_incident_t *n = realloc(items, ncap * sizeof(*n));
                if (!n)
                    goto nomem;
                items = n;
                cap = ncap;
            }
            cur = &items[cnt];
            memset(cur, 0, sizeof(*cur));
            w.max_stage_no = -1;
            if (!(cur->origin = dup((const unsigned char *)origin)) ||
                !(cur->incident_id = dup((const unsigned char *)incid)))
                goto nomem;
        }
        if (add_notice(cur, &w, st))
            goto nomem;
    }
    qsort(items, cnt, sizeof(*items), by_detection);
    out->items = items;
    out->cnt = cnt;
    items = NULL;
    cnt = 0;
    goto done;

db_fail:
    err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                          "%s: reading incidents: %s", cishare_archive_path(a),
                          sqlite3_errmsg(db));
    goto fail;
nomem:
    err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                          "out of memory");
fail:
    if (cur)
        cnt++; /* cleared with the rest */
done : {
    cishare_incident_list_t l = {items, cnt};
    cishare_incident_list_clear(&l);
}
    free(w.stage_no);
    sqlite3_finalize(st);
    sqlite3_finalize(rs);
    return err;
}
