/* Routing of messages to topics, and the feed's subscription, over the
 * example directory. Expected lists are written from the layout contract
 * (routing.h), not from the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cishare/routing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cishare_directory_t *dir;

static int setup(void **state)
{
    char path[1024], errstr[1024];
    (void)state;

    snprintf(path, sizeof(path), "%s/deploy/examples/directory.yaml",
             getenv("CISHARE_SRC") ? getenv("CISHARE_SRC") : ".");
    if (cishare_directory_load(path, NULL, &dir, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s\n", errstr);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_directory_destroy(dir);
    return 0;
}

/* Route (tlp, audience text) from origin; compare with the space-joined
 * expected topic list. */
static void check_route(const char *origin, cishare_tlp_t tlp,
                        const char *audience, const char *expect)
{
    const cishare_participant_t *o = cishare_directory_find(dir, origin);
    cishare_audience_t aud = {0};
    cishare_strlist_t topics = {0};
    char errstr[512], got[2048] = "";
    size_t i;

    assert_non_null(o);
    assert_int_equal(cishare_audience_resolve(dir, tlp, o, audience, &aud,
                                              errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_routing_topics(dir, o, tlp, &aud, &topics, errstr,
                                            sizeof(errstr)),
                     CISHARE_OK);
    for (i = 0; i < topics.cnt; i++) {
        if (i)
            strcat(got, " ");
        strcat(got, topics.items[i]);
    }
    if (strcmp(got, expect))
        fail_msg("%s %s [%s]: got '%s', expected '%s'", origin,
                 cishare_tlp_name(tlp), audience ? audience : "default", got,
                 expect);
    cishare_strlist_clear(&topics);
    cishare_audience_clear(&aud);
}

static void test_routes(void **state)
{
    (void)state;
    /* Defaults: GREEN -> all; AMBER -> the origin's first sector. */
    check_route("op-power-a", CISHARE_TLP_GREEN, NULL, "cishare.green.all");
    check_route("op-power-a", CISHARE_TLP_AMBER, NULL,
                "cishare.amber.electricity");
    check_route("op-bank-a", CISHARE_TLP_CLEAR, "sector:finance",
                "cishare.clear.finance");
    /* A named participant already reached by a sector topic gets no
     * inbox copy; one outside gets its inbox. */
    check_route("op-bank-a", CISHARE_TLP_AMBER,
                "sector:finance,participant:min-fsa", "cishare.amber.finance");
    check_route("op-bank-a", CISHARE_TLP_AMBER,
                "sector:finance,participant:nco",
                "cishare.amber.finance cishare.inbox.nco");
    /* Roles span sectors: the .all topic at GREEN, but each member's
     * inbox at AMBER (every participant may read .all). */
    check_route("nco", CISHARE_TLP_GREEN, "role:ceptoar", "cishare.green.all");
    check_route("nco", CISHARE_TLP_AMBER, "role:ceptoar",
                "cishare.inbox.ceptoar-electricity "
                "cishare.inbox.ceptoar-finance cishare.inbox.ceptoar-gas "
                "cishare.inbox.nco");
    /* Only inboxes; the origin gets its own copy when nothing else reaches
     * it. */
    check_route("op-power-a", CISHARE_TLP_AMBER_STRICT,
                "participant:min-meti,participant:nco",
                "cishare.inbox.min-meti cishare.inbox.nco "
                "cishare.inbox.op-power-a");
    check_route("nco", CISHARE_TLP_RED, "participant:ceptoar-electricity",
                "cishare.inbox.ceptoar-electricity cishare.inbox.nco");
}

static void test_feed_topics(void **state)
{
    cishare_strlist_t t = {0};
    const char *want[] = {
        "cishare.amber-strict.all", "cishare.amber-strict.electricity",
        "cishare.amber.all",        "cishare.amber.electricity",
        "cishare.clear.all",        "cishare.clear.electricity",
        "cishare.green.all",        "cishare.green.electricity",
        "cishare.inbox.op-power-a"};
    size_t i;
    (void)state;

    assert_int_equal(cishare_routing_feed_topics(
                         cishare_directory_find(dir, "op-power-a"), &t),
                     CISHARE_OK);
    assert_int_equal(t.cnt, sizeof(want) / sizeof(want[0]));
    for (i = 0; i < t.cnt; i++)
        assert_string_equal(t.items[i], want[i]);
    cishare_strlist_clear(&t);

    /* No sectors: .all and the inbox only. */
    assert_int_equal(
        cishare_routing_feed_topics(cishare_directory_find(dir, "nco"), &t),
        CISHARE_OK);
    assert_int_equal(t.cnt, 5);
    assert_string_equal(t.items[4], "cishare.inbox.nco");
    cishare_strlist_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_feed_topics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
