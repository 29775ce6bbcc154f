/*
 * A hostile participant and its victims on librdkafka's mock cluster (the
 * embedded broker), for the hardening tests (issue 12).
 *
 * The attacker is a real example participant with its own key: it builds
 * and signs messages through the library (cishare_message_build, or an
 * envelope it fills and cishare_envelope_sign()s itself) and produces them
 * to topics it may write, the way its own producer would. The victims run
 * the real feed (cishare_feed_run, --once --from-beginning) with the real
 * sinks into a private folder.
 *
 * Include after <cmocka.h> and test_util.h. Needs CISHARE_SRC (set by
 * ctest) for deploy/examples. HOSTILE_DEBUG=<librdkafka debug contexts>
 * shows the feeds' lines and librdkafka's debug log on stderr.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include "feed.h"

#include "cishare/codec.h"
#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/keys.h"
#include "cishare/message.h"
#include "cishare/routing.h"
#include "cishare/topics.h"
#include "cishare/types.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hostile_s {
    char dir[256];       /**< private temporary folder */
    char examples[1024]; /**< deploy/examples */
    rd_kafka_t *mrk;     /**< owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t *producer;   /**< the attacker's raw producer */
    cishare_directory_t *d; /**< the example directory */
    cishare_codec_t *codec;
    char lines[16384]; /**< what the feeds logged, for asserts */
    size_t lines_len;
    unsigned runs; /**< feed runs so far */
} hostile_t;

static __attribute__((unused)) void hostile_log(void *opaque, const char *line)
{
    hostile_t *h = opaque;
    size_t n = strlen(line);

    if (getenv("HOSTILE_DEBUG"))
        fprintf(stderr, "%lld %s\n", (long long)cishare_time_now_ms(), line);

    if (h->lines_len + n + 2 < sizeof(h->lines)) {
        memcpy(h->lines + h->lines_len, line, n);
        h->lines_len += n;
        h->lines[h->lines_len++] = '\n';
        h->lines[h->lines_len] = '\0';
    }
}

/* A mock cluster (topics are created when first produced to or
 * subscribed to) and the example directory loaded. */
static __attribute__((unused)) hostile_t *hostile_new(void)
{
    hostile_t *h = calloc(1, sizeof(*h));
    const char *src = getenv("CISHARE_SRC");
    char path[1200], root[1200], errstr[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();

    assert_non_null(h);
    assert_int_equal(cishare_crypto_init(), CISHARE_OK);
    assert_int_equal(test_tmpdir_make(h->dir, sizeof(h->dir), "hostile"), 0);
    snprintf(h->examples, sizeof(h->examples), "%s/deploy/examples",
             src ? src : ".");
    rd_kafka_conf_set(kc, "log_level", "2", NULL, 0);
    h->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    assert_non_null(h->mrk);
    h->mc = rd_kafka_mock_cluster_new(h->mrk, 1);
    assert_non_null(h->mc);
    snprintf(path, sizeof(path), "%s/directory.yaml", h->examples);
    snprintf(root, sizeof(root), "%s/root.pub", h->examples);
    if (cishare_directory_load(path, root, &h->d, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);

    kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers",
                      rd_kafka_mock_cluster_bootstraps(h->mc), NULL, 0);
    rd_kafka_conf_set(kc, "log_level", "2", NULL, 0);
    h->producer = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    assert_non_null(h->producer);
    if (cishare_codec_new(&h->codec, errstr, sizeof(errstr)))
        fail_msg("codec: %s", errstr);
    return h;
}

/* The example key of participant id (deploy/examples/keys/<id>.key). */
static __attribute__((unused)) void hostile_key(hostile_t *h, const char *id,
                                                cishare_keypair_t *kp)
{
    char path[1200], errstr[512];

    snprintf(path, sizeof(path), "%s/keys/%s.key", h->examples, id);
    if (cishare_keypair_load(kp, path, errstr, sizeof(errstr)))
        fail_msg("key %s: %s", id, errstr);
}

/* Sign out->env as `as` (again, after the caller changed it) and produce
 * it to one partition of topic (RD_KAFKA_PARTITION_UA: the partitioner
 * picks). Synchronous: flushed before returning. */
static __attribute__((unused)) void
hostile_produce_to(hostile_t *h, const char *as, const char *topic,
                   int32_t partition, cishare_msg_out_t *out)
{
    cishare_keypair_t kp;
    rd_kafka_headers_t *hdrs = NULL;
    char errstr[512];
    rd_kafka_resp_err_t kerr;

    hostile_key(h, as, &kp);
    if (cishare_envelope_sign(&out->env, &kp, NULL, out->key, out->key_len,
                              out->value, out->value_len, errstr,
                              sizeof(errstr)))
        fail_msg("sign: %s", errstr);
    cishare_keypair_wipe(&kp);
    hdrs = rd_kafka_headers_new(8);
    if (cishare_envelope_to_headers(&out->env, hdrs, errstr, sizeof(errstr)))
        fail_msg("headers: %s", errstr);
    kerr = rd_kafka_producev(h->producer, RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_KEY(out->key, out->key_len),
                             RD_KAFKA_V_VALUE(out->value, out->value_len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (kerr) {
        rd_kafka_headers_destroy(hdrs);
        fail_msg("produce to %s: %s", topic, rd_kafka_err2str(kerr));
    }
    assert_int_equal(rd_kafka_flush(h->producer, 10000), 0);
}

/* hostile_produce_to() any partition. */
static __attribute__((unused)) void hostile_produce(hostile_t *h,
                                                    const char *as,
                                                    const char *topic,
                                                    cishare_msg_out_t *out)
{
    hostile_produce_to(h, as, topic, RD_KAFKA_PARTITION_UA, out);
}

/* Build msg (native JSON, codec.h) as participant `as` with its own key,
 * no publish-side checks, into *out (caller clears). */
static __attribute__((unused)) void hostile_build(hostile_t *h, const char *as,
                                                  const json_t *msg,
                                                  cishare_msg_out_t *out)
{
    const cishare_participant_t *p = cishare_directory_find(h->d, as);
    cishare_keypair_t kp;
    char errstr[512];

    assert_non_null(p);
    hostile_key(h, as, &kp);
    if (cishare_message_build(h->codec, h->d, p, &kp, msg, -1, NULL,
                              cishare_time_now_ms(), out, errstr,
                              sizeof(errstr)))
        fail_msg("build as %s: %s", as, errstr);
    cishare_keypair_wipe(&kp);
}

/* Build msg as `as` and produce it to every topic its label and audience
 * route to, as the publisher does. */
static __attribute__((unused)) void
hostile_publish(hostile_t *h, const char *as, const json_t *msg)
{
    const cishare_participant_t *p = cishare_directory_find(h->d, as);
    cishare_msg_out_t out = {0};
    cishare_strlist_t topics = {0};
    char errstr[512];
    size_t i;

    hostile_build(h, as, msg, &out);
    if (cishare_routing_topics(h->d, p, out.env.tlp, &out.audience, &topics,
                               errstr, sizeof(errstr)))
        fail_msg("routing: %s", errstr);
    for (i = 0; i < topics.cnt; i++)
        hostile_produce(h, as, topics.items[i], &out);
    cishare_strlist_clear(&topics);
    cishare_msg_out_clear(&out);
}

/* schemas/examples/<type>-example.json (new reference): the native JSON
 * message tests start from. */
static __attribute__((unused)) json_t *hostile_example(const char *type)
{
    const char *src = getenv("CISHARE_SRC");
    char path[1200];
    json_error_t jerr;
    json_t *m;

    snprintf(path, sizeof(path), "%s/schemas/examples/%s-example.json",
             src ? src : ".", type);
    if (!(m = json_load_file(path, 0, &jerr)))
        fail_msg("%s: %s", path, jerr.text);
    return m;
}

/* The feed folder of participant who: <dir>/<who>. */
static __attribute__((unused)) const char *hostile_out(hostile_t *h,
                                                       const char *who)
{
    static char path[1400];

    snprintf(path, sizeof(path), "%s/%s", h->dir, who);
    return path;
}

/* Optional settings of hostile_feed_ex(); zeroed: hostile_feed()'s. */
typedef struct hostile_feed_opts_s {
    const char *out;   /**< state and sink folder; NULL: hostile_out() */
    bool keep_offsets; /**< start at the group's committed offsets, not
                            at the beginning (no --from-beginning) */
    int threads;       /**< preparing threads; 0: 1 */
    int batch_size;    /**< 0: 1000 */
    void (*log)(void *opaque, const char *line); /**< NULL: hostile_log */
    void *log_opaque;
} hostile_feed_opts_t;

/*
 * Run who's real feed once (--once), from the beginning of its topics
 * (its state folder remembers what it delivered before), with the sinks
 * named in `sinks` ("jsonl,stix,blocklist") into hostile_out(h, who).
 * extra: further "key=value" settings, NULL-terminated list (or NULL).
 * fo (or NULL) changes the folder, the start, the threads, the log:
 * with fo->out and fo->log set, two feeds may run at once on two threads.
 */
static __attribute__((unused)) cishare_err_t
hostile_feed_ex(hostile_t *h, const char *who, const char *sinks,
                const char *const *extra, const hostile_feed_opts_t *fo,
                cishare_feed_stats_t *st, char *errstr, size_t errstr_size)
{
    cishare_config_t *c = cishare_config_new();
    cishare_feed_opts_t o = {0};
    char key[1200], dpath[1200], root[1200], list[128], *tok, *save = NULL;
    char group[128];
    volatile int stop = 0;
    cishare_err_t err;
    size_t i;

    assert_non_null(c);
    snprintf(key, sizeof(key), "%s/keys/%s.key", h->examples, who);
    snprintf(group, sizeof(group), "cishare-feed-%s-run%u", who,
             __atomic_add_fetch(&h->runs, 1, __ATOMIC_SEQ_CST));
    snprintf(dpath, sizeof(dpath), "%s/directory.yaml", h->examples);
    snprintf(root, sizeof(root), "%s/root.pub", h->examples);
    if (cishare_config_set(c, "bootstrap.servers",
                           rd_kafka_mock_cluster_bootstraps(h->mc), errstr,
                           errstr_size) ||
        cishare_config_set(c, "security.protocol", "plaintext", errstr,
                           errstr_size) ||
        cishare_config_set(c, "log_level", "2", errstr, errstr_size) ||
        /* a group of its own per run: the mock cluster holds a rejoin
         * until the last member's session expires, even after it left
         * (the state folder, not the offsets, carries what was seen) */
        cishare_config_set(c, "group.id", group, errstr, errstr_size) ||
        /* topics come into being when first asked for (producer and
         * consumer alike): rd_kafka_mock_topic_create() often waits a
         * second per topic for the mock thread to wake up */
        cishare_config_set(c, "allow.auto.create.topics", "true", errstr,
                           errstr_size) ||
        cishare_config_set(c, "cishare.participant", who, errstr,
                           errstr_size) ||
        cishare_config_set(c, "cishare.key", key, errstr, errstr_size) ||
        cishare_config_set(c, "cishare.directory", dpath, errstr,
                           errstr_size) ||
        cishare_config_set(c, "cishare.root-key", root, errstr, errstr_size))
        fail_msg("config: %s", errstr);
    if (getenv("HOSTILE_DEBUG"))
        cishare_config_set(c, "debug", getenv("HOSTILE_DEBUG"), NULL, 0),
            cishare_config_set(c, "log_level", "7", NULL, 0);
    for (i = 0; extra && extra[i]; i++)
        if (cishare_config_set_kv(c, extra[i], errstr, errstr_size))
            fail_msg("config %s: %s", extra[i], errstr);
    snprintf(list, sizeof(list), "%s", sinks);
    for (tok = strtok_r(list, ",", &save);
         tok && o.sink_cnt < CISHARE_FEED_MAX_SINKS;
         tok = strtok_r(NULL, ",", &save))
        o.sinks[o.sink_cnt++] = tok;
    o.conf = c;
    o.out = fo && fo->out ? fo->out : hostile_out(h, who);
    o.once = true;
    o.from_beginning = !(fo && fo->keep_offsets);
    o.threads = fo && fo->threads > 0 ? fo->threads : 1;
    o.batch_size = fo && fo->batch_size > 0 ? fo->batch_size : 1000;
    o.stop = &stop;
    o.log = fo && fo->log ? fo->log : hostile_log;
    o.log_opaque = fo && fo->log ? fo->log_opaque : h;
    memset(st, 0, sizeof(*st));
    err = cishare_feed_run(&o, st, errstr, errstr_size);
    cishare_config_destroy(c);
    return err;
}

/* hostile_feed_ex() with hostile_feed()'s defaults. */
static __attribute__((unused)) cishare_err_t
hostile_feed(hostile_t *h, const char *who, const char *sinks,
             const char *const *extra, cishare_feed_stats_t *st, char *errstr,
             size_t errstr_size)
{
    return hostile_feed_ex(h, who, sinks, extra, NULL, st, errstr, errstr_size);
}

/* hostile_feed() that must succeed. */
static __attribute__((unused)) void hostile_feed_ok(hostile_t *h,
                                                    const char *who,
                                                    const char *sinks,
                                                    cishare_feed_stats_t *st)
{
    char errstr[1024];

    if (hostile_feed(h, who, sinks, NULL, st, errstr, sizeof(errstr)))
        fail_msg("feed of %s: %s", who, errstr);
}

static __attribute__((unused)) void hostile_destroy(hostile_t *h)
{
    rd_kafka_destroy(h->producer);
    cishare_codec_destroy(h->codec);
    cishare_directory_destroy(h->d);
    rd_kafka_mock_cluster_destroy(h->mc);
    rd_kafka_destroy(h->mrk);
    test_tmpdir_remove(h->dir);
    free(h);
}

#endif
