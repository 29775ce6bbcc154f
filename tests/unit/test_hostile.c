/*
 * The hostile-participant harness (hostile.h) itself: a message one
 * participant builds and produces reaches another's real feed and sinks.
 * The hardening tests (test_harden_*.c) build on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "hostile.h"

static void test_harness_delivers(void **state)
{
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    char path[1600], *text;
    json_t *m;

    (void)state;
    m = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "type", "indicator", "tlp",
                  "green", "payload", "type", "ipv4", "value", "192.0.2.77",
                  "description", "harness");
    hostile_publish(h, "op-power-a", m);
    json_decref(m);
    hostile_feed_ok(h, "op-bank-a", "jsonl,stix,blocklist", &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.quarantined, 0);
    snprintf(path, sizeof(path), "%s/feed.jsonl", hostile_out(h, "op-bank-a"));
    text = test_slurp(path, NULL);
    assert_non_null(strstr(text, "192.0.2.77"));
    free(text);
    /* again: nothing new, nothing twice */
    hostile_feed_ok(h, "op-bank-a", "jsonl,stix,blocklist", &st);
    assert_int_equal(st.delivered, 0);
    hostile_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harness_delivers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
