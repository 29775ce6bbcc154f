/* Unit tests of the log lines (log.h): JSON objects, escaping, fields,
 * levels, precedence of the format, one write per line across threads,
 * and README's table of reason codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "cishare/indicator.h"
#include "cishare/kafka_errors.h"
#include "cishare/log.h"
#include "cishare/policy.h"
#include "feed.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The rendered line parsed back; the line must end in exactly one "\n". */
static json_t *render(cishare_log_level_t level, const cishare_log_fields_t *lf,
                      const char *msg)
{
    char *line = cishare_log_render(1700000000123LL, level, "feed", lf, msg);
    json_error_t e;
    json_t *o;
    size_t len;

    assert_non_null(line);
    len = strlen(line);
    assert_true(len > 2 && line[len - 1] == '\n');
    assert_null(memchr(line, '\n', len - 1));
    o = json_loads(line, 0, &e);
    if (!o)
        fail_msg("not JSON (%s): %s", e.text, line);
    free(line);
    return o;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_fields(void **state)
{
    cishare_log_fields_t lf = {0};
    json_t *o;
    (void)state;

    o = render(CISHARE_LOG_INFO, NULL, "hello");
    assert_string_equal(str(o, "time"), "2023-11-14T22:13:20.123Z");
    assert_string_equal(str(o, "level"), "info");
    assert_string_equal(str(o, "component"), "feed");
    assert_string_equal(str(o, "message"), "hello");
    /* nothing that is not known */
    assert_int_equal(json_object_size(o), 4);
    json_decref(o);

    lf.level = CISHARE_LOG_WARN;
    lf.msg_id = "f5d58298-9409-44f0-ae35-053c13889afd";
    lf.reason = "bad-signature";
    lf.origin = "op-power-a";
    lf.topic = "cishare.green.electricity";
    lf.partition = 0;
    lf.offset = 42;
    lf.kafka_error = "_TRANSPORT";
    o = render(CISHARE_LOG_INFO, &lf, "quarantined");
    /* the fields' level wins over the writer's */
    assert_string_equal(str(o, "level"), "warn");
    assert_string_equal(str(o, "msg_id"), lf.msg_id);
    assert_string_equal(str(o, "reason"), "bad-signature");
    assert_string_equal(str(o, "origin"), "op-power-a");
    assert_string_equal(str(o, "topic"), lf.topic);
    assert_int_equal(json_integer_value(json_object_get(o, "partition")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "offset")), 42);
    assert_string_equal(str(o, "kafka_error"), "_TRANSPORT");
    json_decref(o);

    /* a negative offset is not one; no topic, no partition */
    lf.offset = -1001;
    o = render(CISHARE_LOG_INFO, &lf, "x");
    assert_null(json_object_get(o, "offset"));
    json_decref(o);
    lf.topic = NULL;
    o = render(CISHARE_LOG_INFO, &lf, "x");
    assert_null(json_object_get(o, "partition"));
    json_decref(o);

    /* time at the epoch, ms padded */
    {
        char *line = cishare_log_render(7, CISHARE_LOG_ERROR, NULL, NULL, "");
        assert_non_null(line);
        assert_non_null(strstr(line, "\"1970-01-01T00:00:00.007Z\""));
        assert_null(strstr(line, "component"));
        free(line);
    }
}

static void test_levels(void **state)
{
    (void)state;
    assert_string_equal(cishare_log_level_name(CISHARE_LOG_ERROR), "error");
    assert_string_equal(cishare_log_level_name(CISHARE_LOG_WARN), "warn");
    assert_string_equal(cishare_log_level_name(CISHARE_LOG_INFO), "info");
    assert_string_equal(cishare_log_level_name(CISHARE_LOG_DEBUG), "debug");
}

static void test_escaping(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"say \"hi\"\\ now", "say \"hi\"\\ now"},
        {"two\nlines\r\tand\x01", "two\nlines\r\tand\x01"},
        {"日本語 ok", "日本語 ok"},
        {"bad \xff byte", "bad \xef\xbf\xbd byte"},
        /* overlong '/', a surrogate, past U+10FFFF, cut at the end */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"end \xe6\x97", "end \xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
        {"", ""},
    };
    cishare_log_fields_t lf = {0};
    size_t i;
    json_t *o;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        o = render(CISHARE_LOG_INFO, NULL, cases[i].in);
        assert_string_equal(str(o, "message"), cases[i].out);
        json_decref(o);
    }
    /* fields are strings of the same kind (a claimed id is any bytes) */
    lf.msg_id = "id\"\n\xfe";
    o = render(CISHARE_LOG_INFO, &lf, "m");
    assert_string_equal(str(o, "msg_id"), "id\"\n\xef\xbf\xbd");
    json_decref(o);
}

static void test_format_precedence(void **state)
{
    cishare_log_format_t fmt = CISHARE_LOG_TEXT;
    (void)state;

    assert_int_equal(cishare_log_format_parse("json", &fmt), 0);
    assert_int_equal(fmt, CISHARE_LOG_JSON);
    assert_int_equal(cishare_log_format_parse("text", &fmt), 0);
    assert_int_equal(fmt, CISHARE_LOG_TEXT);
    assert_int_equal(cishare_log_format_parse("JSON", &fmt), -1);
    assert_int_equal(cishare_log_format_parse("xml", &fmt), -1);
    assert_int_equal(cishare_log_format_parse("", &fmt), -1);
    assert_int_equal(cishare_log_format_parse(NULL, &fmt), -1);

    assert_int_equal(cishare_log_format(), CISHARE_LOG_TEXT);
    assert_true(
        cishare_log_set_format(CISHARE_LOG_JSON, CISHARE_LOG_SRC_CONFIG));
    assert_int_equal(cishare_log_format(), CISHARE_LOG_JSON);
    assert_true(
        cishare_log_set_format(CISHARE_LOG_TEXT, CISHARE_LOG_SRC_OPTION));
    /* the environment and a config come after the option */
    assert_false(cishare_log_set_format(CISHARE_LOG_JSON, CISHARE_LOG_SRC_ENV));
    assert_false(
        cishare_log_set_format(CISHARE_LOG_JSON, CISHARE_LOG_SRC_CONFIG));
    assert_int_equal(cishare_log_format(), CISHARE_LOG_TEXT);
    assert_true(
        cishare_log_set_format(CISHARE_LOG_JSON, CISHARE_LOG_SRC_OPTION));
    assert_int_equal(cishare_log_format(), CISHARE_LOG_JSON);
}

/* The library side: a callback that writes its line, as cmd_feed.c's. */
static void cb_line(void *opaque, const char *line)
{
    cishare_log_line(opaque ? CISHARE_LOG_ERROR : CISHARE_LOG_INFO,
                     opaque ? "% ERROR: " : "% ", line);
}

static void cb_nested(void *opaque, const char *line)
{
    cishare_log_fields_t inner = {0};
    (void)opaque;
    inner.reason = "inner";
    cishare_log_with(&inner, cb_line, NULL, "nested");
    cb_line(NULL, line);
}

static char *read_all(int fd)
{
    char *buf = calloc(1, 65536);
    size_t len = 0;
    ssize_t r;

    assert_non_null(buf);
    lseek(fd, 0, SEEK_SET);
    while ((r = read(fd, buf + len, 65535 - len)) > 0)
        len += (size_t)r;
    return buf;
}

static void test_lines(void **state)
{
    char path[] = "/tmp/cishare-test-log-XXXXXX", *out, *l, *save = NULL;
    cishare_log_fields_t lf = {0};
    const char *want_reason[] = {"bad-signature", "inner", "bad-signature",
                                 NULL, NULL};
    json_t *o;
    int fd, i = 0;
    (void)state;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    cishare_log_set_fd(fd);
    cishare_log_set_component("relay");

    /* text: byte for byte what the "% " lines always were */
    assert_true(
        cishare_log_set_format(CISHARE_LOG_TEXT, CISHARE_LOG_SRC_OPTION));
    lf.reason = "bad-signature";
    cishare_log_with(&lf, cb_line, NULL, "quarantined x");
    cb_line((void *)1, "it failed");
    cishare_log_with(&lf, NULL, NULL, "no callback: nothing");
    out = read_all(fd);
    assert_string_equal(out, "% quarantined x\n% ERROR: it failed\n");
    free(out);
    assert_int_equal(ftruncate(fd, 0), 0);
    lseek(fd, 0, SEEK_SET);

    /* JSON: the fields of the call around, restored after a nested one */
    assert_true(
        cishare_log_set_format(CISHARE_LOG_JSON, CISHARE_LOG_SRC_OPTION));
    cishare_log_with(&lf, cb_line, NULL, "one");
    cishare_log_with(&lf, cb_nested, NULL, "two");
    cb_line(NULL, "three");
    cb_line((void *)1, "four");
    out = read_all(fd);
    for (l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        assert_true(i < 5);
        o = json_loads(l, 0, NULL);
        assert_non_null(o);
        assert_string_equal(str(o, "component"), "relay");
        if (want_reason[i])
            assert_string_equal(str(o, "reason"), want_reason[i]);
        else
            assert_null(json_object_get(o, "reason"));
        assert_string_equal(str(o, "level"), i == 4 ? "error" : "info");
        json_decref(o);
        i++;
    }
    assert_int_equal(i, 5);
    free(out);
    close(fd);
    cishare_log_set_fd(2);
    cishare_log_set_format(CISHARE_LOG_TEXT, CISHARE_LOG_SRC_OPTION);
}

/* Threads writing long lines at once: each line whole. */
#define THREADS 4
#define LINES   200

static void *writer(void *arg)
{
    char msg[2000];
    cishare_log_fields_t lf = {0};
    int i;

    memset(msg, 'a' + (int)(intptr_t)arg, sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    lf.msg_id = "m";
    for (i = 0; i < LINES; i++)
        cishare_log_with(&lf, cb_line, NULL, msg);
    return NULL;
}

static void test_threads(void **state)
{
    char path[] = "/tmp/cishare-test-log-XXXXXX";
    pthread_t t[THREADS];
    FILE *fp;
    char *line = NULL;
    size_t cap = 0;
    int fd, i, n = 0;
    (void)state;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    cishare_log_set_fd(fd);
    cishare_log_set_format(CISHARE_LOG_JSON, CISHARE_LOG_SRC_OPTION);
    for (i = 0; i < THREADS; i++)
        assert_int_equal(
            pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cishare_log_set_fd(2);
    cishare_log_set_format(CISHARE_LOG_TEXT, CISHARE_LOG_SRC_OPTION);
    close(fd);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (getline(&line, &cap, fp) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *m;
        assert_non_null(o);
        m = str(o, "message");
        assert_int_equal(strlen(m), 1999);
        assert_int_equal(strspn(m, (char[]){m[0], 0}), 1999);
        assert_string_equal(str(o, "msg_id"), "m");
        json_decref(o);
        n++;
    }
    free(line);
    fclose(fp);
    unlink(path);
    assert_int_equal(n, THREADS * LINES);
}

/* README "Logs" lists every reason code the program has. */
static void test_readme_codes(void **state)
{
    static const char *const relay_codes[] = {
        "unverifiable",  "already-relayed",    "own-message",
        "no-rule",       "audience-too-large", "no-originator",
        "no-recipient",  "not-writable",       "anonymise-failed",
        "out-of-memory", "topic-unknown",      "topic-not-authorised"};
    const char *src = getenv("CISHARE_SRC");
    char path[1024], want[128], *readme, *sec, *end;
    size_t i;
    int missing = 0;
    (void)state;

    if (!src)
        skip();
    snprintf(path, sizeof(path), "%s/README.md", src);
    readme = test_slurp_maybe(path, NULL);
    assert_non_null(readme);
    sec = strstr(readme, "\n### Logs\n");
    assert_non_null(sec);
    if ((end = strstr(sec + 1, "\n### ")))
        *end = '\0';
#define WANT(code)                                                             \
    do {                                                                       \
        snprintf(want, sizeof(want), "`%s`", (code));                          \
        if (!strstr(sec, want)) {                                              \
            print_error("README \"Logs\" does not list %s\n", want);           \
            missing++;                                                         \
        }                                                                      \
    } while (0)
    for (i = 0; i < CISHARE_FEED_QREASON__CNT; i++)
        WANT(cishare_feed_quarantine_reason_name((cishare_feed_qreason_t)i));
    for (i = 0; i < CISHARE_REASON__CNT; i++)
        WANT(cishare_reason_code((cishare_reason_t)i));
    for (i = 1; i < CISHARE_INDICATOR__CNT; i++)
        WANT(cishare_indicator_reason_name((cishare_indicator_reason_t)i));
    for (i = 0; i <= CISHARE_KAFKA_CONN_TLS_OTHER; i++)
        WANT(cishare_kafka_conn_code((cishare_kafka_conn_t)i));
    for (i = 0; i < sizeof(relay_codes) / sizeof(relay_codes[0]); i++)
        WANT(relay_codes[i]);
#undef WANT
    free(readme);
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_format_precedence),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_readme_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
