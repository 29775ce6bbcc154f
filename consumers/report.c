/*
 * cishare - the evaluation report: figures of a period from the archive
 * (report.h), and their text, CSV and HTML renderings.
 */
#include "report.h"

#include "incidents.h"

#include "cishare/codec.h"
#include "cishare/types.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Beyond this many months the month series holds only months with
 * messages (a period of centuries would be all zeros). */
#define REPORT_MONTHS_MAX 240

static const char *const stage_names[] = {"preliminary", "detailed", "update",
                                          "closed"};

bool cishare_report_format_parse(const char *s, cishare_report_format_t *fmtp)
{
    static const char *const names[] = {"text", "json", "csv", "html"};
    int i;

    for (i = 0; s && i < 4; i++)
        if (!strcmp(s, names[i])) {
            *fmtp = (cishare_report_format_t)i;
            return true;
        }
    return false;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

bool cishare_report_date_parse(const char *s, bool end_of_day, int64_t *msp)
{
    int i, y, m, d;

    if (!s)
        return false;
    if (strlen(s) != 10) /* not a date: perhaps an RFC 3339 time */
        return cishare_time_parse(s, msp);
    for (i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays(y, m))
        return false;
    *msp = (cishare_time_days_from_civil(y, (unsigned)m, (unsigned)d) +
            (end_of_day ? 1 : 0)) *
           86400000LL;
    return true;
}

/* ---- building ---- */

static void inc_by(json_t *o, const char *k, json_int_t by)
{
    json_object_set_new(
        o, k, json_integer(json_integer_value(json_object_get(o, k)) + by));
}

static void inc(json_t *o, const char *k)
{
    inc_by(o, k, 1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* o's keys in ascending order: a new object (o is released). */
static json_t *sorted(json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    json_t *out = json_object(), *v;
    const char *k;

    if (!keys || !out) {
        free(keys);
        json_decref(out);
        return o; /* unsorted rather than lost */
    }
    json_object_foreach(o, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(o, keys[i]));
    free(keys);
    json_decref(o);
    return out;
}

static void month_key(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tmv;

    if (!gmtime_r(&t, &tmv)) {
        snprintf(out, 32, "?");
        return;
    }
    snprintf(out, 32, "%04d-%02d", tmv.tm_year + 1900, tmv.tm_mon + 1);
}

static json_t *side_new(int64_t from_ms, int64_t to_ms)
{
    json_t *s = json_object(), *t = json_object(), *l = json_object(),
           *mo = json_object();
    int i;

    for (i = 0; i < CISHARE_MSG__CNT; i++)
        json_object_set_new(t, cishare_msgtype_name((cishare_msgtype_t)i),
                            json_integer(0));
    for (i = 0; i < CISHARE_TLP__CNT; i++)
        json_object_set_new(l, cishare_tlp_name((cishare_tlp_t)i),
                            json_integer(0));
    if (from_ms < to_ms) {
        char k[32];
        time_t tt = (time_t)(from_ms / 1000);
        struct tm tmv;
        int y, m, n = 0;
        int64_t start;

        if (gmtime_r(&tt, &tmv)) {
            y = tmv.tm_year + 1900;
            m = tmv.tm_mon + 1;
            for (;;) {
                start = cishare_time_days_from_civil(y, (unsigned)m, 1) *
                        86400000LL;
                if (start >= to_ms || ++n > REPORT_MONTHS_MAX)
                    break;
                snprintf(k, sizeof(k), "%04d-%02d", y, m);
                json_object_set_new(mo, k, json_integer(0));
                if (++m > 12) {
                    m = 1;
                    y++;
                }
            }
            if (n > REPORT_MONTHS_MAX)
                json_object_clear(mo);
        }
    }
    json_object_set_new(s, "total", json_integer(0));
    json_object_set_new(s, "by_type", t);
    json_object_set_new(s, "by_label", l);
    json_object_set_new(s, "by_sector", json_object());
    json_object_set_new(s, "by_month", mo);
    return s;
}

static cishare_err_t sql_err(cishare_archive_t *a, const char *what,
                             char *errstr, size_t errstr_size)
{
    return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s: %s",
                           cishare_archive_path(a), what,
                           sqlite3_errmsg(cishare_archive_db(a)));
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static int prep_period(cishare_archive_t *a, const char *sql, int64_t from_ms,
                       int64_t to_ms, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(cishare_archive_db(a), sql, -1, st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_int64(*st, 1, from_ms);
    sqlite3_bind_int64(*st, 2, to_ms);
    return 0;
}

static cishare_err_t build_messages(cishare_archive_t *a, int64_t from_ms,
                                    int64_t to_ms, json_t *rep, char *errstr,
                                    size_t errstr_size)
{
    json_t *m = json_object(), *recv = side_new(from_ms, to_ms),
           *sent = side_new(from_ms, to_ms), *side;
    sqlite3_stmt *st = NULL;
    json_int_t revoked = 0;
    char mk[32];
    int rc;

    json_object_set_new(m, "received", recv);
    json_object_set_new(m, "sent", sent);
    json_object_set_new(rep, "messages", m);
    if (prep_period(a,
                    "SELECT type, tlp, sector, created, sent, revoked FROM "
                    "messages WHERE created >= ?1 AND created < ?2 "
                    "ORDER BY created",
                    from_ms, to_ms, &st))
        return sql_err(a, "query messages", errstr, errstr_size);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *sector = col(st, 2);
        side = sqlite3_column_int(st, 4) ? sent : recv;
        inc(side, "total");
        inc(json_object_get(side, "by_type"), col(st, 0));
        inc(json_object_get(side, "by_label"), col(st, 1));
        inc(json_object_get(side, "by_sector"), *sector ? sector : "none");
        month_key(sqlite3_column_int64(st, 3), mk);
        inc(json_object_get(side, "by_month"), mk);
        revoked += sqlite3_column_int(st, 5) != 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_err(a, "read messages", errstr, errstr_size);
    json_object_set_new(
        recv, "by_sector",
        sorted(json_incref(json_object_get(recv, "by_sector"))));
    json_object_set_new(
        sent, "by_sector",
        sorted(json_incref(json_object_get(sent, "by_sector"))));
    json_object_set_new(m, "revoked", json_integer(revoked));
    return CISHARE_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the value at rank ceil(p * n / 100), 1-based. */
static int64_t pct(const int64_t *v, size_t n, unsigned p)
{
    size_t rank = (p * n + 99) / 100;
    return n ? v[rank ? rank - 1 : 0] : 0;
}

static json_t *stat(int64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    return json_pack("{s:I, s:I, s:I}", "n", (json_int_t)n, "median_ms",
                     (json_int_t)pct(v, n, 50), "p90_ms",
                     (json_int_t)pct(v, n, 90));
}

static const char *or_unknown(const char *s)
{
    return s && *s ? s : "unknown";
}

static cishare_err_t build_incidents(cishare_archive_t *a,
                                     const cishare_directory_t *dir,
                                     const char *me, int64_t from_ms,
                                     int64_t to_ms, int64_t now_ms, json_t *rep,
                                     char *errstr, size_t errstr_size)
{
    cishare_incident_list_t l = {0};
    json_t *o, *cat = json_object(), *imp = json_object(),
               *mode = json_object(), *im = json_object(),
               *stage = json_object(), *dl[2];
    int64_t *tp = NULL, *tn = NULL;
    size_t i, np = 0, nn = 0;
    json_int_t mine = 0, mand = 0, anon = 0, flagged = 0;
    cishare_err_t err;
    char k[160];
    int d, s;

    for (i = 0; i < 4; i++)
        json_object_set_new(stage, stage_names[i], json_integer(0));
    for (d = 0; d < 2; d++) {
        dl[d] = json_object();
        for (s = 0; s < CISHARE_DL__CNT; s++)
            json_object_set_new(dl[d],
                                cishare_dl_status_name((cishare_dl_status_t)s),
                                json_integer(0));
    }
    if (from_ms < to_ms &&
        (err = cishare_incidents_load(a, dir, me, now_ms, from_ms, to_ms, &l,
                                      errstr, errstr_size))) {
        json_decref(cat);
        json_decref(imp);
        json_decref(mode);
        json_decref(im);
        json_decref(stage);
        json_decref(dl[0]);
        json_decref(dl[1]);
        return err;
    }
    tp = calloc(l.cnt + 1, sizeof(*tp));
    tn = calloc(l.cnt + 1, sizeof(*tn));
    for (i = 0; tp && tn && i < l.cnt; i++) {
        const cishare_incident_t *x = &l.items[i];
        const cishare_incident_deadline_t *pre =
            &x->deadline[CISHARE_DEADLINE_PRELIMINARY];

        mine += x->mine;
        mand += x->mandatory;
        flagged += x->flagged;
        anon += x->reporter && !strcmp(x->reporter, "anonymised");
        inc(cat, or_unknown(x->category));
        inc(imp, or_unknown(x->impact));
        inc(mode, or_unknown(x->mode));
        snprintf(k, sizeof(k), "%s/%s", or_unknown(x->impact),
                 or_unknown(x->mode));
        inc(im, k);
        inc(stage, or_unknown(x->stage));
        for (d = 0; d < 2; d++)
            inc(dl[d], cishare_dl_status_name(x->deadline[d].status));
        if (x->detected_ms > 0 && pre->filed_ms > 0)
            tp[np++] = pre->filed_ms - x->detected_ms;
        if (x->detected_ms > 0 && x->nco_received_ms > 0)
            tn[nn++] = x->nco_received_ms - x->detected_ms;
    }
    o = json_object();
    json_object_set_new(o, "total", json_integer((json_int_t)l.cnt));
    json_object_set_new(o, "mine", json_integer(mine));
    json_object_set_new(o, "received", json_integer((json_int_t)l.cnt - mine));
    json_object_set_new(o, "mandatory", json_integer(mand));
    json_object_set_new(o, "anonymised", json_integer(anon));
    json_object_set_new(o, "flagged", json_integer(flagged));
    json_object_set_new(o, "by_category", sorted(cat));
    json_object_set_new(o, "by_impact", sorted(imp));
    json_object_set_new(o, "by_mode", sorted(mode));
    json_object_set_new(o, "by_impact_mode", sorted(im));
    json_object_set_new(o, "by_stage", stage);
    json_object_set_new(o, "to_preliminary", stat(tp, np));
    json_object_set_new(o, "to_nco_receipt", stat(tn, nn));
    json_object_set_new(
        o, "deadlines",
        json_pack("{s:o, s:o}", "preliminary", dl[0], "detailed", dl[1]));
    json_object_set_new(rep, "incidents", o);
    err = tp && tn ? CISHARE_OK
                   : cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                     "out of memory");
    free(tp);
    free(tn);
    cishare_incident_list_clear(&l);
    return err;
}

static cishare_err_t build_relayed(cishare_archive_t *a,
                                   const cishare_directory_t *dir,
                                   int64_t from_ms, int64_t to_ms, json_t *rep,
                                   char *errstr, size_t errstr_size)
{
    json_t *by = json_object(), *anon = json_object(), *o = json_object();
    json_int_t nrel = 0, nanon = 0;
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_ERROR;

    json_object_set_new(o, "received_via_relay", json_integer(0));
    json_object_set_new(o, "by_relay", by);
    json_object_set_new(o, "anonymised_copies", json_integer(0));
    json_object_set_new(o, "anonymised_by_origin", anon);
    json_object_set_new(rep, "relayed", o);
    if (!prep_period(a,
                     "SELECT relayed_by, count(*) FROM messages WHERE sent = "
                     "0 AND relayed_by IS NOT NULL AND created >= ?1 AND "
                     "created < ?2 GROUP BY relayed_by ORDER BY relayed_by",
                     from_ms, to_ms, &st)) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            nrel += sqlite3_column_int64(st, 1);
            inc_by(by, col(st, 0), sqlite3_column_int64(st, 1));
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        return sql_err(a, "query relayed messages", errstr, errstr_size);
    rc = SQLITE_ERROR;
    /* an anonymised copy is the relay's own message: its origin is the
     * relay (anonymise.h), never an operator */
    if (!prep_period(a,
                     "SELECT origin, count(*) FROM messages WHERE type = "
                     "'incident' AND created >= ?1 AND created < ?2 "
                     "GROUP BY origin ORDER BY origin",
                     from_ms, to_ms, &st)) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const cishare_participant_t *p =
                dir ? cishare_directory_find(dir, col(st, 0)) : NULL;
            if (p && p->role == CISHARE_ROLE_OPERATOR)
                continue;
            nanon += sqlite3_column_int64(st, 1);
            inc_by(anon, col(st, 0), sqlite3_column_int64(st, 1));
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_err(a, "query incident notices", errstr, errstr_size);
    json_object_set_new(o, "received_via_relay", json_integer(nrel));
    json_object_set_new(o, "anonymised_copies", json_integer(nanon));
    return CISHARE_OK;
}

static const char *origin_sector(const cishare_directory_t *dir,
                                 const char *origin)
{
    const cishare_participant_t *p =
        dir && origin && *origin ? cishare_directory_find(dir, origin) : NULL;
    if (!p)
        return "unknown";
    return p->sector_cnt ? p->sectors[0] : "none";
}

static cishare_err_t build_sightings(cishare_archive_t *a,
                                     const cishare_directory_t *dir,
                                     const char *me, int64_t from_ms,
                                     int64_t to_ms, json_t *rep, char *errstr,
                                     size_t errstr_size)
{
    json_t *by = json_object(), *o = json_object(), *e;
    json_int_t total = 0, nsent = 0, fp = 0;
    sqlite3_stmt *st = NULL;
    const char *k;
    int rc = SQLITE_ERROR;

    json_object_set_new(rep, "sightings", o);
    if (!prep_period(a,
                     "SELECT origin, sighting_of_origin, false_positive FROM "
                     "sightings WHERE created >= ?1 AND created < ?2",
                     from_ms, to_ms, &st)) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *sec = origin_sector(dir, col(st, 1));
            int isfp = sqlite3_column_int(st, 2) != 0;

            total++;
            nsent += me && !strcmp(col(st, 0), me);
            fp += isfp;
            if (!(e = json_object_get(by, sec))) {
                e = json_pack("{s:i, s:i}", "sightings", 0, "false_positives",
                              0);
                json_object_set_new(by, sec, e);
            }
            inc(e, "sightings");
            if (isfp)
                inc(e, "false_positives");
        }
    }
    sqlite3_finalize(st);
    json_object_foreach(by, k, e) json_object_set_new(
        e, "fp_rate",
        json_real(
            (double)json_integer_value(json_object_get(e, "false_positives")) /
            (double)json_integer_value(json_object_get(e, "sightings"))));
    json_object_set_new(o, "total", json_integer(total));
    json_object_set_new(o, "sent", json_integer(nsent));
    json_object_set_new(o, "received", json_integer(total - nsent));
    json_object_set_new(o, "false_positives", json_integer(fp));
    json_object_set_new(o, "by_origin_sector", sorted(by));
    if (rc != SQLITE_DONE)
        return sql_err(a, "query sightings", errstr, errstr_size);
    return CISHARE_OK;
}

cishare_err_t cishare_report_build(cishare_archive_t *a,
                                   const cishare_directory_t *dir,
                                   const char *me, int64_t from_ms,
                                   int64_t to_ms, int64_t now_ms, json_t **outp,
                                   char *errstr, size_t errstr_size)
{
    const cishare_participant_t *p =
        dir && me ? cishare_directory_find(dir, me) : NULL;
    char f[32], t[32], n[32];
    json_t *rep;
    cishare_err_t err;

    *outp = NULL;
    if (from_ms > to_ms)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "the period starts after it ends");
    cishare_time_format(from_ms, f);
    cishare_time_format(to_ms, t);
    cishare_time_format(now_ms, n);
    rep = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:s}", "participant",
                    "id", me ? me : "", "name", p ? p->name : "", "role",
                    p ? cishare_role_name(p->role) : "", "period", "from", f,
                    "to", t, "generated_at", n);
    if (!rep)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    if ((err = build_messages(a, from_ms, to_ms, rep, errstr, errstr_size)) ||
        (err = build_incidents(a, dir, me, from_ms, to_ms, now_ms, rep, errstr,
                               errstr_size)) ||
        (err =
             build_relayed(a, dir, from_ms, to_ms, rep, errstr, errstr_size)) ||
        (err = build_sightings(a, dir, me, from_ms, to_ms, rep, errstr,
                               errstr_size))) {
        json_decref(rep);
        return err;
    }
    *outp = rep;
    return CISHARE_OK;
}
