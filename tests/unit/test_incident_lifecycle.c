/*
 * An incident over its life through the real feed, on the mock cluster
 * (hostile.h): op-power-a's preliminary and detailed notices, then a late
 * copy of an older version, then an update of an incident never seen.
 * min-meti's feed delivers all four (nothing dropped); JSON Lines keeps
 * every notice; the STIX sink keeps the latest version (same id, newest
 * `modified`), the older one arriving after it does not replace it; the
 * two notices out of order are flagged in the archive, logged and counted
 * (stats incident_flagged), and `cishare incidents`' loader sees them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_util.h"
#include "hostile.h"
#include "incidents.h"

#define H 3600000LL

static json_t *tstr(int64_t ms)
{
    char buf[32];
    cishare_time_format(ms, buf);
    return json_string(buf);
}

/* schemas/examples' incident as notice `stage` of incident id, version
 * `modified`, to min-meti and the office only (their inboxes: one topic
 * each, so min-meti reads them in publish order). */
static json_t *notice(const char *id, const char *stage, int64_t detected,
                      int64_t modified)
{
    json_t *m = hostile_example("incident"), *p;

    json_object_set_new(
        m, "audience",
        json_pack("[s,s]", "participant:min-meti", "participant:nco"));
    p = json_object_get(m, "payload");
    json_object_del(p, "indicators");
    json_object_set_new(p, "id", json_string(id));
    json_object_set_new(p, "stage", json_string(stage));
    json_object_set_new(p, "detected_at", tstr(detected));
    json_object_set_new(p, "created", tstr(detected + H / 2));
    json_object_set_new(p, "reported_at", tstr(modified));
    json_object_set_new(p, "modified", tstr(modified));
    return m;
}

static void publish(hostile_t *h, json_t *m)
{
    hostile_publish(h, "op-power-a", m);
    json_decref(m);
}

static const json_t *stix_find(const json_t *b, const char *type, int *cnt)
{
    const json_t *o, *found = NULL;
    size_t i;

    *cnt = 0;
    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *t = json_string_value(json_object_get(o, "type"));
        if (t && !strcmp(t, type)) {
            ++*cnt;
            found = o;
        }
    }
    return found;
}

static void test_lifecycle_through_feed(void **state)
{
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    cishare_archive_t *a;
    cishare_incident_list_t l = {0};
    int64_t now = cishare_time_now_ms(), det = now - 5 * H;
    char path[1600], errstr[512], want[32], *text, *p;
    const json_t *o;
    json_t *b;
    json_error_t jerr;
    int n, lines = 0;
    size_t i;

    (void)state;
    publish(h, notice("incident--x", "preliminary", det, det + H));
    publish(h, notice("incident--x", "detailed", det, det + 3 * H));
    /* a late copy of an older version (e.g. re-sent by a relay) */
    publish(h, notice("incident--x", "preliminary", det, det + 2 * H));
    publish(h, notice("incident--y", "update", det, det + H));
    hostile_feed_ok(h, "min-meti", "jsonl,stix", &st);

    /* delivered, all of them; two flagged, logged */
    assert_int_equal(st.delivered, 4);
    assert_int_equal(st.quarantined, 0);
    assert_int_equal(st.incident_flagged, 2);
    assert_non_null(strstr(h->lines, "delivered, out-of-order: no earlier "
                                     "notice of this incident"));
    assert_non_null(strstr(h->lines, "delivered, out-of-order: preliminary "
                                     "notice after a later stage"));

    /* JSON Lines: every notice */
    snprintf(path, sizeof(path), "%s/feed.jsonl", hostile_out(h, "min-meti"));
    text = test_slurp(path, NULL);
    for (p = text; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 4);
    free(text);

    /* STIX: one incident per incident id, the latest version of x */
    snprintf(path, sizeof(path), "%s/stix/bundle.json",
             hostile_out(h, "min-meti"));
    if (!(b = json_load_file(path, 0, &jerr)))
        fail_msg("%s: %s", path, jerr.text);
    stix_find(b, "incident", &n);
    assert_int_equal(n, 2);
    cishare_time_format(det + 3 * H, want);
    want[19] = '\0'; /* the sink writes ".000Z" */
    n = 0;
    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *t = json_string_value(json_object_get(o, "type"));
        const char *d = json_string_value(json_object_get(o, "description"));
        if (t && !strcmp(t, "report") && d && strstr(d, "Stage: detailed")) {
            assert_int_equal(
                strncmp(json_string_value(json_object_get(o, "modified")), want,
                        19),
                0);
            n++;
        }
        /* the older version is not in the bundle */
        assert_false(t && !strcmp(t, "report") && d &&
                     strstr(d, "Stage: preliminary"));
    }
    assert_int_equal(n, 1);
    json_decref(b);

    /* the archive: flagged notices, the furthest stage */
    snprintf(path, sizeof(path), "%s/archive.db", hostile_out(h, "min-meti"));
    assert_int_equal(
        cishare_archive_open(path, false, &a, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_int_equal(cishare_incidents_load(a, h->d, "min-meti", now, 0, 0, &l,
                                            errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(l.cnt, 2);
    for (i = 0; i < l.cnt; i++) {
        const cishare_incident_t *inc = &l.items[i];
        assert_true(inc->flagged);
        if (!strcmp(inc->incident_id, "incident--x")) {
            assert_string_equal(inc->stage, "detailed");
            assert_int_equal(inc->notice_cnt, 3);
            assert_null(inc->notices[0].flag);
            assert_non_null(inc->notices[2].flag);
            assert_int_equal(inc->deadline[CISHARE_DEADLINE_PRELIMINARY].status,
                             CISHARE_DL_MET);
        } else {
            assert_string_equal(inc->incident_id, "incident--y");
            assert_string_equal(inc->stage, "update");
        }
    }
    cishare_incident_list_clear(&l);
    cishare_archive_close(a);
    hostile_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_through_feed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
