/*
 * Publisher and the directory in use: a publisher that keeps running past
 * its directory's expiry (no newer version arrived) refuses every later
 * record with reason "directory expired", naming the serial and the
 * expiry, and says so once through its log. A caller that polls after
 * each record signs it itself. Runs on librdkafka's mock
 * cluster (in-process, no broker), with the example participants.
 */
#include "cishare/codec.h"
#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/topics.h"
#include "publisher.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

static const char *examples(void)
{
    static char path[1024];
    const char *src = getenv("CISHARE_SRC");

    snprintf(path, sizeof(path), "%s/deploy/examples", src ? src : ".");
    return path;
}

/*
 * The example directory with serial `serial` and `expires`, signed again
 * by the example root key, written to path.
 */
static void write_directory(const char *path, unsigned serial,
                            const char *expires)
{
    char src[1200], keyp[1200], errstr[512], *text, *out = NULL, *line;
    char *body, *p;
    size_t len = 0, olen = 0, blen = 0;
    cishare_keypair_t root;
    FILE *fp;

    snprintf(src, sizeof(src), "%s/directory.yaml", examples());
    snprintf(keyp, sizeof(keyp), "%s/keys/root.key", examples());
    text = test_slurp(src, &len);
    body = calloc(1, len + 256);
    assert_non_null(body);
    /* every line but the signature, serial and expiry replaced */
    for (line = text; line && *line; line = p) {
        size_t n;
        p = strchr(line, '\n');
        n = p ? (size_t)(++p - line) : strlen(line);
        if (!strncmp(line, "# cishare-signature:", 20))
            continue;
        if (!strncmp(line, "serial:", 7))
            blen += (size_t)sprintf(body + blen, "serial: %u\n", serial);
        else if (!strncmp(line, "expires:", 8))
            blen += (size_t)sprintf(body + blen, "expires: %s\n", expires);
        else {
            memcpy(body + blen, line, n);
            blen += n;
        }
    }
    if (cishare_keypair_load(&root, keyp, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
    if (cishare_directory_sign_buf(body, blen, &root, &out, &olen, errstr,
                                   sizeof(errstr)))
        fail_msg("sign: %s", errstr);
    cishare_keypair_wipe(&root);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(out, 1, olen, fp), olen);
    assert_int_equal(fclose(fp), 0);
    free(out);
    free(body);
    free(text);
}

static char logged[4096];

static void log_line(void *opaque, const char *line)
{
    size_t n = strlen(logged);

    (void)opaque;
    snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
}

static json_t *indicator(int i)
{
    char id[80];

    snprintf(id, sizeof(id), "indicator--00000000-0000-4000-8000-%012d", i);
    return json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "type", "indicator", "tlp",
        "green", "payload", "id", id, "type", "ipv4", "value", "192.0.2.7",
        "created", "2026-01-01T00:00:00Z", "modified", "2026-01-01T00:00:00Z");
}

/* A publisher of op-power-a on a mock cluster holding the example
 * participants' topics, with its directory at dir/directory.yaml (which
 * the caller writes). */
typedef struct fixture_s {
    char dir[256], dpath[320], root[1200];
    rd_kafka_t *mrk;
    rd_kafka_mock_cluster_t *mc;
    cishare_config_t *c;
    cishare_publisher_t *pub;
} fixture_t;

static void fixture_cluster(fixture_t *fx)
{
    char expath[1200], errstr[1024];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    cishare_directory_t *d = NULL;
    cishare_strlist_t topics = {0};
    size_t i;

    assert_int_equal(test_tmpdir_make(fx->dir, sizeof(fx->dir), "publisher"),
                     0);
    snprintf(fx->dpath, sizeof(fx->dpath), "%s/directory.yaml", fx->dir);
    snprintf(fx->root, sizeof(fx->root), "%s/root.pub", examples());
    rd_kafka_conf_set(kc, "log_level", "2", NULL, 0);
    fx->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    assert_non_null(fx->mrk);
    fx->mc = rd_kafka_mock_cluster_new(fx->mrk, 1);
    assert_non_null(fx->mc);
    /* the topics of the example participants (creating them on the mock
     * cluster takes a while: before any clock of a test starts) */
    snprintf(expath, sizeof(expath), "%s/directory.yaml", examples());
    if (cishare_directory_load(expath, fx->root, &d, errstr, sizeof(errstr)) ||
        cishare_topics_for_directory(d, &topics, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
    for (i = 0; i < topics.cnt; i++)
        rd_kafka_mock_topic_create(fx->mc, topics.items[i], 1, 1);
    /* an empty directory topic: read to its end at once */
    rd_kafka_mock_topic_create(fx->mc, "cishare.directory", 1, 1);
    cishare_strlist_clear(&topics);
    cishare_directory_destroy(d);
}

static void fixture_publisher(fixture_t *fx)
{
    char key[1200], spath[320], errstr[1024];

    snprintf(key, sizeof(key), "%s/keys/op-power-a.key", examples());
    snprintf(spath, sizeof(spath), "%s/state", fx->dir);
    fx->c = cishare_config_new();
    assert_non_null(fx->c);
    if (cishare_config_set(fx->c, "bootstrap.servers",
                           rd_kafka_mock_cluster_bootstraps(fx->mc), errstr,
                           sizeof(errstr)) ||
        cishare_config_set(fx->c, "security.protocol", "plaintext", errstr,
                           sizeof(errstr)) ||
        cishare_config_set(fx->c, "log_level", "2", errstr, sizeof(errstr)) ||
        cishare_config_set(fx->c, "cishare.participant", "op-power-a", errstr,
                           sizeof(errstr)) ||
        cishare_config_set(fx->c, "cishare.key", key, errstr, sizeof(errstr)) ||
        cishare_config_set(fx->c, "cishare.directory", fx->dpath, errstr,
                           sizeof(errstr)) ||
        cishare_config_set(fx->c, "cishare.root-key", fx->root, errstr,
                           sizeof(errstr)) ||
        cishare_config_set(fx->c, "cishare.state-dir", spath, errstr,
                           sizeof(errstr)))
        fail_msg("config: %s", errstr);
    if (cishare_publisher_new(fx->c, false, &fx->pub, errstr, sizeof(errstr)))
        fail_msg("publisher: %s", errstr);
    cishare_publisher_set_log(fx->pub, log_line, NULL);
}

static void fixture_destroy(fixture_t *fx)
{
    cishare_publisher_flush(fx->pub, 10000);
    cishare_publisher_destroy(fx->pub);
    cishare_config_destroy(fx->c);
    rd_kafka_mock_cluster_destroy(fx->mc);
    rd_kafka_destroy(fx->mrk);
    test_tmpdir_remove(fx->dir);
}

static void test_expiry_while_running(void **state)
{
    fixture_t fx = {0};
    char expires[32];
    const cishare_pub_rec_t *r;
    int64_t exp_ms;
    json_t *m;
    size_t i;

    (void)state;
    fixture_cluster(&fx);
    /* expires 14 to 15 s from now (whole seconds): time enough for the
     * publisher to start on a loaded 2-core machine (sanitizers, CI) */
    exp_ms = (cishare_time_now_ms() / 1000 + 15) * 1000;
    cishare_time_format(exp_ms, expires);
    write_directory(fx.dpath, 90, expires);
    fixture_publisher(&fx);

    /* in force: built and produced */
    m = indicator(1);
    assert_int_equal(cishare_publisher_submit(fx.pub, m, "before", -1, NULL),
                     CISHARE_OK);
    json_decref(m);
    r = cishare_publisher_rec(fx.pub, 0);
    if (r->failed)
        fail_msg("refused before the expiry: %s", r->detail);
    assert_null(strstr(logged, "expired"));

    /* past the expiry: refused, with the serial and the expiry */
    while (cishare_time_now_ms() < exp_ms + 100)
        usleep(50 * 1000);
    for (i = 0; i < 3; i++) {
        m = indicator(2 + (int)i);
        assert_int_equal(cishare_publisher_submit(fx.pub, m, "after", -1, NULL),
                         CISHARE_OK);
        json_decref(m);
        r = cishare_publisher_rec(fx.pub, 1 + i);
        assert_true(r->failed);
        assert_string_equal(r->reason, "directory expired");
        if (!strstr(r->detail, "serial 90") || !strstr(r->detail, expires))
            fail_msg("detail: %s", r->detail);
    }
    /* logged once */
    assert_non_null(strstr(logged, "serial 90"));
    assert_null(strstr(strstr(logged, "serial 90") + 1, "serial 90 in use"));
    fixture_destroy(&fx);
}

/*
 * A caller that polls after each record (a low rate, latency first) finds
 * the signer lingering for a batch to fill: it signs the record itself,
 * instead of waking the signer thread (a scheduler tick on a busy
 * machine). Records are still delivered in order, once each. Without
 * it, cishare_publisher_signed_here() stays 0.
 */
static void test_caller_signs_when_polling(void **state)
{
    fixture_t fx = {0};
    char expires[32];
    int i, n = 40;

    (void)state;
    fixture_cluster(&fx);
    cishare_time_format(cishare_time_now_ms() + 3600 * 1000, expires);
    write_directory(fx.dpath, 91, expires);
    fixture_publisher(&fx);
    for (i = 0; i < n; i++) {
        json_t *m = indicator(100 + i);
        assert_int_equal(cishare_publisher_submit(fx.pub, m, "r", -1, NULL),
                         CISHARE_OK);
        json_decref(m);
        cishare_publisher_poll(fx.pub, 0);
    }
    cishare_publisher_flush(fx.pub, 10000);
    assert_int_equal(cishare_publisher_delivered(fx.pub), (size_t)n);
    for (i = 0; i < n; i++) {
        const cishare_pub_rec_t *r = cishare_publisher_rec(fx.pub, (size_t)i);
        if (r->failed)
            fail_msg("record %d: %s", i, r->detail);
    }
    print_message("%zu of %d batches signed by the caller\n",
                  cishare_publisher_signed_here(fx.pub), n);
    assert_true(cishare_publisher_signed_here(fx.pub) >= 1);
    fixture_destroy(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_while_running),
        cmocka_unit_test(test_caller_signs_when_polling),
    };

    if (cishare_crypto_init())
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
