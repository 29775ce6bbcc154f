/*
 * Incidents over their life (consumers/incidents.h), judged from archive
 * rows added with cishare_archive_add() as the feed adds them: deadlines
 * met, late, overdue and pending; the origin's view through its
 * ministry's receipts (met, late, unconfirmed); voluntary incidents,
 * anonymised reporters, revoked notices, the period filter, and the
 * office's receipt time. Deadlines: deploy/examples' directory (24h, 30d).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_util.h"
#include "incidents.h"

#include "cishare/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H  3600000LL
#define D  (24 * H)
#define T0 1773100800000LL /* 2026-03-10T00:00:00Z: "now" */

static char dir[256], path[512];
static cishare_directory_t *directory;

static json_t *tstr(int64_t ms)
{
    char buf[32];
    cishare_time_format(ms, buf);
    return json_string(buf);
}

/* A notice of origin's incident inc, created (and modified) at created. */
static json_t *notice(const char *mid, const char *origin, const char *inc,
                      const char *stage, const char *legal, int64_t detected,
                      int64_t created)
{
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[s,s], s:o, s:{s:s, s:s, s:s, s:s, s:s, "
        "s:s, s:s, s:o, s:o, s:o}}",
        "message_id", mid, "type", "incident", "tlp", "amber", "origin", origin,
        "sector", "electricity", "audience", "participant:min-meti",
        "participant:nco", "created", tstr(created), "payload", "id", inc,
        "stage", stage, "title", "t", "category", "ransomware", "impact",
        "degraded", "operating_mode", "normal", "legal_basis", legal,
        "detected_at", tstr(detected), "reported_at", tstr(created), "modified",
        tstr(created));
    assert_non_null(m);
    return m;
}

/* A receipt by `by` of message `of` (of op-power-a), attesting the
 * append time appended (0: unknown) and delivered at delivered. */
static json_t *receipt(const char *mid, const char *by, const char *of,
                       int64_t appended, int64_t delivered)
{
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[s], s:o, s:{s:s, s:s, s:s, s:o}}",
        "message_id", mid, "type", "receipt", "tlp", "amber", "origin", by,
        "sector", "", "audience", "participant:op-power-a", "created",
        tstr(delivered), "payload", "id", "receipt--1", "receipt_of", of,
        "receipt_of_origin", "op-power-a", "delivered_at", tstr(delivered));
    assert_non_null(m);
    if (appended)
        json_object_set_new(json_object_get(m, "payload"), "appended_at",
                            tstr(appended));
    return m;
}

/* Add m as `me`'s feed would: appended by the broker at appended (0:
 * unknown, then delivered a second after it was created), delivered a
 * second later. */
static void add(cishare_archive_t *a, const char *me, json_t *m,
                int64_t appended)
{
    int64_t created = 0;
    cishare_archive_rec_t r = {.msg = m,
                               .me = me,
                               .appended_ms = appended,
                               .topic = "t",
                               .partition = 0,
                               .offset = 1};
    char err[256];

    assert_true(cishare_time_parse(
        json_string_value(json_object_get(m, "created")), &created));
    r.delivered_ms = (appended ? appended : created) + 1000;
    if (cishare_archive_add(a, &r, NULL, err, sizeof(err)))
        fail_msg("add: %s", err);
    json_decref(m);
}

static const cishare_incident_t *find(const cishare_incident_list_t *l,
                                      const char *id)
{
    size_t i;
    for (i = 0; i < l->cnt; i++)
        if (!strcmp(l->items[i].incident_id, id))
            return &l->items[i];
    return NULL;
}

static void load(cishare_archive_t *a, const char *me, int64_t from, int64_t to,
                 cishare_incident_list_t *l)
{
    char err[256];

    if (cishare_incidents_load(a, directory, me, T0, from, to, l, err,
                               sizeof(err)))
        fail_msg("load: %s", err);
}

#define PRE CISHARE_DEADLINE_PRELIMINARY
#define DET CISHARE_DEADLINE_DETAILED
#define assert_dl(inc, which, st, ev)                                          \
    do {                                                                       \
        assert_non_null(inc);                                                  \
        assert_string_equal(                                                   \
            cishare_dl_status_name((inc)->deadline[which].status),             \
            cishare_dl_status_name(st));                                       \
        assert_string_equal((inc)->deadline[which].evidence, ev);              \
    } while (0)

/* The ministry's view: what op-power-a (and a relay) sent to min-meti. */
static void test_recipient_view(void **state)
{
    cishare_archive_t *a;
    cishare_incident_list_t l = {0};
    const cishare_incident_t *i;
    char err[256];
    const char *me = "min-meti", *op = "op-power-a";

    (void)state;
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    /* on time: preliminary 30 min after detection */
    add(a, me,
        notice("a1", op, "inc-ontime", "preliminary", "mandatory", T0 - H,
               T0 - H / 2),
        T0 - H / 2 + 10);
    /* late: preliminary 48 h after detection; detailed not yet due */
    add(a, me,
        notice("b1", op, "inc-late", "preliminary", "mandatory", T0 - 3 * D,
               T0 - D),
        T0 - D + 10);
    /* detailed overdue: detected 40 days ago, preliminary only */
    add(a, me,
        notice("c1", op, "inc-overdue", "preliminary", "mandatory", T0 - 40 * D,
               T0 - 40 * D + H),
        T0 - 40 * D + H);
    /* both on time, then closed; the append time of the detailed notice
     * unknown: the delivery time stands in, and says so */
    add(a, me,
        notice("d1", op, "inc-closed", "preliminary", "mandatory", T0 - 20 * D,
               T0 - 20 * D + H),
        T0 - 20 * D + H);
    add(a, me,
        notice("d2", op, "inc-closed", "detailed", "mandatory", T0 - 20 * D,
               T0 - 19 * D),
        0);
    add(a, me,
        notice("d3", op, "inc-closed", "closed", "mandatory", T0 - 20 * D,
               T0 - 2 * D),
        T0 - 2 * D);
    /* voluntary: no deadline */
    add(a, me,
        notice("e1", op, "inc-voluntary", "preliminary", "voluntary",
               T0 - 50 * D, T0 - 49 * D),
        T0 - 49 * D);
    /* an anonymised copy: the relay is the origin */
    add(a, me,
        notice("f1", "ceptoar-electricity", "inc-anon", "preliminary",
               "voluntary", T0 - 5 * D, T0 - 5 * D),
        T0 - 5 * D);
    /* revoked: its notices leave the list */
    add(a, me,
        notice("g1", op, "inc-revoked", "preliminary", "mandatory", T0 - 60 * D,
               T0 - 60 * D),
        T0 - 60 * D);
    add(a, me,
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:s, s:{s:s, s:s}}",
                  "message_id", "g2", "type", "revocation", "tlp", "amber",
                  "origin", op, "sector", "electricity", "audience", "created",
                  "2026-03-01T00:00:00Z", "payload", "id", "revocation--1",
                  "revokes", "inc-revoked"),
        T0 - 9 * D);
    /* out of order: an update with no earlier notice, which files both
     * reports (a later stage) */
    add(a, me,
        notice("h1", op, "inc-orphan", "update", "mandatory", T0 - 2 * H,
               T0 - H),
        T0 - H);
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);

    load(a, me, 0, 0, &l);
    assert_int_equal(l.cnt, 7);
    /* ordered by detection */
    assert_string_equal(l.items[0].incident_id, "inc-voluntary");
    assert_string_equal(l.items[6].incident_id, "inc-ontime");
    assert_null(find(&l, "inc-revoked"));

    i = find(&l, "inc-ontime");
    assert_dl(i, PRE, CISHARE_DL_MET, "broker");
    assert_int_equal(i->deadline[PRE].due_ms, T0 - H + D);
    assert_int_equal(i->deadline[PRE].filed_ms, T0 - H / 2 + 10);
    assert_dl(i, DET, CISHARE_DL_PENDING, "");
    assert_int_equal(i->deadline[DET].due_ms, T0 - H + 30 * D);
    assert_string_equal(i->reporter, op);
    assert_string_equal(i->stage, "preliminary");
    assert_string_equal(i->category, "ransomware");
    assert_false(i->mine);
    assert_true(i->mandatory);
    assert_true(cishare_incident_open(i));
    assert_false(cishare_incident_overdue(i));
    assert_int_equal(i->notice_cnt, 1);
    assert_int_equal(i->detected_ms, T0 - H);

    i = find(&l, "inc-late");
    assert_dl(i, PRE, CISHARE_DL_LATE, "broker");
    assert_dl(i, DET, CISHARE_DL_PENDING, "");
    assert_false(cishare_incident_overdue(i));

    i = find(&l, "inc-overdue");
    assert_dl(i, PRE, CISHARE_DL_MET, "broker");
    assert_dl(i, DET, CISHARE_DL_OVERDUE, "");
    assert_int_equal(i->deadline[DET].filed_ms, 0);
    assert_true(cishare_incident_overdue(i));

    i = find(&l, "inc-closed");
    assert_dl(i, PRE, CISHARE_DL_MET, "broker");
    assert_dl(i, DET, CISHARE_DL_MET, "delivery (broker append time unknown)");
    assert_string_equal(i->stage, "closed");
    assert_false(cishare_incident_open(i));
    assert_int_equal(i->notice_cnt, 3);
    assert_string_equal(i->notices[1].stage, "detailed");
    assert_int_equal(i->notices[1].appended_ms, 0);

    i = find(&l, "inc-voluntary");
    assert_dl(i, PRE, CISHARE_DL_NA, "voluntary");
    assert_dl(i, DET, CISHARE_DL_NA, "voluntary");
    assert_false(i->mandatory);

    i = find(&l, "inc-anon");
    assert_non_null(i);
    assert_string_equal(i->reporter, "anonymised");

    i = find(&l, "inc-orphan");
    assert_true(i->flagged);
    assert_non_null(i->notices[0].flag);
    assert_non_null(strstr(i->notices[0].flag, "no earlier notice"));
    assert_string_equal(i->stage, "update");
    assert_dl(i, PRE, CISHARE_DL_MET, "broker");
    assert_dl(i, DET, CISHARE_DL_MET, "broker");
    /* the ministry is not the office: when the office got it is unknown */
    assert_int_equal(i->nco_received_ms, 0);
    cishare_incident_list_clear(&l);

    /* period: first notices created in [T0 - 21 d, T0 - 4 d): the closed
     * one (T0 - 20 d) and the anonymised one (T0 - 5 d) */
    load(a, me, T0 - 21 * D, T0 - 4 * D, &l);
    assert_int_equal(l.cnt, 2);
    assert_non_null(find(&l, "inc-closed"));
    assert_non_null(find(&l, "inc-anon"));
    cishare_incident_list_clear(&l);
    cishare_archive_close(a);
}

/* The operator's own view: its notices, judged by its ministry's
 * receipts; and the office's view. */
static void test_origin_view(void **state)
{
    cishare_archive_t *a;
    cishare_incident_list_t l = {0};
    const cishare_incident_t *i;
    char err[256];
    const char *op = "op-power-a";

    (void)state;
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    /* receipted by min-meti on time; the office delivered it at T0-20min */
    add(a, op,
        notice("a1", op, "inc-a", "preliminary", "mandatory", T0 - H,
               T0 - H / 2),
        T0 - H / 2);
    add(a, op, receipt("ra", "min-meti", "a1", T0 - H / 2 + 5, T0 - H / 3),
        T0 - H / 4);
    add(a, op, receipt("rn", "nco", "a1", T0 - H / 2 + 5, T0 - H / 3 + 7),
        T0 - H / 4);
    /* receipted by the nco and by min-fsa (not of electricity) only:
     * unconfirmed, not overdue */
    add(a, op,
        notice("b1", op, "inc-b", "preliminary", "mandatory", T0 - 3 * D,
               T0 - 3 * D + H),
        T0 - 3 * D + H);
    add(a, op, receipt("rb", "nco", "b1", T0 - 3 * D + H, T0 - 3 * D + H),
        T0 - 2 * D);
    add(a, op, receipt("rf", "min-fsa", "b1", T0 - 3 * D + H, T0 - 3 * D + H),
        T0 - 2 * D);
    /* the own copy was appended on time, but min-meti read it (its append
     * time) after the deadline, and without an append time: its delivery
     * stands in */
    add(a, op,
        notice("c1", op, "inc-c", "preliminary", "mandatory", T0 - 5 * D,
               T0 - 5 * D + H),
        T0 - 5 * D + H);
    add(a, op, receipt("rc", "min-meti", "c1", 0, T0 - 3 * D), T0 - 3 * D);
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);

    load(a, op, 0, 0, &l);
    assert_int_equal(l.cnt, 3);
    i = find(&l, "inc-a");
    assert_true(i->mine);
    assert_dl(i, PRE, CISHARE_DL_MET, "receipt from min-meti");
    assert_int_equal(i->deadline[PRE].filed_ms, T0 - H / 2 + 5);
    assert_dl(i, DET, CISHARE_DL_PENDING, "");
    assert_int_equal(i->nco_received_ms, T0 - H / 3 + 7);

    i = find(&l, "inc-b");
    assert_dl(i, PRE, CISHARE_DL_UNCONFIRMED,
              "no receipt from a competent ministry yet");
    assert_false(cishare_incident_overdue(i));
    assert_int_equal(i->nco_received_ms, T0 - 3 * D + H);

    i = find(&l, "inc-c");
    assert_dl(i, PRE, CISHARE_DL_LATE,
              "receipt from min-meti (its delivery time)");
    assert_int_equal(i->deadline[PRE].filed_ms, T0 - 3 * D);
    cishare_incident_list_clear(&l);

    /* the same archive read as the office (as if its own): it delivered
     * the notices itself */
    load(a, "nco", 0, 0, &l);
    i = find(&l, "inc-a");
    assert_false(i->mine);
    assert_dl(i, PRE, CISHARE_DL_MET, "broker");
    assert_int_equal(i->nco_received_ms, T0 - H / 2 + 1000);
    cishare_incident_list_clear(&l);
    cishare_archive_close(a);
}

/* No `reporting:` in the directory: nothing is due. */
static void test_no_deadlines(void **state)
{
    cishare_archive_t *a;
    cishare_incident_list_t l = {0};
    cishare_directory_t *d0;
    const char *src = getenv("CISHARE_SRC");
    char err[256], p[1024], *text, *r;
    size_t len = 0;

    (void)state;
    snprintf(p, sizeof(p), "%s/deploy/examples/directory.yaml",
             src ? src : ".");
    text = test_slurp(p, &len);
    /* drop the two lines after "reporting:" and the key itself */
    assert_non_null(r = strstr(text, "\nreporting:"));
    memset(r + 1, '#', 1);
    for (int k = 0; k < 2; k++) {
        r = strchr(r + 1, '\n');
        assert_non_null(r);
        r[1] = '#';
    }
    assert_int_equal(
        cishare_directory_load_buf("d", text, len, NULL, &d0, err, sizeof(err)),
        CISHARE_OK);
    free(text);
    assert_int_equal(cishare_directory_deadline_ms(d0, PRE), 0);
    assert_int_equal(cishare_archive_open(path, true, &a, err, sizeof(err)),
                     CISHARE_OK);
    add(a, "min-meti",
        notice("a1", "op-power-a", "inc-a", "preliminary", "mandatory",
               T0 - 40 * D, T0 - 39 * D),
        T0 - 39 * D);
    assert_int_equal(cishare_archive_commit(a, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(cishare_incidents_load(a, d0, "min-meti", T0, 0, 0, &l,
                                            err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(l.cnt, 1);
    assert_dl(&l.items[0], PRE, CISHARE_DL_NA, "no deadline in the directory");
    assert_dl(&l.items[0], DET, CISHARE_DL_NA, "no deadline in the directory");
    cishare_incident_list_clear(&l);
    cishare_archive_close(a);
    cishare_directory_destroy(d0);
}

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make(dir, sizeof(dir), "incidents"))
        return -1;
    snprintf(path, sizeof(path), "%s/archive.db", dir);
    return 0;
}

static int teardown(void **state)
{
    char p[600];
    (void)state;
    remove(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    remove(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    remove(p);
    return test_tmpdir_remove(dir);
}

static int group_setup(void **state)
{
    const char *src = getenv("CISHARE_SRC");
    char p[1024], err[512];

    (void)state;
    snprintf(p, sizeof(p), "%s/deploy/examples/directory.yaml",
             src ? src : ".");
    if (cishare_directory_load_unsigned(p, &directory, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cishare_directory_destroy(directory);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recipient_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_origin_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_deadlines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
