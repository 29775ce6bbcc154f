/*
 * The evaluation report (consumers/report.h) over a synthetic year.
 *
 * A fixed-seed generator writes a year (2025, with some traffic just
 * before and after it) of what op-power-a's feed would archive, through
 * cishare_archive_add() as the feed does: every message type and label,
 * several sectors, sent and received, relayed and anonymised copies,
 * incidents of 1-4 notices (mandatory and voluntary, on time and late
 * against the example directory's 24h / 30d, receipts from the NCO and
 * from competent and non-competent ministries), sightings with false
 * positives of several originating sectors, revocations. While writing,
 * it counts what the report must say with plain counters (percentiles by
 * sorting), and the report's JSON must match exactly.
 *
 * Environment (for tests/cli/report.sh): CISHARE_REPORT_ARCHIVE=FILE
 * copies the generated archive there; CISHARE_REPORT_EXPECTED=FILE
 * writes the expected "messages", "relayed" and "sightings" sections.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_util.h"
#include "archive.h"
#include "report.h"

#include "cishare/codec.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define ME         "op-power-a"
#define DAY        86400000LL
#define HOUR       3600000LL
#define P_FROM     1735689600000LL /* 2025-01-01 */
#define P_TO       1767225600000LL /* 2026-01-01 */
#define NOW        (P_TO + 14 * DAY)
#define G_FROM     (P_FROM - 31 * DAY) /* traffic outside the period too */
#define G_TO       (P_TO + 9 * DAY)
#define PRE_WITHIN (24 * HOUR) /* deploy/examples/directory.yaml */
#define DET_WITHIN (30 * DAY)

static char tmpdir[256], apath[512], path[1024];
static cishare_directory_t *dir;
static cishare_archive_t *arch;
static json_t *expect; /* the expected report (participant/period aside) */
static uint64_t seed = 0x5eed2025cafef00dULL;
/* gen_incident() overrides for one incident (0: random) */
static int64_t force_det;
static int force_k;
static unsigned long next_id;
static unsigned adds;

/* ---- the generator's PRNG (xorshift64*): fixed seed, same year ---- */

static uint64_t rnd64(void)
{
    seed ^= seed >> 12;
    seed ^= seed << 25;
    seed ^= seed >> 27;
    return seed * 0x2545F4914F6CDD1DULL;
}

static int64_t rnd(int64_t n)
{
    return n > 0 ? (int64_t)(rnd64() % (uint64_t)n) : 0;
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rnd((int64_t)n)];
}
#define PICK(v) pick(v, sizeof(v) / sizeof(v[0]))

static const char *const labels[] = {"clear", "green", "amber", "amber+strict",
                                     "red"};
static const char *const types[] = {"indicator", "incident",   "alert",
                                    "sighting",  "revocation", "receipt"};
static const char *const stages[] = {"preliminary", "detailed", "update",
                                     "closed"};
static const char *const statuses[] = {"n/a",  "pending", "met",
                                       "late", "overdue", "unconfirmed"};

/* ---- expected counters ---- */

static void inc_by(json_t *o, const char *k, json_int_t by)
{
    json_object_set_new(
        o, k, json_integer(json_integer_value(json_object_get(o, k)) + by));
}
static void inc(json_t *o, const char *k)
{
    inc_by(o, k, 1);
}
static json_t *zeros(const char *const *keys, size_t n)
{
    json_t *o = json_object();
    size_t i;
    for (i = 0; i < n; i++)
        json_object_set_new(o, keys[i], json_integer(0));
    return o;
}
static json_t *side(void)
{
    json_t *mo = json_object();
    char k[16];
    int m;
    for (m = 1; m <= 12; m++) {
        snprintf(k, sizeof(k), "2025-%02d", m);
        json_object_set_new(mo, k, json_integer(0));
    }
    return json_pack("{s:i, s:o, s:o, s:o, s:o}", "total", 0, "by_type",
                     zeros(types, 6), "by_label", zeros(labels, 5), "by_sector",
                     json_object(), "by_month", mo);
}
static bool in_period(int64_t ms)
{
    return ms >= P_FROM && ms < P_TO;
}
static json_t *ex(const char *path)
{
    char buf[128], *p, *save = NULL;
    json_t *o = expect;
    snprintf(buf, sizeof(buf), "%s", path);
    for (p = strtok_r(buf, ".", &save); p; p = strtok_r(NULL, ".", &save))
        o = json_object_get(o, p);
    assert_non_null(o);
    return o;
}

/* ---- writing through the feed's calls ---- */

static const char *new_id(const char *prefix, char out[48])
{
    snprintf(out, 48, "%s-%06lu", prefix, ++next_id);
    return out;
}

/* Add one message as op-power-a's feed delivers it, counting it. relay:
 * NULL or the relays it came through (the last one counts). */
static void deliver(const char *mid, const char *type, const char *tlp,
                    const char *origin, const char *sector, int64_t created,
                    const char *relay1, const char *relay2, json_t *payload,
                    int64_t appended)
{
    char ts[32], err[256];
    json_error_t je;
    json_t *m;
    const char *flag = NULL;
    cishare_archive_rec_t r = {.me = ME,
                               .appended_ms = appended,
                               .delivered_ms = appended + 2000,
                               .topic = "t",
                               .partition = 0,
                               .offset = (int64_t)adds};

    cishare_time_format(created, ts);
    m = json_pack_ex(&je, 0, "{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:o}",
                     "message_id", mid, "type", type, "tlp", tlp, "origin",
                     origin, "sector", sector, "audience", "participant:" ME,
                     "created", ts, "payload", payload);
    if (!m)
        fail_msg("%s: %s", mid, je.text);
    if (relay1)
        json_object_set_new(m, "relayed_by",
                            relay2 ? json_pack("[s,s]", relay1, relay2)
                                   : json_pack("[s]", relay1));
    r.msg = m;
    assert_int_equal(cishare_archive_add(arch, &r, &flag, err, sizeof(err)),
                     CISHARE_OK);
    json_decref(m);
    if (++adds % 400 == 0) /* the feed commits per batch */
        assert_int_equal(cishare_archive_commit(arch, err, sizeof(err)),
                         CISHARE_OK);
    if (in_period(created)) {
        json_t *s =
            ex(!strcmp(origin, ME) ? "messages.sent" : "messages.received");
        time_t t = (time_t)(created / 1000);
        struct tm tmv;
        char mk[32];

        gmtime_r(&t, &tmv);
        snprintf(mk, sizeof(mk), "%04d-%02d", tmv.tm_year + 1900,
                 tmv.tm_mon + 1);
        inc(s, "total");
        inc(json_object_get(s, "by_type"), type);
        inc(json_object_get(s, "by_label"), tlp);
        inc(json_object_get(s, "by_sector"), *sector ? sector : "none");
        inc(json_object_get(s, "by_month"), mk);
        if (strcmp(origin, ME) && relay1) {
            inc(ex("relayed"), "received_via_relay");
            inc(ex("relayed.by_relay"), relay2 ? relay2 : relay1);
        }
    }
}

static int64_t rnd_time(void)
{
    return G_FROM + rnd((G_TO - G_FROM) / 1000) * 1000;
}

/* ---- plain traffic: indicators, alerts, revocations, receipts ---- */

typedef struct ind_s {
    char id[48], origin[32];
    int64_t created;
    bool revoked;
} ind_t;
static ind_t inds[2400];
static size_t nind;

static void gen_indicators(void)
{
    static const char *const others[] = {"op-power-b", "op-bank-a", "op-gas-a",
                                         "jpcert",     ME,          ME};
    size_t i;
    char mid[48];

    for (i = 0; i < 2200; i++) {
        ind_t *x = &inds[nind++];
        const char *o = PICK(others), *tlp = PICK(labels), *r1 = NULL,
                   *r2 = NULL, *sec;

        x->created = rnd_time();
        snprintf(x->origin, sizeof(x->origin), "%s", o);
        snprintf(x->id, sizeof(x->id), "indicator--%05zu", i);
        sec = !strcmp(o, "op-bank-a")  ? "finance"
              : !strcmp(o, "op-gas-a") ? "gas"
              : !strcmp(o, "jpcert")   ? ""
                                       : "electricity";
        if (!strcmp(o, "op-power-b") && rnd(3) == 0)
            r1 = "ceptoar-electricity";
        else if (!strcmp(o, "op-bank-a") && rnd(2) == 0) {
            r1 = "ceptoar-finance"; /* cross-sector: through the council */
            r2 = rnd(2) ? "ceptoar-council" : NULL;
        }
        deliver(new_id("m", mid), "indicator", tlp, o, sec, x->created, r1, r2,
                json_pack("{s:s}", "id", x->id), x->created + 1000);
        if (!strcmp(tlp, "red") && strcmp(o, ME)) { /* our receipt */
            char rid[48];
            int64_t t = x->created + 60000;
            char d[32];
            cishare_time_format(t, d);
            new_id("r", rid);
            deliver(rid, "receipt", "amber", ME, "electricity", t, NULL, NULL,
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", rid,
                              "receipt_of", mid, "receipt_of_origin", o,
                              "delivered_at", d, "appended_at", d),
                    t + 1000);
        }
    }
}

static void gen_alerts(void)
{
    int i;
    char mid[48], aid[48];

    for (i = 0; i < 300; i++) {
        bool nco = rnd(3) != 0;
        int64_t t = rnd_time();
        deliver(new_id("m", mid), "alert", PICK(labels),
                nco ? "nco" : "min-meti", nco ? "" : "electricity", t,
                nco || rnd(2) ? NULL : "ceptoar-electricity", NULL,
                json_pack("{s:s}", "id", new_id("alert", aid)), t + 1000);
    }
}

static void gen_revocations(void)
{
    int i;
    char mid[48];

    for (i = 0; i < 120; i++) {
        ind_t *x = &inds[rnd((int64_t)nind)];
        int64_t t = x->created + rnd(20 * DAY / 1000) * 1000;
        const char *sec = !strcmp(x->origin, "op-bank-a")  ? "finance"
                          : !strcmp(x->origin, "op-gas-a") ? "gas"
                          : !strcmp(x->origin, "jpcert")   ? ""
                                                           : "electricity";
        char rid[48];
        deliver(new_id("m", mid), "revocation", "green", x->origin, sec, t,
                NULL, NULL,
                json_pack("{s:s, s:s}", "id", new_id("revocation", rid),
                          "revokes", x->id),
                t + 1000);
        if (!x->revoked && in_period(x->created))
            inc(ex("messages"), "revoked");
        x->revoked = true;
    }
}

/* ---- incidents ---- */

static int64_t tp[200], tn[200];
static size_t ntp, ntn;

typedef struct notice_s {
    char mid[48];
    int stage;
    int64_t created, appended, meti_t, nco_t;
} notice_t;

static void receipt(const char *from, const char *sector, const notice_t *n,
                    int64_t delivered)
{
    char rid[48], mid[48], d[32], a[32];

    cishare_time_format(delivered, d);
    cishare_time_format(n->appended, a);
    deliver(new_id("m", mid), "receipt", "amber", from, sector,
            delivered + 1000, NULL, NULL,
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", new_id("receipt", rid),
                      "receipt_of", n->mid, "receipt_of_origin", ME,
                      "delivered_at", d, "appended_at", a),
            delivered + 2000);
}

/* One incident of `origin` (kind: 0 mine, 1 received from an operator,
 * 2 anonymised copy by a CEPTOAR, 3 out of order). */
static void gen_incident(int kind, const char *origin, const char *sector,
                         const char *category)
{
    static const char *const impacts[] = {"none", "degraded", "outage"};
    static const char *const modes[] = {"normal", "normal", "large_scale"};
    static const char *const cats[] = {
        "ransomware",  "ddos",           "unauthorised_access", "malware",
        "data_breach", "service_outage", "near_miss",           "other"};
    static const int seq3b[] = {0, 1, 3};
    notice_t ns[4];
    char iid[48], dt[32], key[64];
    const char *impact = PICK(impacts), *mode = PICK(modes), *tlp;
    bool mand = force_k || (kind != 3 && rnd(5) < 3), closed3 = rnd(3) == 0;
    int k = force_k     ? force_k
            : kind == 3 ? 1
                        : 1 + (int)rnd(kind == 2 ? 2 : 4),
        i, d;
    int64_t det =
        force_det ? force_det
        : kind == 3
            ? P_FROM + 150 * DAY /* in the period */
            : G_FROM + 10 * DAY + rnd((P_TO - G_FROM - 10 * DAY) / 1000) * 1000;
    const char *relay = kind == 1 && rnd(2) ? "ceptoar-electricity" : NULL;

    if (!category)
        category = PICK(cats);
    new_id("incident", iid);
    cishare_time_format(det, dt);
    memset(ns, 0, sizeof(ns));
    for (i = 0; i < k; i++) {
        notice_t *n = &ns[i];
        char ct[32];

        n->stage = kind == 3 ? 2 : k == 3 && closed3 ? seq3b[i] : i;
        if (i == 0) /* 10 min .. 34 h after detection: some late */
            n->created = det + (600 + rnd(34 * 3600 - 600)) * 1000;
        else if (i == 1) /* 1 .. 46 days: some past 30 days */
            n->created = det + DAY + rnd(45 * 86400) * 1000;
        else
            n->created = ns[i - 1].created + HOUR + rnd(20 * 86400) * 1000;
        if (i && n->created <= ns[i - 1].created)
            n->created = ns[i - 1].created + HOUR;
        n->appended = n->created + (1 + rnd(5)) * 1000;
        tlp = mand ? (rnd(4)   ? "amber"
                      : rnd(2) ? "amber+strict"
                               : "red")
                   : (rnd(2) ? "green" : "amber");
        cishare_time_format(n->created, ct);
        deliver(new_id("m", n->mid), "incident", tlp, origin, sector,
                n->created, relay, NULL,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                          "id", iid, "title", "synthetic", "stage",
                          stages[n->stage], "category", category, "impact",
                          impact, "operating_mode", mode, "legal_basis",
                          mand ? "mandatory" : "voluntary", "detected_at", dt,
                          "reported_at", ct, "modified", ct),
                n->appended);
        if (kind == 0) { /* receipts for our own notices */
            if (rnd(100) < 80) {
                n->meti_t = n->appended; /* the append time it read */
                receipt("min-meti", "electricity", n,
                        n->appended + rnd(6 * 3600) * 1000);
            }
            if (rnd(100) < 10) /* not competent for electricity */
                receipt("min-fsa", "finance", n,
                        n->appended + rnd(3600) * 1000);
            if (rnd(100) < 75) {
                n->nco_t = n->appended + (60 + rnd(48 * 3600)) * 1000;
                receipt("nco", "", n, n->nco_t);
            }
        }
    }
    if (kind == 2) /* copies count per notice, by its own created */
        for (i = 0; i < k; i++)
            if (in_period(ns[i].created)) {
                inc(ex("relayed"), "anonymised_copies");
                inc(ex("relayed.anonymised_by_origin"), origin);
            }
    if (!in_period(ns[0].created))
        return; /* an incident counts by its first notice */

    /* what the report must say about it */
    inc(ex("incidents"), "total");
    inc(ex("incidents"), kind == 0 ? "mine" : "received");
    if (mand)
        inc(ex("incidents"), "mandatory");
    if (kind == 2) {
        inc(ex("incidents"), "anonymised");
    }
    if (kind == 3)
        inc(ex("incidents"), "flagged");
    inc(ex("incidents.by_category"), category);
    inc(ex("incidents.by_impact"), impact);
    inc(ex("incidents.by_mode"), mode);
    snprintf(key, sizeof(key), "%s/%s", impact, mode);
    inc(ex("incidents.by_impact_mode"), key);
    inc(ex("incidents.by_stage"), stages[ns[k - 1].stage]);
    for (d = 0; d < 2; d++) {
        int64_t due = det + (d ? DET_WITHIN : PRE_WITHIN), filed = 0, own = 0;
        const char *st;
        bool any = false;

        if (!mand) {
            inc(ex(d ? "incidents.deadlines.detailed"
                     : "incidents.deadlines.preliminary"),
                "n/a");
            continue;
        }
        for (i = 0; i < k; i++) {
            if (ns[i].stage < d)
                continue;
            if (!any || ns[i].appended < own)
                own = ns[i].appended;
            any = true;
            if (ns[i].meti_t && (!filed || ns[i].meti_t < filed))
                filed = ns[i].meti_t;
        }
        if (!any)
            st = NOW > due ? "overdue" : "pending";
        else if (kind != 0)
            st = (filed = own) <= due ? "met" : "late";
        else if (!filed)
            st = (filed = own, "unconfirmed");
        else
            st = filed <= due ? "met" : "late";
        inc(ex(d ? "incidents.deadlines.detailed"
                 : "incidents.deadlines.preliminary"),
            st);
        if (d == 0 && any)
            tp[ntp++] = filed - det;
    }
    if (kind == 0) {
        int64_t nco = 0;
        for (i = 0; i < k; i++)
            if (ns[i].nco_t && (!nco || ns[i].nco_t < nco))
                nco = ns[i].nco_t;
        if (nco)
            tn[ntn++] = nco - det;
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest rank, written out differently from the library: the smallest
 * value with at least p % of the values at or below it */
static json_t *stat(int64_t *v, size_t n)
{
    size_t i, med = 0, p90 = 0;
    qsort(v, n, sizeof(*v), cmp64);
    for (i = n; i-- > 0;) {
        if ((i + 1) * 100 >= n * 50)
            med = i;
        if ((i + 1) * 100 >= n * 90)
            p90 = i;
    }
    return json_pack("{s:I, s:I, s:I}", "n", (json_int_t)n, "median_ms",
                     (json_int_t)(n ? v[med] : 0), "p90_ms",
                     (json_int_t)(n ? v[p90] : 0));
}

static void gen_incidents(void)
{
    int i;

    for (i = 0; i < 62; i++)
        gen_incident(0, ME, "electricity", NULL);
    for (i = 0; i < 30; i++)
        gen_incident(1, i % 3 ? "op-power-b" : "op-gas-a",
                     i % 3 ? "electricity" : "gas", NULL);
    for (i = 0; i < 10; i++) /* one category needs escaping in HTML */
        gen_incident(2, "ceptoar-electricity", "electricity",
                     i == 4 ? "other<script>&" : NULL);
    gen_incident(3, "op-bank-a", "finance", "ddos"); /* out of order */
    /* mandatory, detected 2025-12-28, only the preliminary report yet:
     * the detailed one is pending at NOW */
    force_det = P_TO - 4 * DAY;
    force_k = 1;
    gen_incident(0, ME, "electricity", "ransomware");
    force_det = 0;
    force_k = 0;
}

/* ---- sightings ---- */

static void gen_sightings(void)
{
    /* origin of the sighting, sighted subject's origin (NULL: absent) */
    static const struct {
        const char *by, *of, *sector, *osector;
    } kinds[] = {
        {ME, "op-power-b", "electricity", "electricity"},
        {ME, "op-bank-a", "electricity", "finance"},
        {ME, "op-gas-a", "electricity", "gas"},
        {ME, "jpcert", "electricity", "none"},
        {ME, "op-ghost", "electricity", "unknown"},
        {"op-power-b", ME, "electricity", "electricity"},
        {"op-bank-a", ME, "finance", "electricity"},
        {"ceptoar-electricity", ME, "electricity", "electricity"},
        {"jpcert", ME, "", "electricity"},
        {"op-gas-a", NULL, "gas", "unknown"},
    };
    int i;
    char mid[48], sid[48];

    for (i = 0; i < 500; i++) {
        size_t k = (size_t)rnd(sizeof(kinds) / sizeof(kinds[0]));
        int64_t t = rnd_time();
        bool fp = rnd(100) < (int64_t)(10 + 8 * k);
        json_t *p =
            json_pack("{s:s, s:s, s:b, s:i}", "id", new_id("sighting", sid),
                      "sighting_of", "indicator--x", "false_positive", fp,
                      "count", 1 + (int)rnd(5));

        if (kinds[k].of)
            json_object_set_new(p, "sighting_of_origin",
                                json_string(kinds[k].of));
        deliver(new_id("m", mid), "sighting", "amber", kinds[k].by,
                kinds[k].sector, t, NULL, NULL, p, t + 1000);
        if (in_period(t)) {
            json_t *e, *by = ex("sightings.by_origin_sector");
            inc(ex("sightings"), "total");
            inc(ex("sightings"), strcmp(kinds[k].by, ME) ? "received" : "sent");
            if (!(e = json_object_get(by, kinds[k].osector))) {
                e = json_pack("{s:i, s:i}", "sightings", 0, "false_positives",
                              0);
                json_object_set_new(by, kinds[k].osector, e);
            }
            inc(e, "sightings");
            if (fp) {
                inc(e, "false_positives");
                inc(ex("sightings"), "false_positives");
            }
        }
    }
}

/* ---- setup: generate once ---- */

/* CISHARE_SRC (set by ctest), else the tree this file is in */
static const char *src_dir(void)
{
    static char buf[512];
    const char *s = getenv("CISHARE_SRC");
    char *cut;

    if (s && *s)
        return s;
    snprintf(buf, sizeof(buf), "%s", __FILE__);
    if ((cut = strstr(buf, "/tests/unit/")))
        *cut = '\0';
    else
        snprintf(buf, sizeof(buf), ".");
    return buf;
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *buf = test_slurp(from, &n);
    FILE *fp = fopen(to, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(buf);
}

static int setup(void **state)
{
    char err[2048];
    const char *out;
    json_t *by, *e;
    const char *k;

    (void)state;
    if (test_tmpdir_make(tmpdir, sizeof(tmpdir), "report"))
        return -1;
    snprintf(apath, sizeof(apath), "%s/archive.db", tmpdir);
    snprintf(path, sizeof(path), "%s/deploy/examples/directory.yaml",
             src_dir());
    if (cishare_directory_load_unsigned(path, &dir, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (cishare_archive_open(apath, true, &arch, err, sizeof(err)))
        return -1;
    expect = json_pack(
        "{s:{s:o, s:o, s:i}, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:{}, s:{}, "
        "s:{}, s:{}, s:o, s:{s:o, s:o}}, s:{s:i, s:{}, s:i, s:{}}, "
        "s:{s:i, s:i, s:i, s:i, s:{}}}",
        "messages", "received", side(), "sent", side(), "revoked", 0,
        "incidents", "total", 0, "mine", 0, "received", 0, "mandatory", 0,
        "anonymised", 0, "flagged", 0, "by_category", "by_impact", "by_mode",
        "by_impact_mode", "by_stage", zeros(stages, 4), "deadlines",
        "preliminary", zeros(statuses, 6), "detailed", zeros(statuses, 6),
        "relayed", "received_via_relay", 0, "by_relay", "anonymised_copies", 0,
        "anonymised_by_origin", "sightings", "total", 0, "sent", 0, "received",
        0, "false_positives", 0, "by_origin_sector");
    if (!expect)
        return -1;
    gen_indicators();
    gen_alerts();
    gen_revocations();
    gen_incidents();
    gen_sightings();
    if (cishare_archive_commit(arch, err, sizeof(err)))
        return -1;
    json_object_set_new(ex("incidents"), "to_preliminary", stat(tp, ntp));
    json_object_set_new(ex("incidents"), "to_nco_receipt", stat(tn, ntn));
    by = ex("sightings.by_origin_sector");
    json_object_foreach(by, k, e) json_object_set_new(
        e, "fp_rate",
        json_real(
            (double)json_integer_value(json_object_get(e, "false_positives")) /
            (double)json_integer_value(json_object_get(e, "sightings"))));
    if ((out = getenv("CISHARE_REPORT_ARCHIVE")) && *out) {
        cishare_archive_close(arch); /* checkpoints the WAL into the file */
        copy_file(apath, out);
        if (cishare_archive_open(apath, false, &arch, err, sizeof(err)))
            return -1;
    }
    if ((out = getenv("CISHARE_REPORT_EXPECTED")) && *out) {
        json_t *x =
            json_pack("{s:O, s:O, s:O}", "messages", ex("messages"), "relayed",
                      ex("relayed"), "sightings", ex("sightings"));
        if (json_dump_file(x, out, JSON_SORT_KEYS | JSON_COMPACT))
            return -1;
        json_decref(x);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_archive_close(arch);
    cishare_directory_destroy(dir);
    json_decref(expect);
    return test_tmpdir_remove(tmpdir);
}

/* ---- the tests ---- */

static void same(const char *what, const json_t *want, const json_t *got)
{
    if (!json_equal((json_t *)want, (json_t *)got)) {
        char *a = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
        char *b = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
        fail_msg("%s differs:\nexpected %s\ngot      %s", what, a, b);
    }
}

static json_t *year(void)
{
    json_t *rep = NULL;
    char err[512];
    assert_int_equal(cishare_report_build(arch, dir, ME, P_FROM, P_TO, NOW,
                                          &rep, err, sizeof(err)),
                     CISHARE_OK);
    return rep;
}

static void test_year_figures(void **state)
{
    json_t *rep = year();
    const char *k;
    json_t *v;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(rep, "participant"), "id")),
                        ME);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(rep, "period"), "from")),
                        "2025-01-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(rep, "period"), "to")),
                        "2026-01-01T00:00:00Z");
    /* section by section, then every member */
    json_object_foreach(expect, k, v) same(k, v, json_object_get(rep, k));
    json_object_foreach(ex("incidents"), k, v)
        same(k, v, json_object_get(json_object_get(rep, "incidents"), k));
    /* the generator made what the test claims to cover */
    assert_true(json_integer_value(json_object_get(ex("incidents"), "mine")) >
                20);
    assert_true(json_integer_value(json_object_get(
                    ex("incidents.deadlines.preliminary"), "late")) > 0);
    assert_true(json_integer_value(json_object_get(
                    ex("incidents.deadlines.preliminary"), "met")) > 0);
    assert_true(json_integer_value(json_object_get(
                    ex("incidents.deadlines.detailed"), "overdue")) > 0);
    assert_true(json_integer_value(json_object_get(
                    ex("incidents.deadlines.preliminary"), "unconfirmed")) > 0);
    assert_int_equal(
        json_integer_value(json_object_get(ex("incidents"), "flagged")), 1);
    assert_true(json_integer_value(json_object_get(
                    ex("incidents.deadlines.detailed"), "pending")) > 0);
    /* odd counts: a median or 90th percentile one rank off shows */
    assert_int_equal(json_integer_value(
                         json_object_get(ex("incidents.to_preliminary"), "n")) %
                         2,
                     1);
    assert_int_equal(json_integer_value(
                         json_object_get(ex("incidents.to_nco_receipt"), "n")) %
                         2,
                     1);
    assert_true(json_integer_value(
                    json_object_get(ex("relayed"), "anonymised_copies")) > 0);
    assert_true(json_object_size(ex("sightings.by_origin_sector")) >= 5);
    json_decref(rep);
}

static void test_empty_period(void **state)
{
    json_t *rep = NULL, *r;
    char err[512];
    int64_t y2030 = cishare_time_days_from_civil(2030, 1, 1) * DAY;

    (void)state;
    /* from == to: nothing at all */
    assert_int_equal(cishare_report_build(arch, dir, ME, P_FROM, P_FROM, NOW,
                                          &rep, err, sizeof(err)),
                     CISHARE_OK);
    r = json_object_get(json_object_get(rep, "messages"), "received");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 0);
    assert_int_equal(json_object_size(json_object_get(r, "by_month")), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(r, "by_type"), "indicator")),
                     0);
    json_decref(rep);
    /* a month with no traffic: its month, zeros */
    assert_int_equal(cishare_report_build(arch, dir, ME, y2030,
                                          y2030 + 31 * DAY, NOW, &rep, err,
                                          sizeof(err)),
                     CISHARE_OK);
    r = json_object_get(json_object_get(rep, "messages"), "sent");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(r, "by_month"), "2030-01")),
                     0);
    assert_int_equal(json_object_size(json_object_get(r, "by_month")), 1);
    r = json_object_get(rep, "incidents");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(r, "to_preliminary"), "n")),
                     0);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(r, "deadlines"), "preliminary"),
            "overdue")),
        0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(rep, "sightings"), "total")),
                     0);
    json_decref(rep);
    /* from after to: refused */
    assert_int_equal(cishare_report_build(arch, dir, ME, P_TO, P_FROM, NOW,
                                          &rep, err, sizeof(err)),
                     CISHARE_ERR_INVALID_ARG);
}

static char *render(const json_t *rep, cishare_report_format_t f)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    assert_int_equal(cishare_report_render(rep, f, fp), 0);
    fclose(fp);
    return buf;
}

static void test_render(void **state)
{
    json_t *rep = year();
    char *t, line[128];

    (void)state;
    t = render(rep, CISHARE_REPORT_TEXT);
    assert_non_null(strstr(t, "== Incidents =="));
    assert_non_null(strstr(t, "Power Company A"));
    free(t);
    t = render(rep, CISHARE_REPORT_CSV);
    assert_true(!strncmp(t, "section,group,key,value\n", 24));
    snprintf(line, sizeof(line),
             "\nmessages,received.by_type,indicator,%" JSON_INTEGER_FORMAT "\n",
             json_integer_value(json_object_get(ex("messages.received.by_type"),
                                                "indicator")));
    assert_non_null(strstr(t, line));
    free(t);
    t = render(rep, CISHARE_REPORT_HTML);
    assert_true(!strncmp(t, "<!DOCTYPE html>", 15));
    assert_non_null(strstr(t, "<svg"));
    assert_non_null(strstr(t, "Messages per month"));
    assert_non_null(strstr(t, "other&lt;script&gt;&amp;")); /* escaped */
    assert_null(strstr(t, "<script"));
    assert_null(strstr(t, "http://"));
    assert_null(strstr(t, "https://"));
    assert_null(strstr(t, "url("));
    free(t);
    t = render(rep, CISHARE_REPORT_JSON);
    {
        json_error_t je;
        json_t *back = json_loads(t, 0, &je);
        assert_non_null(back);
        assert_true(json_equal(back, rep));
        json_decref(back);
    }
    free(t);
    json_decref(rep);
}

static void test_dates(void **state)
{
    int64_t ms;

    (void)state;
    assert_true(cishare_report_date_parse("2025-01-01", false, &ms));
    assert_int_equal(ms, P_FROM);
    assert_true(cishare_report_date_parse("2025-12-31", true, &ms));
    assert_int_equal(ms, P_TO);
    assert_true(cishare_report_date_parse("2024-02-29", false, &ms));
    assert_false(cishare_report_date_parse("2025-02-29", false, &ms));
    assert_false(cishare_report_date_parse("2025-13-01", false, &ms));
    assert_false(cishare_report_date_parse("2025/01/01", false, &ms));
    assert_false(cishare_report_date_parse("yesterday", false, &ms));
    assert_true(
        cishare_report_date_parse("2025-04-01T09:00:00+09:00", true, &ms));
    assert_int_equal(ms, cishare_time_days_from_civil(2025, 4, 1) * DAY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_year_figures),
        cmocka_unit_test(test_empty_period),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
