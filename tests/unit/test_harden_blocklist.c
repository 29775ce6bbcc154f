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
#include <sys/stat.h>

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

/* No hostile value in any file under `dir` (<out>/blocklist and its
 * label folders, <out>/.state): a whole line of a list, a name of a zone
 * ("<value> CNAME"), an element of an nft set, or a JSON string in the
 * state journal. */
static void assert_no_hostile_in(const char *dir)
{
    char path[1900], quoted[256], zone[256], el[256];
    DIR *d;
    struct dirent *e;
    struct stat sb;
    size_t i;

    d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *text;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            assert_no_hostile_in(path);
            continue;
        }
        text = test_slurp(path, NULL);
        for (i = 0; i < N_HOSTILE; i++) {
            const char *v = hostile_values[i].value;
            snprintf(quoted, sizeof(quoted), "\"%s\"", v);
            snprintf(zone, sizeof(zone), "\n%s CNAME", v);
            snprintf(el, sizeof(el), " %s ", v);
            if (has_line(text, v) || strstr(text, quoted) ||
                strstr(text, zone) || strstr(text, el))
                fail_msg("hostile value %s reached %s", v, path);
        }
        free(text);
    }
    closedir(d);
}

static void assert_no_hostile(const char *out)
{
    char dir[1600];

    snprintf(dir, sizeof(dir), "%s/blocklist", out);
    assert_int_equal(access(dir, F_OK), 0);
    assert_no_hostile_in(dir);
    snprintf(dir, sizeof(dir), "%s/.state", out);
    assert_no_hostile_in(dir);
}

static void assert_good(const char *out)
{
    char path[1600];
    size_t i;

    for (i = 0; i < N_GOOD; i++) {
        char *text;
        snprintf(path, sizeof(path), "%s/blocklist/green/%s.txt", out,
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
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "message_id",
                     id, "origin", "op-power-b", "tlp", "green", "type",
                     "indicator", "payload", "type", type, "value", value,
                     "modified", "2026-11-26T06:00:00Z");
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
    m = json_pack("{s:s, s:s, s:s, s:s, "
                  "s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}}",
                  "message_id", "m-2", "origin", "nco", "tlp", "clear", "type",
                  "alert", "payload", "observables", "type", "domain", "value",
                  "co.jp", "type", "domain", "value", "evil.example", "type",
                  "cve", "value", "CVE-2024-3400");
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

/* Write `text` to <dir>/<rel> (folders made). */
static void put_file(const char *dir, const char *rel, const char *text)
{
    char path[2000], *slash;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(cishare_mkdirs(path), 0);
    *slash = '/';
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *get_file(const char *dir, const char *rel)
{
    char path[2000];

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return test_slurp(path, NULL);
}

/* A state kept by this version holds values an earlier validator let
 * through (a domain that is an address, a special range): at open they
 * leave the lists and the state, counted and logged. */
static void test_kept_state_judged_again(void **state)
{
    char dir[256], errstr[512], *text;
    cishare_sink_opts_t o = {0};
    cishare_sink_t *s = NULL;
    uint64_t by[CISHARE_INDICATOR__CNT];
    log_t l = {0};

    (void)state;
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "harden-bl"), 0);
    put_file(dir, ".state/blocklist.jsonl",
             "{\"s\":\"op-power-b i-1\",\"v\":{\"o\":\"op-power-b\",\"l\":"
             "\"green\",\"e\":[[\"domain\",\"*.co.jp\"],[\"domain\","
             "\"127.0.0.1\"],[\"domain\",\"evil.example\"]],\"x\":0,\"m\":1}}\n"
             "{\"s\":\"op-power-b i-2\",\"v\":{\"o\":\"op-power-b\",\"l\":"
             "\"green\",\"e\":[[\"ipv6\",\"::/32\"],[\"ipv4\",\"0.0.0.0\"]],"
             "\"x\":0,\"m\":1}}\n");
    o.out = dir;
    o.log = count_log;
    o.log_opaque = &l;
    if (cishare_sink_open("blocklist", &o, &s, errstr, sizeof(errstr)))
        fail_msg("open: %s", errstr);
    assert_int_equal(cishare_sink_blocklist_refused(s, by), 4);
    assert_int_equal(by[CISHARE_INDICATOR_PUBLIC_SUFFIX], 1);
    assert_int_equal(by[CISHARE_INDICATOR_SPECIAL_RANGE], 3);
    assert_non_null(strstr(l.last, "(kept state)"));
    text = get_file(dir, "blocklist/green/domain.txt");
    assert_string_equal(text, "evil.example\n");
    free(text);
    text = get_file(dir, "blocklist/green/ipv6.txt");
    assert_string_equal(text, "");
    free(text);
    text = get_file(dir, "blocklist/green/ipv4.txt");
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

/*
 * The layout of the version the issue was filed against: lists merged
 * across labels in <out>/blocklist/<type>.txt, the state beside them in
 * <out>/blocklist/state.jsonl, records without their label (and values
 * of records labelled to_ids:false, which the state did not keep). At
 * open: the journal moves to <out>/.state/blocklist.jsonl, the merged
 * lists are removed, and no record without a label reaches any label's
 * folder (no-label, counted, logged) until the feed reads it again.
 *
 * This is how 127.0.0.1, 0.0.0.0, 10.0.0.0 and 192.168.0.0/16 stayed in
 * the lists a firewall loads: a merged list written before the
 * validator (or a list folder a script copied) is never rewritten by the
 * per-label sink, and records of the older state could only be rechecked
 * by value.
 */
static void test_older_layout_migrated(void **state)
{
    char dir[256], errstr[512], path[400], *text;
    cishare_sink_opts_t o = {0};
    cishare_sink_t *s = NULL;
    uint64_t by[CISHARE_INDICATOR__CNT];
    log_t l = {0};
    static const char *const labels[] = {"clear", "green", "amber",
                                         "amber-strict", "red"};
    size_t i;

    (void)state;
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "harden-bl"), 0);
    put_file(dir, "blocklist/state.jsonl",
             "{\"s\":\"op-power-b i-1\",\"v\":{\"o\":\"op-power-b\",\"e\":"
             "[[\"domain\",\"evil.example\"],[\"ipv4\",\"127.0.0.1\"]],"
             "\"x\":0,\"m\":1}}\n");
    put_file(dir, "blocklist/ipv4.txt",
             "0.0.0.0\n10.0.0.0\n127.0.0.1\n192.168.0.0/16\n");
    put_file(dir, "blocklist/domain.txt", "evil.example\n");
    o.out = dir;
    o.log = count_log;
    o.log_opaque = &l;
    if (cishare_sink_open("blocklist", &o, &s, errstr, sizeof(errstr)))
        fail_msg("open: %s", errstr);
    /* the journal moved, the merged lists are gone */
    snprintf(path, sizeof(path), "%s/blocklist/state.jsonl", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/blocklist/ipv4.txt", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/blocklist/domain.txt", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    text = get_file(dir, ".state/blocklist.jsonl");
    assert_non_null(strstr(text, "op-power-b i-1"));
    free(text);
    /* the unlabelled record reaches no label's folder */
    assert_int_equal(cishare_sink_blocklist_refused(s, by), 2);
    assert_int_equal(by[CISHARE_INDICATOR_NO_LABEL], 2);
    assert_non_null(strstr(l.last, "no-label"));
    for (i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "blocklist/%s/domain.txt", labels[i]);
        text = get_file(dir, rel);
        assert_string_equal(text, "");
        free(text);
        snprintf(rel, sizeof(rel), "blocklist/%s/ipv4.txt", labels[i]);
        text = get_file(dir, rel);
        assert_string_equal(text, "");
        free(text);
    }
    cishare_sink_close(s);
    /* both journals: which is current cannot be told; refused, named */
    put_file(dir, "blocklist/state.jsonl", "");
    s = NULL;
    assert_int_not_equal(
        cishare_sink_open("blocklist", &o, &s, errstr, sizeof(errstr)), 0);
    assert_non_null(strstr(errstr, "both exist"));
    assert_non_null(strstr(errstr, ".state/blocklist.jsonl"));
    test_tmpdir_remove(dir);
}

/*
 * Issue 15 through the real feed (op-power-a, in the publisher's sector,
 * may receive every label): the addresses the user saw in the
 * lists, bare wildcards and to_ids:false values, at several labels. None
 * reaches any file; each is counted by its reason; the good values land
 * in their own label's folder only.
 */
static void test_feed_issue15_values(void **state)
{
    static const struct {
        const char *type, *value, *tlp;
        cishare_indicator_reason_t r;
    } bad[] = {
        {"ipv4", "127.0.0.1", "green", CISHARE_INDICATOR_SPECIAL_RANGE},
        {"ipv4", "0.0.0.0", "amber", CISHARE_INDICATOR_SPECIAL_RANGE},
        {"ipv4", "10.0.0.0", "red", CISHARE_INDICATOR_SPECIAL_RANGE},
        {"ipv4", "192.168.0.0/16", "clear", CISHARE_INDICATOR_SPECIAL_RANGE},
        {"domain", "127.0.0.1", "green", CISHARE_INDICATOR_SPECIAL_RANGE},
        {"domain", "*", "amber", CISHARE_INDICATOR_TOO_WIDE},
        {"domain", "*.", "red", CISHARE_INDICATOR_TOO_WIDE},
    };
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    char line[2048], *text;
    json_t *m;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* RED needs its recipients named */
        m = json_pack("{s:s, s:s, s:[s], s:{s:s, s:s}}", "type", "indicator",
                      "tlp", bad[i].tlp, "audience", "participant:op-power-a",
                      "payload", "type", bad[i].type, "value", bad[i].value);
        hostile_publish(h, "op-power-b", m);
        json_decref(m);
    }
    m = json_pack("{s:s, s:s, s:{s:s, s:s, s:[s]}}", "type", "indicator", "tlp",
                  "green", "payload", "type", "url", "value",
                  "https://blog.example/post", "labels", "to_ids:false");
    hostile_publish(h, "op-power-b", m);
    json_decref(m);
    m = json_pack("{s:s, s:s, s:[s], s:{s:s, s:s}}", "type", "indicator", "tlp",
                  "amber", "audience", "participant:op-power-a", "payload",
                  "type", "ipv4", "value", "192.0.2.66");
    hostile_publish(h, "op-power-b", m);
    json_decref(m);
    hostile_feed_ok(h, "op-power-a", "blocklist", &st);
    assert_int_equal(st.blocklist_refused, 8);
    assert_int_equal(st.blocklist_refused_by[CISHARE_INDICATOR_SPECIAL_RANGE],
                     5);
    assert_int_equal(st.blocklist_refused_by[CISHARE_INDICATOR_TOO_WIDE], 2);
    assert_int_equal(
        st.blocklist_refused_by[CISHARE_INDICATOR_NOT_FOR_DETECTION], 1);
    cishare_feed_stats_format(&st, line, sizeof(line));
    assert_non_null(strstr(line, "special-range 5"));
    assert_non_null(strstr(line, "not-for-detection 1"));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strcmp(bad[i].value, "*") && strcmp(bad[i].value, "*."))
            assert_non_null(strstr(h->lines, bad[i].value));
    text = get_file(hostile_out(h, "op-power-a"), "blocklist/amber/ipv4.txt");
    assert_string_equal(text, "192.0.2.66\n");
    free(text);
    text = get_file(hostile_out(h, "op-power-a"), "blocklist/green/ipv4.txt");
    assert_string_equal(text, "");
    free(text);
    text = get_file(hostile_out(h, "op-power-a"), "blocklist/green/url.txt");
    assert_string_equal(text, "");
    free(text);
    text = get_file(hostile_out(h, "op-power-a"), "blocklist/red/rpz.zone");
    assert_null(strstr(text, "\n* CNAME"));
    assert_null(strstr(text, "\n*. CNAME"));
    free(text);
    hostile_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_counts_refusals),
        cmocka_unit_test(test_kept_state_judged_again),
        cmocka_unit_test(test_older_layout_migrated),
        cmocka_unit_test(test_feed_issue15_values),
        cmocka_unit_test(test_feed_refuses_wide_entries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
