/*
 * Hardening, finding 4 of the hardening issue: blocklist entries that
 * block far too much. A real participant (op-power-b, its own key)
 * publishes GREEN indicators whose values would make every firewall or
 * resolver that loads the lists block a whole public suffix, all of IPv4
 * (through IPv4-mapped IPv6), or match everything (URL ".", e-mail "@").
 * The victim op-bank-a runs its real feed with the blocklist sink: none of
 * them may reach a list, each refusal is counted by reason and logged with
 * the message, the value and the reason; good values still go in.
 *
 * Seen failing on the code before the fix: the feed test stopped at
 * "hostile value . reached url.txt"; the lists held 14 of the 15 hostile
 * values (all but "*.jp"), and no refusal was logged or counted. The
 * sink tests did not build: there was no refusal counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "hostile.h"
#include "sinks/blocklist.h"

#include <dirent.h>

typedef struct {
    const char *type, *value, *reason;
} value_t;

/* Values a hostile participant sends, and the reason each is refused. */
static const value_t hostile_values[] = {
    {"domain", "*.co.jp", "public-suffix"},
    {"domain", "go.jp", "public-suffix"},
    {"domain", "*.jp", "public-suffix"},
    {"domain", "github.io", "public-suffix"},
    {"email", "@", "email-no-local-part"},
    {"email", "phish@", "email-no-domain"},
    {"email", "phish@co.jp", "public-suffix"},
    {"url", ".", "url-no-scheme"},
    {"url", "http", "url-no-scheme"},
    {"url", "http://", "url-no-host"},
    {"url", "https://co.jp/", "public-suffix"},
    {"ipv6", "::/32", "special-range"},
    {"ipv6", "::ffff:0:0/96", "special-range"},
    {"ipv6", "::ffff:192.0.2.1", "special-range"},
    {"ipv6", "64:ff9b::/96", "special-range"},
};

/* Values that must still reach the lists. */
static const value_t good_values[] = {
    {"domain", "example.co.jp", NULL},
    {"domain", "*.example.co.jp", NULL},
    {"domain", "evil.github.io", NULL},
    {"email", "phish@evil.example", NULL},
    {"url", "http://evil.example/x", NULL},
    {"ipv6", "2001:db8::/48", NULL},
    {"ipv4", "192.0.2.77", NULL},
};

#define N_HOSTILE (sizeof(hostile_values) / sizeof(hostile_values[0]))
#define N_GOOD    (sizeof(good_values) / sizeof(good_values[0]))

static json_t *indicator(const value_t *v, const char *desc)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "type", "indicator",
                     "tlp", "green", "payload", "type", v->type, "value",
                     v->value, "description", desc);
}

/* True when `value` is a whole line of text. */
static bool has_line(const char *text, const char *value)
{
    size_t n = strlen(value);
    const char *p = text;

    while ((p = strstr(p, value)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
        p++;
    }
    return false;
}

/* No hostile value in any file of <out>/blocklist: a whole line of a
 * list, or a JSON string in the state journal. */
static void assert_no_hostile(const char *out)
{
    char dir[1600], path[1900], quoted[256];
    DIR *d;
    struct dirent *e;
    size_t i;

    snprintf(dir, sizeof(dir), "%s/blocklist", out);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char *text;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        text = test_slurp(path, NULL);
        for (i = 0; i < N_HOSTILE; i++) {
            const char *v = hostile_values[i].value;
            snprintf(quoted, sizeof(quoted), "\"%s\"", v);
            if (has_line(text, v) || strstr(text, quoted))
                fail_msg("hostile value %s reached %s", v, e->d_name);
        }
        free(text);
    }
    closedir(d);
}

static void assert_good(const char *out)
{
    char path[1600];
    size_t i;

    for (i = 0; i < N_GOOD; i++) {
        char *text;
        snprintf(path, sizeof(path), "%s/blocklist/%s.txt", out,
                 good_values[i].type);
        text = test_slurp(path, NULL);
        if (!has_line(text, good_values[i].value))
            fail_msg("good value %s missing from %s.txt", good_values[i].value,
                     good_values[i].type);
        free(text);
    }
}

/* A log line refuses v with its reason. */
static void assert_logged(const char *lines, const value_t *v)
{
    char needle[256];
    const char *p = lines;

    snprintf(needle, sizeof(needle), "refused %s \"%s\"", v->type, v->value);
    while ((p = strstr(p, needle)) != NULL) {
        const char *eol = strchr(p, '\n');
        const char *r = strstr(p, v->reason);
        if (r && (!eol || r < eol))
            return;
        p++;
    }
    fail_msg("no log line '%s ... %s' in:\n%s", needle, v->reason, lines);
}

static void test_feed_refuses_wide_entries(void **state)
{
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    size_t i;

    (void)state;
    for (i = 0; i < N_HOSTILE; i++) {
        json_t *m = indicator(&hostile_values[i], "hostile");
        hostile_publish(h, "op-power-b", m);
        json_decref(m);
    }
    for (i = 0; i < N_GOOD; i++) {
        json_t *m = indicator(&good_values[i], "good");
        hostile_publish(h, "op-power-b", m);
        json_decref(m);
    }
    hostile_feed_ok(h, "op-bank-a", "blocklist", &st);
    /* refused for the lists, still delivered (JSONL, STIX keep them) */
    assert_int_equal(st.delivered, N_HOSTILE + N_GOOD);
    /* counted in the feed's stats, by reason */
    assert_int_equal(st.blocklist_refused, N_HOSTILE);
    assert_true(st.blocklist_refused_by[CISHARE_INDICATOR_PUBLIC_SUFFIX] > 0);
    {
        char line[2048];

        cishare_feed_stats_format(&st, line, sizeof(line));
        assert_non_null(strstr(line, "refused for blocklists ("));
    }
    assert_no_hostile(hostile_out(h, "op-bank-a"));
    assert_good(hostile_out(h, "op-bank-a"));
    for (i = 0; i < N_HOSTILE; i++)
        assert_logged(h->lines, &hostile_values[i]);
    hostile_destroy(h);
}

/* The sink on its own: refusals counted by reason through
 * cishare_sink_blocklist_refused() (the counter the feed reports), alert
 * observables judged like indicators, and the log bounded. */
typedef struct {
    unsigned lines, more;
    char last[1024];
} log_t;

static void count_log(void *opaque, const char *line)
{
    log_t *l = opaque;

    l->lines++;
    if (strstr(line, "counted, not logged"))
        l->more++;
    snprintf(l->last, sizeof(l->last), "%s", line);
}

static json_t *sink_msg(const char *id, const char *type, const char *value)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "message_id", id,
                     "origin", "op-power-b", "type", "indicator", "payload",
                     "type", type, "value", value, "modified",
                     "2026-11-26T06:00:00Z");
}

static void test_sink_counts_refusals(void **state)
{
    char dir[256], errstr[512], subject[32];
    cishare_sink_opts_t o = {0};
    cishare_sink_t *s = NULL;
    uint64_t by[CISHARE_INDICATOR__CNT];
    log_t l = {0};
    json_t *m;
    size_t i;

    (void)state;
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "harden-bl"), 0);
    o.out = dir;
    o.log = count_log;
    o.log_opaque = &l;
    if (cishare_sink_open("blocklist", &o, &s, errstr, sizeof(errstr)))
        fail_msg("open: %s", errstr);
    for (i = 0; i < N_HOSTILE; i++) {
        snprintf(subject, sizeof(subject), "h-%zu", i);
        m = sink_msg("m-1", hostile_values[i].type, hostile_values[i].value);
        assert_int_equal(
            cishare_sink_write(s, m, subject, errstr, sizeof(errstr)), 0);
        json_decref(m);
    }
    /* an alert: one observable refused, one listed, one not listable */
    m = json_pack("{s:s, s:s, s:s, s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}}",
                  "message_id", "m-2", "origin", "nco", "type", "alert",
                  "payload", "observables", "type", "domain", "value", "co.jp",
                  "type", "domain", "value", "evil.example", "type", "cve",
                  "value", "CVE-2024-3400");
    assert_int_equal(
        cishare_sink_write(s, m, "alert-1", errstr, sizeof(errstr)), 0);
    json_decref(m);
    assert_int_equal(cishare_sink_blocklist_refused(s, by), N_HOSTILE + 1);
    assert_int_equal(by[CISHARE_INDICATOR_OK], 0);
    assert_int_equal(by[CISHARE_INDICATOR_PUBLIC_SUFFIX], 7);
    assert_int_equal(by[CISHARE_INDICATOR_SPECIAL_RANGE], 4);
    assert_int_equal(by[CISHARE_INDICATOR_URL_NO_SCHEME], 2);
    assert_int_equal(by[CISHARE_INDICATOR_URL_NO_HOST], 1);
    assert_int_equal(by[CISHARE_INDICATOR_EMAIL_NO_LOCAL_PART], 1);
    assert_int_equal(by[CISHARE_INDICATOR_EMAIL_NO_DOMAIN], 1);
    assert_int_equal(l.lines, N_HOSTILE + 1);
    assert_non_null(strstr(l.last, "refused domain \"co.jp\" of nco "
                                   "alert-1 (message m-2): public-suffix"));
    /* a value with an escape sequence is logged escaped */
    m = sink_msg("m-3", "url", "\x1b]0;owned\x07");
    assert_int_equal(cishare_sink_write(s, m, "h-esc", errstr, sizeof(errstr)),
                     0);
    json_decref(m);
    assert_null(strchr(l.last, 0x1b));
    assert_non_null(strstr(l.last, "\\x1b]0;owned\\x07"));
    /* a flood: counted in full, logged up to a bound */
    for (i = 0; i < 300; i++) {
        snprintf(subject, sizeof(subject), "f-%zu", i);
        m = sink_msg("m-4", "domain", "*.co.jp");
        assert_int_equal(
            cishare_sink_write(s, m, subject, errstr, sizeof(errstr)), 0);
        json_decref(m);
    }
    assert_int_equal(cishare_sink_blocklist_refused(s, NULL),
                     N_HOSTILE + 2 + 300);
    assert_int_equal(l.more, 1);
    assert_true(l.lines <= 102);
    /* not a blocklist sink: nothing */
    assert_int_equal(cishare_sink_blocklist_refused(NULL, by), 0);
    assert_int_equal(by[CISHARE_INDICATOR_PUBLIC_SUFFIX], 0);
    cishare_sink_close(s);
    test_tmpdir_remove(dir);
}

/* A state written by an earlier version holds values it let through:
 * at open they leave the lists and the state, counted and logged. */
static void test_kept_state_judged_again(void **state)
{
    char dir[256], path[400], errstr[512], *text;
    cishare_sink_opts_t o = {0};
    cishare_sink_t *s = NULL;
    uint64_t by[CISHARE_INDICATOR__CNT];
    log_t l = {0};
    FILE *fp;

    (void)state;
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "harden-bl"), 0);
    snprintf(path, sizeof(path), "%s/blocklist", dir);
    assert_int_equal(cishare_mkdirs(path), 0);
    snprintf(path, sizeof(path), "%s/blocklist/state.jsonl", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"s\":\"op-power-b i-1\",\"v\":{\"o\":\"op-power-b\",\"e\":"
          "[[\"domain\",\"*.co.jp\"],[\"domain\",\"evil.example\"]],"
          "\"x\":0,\"m\":1}}\n"
          "{\"s\":\"op-power-b i-2\",\"v\":{\"o\":\"op-power-b\",\"e\":"
          "[[\"ipv6\",\"::/32\"]],\"x\":0,\"m\":1}}\n",
          fp);
    fclose(fp);
    o.out = dir;
    o.log = count_log;
    o.log_opaque = &l;
    if (cishare_sink_open("blocklist", &o, &s, errstr, sizeof(errstr)))
        fail_msg("open: %s", errstr);
    assert_int_equal(cishare_sink_blocklist_refused(s, by), 2);
    assert_int_equal(by[CISHARE_INDICATOR_PUBLIC_SUFFIX], 1);
    assert_int_equal(by[CISHARE_INDICATOR_SPECIAL_RANGE], 1);
    assert_non_null(strstr(l.last, "(kept state)"));
    snprintf(path, sizeof(path), "%s/blocklist/domain.txt", dir);
    text = test_slurp(path, NULL);
    assert_string_equal(text, "evil.example\n");
    free(text);
    snprintf(path, sizeof(path), "%s/blocklist/ipv6.txt", dir);
    text = test_slurp(path, NULL);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(cishare_sink_sync(s, cishare_time_now_ms(), NULL, errstr,
                                       sizeof(errstr)),
                     0);
    cishare_sink_close(s);
    /* the state itself was cleaned: nothing refused at the next open */
    s = NULL;
    if (cishare_sink_open("blocklist", &o, &s, errstr, sizeof(errstr)))
        fail_msg("open: %s", errstr);
    assert_int_equal(cishare_sink_blocklist_refused(s, NULL), 0);
    cishare_sink_close(s);
    test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_counts_refusals),
        cmocka_unit_test(test_kept_state_judged_again),
        cmocka_unit_test(test_feed_refuses_wide_entries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
