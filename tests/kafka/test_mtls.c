/* Real-Kafka checks of the deployment's security baseline, on mutual TLS:
 * the administrator's certificate produces idempotently and consumes
 * (headers included); a client without a certificate is refused, and
 * cishare's connection watch (kafka_errors.h) gives up on it with the
 * refusal in plain words instead of retrying forever; a plaintext client
 * gets nothing. (Was test_scram.c: the cluster cishare starts has no SCRAM
 * listener any more.) Needs the broker of tests/run:
 * CISHARE_KAFKA_BOOTSTRAP and CISHARE_KAFKA_ADMIN_CONF (the admin
 * certificate's librdkafka config, key=value lines). */
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
#include <librdkafka/rdkafka.h>

#include "cishare/kafka_errors.h"

#define N_MSGS 300

static const char *bootstrap;
static const char *admin_conf; /* file of key=value lines */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        fail_msg("conf %s: %s", k, err);
}

/* The admin certificate's config; without_cert: without its certificate
 * and key (ssl.certificate.*, ssl.key.*). */
static rd_kafka_conf_t *admin_conf_read(int without_cert)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char line[1024];
    FILE *fp = fopen(admin_conf, "r");

    if (!fp)
        fail_msg("%s: cannot open", admin_conf);
    while (fgets(line, sizeof(line), fp)) {
        char *eq = strchr(line, '=');
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        if (without_cert && (!strncmp(line, "ssl.certificate.", 16) ||
                             !strncmp(line, "ssl.key.", 8)))
            continue;
        set(conf, line, eq + 1);
    }
    fclose(fp);
    set(conf, "bootstrap.servers", bootstrap);
    return conf;
}

static rd_kafka_conf_t *tls_conf(void)
{
    return admin_conf_read(0);
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk)
        fail_msg("rd_kafka_new: %s", err);
    return rk;
}

static int setup(void **state)
{
    (void)state;
    bootstrap = getenv("CISHARE_KAFKA_BOOTSTRAP");
    admin_conf = getenv("CISHARE_KAFKA_ADMIN_CONF");
    if (!bootstrap || !*bootstrap || !admin_conf || !*admin_conf) {
        fprintf(stderr, "CISHARE_KAFKA_BOOTSTRAP and CISHARE_KAFKA_ADMIN_CONF "
                        "are not set: these tests need the real broker; run "
                        "them through tests/run (or deploy/kafka/start and "
                        "export them)\n");
        return -1;
    }
    return 0;
}

static void create_topic(const char *topic, int partitions)
{
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, tls_conf());
    char err[512];
    /* -1: the broker's default.replication.factor (1 or 3 nodes). */
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, -1, err, sizeof(err));
    assert_non_null(nt);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    assert_non_null(ev);
    assert_int_equal(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR);
    const rd_kafka_CreateTopics_result_t *res =
        rd_kafka_event_CreateTopics_result(ev);
    size_t n;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_CreateTopics_result_topics(res, &n);
    assert_int_equal(n, 1);
    if (rd_kafka_topic_result_error(tr[0]))
        fail_msg("create %s: %s", topic,
                 rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

struct dr_state {
    int ok;
    int failed;
    rd_kafka_resp_err_t first_err;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct dr_state *st = opaque;
    if (m->err) {
        if (!st->failed)
            st->first_err = m->err;
        st->failed++;
    } else {
        st->ok++;
    }
}

static void test_admin_produce_consume(void **state)
{
    (void)state;
    char topic[128];
    snprintf(topic, sizeof(topic), "cishare-test.mtls.%ld.%ld", (long)getpid(),
             (long)time(NULL));
    create_topic(topic, 3);

    struct dr_state dr = {0};
    rd_kafka_conf_t *conf = tls_conf();
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &dr);
    rd_kafka_t *p = new_client(RD_KAFKA_PRODUCER, conf);
    for (int i = 0; i < N_MSGS; i++) {
        char key[32], val[64], idx[16];
        snprintf(key, sizeof(key), "subject-%d", i % 17);
        snprintf(val, sizeof(val), "value-%d", i);
        snprintf(idx, sizeof(idx), "%d", i);
        const unsigned char bin[4] = {0x00, 0xff, (unsigned char)i, 0x7f};
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(val, strlen(val)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("idx", idx, -1),
            RD_KAFKA_V_HEADER("bin", bin, sizeof(bin)), RD_KAFKA_V_END);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_poll(p, 0);
    }
    assert_int_equal(rd_kafka_flush(p, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    if (dr.failed)
        fail_msg("%d deliveries failed, first: %s", dr.failed,
                 rd_kafka_err2str(dr.first_err));
    assert_int_equal(dr.ok, N_MSGS);
    rd_kafka_destroy(p);

    conf = tls_conf();
    char group[160];
    snprintf(group, sizeof(group), "%s.group", topic);
    set(conf, "group.id", group);
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    rd_kafka_t *c = new_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(c, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(sub);

    static char seen[N_MSGS];
    memset(seen, 0, sizeof(seen));
    int got = 0;
    int64_t deadline = now_ms() + 90000;
    while (got < N_MSGS && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 500);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fail_msg("consume: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        rd_kafka_headers_t *hdrs = NULL;
        assert_int_equal(rd_kafka_message_headers(m, &hdrs),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        const void *hv;
        size_t hlen;
        assert_int_equal(rd_kafka_header_get_last(hdrs, "idx", &hv, &hlen),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        char idx[16] = {0};
        assert_true(hlen < sizeof(idx));
        memcpy(idx, hv, hlen);
        int i = atoi(idx);
        assert_true(i >= 0 && i < N_MSGS);

        char key[32], val[64];
        snprintf(key, sizeof(key), "subject-%d", i % 17);
        snprintf(val, sizeof(val), "value-%d", i);
        assert_int_equal(m->key_len, strlen(key));
        assert_memory_equal(m->key, key, m->key_len);
        assert_int_equal(m->len, strlen(val));
        assert_memory_equal(m->payload, val, m->len);
        const unsigned char bin[4] = {0x00, 0xff, (unsigned char)i, 0x7f};
        assert_int_equal(rd_kafka_header_get_last(hdrs, "bin", &hv, &hlen),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(hlen, sizeof(bin));
        assert_memory_equal(hv, bin, sizeof(bin));

        if (seen[i])
            fail_msg("message %d delivered twice", i);
        seen[i] = 1;
        got++;
        rd_kafka_message_destroy(m);
    }
    if (got != N_MSGS)
        fail_msg("consumed %d of %d messages within 90 s", got, N_MSGS);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

struct err_state {
    cishare_kafka_watch_t watch;
    int errors;
};

static void err_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct err_state *st = opaque;
    st->errors++;
    cishare_kafka_watch_update(&st->watch, (rd_kafka_resp_err_t)err, reason,
                               NULL);
}

static void test_no_certificate_refused(void **state)
{
    (void)state;
    struct err_state st = {0};
    /* the admin's config without its certificate and key */
    rd_kafka_conf_t *conf = admin_conf_read(1);
    rd_kafka_conf_set_error_cb(conf, err_cb);
    rd_kafka_conf_set_opaque(conf, &st);
    set(conf, "log_level", "0");
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
    int64_t deadline = now_ms() + 30000;
    while (!(st.watch.refused && st.watch.all_down) && now_ms() < deadline)
        rd_kafka_poll(rk, 200);
    if (!(st.watch.refused && st.watch.all_down))
        fail_msg("no refusal within 30 s (%d errors)", st.errors);
    /* the broker's TLS alert, explained */
    if (!strstr(st.watch.text, "the broker refused this client"))
        fail_msg("not explained: %s", st.watch.text);

    /* And it gets no metadata. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 3000);
    assert_int_not_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

static void test_plaintext_refused(void **state)
{
    (void)state;
    struct err_state st = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "security.protocol", "PLAINTEXT");
    set(conf, "log_level", "0");
    rd_kafka_conf_set_error_cb(conf, err_cb);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 8000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
        fail_msg("an unauthenticated PLAINTEXT client got metadata");
    }
    rd_kafka_destroy(rk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_produce_consume),
        cmocka_unit_test(test_no_certificate_refused),
        cmocka_unit_test(test_plaintext_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
