/*
 * Unit tests of the feed's sinks (consumers/sinks/): JSON Lines, STIX 2.1,
 * blocklists. Messages are the examples of schemas/examples/ with an
 * envelope added, as the feed delivers them.
 *
 * With CISHARE_SINKS_KEEP=<dir> set, test_stix_examples also leaves the
 * bundle of every example in <dir>/stix/bundle.json for
 * tests/cli/stix_validate.sh to check with the OASIS validator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "sinks/blocklist.h"
#include "sinks/sink.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static int msg_seq;

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof(tmpdir), "sinks");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* An example message with the envelope the feed adds. Caller decrefs. */
static json_t *example(const char *name, const char *origin)
{
    const char *src = getenv("CISHARE_SRC");
    char path[512], mid[64];
    json_error_t jerr;
    json_t *m;

    snprintf(path, sizeof(path), "%s/schemas/examples/%s-example.json",
             src ? src : ".", name);
    m = json_load_file(path, 0, &jerr);
    if (!m)
        fail_msg("%s: %s", path, jerr.text);
    snprintf(mid, sizeof(mid), "00000000-0000-4000-8000-%012d", ++msg_seq);
    json_object_set_new(m, "message_id", json_string(mid));
    json_object_set_new(m, "origin", json_string(origin));
    json_object_set_new(m, "sector", json_string("electricity"));
    json_object_set_new(m, "created", json_string("2026-11-26T07:05:13Z"));
    json_object_set_new(m, "key_id", json_string("0123456789abcdef"));
    if (!json_object_get(m, "tlp"))
        json_object_set_new(m, "tlp", json_string("green"));
    return m;
}

/* An indicator message of type/value with the given expiry texts. */
static json_t *indicator(const char *origin, const char *subject,
                         const char *type, const char *value,
                         const char *valid_until, const char *expires)
{
    json_t *m = example("indicator", origin),
           *p = json_object_get(m, "payload");

    json_object_set_new(p, "id", json_string(subject));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "value", json_string(value));
    json_object_del(p, "pattern");
    if (valid_until)
        json_object_set_new(p, "valid_until", json_string(valid_until));
    else
        json_object_del(p, "valid_until");
    if (expires)
        json_object_set_new(m, "expires", json_string(expires));
    else
        json_object_del(m, "expires");
    return m;
}

static json_t *revocation(const char *origin, const char *subject)
{
    json_t *m = example("revocation", origin);
    json_object_set_new(json_object_get(m, "payload"), "revokes",
                        json_string(subject));
    return m;
}

static cishare_sink_t *open_sink(const char *name, const char *out,
                                 bool has_mark, uint64_t mark)
{
    cishare_sink_opts_t opts = {
        .out = out, .has_mark = has_mark, .mark = mark, .view_interval_ms = 0};
    cishare_sink_t *s = NULL;
    char errstr[512] = "";

    if (cishare_sink_open(name, &opts, &s, errstr, sizeof(errstr)))
        fail_msg("open %s: %s", name, errstr);
    return s;
}

static void write_ok(cishare_sink_t *s, json_t *m, const char *subject)
{
    char errstr[512] = "";
    if (cishare_sink_write(s, m, subject, errstr, sizeof(errstr)))
        fail_msg("write: %s", errstr);
    json_decref(m);
}

static void revoke_ok(cishare_sink_t *s, const char *origin,
                      const char *subject)
{
    char errstr[512] = "";
    json_t *r = revocation(origin, subject);
    if (cishare_sink_revoke(s, subject, r, errstr, sizeof(errstr)))
        fail_msg("revoke: %s", errstr);
    json_decref(r);
}

static uint64_t sync_ok(cishare_sink_t *s, int64_t now)
{
    char errstr[512] = "";
    uint64_t mark = 0;
    if (cishare_sink_sync(s, now, &mark, errstr, sizeof(errstr)))
        fail_msg("sync: %s", errstr);
    return mark;
}

/* A file's text; "" for a file that is not there. */
static char *slurp(const char *path)
{
    char *buf = test_slurp_maybe(path, NULL);

    return buf ? buf : strdup("");
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* No temporary file may be left in dir after an atomic update. */
static void assert_no_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp"))
            fail_msg("temporary file left: %s/%s", dir, e->d_name);
    closedir(d);
}

static const int64_t NOW = 1795677600000; /* 2026-11-26T07:20:00Z */

/* ---- JSONL ---- */

static void test_jsonl(void **state)
{
    char path[400], *text;
    cishare_sink_t *s;
    uint64_t mark, mark2;
    json_t *line;
    (void)state;

    s = open_sink("jsonl", tmpdir, false, 0);
    write_ok(s, example("indicator", "op-power-a"), "indicator--1");
    write_ok(s, example("alert", "nco"), "alert--1");
    revoke_ok(s, "op-power-a", "indicator--1");
    mark = sync_ok(s, NOW);
    cishare_sink_close(s);
    snprintf(path, sizeof(path), "%s/feed.jsonl", tmpdir);
    text = slurp(path);
    assert_int_equal(count_lines(text), 3);
    assert_int_equal(mark, strlen(text));
    /* Each line is one whole message with its envelope. */
    line = json_loadb(text, strchr(text, '\n') - text, 0, NULL);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "origin")),
                        "op-power-a");
    assert_non_null(json_object_get(line, "payload"));
    assert_non_null(json_object_get(line, "message_id"));
    json_decref(line);
    assert_non_null(strstr(strrchr(text, '{') ? text : "", "\"revokes\""));
    free(text);

    /* A batch synced but never committed is cut on reopen at the mark. */
    s = open_sink("jsonl", tmpdir, true, mark);
    write_ok(s, example("incident", "op-power-a"), "incident--1");
    mark2 = sync_ok(s, NOW);
    assert_true(mark2 > mark);
    cishare_sink_close(s);
    s = open_sink("jsonl", tmpdir, true, mark); /* crash: mark not moved */
    cishare_sink_close(s);
    text = slurp(path);
    assert_int_equal(count_lines(text), 3);
    assert_int_equal(strlen(text), mark);
    free(text);
}

/* ---- blocklists ---- */

static char *list(const char *type)
{
    char path[400];
    /* the example messages are TLP:AMBER */
    snprintf(path, sizeof(path), "%s/blocklist/amber/%s.txt", tmpdir, type);
    return slurp(path);
}

static void assert_list(const char *type, const char *expect)
{
    char *t = list(type);
    if (strcmp(t, expect))
        fail_msg("%s.txt is '%s', expected '%s'", type, t, expect);
    free(t);
}

static void test_blocklist(void **state)
{
    cishare_sink_t *s;
    char dir[400];
    (void)state;

    s = open_sink("blocklist", tmpdir, false, 0);
    write_ok(s,
             indicator("op-power-a", "i-1", "ipv4", "203.0.113.45", NULL, NULL),
             "i-1");
    write_ok(s, indicator("op-power-a", "i-2", "ipv4", "192.0.2.1", NULL, NULL),
             "i-2");
    /* Same value from another subject: listed once. */
    write_ok(s, indicator("op-bank-a", "i-3", "ipv4", "192.0.2.1", NULL, NULL),
             "i-3");
    write_ok(
        s,
        indicator("op-power-a", "i-4", "domain", "Evil.Example.", NULL, NULL),
        "i-4");
    write_ok(s,
             indicator("op-power-a", "i-5", "sha256",
                       "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991"
                       "B7852B855",
                       NULL, NULL),
             "i-5");
    /* Expired by valid_until, and by the envelope's expires. */
    write_ok(s,
             indicator("op-power-a", "i-6", "ipv4", "198.51.100.6",
                       "2026-01-01T00:00:00Z", NULL),
             "i-6");
    write_ok(s,
             indicator("op-power-a", "i-7", "ipv4", "198.51.100.7", NULL,
                       "2026-11-26T07:00:00Z"),
             "i-7");
    /* Expires later: listed now, gone after. */
    write_ok(s,
             indicator("op-power-a", "i-8", "ipv6", "2001:DB8::8",
                       "2026-11-26T08:00:00Z", NULL),
             "i-8");
    /* Line injection and wrong alphabets never reach a list. */
    write_ok(s,
             indicator("op-power-a", "i-9", "ipv4", "10.0.0.1\n0.0.0.0/0", NULL,
                       NULL),
             "i-9");
    write_ok(s, indicator("op-power-a", "i-10", "sha256", "xyz", NULL, NULL),
             "i-10");
    /* Inline observables of an alert (the example is GREEN: made AMBER
     * here, lists keep labels apart). */
    {
        json_t *al = example("alert", "nco");
        json_object_set_new(al, "tlp", json_string("amber"));
        write_ok(s, al, "alert--1");
    }
    sync_ok(s, NOW);
    assert_list("ipv4", "192.0.2.1\n198.51.100.0/24\n203.0.113.45\n");
    assert_list("domain", "evil.example\nstresser-panel.example\n");
    assert_list("ipv6", "2001:db8::8\n");
    assert_list("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
                          "95991b7852b855\n");
    assert_list("url", "");
    snprintf(dir, sizeof(dir), "%s/blocklist/amber", tmpdir);
    assert_no_tmp(dir);

    /* Another origin cannot revoke op-power-a's subject. */
    revoke_ok(s, "op-bank-a", "i-1");
    sync_ok(s, NOW);
    assert_list("ipv4", "192.0.2.1\n198.51.100.0/24\n203.0.113.45\n");
    /* The origin can; the value shared with op-bank-a stays. */
    revoke_ok(s, "op-power-a", "i-1");
    revoke_ok(s, "op-power-a", "i-2");
    sync_ok(s, NOW);
    assert_list("ipv4", "192.0.2.1\n198.51.100.0/24\n");
    /* A late copy of a revoked subject stays out. */
    write_ok(s,
             indicator("op-power-a", "i-1", "ipv4", "203.0.113.45", NULL, NULL),
             "i-1");
    sync_ok(s, NOW);
    assert_list("ipv4", "192.0.2.1\n198.51.100.0/24\n");
    /* Time passes: i-8 expires without any new message. */
    sync_ok(s, NOW + 3600 * 1000);
    assert_list("ipv6", "");
    cishare_sink_close(s);

    /* Restart: the state survives, lists are rebuilt from it. */
    s = open_sink("blocklist", tmpdir, false, 0);
    assert_list("ipv4", "192.0.2.1\n198.51.100.0/24\n");
    assert_list("domain", "evil.example\nstresser-panel.example\n");
    write_ok(s,
             indicator("op-power-a", "i-1", "ipv4", "203.0.113.45", NULL, NULL),
             "i-1");
    revoke_ok(s, "op-power-a", "i-5");
    sync_ok(s, NOW);
    assert_list("ipv4", "192.0.2.1\n198.51.100.0/24\n");
    assert_list("sha256", "");
    assert_no_tmp(dir);
    cishare_sink_close(s);
}

/* ---- STIX ---- */

static json_t *load_bundle(const char *out)
{
    char path[400];
    json_error_t jerr;
    json_t *b;

    snprintf(path, sizeof(path), "%s/stix/bundle.json", out);
    b = json_load_file(path, 0, &jerr);
    if (!b)
        fail_msg("%s: %s", path, jerr.text);
    return b;
}

/* The object with id, or of type (id NULL); NULL if none. */
static json_t *find_obj(json_t *bundle, const char *type, const char *id)
{
    json_t *o;
    size_t i;

    json_array_foreach(json_object_get(bundle, "objects"), i, o)
    {
        if (id && !strcmp(json_string_value(json_object_get(o, "id")), id))
            return o;
        if (!id && !strcmp(json_string_value(json_object_get(o, "type")), type))
            return o;
    }
    return NULL;
}

static const char *IND = "indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30";

/* The STIX object of the example indicator IND (found by its name and
 * pattern: its id is derived from origin and subject). */
static json_t *find_ind(json_t *bundle)
{
    json_t *o;
    size_t i;

    json_array_foreach(json_object_get(bundle, "objects"), i, o)
    {
        const char *n = json_string_value(json_object_get(o, "name"));
        const char *p = json_string_value(json_object_get(o, "pattern"));
        if (n && p && !strcmp(n, "LockBit affiliate C2 server") &&
            !strcmp(p, "[ipv4-addr:value = '203.0.113.45']"))
            return o;
    }
    return NULL;
}

static void write_examples(cishare_sink_t *s)
{
    json_t *m;

    write_ok(s, example("indicator", "op-power-a"), IND);
    m = example("incident", "op-power-a");
    write_ok(s, m, "incident--0f6c2a1e-3d5b-4b7a-8e9f-1a2b3c4d5e6f");
    write_ok(s, example("alert", "nco"),
             "alert--8d7e6f5a-4b3c-4d2e-9f1a-0b1c2d3e4f5a");
    write_ok(s, example("sighting", "op-gas-a"), IND);
    /* Generated patterns, one of each kind. */
    write_ok(s,
             indicator("op-power-a", "ind-url", "url", "http://bad.example/a'b",
                       NULL, NULL),
             "ind-url");
    write_ok(s,
             indicator("op-power-a", "ind-md5", "md5",
                       "d41d8cd98f00b204e9800998ecf8427e", NULL, NULL),
             "ind-md5");
    write_ok(s,
             indicator("op-power-a", "ind-sha1", "sha1",
                       "da39a3ee5e6b4b0d3255bfef95601890afd80709", NULL, NULL),
             "ind-sha1");
    write_ok(s,
             indicator("op-power-a", "ind-email", "email", "phish@bad.example",
                       NULL, NULL),
             "ind-email");
    write_ok(s,
             indicator("op-power-a", "ind-asn", "asn", "AS64496", NULL, NULL),
             "ind-asn");
    write_ok(
        s,
        indicator("op-power-a", "ind-cve", "cve", "CVE-2024-3400", NULL, NULL),
        "ind-cve");
    write_ok(s,
             indicator("op-power-a", "ind-ja3", "ja3",
                       "e7d705a3286e19ea42f587b344ee6865", NULL, NULL),
             "ind-ja3");
    write_ok(s,
             indicator("op-power-a", "ind-ipv6", "ipv6", "2001:db8::/32", NULL,
                       NULL),
             "ind-ipv6");
}

/* Values that would block far more than one indicator never reach a
 * blocklist: the whole address space, a TLD, a bare wildcard. */
static void test_blocklist_too_wide(void **state)
{
    static const struct {
        const char *type, *value;
    } in[] = {
        {"ipv4", "0.0.0.0/0"},      {"ipv4", "10.0.0.0/8"},
        {"ipv4", "999.1.1.1"},      {"ipv4", "1.2.3.4/33"},
        {"ipv4", "223.166.0.0/15"}, {"ipv4", "192.0.2.1/32"},
        {"ipv6", "::/0"},           {"ipv6", "2001:db8::/16"},
        {"ipv6", "2001:db8::/48"},  {"domain", "*"},
        {"domain", "com"},          {"domain", "*.com"},
        {"domain", "a..example"},   {"domain", "*.evil.example"},
    };
    cishare_sink_t *s;
    char subject[16];
    size_t i;
    (void)state;

    s = open_sink("blocklist", tmpdir, false, 0);
    for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        snprintf(subject, sizeof(subject), "w-%zu", i);
        write_ok(s,
                 indicator("op-power-a", subject, in[i].type, in[i].value, NULL,
                           NULL),
                 subject);
    }
    sync_ok(s, NOW);
    assert_list("ipv4", "192.0.2.1/32\n223.166.0.0/15\n");
    assert_list("ipv6", "2001:db8::/48\n");
    assert_list("domain", "*.evil.example\n");
    cishare_sink_close(s);
}

/* The text of <tmpdir>/blocklist/<label>/<name>. */
static char *label_file(const char *label, const char *name)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/blocklist/%s/%s", tmpdir, label, name);
    return slurp(path);
}

static void assert_label_list(const char *label, const char *type,
                              const char *expect)
{
    char name[32], *t;

    snprintf(name, sizeof(name), "%s.txt", type);
    t = label_file(label, name);
    if (strcmp(t, expect))
        fail_msg("%s/%s is '%s', expected '%s'", label, name, t, expect);
    free(t);
}

static json_t *at_label(json_t *m, const char *tlp)
{
    json_object_set_new(m, "tlp", json_string(tlp));
    return m;
}

/* The SOA serial of a zone's text. */
static unsigned long zone_serial(const char *zone)
{
    const char *p = strstr(zone, " SOA ");
    unsigned long v = 0;

    assert_non_null(p);
    assert_int_equal(sscanf(p, " SOA %*s %*s %lu", &v), 1);
    return v;
}

/* Issue 15: one folder per label, nothing merged; the RPZ zone and the
 * nft sets hold what the lists hold; to_ids false stays out; the state is
 * not in any list folder. */
static void test_blocklist_labels_formats(void **state)
{
    static const char *const labels[] = {"clear", "green", "amber",
                                         "amber-strict", "red"};
    cishare_sink_t *s;
    uint64_t by[CISHARE_INDICATOR__CNT];
    char path[400], *t;
    unsigned long serial;
    json_t *m;
    size_t i;
    (void)state;

    s = open_sink("blocklist", tmpdir, false, 0);
    write_ok(s,
             at_label(indicator("op-power-a", "g-1", "ipv4", "192.0.2.1", NULL,
                                NULL),
                      "green"),
             "g-1");
    write_ok(s,
             at_label(indicator("op-power-a", "g-2", "domain", "green.example",
                                NULL, NULL),
                      "green"),
             "g-2");
    write_ok(s,
             at_label(indicator("op-power-a", "r-1", "ipv4", "198.51.100.9",
                                NULL, NULL),
                      "red"),
             "r-1");
    write_ok(s,
             at_label(indicator("op-power-a", "r-2", "domain", "red.example",
                                NULL, NULL),
                      "red"),
             "r-2");
    write_ok(s,
             at_label(indicator("op-power-a", "r-3", "domain", "*.wild.example",
                                NULL, NULL),
                      "red"),
             "r-3");
    write_ok(s,
             at_label(indicator("op-power-a", "s-1", "ipv4", "203.0.113.7/24",
                                NULL, NULL),
                      "amber+strict"),
             "s-1");
    write_ok(s,
             at_label(indicator("op-power-a", "s-2", "ipv6", "2001:DB8::1",
                                NULL, NULL),
                      "amber+strict"),
             "s-2");
    /* to_ids false, as a label (older publishes) or a flag: not listed */
    m = at_label(indicator("op-power-a", "n-1", "url", "https://blog.example/",
                           NULL, NULL),
                 "green");
    json_object_set_new(json_object_get(m, "payload"), "labels",
                        json_pack("[s,s]", "osint", "to_ids:false"));
    write_ok(s, m, "n-1");
    m = at_label(
        indicator("op-power-a", "n-2", "ipv4", "203.0.113.99", NULL, NULL),
        "green");
    json_object_set_new(json_object_get(m, "payload"), "to_ids", json_false());
    write_ok(s, m, "n-2");
    sync_ok(s, NOW);

    /* labels apart */
    assert_label_list("green", "ipv4", "192.0.2.1\n");
    assert_label_list("green", "domain", "green.example\n");
    assert_label_list("green", "url", "");
    assert_label_list("red", "ipv4", "198.51.100.9\n");
    assert_label_list("red", "domain", "*.wild.example\nred.example\n");
    assert_label_list("amber-strict", "ipv4", "203.0.113.7/24\n");
    assert_label_list("amber-strict", "ipv6", "2001:db8::1\n");
    for (i = 0; i < 5; i++) { /* every folder, empty ones too */
        assert_label_list(labels[i], "sha256", "");
        snprintf(path, sizeof(path), "%s/blocklist/%s", tmpdir, labels[i]);
        assert_no_tmp(path);
    }
    assert_label_list("clear", "ipv4", "");
    assert_label_list("amber", "ipv4", "");
    assert_int_equal(cishare_sink_blocklist_refused(s, by), 2);
    assert_int_equal(by[CISHARE_INDICATOR_NOT_FOR_DETECTION], 2);

    /* RPZ: the name and the names under it; a wildcard as it says */
    t = label_file("red", "rpz.zone");
    assert_non_null(strstr(t, "\n$TTL "));
    assert_non_null(strstr(t, "\n@ IN NS localhost.\n"));
    assert_non_null(strstr(t, "\nred.example CNAME .\n"));
    assert_non_null(strstr(t, "\n*.red.example CNAME .\n"));
    assert_non_null(strstr(t, "\n*.wild.example CNAME .\n"));
    assert_null(strstr(t, "\nwild.example CNAME"));
    assert_null(strstr(t, "green.example"));
    serial = zone_serial(t);
    assert_true(serial > 0);
    free(t);
    t = label_file("green", "rpz.zone");
    assert_non_null(strstr(t, "\ngreen.example CNAME .\n"));
    assert_null(strstr(t, "red.example"));
    free(t);

    /* nft: the block's network, per-label set names */
    t = label_file("amber-strict", "cishare.nft");
    assert_non_null(strstr(t, "\nadd table inet cishare\n"));
    assert_non_null(
        strstr(t, "\nadd set inet cishare amber_strict_v4 { type ipv4_addr; "
                  "flags interval; auto-merge; }\n"));
    assert_non_null(strstr(t, "\nflush set inet cishare amber_strict_v6\n"));
    assert_non_null(strstr(
        t, "\nadd element inet cishare amber_strict_v4 { 203.0.113.0/24 }\n"));
    assert_non_null(strstr(
        t, "\nadd element inet cishare amber_strict_v6 { 2001:db8::1 }\n"));
    free(t);
    t = label_file("clear", "cishare.nft");
    assert_non_null(strstr(t, "flush set inet cishare clear_v4\n"));
    assert_null(strstr(t, "add element"));
    free(t);

    /* the state is out of the list folders */
    snprintf(path, sizeof(path), "%s/.state/blocklist.jsonl", tmpdir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/blocklist/state.jsonl", tmpdir);
    assert_int_not_equal(access(path, F_OK), 0);

    /* each rewrite raises the serial */
    revoke_ok(s, "op-power-a", "r-2");
    sync_ok(s, NOW);
    t = label_file("red", "rpz.zone");
    assert_true(zone_serial(t) > serial);
    assert_null(strstr(t, "\nred.example CNAME"));
    serial = zone_serial(t);
    free(t);
    cishare_sink_close(s);
    /* ... across a restart too */
    s = open_sink("blocklist", tmpdir, false, 0);
    t = label_file("red", "rpz.zone");
    assert_true(zone_serial(t) > serial);
    free(t);
    cishare_sink_close(s);
}

static void test_stix_examples(void **state)
{
    const char *keep = getenv("CISHARE_SINKS_KEEP");
    const char *out = keep && *keep ? keep : tmpdir;
    cishare_sink_t *s;
    json_t *b, *o, *ind, *rep;
    char dir[400];
    size_t i;
    bool saw_pattern = false;
    (void)state;

    s = open_sink("stix", out, false, 0);
    write_examples(s);
    sync_ok(s, NOW);
    cishare_sink_close(s);
    b = load_bundle(out);
    assert_string_equal(json_string_value(json_object_get(b, "type")),
                        "bundle");
    ind = find_ind(b);
    assert_non_null(ind);
    assert_string_equal(json_string_value(json_object_get(ind, "pattern")),
                        "[ipv4-addr:value = '203.0.113.45']");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(ind, "object_marking_refs"), 0)),
                        "marking-definition--55d920b0-5e8b-4f79-9ee9-"
                        "91f868d9b421");
    /* Its marking and the origin's identity are in the bundle. */
    assert_non_null(find_obj(
        b, NULL, "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"));
    assert_non_null(find_obj(
        b, NULL, "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"));
    assert_non_null(find_obj(
        b, NULL, json_string_value(json_object_get(ind, "created_by_ref"))));
    assert_non_null(find_obj(b, "incident", NULL));
    assert_non_null(find_obj(b, "vulnerability", NULL));
    assert_non_null(find_obj(b, "note", NULL));
    rep = find_obj(b, "report", NULL);
    assert_non_null(rep);
    assert_true(json_array_size(json_object_get(rep, "object_refs")) > 0);
    o = find_obj(b, "sighting", NULL);
    assert_non_null(o);
    assert_string_equal(
        json_string_value(json_object_get(o, "sighting_of_ref")),
        json_string_value(json_object_get(ind, "id")));
    /* The STIX id is derived from (origin, subject), never the subject
     * itself: another origin could name ours. */
    assert_string_not_equal(json_string_value(json_object_get(ind, "id")), IND);
    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *p = json_string_value(json_object_get(o, "pattern"));
        if (p && !strcmp(p, "[url:value = 'http://bad.example/a\\'b']"))
            saw_pattern = true;
        if (p && strstr(p, "autonomous-system"))
            assert_string_equal(p, "[autonomous-system:number = 64496]");
        if (p && strstr(p, "SHA-1"))
            assert_string_equal(p,
                                "[file:hashes.'SHA-1' = "
                                "'da39a3ee5e6b4b0d3255bfef95601890afd80709']");
    }
    assert_true(saw_pattern);
    json_decref(b);
    snprintf(dir, sizeof(dir), "%s/stix", out);
    assert_no_tmp(dir);
}

static void test_stix_revoke_expire_restart(void **state)
{
    cishare_sink_t *s;
    json_t *b;
    (void)state;

    s = open_sink("stix", tmpdir, false, 0);
    write_examples(s);
    write_ok(s,
             indicator("op-power-a", "ind-old", "domain", "old.example", NULL,
                       "2026-11-01T00:00:00Z"),
             "ind-old");
    sync_ok(s, NOW);
    b = load_bundle(tmpdir);
    assert_non_null(find_ind(b));
    assert_int_equal(json_array_size(json_object_get(b, "objects")) > 10, 1);
    json_decref(b);
    /* Only the origin's revocation counts. */
    revoke_ok(s, "op-bank-a", IND);
    sync_ok(s, NOW);
    b = load_bundle(tmpdir);
    assert_non_null(find_ind(b));
    json_decref(b);
    revoke_ok(s, "op-power-a", IND);
    sync_ok(s, NOW);
    cishare_sink_close(s);

    /* After a restart the revoked indicator and its sighting stay gone. */
    s = open_sink("stix", tmpdir, false, 0);
    write_ok(s, example("indicator", "op-power-a"), IND); /* late copy */
    sync_ok(s, NOW);
    b = load_bundle(tmpdir);
    assert_null(find_ind(b));
    assert_null(find_obj(b, "sighting", NULL));
    assert_non_null(find_obj(b, "incident", NULL));
    {
        /* The expired one never appears. */
        json_t *o;
        size_t i;
        json_array_foreach(json_object_get(b, "objects"), i, o)
        {
            const char *p = json_string_value(json_object_get(o, "pattern"));
            assert_false(p && strstr(p, "old.example"));
        }
    }
    json_decref(b);
    cishare_sink_close(s);
}

static void test_unknown_sink(void **state)
{
    cishare_sink_opts_t opts = {.out = tmpdir};
    cishare_sink_t *s = NULL;
    char errstr[256] = "";
    (void)state;
    assert_int_equal(
        cishare_sink_open("csv", &opts, &s, errstr, sizeof(errstr)),
        CISHARE_ERR_NOT_FOUND);
    assert_null(s);
    assert_non_null(strstr(errstr, "csv"));
    opts.out = "-";
    assert_int_equal(
        cishare_sink_open("blocklist", &opts, &s, errstr, sizeof(errstr)),
        CISHARE_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocklist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocklist_labels_formats, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blocklist_too_wide, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stix_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stix_revoke_expire_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_sink, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
